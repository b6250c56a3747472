import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn } from '../lib/model/build';
import { MaxPool2x2 } from '../lib/model/layers';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { loadModel, saveRun } from '../lib/runs/persist';
import { tempFolders } from './helpers/temp';

const tempDir = tempFolders('pooling');

/** Largest absolute difference between two tensors of the same shape. */
function maxGap(a: tfTypes.Tensor, b: tfTypes.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

/**
 * Output and input gradient of `pool` on x, for the loss sum(y · weights):
 * random weights make the upstream gradient differ from window to window.
 */
function outputAndGradient(pool: (x: tfTypes.Tensor4D) => tfTypes.Tensor, x: tfTypes.Tensor4D, weights: tfTypes.Tensor) {
  const { value, grad } = tf.valueAndGrad((input: tfTypes.Tensor) => pool(input as tfTypes.Tensor4D).mul(weights).sum())(x);
  return { y: tf.keep(pool(x)), value, grad };
}

test('MaxPool2x2 computes tf.maxPool and the same gradient, for even and odd sizes', () => {
  const layer = new MaxPool2x2({});
  // Normal samples: no two values of a window are equal, so the gradient is unique.
  for (const [shape, seed] of [[[3, 8, 6, 4], 1], [[2, 7, 5, 3], 2], [[1, 9, 9, 1], 3]] as const) {
    tf.tidy(() => {
      const x = tf.randomNormal<tfTypes.Rank.R4>([...shape], 0, 1, 'float32', seed);
      const pooledShape = [shape[0], Math.floor(shape[1] / 2), Math.floor(shape[2] / 2), shape[3]];
      const weights = tf.randomNormal(pooledShape, 0, 1, 'float32', seed + 10);
      const ours = outputAndGradient((input) => layer.apply(input) as tfTypes.Tensor, x, weights);
      const reference = outputAndGradient((input) => tf.maxPool(input, 2, 2, 'valid'), x, weights);
      assert.deepEqual(ours.y.shape, pooledShape);
      assert.deepEqual(ours.y.arraySync(), reference.y.arraySync(), `forward, shape ${shape.join('×')}`);
      assert.deepEqual(ours.grad.shape, x.shape);
      const gap = maxGap(ours.grad, reference.grad);
      assert.ok(gap <= 1e-6, `gradient differs by ${gap} for shape ${shape.join('×')}`);
      // Each window sends its whole gradient to one input: as many non-zeros as outputs.
      assert.equal(tf.notEqual(ours.grad, 0).sum().dataSync()[0], weights.size);
    });
  }
});

test('MaxPool2x2 gives no gradient to an odd last row or column, which is in no window', () => {
  const x = tf.tensor4d([
    1, 2, 9,
    3, 4, 9,
    9, 9, 9,
  ], [1, 3, 3, 1]);
  const grad = tf.grad((input: tfTypes.Tensor) => (new MaxPool2x2({}).apply(input) as tfTypes.Tensor).sum())(x);
  assert.deepEqual(grad.reshape([3, 3]).arraySync(), [[0, 0, 0], [0, 1, 0], [0, 0, 0]]);
  tf.dispose([x, grad]);
});

test('MaxPool2x2 sends the gradient to every tied maximum of a window', () => {
  // tf.maxPool's gradient picks one of the tied inputs; the mask keeps both.
  // In the CRNN ties only happen where ELU is saturated and its gradient ~0.
  const x = tf.tensor4d([5, 5, 1, 2], [1, 2, 2, 1]);
  const grad = tf.grad((input: tfTypes.Tensor) => (new MaxPool2x2({}).apply(input) as tfTypes.Tensor).sum())(x);
  assert.deepEqual(Array.from(grad.dataSync()), [1, 1, 0, 0]);
  tf.dispose([x, grad]);
});

test('MaxPool2x2 halves the spatial shape and rejects inputs that are not 4-D', () => {
  const layer = new MaxPool2x2({ name: 'pool' });
  assert.deepEqual(layer.computeOutputShape([null, 28, 27, 16]), [null, 14, 13, 16]);
  assert.deepEqual(layer.computeOutputShape([null, null, 7, 1]), [null, null, 3, 1]);
  assert.throws(() => layer.computeOutputShape([null, 28, 28]),
    /MaxPool2x2 takes \[batch, height, width, channels\] inputs, got shape \[null, 28, 28\]/);
  const x = tf.zeros([2, 4, 4]);
  assert.throws(() => layer.apply(x), /got shape \[2, 4, 4\]/);
  x.dispose();
});

test('MaxPool2x2 leaves no tensors behind, forward or backward', () => {
  const layer = new MaxPool2x2({});
  const x = tf.randomNormal<tfTypes.Rank.R4>([4, 6, 6, 2]);
  const run = () => {
    const y = layer.apply(x) as tfTypes.Tensor;
    const grad = tf.grad((input: tfTypes.Tensor) => (layer.apply(input) as tfTypes.Tensor).square().sum())(x);
    tf.dispose([y, grad]);
  };
  run();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) run();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

test('CRNNs with the custom layers, per-step and shared CNN, save and load back with identical predictions', async () => {
  for (const sharedCnn of [false, true]) {
    const crnnConfig = resolveCrnnConfig({ filters: [4, 4], denseUnits: 16, hiddenSize: 16, sharedCnn });
    const model = buildCrnn(crnnConfig);
    const prefix = sharedCnn ? 'shared' : 'step0';
    assert.equal(model.getLayer(`${prefix}_pool1`).getClassName(), 'MaxPool2x2');
    const dir = path.join(tempDir(), 'run');
    await saveRun(dir, {
      model, crnnConfig, trainConfig: resolveTrainConfig({ numSteps: 0 }), task: 'difference',
      history: { steps: [], evals: [], endReason: 'completed', elapsedMs: 0 },
    });
    const topology = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).modelTopology;
    const layers: { name: string; class_name: string; config: Record<string, unknown> }[] =
      (topology.model_config ?? topology).config.layers;
    const pools = layers.filter((l) => /_pool[12]$/.test(l.name)).map((l) => l.class_name);
    assert.deepEqual(pools, sharedCnn ? ['MaxPool2x2', 'MaxPool2x2'] : ['MaxPool2x2', 'MaxPool2x2', 'MaxPool2x2', 'MaxPool2x2']);
    if (sharedCnn) {
      assert.equal(layers.find((l) => l.name === 'unfold_time')?.config.seq_length, 2); // tfjs saves configs in snake_case
      assert.equal(layers.find((l) => l.name === 'fold_time')?.class_name, 'FoldTime');
    }

    const loaded = await loadModel(dir);
    const xs = tf.randomUniform([3, 2, 28, 28, 1]);
    const [a, b] = [model.predict(xs) as tfTypes.Tensor, loaded.predict(xs) as tfTypes.Tensor];
    assert.deepEqual(b.arraySync(), a.arraySync(), `sharedCnn: ${sharedCnn}`);
    tf.dispose([xs, a, b]);
    model.dispose();
    loaded.dispose();
  }
});
