import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, compileCrnn, disposeCrnn } from '../lib/model/build';
import { FoldTime, MaxPool2x2, UnfoldTime } from '../lib/model/layers';
import { GraphTrainer } from '../lib/graph';
import { buildTrainingGraph } from '../lib/graph/build';
import { poolFirstChains, type PoolFirstChain } from '../lib/graph/layers';
import type { CrnnConfig } from '../lib/types';
import { maxAbs, maxAbsDiff, randomBatch } from './helpers/models';

const skip = backend.native ? false : 'the graph engine needs the native backend';
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12 };

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

test('with batch normalisation, poolFirst writes the graph of before, byte for byte; without, another', { skip }, () => {
  for (const sharedCnn of [false, true]) {
    const normalised = buildCrnn({ ...small, batchNorm: true, sharedCnn });
    assert.deepEqual(buildTrainingGraph(normalised).savedModel, buildTrainingGraph(normalised, { poolFirst: false }).savedModel);
    const plain = buildCrnn({ ...small, sharedCnn });
    assert.notDeepEqual(buildTrainingGraph(plain).savedModel, buildTrainingGraph(plain, { poolFirst: false }).savedModel);
    [normalised, plain].forEach(disposeCrnn);
  }
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
