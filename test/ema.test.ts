import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { checkEmaDecay, emaRate, WeightAverage, writeTrainableWeights } from '../lib/train/ema';
import { createTrainStep, trainSteps, type TrainOptions } from '../lib/train/loop';
import { getSetting, parseSetting, resolveTrainConfig } from '../lib/config';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { GraphTrainer } from '../lib/graph';
import { samplerSpecFor, type SamplerSpec } from '../lib/graph/sampler';
import { loadMnist } from '../lib/data/data';
import { createEvalSet, drawSequenceIndices, EVAL_BATCH_SIZE, evalBatches, makeSequenceBatch } from '../lib/data/sequences';
import { differenceTask } from '../lib/data/tasks';
import { createRng } from '../lib/random';
import { measureLossAccuracy } from '../lib/evaluate/metrics';
import type { CrnnConfig, DigitData } from '../lib/types';
import { maxAbsDiff, randomBatch, twin } from './helpers/models';

const skip = backend.native ? false : 'the graph engine needs the native backend';
const data: DigitData = loadMnist();
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12, learningRate: 3e-3 };
const run: TrainOptions = { seqLength: 2, task: 'difference', batchSize: 8, evalSize: 64, numSteps: 4, evalEvery: 2, seed: 3 };
const evalSet = createEvalSet(data.test, { size: 64, seqLength: 2, task: differenceTask, seed: 42 });
/** A decay low enough that a few steps' average sits well apart from the last weights. */
const decay = 0.6;

/** The model's trainable weights, copied out. */
function snapshot(model: tfTypes.LayersModel): Float32Array[] {
  return model.trainableWeights.map((w) => Float32Array.from(w.read().dataSync()));
}

/**
 * The average after step t by its definition, Σ_{i≤t} d^{t−i}·w_i / Σ_{i≤t} d^{t−i}
 * over the weights after each step, `sequence[i − 1]`, in float64.
 */
function referenceAverage(sequence: Float32Array[][], t: number): Float64Array[] {
  return sequence[0].map((_, k) => {
    const sum = new Float64Array(sequence[0][k].length);
    let norm = 0;
    for (let i = 1; i <= t; i++) {
      const weight = decay ** (t - i);
      norm += weight;
      sequence[i - 1][k].forEach((v, j) => { sum[j] += weight * v; });
    }
    return sum.map((v) => v / norm);
  });
}

function largestDifference(values: ArrayLike<number>[], reference: ArrayLike<number>[]): number {
  let max = 0;
  values.forEach((v, k) => {
    for (let j = 0; j < v.length; j++) max = Math.max(max, Math.abs(v[j] - reference[k][j]));
  });
  return max;
}

/** The evaluation set's loss with the model's trainable weights set to `values`. */
function lossWith(model: tfTypes.LayersModel, values: ArrayLike<number>[]): number {
  const tensors = model.trainableWeights.map((w, k) => tf.tensor(Float32Array.from(values[k]), w.shape as number[]));
  writeTrainableWeights(model, tensors);
  tf.dispose(tensors);
  return measureLossAccuracy(model, evalBatches(evalSet, data.test, EVAL_BATCH_SIZE)).loss;
}

test('the average moves at rate (1 − d)/(1 − d^t): all the way at the first step, 1 − d in the long run', () => {
  assert.equal(emaRate(0.9, 1), 1);
  assert.ok(Math.abs(emaRate(0.9, 2) - 0.1 / 0.19) < 1e-15);
  assert.ok(Math.abs(emaRate(0.999, 100000) - 0.001) < 1e-12);
  assert.equal(emaRate(0, 7), 1);
  assert.throws(() => emaRate(0.9, 0), /the moving average's step must be an integer >= 1, got 0/);
  for (const bad of [1, -0.1, NaN]) assert.throws(() => checkEmaDecay(bad), /emaDecay must be a number in \[0, 1\)/);
});

test('emaDecay is a training setting in [0, 1), off by default, with its flag and help', () => {
  assert.equal(resolveTrainConfig().emaDecay, 0);
  assert.equal(resolveTrainConfig({ emaDecay: 0.999 }).emaDecay, 0.999);
  assert.throws(() => resolveTrainConfig({ emaDecay: 1 }), /TrainConfig.emaDecay must be a number in \[0, 1\), got 1/);
  assert.throws(() => resolveTrainConfig({ emaDecay: -0.5 }), /TrainConfig.emaDecay must be a number in \[0, 1\), got -0.5/);
  assert.equal(parseSetting('emaDecay', '0.99'), 0.99);
  const setting = getSetting('emaDecay');
  assert.deepEqual([setting.config, setting.flag], ['train', '--ema-decay']);
  assert.match(setting.help, /moving average/);
});

test('on the eager engine the evaluations measure the decayed mean of the weights after each step, which the model holds at the end', async () => {
  const model = buildCrnn(small, { seed: 3 });
  // A first step makes Adam's moments; the average starts with the next call.
  await trainSteps(model, data, { ...run, engine: 'eager', numSteps: 1 });
  const trained: Float32Array[][] = [];
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  const history = await trainSteps(model, data, { ...run, engine: 'eager', emaDecay: decay }, {
    onStep: () => {
      trained.push(snapshot(model));
      counts.push(tf.memory().numTensors);
    },
  });
  assert.equal(history.engine, 'eager');
  // No tensor left behind: flat across the steps, and all freed at the end.
  assert.equal(new Set(counts).size, 1, `tensor counts at the steps: ${counts.join(', ')}`);
  assert.equal(tf.memory().numTensors, before);
  // float32 updates against a float64 reference: rounding of weights below 1 in size.
  const tolerance = 1e-6;
  const error = largestDifference(snapshot(model), referenceAverage(trained, 4));
  assert.ok(error < tolerance, `the model's weights are off the average by ${error}`);
  const probe = buildCrnn(small);
  for (const record of history.evals) {
    const averaged = lossWith(probe, referenceAverage(trained, record.step));
    assert.ok(Math.abs(record.loss - averaged) < 1e-5, `step ${record.step}: ${record.loss} vs ${averaged} on the average`);
    const asTrained = lossWith(probe, trained[record.step - 1]);
    assert.ok(Math.abs(record.loss - asTrained) > 1e-3, `step ${record.step}: ${record.loss} is the trained weights' ${asTrained}`);
  }
  disposeCrnn(probe);
  disposeCrnn(model);
});

test('on the graph engine the average after each step is the decayed mean of the weights, and evaluate measures it', { skip }, async () => {
  const model = buildCrnn(small, { seed: 3 });
  const probe = buildCrnn(small);
  const trainer = await GraphTrainer.create(model, { emaDecay: decay });
  const trained: Float32Array[][] = [];
  const counts: number[] = [];
  const [xs, ys] = randomBatch(model, 16, 9);
  for (let seed = 1; seed <= 3; seed++) {
    const [batchXs, batchYs] = randomBatch(model, 8, seed);
    trainer.step(batchXs, batchYs).dispose();
    tf.dispose([batchXs, batchYs]);
    trainer.pull(); // the weights as trained
    trained.push(snapshot(model));
    const averages = trainer.averagedWeights();
    const error = largestDifference(averages.map((a) => a.dataSync()), referenceAverage(trained, seed));
    assert.ok(error < 1e-6, `step ${seed}: the graph's average is off by ${error}`);
    // The batch's summed loss in the graph, against the same model in tfjs holding the average, then the trained weights.
    const sums = trainer.evaluate(xs, ys);
    const graphLoss = sums.dataSync()[0];
    writeTrainableWeights(probe, averages);
    const eagerLoss = (measure: tfTypes.LayersModel) => tf.tidy(() => tf.sum(
      tf.metrics.categoricalCrossentropy(ys, measure.predict(xs) as tfTypes.Tensor)).dataSync()[0]);
    assert.ok(Math.abs(graphLoss - eagerLoss(probe)) < 1e-4, `step ${seed}: ${graphLoss} vs ${eagerLoss(probe)} on the average`);
    if (seed > 1) assert.ok(Math.abs(graphLoss - eagerLoss(model)) > 1e-3, `step ${seed}: evaluate measured the trained weights`);
    tf.dispose([sums, ...averages]);
    counts.push(tf.memory().numTensors);
  }
  assert.equal(new Set(counts).size, 1, `tensor counts after the steps: ${counts.join(', ')}`);
  trainer.dispose();
  const plain = await GraphTrainer.create(model);
  assert.throws(() => plain.averagedWeights(), /keeps no moving average: create it with an emaDecay above 0/);
  plain.dispose();
  await assert.rejects(GraphTrainer.create(model, { emaDecay: 1 }), /emaDecay must be a number in \[0, 1\), got 1/);
  tf.dispose([xs, ys]);
  disposeCrnn(probe);
  disposeCrnn(model);
});

test('steps in one call move the graph\'s average as single steps on the same batches do', { skip }, async () => {
  const looped = buildCrnn(small, { seed: 3 });
  const single = buildCrnn(small, { seed: 3 });
  const spec = samplerSpecFor(data.train, differenceTask, 2) as SamplerSpec;
  const rng = createRng(11);
  const indices = Array.from({ length: 4 }, () => drawSequenceIndices(data.train.count, 8, 2, rng));
  const rates = [1e-3, 3e-3, 2e-3, 1e-3];
  const loop = await GraphTrainer.create(looped, { sampler: { spec, stepsPerCall: 2 }, trainingSet: data.train, emaDecay: decay });
  for (const call of [0, 2]) {
    loop.runSteps(Int32Array.from([...indices[call], ...indices[call + 1]]), rates.slice(call, call + 2)).dispose();
  }
  const trainer = await GraphTrainer.create(single, { emaDecay: decay });
  indices.forEach((batchIndices, k) => {
    const batch = makeSequenceBatch(data.train, batchIndices, 2, differenceTask);
    trainer.step(batch.xs, batch.ys, rates[k]).dispose();
    tf.dispose([batch.xs, batch.ys]);
  });
  const [a, b] = [loop.averagedWeights(), trainer.averagedWeights()];
  a.forEach((average, k) => {
    const error = maxAbsDiff(average, b[k]);
    assert.ok(error < 1e-6, `${looped.trainableWeights[k].name}: off by ${error}`);
  });
  tf.dispose([...a, ...b]);
  loop.dispose();
  trainer.dispose();
  disposeCrnn(looped);
  disposeCrnn(single);
});

test('both engines average alike: the same steps give the same averages, and the graph leaves the model holding its own', { skip }, async () => {
  const config = { ...small, learningRate: 1e-3 };
  const graphModel = buildCrnn(config, { seed: 3 });
  const eagerModel = twin(graphModel, config);
  // Random pixels: MNIST's blank regions tie max-pool windows, which the engines may break apart.
  const batches = [1, 2, 3].map((seed) => randomBatch(graphModel, 16, seed));
  const trainer = await GraphTrainer.create(graphModel, { emaDecay: decay });
  for (const [xs, ys] of batches) trainer.step(xs, ys).dispose();
  const graphAverages = trainer.averagedWeights();
  trainer.dispose();
  const eagerStep = createTrainStep(eagerModel);
  const average = new WeightAverage(eagerModel, decay);
  for (const [xs, ys] of batches) {
    eagerStep(xs, ys).dispose();
    average.update();
  }
  assert.equal(average.steps, 3);
  // Three steps of 1e-3, which the engines round differently (see test/graph-trainer.test.ts): a tenth of a step bounds it.
  graphAverages.forEach((value, k) => {
    const error = maxAbsDiff(value, average.values[k]);
    assert.ok(error < 1e-4, `${graphModel.trainableWeights[k].name}: the engines' averages differ by ${error}`);
  });
  tf.dispose([...graphAverages, ...batches.flat()]);
  average.dispose();
  disposeCrnn(eagerModel);
  // A run on the graph engine, steps in calls of 2: its model ends holding the average that the last evaluation measured.
  const history = await trainSteps(graphModel, data, { ...run, emaDecay: decay, stepsPerCall: 2 });
  assert.deepEqual([history.engine, history.sampler], ['graph', 'graph']);
  const measured = measureLossAccuracy(graphModel, evalBatches(evalSet, data.test, EVAL_BATCH_SIZE));
  const last = history.evals[history.evals.length - 1];
  assert.ok(Math.abs(measured.loss - last.loss) < 1e-5, `the model's ${measured.loss} vs the graph's last evaluation ${last.loss}`);
  disposeCrnn(graphModel);
});
