import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, compileCrnn, disposeCrnn } from '../lib/model/build';
import { FoldTime, MaxPool2x2, UnfoldTime } from '../lib/model/layers';
import { createTrainStep, scheduledLearningRate, trainSteps } from '../lib/train/loop';
import { GraphBuilder, GraphTrainer, graphEngineSupport } from '../lib/graph';
import { buildTrainingGraph } from '../lib/graph/build';
import { loadSignatures, inTensorFlowMemory } from '../lib/graph/session';
import { layerSupport } from '../lib/graph/layers';
import { loadMnist } from '../lib/data/data';
import { createEvalSet, drawSequenceIndices, EVAL_BATCH_SIZE, evalBatches, makeSequenceBatch } from '../lib/data/sequences';
import {
  packedImages, samplerSpecFor, writeImagesLoad, writeSampledBatch, writeSamplerData, type SamplerSpec,
} from '../lib/graph/sampler';
import { createRng } from '../lib/random';
import { differenceTask, sumTask } from '../lib/data/tasks';
import { measureLossAccuracy } from '../lib/evaluate/metrics';
import type { CrnnConfig, DigitData, DigitSet } from '../lib/types';
import { maxAbs, maxAbsDiff, randomBatch, twin } from './helpers/models';

const skip = backend.native ? false : 'the graph engine needs the native backend';
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12 };

test('the graph gives the loss and the gradients of every weight that tfjs computes eagerly', { skip }, async () => {
  const variants: Partial<CrnnConfig>[] = [
    small,
    { ...small, sharedCnn: true, seqLength: 3 },
    { ...small, height: 13, width: 11, seqLength: 4 }, // odd sizes: pooling drops a row and a column
    { ...small, cell: 'gru' },
    { ...small, cell: 'gru', seqLength: 3, sharedCnn: true },
    { ...small, cell: 'lstm' },
    { ...small, cell: 'lstm', seqLength: 3 },
    ...(['simple', 'gru', 'lstm'] as const).map((cell) => ({ ...small, cell, seqLength: 1, numClasses: 10 })),
  ];
  for (const config of variants) {
    const model = buildCrnn(config);
    const trainer = await GraphTrainer.create(model);
    const [xs, ys] = randomBatch(model, 8, 1);
    const { lossAndAccuracy, grads } = trainer.gradients(xs, ys);
    const variables = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
    const eager = tf.variableGrads(
      () => tf.metrics.categoricalCrossentropy(ys, model.apply(xs) as tfTypes.Tensor).mean<tfTypes.Scalar>(),
      variables,
    );
    const label = JSON.stringify(config);
    assert.ok(Math.abs(lossAndAccuracy.dataSync()[0] - eager.value.dataSync()[0]) < 1e-5, label);
    assert.equal(grads.length, variables.length);
    variables.forEach((v, i) => {
      const reference = eager.grads[v.name];
      const scale = tf.tidy(() => tf.max(tf.abs(reference)).dataSync()[0]);
      // Only a recurrent kernel that never acts (one step) may have no gradient.
      const idle = config.seqLength === 1 && model.trainableWeights[i].name.includes('recurrent_kernel');
      assert.ok(scale > 0 || idle, `${label} ${v.name}: the reference gradient is all zero`);
      assert.deepEqual(grads[i].shape, reference.shape);
      const error = maxAbsDiff(grads[i], reference);
      assert.ok(error <= 1e-4 * scale, `${label} ${model.trainableWeights[i].name}: off by ${error} (scale ${scale})`);
    });
    tf.dispose([xs, ys, lossAndAccuracy, ...grads, eager.value, ...Object.values(eager.grads)]);
    trainer.dispose();
    disposeCrnn(model);
  }
});

test('a model assembled from other settings the graph computes gets tfjs\'s gradients too', { skip }, async () => {
  // Strided, unpadded convolutions with a 3×2 kernel and tanh, a hard-sigmoid
  // dense layer, and an LSTM with ELU for its activation.
  const input = tf.input({ shape: [2, 9, 9, 1] });
  const apply = (layer: tfTypes.layers.Layer, x: tfTypes.SymbolicTensor) => layer.apply(x) as tfTypes.SymbolicTensor;
  let x = apply(new FoldTime({}), input);
  x = apply(tf.layers.conv2d({ filters: 3, kernelSize: [3, 2], strides: 2, padding: 'valid', activation: 'tanh' }), x);
  x = apply(tf.layers.flatten(), apply(new MaxPool2x2({}), x));
  x = apply(new UnfoldTime({ seqLength: 2 }), apply(tf.layers.dense({ units: 6, activation: 'hardSigmoid' }), x));
  x = apply(tf.layers.dense({ units: 4, activation: 'softmax' }), apply(tf.layers.lstm({ units: 5, activation: 'elu' }), x));
  const model = tf.model({ inputs: input, outputs: x });
  compileCrnn(model, 1e-3);
  assert.equal(graphEngineSupport(model), null);
  const trainer = await GraphTrainer.create(model);
  const [xs, ys] = randomBatch(model, 8, 5);
  const { lossAndAccuracy, grads } = trainer.gradients(xs, ys);
  const variables = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
  const eager = tf.variableGrads(
    () => tf.metrics.categoricalCrossentropy(ys, model.apply(xs) as tfTypes.Tensor).mean<tfTypes.Scalar>(), variables);
  assert.ok(Math.abs(lossAndAccuracy.dataSync()[0] - eager.value.dataSync()[0]) < 1e-5);
  variables.forEach((v, i) => {
    const reference = eager.grads[v.name];
    const scale = maxAbs(reference);
    assert.ok(scale > 0, `${v.name}: the reference gradient is all zero`);
    const error = maxAbsDiff(grads[i], reference);
    assert.ok(error <= 1e-4 * scale, `${v.name}: off by ${error} (scale ${scale})`);
  });
  tf.dispose([xs, ys, lossAndAccuracy, ...grads, eager.value, ...Object.values(eager.grads)]);
  trainer.dispose();
  disposeCrnn(model);
});

test('graph steps follow eager Adam steps and leave the optimiser in the same state', { skip }, async () => {
  const graphModel = buildCrnn(small);
  const eagerModel = twin(graphModel, small);
  const batches = [1, 2].map((seed) => randomBatch(graphModel, 16, seed));
  const trainer = await GraphTrainer.create(graphModel);
  for (const [xs, ys] of batches) trainer.step(xs, ys).dispose();
  trainer.pull();
  trainer.dispose();
  const eagerStep = createTrainStep(eagerModel);
  for (const [xs, ys] of batches) eagerStep(xs, ys).dispose();

  // Two steps of 1e-3 each. The engines round differently (oneDNN's fused
  // convolution against tfjs's separate ops), and a max-pool window whose two
  // largest values differ by a rounding error may send its gradient elsewhere:
  // a tenth of a step bounds that, while a wrong Adam formula misses by a step.
  graphModel.trainableWeights.forEach((w, i) => {
    const error = maxAbsDiff(w.read(), eagerModel.trainableWeights[i].read());
    assert.ok(error < 1e-4, `${w.name}: off by ${error}`);
  });
  const [graphState, eagerState] = [await graphModel.optimizer.getWeights(), await eagerModel.optimizer.getWeights()];
  assert.equal(graphState.length, 1 + 2 * graphModel.trainableWeights.length);
  assert.deepEqual(graphState.map((s) => s.name.replace(/_\d+\//, '/')), eagerState.map((s) => s.name.replace(/_\d+\//, '/')));
  assert.equal(graphState[0].tensor.dataSync()[0], 2); // Adam's step count
  assert.equal(eagerState[0].tensor.dataSync()[0], 2);
  graphState.slice(1).forEach((slot, i) => {
    const reference = eagerState[i + 1].tensor;
    const scale = tf.tidy(() => tf.max(tf.abs(reference)).dataSync()[0]);
    const error = maxAbsDiff(slot.tensor, reference);
    assert.ok(error <= 1e-3 * scale, `${slot.name}: off by ${error} (scale ${scale})`);
  });
  tf.dispose(batches.flat());
  disposeCrnn(graphModel);
  disposeCrnn(eagerModel);
});

test('a new trainer resumes from the model\'s Adam state exactly where the last one stopped', { skip }, async () => {
  const resumed = buildCrnn(small);
  const straight = twin(resumed, small);
  const batches = [1, 2, 3].map((seed) => randomBatch(resumed, 16, seed));
  const first = await GraphTrainer.create(resumed);
  for (const [xs, ys] of batches.slice(0, 2)) first.step(xs, ys).dispose();
  first.pull();
  first.dispose();
  const second = await GraphTrainer.create(resumed);
  second.step(...batches[2]).dispose();
  second.pull();
  second.dispose();

  const once = await GraphTrainer.create(straight);
  for (const [xs, ys] of batches) once.step(xs, ys).dispose();
  once.pull();
  once.dispose();
  // The same graph on the same numbers: equal up to float rounding.
  resumed.trainableWeights.forEach((w, i) => {
    const error = maxAbsDiff(w.read(), straight.trainableWeights[i].read());
    assert.ok(error < 1e-6, `${w.name}: off by ${error}`);
  });
  tf.dispose(batches.flat());
  disposeCrnn(resumed);
  disposeCrnn(straight);
});

test('a step returns the batch loss and accuracy before the update, as the eager step does', { skip }, async () => {
  const model = buildCrnn(small);
  const reference = twin(model, small);
  const [xs, ys] = randomBatch(model, 16, 7);
  const trainer = await GraphTrainer.create(model);
  const graphOut = trainer.step(xs, ys, 1e-3);
  const eagerOut = createTrainStep(reference)(xs, ys);
  const [g, e] = [graphOut.dataSync(), eagerOut.dataSync()];
  assert.ok(Math.abs(g[0] - e[0]) < 1e-5, `loss ${g[0]} vs ${e[0]}`);
  assert.equal(g[1], e[1]);
  tf.dispose([graphOut, eagerOut, xs, ys]);
  trainer.dispose();
  disposeCrnn(model);
  disposeCrnn(reference);
});

test('graph training leaves the tensor count flat across steps, pulls and trainers', { skip }, async () => {
  const model = buildCrnn(small);
  const [xs, ys] = randomBatch(model, 8, 3);
  const run = async (steps: number) => {
    const trainer = await GraphTrainer.create(model);
    for (let i = 0; i < steps; i++) trainer.step(xs, ys).dispose();
    trainer.pull();
    trainer.dispose();
  };
  await run(1); // the first pull creates Adam's moments in the optimiser
  const before = tf.memory().numTensors;
  await run(3);
  await run(6);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([xs, ys]);
  disposeCrnn(model);
});

test('models the graph engine cannot train get a reason, and engine "graph" refuses them', { skip }, async () => {
  const data: DigitData = loadMnist();
  // A recurrent layer computed otherwise than the graph would compute it.
  const model = buildCrnn({ ...small, cell: 'gru' });
  const rnn = model.getLayer('rnn_gru');
  const config = rnn.getConfig();
  rnn.getConfig = () => ({ ...config, recurrentActivation: 'sigmoid' });
  const reason = /layer 'rnn_gru' \(GRU\): recurrentActivation is "sigmoid"; the graph engine computes only .*"hardSigmoid"/;
  assert.match(graphEngineSupport(model) ?? '', reason);
  await assert.rejects(GraphTrainer.create(model), reason);
  await assert.rejects(
    trainSteps(model, data, { seqLength: 2, task: 'difference', numSteps: 1, engine: 'graph' }),
    /engine 'graph' cannot train this model: .*use engine 'eager'/,
  );
  // 'auto' falls back to the eager engine.
  const history = await trainSteps(model, data, { seqLength: 2, task: 'difference', numSteps: 2, batchSize: 4, evalSize: 8 });
  assert.equal(history.engine, 'eager');
  disposeCrnn(model);

  const uncompiled = buildCrnn(small);
  uncompiled.optimizer = undefined as unknown as tfTypes.Optimizer;
  assert.match(graphEngineSupport(uncompiled) ?? '', /compile the model with compileCrnn/);
});

/** `model` with the activation of its Conv2D layers set to `activation`, as a model saved so would load. */
async function withConvActivation(model: tfTypes.LayersModel, activation: string): Promise<tfTypes.LayersModel> {
  const topology = model.toJSON(null, false) as tfTypes.io.ModelJSON['modelTopology'];
  const layers = (topology as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } }).config.layers;
  for (const layer of layers) {
    if (layer.class_name === 'Conv2D') layer.config.activation = activation;
  }
  const changed = await tf.models.modelFromJSON({ modelTopology: topology });
  changed.setWeights(model.getWeights());
  compileCrnn(changed, 1e-3);
  return changed;
}

test('a model whose convolutions use ReLU is refused, naming the layer and the setting, and trains eagerly', { skip }, async () => {
  const data: DigitData = loadMnist();
  const elu = buildCrnn(small);
  const relu = await withConvActivation(elu, 'relu');
  assert.equal(relu.getLayer('step0_conv1').getConfig().activation, 'relu');
  const reason = /layer 'step0_conv1' \(Conv2D\): activation is "relu"; the graph engine computes only .*"elu"/;
  assert.match(graphEngineSupport(relu) ?? '', reason);
  await assert.rejects(GraphTrainer.create(relu), reason);
  await assert.rejects(
    trainSteps(relu, data, { seqLength: 2, task: 'difference', numSteps: 1, engine: 'graph' }),
    /engine 'graph' cannot train this model: layer 'step0_conv1' \(Conv2D\): activation is "relu"/,
  );
  const history = await trainSteps(relu, data, { seqLength: 2, task: 'difference', numSteps: 2, batchSize: 4, evalSize: 8 });
  assert.equal(history.engine, 'eager');
  // The same model with ELU, as buildCrnn makes it, read back the same way, is the graph's.
  const eluAgain = await withConvActivation(elu, 'elu');
  assert.equal(graphEngineSupport(eluAgain), null);
  for (const m of [elu, relu, eluAgain]) disposeCrnn(m);
});

test('each layer is checked against its own config: what the graph would compute otherwise is refused', () => {
  const check = (layer: tfTypes.layers.Layer, inputShape: number[]) => {
    layer.apply(tf.input({ shape: inputShape }));
    return layerSupport(layer, layer.getConfig());
  };
  const image = [8, 8, 2];
  const refusals: [tfTypes.layers.Layer, number[], RegExp][] = [
    [tf.layers.conv2d({ name: 'c1', filters: 3, kernelSize: 3, activation: 'relu' }), image, /^layer 'c1' \(Conv2D\): activation is "relu"/],
    [tf.layers.conv2d({ name: 'c2', filters: 3, kernelSize: 3, dilationRate: 2 }), image, /^layer 'c2' \(Conv2D\): dilationRate \[2,2\] is not 1/],
    [tf.layers.conv2d({ name: 'c3', filters: 3, kernelSize: 3, dataFormat: 'channelsFirst' }), image, /^layer 'c3' \(Conv2D\): dataFormat is "channelsFirst"/],
    [tf.layers.dense({ name: 'd1', units: 4, kernelRegularizer: 'l1l2' }), [5], /^layer 'd1' \(Dense\): kernelRegularizer \{.*\} is not an L2 penalty .*; the graph engine cannot compute it/],
    [tf.layers.dense({ name: 'd2', units: 4, activation: 'sigmoid' }), [5], /^layer 'd2' \(Dense\): activation is "sigmoid"/],
    [tf.layers.dense({ name: 'd3', units: 4 }), [3, 5], /^layer 'd3' \(Dense\) takes inputs of rank 2 here, this one has shape \[null, 3, 5\]/],
    [tf.layers.simpleRNN({ name: 'r1', units: 4, returnSequences: true }), [3, 5], /^layer 'r1' \(SimpleRNN\): returnSequences is true/],
    [tf.layers.lstm({ name: 'r2', units: 4, recurrentDropout: 0.1 }), [3, 5], /^layer 'r2' \(LSTM\): recurrentDropout is 0.1/],
    [tf.layers.gru({ name: 'r3', units: 4, goBackwards: true }), [3, 5], /^layer 'r3' \(GRU\): goBackwards is true/],
    // tfjs's Dropout draws unseeded masks (or one mask for every step); the model's is SeededDropout.
    [tf.layers.dropout({ name: 'x1', rate: 0.5 }), [5], /^layer 'x1' \(Dropout\): the graph engine computes only Conv2D, .* layers/],
    [tf.layers.batchNormalization({ name: 'x2', axis: 1 }), [3, 5], /^layer 'x2' \(BatchNormalization\) normalises over axis 1; the graph engine computes the last axis only/],
    [tf.layers.batchNormalization({ name: 'x3', center: false }), [5], /^layer 'x3' \(BatchNormalization\): center is false/],
    [tf.layers.batchNormalization({ name: 'x4', trainable: false }), [5], /^layer 'x4' \(BatchNormalization\) has 4 weights that are not trained/],
  ];
  for (const [layer, shape, reason] of refusals) assert.match(check(layer, shape) ?? '', reason);
  // A setting the rule does not list is refused too, whatever its value.
  const dense = tf.layers.dense({ name: 'd4', units: 4 });
  dense.apply(tf.input({ shape: [5] }));
  assert.match(layerSupport(dense, { ...dense.getConfig(), newSetting: 1 }) ?? '',
    /^layer 'd4' \(Dense\): the graph engine does not know the setting newSetting \(1\)/);
  // What the graph computes passes: strided, unpadded convolutions among them.
  assert.equal(check(tf.layers.conv2d({ filters: 3, kernelSize: [3, 2], strides: 2, padding: 'valid', activation: 'elu' }), image), null);
  assert.equal(check(tf.layers.gru({ units: 4 }), [3, 5]), null);
  // Layers without bias, batch normalisation over the last axis, a separate activation.
  assert.equal(check(tf.layers.conv2d({ filters: 3, kernelSize: 5, useBias: false, padding: 'same' }), image), null);
  assert.equal(check(tf.layers.dense({ units: 4, useBias: false }), [5]), null);
  assert.equal(check(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }), image), null);
  assert.equal(check(tf.layers.activation({ activation: 'elu' }), [5]), null);
});

test('a step at learning rate 0 leaves the weights as they were, and the graph reports the rate it applied', { skip }, async () => {
  const model = buildCrnn(small);
  const before = model.trainableWeights.map((w) => w.read().clone());
  const [xs, ys] = randomBatch(model, 8, 11);
  const trainer = await GraphTrainer.create(model);
  const out = trainer.step(xs, ys, 0);
  assert.equal(out.dataSync()[2], 0);
  trainer.pull();
  model.trainableWeights.forEach((w, i) => assert.equal(maxAbsDiff(w.read(), before[i]), 0, `${w.name} changed`));
  // Adam's step count and moments did advance: only the rate was 0.
  const state = await model.optimizer.getWeights();
  assert.equal(state[0].tensor.dataSync()[0], 1);
  assert.ok(state.slice(1).some((s) => maxAbs(s.tensor) > 0));
  // A step at a rate above 0 does move them.
  const out2 = trainer.step(xs, ys, 1e-3);
  assert.equal(out2.dataSync()[2], Math.fround(1e-3));
  trainer.pull();
  assert.ok(model.trainableWeights.some((w, i) => maxAbsDiff(w.read(), before[i]) > 0));
  trainer.dispose();
  tf.dispose([out, out2, xs, ys, ...before]);
  disposeCrnn(model);
});

test('in a cosine run, the graph applies the scheduled rate at every step', { skip }, async () => {
  const data: DigitData = loadMnist();
  const model = buildCrnn({ ...small, learningRate: 2e-3 });
  const applied: number[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the instance as `this`
  const { step, runSteps } = GraphTrainer.prototype;
  GraphTrainer.prototype.step = function (this: GraphTrainer, ...args: Parameters<typeof step>) {
    const out = step.apply(this, args);
    applied.push(out.dataSync()[2]);
    return out;
  };
  GraphTrainer.prototype.runSteps = function (this: GraphTrainer, ...args: Parameters<typeof runSteps>) {
    const out = runSteps.apply(this, args);
    (out.arraySync()).forEach((row) => applied.push(row[2]));
    return out;
  };
  try {
    // Steps 1–3 and 4–6 in calls of 3, step 7 alone; then the same run one step per call.
    for (const stepsPerCall of [3, 1]) {
      const history = await trainSteps(model, data, {
        seqLength: 2, task: 'difference', numSteps: 7, lrSchedule: 'cosine', engine: 'graph', batchSize: 4, evalSize: 8,
        stepsPerCall, evalEvery: 3,
      });
      assert.equal(history.steps.length, 7);
    }
  } finally {
    Object.assign(GraphTrainer.prototype, { step, runSteps });
  }
  // Float32 in the graph: the scheduled rate rounded to float32, exactly.
  const scheduled = [1, 2, 3, 4, 5, 6, 7].map((s) => Math.fround(scheduledLearningRate('cosine', 2e-3, s, 7)));
  assert.deepEqual(applied, [...scheduled, ...scheduled]);
  assert.ok(applied[6] < applied[0] / 50);
  disposeCrnn(model);
});

test('GRU and LSTM models train on the graph engine', { skip }, async () => {
  const data: DigitData = loadMnist();
  for (const cell of ['gru', 'lstm'] as const) {
    const model = buildCrnn({ filters: [8, 8], denseUnits: 64, hiddenSize: 64, learningRate: 3e-3, cell });
    const history = await trainSteps(model, data, {
      seqLength: 2, task: 'difference', batchSize: 32, evalSize: 500, seed: 5, numSteps: 100, evalEvery: 50,
    });
    assert.equal(history.engine, 'graph');
    const [first, last] = [history.evals[0].loss, history.evals[1].loss];
    assert.ok(last < first, `${cell}: eval loss went from ${first} to ${last}`);
    disposeCrnn(model);
  }
});

test('trainSteps runs on the graph engine by default and the model holds the trained weights', { skip }, async () => {
  const data: DigitData = loadMnist();
  const options = { seqLength: 2, task: 'difference', batchSize: 32, evalSize: 500, seed: 3, evalSeed: 3 } as const;
  const model = buildCrnn({ filters: [8, 8], denseUnits: 64, hiddenSize: 64, learningRate: 3e-3 });
  const before = await trainSteps(model, data, { ...options, numSteps: 0 });
  const after = await trainSteps(model, data, { ...options, numSteps: 100, evalEvery: 50 });
  assert.equal(after.engine, 'graph');
  const [lossBefore, lossAfter] = [before.evals[0].loss, after.evals[1].loss];
  assert.ok(lossAfter < lossBefore - 0.1, `eval loss went from ${lossBefore} to ${lossAfter}`);
  // The graph evaluated its own weights; the tfjs model, measured on the same
  // fixed set, must now give the same figures: the trained weights came back.
  const evalSet = createEvalSet(data.test, { size: 500, seqLength: 2, task: differenceTask, seed: 3 });
  const measured = measureLossAccuracy(model, evalBatches(evalSet, data.test, 250));
  assert.ok(Math.abs(measured.loss - lossAfter) < 1e-4, `model ${measured.loss}, graph ${lossAfter}`);
  assert.equal(measured.accuracy, after.evals[1].accuracy);
  disposeCrnn(model);
});

test('thousands of graph steps on freshly sampled batches run cleanly', { skip }, async () => {
  // Batches made from JavaScript arrays, fed to the session straight, once
  // crashed the process within a few hundred runs; see inTensorFlowMemory.
  const data: DigitData = loadMnist();
  const model = buildCrnn({ filters: [2, 2], denseUnits: 8, hiddenSize: 8 });
  const history = await trainSteps(model, data, {
    seqLength: 2, task: 'difference', batchSize: 4, numSteps: 2000, evalEvery: 100, evalSize: 16,
  });
  assert.equal(history.engine, 'graph');
  assert.equal(history.steps.length, 2000);
  assert.ok(history.steps.every((r) => Number.isFinite(r.loss)));
  disposeCrnn(model);
});

/** `count` batches of image indices of `set`, one after another, as trainSteps draws them with `seed`. */
function drawnIndices(set: DigitData['train'], count: number, batchSize: number, seqLength: number, seed: number): Int32Array[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => drawSequenceIndices(set.count, batchSize, seqLength, rng));
}

test('steps in one call on batches the graph gathers equal single steps on the batches the CPU makes', { skip }, async () => {
  const data: DigitData = loadMnist();
  const config = { ...small, batchNorm: true, dropout: 0.25 };
  const looped = buildCrnn(config);
  const single = twin(looped, config);
  const spec = samplerSpecFor(data.train, differenceTask, 2) as SamplerSpec;
  const indices = drawnIndices(data.train, 3, 8, 2, 11);
  const rates = [1e-3, 2e-3, 5e-4];
  const loop = await GraphTrainer.create(looped, { sampler: { spec, stepsPerCall: 3 }, trainingSet: data.train });
  const out = loop.runSteps(Int32Array.from(indices.flatMap((i) => Array.from(i))), rates);
  assert.deepEqual(out.shape, [3, 3]);
  const loopRows = out.arraySync();
  out.dispose();
  loop.pull();
  loop.dispose();
  const trainer = await GraphTrainer.create(single);
  const singleRows = indices.map((batchIndices, k) => {
    const batch = makeSequenceBatch(data.train, batchIndices, 2, differenceTask);
    const stepOut = trainer.step(batch.xs, batch.ys, rates[k]);
    const row = Array.from(stepOut.dataSync());
    tf.dispose([stepOut, batch.xs, batch.ys]);
    return row;
  });
  trainer.pull();
  trainer.dispose();
  // The same ops on the same numbers (dropout masks seeded by the step, batch
  // statistics, Adam's step count): equal up to float rounding.
  loopRows.forEach((row, k) => {
    assert.ok(Math.abs(row[0] - singleRows[k][0]) < 1e-6, `step ${k + 1}: loss ${row[0]} vs ${singleRows[k][0]}`);
    // The two graphs may be fused differently: a nearly tied argmax can fall either way, one sequence in 8.
    assert.ok(Math.abs(row[1] - singleRows[k][1]) <= 1 / 8 + 1e-6, `step ${k + 1}: accuracy ${row[1]} vs ${singleRows[k][1]}`);
    assert.equal(row[2], Math.fround(rates[k]));
  });
  looped.weights.forEach((w, i) => {
    const error = maxAbsDiff(w.read(), single.weights[i].read());
    assert.ok(error < 1e-6, `${w.name}: off by ${error}`);
  });
  assert.equal((looped.optimizer as unknown as { iterations_: number }).iterations_, 3);
  disposeCrnn(looped);
  disposeCrnn(single);
});

test('the graph looks up any task\'s targets: the sum of three digits, gathered in the graph, equals the CPU\'s', { skip }, async () => {
  const data: DigitData = loadMnist();
  const task = sumTask(3);
  const config = { ...small, seqLength: 3, numClasses: task.numClasses };
  const looped = buildCrnn(config);
  const single = twin(looped, config);
  const spec = samplerSpecFor(data.train, task, 3) as SamplerSpec;
  const [indices] = drawnIndices(data.train, 1, 16, 3, 5);
  const loop = await GraphTrainer.create(looped, { sampler: { spec, stepsPerCall: 1 }, trainingSet: data.train });
  const trainer = await GraphTrainer.create(single);
  const batch = makeSequenceBatch(data.train, indices, 3, task);
  const [a, b] = [loop.runSteps(indices, [1e-3]), trainer.step(batch.xs, batch.ys, 1e-3)];
  const [loopRow, singleRow] = [a.dataSync(), b.dataSync()];
  assert.ok(Math.abs(loopRow[0] - singleRow[0]) < 1e-6, `loss ${loopRow[0]} vs ${singleRow[0]}`);
  tf.dispose([a, b, batch.xs, batch.ys]);
  loop.dispose();
  trainer.dispose();
  disposeCrnn(looped);
  disposeCrnn(single);
});

test('runSteps refuses a trainer without data, wrong counts of rates or indices, and indices outside the set', { skip }, async () => {
  const data: DigitData = loadMnist();
  const model = buildCrnn(small);
  const spec = samplerSpecFor(data.train, differenceTask, 2) as SamplerSpec;
  const plain = await GraphTrainer.create(model);
  assert.throws(() => plain.runSteps(new Int32Array(32), [1e-3]), /holds no training data/);
  plain.dispose();
  await assert.rejects(GraphTrainer.create(model, { sampler: { spec, stepsPerCall: 2 } }), /needs its trainingSet/);
  await assert.rejects(GraphTrainer.create(model, { sampler: { spec, stepsPerCall: 0 }, trainingSet: data.train }),
    /stepsPerCall must be a positive integer, got 0/);
  await assert.rejects(GraphTrainer.create(model, { sampler: { spec, stepsPerCall: 2 }, trainingSet: data.test }),
    /written for 60000 images of 28×28; the trainingSet has 10000/);
  const trainer = await GraphTrainer.create(model, { sampler: { spec, stepsPerCall: 2 }, trainingSet: data.train });
  assert.throws(() => trainer.runSteps(new Int32Array(48), [1e-3, 1e-3, 1e-3]), /takes 2 learning rates or 1, one per step; got 3/);
  assert.throws(() => trainer.runSteps(new Int32Array(33), [1e-3, 1e-3]), /same number of image indices for each of its 2 steps/);
  trainer.runSteps(new Int32Array(32), [1e-3]).dispose(); // one step, from the same data
  assert.throws(() => trainer.runSteps(Int32Array.from([0, 60000, 1, 2]), [1e-3, 1e-3]), /image index 60000 is outside 0..59999/);
  trainer.dispose();
  disposeCrnn(model);
});

test('trainSteps runs K steps per call where it can and gives the history of one step per call', { skip }, async () => {
  const data: DigitData = loadMnist();
  // 13 steps, evaluated every 5: calls of 4 steps, then single steps up to each evaluation.
  const options = {
    seqLength: 2, task: 'difference', batchSize: 8, evalSize: 40, seed: 9, numSteps: 13, evalEvery: 5, lrSchedule: 'cosine',
  } as const;
  const model = buildCrnn({ ...small, dropout: 0.1 });
  const reference = twin(model, { ...small, dropout: 0.1 });
  const calls: number[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the instance as `this`
  const runSteps = GraphTrainer.prototype.runSteps;
  GraphTrainer.prototype.runSteps = function (this: GraphTrainer, ...args: Parameters<typeof runSteps>) {
    calls.push(args[1].length);
    return runSteps.apply(this, args);
  };
  let history;
  try {
    history = await trainSteps(model, data, { ...options, stepsPerCall: 4 });
  } finally {
    GraphTrainer.prototype.runSteps = runSteps;
  }
  // Steps 1–4 and 6–9 in calls of 4; 5, 10 (before their evaluations) and 11–13 (fewer than 4 left) one by one.
  assert.deepEqual(calls, [4, 1, 4, 1, 1, 1, 1]);
  assert.deepEqual([history.sampler, history.stepsPerCall], ['graph', 4]);
  const one = await trainSteps(reference, data, { ...options, stepsPerCall: 1 });
  assert.deepEqual(history.steps.map((r) => r.step), one.steps.map((r) => r.step));
  assert.deepEqual(history.evals.map((r) => r.step), [5, 10, 13]);
  history.steps.forEach((r, k) => {
    assert.ok(Math.abs(r.loss - one.steps[k].loss) < 1e-5, `step ${r.step}: loss ${r.loss} vs ${one.steps[k].loss}`);
    assert.equal(r.learningRate, one.steps[k].learningRate);
  });
  history.evals.forEach((r, k) => assert.ok(Math.abs(r.loss - one.evals[k].loss) < 1e-5));
  disposeCrnn(model);
  disposeCrnn(reference);
});

test('augmented runs gather their batches in the graph too; the graph sampler leaves the tensor count flat', { skip }, async () => {
  const data: DigitData = loadMnist();
  const options = { seqLength: 2, task: 'difference', batchSize: 8, evalSize: 16, numSteps: 8, evalEvery: 4 } as const;
  const model = buildCrnn(small);
  for (const augment of [{}, { augmentShift: 1, augmentRotation: 5 }]) {
    await trainSteps(model, data, { ...options, ...augment, stepsPerCall: 2 });
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const again = await trainSteps(model, data, { ...options, ...augment, stepsPerCall: 2 }, {
      onStep: () => counts.push(tf.memory().numTensors),
    });
    assert.deepEqual([again.sampler, again.stepsPerCall], ['graph', 2]);
    assert.equal(new Set(counts).size, 1, `tensor counts at the steps: ${counts.join(', ')}`);
    assert.equal(tf.memory().numTensors, before);
  }
  await assert.rejects(trainSteps(model, data, { ...options, stepsPerCall: 1.5 }), /stepsPerCall must be a positive integer, got 1.5/);
  disposeCrnn(model);
});

/** The element type of each VarHandleOp of a SavedModel file, by node name ('DT_UINT8', …). */
function variableTypes(savedModel: Uint8Array): Map<string, string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const proto = require('@tensorflow/tfjs-node/dist/proto/api_pb.js');
  const typeName = new Map(Object.entries(proto.DataType as Record<string, number>).map(([name, code]) => [code, name]));
  const nodes = proto.SavedModel.deserializeBinary(savedModel).getMetaGraphsList()[0].getGraphDef().getNodeList() as
    { getName(): string; getOp(): string; getAttrMap(): { get(key: string): { getType(): number } } }[];
  return new Map(nodes.filter((n) => n.getOp() === 'VarHandleOp')
    .map((n) => [n.getName(), typeName.get(n.getAttrMap().get('dtype').getType()) as string]));
}

test('the graph holds the training and test images as uint8, loaded from their bytes', { skip }, () => {
  const data: DigitData = loadMnist();
  const model = buildCrnn(small);
  const spec = samplerSpecFor(data.train, differenceTask, 2) as SamplerSpec;
  const evalSet = createEvalSet(data.test, { size: 30, seqLength: 2, task: differenceTask });
  const graph = buildTrainingGraph(model, {
    sampler: { spec, stepsPerCall: 2 },
    evaluation: { images: data.test, indices: evalSet.indices, targets: evalSet.targets, batchSize: 8 },
  });
  const types = variableTypes(graph.savedModel);
  assert.equal(types.get('data/images'), 'DT_UINT8');
  assert.equal(types.get('eval_data/images'), 'DT_UINT8');
  assert.equal(types.get('data/labels'), 'DT_INT32');
  // Fed as their bytes, four to an int32 (tfjs has no uint8 tensors): a quarter of the pixels' count.
  const packed = graph.signatures.load_data?.inputs.images;
  assert.deepEqual([packed?.dtype, packed?.shape], ['int32', [60000 * 784 / 4]]);
  assert.deepEqual(graph.signatures.load_eval_data?.inputs.images.shape, [10000 * 784 / 4]);
  // MNIST's bytes are fed as they lie in memory, without a copy.
  assert.equal(packedImages(data.train).buffer, data.train.images.buffer);
  disposeCrnn(model);
});

test('batches gathered from uint8 images in the graph are the CPU\'s, bit for bit', { skip }, async () => {
  // Every byte value, in images whose bytes do not fill whole int32 words (5 × 7 = 35 per image).
  const count = 9;
  const images = Uint8Array.from({ length: count * 35 }, (_, i) => (i * 37) % 256);
  images.set(Uint8Array.from({ length: 256 }, (_, i) => i), 10);
  const set: DigitSet = { count, height: 5, width: 7, images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10) };
  const spec = samplerSpecFor(set, differenceTask, 2) as SamplerSpec;
  const g = new GraphBuilder();
  const data = writeSamplerData(g, spec);
  const load = writeImagesLoad(g, 'images', data.imagesHandle, spec);
  const labels = g.placeholder('labels', 'int32', [count]);
  const loaded = g.node('Identity', [g.scalar(1), `^${load.assign}`,
    `^${g.node('AssignVariableOp', [data.labelsHandle, labels.ref], { dtype: { type: 'int32' } })}`], { T: { type: 'float32' } });
  const indices = g.placeholder('indices', 'int32', [-1]);
  const batch = writeSampledBatch(g, spec, data, indices.ref);
  const signatures = await loadSignatures(g.toSavedModel({
    load: { inputs: { images: load.input, labels }, outputs: { loaded: { ref: loaded, dtype: 'float32', shape: [] } } },
    batch: {
      inputs: { indices },
      outputs: { xs: { ref: batch.xs, dtype: 'float32', shape: [-1, 2, 5, 7, 1] }, ys: { ref: batch.ys, dtype: 'float32', shape: [-1, 19] } },
    },
  }), ['load', 'batch']);
  const feeds = tf.tidy(() => ({
    images: inTensorFlowMemory(tf.tensor1d(packedImages(set), 'int32')),
    labels: inTensorFlowMemory(tf.tensor1d(Int32Array.from(set.labels), 'int32')),
  }));
  tf.dispose([...Object.values(feeds), ...Object.values(signatures.load.predict(feeds))]);
  const batchIndices = Int32Array.from({ length: 2 * count }, (_, i) => (i * 5) % count);
  const indexFeed = tf.tidy(() => inTensorFlowMemory(tf.tensor1d(batchIndices, 'int32')));
  const out = signatures.batch.predict({ indices: indexFeed });
  const cpu = makeSequenceBatch(set, batchIndices, 2, differenceTask);
  assert.deepEqual(out.xs.shape, cpu.xs.shape);
  assert.deepEqual(out.xs.dataSync(), cpu.xs.dataSync());
  assert.deepEqual(out.ys.dataSync(), cpu.ys.dataSync());
  tf.dispose([indexFeed, ...Object.values(out), cpu.xs, cpu.ys]);
  for (const signature of Object.values(signatures)) signature.dispose();
});

test('the whole evaluation set in one call gives the eager evaluation\'s loss and accuracy', { skip }, async () => {
  const data: DigitData = loadMnist();
  // Batch normalisation and dropout: the evaluation must be the inference pass.
  const config = { ...small, batchNorm: true, dropout: 0.25 };
  const model = buildCrnn(config);
  const [xs, ys] = randomBatch(model, 16, 21);
  // Whole batches and a partial last one; exactly one batch; a partial one alone.
  for (const size of [2.5 * EVAL_BATCH_SIZE, EVAL_BATCH_SIZE, 64]) {
    const evalSet = createEvalSet(data.test, { size, seqLength: 2, task: differenceTask, seed: size });
    const trainer = await GraphTrainer.create(model, { evaluation: { evalSet, set: data.test, batchSize: EVAL_BATCH_SIZE } });
    // A few steps first, so that the moving statistics are not their initial 0 and 1.
    for (let k = 0; k < 3; k++) trainer.step(xs, ys, 1e-2).dispose();
    trainer.pull();
    const sums = trainer.evaluateSet();
    const [lossSum, correct] = Array.from(sums.dataSync());
    sums.dispose();
    const eager = measureLossAccuracy(model, evalBatches(evalSet, data.test, EVAL_BATCH_SIZE));
    const loss = lossSum / size;
    assert.ok(Math.abs(loss - eager.loss) <= 1e-5 * eager.loss, `${size}: loss ${loss} vs ${eager.loss}`);
    // A nearly tied argmax may fall either way, once.
    assert.ok(Math.abs(correct - eager.accuracy * size) <= 1, `${size}: ${correct} right vs ${eager.accuracy * size}`);
    // The graph's own batch evaluation agrees too.
    const batched = measureLossAccuracy(model, evalBatches(evalSet, data.test, EVAL_BATCH_SIZE), (b) => trainer.evaluate(b.xs, b.ys));
    assert.ok(Math.abs(loss - batched.loss) <= 1e-5 * batched.loss, `${size}: loss ${loss} vs ${batched.loss} in batches`);
    // Repeated evaluations leave the tensor count flat.
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) trainer.evaluateSet().dispose();
    assert.equal(tf.memory().numTensors, before);
    trainer.dispose();
  }
  tf.dispose([xs, ys]);
  disposeCrnn(model);
});

test('trainSteps on the graph engine evaluates in one session call, with or without the sampler', { skip }, async () => {
  const data: DigitData = loadMnist();
  const options = { seqLength: 2, task: 'difference', batchSize: 8, evalSize: 1500, seed: 4, numSteps: 4, evalEvery: 2 } as const;
  const model = buildCrnn(small);
  const reference = twin(model, small);
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the instance as `this`
  const { evaluateSet, evaluate } = GraphTrainer.prototype;
  const calls = { evaluateSet: 0, evaluate: 0 };
  GraphTrainer.prototype.evaluateSet = function (this: GraphTrainer) {
    calls.evaluateSet++;
    return evaluateSet.apply(this);
  };
  GraphTrainer.prototype.evaluate = function (this: GraphTrainer, ...args: Parameters<typeof evaluate>) {
    calls.evaluate++;
    return evaluate.apply(this, args);
  };
  // Sequences of 7 digits: 10^7 of them, too many for a class table, so their batches are made on the CPU.
  const longTask = sumTask(7);
  const longModel = buildCrnn({ ...small, seqLength: 7, numClasses: longTask.numClasses });
  let graph, cpu;
  try {
    graph = await trainSteps(model, data, options);
    cpu = await trainSteps(longModel, data, { ...options, seqLength: 7, task: longTask });
  } finally {
    Object.assign(GraphTrainer.prototype, { evaluateSet, evaluate });
  }
  assert.deepEqual([graph.sampler, cpu.engine, cpu.sampler], ['graph', 'graph', 'cpu']);
  disposeCrnn(longModel);
  assert.deepEqual(calls, { evaluateSet: 4, evaluate: 0 });
  // The eager engine, evaluating in batches from JavaScript, records the same.
  const eager = await trainSteps(reference, data, { ...options, engine: 'eager' });
  assert.deepEqual(graph.evals.map((r) => Object.keys(r)), eager.evals.map((r) => Object.keys(r)));
  graph.evals.forEach((r, k) => {
    assert.equal(r.step, eager.evals[k].step);
    assert.ok(Math.abs(r.loss - eager.evals[k].loss) < 1e-4, `step ${r.step}: loss ${r.loss} vs ${eager.evals[k].loss}`);
    assert.ok(Math.abs(r.accuracy - eager.evals[k].accuracy) <= 2 / 1500, `step ${r.step}: accuracy ${r.accuracy} vs ${eager.evals[k].accuracy}`);
  });
  disposeCrnn(model);
  disposeCrnn(reference);
});
