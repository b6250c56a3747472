import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, compileCrnn, disposeCrnn } from '../lib/model/build';
import { FoldTime, MaxPool2x2, UnfoldTime } from '../lib/model/layers';
import { trainSteps } from '../lib/train/loop';
import { GraphTrainer } from '../lib/graph';
import { buildTrainingGraph, graphEngineSupport, labelSmoothingOf } from '../lib/graph/build';
import { packedImages, samplerSpecFor, type SamplerSpec } from '../lib/graph/sampler';
import { loadMnist } from '../lib/data/data';
import { createEvalSet } from '../lib/data/sequences';
import { differenceTask } from '../lib/data/tasks';
import type { CrnnConfig, DigitData } from '../lib/types';
import { maxAbs, maxAbsDiff, randomBatch } from './helpers/models';

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

test('graphEngineSupport names what another model lacks: one float32 input of known shape, Adam, the cross-entropy, a softmax over classes',
  { skip }, () => {
  const before = tf.memory().numTensors;
  const compiled = (inputs: tfTypes.SymbolicTensor[], output: tfTypes.SymbolicTensor) => {
    const model = tf.model({ inputs, outputs: output });
    compileCrnn(model, 1e-3);
    return model;
  };
  const softmax = (units: number) => tf.layers.dense({ units, activation: 'softmax' });
  const [a, b] = [tf.input({ shape: [4] }), tf.input({ shape: [4] })];
  const twoInputs = compiled([a, b], softmax(3).apply(tf.layers.concatenate().apply([a, b])) as tfTypes.SymbolicTensor);
  assert.match(graphEngineSupport(twoInputs) ?? '', /models of one input and one output; this one has 2 and 1/);
  const open = tf.input({ shape: [null, 4] });
  const unknownShape = compiled([open], softmax(3).apply(tf.layers.globalAveragePooling1d().apply(open)) as tfTypes.SymbolicTensor);
  assert.match(graphEngineSupport(unknownShape) ?? '', /a float32 input of known shape; this model's is \[, , 4\]/);
  const x = tf.input({ shape: [4] });
  const sgd = tf.model({ inputs: x, outputs: softmax(3).apply(x) as tfTypes.SymbolicTensor });
  sgd.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  assert.match(graphEngineSupport(sgd) ?? '', /trains with Adam: compile the model with compileCrnn/);
  const meanSquared = tf.model({ inputs: x, outputs: softmax(3).apply(x) as tfTypes.SymbolicTensor });
  meanSquared.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
  assert.match(graphEngineSupport(meanSquared) ?? '', /trains on the loss "categoricalCrossentropy"; this model's is "meanSquaredError"/);
  const logits = compiled([x], tf.layers.dense({ name: 'logits', units: 3 }).apply(x) as tfTypes.SymbolicTensor);
  assert.match(graphEngineSupport(logits) ?? '', /computes the output layer 'logits' with activation "softmax" \(in the loss\); this model's has "linear"/);
  const sequence = tf.input({ shape: [2, 4] });
  const perStep = compiled([sequence], softmax(3).apply(sequence) as tfTypes.SymbolicTensor);
  assert.match(graphEngineSupport(perStep) ?? '', /output is \[batch, classes\]; this one's is \[null, 2, 3\]/);
  // One input, Adam, the cross-entropy and a softmax over classes: trainable.
  const plain = compiled([x], softmax(3).apply(x) as tfTypes.SymbolicTensor);
  assert.equal(graphEngineSupport(plain), null);
  [twoInputs, unknownShape, sgd, meanSquared, logits, perStep, plain].forEach(disposeCrnn);
  assert.equal(tf.memory().numTensors, before);
});

test('labelSmoothingOf gives ε (0 when unset) and refuses values outside [0, 1)', () => {
  assert.equal(labelSmoothingOf({}), 0);
  assert.equal(labelSmoothingOf({ labelSmoothing: 0.1 }), 0.1);
  for (const bad of [1, -0.1, NaN]) {
    assert.throws(() => labelSmoothingOf({ labelSmoothing: bad }), /labelSmoothing must be a number in \[0, 1\)/);
  }
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

test('with batch normalisation, poolFirst writes the graph of before, byte for byte; without, another', { skip }, () => {
  for (const sharedCnn of [false, true]) {
    const normalised = buildCrnn({ ...small, batchNorm: true, sharedCnn });
    assert.deepEqual(buildTrainingGraph(normalised).savedModel, buildTrainingGraph(normalised, { poolFirst: false }).savedModel);
    const plain = buildCrnn({ ...small, sharedCnn });
    assert.notDeepEqual(buildTrainingGraph(plain).savedModel, buildTrainingGraph(plain, { poolFirst: false }).savedModel);
    [normalised, plain].forEach(disposeCrnn);
  }
});
