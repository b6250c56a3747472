import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, compileCrnn, disposeCrnn } from '../lib/model/build';
import { FoldTime, MaxPool2x2, UnfoldTime } from '../lib/model/layers';
import { GraphTrainer } from '../lib/graph';
import { layerSupport, poolFirstChains, type PoolFirstChain } from '../lib/graph/layers';
import type { CrnnConfig } from '../lib/types';
import { maxAbs, maxAbsDiff, randomBatch } from './helpers/models';

const skip = backend.native ? false : 'the graph engine needs the native backend';
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12 };

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

test('the graph computes L2 kernel and recurrent regularisers and refuses other regularisers, naming them', () => {
  const check = (layer: tfTypes.layers.Layer, inputShape: number[]) => {
    layer.apply(tf.input({ shape: inputShape }));
    return layerSupport(layer, layer.getConfig());
  };
  const l2 = () => tf.regularizers.l2({ l2: 0.01 });
  assert.equal(check(tf.layers.dense({ units: 4, kernelRegularizer: l2() }), [5]), null);
  assert.equal(check(tf.layers.conv2d({ filters: 2, kernelSize: 3, kernelRegularizer: l2() }), [6, 6, 1]), null);
  assert.equal(check(tf.layers.lstm({ units: 3, kernelRegularizer: l2(), recurrentRegularizer: l2() }), [2, 4]), null);
  const refusals: [tfTypes.layers.Layer, number[], RegExp][] = [
    [tf.layers.dense({ name: 'l1', units: 4, kernelRegularizer: tf.regularizers.l1({ l1: 0.01 }) }), [5],
      /^layer 'l1' \(Dense\): kernelRegularizer \{"className":"L1L2","config":\{"l1":0.01,"l2":0\}\} is not an L2 penalty/],
    [tf.layers.dense({ name: 'b1', units: 4, biasRegularizer: l2() }), [5], /^layer 'b1' \(Dense\): biasRegularizer is \{.*\}; the graph engine computes only null there/],
    [tf.layers.gru({ name: 'g1', units: 3, biasRegularizer: l2() }), [2, 4], /^layer 'g1' \(GRU\): biasRegularizer is/],
  ];
  for (const [layer, shape, reason] of refusals) assert.match(check(layer, shape) ?? '', reason);
});

/** The chains as 'conv [→ activations] → pool' names, sorted. */
function named(model: tfTypes.LayersModel): string[] {
  return poolFirstChains(model, (layer) => layer.getConfig()).map((chain: PoolFirstChain) =>
    [chain.conv, ...chain.activations, chain.pool].map((layer) => layer.name).join(' → ')).sort();
}

/** FoldTime → `layers` → flatten → UnfoldTime → SimpleRNN → softmax, on [2, 8, 8, 1] sequences. */
function assembled(layers: (x: tfTypes.SymbolicTensor) => tfTypes.SymbolicTensor): tfTypes.LayersModel {
  const input = tf.input({ shape: [2, 8, 8, 1] });
  const apply = (layer: tfTypes.layers.Layer, x: tfTypes.SymbolicTensor) => layer.apply(x) as tfTypes.SymbolicTensor;
  let x = layers(apply(new FoldTime({}), input));
  x = apply(new UnfoldTime({ seqLength: 2 }), apply(tf.layers.flatten(), x));
  x = apply(tf.layers.dense({ units: 3, activation: 'softmax' }), apply(tf.layers.simpleRNN({ units: 4 }), x));
  const model = tf.model({ inputs: input, outputs: x });
  compileCrnn(model, 1e-3);
  return model;
}

test('each CNN\'s convolutions are written pool first, per step and shared; batch-norm models as they are', () => {
  const perStep = buildCrnn(small);
  assert.deepEqual(named(perStep), [
    'step0_conv1 → step0_pool1', 'step0_conv2 → step0_pool2', 'step1_conv1 → step1_pool1', 'step1_conv2 → step1_pool2',
  ]);
  const shared = buildCrnn({ ...small, sharedCnn: true, seqLength: 3 });
  assert.deepEqual(named(shared), ['shared_conv1 → shared_pool1', 'shared_conv2 → shared_pool2']);
  // Conv → batch norm → ELU → pool: the statistics are over the un-pooled tensor.
  const normalised = buildCrnn({ ...small, batchNorm: true });
  const normalisedShared = buildCrnn({ ...small, batchNorm: true, sharedCnn: true });
  assert.deepEqual([named(normalised), named(normalisedShared)], [[], []]);
  [perStep, shared, normalised, normalisedShared].forEach(disposeCrnn);
});

test('a chain is conv, then non-decreasing activations only, each output read by the next layer alone', () => {
  const conv = (activation: 'elu' | 'linear' | 'tanh', name: string, useBias = true) => tf.layers.conv2d({
    name, filters: 2, kernelSize: 3, padding: 'same', activation, useBias,
  });
  // A linear convolution, then ELU as a layer of its own; and one without bias.
  const separate = assembled((x) => new MaxPool2x2({ name: 'pool' }).apply(
    tf.layers.activation({ name: 'elu', activation: 'elu' }).apply(conv('linear', 'conv').apply(x))) as tfTypes.SymbolicTensor);
  assert.deepEqual(named(separate), ['conv → elu → pool']);
  const noBias = assembled((x) => new MaxPool2x2({ name: 'pool' }).apply(conv('elu', 'conv', false).apply(x)) as tfTypes.SymbolicTensor);
  assert.deepEqual(named(noBias), ['conv → pool']);
  // tanh is not among the activations rewritten.
  const tanh = assembled((x) => new MaxPool2x2({}).apply(conv('tanh', 'conv').apply(x)) as tfTypes.SymbolicTensor);
  assert.deepEqual(named(tanh), []);
  // The convolution's output read twice (pooled, and added to the ELU's output): left as it is.
  const branched = assembled((x) => {
    const convolved = conv('linear', 'conv').apply(x) as tfTypes.SymbolicTensor;
    const sum = tf.layers.add().apply([convolved, tf.layers.activation({ activation: 'elu' }).apply(convolved) as tfTypes.SymbolicTensor]);
    return new MaxPool2x2({}).apply(sum) as tfTypes.SymbolicTensor;
  });
  assert.deepEqual(named(branched), []);
  [separate, noBias, tanh, branched].forEach(disposeCrnn);
});

test('pool first gives the loss, the gradients and the evaluation of the layers written as they come', { skip }, async () => {
  const separateElu = () => assembled((x) => new MaxPool2x2({}).apply(tf.layers.activation({ activation: 'elu' }).apply(
    tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x))) as tfTypes.SymbolicTensor);
  const variants: [string, () => tfTypes.LayersModel][] = [
    ['per-step CNNs', () => buildCrnn(small)],
    ['shared CNN', () => buildCrnn({ ...small, sharedCnn: true, seqLength: 3 })],
    ['odd sizes', () => buildCrnn({ ...small, height: 13, width: 11, sharedCnn: true })],
    ['ELU as a layer', separateElu],
  ];
  for (const [label, build] of variants) {
    const model = build();
    const [rewritten, asWritten] = [await GraphTrainer.create(model), await GraphTrainer.create(model, { poolFirst: false })];
    const [xs, ys] = randomBatch(model, 16, 3);
    const [a, b] = [rewritten.gradients(xs, ys), asWritten.gradients(xs, ys)];
    const [lossA, lossB] = [a.lossAndAccuracy.dataSync()[0], b.lossAndAccuracy.dataSync()[0]];
    // The same values pooled; only the convolution's rounding may differ
    // (TensorFlow may fuse the bias and ELU into it in the graph as written).
    // Seen: the losses 1 ulp apart at most, the gradients 2.1e-6 of their scale.
    assert.ok(Math.abs(lossA - lossB) <= 1e-6 * Math.abs(lossB), `${label}: loss ${lossA} against ${lossB}`);
    b.grads.forEach((reference, i) => {
      const scale = maxAbs(reference);
      assert.ok(scale > 0, `${label} ${model.trainableWeights[i].name}: the reference gradient is all zero`);
      const error = maxAbsDiff(a.grads[i], reference);
      assert.ok(error <= 1e-5 * scale, `${label} ${model.trainableWeights[i].name}: off by ${error} (scale ${scale})`);
    });
    const [sumsA, sumsB] = [rewritten.evaluate(xs, ys), asWritten.evaluate(xs, ys)];
    const [[lossSumA, rightA], [lossSumB, rightB]] = [sumsA.dataSync(), sumsB.dataSync()];
    assert.equal(rightA, rightB, label);
    assert.ok(Math.abs(lossSumA - lossSumB) <= 1e-6 * Math.abs(lossSumB), `${label}: loss sum ${lossSumA} against ${lossSumB}`);
    tf.dispose([xs, ys, a.lossAndAccuracy, b.lossAndAccuracy, ...a.grads, ...b.grads, sumsA, sumsB]);
    [rewritten, asWritten].forEach((trainer) => trainer.dispose());
    disposeCrnn(model);
  }
});
