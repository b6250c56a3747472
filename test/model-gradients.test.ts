/**
 * lib/model/gradients.ts: the gradients the project registers in place of
 * tfjs's own, against central differences, and the training they make possible.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { registerGradients } from '../lib/model/gradients';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { assertAllClose, FLOAT32_TOLERANCE } from './helpers/close';

/**
 * ∂f/∂x by central differences, element by element. f is evaluated in
 * float32, so each difference carries f's rounding (~1e-6 of |f|) divided by 2h.
 */
function numericGradient(f: (x: tfTypes.Tensor) => tfTypes.Tensor, x: number[][], h = 1e-2): number[][] {
  const at = (i: number, j: number, delta: number) => tf.tidy(() => {
    const moved = x.map((row, a) => row.map((v, b) => (a === i && b === j ? v + delta : v)));
    return f(tf.tensor2d(moved)).dataSync()[0];
  });
  return x.map((row, i) => row.map((_, j) => (at(i, j, h) - at(i, j, -h)) / (2 * h)));
}

/** tfjs's gradient of f at x. */
function gradient(f: (x: tfTypes.Tensor) => tfTypes.Tensor, x: number[][]): number[][] {
  return tf.tidy(() => tf.grad(f)(tf.tensor2d(x)).arraySync() as number[][]);
}

test('tfjs\'s own gradient of unstacking a single slice fails; the registered one is the central difference', () => {
  const x = [[0.5, -1.25, 2]];
  // Σ c_k x_k² over the one slice: ∂/∂x_k = 2 c_k x_k = [1, −5, 12].
  const f = (t: tfTypes.Tensor) => tf.tidy(() => tf.unstack(t)[0].square().mul(tf.tensor1d([1, 2, 3])).sum());
  // This file's first test: nothing has registered the project's gradients yet. tfjs
  // hands over the one slice's gradient bare, and stacks it as if it were a list.
  assert.throws(() => gradient(f, x), /Argument tensors passed to stack must be a `Tensor\[\]`/);
  // (The failed gradient leaves tensors of its tape behind: counted from here.)
  const before = tf.memory().numTensors;
  registerGradients();
  registerGradients(); // a second call is a no-op
  const analytic = gradient(f, x);
  assertAllClose(analytic, [[1, -5, 12]], FLOAT32_TOLERANCE);
  assertAllClose(analytic, numericGradient(f, x), 1e-3);
  assert.equal(tf.memory().numTensors, before);
});

test('the registered gradient of unstacking several slices along an axis sends each slice\'s gradient back to its place', () => {
  registerGradients();
  const before = tf.memory().numTensors;
  const x = [[0.5, -1], [2, 0.25], [-0.75, 1.5]];
  // The columns a, b of x: Σ (a·b + a²) has ∂/∂a = b + 2a and ∂/∂b = a.
  const f = (t: tfTypes.Tensor) => tf.tidy(() => {
    const [a, b] = tf.unstack(t, 1);
    return a.mul(b).add(a.square()).sum();
  });
  const analytic = gradient(f, x);
  assertAllClose(analytic, [[0, 0.5], [4.25, 2], [0, -0.75]], FLOAT32_TOLERANCE);
  assertAllClose(analytic, numericGradient(f, x), 1e-3);
  assert.equal(tf.memory().numTensors, before);
});

test('a model on sequences of length 1 takes eager training steps, its loss finite and its weights moving', async () => {
  const before = tf.memory().numTensors;
  const model = buildCrnn({ seqLength: 1, filters: [4, 5], denseUnits: 16, hiddenSize: 12 });
  const xs = tf.randomUniform([4, 1, 28, 28, 1], 0, 1, 'float32', 3);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 5, 9, 18], 'int32'), 19));
  const kernel = () => Array.from(model.getLayer('rnn_simple').getWeights()[0].dataSync());
  const initial = kernel();
  const [loss] = await model.trainOnBatch(xs, ys) as number[];
  assert.ok(Number.isFinite(loss), `loss ${loss}`);
  assert.notDeepEqual(kernel(), initial, 'the RNN, behind the one-slice unstack, was trained');
  tf.dispose([xs, ys]);
  disposeCrnn(model);
  assert.equal(tf.memory().numTensors, before);
});
