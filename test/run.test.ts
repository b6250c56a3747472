import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../lib/tf';
import { splitSettings, type Settings } from '../lib/config';
import { presetConfigs } from '../lib/presets';
import { disposeCrnn } from '../lib/model/build';
import {
  loadResumeData, resolveResume, resolveRun, RunFolderError, trainRun, type BuiltRun, type TrainedRun,
} from '../lib/train/run';
import type { DigitData } from '../lib/types';
import { makeDigitSet, writeDigitSet } from './helpers/idx-fixtures';
import { checkpointRecordJson } from './helpers/checkpoint';
import { tempFolders } from './helpers/temp';

/** Synthetic 12×12 digits: enough to run every part of a run in milliseconds. */
const data: DigitData = { train: makeDigitSet(200, 12, 12), test: makeDigitSet(100, 12, 12), source: 'synthetic' };

/** A model and batches small enough that a step takes milliseconds; eager, to spare the graph's build. */
const tiny: Partial<Settings> = {
  numSteps: 4, batchSize: 8, evalEvery: 2, evalSize: 16, filters: [2, 2], denseUnits: 8, hiddenSize: 8, engine: 'eager',
};

const tempDir = tempFolders('run');

test('resolveRun fills in the image size from the data and the classes from the task, over the preset', () => {
  const run = resolveRun(presetConfigs('fast', splitSettings({ ...tiny, task: 'sum', seqLength: 3 })), data);
  assert.equal(run.task.name, 'sum');
  assert.deepEqual([run.crnnConfig.seqLength, run.crnnConfig.height, run.crnnConfig.width, run.crnnConfig.numClasses],
    [3, 12, 12, 28]);
  assert.equal(run.crnnConfig.sharedCnn, true, 'the preset\'s setting');
  assert.equal(run.trainConfig.numSteps, 4, 'the override');
  assert.equal(resolveRun({}, data).task.name, 'difference', 'the article\'s task by default');
});

test('resolveRun refuses a bad setting, a task too long for T, splits of two sizes and a run too large', () => {
  assert.throws(() => resolveRun({ train: { batchSize: 0 } }, data), /TrainConfig\.batchSize must be an integer >= 1, got 0/);
  assert.throws(() => resolveRun({ task: 'difference', model: { seqLength: 1 } }, data), /needs sequences of at least 2 digits/);
  const mixed = { ...data, test: makeDigitSet(20, 8, 8) };
  assert.throws(() => resolveRun({}, mixed),
    /data synthetic: the test images are 8×8, the training images 12×12; both splits need one size/);
  assert.throws(() => resolveRun({ train: { evalSize: 1e11 } }, data), /this run would need about [\d.]+ GB of memory/);
});

test('trainRun builds, trains, probes and saves the run, calling its hooks in order', async () => {
  const outDir = path.join(tempDir(), 'run');
  const run = resolveRun(presetConfigs('article', splitSettings({ ...tiny, task: 'sum', seqLength: 3, engine: 'auto' })), data);
  const calls: string[] = [];
  let built: BuiltRun | undefined;
  const result = await trainRun(run, {
    data, outDir,
    onBuilt: (b) => { built = b; calls.push('built'); },
    callbacks: { onStart: () => calls.push('start'), onStep: () => calls.push('step'), onEval: () => calls.push('eval') },
    onTrained: () => { calls.push('trained'); },
    curvesSvg: () => Promise.resolve('<svg></svg>'),
  });
  assert.deepEqual(calls, ['built', 'start', 'step', 'step', 'eval', 'step', 'step', 'eval', 'trained']);
  assert.equal(built?.model, result.model);
  assert.ok(built?.engine === 'graph' || built?.engine === 'eager');
  assert.equal(result.savedTo, outDir);
  assert.equal(result.history.steps.length, 4);
  assert.deepEqual(fs.readdirSync(outDir).sort(),
    ['history.csv', 'history.json', 'model.json', 'run.json', 'training-curves.svg', 'weights.bin']);
  const record = JSON.parse(fs.readFileSync(path.join(outDir, 'run.json'), 'utf8'));
  assert.equal(record.task, 'sum');
  assert.deepEqual(record.crnnConfig, run.crnnConfig);
  assert.equal(record.trainConfig.numSteps, 4);
  assert.equal(record.digitProbe.accuracy.length, 3, 'one probe per step');
  assert.deepEqual(record.digitProbe, result.digitProbe);
  assert.equal(fs.readFileSync(path.join(outDir, 'training-curves.svg'), 'utf8'), '<svg></svg>');
  disposeCrnn(result.model);
});

test('trainRun replaces the run in its folder by default, and refuses a used folder with folder "new" before training', async () => {
  const outDir = path.join(tempDir(), 'run');
  const run = resolveRun(splitSettings(tiny), data);
  for (let i = 0; i < 2; i++) disposeCrnn((await trainRun(run, { data, outDir, digitProbe: false })).model);
  assert.ok(!('digitProbe' in JSON.parse(fs.readFileSync(path.join(outDir, 'run.json'), 'utf8'))));
  const before = fs.readFileSync(path.join(outDir, 'weights.bin'));
  let builtCount = 0;
  await assert.rejects(trainRun(run, { data, outDir, folder: 'new', onBuilt: () => builtCount++ }),
    (err: unknown) => err instanceof RunFolderError && err.stage === 'reserve' &&
      /already exists and is not empty; choose a new folder/.test(err.message));
  assert.equal(builtCount, 0, 'no model was built');
  assert.deepEqual(fs.readFileSync(path.join(outDir, 'weights.bin')), before, 'the saved run is untouched');
});

test('a run stopped before its first step is not saved', async () => {
  const outDir = path.join(tempDir(), 'run');
  let trained: TrainedRun | undefined;
  const result = await trainRun(resolveRun(splitSettings(tiny), data), {
    data, outDir, folder: 'new', callbacks: { shouldStop: () => true }, onTrained: (t) => { trained = t; },
  });
  assert.equal(result.history.endReason, 'stopped');
  assert.equal(result.savedTo, undefined);
  assert.equal(trained?.digitProbe, undefined, 'no probe of an untrained model');
  assert.ok(!fs.existsSync(outDir), 'the reserved folder is released');
  disposeCrnn(result.model);
});

test('a chart that fails is left out with a warning, and the run is saved without it', async (t) => {
  const outDir = path.join(tempDir(), 'run');
  const warn = t.mock.method(console, 'warn', () => {});
  const result = await trainRun(resolveRun(splitSettings(tiny), data), {
    data, outDir, digitProbe: false, curvesSvg: () => Promise.reject(new Error('no fonts')),
  });
  assert.deepEqual(warn.mock.calls.map((c) => c.arguments[0]), ['warning: training-curves.svg not written: no fonts']);
  assert.ok(fs.existsSync(path.join(outDir, 'run.json')));
  assert.ok(!fs.existsSync(path.join(outDir, 'training-curves.svg')));
  disposeCrnn(result.model);
});

test('trainRun leaves no tensor behind: the returned model is the caller\'s, a failed run frees its own', async () => {
  const run = resolveRun(splitSettings(tiny), data);
  const before = tf.memory().numTensors;
  disposeCrnn((await trainRun(run, { data })).model);
  assert.equal(tf.memory().numTensors, before, 'after a run whose model was disposed');
  await assert.rejects(trainRun(run, { data, callbacks: { onEval: () => { throw new Error('stop here'); } } }), /stop here/);
  assert.equal(tf.memory().numTensors, before, 'after a run that failed');
});

test('a resumed run\'s data loads again from where its checkpoint records it; data made otherwise is refused', () => {
  const parent = tempDir();
  const folder = path.join(parent, 'data');
  fs.mkdirSync(folder);
  writeDigitSet(folder, makeDigitSet(40, 12, 12), 'train');
  writeDigitSet(folder, makeDigitSet(20, 12, 12), 't10k');
  /** A run folder whose checkpoint.json records this data. */
  const runWith = (name: string, data: { location?: string; description: string }) => {
    const dir = path.join(parent, name);
    fs.mkdirSync(path.join(dir, 'checkpoint'), { recursive: true });
    const record = JSON.parse(checkpointRecordJson({ height: 12, width: 12, filters: [2, 2] }, { numSteps: 4 }));
    record.data = { ...data, train: 40, test: 20 };
    fs.writeFileSync(path.join(dir, 'checkpoint', 'checkpoint.json'), JSON.stringify(record));
    return dir;
  };
  const loaded = loadResumeData(resolveResume(runWith('from-folder', { location: folder, description: folder })));
  assert.deepEqual([loaded.train.count, loaded.test.count, loaded.train.height], [40, 20, 12]);
  const made = resolveResume(runWith('made', { description: 'synthetic' }));
  assert.throws(() => loadResumeData(made),
    /the checkpoint in .*made was trained on data not loaded by loadMnist \(synthetic\); resume it with resolveResume and trainRun/);
});
