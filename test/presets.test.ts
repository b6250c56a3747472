import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultCrnnConfig, defaultTrainConfig, resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { PRESET_NAMES, presetConfigs, presets } from '../lib/presets';
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

test('values given explicitly override the preset\'s, undefined ones do not', () => {
  const { model, train } = presetConfigs('fast', { model: { cell: 'gru' }, train: { numSteps: 300, batchSize: undefined } });
  assert.equal(model.cell, 'gru');
  assert.equal(model.sharedCnn, presets.fast.settings.sharedCnn);
  assert.equal(train.numSteps, 300);
  assert.equal(train.batchSize, presets.fast.settings.batchSize);
  assert.equal(presetConfigs('fast').train.numSteps, presets.fast.settings.numSteps);
});

test('an unknown preset is refused, naming the known ones', () => {
  assert.throws(() => presetConfigs('fastest'), /Unknown preset 'fastest'; presets: article, fast, best/);
  assert.throws(() => presetConfigs('toString'), /Unknown preset 'toString'/);
});

test('the best preset is the configuration of the committed runs that beat the article\'s (experiments/toward-99)', () => {
  const { model, train } = presetConfigs('best');
  const crnn = resolveCrnnConfig(model);
  const training = resolveTrainConfig(train);
  const root = path.join(__dirname, '..', '..', 'experiments', 'toward-99',
    'kernelSize=5,batchNorm=true,dropout=0.1,weightDecay=0.0001,augmentShift=2,augmentRotation=10,labelSmoothing=0.1');
  const seeds = fs.readdirSync(root).filter((name) => /^seed-\d+$/.test(name));
  assert.ok(seeds.length >= 3, `${seeds.length} runs in ${root}`);
  for (const seed of seeds) {
    const run = JSON.parse(fs.readFileSync(path.join(root, seed, 'run.json'), 'utf8'));
    assert.deepEqual(run.crnnConfig, crnn, seed);
    // The seed differs by design, and when the model is evaluated does not change training: both left out.
    const timing = { seed: 0, evalEvery: 0 };
    assert.deepEqual({ ...run.trainConfig, ...timing }, JSON.parse(JSON.stringify({ ...training, ...timing })), seed);
  }
});
