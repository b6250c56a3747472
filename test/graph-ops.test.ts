import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { GraphBuilder, type Signature, type TensorSpec } from '../lib/graph/def';
import { broadcastShapes, OPS, Ops } from '../lib/graph/ops';
import { gradients } from '../lib/graph/autodiff';
import { inTensorFlowMemory, loadSignatures } from '../lib/graph/session';
import { dropoutMask, statelessUniform } from '../lib/model/dropout';

const skip = backend.native ? false : 'graphs run on the native backend';

type Tensor = tfTypes.Tensor;

/**
 * One check of an op's gradient rule: a small graph of the op on
 * placeholders, and the same computation in tfjs, whose gradients are the
 * reference.
 */
interface Case {
  /** The table op whose rule is checked. */
  op: string;
  name: string;
  /** The inputs' sizes, and the shape their placeholders declare (-1: unknown), if other. */
  inputs: { shape: number[]; declared?: number[]; values?: number[] }[];
  /** The op in the graph: its outputs. */
  graph(ops: Ops, xs: string[]): string[];
  /** The same in tfjs. */
  tfjs(xs: Tensor[]): Tensor[];
  /** The inputs whose gradients are compared (default: all). */
  wrt?: number[];
  /** Outputs that get no gradient (left out of the loss). */
  unused?: number[];
  /** Relative tolerance: errors up to rtol times the largest reference value (default 1e-5). */
  rtol?: number;
}

const c = (value: number[]) => ({ values: value, shape: [value.length] });

const cases: Case[] = [
  { op: 'Identity', name: 'identity', inputs: [{ shape: [3, 4] }],
    graph: (ops, [x]) => [ops.identity(x)], tfjs: ([x]) => [tf.clone(x)] },
  ...([[false, false], [false, true], [true, false], [true, true]] as const).map(([ta, tb]): Case => ({
    op: 'MatMul', name: `matMul transposes ${ta} ${tb}`,
    inputs: [{ shape: ta ? [5, 3] : [3, 5], declared: ta ? [5, -1] : [-1, 5] }, { shape: tb ? [4, 5] : [5, 4] }],
    graph: (ops, [a, b]) => [ops.matMul(a, b, ta, tb)], tfjs: ([a, b]) => [tf.matMul(a, b, ta, tb)],
  })),
  { op: 'BiasAdd', name: 'biasAdd over images', inputs: [{ shape: [2, 3, 3, 4], declared: [-1, 3, 3, 4] }, { shape: [4] }],
    graph: (ops, [x, b]) => [ops.biasAdd(x, b)], tfjs: ([x, b]) => [tf.add(x, b)] },
  ...([
    ['same shapes', [3, 4], [3, 4]],
    ['a vector added to rows', [3, 4], [4]],
    ['a column against a row', [3, 1], [1, 4]],
    ['a scalar', [], [2, 3]],
    ['an unknown batch', [-1, 4], [1, 4]],
  ] as const).flatMap(([what, a, b]): Case[] => {
    const size = (s: readonly number[]) => s.map((d) => (d < 0 ? 3 : d));
    const inputs = [{ shape: size(a), declared: [...a] }, { shape: size(b), declared: [...b] }];
    return [
      { op: 'AddV2', name: `add, ${what}`, inputs, graph: (ops, [x, y]) => [ops.add(x, y)], tfjs: ([x, y]) => [tf.add(x, y)] },
      { op: 'Sub', name: `sub, ${what}`, inputs, graph: (ops, [x, y]) => [ops.sub(x, y)], tfjs: ([x, y]) => [tf.sub(x, y)] },
      { op: 'Mul', name: `mul, ${what}`, inputs, graph: (ops, [x, y]) => [ops.mul(x, y)], tfjs: ([x, y]) => [tf.mul(x, y)] },
    ];
  }),
  { op: 'Square', name: 'square', inputs: [{ shape: [3, 4], declared: [-1, 4] }],
    graph: (ops, [x]) => [ops.square(x)], tfjs: ([x]) => [tf.square(x)] },
  { op: 'Square', name: 'an L2 penalty, λ·Σx² over every axis', inputs: [{ shape: [2, 3, 4] }],
    graph: (ops, [x]) => [ops.sum(ops.mul(ops.g.scalar(0.01), ops.square(x)), [0, 1, 2])],
    tfjs: ([x]) => [tf.regularizers.l2({ l2: 0.01 }).apply(x)] },
  { op: 'Tanh', name: 'tanh', inputs: [{ shape: [4, 5] }], graph: (ops, [x]) => [ops.tanh(x)], tfjs: ([x]) => [tf.tanh(x)] },
  { op: 'Elu', name: 'elu', inputs: [{ shape: [4, 5] }], graph: (ops, [x]) => [ops.elu(x)], tfjs: ([x]) => [tf.elu(x)] },
  { op: 'Rsqrt', name: 'rsqrt of positive values', inputs: [{ shape: [2, 3], values: [0.5, 1, 2, 3, 4, 0.25] }],
    graph: (ops, [x]) => [ops.rsqrt(x)], tfjs: ([x]) => [tf.rsqrt(x)] },
  // No gradient flows back: tfjs's is zeros, the sweep's zeros for an input it never reaches.
  { op: 'Floor', name: 'floor', inputs: [{ shape: [4, 5] }], graph: (ops, [x]) => [ops.floor(x)], tfjs: ([x]) => [tf.floor(x)] },
  // A dropout mask of rate 0.4: the graph's noise is the eager layer's (the
  // outputs agree), and the gradient reaches x through the mask alone.
  { op: 'StatelessRandomUniform', name: 'x times the dropout mask of [seed, step], unknown batch',
    inputs: [{ shape: [6, 5], declared: [-1, 5] }],
    graph: (ops, [x]) => {
      const u = ops.statelessUniform(x, ops.g.ints([-123456789, 17]));
      return [ops.mul(x, ops.mul(ops.floor(ops.add(u, ops.g.scalar(0.6))), ops.g.scalar(1 / 0.6)))];
    },
    tfjs: ([x]) => [tf.mul(x, dropoutMask(statelessUniform(x.shape, [-123456789, 17]), 0.4))] },
  { op: 'ClipByValue', name: 'hard sigmoid, as tfjs computes it', inputs: [{ shape: [4, 6], values: undefined }],
    graph: (ops, [x]) => [ops.hardSigmoid(ops.mul(x, ops.g.scalar(4)))],
    tfjs: ([x]) => [tf.clipByValue(tf.add(tf.mul(tf.mul(x, 4), 0.2), 0.5), 0, 1)] },
  { op: 'ClipByValue', name: 'clip at and beyond the bounds (the bounds themselves pass the gradient)',
    inputs: [c([-2.5, -2.5000001, 2.5, 2.5000001, 0, 1, -3, 3])],
    graph: (ops, [x]) => [ops.hardSigmoid(x)],
    tfjs: ([x]) => [tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1)] },
  { op: 'Reshape', name: 'reshape with an unknown batch', inputs: [{ shape: [2, 3, 4], declared: [-1, 3, 4] }],
    graph: (ops, [x]) => [ops.reshape(x, [-1, 12])], tfjs: ([x]) => [tf.reshape(x, [-1, 12])] },
  { op: 'Reshape', name: 'reshape of static shapes', inputs: [{ shape: [2, 3, 4] }],
    graph: (ops, [x]) => [ops.reshape(x, [4, 6])], tfjs: ([x]) => [tf.reshape(x, [4, 6])] },
  { op: 'Unpack', name: 'unstack along axis 1, one slice unused', inputs: [{ shape: [2, 3, 4], declared: [-1, 3, 4] }],
    graph: (ops, [x]) => ops.unstack(x, 3, 1), tfjs: ([x]) => tf.unstack(x, 1), unused: [1] },
  { op: 'Pack', name: 'stack along axis 1', inputs: [{ shape: [2, 4] }, { shape: [2, 4] }, { shape: [2, 4] }],
    graph: (ops, xs) => [ops.stack(xs, 1)], tfjs: (xs) => [tf.stack(xs, 1)] },
  { op: 'ConcatV2', name: 'concat of unequal parts', inputs: [{ shape: [2, 3], declared: [-1, 3] }, { shape: [2, 5], declared: [-1, 5] }],
    graph: (ops, xs) => [ops.concat(xs, 1)], tfjs: (xs) => [tf.concat(xs, 1)] },
  { op: 'ConcatV2', name: 'concat of equal parts along axis 0', inputs: [{ shape: [2, 3] }, { shape: [2, 3] }],
    graph: (ops, xs) => [ops.concat(xs, 0)], tfjs: (xs) => [tf.concat(xs, 0)] },
  { op: 'Split', name: 'split in 3, one part unused', inputs: [{ shape: [2, 9], declared: [-1, 9] }],
    graph: (ops, [x]) => ops.split(x, 3, 1), tfjs: ([x]) => tf.split(x, 3, 1), unused: [1] },
  { op: 'SplitV', name: 'split in parts of 4 and 2', inputs: [{ shape: [6, 3] }],
    graph: (ops, [x]) => ops.splitV(x, [4, 2], 0), tfjs: ([x]) => tf.split(x, [4, 2], 0) },
  ...([
    ['SAME, stride 1, unknown batch', [2, 6, 5, 3], [3, 3, 3, 4], [1, 1], 'SAME', true],
    ['VALID, stride 2', [2, 7, 6, 2], [3, 3, 2, 3], [2, 2], 'VALID', false],
    ['SAME, strides 2 and 1, odd sizes', [1, 7, 5, 2], [3, 2, 2, 3], [2, 1], 'SAME', false],
  ] as const).map(([what, x, k, strides, padding, unknownBatch]): Case => ({
    op: 'Conv2D', name: `conv2d ${what}`,
    inputs: [{ shape: [...x], declared: unknownBatch ? [-1, ...x.slice(1)] : undefined }, { shape: [...k] }],
    graph: (ops, [image, kernel]) => [ops.conv2d(image, kernel, { strides: [...strides], padding })],
    tfjs: ([image, kernel]) => [tf.conv2d(image as tfTypes.Tensor4D, kernel as tfTypes.Tensor4D, [...strides],
      padding === 'SAME' ? 'same' : 'valid')],
    rtol: 1e-4,
  })),
  { op: 'MaxPool', name: 'max-pool 2×2 VALID, odd sizes, unknown batch', inputs: [{ shape: [2, 5, 7, 3], declared: [-1, 5, 7, 3] }],
    graph: (ops, [x]) => [ops.maxPool(x, [2, 2], { strides: [2, 2], padding: 'VALID' })],
    tfjs: ([x]) => [tf.maxPool(x as tfTypes.Tensor4D, 2, 2, 'valid')] },
  { op: 'MaxPool', name: 'max-pool 3×3 SAME, stride 2', inputs: [{ shape: [1, 6, 5, 2] }],
    graph: (ops, [x]) => [ops.maxPool(x, [3, 3], { strides: [2, 2], padding: 'SAME' })],
    tfjs: ([x]) => [tf.maxPool(x as tfTypes.Tensor4D, 3, 2, 'same')] },
  { op: 'SoftmaxCrossEntropyWithLogits', name: 'softmax cross-entropy against soft labels',
    inputs: [{ shape: [3, 5], declared: [-1, 5] }, { shape: [3, 5], declared: [-1, 5],
      values: [0.2, 0.2, 0.2, 0.2, 0.2, 1, 0, 0, 0, 0, 0, 0.5, 0, 0.5, 0] }],
    graph: (ops, [logits, labels]) => [ops.softmaxCrossEntropy(logits, labels).loss],
    tfjs: ([logits, labels]) => [tf.neg(tf.sum(tf.mul(labels, tf.logSoftmax(logits)), -1))],
    wrt: [0] },
  // Training mode: the batch's statistics, as tfjs's batchNorm computes with
  // moments over every axis but the last. Images, and a matrix (reshaped to
  // the kernel's 4-D and back).
  ...([
    ['images, unknown batch', [3, 4, 5, 6], [-1, 4, 5, 6]],
    ['a matrix, unknown batch', [7, 6], [-1, 6]],
  ] as const).map(([what, shape, declared]): Case => ({
    op: 'FusedBatchNormV3', name: `fused batch normalisation in training, ${what}`,
    inputs: [{ shape: [...shape], declared: [...declared] }, { shape: [6] }, { shape: [6] }],
    graph: (ops, [x, gamma, beta]) => {
      const unused = ops.g.constant({ dtype: 'float32', shape: [6], values: new Array(6).fill(0) });
      return [ops.fusedBatchNorm(x, gamma, beta, unused, unused, 1e-3, true).y];
    },
    tfjs: ([x, gamma, beta]) => {
      const { mean, variance } = tf.moments(x, shape.slice(0, -1).map((_, i) => i));
      return [tf.batchNorm(x, mean, variance, beta, gamma, 1e-3)];
    },
    rtol: 1e-4,
  })),
  ...([
    ['a vector of unknown size', [5], [-1], [0], false],
    ['images over batch, height and width (unknown batch), kept', [2, 3, 4, 5], [-1, 3, 4, 5], [0, 1, 2], true],
    ['the last axis of a static matrix', [3, 4], undefined, [-1], false],
    ['the rows of a matrix of unknown shape', [3, 4], [-1, -1], [1], false],
    ['the first and last axes of a 3-D tensor of unknown sizes', [2, 3, 4], [-1, -1, 4], [2, 0], false],
  ] as const).flatMap(([what, shape, declared, axes, keepDims]): Case[] => ['Mean', 'Sum'].map((op) => ({
    op, name: `${op} of ${what}`, inputs: [{ shape: [...shape], declared: declared && [...declared] }],
    graph: (ops, [x]) => [op === 'Mean' ? ops.mean(x, [...axes], keepDims) : ops.sum(x, [...axes], keepDims)],
    tfjs: ([x]) => [op === 'Mean' ? tf.mean(x, [...axes], keepDims) : tf.sum(x, [...axes], keepDims)],
  }))),
];

/** The graph of one case: its signature, and the order of its outputs. */
function writeCase(g: GraphBuilder, ops: Ops, k: number, testCase: Case): Signature {
  return g.inScope(`case${k}`, () => {
    const xs = testCase.inputs.map((input, i) => g.placeholder(`x${i}`, 'float32', input.declared ?? input.shape));
    const ys = testCase.graph(ops, xs.map((x) => x.ref));
    const used = ys.map((_, i) => i).filter((i) => !(testCase.unused ?? []).includes(i));
    const dys = used.map((i) => g.placeholder(`dy${i}`, 'float32', ops.shapeOf(ys[i])));
    const wrt = testCase.wrt ?? testCase.inputs.map((_, i) => i);
    const grads = gradients(ops, used.map((i) => ys[i]), wrt.map((i) => xs[i].ref), dys.map((d) => d.ref));
    // Fetched through an Identity: a gradient may be a fed dy itself, which a session cannot also fetch.
    const spec = (ref: string): TensorSpec => ({
      ref: g.node('Identity', [ref], { T: { type: 'float32' } }), dtype: 'float32', shape: ops.shapeOf(ref),
    });
    return {
      inputs: Object.fromEntries([...xs.map((x, i) => [`x${i}`, x]), ...dys.map((d, j) => [`dy${used[j]}`, d])]),
      outputs: Object.fromEntries([
        ...ys.map((y, i) => [`y${i}`, spec(y)]),
        ...grads.map((grad, j) => [`grad${wrt[j]}`, { ...spec(grad), shape: ops.shapeOf(xs[wrt[j]].ref) }]),
      ]),
    };
  });
}

function maxAbs(t: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0]);
}

test('every op of the table has a gradient check', () => {
  assert.deepEqual([...new Set(cases.map((c) => c.op))].sort(), Object.keys(OPS).sort());
});

test('each op\'s gradient in the graph is the gradient tfjs computes', { skip }, async () => {
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const signatures = Object.fromEntries(cases.map((testCase, k) => [`case${k}`, writeCase(g, ops, k, testCase)]));
  const loaded = await loadSignatures(g.toSavedModel(signatures), Object.keys(signatures));
  try {
    cases.forEach((testCase, k) => {
      tf.tidy(() => {
        const xs = testCase.inputs.map((input, i) => (input.values
          ? tf.tensor(input.values, input.shape)
          : tf.randomUniform(input.shape, -2, 2, 'float32', 10 * k + i)));
        const ysTfjs = testCase.tfjs(xs);
        const used = ysTfjs.map((_, i) => i).filter((i) => !(testCase.unused ?? []).includes(i));
        const dys = new Map(used.map((i) => [i, tf.randomUniform(ysTfjs[i].shape, -1, 1, 'float32', 1000 + 10 * k + i)]));
        const loss = (...args: Tensor[]) => tf.addN(testCase.tfjs(args)
          .flatMap((y, i) => (dys.has(i) ? [tf.sum(tf.mul(y, dys.get(i) as Tensor))] : [])));
        const reference = tf.grads(loss)(xs);
        const feeds = Object.fromEntries([
          ...xs.map((x, i) => [`x${i}`, inTensorFlowMemory(x)]),
          ...[...dys].map(([i, dy]) => [`dy${i}`, inTensorFlowMemory(dy)]),
        ]);
        const out = loaded[`case${k}`].predict(feeds);
        const check = (what: string, actual: Tensor, expected: Tensor, rtol: number) => {
          assert.deepEqual(actual.shape, expected.shape, `${testCase.name}: ${what} shape`);
          const scale = Math.max(maxAbs(expected), 1e-6);
          const error = maxAbs(tf.sub(actual, expected));
          assert.ok(error <= rtol * scale, `${testCase.name}: ${what} off by ${error} (scale ${scale})`);
        };
        ysTfjs.forEach((y, i) => check(`output ${i}`, out[`y${i}`], y, 1e-5));
        for (const i of testCase.wrt ?? xs.map((_, j) => j)) {
          check(`gradient of input ${i}`, out[`grad${i}`], reference[i], testCase.rtol ?? 1e-5);
        }
      });
    });
  } finally {
    for (const signature of Object.values(loaded)) signature.dispose();
  }
});

test('broadcastShapes follows NumPy\'s rule, an unknown size taking the other\'s, and names shapes that do not broadcast', () => {
  assert.deepEqual(broadcastShapes([3, 4], [4]), [3, 4]);
  assert.deepEqual(broadcastShapes([3, 1], [1, 4]), [3, 4]);
  assert.deepEqual(broadcastShapes([], [2, 3]), [2, 3]);
  assert.deepEqual(broadcastShapes([-1, 4], [1, 4]), [-1, 4]);
  assert.deepEqual(broadcastShapes([-1, 1], [5, 4]), [5, 4]);
  assert.throws(() => broadcastShapes([3, 4], [2, 4]), /shapes \[3, 4\] and \[2, 4\] do not broadcast/);
});

test('the table\'s ops record their output shapes, -1 for the sizes known only when the graph runs', () => {
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const image = g.placeholder('image', 'float32', [-1, 7, 6, 2]).ref;
  const kernel = g.placeholder('kernel', 'float32', [3, 3, 2, 5]).ref;
  assert.deepEqual(ops.shapeOf(ops.conv2d(image, kernel)), [-1, 7, 6, 5]);
  assert.deepEqual(ops.shapeOf(ops.conv2d(image, kernel, { strides: [2, 2], padding: 'SAME' })), [-1, 4, 3, 5]);
  assert.deepEqual(ops.shapeOf(ops.conv2d(image, kernel, { strides: [2, 2], padding: 'VALID' })), [-1, 3, 2, 5]);
  assert.deepEqual(ops.shapeOf(ops.maxPool(image, [2, 2], { strides: [2, 2], padding: 'VALID' })), [-1, 3, 3, 2]);
  const rows = g.placeholder('rows', 'float32', [-1, 5]).ref;
  const [a, b] = [g.placeholder('a', 'float32', [5, 4]).ref, g.placeholder('b', 'float32', [4, 5]).ref];
  assert.deepEqual(ops.shapeOf(ops.matMul(rows, a)), [-1, 4]);
  assert.deepEqual(ops.shapeOf(ops.matMul(a, b, true, true)), [4, 4]);
  assert.deepEqual(ops.shapeOf(ops.matMul(rows, b, false, true)), [-1, 4]);
  assert.deepEqual(ops.shapeOf(ops.sum(rows, [1], true)), [-1, 1]);
  assert.deepEqual(ops.shapeOf(ops.mean(image, [0, -1])), [7, 6]);
  assert.deepEqual(ops.shapeOf(ops.concat([rows, ops.matMul(rows, a)], 1)), [-1, 9]);
  assert.deepEqual(ops.shapeOf(ops.concat([rows, rows], 0)), [-1, 5]);
  assert.deepEqual(ops.split(ops.matMul(rows, a), 2, 1).map((part) => ops.shapeOf(part)), [[-1, 2], [-1, 2]]);
  assert.deepEqual(ops.splitV(rows, [4, 1], 1).map((part) => ops.shapeOf(part)), [[-1, 4], [-1, 1]]);
  assert.deepEqual(ops.shapeOf(ops.reshape(a, [-1, 10])), [2, 10]);
  assert.deepEqual(ops.shapeOf(ops.reshape(image, [-1, 84])), [-1, 84]);
  assert.deepEqual(ops.unstack(image, 7, 1).map((slice) => ops.shapeOf(slice))[0], [-1, 6, 2]);
  assert.deepEqual(ops.shapeOf(ops.stack([rows, rows, rows], 1)), [-1, 3, 5]);
  const logits = ops.softmaxCrossEntropy(rows, rows);
  assert.deepEqual([ops.shapeOf(logits.loss), ops.shapeOf(logits.backprop)], [[-1], [-1, 5]]);
  assert.deepEqual(ops.shapeOf(ops.statelessUniform(image, g.ints([1, 2]))), [-1, 7, 6, 2]);
  // A later output's shape is recorded under its own reference, 'name:k'.
  const [, second] = ops.split(rows, 5, 1);
  assert.match(second, /^Split_\d+:1$/);
  assert.deepEqual(ops.shapeOf(second), [-1, 1]);
});

test('Ops writes no node where none is needed and gives back the slices a concatenation was made of', () => {
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const x = g.placeholder('x', 'float32', [-1, 3, 4]).ref;
  const count = () => g.nodes.length;
  const before = count();
  assert.equal(ops.reshape(x, [-1, 3, 4]), x);
  assert.equal(ops.concat([x], 1), x);
  assert.deepEqual(ops.splitV(x, [3], 1), [x]);
  assert.equal(count(), before);
  // A reshape of a reshape reads the original.
  const twice = ops.reshape(ops.reshape(x, [-1, 12]), [-1, 2, 6]);
  assert.equal(g.producer(twice).inputs[0], x);
  // Equal parts are a Split; unstacking the same tensor twice gives the same slices.
  assert.equal(g.producer(ops.splitV(x, [2, 2], 2)[0]).op, 'Split');
  const slices = ops.unstack(x, 3, 1);
  assert.equal(g.producer(slices[0]).op, 'Unpack');
  assert.deepEqual(ops.unstack(x, 3, 1), slices);
  // Slices of size 1 concatenated along the axis: unstacking takes them back, reshaped, without an Unpack.
  const parts = [0, 1].map((k) => g.placeholder(`part${k}`, 'float32', [-1, 1, 4]).ref);
  const unstacked = ops.unstack(ops.concat(parts, 1), 2, 1);
  unstacked.forEach((slice, k) => {
    assert.equal(g.producer(slice).op, 'Reshape');
    assert.equal(g.producer(slice).inputs[0], parts[k]);
    assert.deepEqual(ops.shapeOf(slice), [-1, 4]);
  });
});

test('Ops refuses an op outside the table, a non-constant axis, an output of unknown shape and unknown inner sizes to normalise', () => {
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const x = g.placeholder('x', 'float32', [-1, 4]).ref;
  assert.throws(() => ops.apply('Round', [x], {}), /Round is not in the op table/);
  const axes = g.placeholder('axes', 'int32', [1]).ref;
  assert.throws(() => ops.apply('Sum', [x, axes], { keep_dims: { b: false } }), /Sum Sum: input 1 must be a constant/);
  const unshaped = g.node('Relu', [x], { T: { type: 'float32' } });
  assert.throws(() => ops.tanh(unshaped), /no static shape is known for 'Relu'/);
  const open = g.placeholder('open', 'float32', [-1, -1, 4]).ref;
  const channels = g.placeholder('gamma', 'float32', [4]).ref;
  assert.throws(() => ops.fusedBatchNorm(open, channels, channels, channels, channels, 1e-3, true),
    /batch normalisation of a tensor of shape \[-1, -1, 4\]: only the batch size may be unknown/);
});
