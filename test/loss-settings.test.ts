import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { createTrainStep, trainSteps } from '../lib/train/loop';
import { GraphTrainer, graphEngineSupport } from '../lib/graph';
import { buildTrainingGraph } from '../lib/graph/build';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { loadRun, saveRun } from '../lib/runs/persist';
import { loadMnist } from '../lib/data/data';
import type { CrnnConfig, DigitData } from '../lib/types';
import { maxAbsDiff, randomBatch, twin } from './helpers/models';
import { tempFolders } from './helpers/temp';

const skip = backend.native ? false : 'the graph engine needs the native backend';
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12 };
/** Relative tolerance between engines and against hand computations: floats differ in their last bits across CPUs. */
const RTOL = 1e-5;

const tempDir = tempFolders('loss-settings');

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= RTOL * Math.abs(expected), `${what}: ${actual} vs ${expected}`);
}

/**
 * By hand, in float64 from the model's probabilities: the cross-entropy, the
 * mean over the batch of −Σ_j ((1 − ε)·y_j + ε/K)·ln p_j; the penalty λ·ΣW²
 * over the kernels; and the accuracy against the true class.
 */
function handLoss(model: tfTypes.LayersModel, xs: tfTypes.Tensor, ys: tfTypes.Tensor2D, epsilon: number, lambda: number):
  { crossEntropy: number; accuracy: number; penalty: number } {
  const probs = tf.tidy(() => (model.predict(xs) as tfTypes.Tensor2D).arraySync());
  const labels = ys.arraySync();
  const K = labels[0].length;
  let [total, right] = [0, 0];
  probs.forEach((p, b) => {
    total -= p.reduce((sum, pj, j) => sum + ((1 - epsilon) * labels[b][j] + epsilon / K) * Math.log(pj), 0);
    const argMax = (row: number[]) => row.indexOf(Math.max(...row));
    if (argMax(p) === argMax(labels[b])) right++;
  });
  let penalty = 0;
  for (const w of model.trainableWeights) {
    if (!/\/(kernel|recurrent_kernel)$/.test(w.originalName)) continue;
    penalty += lambda * Array.from(w.read().dataSync() as Float32Array).reduce((sum, v) => sum + v * v, 0);
  }
  return { crossEntropy: total / probs.length, accuracy: right / probs.length, penalty };
}

test('weightDecay puts an L2 regulariser of λ on every kernel and on no bias; 0 leaves the model as before', () => {
  for (const cell of ['simple', 'gru', 'lstm'] as const) {
    const model = buildCrnn({ ...small, cell, weightDecay: 0.002 });
    let kernels = 0;
    for (const layer of model.layers) {
      const config = layer.getConfig();
      for (const key of ['kernelRegularizer', 'recurrentRegularizer', 'biasRegularizer']) {
        if (!(key in config)) continue;
        const expected = key === 'biasRegularizer' ? null : { className: 'L1L2', config: { l1: 0, l2: 0.002 } };
        assert.deepEqual(config[key], expected, `${layer.name} ${key}`);
        if (expected) kernels++;
      }
    }
    // Two CNNs of three layers, the recurrent layer's two kernels, the output layer.
    assert.equal(kernels, 2 * 3 + 2 + 1, cell);
    disposeCrnn(model);
  }
  const [before, zero] = [buildCrnn(small), buildCrnn({ ...small, weightDecay: 0 })];
  assert.deepEqual(zero.toJSON(null, false), before.toJSON(null, false));
  [before, zero].forEach(disposeCrnn);
});

test('λ = 0 and ε = 0 write the graph of before, byte for byte', { skip }, () => {
  const model = buildCrnn(small);
  const plain = buildTrainingGraph(model).savedModel;
  assert.deepEqual(buildTrainingGraph(model, { labelSmoothing: 0 }).savedModel, plain);
  const zero = buildCrnn({ ...small, weightDecay: 0 });
  assert.deepEqual(buildTrainingGraph(zero).savedModel, plain);
  const decayed = buildCrnn({ ...small, weightDecay: 1e-3 });
  assert.notDeepEqual(buildTrainingGraph(decayed).savedModel, plain);
  [model, zero, decayed].forEach(disposeCrnn);
});

test('both engines record the hand-computed smoothed cross-entropy, without the weight penalty, and the accuracy against the true class',
  { skip }, async () => {
  const settings: [number, number][] = [[0, 0], [0.1, 0], [0, 0.01], [0.2, 0.003]];
  for (const [epsilon, lambda] of settings) {
    for (const cell of ['simple', 'lstm'] as const) {
      const config = { ...small, cell, weightDecay: lambda };
      const graphModel = buildCrnn(config);
      const eagerModel = twin(graphModel, config);
      const [xs, ys] = randomBatch(graphModel, 16, 3);
      const hand = handLoss(graphModel, xs, ys, epsilon, lambda);
      const trainer = await GraphTrainer.create(graphModel, { labelSmoothing: epsilon });
      const graphOut = trainer.step(xs, ys, 1e-3).dataSync();
      trainer.dispose();
      const eagerOut = createTrainStep(eagerModel, { labelSmoothing: epsilon })(xs, ys).dataSync();
      const what = `ε ${epsilon}, λ ${lambda}, ${cell}`;
      // A penalty this large would show: the recorded loss leaves it out on both engines.
      assert.ok(lambda === 0 ? hand.penalty === 0 : hand.penalty > 100 * RTOL * hand.crossEntropy, `${what}: penalty ${hand.penalty}`);
      close(graphOut[0], hand.crossEntropy, `${what}: graph loss`);
      close(eagerOut[0], hand.crossEntropy, `${what}: eager loss`);
      close(graphOut[0], eagerOut[0], `${what}: graph against eager loss`);
      // A nearly tied argmax may fall either way on another CPU: at most one sequence of the 16.
      assert.ok(Math.abs(graphOut[1] - hand.accuracy) <= 1 / 16 + 1e-6, `${what}: graph accuracy ${graphOut[1]}`);
      assert.ok(Math.abs(eagerOut[1] - hand.accuracy) <= 1 / 16 + 1e-6, `${what}: eager accuracy ${eagerOut[1]}`);
      tf.dispose([xs, ys]);
      [graphModel, eagerModel].forEach(disposeCrnn);
    }
  }
});

test('the graph\'s gradients with weight decay are those of the loss plus λ·ΣW² over the kernels', { skip }, async () => {
  for (const cell of ['simple', 'gru'] as const) {
    const lambda = 0.05;
    const model = buildCrnn({ ...small, cell, weightDecay: lambda });
    const trainer = await GraphTrainer.create(model, { labelSmoothing: 0.1 });
    const [xs, ys] = randomBatch(model, 8, 5);
    const { lossAndAccuracy, grads } = trainer.gradients(xs, ys);
    const variables = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
    const kernels = model.trainableWeights.filter((w) => /\/(kernel|recurrent_kernel)$/.test(w.originalName)).map((w) => w.read());
    assert.equal(kernels.length, 2 * 3 + 2 + 1);
    // The definition, written out: smoothed cross-entropy plus λ·ΣW²; the loss reported is the first term.
    const crossEntropy = () => tf.metrics.categoricalCrossentropy(
      tf.add(tf.mul(ys, 0.9), 0.1 / 19), model.apply(xs) as tfTypes.Tensor).mean<tfTypes.Scalar>();
    const reference = tf.variableGrads(() => tf.tidy(() => tf.addN([
      crossEntropy(), ...kernels.map((k) => tf.mul(lambda, tf.sum(tf.square(k)))),
    ]) as tfTypes.Scalar), variables);
    close(lossAndAccuracy.dataSync()[0], tf.tidy(() => crossEntropy().dataSync()[0]), `${cell}: loss`);
    variables.forEach((v, i) => {
      const expected = reference.grads[v.name];
      const scale = tf.tidy(() => tf.max(tf.abs(expected)).dataSync()[0]);
      const error = maxAbsDiff(grads[i], expected);
      assert.ok(error <= 1e-4 * scale, `${cell} ${model.trainableWeights[i].name}: off by ${error} (scale ${scale})`);
    });
    tf.dispose([xs, ys, lossAndAccuracy, ...grads, reference.value, ...Object.values(reference.grads)]);
    trainer.dispose();
    disposeCrnn(model);
  }
});

test('with weight decay and label smoothing, steps from the same weights and batches give the same weights on both engines', { skip }, async () => {
  const lambda = 0.05;
  const config = { ...small, cell: 'gru' as const, weightDecay: lambda };
  const graphModel = buildCrnn(config);
  const eagerModel = twin(graphModel, config);
  const undecayed = twin(graphModel, { ...config, weightDecay: 0 });
  const batches = [1, 2].map((seed) => randomBatch(graphModel, 16, seed));
  const trainer = await GraphTrainer.create(graphModel, { labelSmoothing: 0.1 });
  for (const [xs, ys] of batches) trainer.step(xs, ys, 1e-3).dispose();
  trainer.pull();
  trainer.dispose();
  for (const model of [eagerModel, undecayed]) {
    const step = createTrainStep(model, { labelSmoothing: 0.1 });
    for (const [xs, ys] of batches) step(xs, ys).dispose();
  }
  // As in graph-trainer.test.ts: a tenth of a step, while a missing or wrong penalty misses by steps.
  let decayMoved = 0;
  graphModel.trainableWeights.forEach((w, i) => {
    const error = maxAbsDiff(w.read(), eagerModel.trainableWeights[i].read());
    assert.ok(error < 1e-4, `${w.name}: off by ${error}`);
    decayMoved = Math.max(decayMoved, maxAbsDiff(eagerModel.trainableWeights[i].read(), undecayed.trainableWeights[i].read()));
  });
  assert.ok(decayMoved >= 1e-3, `the decay changed the steps by ${decayMoved} at most`);
  // The recurrent kernel's penalty is in both (tfjs's own model.fit leaves it out).
  const recurrent = graphModel.trainableWeights.findIndex((w) => w.originalName.endsWith('recurrent_kernel'));
  assert.ok(maxAbsDiff(eagerModel.trainableWeights[recurrent].read(), undecayed.trainableWeights[recurrent].read()) >= 1e-3);
  tf.dispose(batches.flat());
  [graphModel, eagerModel, undecayed].forEach(disposeCrnn);
});

test('label smoothing outside [0, 1) is refused by both engines', { skip }, async () => {
  const model = buildCrnn(small);
  for (const bad of [1, -0.1, NaN]) {
    assert.throws(() => createTrainStep(model, { labelSmoothing: bad }), /labelSmoothing must be a number in \[0, 1\)/);
    await assert.rejects(GraphTrainer.create(model, { labelSmoothing: bad }), /labelSmoothing must be a number in \[0, 1\)/);
  }
  assert.throws(() => resolveTrainConfig({ labelSmoothing: 1 }), /TrainConfig.labelSmoothing must be a number in \[0, 1\), got 1/);
  assert.throws(() => resolveCrnnConfig({ weightDecay: -1 }), /CrnnConfig.weightDecay must be a number >= 0, got -1/);
  disposeCrnn(model);
});

test('a run with these settings saves them, loads them, and continues on the graph engine as if never saved', { skip }, async () => {
  const data: DigitData = loadMnist();
  const crnnConfig = resolveCrnnConfig({ ...small, weightDecay: 1e-3 });
  const trainConfig = resolveTrainConfig({
    numSteps: 3, batchSize: 8, evalSize: 16, evalEvery: 3, seed: 2, engine: 'graph',
    labelSmoothing: 0.1, augmentShift: 2, augmentRotation: 10,
  });
  const options = { ...trainConfig, seqLength: 2, task: 'difference' };
  const model = buildCrnn(crnnConfig, { seed: 2 });
  const history = await trainSteps(model, data, options);
  const dir = path.join(tempDir(), 'run');
  await saveRun(dir, { model, crnnConfig, trainConfig, task: 'difference', history });

  const record = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  assert.equal(record.crnnConfig.weightDecay, 1e-3);
  assert.deepEqual([record.trainConfig.labelSmoothing, record.trainConfig.augmentShift, record.trainConfig.augmentRotation], [0.1, 2, 10]);
  const loaded = await loadRun(dir);
  assert.deepEqual(loaded.crnnConfig, crnnConfig);
  assert.deepEqual(loaded.trainConfig, trainConfig);
  assert.deepEqual(loaded.model.getLayer('rnn_simple').getConfig().recurrentRegularizer, { className: 'L1L2', config: { l1: 0, l2: 1e-3 } });
  assert.equal(graphEngineSupport(loaded.model), null);

  // Three more steps on each: the loaded run and the one still in memory stay together.
  const more = { ...loaded.trainConfig, seqLength: 2, task: 'difference', seed: 3 };
  const [continued, inMemory] = [await trainSteps(loaded.model, data, more), await trainSteps(model, data, more)];
  assert.equal(continued.engine, 'graph');
  continued.steps.forEach((s, i) => close(s.loss, inMemory.steps[i].loss, `step ${s.step}`));
  model.trainableWeights.forEach((w, i) => {
    const error = maxAbsDiff(w.read(), loaded.model.trainableWeights[i].read());
    assert.ok(error < 1e-6, `${w.name}: off by ${error}`);
  });
  [model, loaded.model].forEach(disposeCrnn);
});
