import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { createTrainStep } from '../lib/train/loop';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { historyCsv, loadModel, loadRun, saveRun, type RunToSave } from '../lib/runs/persist';
import type { History } from '../lib/types';
import { reserveRunFolder } from '../lib/runs/lock';
import { age } from './helpers/run-folders';
import { tempFolders } from './helpers/temp';

const crnnConfig = resolveCrnnConfig({ filters: [4, 4], denseUnits: 16, hiddenSize: 16 });
const trainConfig = resolveTrainConfig({ numSteps: 2, batchSize: 8, evalSize: 16, targetAccuracy: 0.9 });
const history: History = {
  steps: [{ step: 1, loss: 2.9, accuracy: 0.125 }, { step: 2, loss: 2.8, accuracy: 0.25 }],
  evals: [{ step: 2, loss: 2.85, accuracy: 0.1875 }],
  endReason: 'completed',
  elapsedMs: 12.5,
};

const tempDir = tempFolders('persist');

/** One Adam step on fixed random data, so the saved model has trained weights and optimiser state. */
async function trainedModel(): Promise<tfTypes.LayersModel> {
  const model = buildCrnn(crnnConfig);
  const xs = tf.randomUniform([8, 2, 28, 28, 1]);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 19);
  await model.trainOnBatch(xs, ys);
  tf.dispose([xs, ys]);
  return model;
}

function run(model: tfTypes.LayersModel): RunToSave {
  return { model, crnnConfig, trainConfig, task: 'difference', history, dataSource: 'test' };
}

test('a saved run loads back with identical predictions, configs, history and Adam state', async () => {
  const dir = path.join(tempDir(), 'run');
  const model = await trainedModel();
  await saveRun(dir, run(model), { files: { 'notes.txt': 'hello' } });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'notes.txt', 'run.json', 'weights.bin']);

  const loaded = await loadRun(dir);
  assert.deepEqual(loaded.crnnConfig, crnnConfig);
  assert.deepEqual(loaded.trainConfig, trainConfig);
  assert.deepEqual(loaded.history, history);
  assert.equal(loaded.task, 'difference');
  assert.equal(loaded.dataSource, 'test');
  assert.equal(loaded.backend, tf.getBackend());
  assert.ok(!Number.isNaN(Date.parse(loaded.savedAt)));

  const xs = tf.randomUniform([4, 2, 28, 28, 1]);
  const expected = tf.tidy(() => (model.predict(xs) as tfTypes.Tensor).arraySync());
  const actual = tf.tidy(() => (loaded.model.predict(xs) as tfTypes.Tensor).arraySync());
  assert.deepEqual(actual, expected);

  // Adam's moments came back too: one more identical step keeps both models identical.
  const ys = tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), 19);
  await model.trainOnBatch(xs, ys);
  await loaded.model.trainOnBatch(xs, ys);
  const after = tf.tidy(() => (model.predict(xs) as tfTypes.Tensor).arraySync());
  const afterLoaded = tf.tidy(() => (loaded.model.predict(xs) as tfTypes.Tensor).arraySync());
  assert.deepEqual(afterLoaded, after);
  assert.deepEqual(loaded.model.optimizer.getConfig(), model.optimizer.getConfig());
  tf.dispose([xs, ys]);
  model.dispose();
  loaded.model.dispose();
});

test('a save that fails midway leaves the previous checkpoint intact and no staging folder', async () => {
  const parent = tempDir();
  const dir = path.join(parent, 'run');
  const first = await trainedModel();
  await saveRun(dir, run(first));
  const snapshot = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));

  // The model files are written, then serialising the history throws.
  const second = buildCrnn(crnnConfig);
  const broken = { ...history, get elapsedMs(): number { throw new Error('disk full (simulated)'); } };
  await assert.rejects(saveRun(dir, { ...run(second), history: broken }), /disk full \(simulated\)/);
  // A file whose contents cannot be written fails after everything else.
  await assert.rejects(saveRun(dir, run(second), { files: { 'bad.txt': 42 as unknown as string } }));

  assert.deepEqual(fs.readdirSync(parent), ['run']);
  for (const [file, bytes] of Object.entries(snapshot)) {
    assert.deepEqual(fs.readFileSync(path.join(dir, file)), bytes, `${file} changed`);
  }
  const loaded = await loadRun(dir);
  const xs = tf.randomUniform([2, 2, 28, 28, 1]);
  const expected = tf.tidy(() => (first.predict(xs) as tfTypes.Tensor).arraySync());
  assert.deepEqual(tf.tidy(() => (loaded.model.predict(xs) as tfTypes.Tensor).arraySync()), expected);
  tf.dispose(xs);
  [first, second, loaded.model].forEach((m) => m.dispose());
});

test('saving over a saved run replaces it completely', async () => {
  const dir = path.join(tempDir(), 'run');
  const first = buildCrnn(crnnConfig);
  await saveRun(dir, run(first), { files: { 'old.txt': 'old' } });
  const second = buildCrnn(crnnConfig);
  await saveRun(dir, { ...run(second), task: 'sum' });
  assert.ok(!fs.existsSync(path.join(dir, 'old.txt')));
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['run']);
  const loaded = await loadRun(dir);
  assert.equal(loaded.task, 'sum');
  assert.deepEqual(kernel(loaded.model), kernel(second));
  [first, second, loaded.model].forEach((m) => m.dispose());
});

const kernel = (m: tfTypes.LayersModel) => m.getLayer('step0_conv1').getWeights()[0].arraySync();

interface KilledSave {
  /** Holds what the killed save left: no `run`, and its two `.run.saving-…` folders. */
  parent: string;
  /** The model of the completed save before the killed one. */
  first: tfTypes.LayersModel;
  firstWeights: Buffer;
}

let killedSaveOnce: Promise<KilledSave> | undefined;

/**
 * A copy of the folder a save over a saved run leaves when its process is
 * killed between the two renames. A child process SIGKILLs itself there, so
 * no catch or finally block runs, exactly as in a crash; made once, copied
 * for each test.
 */
async function killedSave(): Promise<KilledSave> {
  killedSaveOnce ??= (async () => {
    const parent = tempDir();
    const dir = path.join(parent, 'run');
    const first = await trainedModel();
    await saveRun(dir, run(first));
    const firstWeights = fs.readFileSync(path.join(dir, 'weights.bin'));
    const lib = path.join(__dirname, '..', 'lib');
    const script = `
      const { saveRun } = require(${JSON.stringify(path.join(lib, 'runs', 'persist'))});
      const { buildCrnn } = require(${JSON.stringify(path.join(lib, 'model', 'build'))});
      const run = ${JSON.stringify({ crnnConfig, trainConfig, task: 'sum', history })};
      saveRun(${JSON.stringify(dir)}, { ...run, model: buildCrnn(run.crnnConfig) }, {
        betweenRenames: () => { process.kill(process.pid, 'SIGKILL'); return new Promise(() => {}); },
      }).then(() => console.log('the save completed'));`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, 'SIGKILL', child.stderr + child.stdout);
    return { parent, first, firstWeights };
  })();
  const { parent, ...rest } = await killedSaveOnce;
  const copy = tempDir();
  fs.cpSync(parent, copy, { recursive: true, preserveTimestamps: true });
  return { parent: copy, ...rest };
}
after(async () => (await killedSaveOnce)?.first.dispose());

function predictions(model: tfTypes.LayersModel, xs: tfTypes.Tensor): unknown {
  return tf.tidy(() => (model.predict(xs) as tfTypes.Tensor).arraySync());
}

test('a save killed between its two renames loses nothing: loading puts the previous run back', async () => {
  const { parent, first, firstWeights } = await killedSave();
  const dir = path.join(parent, 'run');
  const [staging, previous] = fs.readdirSync(parent).sort();
  assert.match(staging, /^\.run\.saving-[A-Za-z0-9]{6}$/);
  assert.equal(previous, `${staging}.previous`);

  const loaded = await loadRun(dir);
  assert.equal(loaded.task, 'difference');
  assert.deepEqual(fs.readFileSync(path.join(dir, 'weights.bin')), firstWeights);
  const xs = tf.randomUniform([2, 2, 28, 28, 1]);
  assert.deepEqual(predictions(loaded.model, xs), predictions(first, xs));
  // The newer save in the staging folder never finished as far as its caller knows: it is not used.
  assert.deepEqual(fs.readdirSync(parent).sort(), [staging, 'run']);

  const again = await killedSave();
  const model = await loadModel(path.join(again.parent, 'run'));
  assert.deepEqual(predictions(model, xs), predictions(first, xs));
  tf.dispose(xs);
  [loaded.model, model].forEach((m) => m.dispose());
});

test('saving after a killed save puts the previous run back first, then removes the stale leftovers', async () => {
  const { parent, firstWeights } = await killedSave();
  const dir = path.join(parent, 'run');
  const minutesAgo = Date.now() / 1000 - 120;
  for (const name of fs.readdirSync(parent)) fs.utimesSync(path.join(parent, name), minutesAgo, minutesAgo);
  // A recent staging folder may be a save running in another process: it is kept.
  const live = '.run.saving-Live01';
  fs.mkdirSync(path.join(parent, live));

  // A save that fails after the clean-up leaves the previous run in place.
  const second = buildCrnn(crnnConfig);
  await assert.rejects(saveRun(dir, run(second), { files: { 'bad.txt': 42 as unknown as string } }));
  assert.deepEqual(fs.readdirSync(parent).sort(), [live, 'run']);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'weights.bin')), firstWeights);

  await saveRun(dir, { ...run(second), task: 'sum' });
  assert.deepEqual(fs.readdirSync(parent).sort(), [live, 'run']);
  const loaded = await loadRun(dir);
  assert.equal(loaded.task, 'sum');
  assert.deepEqual(kernel(loaded.model), kernel(second));
  [second, loaded.model].forEach((m) => m.dispose());
});

test('a run moved aside by a killed save survives a new training on its folder: reserving the folder puts it back', async () => {
  const { parent, firstWeights } = await killedSave();
  const dir = path.join(parent, 'run');
  // Two hours later, older than any clean-up's grace period.
  for (const name of fs.readdirSync(parent)) age(path.join(parent, name), 2 * 3600);
  const second = buildCrnn(crnnConfig);
  // What the trainer does: reserve the folder, train, save, release.
  let refused: Error | undefined;
  try {
    const reservation = reserveRunFolder(dir);
    await saveRun(dir, run(second));
    reservation.release();
  } catch (err) {
    refused = err as Error;
  }
  assert.deepEqual(fs.readFileSync(path.join(dir, 'weights.bin')), firstWeights, 'the first run is lost');
  assert.match(String(refused?.message), /run already exists and is not empty; choose a new folder/);
  assert.equal((await loadRun(dir).then((r) => (r.model.dispose(), r.task))), 'difference');
  second.dispose();
});

test('loading puts a moved-aside run back into an empty run folder, the newest complete copy', async () => {
  const { parent, firstWeights } = await killedSave();
  const dir = path.join(parent, 'run');
  const [, previous] = fs.readdirSync(parent).sort();
  for (const name of fs.readdirSync(parent)) age(path.join(parent, name), 2 * 3600);
  // The run folder is back but empty (made by hand, or by a trainer killed before it saved).
  fs.mkdirSync(dir);
  const second = buildCrnn(crnnConfig);
  await saveRun(path.join(parent, 'other'), run(second));
  fs.cpSync(path.join(parent, 'other'), path.join(parent, '.run.saving-Zzzzzz.previous'), { recursive: true });
  age(path.join(parent, '.run.saving-Zzzzzz.previous'), 3 * 3600);
  // Loading puts back the newest complete copy, into the empty folder; the older one stays.
  const loaded = await loadRun(dir);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'weights.bin')), firstWeights);
  assert.ok(fs.existsSync(path.join(parent, '.run.saving-Zzzzzz.previous')));
  assert.ok(!fs.existsSync(path.join(parent, previous)));
  [second, loaded.model].forEach((m) => m.dispose());
});

test('a save never deletes a moved-aside run while its run folder holds no complete model', async () => {
  const { parent, firstWeights } = await killedSave();
  const dir = path.join(parent, 'run');
  const [staging, previous] = fs.readdirSync(parent).sort();
  // The run folder holds the model description only: its weights were never written.
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(parent, previous, 'model.json'), path.join(dir, 'model.json'));
  for (const name of fs.readdirSync(parent)) age(path.join(parent, name), 2 * 3600);
  const second = buildCrnn(crnnConfig);
  await saveRun(dir, run(second));
  assert.deepEqual(fs.readdirSync(parent).sort(), [previous, 'run'], `the stale ${staging} goes, the run moved aside stays`);
  assert.deepEqual(fs.readFileSync(path.join(parent, previous, 'weights.bin')), firstWeights);
  // With a complete run in place, the next save removes it.
  age(path.join(parent, previous), 2 * 3600);
  await saveRun(dir, run(second));
  assert.deepEqual(fs.readdirSync(parent), ['run']);
  second.dispose();
});

test('only a complete moved-aside run is put back, the newest first, and the only copy is never deleted',
  async () => {
    const parent = tempDir();
    const dir = path.join(parent, 'run');
    const models = Array.from({ length: 4 }, () => buildCrnn(crnnConfig));
    // Four saves left behind as killed saves leave them, oldest first: two complete runs moved
    // aside, a newer one moved aside but half deleted, and a staging folder.
    const [older, newer, halfDeleted, staging] =
      ['.run.saving-aaaaaa.previous', '.run.saving-bbbbbb.previous', '.run.saving-cccccc.previous',
        '.run.saving-dddddd'].map((name) => path.join(parent, name));
    const now = Date.now() / 1000;
    for (const [i, folder] of [older, newer, halfDeleted, staging].entries()) {
      await saveRun(folder, run(models[i]));
      fs.utimesSync(folder, now - 3600 + i * 60, now - 3600 + i * 60);
    }
    fs.rmSync(path.join(halfDeleted, 'weights.bin'));
    fs.utimesSync(halfDeleted, now, now);
    const loadedKernel = async () => {
      const { model } = await loadRun(dir);
      const values = kernel(model);
      model.dispose();
      return values;
    };

    assert.deepEqual(await loadedKernel(), kernel(models[1]));
    fs.rmSync(dir, { recursive: true });
    assert.deepEqual(await loadedKernel(), kernel(models[0]));
    fs.rmSync(dir, { recursive: true });
    await assert.rejects(loadRun(dir), /run does not exist/);
    assert.deepEqual(fs.readdirSync(parent).sort(), [path.basename(halfDeleted), path.basename(staging)]);

    // Saving removes the old staging folder but keeps the moved-aside one while no run folder
    // exists; the save after that, with the run folder in place, removes it.
    fs.utimesSync(halfDeleted, now - 3600, now - 3600);
    await saveRun(dir, run(models[3]));
    assert.deepEqual(fs.readdirSync(parent).sort(), [path.basename(halfDeleted), 'run']);
    await saveRun(dir, run(models[3]));
    assert.deepEqual(fs.readdirSync(parent), ['run']);
    models.forEach((m) => m.dispose());
  });

test('refuses to replace a folder that is not a saved run, or to write where a file is', async () => {
  const parent = tempDir();
  const model = buildCrnn(crnnConfig);
  const other = path.join(parent, 'photos');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'cat.jpg'), 'meow');
  await assert.rejects(saveRun(other, run(model)), /photos is not empty and is not a saved model folder/);
  assert.deepEqual(fs.readdirSync(other), ['cat.jpg']);

  const file = path.join(parent, 'file.txt');
  fs.writeFileSync(file, 'x');
  await assert.rejects(saveRun(file, run(model)), /file.txt exists and is not a folder/);
  await assert.rejects(saveRun(path.join(file, 'run'), run(model)), /ENOTDIR|EEXIST/);
  await assert.rejects(saveRun(path.join(parent, 'r'), run(model), { files: { '../escape.txt': 'x' } }),
    /extra run file name must be a plain file name .* got "..\/escape.txt"/);
  await assert.rejects(saveRun(path.join(parent, 'r'), run(model), { files: { 'run.json': '{}' } }),
    /got "run.json"/);
  assert.deepEqual(fs.readdirSync(parent).sort(), ['file.txt', 'photos']);
  model.dispose();
});

test('loading a folder that is not a saved run says what is missing', async () => {
  const parent = tempDir();
  await assert.rejects(loadRun(path.join(parent, 'nope')), /nope does not exist/);
  await assert.rejects(loadRun(parent), new RegExp(`${parent} is not a saved model folder: missing model.json`));
  await assert.rejects(loadModel(parent), /is not a saved model folder: missing model.json/);

  const dir = path.join(parent, 'run');
  const model = buildCrnn(crnnConfig);
  await saveRun(dir, run(model));
  fs.rmSync(path.join(dir, 'weights.bin'));
  await assert.rejects(loadRun(dir), /is an incomplete saved model: missing weights.bin/);
  fs.rmSync(path.join(dir, 'run.json'));
  await assert.rejects(loadRun(dir), /holds a model but is not a saved run: missing run.json/);
  fs.writeFileSync(path.join(dir, 'run.json'), '{"format": "something"}');
  await assert.rejects(loadRun(dir), { message: `${path.join(dir, 'run.json')} is not a run record: ` +
    'format "something", expected "crnn-mnist-run"' });
  fs.writeFileSync(path.join(dir, 'run.json'), 'null');
  await assert.rejects(loadRun(dir), { message: `${path.join(dir, 'run.json')} holds null, not a run record` });
  fs.writeFileSync(path.join(dir, 'model.json'), '{not json');
  await assert.rejects(loadModel(dir), /model.json is not valid JSON/);
  model.dispose();
});

test('weights of another architecture are refused, naming the file and both byte counts', async () => {
  const parent = tempDir();
  const dir = path.join(parent, 'run');
  const lstmDir = path.join(parent, 'lstm');
  const model = buildCrnn(crnnConfig);
  const lstmConfig = resolveCrnnConfig({ ...crnnConfig, cell: 'lstm' });
  const lstm = buildCrnn(lstmConfig);
  await saveRun(dir, run(model));
  await saveRun(lstmDir, { ...run(lstm), crnnConfig: lstmConfig });
  const weightsPath = path.join(dir, 'weights.bin');
  const expected = fs.statSync(weightsPath).size;
  fs.copyFileSync(path.join(lstmDir, 'weights.bin'), weightsPath);
  const actual = fs.statSync(weightsPath).size;
  assert.ok(actual > expected);

  const message = `${weightsPath} holds ${actual} bytes but ${path.join(dir, 'model.json')} describes ` +
    `${expected}: another model's weights?`;
  await assert.rejects(loadRun(dir), { message });
  await assert.rejects(loadModel(dir), { message });
  fs.truncateSync(weightsPath, expected - 4);
  await assert.rejects(loadModel(dir), new RegExp(`holds ${expected - 4} bytes but .* describes ${expected}`));
  [model, lstm].forEach((m) => m.dispose());
});

test('a model of another architecture than run.json describes is refused, naming the layer that differs', async () => {
  const parent = tempDir();
  const dir = path.join(parent, 'run');
  const model = buildCrnn(crnnConfig);
  await saveRun(dir, run(model));
  // An LSTM's model.json and weights beside a run.json that says cell: simple.
  const lstmConfig = resolveCrnnConfig({ ...crnnConfig, cell: 'lstm' });
  const lstm = buildCrnn(lstmConfig);
  await saveRun(path.join(parent, 'lstm'), { ...run(lstm), crnnConfig: lstmConfig });
  for (const file of ['model.json', 'weights.bin']) fs.copyFileSync(path.join(parent, 'lstm', file), path.join(dir, file));
  const before = tf.memory().numTensors;
  await assert.rejects(loadRun(dir), new RegExp(`^Error: ${dir}: model\\.json is not the model run\\.json describes ` +
    '\\(cell simple, sharedCnn false, …\\): layer \\d+ is LSTM rnn_lstm \\[.*\\] in model\\.json, ' +
    'SimpleRNN rnn_simple \\[.*\\] by run\\.json; are the two files of different runs\\?$'));
  assert.equal(tf.memory().numTensors, before, 'both models disposed');

  // A setting without weights of its own: dropout, in run.json only.
  await saveRun(dir, run(model));
  const runPath = path.join(dir, 'run.json');
  const record = JSON.parse(fs.readFileSync(runPath, 'utf8'));
  record.crnnConfig.dropout = 0.25;
  fs.writeFileSync(runPath, JSON.stringify(record));
  await assert.rejects(loadRun(dir), /layer \d+ is Reshape step0_expand \[\] in model\.json, SeededDropout step0_dropout \[\] by run\.json/);
  record.crnnConfig.dropout = 0;
  record.crnnConfig.weightDecay = 0.001;
  fs.writeFileSync(runPath, JSON.stringify(record));
  await assert.rejects(loadRun(dir), /Conv2D step0_conv1 \[.*\]: kernelRegularizer none in model\.json, \{"className":"L1L2".*\} by run\.json/);
  [model, lstm].forEach((m) => disposeCrnn(m));
});

test('weights of the right size that are not numbers are refused, naming the file and the weight', async () => {
  const dir = path.join(tempDir(), 'run');
  const model = buildCrnn(crnnConfig);
  await saveRun(dir, run(model));
  const weightsPath = path.join(dir, 'weights.bin');
  const saved = fs.readFileSync(weightsPath);
  // 0xFF bytes are NaNs as float32; random bytes hold NaN or infinity patterns almost surely.
  fs.writeFileSync(weightsPath, Buffer.alloc(saved.length, 0xff));
  const [first, second] = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest[0].weights;
  assert.equal(first.dtype, 'float32');
  assert.equal(second.dtype, 'float32');
  const before = tf.memory().numTensors;
  await assert.rejects(loadRun(dir), {
    message: `${weightsPath}: weight ${first.name} holds NaN at index 0; ` +
      'the file is damaged or is not this model\'s weights',
  });
  assert.equal(tf.memory().numTensors, before);

  const infinite = Buffer.from(saved);
  const firstBytes = first.shape.reduce((n: number, d: number) => n * d, 4);
  infinite.writeFloatLE(-Infinity, firstBytes + 4);
  fs.writeFileSync(weightsPath, infinite);
  await assert.rejects(loadModel(dir), new RegExp(`weight ${second.name} holds -Infinity at index 1;`));
  model.dispose();
});

test('an unreadable weights file is named in the error', async () => {
  const dir = path.join(tempDir(), 'run');
  const model = buildCrnn(crnnConfig);
  await saveRun(dir, run(model));
  const weightsPath = path.join(dir, 'weights.bin');
  fs.rmSync(weightsPath);
  fs.mkdirSync(weightsPath);
  await assert.rejects(loadModel(dir), new RegExp(`^Error: ${weightsPath} cannot be read: EISDIR`));
  model.dispose();
});

test('quantized weights are sized by their stored dtype and load dequantized', async () => {
  const dir = path.join(tempDir(), 'run');
  const model = buildCrnn(crnnConfig);
  await saveRun(dir, run(model));
  const modelPath = path.join(dir, 'model.json');
  const weightsPath = path.join(dir, 'weights.bin');
  const modelJson = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  const entry = modelJson.weightsManifest[0].weights[0];
  const count = entry.shape.reduce((n: number, d: number) => n * d, 1);
  const bytes = fs.readFileSync(weightsPath);
  const kernel = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + count * 4));
  // Store the first kernel as uint8 steps of `scale` above `min`, as the tfjs converter does.
  const min = Math.min(...kernel);
  const scale = (Math.max(...kernel) - min) / 255;
  const quantized = Uint8Array.from(kernel, (v) => Math.round((v - min) / scale));
  entry.quantization = { dtype: 'uint8', min, scale };
  fs.writeFileSync(modelPath, JSON.stringify(modelJson));
  fs.writeFileSync(weightsPath, Buffer.concat([quantized, bytes.subarray(count * 4)]));

  const loaded = await loadModel(dir);
  const expected = model.getLayer('step0_conv1').getWeights()[0].dataSync();
  const actual = loaded.getLayer('step0_conv1').getWeights()[0].dataSync();
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= scale, `kernel[${i}]`));

  entry.quantization = { dtype: 'uint16', min, scale };
  fs.writeFileSync(modelPath, JSON.stringify(modelJson));
  await assert.rejects(loadModel(dir), /another model's weights\?/);
  entry.dtype = 'string';
  delete entry.quantization;
  fs.writeFileSync(modelPath, JSON.stringify(modelJson));
  await assert.rejects(loadModel(dir), new RegExp(`weight ${entry.name} is stored as "string"`));
  [model, loaded].forEach((m) => m.dispose());
});

test('a hand-edited run.json with an invalid config is rejected when loading', async () => {
  const dir = path.join(tempDir(), 'run');
  const model = buildCrnn(crnnConfig);
  await saveRun(dir, run(model));
  const runPath = path.join(dir, 'run.json');
  const record = JSON.parse(fs.readFileSync(runPath, 'utf8'));
  record.trainConfig.batchSize = -3;
  fs.writeFileSync(runPath, JSON.stringify(record));
  const before = tf.memory().numTensors;
  await assert.rejects(loadRun(dir), /batchSize must be an integer >= 1, got -3/);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('a run.json from before weight decay, label smoothing and augmentation loads with those off', async () => {
  const dir = path.join(tempDir(), 'run');
  const model = buildCrnn(crnnConfig);
  await saveRun(dir, run(model));
  const runPath = path.join(dir, 'run.json');
  const record = JSON.parse(fs.readFileSync(runPath, 'utf8'));
  assert.equal(record.crnnConfig.weightDecay, 0);
  assert.deepEqual([record.trainConfig.labelSmoothing, record.trainConfig.augmentShift, record.trainConfig.augmentRotation], [0, 0, 0]);
  delete record.crnnConfig.weightDecay;
  for (const field of ['labelSmoothing', 'augmentShift', 'augmentRotation']) delete record.trainConfig[field];
  fs.writeFileSync(runPath, JSON.stringify(record));
  const loaded = await loadRun(dir);
  assert.equal(loaded.crnnConfig.weightDecay, 0);
  assert.deepEqual([loaded.trainConfig.labelSmoothing, loaded.trainConfig.augmentShift, loaded.trainConfig.augmentRotation], [0, 0, 0]);
  assert.deepEqual(loaded.crnnConfig, crnnConfig);
  assert.deepEqual(loaded.trainConfig, trainConfig);
  model.dispose();
  loaded.model.dispose();
});

test('a run with batch normalisation, dropout and 5×5 kernels loads back with its moving statistics, settings and predictions', async () => {
  const dir = path.join(tempDir(), 'run');
  const config = resolveCrnnConfig({ ...crnnConfig, batchNorm: true, dropout: 0.3, kernelSize: 5 });
  const model = buildCrnn(config);
  // Training steps move the moving statistics away from 0 and 1.
  const xs = tf.randomUniform<tfTypes.Rank.R5>([8, 2, 28, 28, 1], 0, 1, 'float32', 3);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 19).toFloat() as tfTypes.Tensor2D;
  const step = createTrainStep(model);
  for (let k = 0; k < 2; k++) step(xs, ys).dispose();
  await saveRun(dir, { ...run(model), crnnConfig: config });
  const loaded = await loadRun(dir);
  assert.deepEqual(loaded.crnnConfig, config);
  assert.equal(loaded.model.nonTrainableWeights.length, model.nonTrainableWeights.length);
  assert.ok(model.nonTrainableWeights.length > 0);
  model.nonTrainableWeights.forEach((w, i) => {
    const [saved, back] = [w.read().dataSync(), loaded.model.nonTrainableWeights[i].read().dataSync()];
    assert.deepEqual(back, saved, w.name);
    assert.ok(saved.some((v) => v !== 0 && v !== 1), `${w.name} never moved`);
  });
  const predictions = (m: tfTypes.LayersModel) => tf.tidy(() => (m.predict(xs) as tfTypes.Tensor).arraySync());
  assert.deepEqual(predictions(loaded.model), predictions(model));
  // The dropout layers came back with their rates and seeds.
  for (const name of ['step0_dropout', 'rnn_dropout']) {
    assert.deepEqual(loaded.model.getLayer(name).getConfig(), model.getLayer(name).getConfig());
  }
  tf.dispose([xs, ys]);
  disposeCrnn(model);
  disposeCrnn(loaded.model);
});

test('a run.json saved before kernelSize, batchNorm and dropout existed loads with their defaults', async () => {
  const dir = path.join(tempDir(), 'run');
  const model = buildCrnn(crnnConfig);
  await saveRun(dir, run(model));
  const runPath = path.join(dir, 'run.json');
  const record = JSON.parse(fs.readFileSync(runPath, 'utf8'));
  for (const field of ['kernelSize', 'batchNorm', 'dropout']) delete record.crnnConfig[field];
  fs.writeFileSync(runPath, JSON.stringify(record));
  const loaded = await loadRun(dir);
  assert.deepEqual(loaded.crnnConfig, crnnConfig);
  assert.deepEqual([loaded.crnnConfig.kernelSize, loaded.crnnConfig.batchNorm, loaded.crnnConfig.dropout], [3, false, 0]);
  disposeCrnn(model);
  disposeCrnn(loaded.model);
});

test('historyCsv writes one row per step with the evaluations and the learning rate alongside', () => {
  const csv = historyCsv({
    ...history,
    steps: [history.steps[0], { ...history.steps[1], learningRate: 0.001 }],
    evals: [{ step: 0, loss: 3, accuracy: 0.05 }, ...history.evals],
  });
  assert.equal(csv, [
    'step,loss,accuracy,eval_loss,eval_accuracy,learning_rate',
    '0,,,3,0.05,',
    '1,2.9,0.125,,,',
    '2,2.8,0.25,2.85,0.1875,0.001',
    '',
  ].join('\n'));
});

test('a saved run folder gets the mode a plain mkdir gives, not a private 0700', async () => {
  const parent = tempDir();
  const model = await trainedModel();
  await saveRun(path.join(parent, 'run'), run(model));
  fs.mkdirSync(path.join(parent, 'plain'));
  const mode = (name: string) => fs.statSync(path.join(parent, name)).mode & 0o777;
  assert.equal(mode('run'), mode('plain'));
  model.dispose();
});

test('run.json records the machine and software the run trained on', async () => {
  const dir = path.join(tempDir(), 'run');
  const model = await trainedModel();
  process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
  await saveRun(dir, run(model));
  const { environment } = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  assert.equal(environment.node, process.version);
  assert.equal(environment.tfjs, tf.version['tfjs-core']);
  assert.equal(environment.backend, tf.getBackend());
  if (environment.backend === 'tensorflow') assert.match(environment.libtensorflow, /^\d+\.\d+\.\d+/);
  assert.equal(environment.cpu.cores, os.availableParallelism());
  assert.ok(Array.isArray(environment.cpu.flags));
  if (fs.existsSync('/proc/cpuinfo') && fs.readFileSync('/proc/cpuinfo', 'utf8').includes(' avx2')) assert.ok(environment.cpu.flags.includes('avx2'));
  assert.equal(environment.tfEnvironment.TF_ENABLE_ONEDNN_OPTS, process.env.TF_ENABLE_ONEDNN_OPTS);
  // The tests run in a git checkout (CI clones one): the commit is recorded.
  assert.match(environment.gitCommit, /^[0-9a-f]{40}(-dirty)?$/);
  model.dispose();
});

test('saving a run leaves no tensors behind (tfjs leaks the optimiser\'s step count in model.save)', async () => {
  const model = await trainedModel();
  const parent = tempDir();
  await saveRun(path.join(parent, 'warm-up'), run(model));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await saveRun(path.join(parent, `run-${i}`), run(model));
  assert.equal(tf.memory().numTensors, before);
  // The optimiser's own method is back, and still gives the step count.
  const weights = await model.optimizer.getWeights();
  assert.equal(weights[0].name, 'iter');
  tf.dispose(weights[0].tensor);
  assert.equal(Object.prototype.hasOwnProperty.call(model.optimizer, 'getWeights'), false);
  model.dispose();
});
