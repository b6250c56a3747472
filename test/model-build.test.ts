/**
 * lib/model/build.ts: the CRNN as built and compiled, its parameter counts
 * against the hand formula, its seeds, disposal, and that it bundles for the
 * browser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { tf } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, disposeCrnn, expectedParamCount } from '../lib/model/build';
import { resolveCrnnConfig } from '../lib/config';
import type { CrnnConfig } from '../lib/types';

const REPO = path.join(__dirname, '..', '..');
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12 };

/** The files esbuild takes into a browser bundle of `entry`, relative to the repository. */
async function browserBundleInputs(entry: string): Promise<string[]> {
  const result = await esbuild.build({
    entryPoints: [path.join(REPO, entry)], bundle: true, platform: 'browser', format: 'esm', write: false,
    metafile: true, logLevel: 'silent', absWorkingDir: REPO,
  });
  return Object.keys(result.metafile.inputs);
}

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

test('the default model has no dropout or normalisation layer, and the new settings add them where documented', () => {
  const plain = buildCrnn(small);
  assert.ok(!plain.layers.some((l) => /_bn$|_elu$|dropout/.test(l.name)));
  assert.equal(plain.nonTrainableWeights.length, 0);
  const model = buildCrnn({ ...small, batchNorm: true, dropout: 0.3, kernelSize: 5 });
  const names = model.layers.map((l) => l.name);
  for (const t of [0, 1]) {
    for (const part of ['conv1_bn', 'conv1_elu', 'conv2_bn', 'conv2_elu', 'dense_bn', 'dense_elu', 'dropout']) {
      assert.ok(names.includes(`step${t}_${part}`), `missing step${t}_${part}`);
    }
  }
  assert.ok(names.includes('rnn_dropout'));
  // The dropout after the dense ELU, and the one between the RNN and the output layer.
  assert.equal(model.getLayer('step0_dropout').inboundNodes[0].inboundLayers[0].name, 'step0_dense_elu');
  assert.equal(model.getLayer('class_probabilities').inboundNodes[0].inboundLayers[0].name, 'rnn_dropout');
  assert.deepEqual(model.getLayer('step1_conv2').getWeights()[0].shape, [5, 5, 4, 5]);
  assert.equal(model.getLayer('step0_conv1').getConfig().useBias, false);
  assert.equal(model.getLayer('step0_conv1').getConfig().activation, 'linear');
  // Per-layer seeds from the run's seed: each dropout layer its own, the same for the same run seed.
  const seeds = (m: tfTypes.LayersModel) => ['step0_dropout', 'step1_dropout', 'rnn_dropout'].map((n) => m.getLayer(n).getConfig().seed);
  assert.equal(new Set(seeds(model)).size, 3);
  const again = buildCrnn({ ...small, batchNorm: true, dropout: 0.3, kernelSize: 5 });
  assert.deepEqual(seeds(again), seeds(model));
  assert.notDeepEqual(seeds(buildCrnn({ ...small, dropout: 0.3 }, { seed: 7 })), seeds(model));
  for (const m of [plain, model, again]) disposeCrnn(m);
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

test('the model code bundles for the browser without lib/tf.ts, tfjs-node or any Node module', async () => {
  const inputs = await browserBundleInputs('lib/model/build.ts');
  assert.ok(inputs.includes('lib/model/layers.ts'), inputs.join('\n'));
  assert.ok(inputs.some((file) => file.startsWith('node_modules/@tensorflow/tfjs-layers/')));
  const nodeOnly = inputs.filter((file) => file === 'lib/tf.ts' || file.includes('tfjs-node') || file.startsWith('node:'));
  assert.deepEqual(nodeOnly, []);
});
