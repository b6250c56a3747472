import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultCrnnConfig, defaultTrainConfig, resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { changedFromPreset, PRESET_NAMES, presetConfigs, presetOf, presets } from '../lib/presets';
import * as fs from 'node:fs';
import * as path from 'node:path';

test('the article preset is the defaults', () => {
  const { model, train } = presetConfigs('article');
  assert.deepEqual(resolveCrnnConfig(model), defaultCrnnConfig);
  assert.deepEqual(resolveTrainConfig(train), defaultTrainConfig);
});

test('every preset resolves to valid configs and sets only known settings, each to a value other than its default', () => {
  assert.deepEqual(PRESET_NAMES.slice(0, 1), ['article']);
  for (const name of PRESET_NAMES) {
    const { model, train } = presetConfigs(name);
    const crnn = resolveCrnnConfig(model) as unknown as Record<string, unknown>;
    const training = resolveTrainConfig(train) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(presets[name].settings)) {
      const resolved = key in crnn ? crnn[key] : training[key];
      assert.deepEqual(resolved, value, `${name}.${key}`);
      const defaults = { ...defaultCrnnConfig, ...defaultTrainConfig } as Record<string, unknown>;
      assert.notDeepEqual(value, defaults[key], `${name}.${key} repeats the default`);
    }
  }
});

test('presetOf names the preset a run was trained with, whatever its seed and checkpoints; none for other settings', () => {
  for (const name of PRESET_NAMES) {
    const { model, train } = presetConfigs(name);
    assert.equal(presetOf(resolveCrnnConfig(model), resolveTrainConfig(train)), name);
    assert.equal(presetOf(resolveCrnnConfig(model), resolveTrainConfig({ ...train, seed: 7, checkpointEvery: 0 })), name);
    assert.equal(presetOf(resolveCrnnConfig(model), resolveTrainConfig({ ...train, batchSize: 3 })), undefined);
  }
  assert.equal(presetOf(resolveCrnnConfig({ cell: 'gru' }), defaultTrainConfig), undefined);
});

test('values given explicitly override the preset\'s, undefined ones do not', () => {
  const { model, train } = presetConfigs('fast', { model: { cell: 'gru' }, train: { numSteps: 300, batchSize: undefined } });
  assert.equal(model.cell, 'gru');
  assert.equal(model.sharedCnn, presets.fast.settings.sharedCnn);
  assert.equal(train.numSteps, 300);
  assert.equal(train.batchSize, presets.fast.settings.batchSize);
  assert.equal(presetConfigs('fast').train.numSteps, presets.fast.settings.numSteps);
});

test('the task given is passed on; none given, none is set', () => {
  assert.equal(presetConfigs('fast', { task: 'sum' }).task, 'sum');
  assert.ok(!('task' in presetConfigs('fast')));
});

test('changedFromPreset names the settings that differ from the preset\'s, in the table\'s order', () => {
  const { model, train } = presetConfigs('fast', { model: { seqLength: 3 }, train: { seed: 1, numSteps: 300 } });
  const crnn = resolveCrnnConfig({ ...model, numClasses: 28 });
  assert.deepEqual(changedFromPreset('fast', crnn, resolveTrainConfig(train)), ['seqLength 3', 'numSteps 300', 'seed 1']);
  assert.deepEqual(changedFromPreset('article', resolveCrnnConfig(), resolveTrainConfig()), []);
});

test('an unknown preset is refused, naming the known ones', () => {
  assert.throws(() => presetConfigs('fastest'), /Unknown preset 'fastest'; presets: article, fast, best/);
  assert.throws(() => presetConfigs('toString'), /Unknown preset 'toString'/);
});

/** The run.json of each seed of a committed sweep folder. */
function committedRuns(...folder: string[]): { name: string; run: { crnnConfig: unknown; trainConfig: Record<string, unknown>;
  history: { evals: { accuracy: number }[] } } }[] {
  const root = path.join(__dirname, '..', '..', 'experiments', ...folder);
  const seeds = fs.readdirSync(root).filter((name) => /^seed-\d+$/.test(name));
  assert.ok(seeds.length >= 3, `${seeds.length} runs in ${root}`);
  return seeds.map((name) => ({ name, run: JSON.parse(fs.readFileSync(path.join(root, name, 'run.json'), 'utf8')) }));
}

/** Asserts that every run was trained with the preset's settings, the seed and (for `ignoring`) more left out. */
function assertTrainedWith(preset: string, runs: ReturnType<typeof committedRuns>, ignoring: Record<string, unknown>): void {
  const { model, train } = presetConfigs(preset);
  const crnn = resolveCrnnConfig(model);
  const training = resolveTrainConfig(train);
  const leftOut = { seed: 0, ...ignoring };
  const asJson = (value: unknown) => JSON.parse(JSON.stringify(value));
  for (const { name, run } of runs) {
    assert.deepEqual(run.crnnConfig, crnn, name);
    // Resolved as loadRun reads it: a setting added after the run was saved takes its default, the run's value.
    assert.deepEqual(asJson({ ...resolveTrainConfig(run.trainConfig), ...leftOut }), asJson({ ...training, ...leftOut }), name);
  }
}

const finalAccuracy = (run: { history: { evals: { accuracy: number }[] } }) => run.history.evals.at(-1)!.accuracy;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('the best preset is the configuration of the committed runs (experiments/presets), which end at 99% or more as a mean of their seeds', () => {
  const runs = committedRuns('presets', 'preset=best');
  assertTrainedWith('best', runs, {});
  const accuracy = mean(runs.map(({ run }) => finalAccuracy(run)));
  assert.ok(accuracy >= 0.99, `mean final accuracy ${accuracy}`);
});

test('the fast preset is the configuration of the committed runs (experiments/presets), which end at 98% or more as a mean of their seeds', () => {
  const runs = committedRuns('presets', 'preset=fast');
  assertTrainedWith('fast', runs, {});
  const accuracy = mean(runs.map(({ run }) => finalAccuracy(run)));
  assert.ok(accuracy >= 0.98, `mean final accuracy ${accuracy}`);
});
