import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { dropoutMask, SeededDropout, setDropoutStep, statelessUniform } from '../lib/model/dropout';
import { maxAbsDiff } from './helpers/models';

test('SeededDropout: the mask follows the seed and the step, keeps 1 − rate of the units scaled by 1/(1 − rate), and is off outside training', () => {
  const layer = new SeededDropout({ rate: 0.25, seed: 1234 });
  const x = tf.ones([200, 50]);
  const before = tf.memory().numTensors;
  const apply = (step: number) => {
    layer.step = step;
    return layer.apply(x, { training: true }) as tfTypes.Tensor;
  };
  const [a, b, c] = [apply(7), apply(7), apply(8)];
  assert.equal(layer.step, 9, 'each training call moves the step on');
  assert.equal(maxAbsDiff(a, b), 0, 'the same seed and step give the same mask');
  assert.ok(maxAbsDiff(a, c) > 0, 'another step gives another mask');
  const values = a.dataSync();
  const kept = values.filter((v) => v !== 0);
  assert.ok(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6), 'kept units are scaled by 1/keep');
  const keptShare = kept.length / values.length;
  assert.ok(Math.abs(keptShare - 0.75) < 0.02, `kept ${keptShare} of the units`);
  const other = new SeededDropout({ rate: 0.25, seed: 1235 });
  other.step = 7;
  const d = other.apply(x, { training: true }) as tfTypes.Tensor;
  assert.ok(maxAbsDiff(a, d) > 0, 'another seed gives another mask');
  // Outside training the input passes unchanged, and the step stays.
  const passed = [{}, { training: false }].map((kwargs) => layer.apply(x, kwargs) as tfTypes.Tensor);
  for (const y of passed) assert.equal(maxAbsDiff(y, x), 0);
  assert.equal(layer.step, 9);
  tf.dispose([a, b, c, d, ...passed.filter((y) => y !== x)]);
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  assert.deepEqual(layer.getConfig().rate, 0.25);
  assert.deepEqual(layer.getConfig().seed, 1234);
  assert.throws(() => new SeededDropout({ rate: 1, seed: 1 }), /rate must be a number in \[0, 1\), got 1/);
  assert.throws(() => new SeededDropout({ rate: 0.5, seed: 2 ** 31 }), /seed must be an int32/);
  assert.throws(() => statelessUniform([2], [1, 0.5]), /two int32 values/);
  x.dispose();
});

test('statelessUniform draws the same numbers in [0, 1) for the same key and others for another key', () => {
  const before = tf.memory().numTensors;
  const [a, b, c] = [statelessUniform([3, 40], [5, 1]), statelessUniform([3, 40], [5, 1]), statelessUniform([3, 40], [5, 2])];
  assert.deepEqual(a.shape, [3, 40]);
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.ok(maxAbsDiff(a, c) > 0);
  assert.ok(a.dataSync().every((u) => u >= 0 && u < 1));
  tf.dispose([a, b, c]);
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
});

test('dropoutMask keeps a unit where u + keep reaches 1, scaled by 1/keep, and drops the others', () => {
  const u = tf.tensor1d([0, 0.24, 0.25, 0.5, 0.99]);
  const mask = dropoutMask(u, 0.75);
  // keep = 0.25: u < 0.75 gives floor(u + 0.25) = 0, u ≥ 0.75 gives 1, and a kept unit is scaled by 4.
  assert.deepEqual(Array.from(mask.dataSync()), [0, 0, 0, 0, 4]);
  const none = dropoutMask(u, 0);
  assert.deepEqual(Array.from(none.dataSync()), [1, 1, 1, 1, 1]);
  tf.dispose([u, mask, none]);
});

test('setDropoutStep sets the mask step of every dropout layer of a model', () => {
  const model = buildCrnn({ filters: [2, 2], denseUnits: 8, hiddenSize: 8, dropout: 0.3 });
  const dropouts = model.layers.filter((layer): layer is SeededDropout => layer instanceof SeededDropout);
  assert.deepEqual(dropouts.map((layer) => layer.name).sort(), ['rnn_dropout', 'step0_dropout', 'step1_dropout']);
  setDropoutStep(model, 42);
  assert.deepEqual(dropouts.map((layer) => layer.step), [42, 42, 42]);
  disposeCrnn(model);
});
