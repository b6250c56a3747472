import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn } from '../lib/model/build';
import {
  featureMaps, firstLayerFilters, layerActivations, matchFilters, pca, sampleImages, signedImages, stepFeatures,
  stepsOf, symmetricEigen, trainDigitProbe, cnnPrefix, hasSharedCnn, measureDigitProbe, fitDigitProbes,
} from '../lib/evaluate/probe';
import { digitProbabilities } from '../lib/demo/readings';
import { scatterChartSpec, scatterChartSvg } from '../lib/view/charts';
import { createRng } from '../lib/random';
import type { CrnnConfig } from '../lib/types';
import { makeDigitSet } from './helpers/idx-fixtures';
import { assertAllClose } from './helpers/close';

/** A tiny CRNN for 8×8 images: conv filters [2, 3], 5 features per step. */
const TINY: Partial<CrnnConfig> = {
  height: 8, width: 8, filters: [2, 3], denseUnits: 5, hiddenSize: 4, numClasses: 3, seqLength: 2,
};

/** A standard normal draw from a seeded generator (Box–Muller). */
function gaussian(rng: ReturnType<typeof createRng>): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

test('stepFeatures gives [n, denseUnits] features, equal to the dense layer of that step inside the model', () => {
  const model = buildCrnn(TINY, { seed: 3 });
  const set = makeDigitSet(30, 8, 8);
  const indices = [4, 0, 29, 7, 7, 12, 3];
  const before = tf.memory().numTensors;
  const f0 = stepFeatures(model, set, indices, 0);
  const f1 = stepFeatures(model, set, indices, 1, { batchSize: 3 });
  assert.equal(tf.memory().numTensors, before + 2, 'only the two results are left');
  assert.deepEqual(f0.shape, [7, 5]);
  assert.deepEqual(f1.shape, [7, 5]);

  // The same features, read from the whole model with the images at step 1 of sequences.
  const inside = tf.model({ inputs: model.inputs, outputs: model.getLayer('step1_dense').output });
  const expected = tf.tidy(() => {
    const images = tf.tensor4d(Float32Array.from(indices.flatMap((i) =>
      Array.from(set.images.subarray(i * 64, (i + 1) * 64), (v) => v / 255))), [7, 8, 8, 1]);
    const xs = tf.stack([tf.zerosLike(images), images], 1);
    return (inside.predict(xs) as tfTypes.Tensor2D).arraySync();
  });
  assertAllClose(f1.arraySync(), expected, 1e-5);
  assert.ok(Math.max(...tf.tidy(() => tf.abs(tf.sub(f0, f1)).dataSync())) > 1e-3, 'each step has its own CNN');
  assertAllClose(stepFeatures(model, set, indices, 1, { batchSize: 500 }).arraySync(), f1.arraySync(), 1e-6);
  tf.dispose([f0, f1]);
  model.dispose();
});

test('with a shared CNN every step has the same features; T = 1 works; bad steps and sizes are refused', () => {
  const shared = buildCrnn({ ...TINY, sharedCnn: true, seqLength: 3 });
  const set = makeDigitSet(12, 8, 8);
  assert.equal(hasSharedCnn(shared), true);
  assert.equal(stepsOf(shared), 3);
  assert.equal(cnnPrefix(shared, 2), 'shared');
  const [a, b] = [stepFeatures(shared, set, [1, 2, 3], 0), stepFeatures(shared, set, [1, 2, 3], 2)];
  assertAllClose(a.arraySync(), b.arraySync(), 0);
  tf.dispose([a, b]);
  assert.throws(() => stepFeatures(shared, set, [1], 3), /step must be an integer in 0..2 for a model of T = 3, got 3/);
  assert.throws(() => stepFeatures(shared, set, [12], 0), /image index 12 is outside 0..11/);
  assert.throws(() => stepFeatures(shared, makeDigitSet(3, 4, 3), [0], 0), /takes 8×8 images, but the set has 4×3/);
  shared.dispose();

  const single = buildCrnn({ ...TINY, seqLength: 1 });
  assert.equal(cnnPrefix(single, 0), 'step0');
  const f = stepFeatures(single, set, [0, 5], 0);
  assert.deepEqual(f.shape, [2, 5]);
  f.dispose();
  assert.throws(() => stepFeatures(single, set, [0], 1), /in 0..0 for a model of T = 1/);
  single.dispose();
});

test('layerActivations and featureMaps give each layer\'s maps for one digit, on one grey scale', () => {
  const model = buildCrnn(TINY);
  const set = makeDigitSet(5, 8, 8);
  const before = tf.memory().numTensors;
  const conv1 = layerActivations(model, set, [1, 2], 1, 'conv1');
  const pool2 = layerActivations(model, set, [1, 2], 1, 'pool2');
  assert.deepEqual(conv1.shape, [2, 8, 8, 2]);
  assert.deepEqual(pool2.shape, [2, 2, 2, 3]);
  tf.dispose([conv1, pool2]);

  const maps = featureMaps(model, set, 3, 0, 'conv2');
  assert.equal(tf.memory().numTensors, before);
  assert.equal(maps.layer, 'step0_conv2');
  assert.deepEqual([maps.images.length, maps.height, maps.width], [3, 4, 4]);
  assert.ok(maps.min >= -1 && maps.min < maps.max, 'ELU outputs, not all equal');
  const all = maps.images.flatMap((image) => Array.from(image));
  assert.equal(Math.min(...all), 0);
  assert.equal(Math.max(...all), 255);
  assert.throws(() => featureMaps(model, set, 0, 0, 'dense'), /dense has no 2-D maps/);
  model.dispose();
});

test('firstLayerFilters returns the kernels of conv1 as numbers and as signed grey images', () => {
  const model = buildCrnn(TINY, { seed: 9 });
  const filters = firstLayerFilters(model, 1);
  assert.equal(filters.layer, 'step1_conv1');
  assert.deepEqual([filters.weights.length, filters.height, filters.width, filters.biases.length], [2, 3, 3, 2]);
  const kernel = model.getLayer('step1_conv1').getWeights()[0].arraySync() as number[][][][]; // [3, 3, 1, 2]
  assertAllClose(filters.weights[1], [0, 1, 2].flatMap((y) => [0, 1, 2].map((x) => kernel[y][x][0][1])), 0);
  assert.equal(filters.maxAbs, Math.max(...filters.weights.flatMap((w) => Array.from(w, Math.abs))));
  const flat = filters.images.flatMap((image) => Array.from(image));
  assert.ok(flat.includes(0) || flat.includes(255), 'the largest |weight| reaches black or white');
  assert.deepEqual(firstLayerFilters(model, 0).layer, 'step0_conv1');
  model.dispose();
});

test('signedImages draws 0 as mid-grey and ±maxAbs as white and black; matchFilters finds permuted kernels', () => {
  assert.deepEqual(Array.from(signedImages([[0, 2, -2, 1]])[0]), [128, 255, 0, 191]);
  assert.deepEqual(Array.from(signedImages([[0, 1]], 4)[0]), [128, 159]);
  assert.deepEqual(Array.from(signedImages([[0, 0]])[0]), [128, 128]);
  const a = [[1, 0, 0], [0, 1, 1], [1, -1, 0]];
  const b = [[0, 2, 2], [2, -2, 0], [3, 0, 0]];
  const matches = matchFilters(a, b);
  assert.deepEqual(matches.map((m) => m.index), [2, 0, 1]);
  assertAllClose(matches.map((m) => m.cosine), [1, 1, 1], 1e-12);
  assert.equal(matchFilters([[1, 0]], [[-1, 0]])[0].cosine, -1, 'a negated kernel is not the same detector');
  assert.throws(() => matchFilters([[1, 0]], [[1, 0, 0]]), /kernels of one size/);
});

test('symmetricEigen finds the eigenvalues and eigenvectors of a symmetric matrix', () => {
  const small = symmetricEigen([2, 1, 1, 2], 2);
  assertAllClose(small.values, [3, 1], 1e-12);
  assertAllClose(Array.from(small.vectors[0]), [Math.SQRT1_2, Math.SQRT1_2], 1e-12);
  // A random symmetric 12 × 12: A v = λ v, and the vectors are orthonormal.
  const d = 12;
  const rng = createRng('eigen');
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) m[i * d + j] = m[j * d + i] = gaussian(rng);
  const { values, vectors } = symmetricEigen(m, d);
  assert.ok(values.every((v, i) => i === 0 || values[i - 1] >= v), 'sorted, largest first');
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < d; i++) {
      let av = 0;
      for (let j = 0; j < d; j++) av += m[i * d + j] * vectors[k][j];
      assert.ok(Math.abs(av - values[k] * vectors[k][i]) < 1e-9, `A v = λ v for eigenvector ${k}`);
    }
    for (let l = 0; l < d; l++) {
      const dot = vectors[k].reduce((s, v, i) => s + v * vectors[l][i], 0);
      assert.ok(Math.abs(dot - (k === l ? 1 : 0)) < 1e-9, 'orthonormal');
    }
  }
  assert.throws(() => symmetricEigen([1, 2, 3], 2), /d × d matrix, got 3 values for d = 2/);
});

test('pca on synthetic data recovers the dominant direction and its share of the variance', () => {
  // 4,000 points in 6-D: standard deviation 5 along u, 1 along w (orthogonal to u), 0.1 of noise everywhere.
  const n = 4000;
  const d = 6;
  const u = [1, 2, 0, -1, 0, 1].map((v) => v / Math.sqrt(7));
  const w = [0, 1, 1, 2, 0, 0].map((v) => v / Math.sqrt(6));
  const rng = createRng('pca');
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const a = 5 * gaussian(rng);
    const b = gaussian(rng);
    for (let j = 0; j < d; j++) data[i * d + j] = 3 + a * u[j] + b * w[j] + 0.1 * gaussian(rng);
  }
  const features = tf.tensor2d(data, [n, d]);
  const before = tf.memory().numTensors;
  const result = pca(features, 2);
  assert.deepEqual(result.projections.shape, [n, 2]);
  assert.deepEqual(result.components.shape, [d, 2]);
  const [first, second] = tf.tidy(() => tf.transpose(result.components).arraySync());
  const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i], 0);
  assert.ok(Math.abs(dot(first, u)) > 0.999, `the first component is u: cos ${dot(first, u)}`);
  assert.ok(Math.abs(dot(second, w)) > 0.99, `the second component is w: cos ${dot(second, w)}`);
  const expected = 25 / (25 + 1 + d * 0.01);
  assert.ok(Math.abs(result.explainedVarianceRatio[0] - expected) < 0.01,
    `variance ratio ${result.explainedVarianceRatio[0]}, expected about ${expected}`);
  assert.ok(Math.abs(result.variances[0] - 25) < 2, `variance ${result.variances[0]}, expected about 25`);
  // The projections are centred and their variance is the component's.
  const [mean0, var0] = tf.tidy(() => {
    const p = tf.slice(result.projections, [0, 0], [n, 1]);
    return [tf.mean(p).dataSync()[0], tf.sum(tf.square(p)).dataSync()[0] / (n - 1)];
  });
  assert.ok(Math.abs(mean0) < 1e-3);
  assert.ok(Math.abs(var0 - result.variances[0]) / result.variances[0] < 1e-3);
  assertAllClose(Array.from(result.mean.dataSync()), Array.from({ length: d }, (_, j) => 3 + 0 * j), 0.3);
  tf.dispose([result.projections, result.components, result.mean]);
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.throws(() => pca(features, 7), /k must be an integer in 1..6, got 7/);
  features.dispose();
});

/** Linearly separable features: class c sits around 3·e_c in 16-D, with noise 0.3. */
function separable(n: number, seed: string) {
  const rng = createRng(seed);
  const labels = Int32Array.from({ length: n }, () => rng.nextInt(10));
  const data = new Float32Array(n * 16);
  labels.forEach((c, i) => {
    for (let j = 0; j < 16; j++) data[i * 16 + j] = (j === c ? 3 : 0) + 0.3 * gaussian(rng);
  });
  return { features: tf.tensor2d(data, [n, 16]), labels };
}

test('a probe on linearly separable features reaches ~100%, per digit, deterministically and without leaks', () => {
  const train = separable(600, 'train');
  const testSet = separable(400, 'test');
  const before = tf.memory().numTensors;
  const options = { epochs: 20, seed: 1, batchSize: 100 };
  const probe = trainDigitProbe(train.features, train.labels, testSet.features, testSet.labels, options);
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.ok(probe.accuracy >= 0.99, `probe accuracy ${probe.accuracy}`);
  assert.ok(probe.trainAccuracy >= 0.99);
  assert.equal(probe.perClass.length, 10);
  assert.ok(probe.perClass.every((p) => p >= 0.95), `per digit ${probe.perClass.join(', ')}`);
  assert.equal(probe.total.reduce((a, b) => a + b, 0), 400);
  assert.equal(probe.predicted.length, 400);
  const again = trainDigitProbe(train.features, train.labels, testSet.features, testSet.labels, options);
  assert.deepEqual(again.predicted, probe.predicted);
  assert.equal(again.testLoss, probe.testLoss, 'the same seed gives the same probe');

  // Labels that carry no information about the features: chance level on the test set.
  const noise = Int32Array.from({ length: 400 }, (_, i) => (i * 7) % 10);
  const blind = trainDigitProbe(train.features, Int32Array.from(train.labels, (_, i) => (i * 3) % 10),
    testSet.features, noise, { epochs: 5 });
  assert.ok(blind.accuracy < 0.25, `random labels give about 10%, got ${blind.accuracy}`);
  assert.throws(() => trainDigitProbe(train.features, train.labels.slice(1), testSet.features, testSet.labels),
    /training labels: 599 labels for 600 feature vectors/);
  assert.throws(() => trainDigitProbe(train.features, train.labels, testSet.features, Int32Array.from(testSet.labels, () => 10)),
    /test labels: label 10 at 0 is not a class in 0..9/);
  tf.dispose([train.features, testSet.features]);
});

test('a probe on a tiny CRNN\'s step features runs end to end', () => {
  const model = buildCrnn(TINY);
  const set = makeDigitSet(60, 8, 8);
  const { indices, labels } = sampleImages(set, 40, 'probe');
  assert.equal(new Set(indices).size, 40, 'distinct images');
  assert.deepEqual(Array.from(labels), Array.from(indices, (i) => set.labels[i]));
  assert.deepEqual(sampleImages(set, 40, 'probe').indices, indices, 'seeded');
  const before = tf.memory().numTensors;
  const trainF = stepFeatures(model, set, indices.slice(0, 30), 0);
  const testF = stepFeatures(model, set, indices.slice(30), 0);
  const probe = trainDigitProbe(trainF, labels.slice(0, 30), testF, labels.slice(30), { epochs: 3 });
  assert.ok(probe.accuracy >= 0 && probe.accuracy <= 1);
  tf.dispose([trainF, testF]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => sampleImages(set, 61, 1), /n must be an integer in 1..60, got 61/);
  model.dispose();
});

test('scatterChart colours points by group, in numeric order, with an optional y = x line', async () => {
  const points = [{ x: 0, y: 1, group: 2 }, { x: 1, y: 0, group: 10 }, { x: 0.5, y: 0.5, group: 1 }];
  const spec = scatterChartSpec(points, { title: 'PCA', groupTitle: 'digit', diagonal: true }) as unknown as {
    layer: { mark: { type: string }; encoding: { color?: { sort: string[] } } }[];
  };
  assert.deepEqual(spec.layer.map((l) => l.mark.type), ['line', 'point']);
  assert.deepEqual(spec.layer[1].encoding.color!.sort, ['1', '2', '10']);
  const svg = await scatterChartSvg(points, { title: 'PCA', groupTitle: 'digit' });
  assert.ok(svg.startsWith('<svg') && svg.includes('>PCA<') && svg.includes('>digit<'));
  assert.throws(() => scatterChartSpec([]), /at least one point/);
  assert.throws(() => scatterChartSpec([{ x: NaN, y: 0 }]), /point 0 is not finite/);
});

test('measureDigitProbe gives one p per time step, one probe for a shared CNN, the same for the same model, and leaks nothing', () => {
  const data = { train: makeDigitSet(120, 8, 8), test: makeDigitSet(80, 8, 8) };
  for (const sharedCnn of [false, true]) {
    const model = buildCrnn({ ...TINY, seqLength: 3, sharedCnn }, { seed: 3 });
    const before = tf.memory().numTensors;
    const probe = measureDigitProbe(model, data, { trainDigits: 100 });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(probe.accuracy.length, 3);
    assert.deepEqual([probe.trainDigits, probe.testDigits], [100, 80]);
    for (const p of probe.accuracy) assert.ok(p >= 0 && p <= 1, String(p));
    assert.deepEqual(measureDigitProbe(model, data, { trainDigits: 100 }), probe, 'seeded');
    if (sharedCnn) assert.equal(new Set(probe.accuracy).size, 1, 'the shared CNN answers for every step');
    model.dispose();
  }
  const model = buildCrnn(TINY);
  assert.throws(() => measureDigitProbe(model, data, { testDigits: 81 }), /n must be an integer in 1..80, got 81/);
  model.dispose();
});

test('fitDigitProbes gives measureDigitProbe\'s record and read-outs that predict as the probe did', () => {
  const data = { train: makeDigitSet(120, 8, 8), test: makeDigitSet(80, 8, 8) };
  for (const batchNorm of [false, true]) {
    const model = buildCrnn({ ...TINY, seqLength: 2, batchNorm }, { seed: 5 });
    const before = tf.memory().numTensors;
    const probes = fitDigitProbes(model, data, { trainDigits: 100 });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(probes.record, measureDigitProbe(model, data, { trainDigits: 100 }));
    assert.deepEqual(probes.featureLayers, batchNorm ? ['step0_dense_elu', 'step1_dense_elu'] : ['step0_dense', 'step1_dense']);
    // The read-out applied to the test digits' features finds the accuracy the record states.
    const { indices, labels } = sampleImages(data.test, 80, 'probe-test');
    probes.readouts.forEach((readout, step) => {
      assert.deepEqual([readout.mean.length, readout.weights.length, readout.bias.length], [5, 50, 10]);
      const features = stepFeatures(model, data.test, indices, step);
      const rows = features.arraySync();
      features.dispose();
      const right = rows.filter((row, i) => {
        const p = digitProbabilities(row, readout);
        return p.indexOf(Math.max(...p)) === labels[i];
      }).length;
      // Within one digit of 80: a near tie may break the other way in float64 here than in tfjs's float32.
      assert.ok(Math.abs(right / 80 - probes.record.accuracy[step]) <= 1 / 80, `${right} / 80 against ${probes.record.accuracy[step]}`);
    });
    model.dispose();
  }
});
