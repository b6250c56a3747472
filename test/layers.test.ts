/**
 * The custom layers of lib/model/layers.ts on their own (TimeStepSlice,
 * FoldTime, UnfoldTime), and the layers beyond the article's on both engines:
 * dropout (SeededDropout), batch normalisation and wider convolution kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { setDropoutStep } from '../lib/model/dropout';
import { FoldTime, TimeStepSlice, UnfoldTime } from '../lib/model/layers';
import { createTrainStep, trainSteps } from '../lib/train/loop';
import { GraphTrainer, graphEngineSupport } from '../lib/graph';
import { loadMnist } from '../lib/data/data';
import { createEvalSet, evalBatches, makeSequenceBatch } from '../lib/data/sequences';
import { stepFeatures } from '../lib/evaluate/probe';
import { differenceTask } from '../lib/data/tasks';
import { measureLossAccuracy } from '../lib/evaluate/metrics';
import type { CrnnConfig, DigitData } from '../lib/types';
import { maxAbs, maxAbsDiff, randomBatch, twin } from './helpers/models';

const skip = backend.native ? false : 'the graph engine needs the native backend';
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12 };

function predict(model: tfTypes.LayersModel, xs: tfTypes.Tensor): tfTypes.Tensor {
  return model.predict(xs) as tfTypes.Tensor;
}

/** The batch's loss summed over its sequences, from tfjs's prediction. */
function predictedLossSum(model: tfTypes.LayersModel, xs: tfTypes.Tensor, ys: tfTypes.Tensor): number {
  return tf.tidy(() => tf.metrics.categoricalCrossentropy(ys, predict(model, xs)).sum().dataSync()[0]);
}

/** [lossSum, correct] of the graph's evaluation of the batch, on the model's weights. */
async function graphEvaluation(model: tfTypes.LayersModel, xs: tfTypes.Tensor5D, ys: tfTypes.Tensor2D): Promise<number[]> {
  const trainer = await GraphTrainer.create(model);
  const out = trainer.evaluate(xs, ys);
  const values = Array.from(out.dataSync());
  out.dispose();
  trainer.dispose();
  return values;
}

test('TimeStepSlice picks one step of the sequence', () => {
  const x = tf.tensor3d([[[1, 2], [3, 4], [5, 6]]]); // [1, 3, 2]
  const slice = new TimeStepSlice({ step: 2 });
  const y = slice.apply(x) as tfTypes.Tensor;
  assert.deepEqual(y.arraySync(), [[5, 6]]);
  assert.deepEqual(slice.computeOutputShape([null, 3, 2]), [null, 2]);
  assert.throws(() => slice.computeOutputShape([null, 2, 2]), /step 2 is out of range for sequences of length 2/);
  assert.throws(() => new TimeStepSlice({ step: -1 }), /step must be an integer >= 0, got -1/);
  tf.dispose([x, y]);
});

test('FoldTime puts step t of sequence b at row b·T + t, and UnfoldTime puts it back', () => {
  const x = tf.range(0, 2 * 3 * 2).reshape([2, 3, 2]); // [batch 2, T 3, 2 features]
  const folded = new FoldTime({}).apply(x) as tfTypes.Tensor;
  assert.deepEqual(folded.arraySync(), [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]);
  const unfolded = new UnfoldTime({ seqLength: 3 }).apply(folded) as tfTypes.Tensor;
  assert.deepEqual(unfolded.arraySync(), x.arraySync());
  assert.deepEqual(new FoldTime({}).computeOutputShape([null, 3, 28, 28, 1]), [null, 28, 28, 1]);
  assert.deepEqual(new FoldTime({}).computeOutputShape([4, 3, 28, 28, 1]), [12, 28, 28, 1]);
  assert.deepEqual(new UnfoldTime({ seqLength: 3 }).computeOutputShape([null, 256]), [null, 3, 256]);
  assert.throws(() => new UnfoldTime({ seqLength: 0 }), /UnfoldTime seqLength must be an integer >= 1, got 0/);
  assert.throws(() => new UnfoldTime({ seqLength: 4 }).apply(folded), /cannot split a batch of 6 into sequences of length 4/);
  assert.throws(() => new FoldTime({}).computeOutputShape([null, 3]), /rank >= 3, got shape \[null, 3\]/);
  tf.dispose([x, folded, unfolded]);
});

test('graph gradients of models with dropout, batch normalisation and 5×5 kernels are tfjs\'s eager training gradients', { skip }, async () => {
  const variants: Partial<CrnnConfig>[] = [
    { ...small, dropout: 0.3 },
    { ...small, batchNorm: true },
    { ...small, kernelSize: 5 },
    { ...small, kernelSize: 7, batchNorm: true, dropout: 0.5, cell: 'gru', sharedCnn: true, seqLength: 3 },
    { ...small, kernelSize: 5, batchNorm: true, dropout: 0.2, cell: 'lstm', height: 13, width: 11 },
  ];
  for (const config of variants) {
    const model = buildCrnn(config);
    assert.equal(graphEngineSupport(model), null);
    const trainer = await GraphTrainer.create(model);
    const [xs, ys] = randomBatch(model, 8, 3);
    // The training pass of step 5 on both engines: the same dropout masks, batch statistics.
    const { lossAndAccuracy, grads } = trainer.gradients(xs, ys, 5);
    setDropoutStep(model, 5);
    const variables = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
    const eager = tf.variableGrads(() => tf.metrics.categoricalCrossentropy(
      ys, model.apply(xs, { training: true }) as tfTypes.Tensor).mean<tfTypes.Scalar>(), variables);
    const label = JSON.stringify(config);
    const [graphLoss, eagerLoss] = [lossAndAccuracy.dataSync()[0], eager.value.dataSync()[0]];
    assert.ok(Math.abs(graphLoss - eagerLoss) < 1e-5, `${label}: loss ${graphLoss} vs ${eagerLoss}`);
    variables.forEach((v, i) => {
      const reference = eager.grads[v.name];
      const scale = maxAbs(reference);
      assert.ok(scale > 0, `${label} ${v.name}: the reference gradient is all zero`);
      const error = maxAbsDiff(grads[i], reference);
      assert.ok(error <= 1e-4 * scale, `${label} ${model.trainableWeights[i].name}: off by ${error} (scale ${scale})`);
    });
    if (config.dropout) {
      // Another step's masks give another loss.
      const other = trainer.gradients(xs, ys, 6);
      assert.notEqual(other.lossAndAccuracy.dataSync()[0], graphLoss, label);
      tf.dispose([other.lossAndAccuracy, ...other.grads]);
    }
    tf.dispose([xs, ys, lossAndAccuracy, ...grads, eager.value, ...Object.values(eager.grads)]);
    trainer.dispose();
    disposeCrnn(model);
  }
});

test('dropout: evaluation is unchanged by it, the same seed gives the same steps, and it changes the training loss', { skip }, async () => {
  const withDropout = buildCrnn({ ...small, dropout: 0.5 });
  const without = twin(withDropout, small);
  const [xs, ys] = randomBatch(withDropout, 16, 21);

  // Evaluation: eager prediction and the graph's evaluation ignore the dropout layers.
  assert.equal(maxAbsDiff(predict(withDropout, xs), predict(without, xs)), 0);
  const evaluations = await Promise.all([withDropout, without].map((m) => graphEvaluation(m, xs, ys)));
  assert.deepEqual(evaluations[0], evaluations[1]);

  // The training loss, on the same weights: dropout changes it, on both engines.
  const losses = async (m: tfTypes.LayersModel) => {
    const copy = twin(m, { ...small, dropout: m === withDropout ? 0.5 : 0 });
    const trainer = await GraphTrainer.create(copy);
    const graphOut = trainer.step(xs, ys);
    const eagerOut = createTrainStep(twin(m, { ...small, dropout: m === withDropout ? 0.5 : 0 }))(xs, ys);
    const result = [graphOut.dataSync()[0], eagerOut.dataSync()[0]];
    tf.dispose([graphOut, eagerOut]);
    trainer.dispose();
    disposeCrnn(copy);
    return result;
  };
  const [dropped, plain] = [await losses(withDropout), await losses(without)];
  assert.ok(Math.abs(dropped[0] - plain[0]) > 1e-3, `graph: ${dropped[0]} with dropout, ${plain[0]} without`);
  assert.ok(Math.abs(dropped[1] - plain[1]) > 1e-3, `eager: ${dropped[1]} with dropout, ${plain[1]} without`);
  // Step 1's masks are the same on both engines.
  assert.ok(Math.abs(dropped[0] - dropped[1]) < 1e-5, `step 1: graph ${dropped[0]}, eager ${dropped[1]}`);

  // Two runs of two steps from the same seed end with identical weights, on each engine.
  const twoSteps = async (engine: 'graph' | 'eager') => {
    const model = buildCrnn({ ...small, dropout: 0.5 }, { seed: 9 });
    if (engine === 'graph') {
      const trainer = await GraphTrainer.create(model);
      for (let k = 0; k < 2; k++) trainer.step(xs, ys).dispose();
      trainer.pull();
      trainer.dispose();
    } else {
      const step = createTrainStep(model);
      for (let k = 0; k < 2; k++) step(xs, ys).dispose();
    }
    return model;
  };
  for (const engine of ['graph', 'eager'] as const) {
    const [a, b] = [await twoSteps(engine), await twoSteps(engine)];
    a.trainableWeights.forEach((w, i) => assert.equal(maxAbsDiff(w.read(), b.trainableWeights[i].read()), 0, `${engine} ${w.name}`));
    // Not the weights of dropout-free steps: the masks mattered.
    const plainRun = buildCrnn(small, { seed: 9 });
    const step = createTrainStep(plainRun);
    for (let k = 0; k < 2; k++) step(xs, ys).dispose();
    assert.ok(a.trainableWeights.some((w, i) => maxAbsDiff(w.read(), plainRun.trainableWeights[i].read()) > 0));
    for (const m of [a, b, plainRun]) disposeCrnn(m);
  }
  tf.dispose([xs, ys]);
  disposeCrnn(withDropout);
  disposeCrnn(without);
});

test('batch normalisation: a graph step updates the moving statistics by tfjs\'s formula, as an eager step does', { skip }, async () => {
  const config = { ...small, batchNorm: true };
  const model = buildCrnn(config);
  const eagerModel = twin(model, config);
  const [xs, ys] = randomBatch(model, 16, 31);
  // The input of the first normalisation: the first convolution, linear, of step 0's images.
  const conv1 = tf.model({ inputs: model.inputs, outputs: model.getLayer('step0_conv1').output });
  const x = (conv1.predict(xs) as tfTypes.Tensor4D);
  const channels = x.shape[3];
  const values = x.dataSync();
  const count = values.length / channels;
  const mean = Array.from({ length: channels }, (_, ch) => {
    let sum = 0;
    for (let i = ch; i < values.length; i += channels) sum += values[i];
    return sum / count;
  });
  const variance = mean.map((m, ch) => {
    let sum = 0;
    for (let i = ch; i < values.length; i += channels) sum += (values[i] - m) ** 2;
    return sum / count; // biased, as tfjs's moments
  });
  const layer = model.getLayer('step0_conv1_bn');
  const momentum = layer.getConfig().momentum as number;
  assert.equal(momentum, 0.99);
  // Moving mean 0 and variance 1 before: m ← m − (m − μ)(1 − momentum).
  const expectedMean = mean.map((m) => 0 - (0 - m) * (1 - momentum));
  const expectedVariance = variance.map((v) => 1 - (1 - v) * (1 - momentum));

  const trainer = await GraphTrainer.create(model);
  trainer.step(xs, ys).dispose();
  trainer.pull();
  trainer.dispose();
  createTrainStep(eagerModel)(xs, ys).dispose();
  // Floats differ in their last bits between kernels and CPUs: 1e-5 on values near 0.01 and 1.
  const tolerance = 1e-5;
  // Its weights: γ, β, then the moving mean and variance.
  const [movingMean, movingVariance] = layer.getWeights().slice(2).map((w) => Array.from(w.dataSync()));
  movingMean.forEach((m, ch) => assert.ok(Math.abs(m - expectedMean[ch]) < tolerance, `mean[${ch}] ${m} vs ${expectedMean[ch]}`));
  movingVariance.forEach((v, ch) => assert.ok(Math.abs(v - expectedVariance[ch]) < tolerance, `variance[${ch}] ${v} vs ${expectedVariance[ch]}`));
  assert.ok(movingMean.some((m) => Math.abs(m) > 1e-4), 'the moving mean moved');
  // Every moving statistic of the model, graph against eager.
  assert.equal(model.nonTrainableWeights.length, 2 * 3 * 2);
  model.nonTrainableWeights.forEach((w, i) => {
    const error = maxAbsDiff(w.read(), eagerModel.nonTrainableWeights[i].read());
    assert.ok(error < tolerance, `${w.name}: off by ${error}`);
  });
  tf.dispose([xs, ys, x]);
  disposeCrnn(model);
  disposeCrnn(eagerModel);
});

test('batch normalisation: evaluation and prediction use the moving statistics', { skip }, async () => {
  const config = { ...small, batchNorm: true };
  const model = buildCrnn(config);
  const [xs, ys] = randomBatch(model, 16, 41);
  const evaluate = () => graphEvaluation(model, xs, ys);
  const original = twin(model, config);
  const eagerBefore = predict(model, xs);
  const graphBefore = await evaluate();
  // The graph's evaluation is tfjs's prediction.
  const close = (graph: number, eager: number) => Math.abs(graph - eager) < 1e-4 * Math.max(1, Math.abs(eager));
  assert.ok(close(graphBefore[0], predictedLossSum(model, xs, ys)), `graph ${graphBefore[0]}, tfjs ${predictedLossSum(model, xs, ys)}`);
  // Other moving statistics: other outputs on both engines.
  const layer = model.getLayer('step0_conv2_bn');
  const [gamma, beta, movingMean, movingVariance] = layer.getWeights();
  const changed = [tf.add(movingMean, 0.5), tf.mul(movingVariance, 3)];
  layer.setWeights([gamma, beta, ...changed]);
  const eagerAfter = predict(model, xs);
  const graphAfter = await evaluate();
  assert.ok(maxAbsDiff(eagerBefore, eagerAfter) > 1e-4, 'the prediction ignored the moving statistics');
  assert.ok(Math.abs(graphAfter[0] - graphBefore[0]) > 1e-4, 'the graph\'s evaluation ignored the moving statistics');
  assert.ok(close(graphAfter[0], predictedLossSum(model, xs, ys)), `graph ${graphAfter[0]}, tfjs ${predictedLossSum(model, xs, ys)}`);
  // Training steps do not use them: their batch statistics decide the loss.
  const trainingLoss = async (m: tfTypes.LayersModel) => {
    const trainer = await GraphTrainer.create(m);
    const { lossAndAccuracy, grads } = trainer.gradients(xs, ys);
    const loss = lossAndAccuracy.dataSync()[0];
    tf.dispose([lossAndAccuracy, ...grads]);
    trainer.dispose();
    return loss;
  };
  assert.equal(await trainingLoss(model), await trainingLoss(original));
  tf.dispose([xs, ys, eagerBefore, eagerAfter, ...changed]);
  disposeCrnn(model);
  disposeCrnn(original);
});

test('models with the new layers train on the graph engine without leaking tensors, and the model gets the trained statistics', { skip }, async () => {
  const data: DigitData = loadMnist();
  const config = { ...small, kernelSize: 5, batchNorm: true, dropout: 0.2, learningRate: 3e-3 };
  const model = buildCrnn(config);
  const options = { seqLength: 2, task: 'difference', batchSize: 8, evalSize: 32, seed: 4, evalSeed: 4, engine: 'graph' } as const;
  await trainSteps(model, data, { ...options, numSteps: 1 }); // the first run creates Adam's moments
  const before = tf.memory().numTensors;
  const statsBefore = model.nonTrainableWeights.map((w) => w.read().clone());
  const history = await trainSteps(model, data, { ...options, numSteps: 4, evalEvery: 2 });
  assert.equal(history.engine, 'graph');
  assert.equal(history.steps.length, 4);
  assert.ok(history.steps.every((s) => Number.isFinite(s.loss)));
  assert.ok(model.nonTrainableWeights.every((w, i) => maxAbsDiff(w.read(), statsBefore[i]) > 0), 'the moving statistics came back');
  tf.dispose(statsBefore);
  assert.equal(tf.memory().numTensors, before);
  // The graph's last evaluation is tfjs's, on the weights and statistics it handed back.
  const evalSet = createEvalSet(data.test, { size: 32, seqLength: 2, task: differenceTask, seed: 4 });
  const measured = measureLossAccuracy(model, evalBatches(evalSet, data.test, 16));
  const last = history.evals[history.evals.length - 1];
  assert.ok(Math.abs(measured.loss - last.loss) < 1e-4, `model ${measured.loss}, graph ${last.loss}`);
  // Argmaxes of nearly tied logits may differ between engines on another CPU: at most one sequence of 32.
  assert.ok(Math.abs(measured.accuracy - last.accuracy) <= 1 / 32 + 1e-7, `model ${measured.accuracy}, graph ${last.accuracy}`);
  // The eager engine trains the same model too, leaving no tensor behind either.
  const beforeEager = tf.memory().numTensors;
  const eager = await trainSteps(model, data, { ...options, engine: 'eager', numSteps: 2 });
  assert.equal(eager.engine, 'eager');
  assert.equal(tf.memory().numTensors, beforeEager);
  disposeCrnn(model);
});

test('the probe reads a batch-normalised CNN through its normalisations and ELUs, as the model runs it', () => {
  const data: DigitData = loadMnist();
  const model = buildCrnn({ ...small, batchNorm: true });
  // Moving statistics other than 0 and 1, so that the normalisation shows.
  for (const layer of model.layers.filter((l) => l.name.endsWith('_bn'))) {
    const [gamma, beta, mean, variance] = layer.getWeights();
    layer.setWeights([gamma, beta, tf.fill(mean.shape, 0.3), tf.fill(variance.shape, 2)]);
  }
  const indices = [3, 8, 13];
  const batch = makeSequenceBatch(data.test, Int32Array.from(indices.flatMap((i) => [i, i])), 2, differenceTask);
  const inside = tf.model({ inputs: model.inputs, outputs: model.getLayer('step1_dense_elu').output });
  const expected = inside.predict(batch.xs) as tfTypes.Tensor;
  const features = stepFeatures(model, data.test, indices, 1);
  assert.deepEqual(features.shape, [3, 16]);
  assert.ok(maxAbsDiff(features, expected) < 1e-5);
  tf.dispose([batch.xs, batch.ys, expected, features]);
  disposeCrnn(model);
});
