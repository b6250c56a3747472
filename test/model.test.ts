import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, disposeCrnn, expectedParamCount } from '../lib/model/build';
import { FoldTime, TimeStepSlice, UnfoldTime } from '../lib/model/layers';
import { layerRows, layerTable } from '../lib/view/model-summary';
import { defaultCrnnConfig, resolveCrnnConfig } from '../lib/config';
import type { CrnnConfig } from '../lib/types';

test('the default model has the parameter count of the article\'s architecture, computed by hand', () => {
  const conv1 = 3 * 3 * 1 * 16 + 16;        // 160
  const conv2 = 3 * 3 * 16 * 16 + 16;       // 2,320
  const dense = 7 * 7 * 16 * 256 + 256;     // 28 → 14 → 7 after two poolings: 200,960
  const cnnPerStep = conv1 + conv2 + dense; // 203,440, once per time step (T = 2)
  const rnn = 256 * 256 + 256 * 256 + 256;  // input and recurrent kernels, bias: 131,328
  const head = 256 * 19 + 19;               // 4,883
  const byHand = 2 * cnnPerStep + rnn + head;
  assert.equal(byHand, 543_091);

  const model = buildCrnn();
  assert.equal(model.countParams(), byHand);
  assert.equal(expectedParamCount(), byHand);
  const params = (name: string) => model.getLayer(name).countParams();
  assert.equal(params('step0_conv1'), conv1);
  assert.equal(params('step1_conv2'), conv2);
  assert.equal(params('step1_dense'), dense);
  assert.equal(params('rnn_simple'), rnn);
  assert.equal(params('class_probabilities'), head);
  model.dispose();
});

test('parameter counts of the variants match the hand formula', () => {
  const variants: Partial<CrnnConfig>[] = [
    { sharedCnn: true },
    { cell: 'gru', hiddenSize: 32, denseUnits: 16, filters: [4, 8] },
    { cell: 'lstm', hiddenSize: 24, seqLength: 3, denseUnits: 16 },
    { seqLength: 1, numClasses: 10, height: 12, width: 20, denseUnits: 8, hiddenSize: 8 },
  ];
  for (const config of variants) {
    const model = buildCrnn(config);
    assert.equal(model.countParams(), expectedParamCount(config), JSON.stringify(config));
    model.dispose();
  }
});

test('the parameter counts with wider kernels, batch normalisation and dropout match the hand formula', () => {
  // 5×5 kernels: 25 weights per input and output channel instead of 9.
  assert.equal(expectedParamCount({ kernelSize: 5 }) - expectedParamCount(), 2 * (16 * 16 * 16 + 16 * 16));
  // Batch normalisation: per channel of each convolution and dense layer, a bias
  // traded for γ and β (trained), and a moving mean and variance (not trained).
  const channels = 2 * (16 + 16 + 256);
  assert.equal(expectedParamCount({ batchNorm: true }, 'trainable') - expectedParamCount(), channels);
  assert.equal(expectedParamCount({ batchNorm: true }, 'nonTrainable'), 2 * channels);
  assert.equal(expectedParamCount({ batchNorm: true }), expectedParamCount() + 3 * channels);
  // Dropout has no parameters.
  assert.equal(expectedParamCount({ dropout: 0.5 }), expectedParamCount());
  assert.equal(expectedParamCount({}, 'nonTrainable'), 0);
  const variants: Partial<CrnnConfig>[] = [
    { kernelSize: 7, filters: [4, 8], denseUnits: 16, hiddenSize: 8 },
    { batchNorm: true, dropout: 0.3, filters: [4, 8], denseUnits: 16, hiddenSize: 8 },
    { batchNorm: true, kernelSize: 5, sharedCnn: true, cell: 'lstm', seqLength: 3, filters: [4, 8], denseUnits: 16, hiddenSize: 8 },
  ];
  const size = (weights: tfTypes.LayerVariable[]) => weights.reduce((n, w) => n + w.read().size, 0);
  for (const config of variants) {
    const model = buildCrnn(config);
    const label = JSON.stringify(config);
    assert.equal(model.countParams(), expectedParamCount(config), label);
    assert.equal(size(model.trainableWeights), expectedParamCount(config, 'trainable'), label);
    assert.equal(size(model.nonTrainableWeights), expectedParamCount(config, 'nonTrainable'), label);
    disposeCrnn(model);
  }
});

test('the new settings left at their defaults build the article\'s model: the same weights, in the same order, with the same values', () => {
  const article = buildCrnn({ seqLength: 2 });
  const explicit = buildCrnn({ seqLength: 2, kernelSize: 3, batchNorm: false, dropout: 0 });
  assert.deepEqual(explicit.layers.map((l) => l.name), article.layers.map((l) => l.name));
  // tfjs numbers the names of variables made twice: kernel_5, kernel_6.
  const described = (m: tfTypes.LayersModel) => m.weights.map((w) => [w.name.replace(/_\d+$/, ''), w.shape, w.trainable]);
  assert.deepEqual(described(explicit), described(article));
  const [a, b] = [article.getWeights(), explicit.getWeights()];
  a.forEach((w, i) => assert.deepEqual(w.dataSync(), b[i].dataSync(), article.weights[i].name));
  disposeCrnn(article);
  disposeCrnn(explicit);
});

test('maps [batch, T, 28, 28, 1] sequences to [batch, 19] probabilities, leaving no tensors behind', () => {
  const model = buildCrnn();
  const xs = tf.randomUniform<tfTypes.Rank.R5>([3, 2, 28, 28, 1]);
  const before = tf.memory().numTensors;
  const sums = tf.tidy(() => (model.predict(xs) as tfTypes.Tensor2D).sum(1).arraySync() as number[]);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(sums.length, 3);
  for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5, `probabilities sum to ${s}`);
  assert.deepEqual(model.outputs[0].shape, [null, 19]);
  xs.dispose();
  model.dispose();
});

test('each time step gets its own CNN by default, and one shared CNN with sharedCnn', () => {
  const own = buildCrnn({ seqLength: 3, denseUnits: 16, hiddenSize: 16 });
  const names = own.layers.map((l) => l.name);
  for (const t of [0, 1, 2]) {
    for (const part of ['slice', 'conv1', 'pool1', 'conv2', 'pool2', 'flatten', 'dense']) {
      assert.ok(names.includes(`step${t}_${part}`), `missing step${t}_${part}`);
    }
  }
  const kernel = (name: string) => own.getLayer(name).getWeights()[0].arraySync();
  assert.notDeepEqual(kernel('step0_conv1'), kernel('step1_conv1'));

  const shared = buildCrnn({ seqLength: 3, denseUnits: 16, hiddenSize: 16, sharedCnn: true });
  const convs = shared.layers.filter((l) => l.name.includes('conv1'));
  assert.deepEqual(convs.map((l) => l.name), ['shared_conv1']);
  // Three CNNs against one: two more CNNs of 160 + 2,320 + (7·7·16·16 + 16) parameters.
  assert.equal(own.countParams() - shared.countParams(), 2 * (160 + 2320 + 12_560));
  own.dispose();
  shared.dispose();
});

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

test('builds each recurrent cell, and the model is compiled with the article\'s Adam', () => {
  for (const cell of ['simple', 'gru', 'lstm'] as const) {
    const model = buildCrnn({ cell, denseUnits: 8, hiddenSize: 8, learningRate: 0.01 });
    assert.ok(model.getLayer(`rnn_${cell}`));
    const config = model.optimizer.getConfig();
    assert.equal(model.optimizer.getClassName(), 'Adam');
    assert.deepEqual(config, { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    model.dispose();
  }
});

test('disposeCrnn frees the weights and Adam\'s state that model.dispose() leaves behind', async () => {
  const small = { denseUnits: 8, hiddenSize: 8, filters: [2, 2] as [number, number] };
  /** Builds a model and takes one training step, which creates Adam's moment tensors. */
  const trainedModel = async () => {
    const model = buildCrnn(small);
    const xs = tf.zeros([4, 2, 28, 28, 1]);
    const ys = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 19));
    await model.trainOnBatch(xs, ys);
    tf.dispose([xs, ys]);
    return model;
  };
  const baseline = tf.memory().numTensors;

  const leaky = await trainedModel();
  leaky.dispose();
  const leaked = tf.memory().numTensors - baseline;
  // Adam keeps two moments per weight, plus its two beta-power accumulators.
  assert.equal(leaked, 2 * leaky.trainableWeights.length + 2, 'model.dispose() alone leaves Adam\'s state');
  leaky.optimizer.dispose();
  assert.equal(tf.memory().numTensors, baseline);

  for (let i = 0; i < 2; i++) {
    const model = await trainedModel();
    assert.ok(tf.memory().numTensors > baseline);
    disposeCrnn(model);
    assert.equal(tf.memory().numTensors, baseline, `after build, train step and disposeCrnn (round ${i + 1})`);
    disposeCrnn(model); // a second call is a no-op
    assert.equal(tf.memory().numTensors, baseline);
  }
  disposeCrnn(undefined);
  disposeCrnn(null);
  const untrained = buildCrnn(small);
  disposeCrnn(untrained); // no optimiser state yet
  assert.equal(tf.memory().numTensors, baseline);
});

test('the default config is the article\'s and resolving fills in missing fields', () => {
  assert.deepEqual(resolveCrnnConfig(), {
    seqLength: 2, height: 28, width: 28, numClasses: 19, filters: [16, 16], kernelSize: 3, denseUnits: 256,
    cell: 'simple', hiddenSize: 256, sharedCnn: false, batchNorm: false, dropout: 0, learningRate: 1e-3, weightDecay: 0,
  });
  const resolved = resolveCrnnConfig({ cell: 'gru', filters: [8, 4] });
  assert.equal(resolved.cell, 'gru');
  assert.deepEqual(resolved.filters, [8, 4]);
  assert.equal(resolved.hiddenSize, defaultCrnnConfig.hiddenSize);
  assert.ok(Object.isFrozen(defaultCrnnConfig));
});

test('every invalid model setting is rejected with the field and the value', () => {
  const cases: [unknown, RegExp][] = [
    [{ seqLength: 0 }, /seqLength must be an integer >= 1, got 0/],
    [{ seqLength: 1.5 }, /seqLength must be an integer >= 1, got 1.5/],
    [{ height: 3 }, /height must be an integer >= 4, got 3/],
    [{ width: NaN }, /width must be an integer >= 4, got NaN/],
    [{ numClasses: 1 }, /numClasses must be an integer >= 2, got 1/],
    [{ filters: [16] }, /filters must be two filter counts like \[16, 16\], got \[16\]/],
    [{ filters: '16,16' }, /filters must be two filter counts/],
    [{ filters: [16, 0] }, /filters\[1\] must be an integer >= 1, got 0/],
    [{ denseUnits: -5 }, /denseUnits must be an integer >= 1, got -5/],
    [{ hiddenSize: '256' }, /hiddenSize must be an integer >= 1, got "256"/],
    [{ cell: 'rnn' }, /cell must be one of simple, gru, lstm, got "rnn"/],
    [{ sharedCnn: 'yes' }, /sharedCnn must be true or false, got "yes"/],
    [{ learningRate: 0 }, /learningRate must be a positive number, got 0/],
    [{ learningRate: Infinity }, /learningRate must be a positive number, got Infinity/],
    [{ hidenSize: 8 }, /Unknown CrnnConfig field 'hidenSize'/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => buildCrnn(config as Partial<CrnnConfig>), message, JSON.stringify(config));
  }
  assert.throws(() => resolveCrnnConfig(null as unknown as Partial<CrnnConfig>), /CrnnConfig must be an object, got null/);
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

test('the shared CNN reads every step as if applied to each step on its own', () => {
  const model = buildCrnn({ seqLength: 3, denseUnits: 16, hiddenSize: 16, sharedCnn: true });
  const xs = tf.randomUniform([4, 3, 28, 28, 1], 0, 1, 'float32', 5);
  const cnn = ['shared_conv1', 'shared_pool1', 'shared_conv2', 'shared_pool2', 'shared_flatten', 'shared_dense']
    .map((name) => model.getLayer(name));
  const featureModel = tf.model({ inputs: model.inputs, outputs: model.getLayer('unfold_time').output });
  const before = tf.memory().numTensors;
  const gap = tf.tidy(() => {
    const features = featureModel.predict(xs) as tfTypes.Tensor; // [4, 3, 16]
    assert.deepEqual(features.shape, [4, 3, 16]);
    const perStep = [0, 1, 2].map((t) => cnn.reduce(
      (x, layer) => layer.apply(x) as tfTypes.Tensor, xs.slice([0, t], [-1, 1]).squeeze([1])));
    return features.sub(tf.stack(perStep, 1)).abs().max().dataSync()[0];
  });
  assert.ok(gap < 1e-5, `features differ by ${gap}`);
  assert.equal(tf.memory().numTensors, before);
  xs.dispose();
  model.dispose();
});

test('the seed decides the initial weights: the same seed builds the same model, each layer its own draw', () => {
  const small: Partial<CrnnConfig> = { filters: [4, 4], denseUnits: 8, hiddenSize: 8, cell: 'lstm' };
  // In build order: step0_conv1/kernel first, step1_conv1/kernel third.
  const weights = (seed: number) => {
    const model = buildCrnn(small, { seed });
    const values = model.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual([model.weights[0].originalName, model.weights[2].originalName],
      ['step0_conv1/kernel', 'step1_conv1/kernel']);
    model.dispose();
    return values;
  };
  const first = weights(7);
  assert.deepEqual(weights(7), first);
  const other = weights(8);
  assert.notDeepEqual(other[0], first[0]);
  // The two steps' CNNs start apart, as unseeded ones would.
  assert.notDeepEqual(first[0], first[2]);
  assert.throws(() => buildCrnn(small, { seed: 1.5 }), /seed must be an integer, got 1.5/);
});

test('layerTable gives one row per layer kind, the repeated per-step layers counted, and the true total', () => {
  const model = buildCrnn({ seqLength: 3 });
  const rows = layerRows(model);
  const conv1 = rows.find((r) => r.name === 'step*_conv1')!;
  assert.deepEqual(conv1, { name: 'step*_conv1', type: 'Conv2D', outputShape: [null, 28, 28, 16], params: 160, count: 3 });
  assert.equal(rows.reduce((n, r) => n + r.params * r.count, 0), model.countParams());
  assert.ok(rows.length < model.layers.length);
  const table = layerTable(model);
  assert.match(table, /^step\*_dense ×3 +Dense +\[·, 256\] +200,960 each$/m);
  // One more CNN than the article's model: 543,091 + 160 + 2,320 + 200,960.
  assert.match(table, /^total: 746,531 parameters$/m);
  assert.equal(expectedParamCount({ seqLength: 3 }), 746_531);
  for (const line of table.split('\n')) assert.ok(line.length <= 80, `too wide: ${line}`);
  disposeCrnn(model);
});
