/**
 * The ops the graph engine differentiates: one table entry per TensorFlow op,
 * holding its forward definition (how its output shapes follow from its
 * inputs and attributes) and, beside it, its gradient, as tfjs registers one
 * gradient per kernel. The gradient sweep (autodiff.ts) reads the table; the
 * `Ops` class at the end writes the ops with their attributes filled in, so
 * that layer code reads as arithmetic: `ops.matMul(x, w)`.
 *
 * Adding an op: an entry in OPS with `shapes` and `grad`, a method in `Ops`,
 * and a case in test/graph-ops.test.ts, which checks every entry's
 * gradient against tfjs's.
 *
 * Static shapes: -1 stands for a size known only when the graph runs (the
 * batch, or the batch times the sequence length). Gradients of broadcasting
 * ops sum over the broadcast dimensions, which are decided from the static
 * shapes; an unknown size is taken to be broadcast never, which holds in
 * these graphs, where only the batch is unknown.
 */
import { outputRef, type Attr, type GraphBuilder, type NodeSpec, type Shape } from './def';

const FLOAT: Attr = { type: 'float32' };
const INT: Attr = { type: 'int32' };

/** What a shape rule sees of a node being added. */
export interface ShapeContext {
  node: NodeSpec;
  /** The static shape of data input k. */
  shape(k: number): Shape;
  /** The values of data input k, which must be a constant (an axis, a shape). */
  constant(k: number): number[];
}

/** What a gradient rule sees of a node on the path from the weights to the loss. */
export interface GradContext {
  ops: Ops;
  node: NodeSpec;
  /** The node's data inputs. */
  inputs: string[];
  /** The node's outputs. */
  outputs: string[];
  /**
   * dL/d(output k) for each output; undefined where no path from that output
   * reaches the loss (only multi-output ops see undefined entries).
   */
  dys: (string | undefined)[];
  /** dys[0], for single-output ops. */
  dy: string;
}

/**
 * The gradient of each data input, as a function that writes it (called only
 * for inputs on a path from the weights), or null where no gradient flows:
 * an integer input (an axis, a shape, a random seed), or the input of an op
 * whose output is constant almost everywhere (Floor), as in TensorFlow, whose
 * gradient for these is None. The sweep sends nothing back through a null.
 */
export type InputGrads = ((() => string) | null)[];

/** The gradient of a float input that the table does not differentiate: asking for it is an error. */
function refused(c: GradContext, what: string): () => string {
  return () => {
    throw new Error(`${c.node.op} (node ${c.node.name}): the gradient of ${what} is not implemented`);
  };
}

/** One op: its forward definition and its gradient. */
export interface OpDef {
  /** The static shapes of the outputs. */
  shapes(c: ShapeContext): Shape[];
  /** The gradients of the inputs from those of the outputs. */
  grad(c: GradContext): InputGrads;
}

function attrB(node: NodeSpec, key: string): boolean {
  const a = node.attrs[key];
  return a !== undefined && 'b' in a ? a.b : false;
}
function attrI(node: NodeSpec, key: string): number {
  const a = node.attrs[key];
  if (a === undefined || !('i' in a)) throw new Error(`node ${node.name} (${node.op}) has no integer attribute ${key}`);
  return a.i;
}
function attrInts(node: NodeSpec, key: string): number[] {
  const a = node.attrs[key];
  if (a === undefined || !('ints' in a)) throw new Error(`node ${node.name} (${node.op}) has no list attribute ${key}`);
  return a.ints;
}
function attrS(node: NodeSpec, key: string): string {
  const a = node.attrs[key];
  if (a === undefined || !('s' in a)) throw new Error(`node ${node.name} (${node.op}) has no string attribute ${key}`);
  return a.s;
}

/** `axis` counted from the front of a rank-`rank` shape. */
function normalizeAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** The sum of sizes, unknown if one of them is. */
function addSizes(sizes: number[]): number {
  return sizes.some((s) => s < 0) ? -1 : sizes.reduce((a, b) => a + b, 0);
}

/** NumPy broadcasting of two static shapes. */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const pa = [...new Array<number>(rank - a.length).fill(1), ...a];
  const pb = [...new Array<number>(rank - b.length).fill(1), ...b];
  return pa.map((x, i) => {
    const y = pb[i];
    if (x === y || y === 1) return x;
    if (x === 1) return y;
    if (x === -1) return y;
    if (y === -1) return x;
    throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
  });
}

/** The output size of a window op along one dimension (TensorFlow's SAME and VALID). */
function windowOutput(size: number, window: number, stride: number, padding: string): number {
  if (size < 0) return -1;
  return padding === 'SAME' ? Math.ceil(size / stride) : Math.floor((size - window) / stride) + 1;
}

/** Shape of a Reshape to `target` (one -1 allowed) of an input of shape `input`. */
function reshapeShape(input: Shape, target: number[]): Shape {
  const unknownAt = target.indexOf(-1);
  if (unknownAt < 0 || input.some((d) => d < 0)) return [...target];
  const known = target.reduce((p, d) => (d < 0 ? p : p * d), 1);
  const total = input.reduce((p, d) => p * d, 1);
  return target.map((d) => (d < 0 ? total / known : d));
}

/** Reduced shape of `input` over `axes`. */
function reducedShape(input: Shape, axes: number[], keepDims: boolean): Shape {
  const reduced = new Set(axes.map((a) => normalizeAxis(a, input.length)));
  return keepDims ? input.map((d, i) => (reduced.has(i) ? 1 : d)) : input.filter((_, i) => !reduced.has(i));
}

/**
 * `grad`, of shape `from`, summed down to shape `to` over the dimensions that
 * broadcasting added or stretched.
 */
function reduceTo(ops: Ops, grad: string, from: Shape, to: Shape): string {
  const lead = from.length - to.length;
  const axes = from.flatMap((d, i) => (i < lead || (to[i - lead] === 1 && d !== 1) ? [i] : []));
  if (axes.length === 0) return grad;
  const summed = ops.sum(grad, axes, true);
  return lead === 0 ? summed : ops.reshape(summed, to);
}

/** The upstream gradient of each output of a multi-output op, zeros where none arrives. */
function dysOrZeros(c: GradContext): string[] {
  return c.dys.map((dy, k) => dy ?? c.ops.zerosLike(c.outputs[k]));
}

/** The gradient of Mean and Sum: dy spread back over the reduced axes (divided by their size for Mean). */
function reductionGrad(c: GradContext, mean: boolean): InputGrads {
  const { ops, node, inputs: [x, axesRef] } = c;
  const g = ops.g;
  return [() => {
    const xShape = ops.shapeOf(x);
    const axes = (g.constValues(axesRef) ?? []).map((a) => normalizeAxis(a, xShape.length));
    let dy = c.dy;
    if (mean) {
      // The number of values averaged: static where their sizes are, else
      // size(x) / size(y), from the sizes when the graph runs.
      const product = (sizes: number[]) => (sizes.every((s) => s >= 0) ? sizes.reduce((p, s) => p * s, 1) : undefined);
      const averaged = product(axes.map((a) => xShape[a]));
      const outputs = product(ops.shapeOf(c.outputs[0]));
      const xSize = () => ops.castToFloat(ops.size(x));
      const count = averaged !== undefined ? g.scalar(averaged)
        : outputs === 1 ? xSize()
          : ops.realDiv(xSize(), outputs !== undefined ? g.scalar(outputs) : ops.castToFloat(ops.size(c.outputs[0])));
      dy = ops.realDiv(dy, count);
    }
    // dy with the reduced axes put back, of size 1, then spread over them.
    const kept = attrB(node, 'keep_dims') ? dy : [...axes].sort((p, q) => p - q).reduce((d, axis) => ops.expandDims(d, axis), dy);
    return ops.broadcastTo(kept, x);
  }, null];
}

/** A MatMul's gradients; `a`, `b` as in the forward op, transposes from its attributes. */
function matMulGrad(c: GradContext): InputGrads {
  const { ops, node, inputs: [a, b], dy } = c;
  const [ta, tb] = [attrB(node, 'transpose_a'), attrB(node, 'transpose_b')];
  if (!ta && !tb) return [() => ops.matMul(dy, b, false, true), () => ops.matMul(a, dy, true, false)];
  if (!ta && tb) return [() => ops.matMul(dy, b), () => ops.matMul(dy, a, true, false)];
  if (ta && !tb) return [() => ops.matMul(b, dy, false, true), () => ops.matMul(a, dy)];
  return [() => ops.matMul(b, dy, true, true), () => ops.matMul(dy, a, true, true)];
}

/** Writes nodes once, when first asked, for the input gradients that share them. */
function once<T>(write: () => T): () => T {
  let written: { value: T } | undefined;
  return () => (written ??= { value: write() }).value;
}

/** The gradient of an op that splits its input along `axis` into the node's outputs. */
function splitGrad(c: GradContext, axis: number): string {
  return c.ops.concat(dysOrZeros(c), axis);
}

const same = (c: ShapeContext): Shape[] => [c.shape(0)];

/** The ops the gradient sweep can differentiate, by TensorFlow op name. */
export const OPS: Record<string, OpDef> = {
  Identity: {
    shapes: same,
    grad: (c) => [() => c.dy],
  },
  MatMul: {
    shapes: (c) => {
      const [a, b] = [c.shape(0), c.shape(1)];
      return [[attrB(c.node, 'transpose_a') ? a[1] : a[0], attrB(c.node, 'transpose_b') ? b[0] : b[1]]];
    },
    grad: matMulGrad,
  },
  BiasAdd: {
    shapes: same,
    grad: (c) => [() => c.dy, () => c.ops.biasAddGrad(c.dy)],
  },
  AddV2: {
    shapes: (c) => [broadcastShapes(c.shape(0), c.shape(1))],
    grad: (c) => {
      const out = c.ops.shapeOf(c.outputs[0]);
      return c.inputs.map((x) => () => reduceTo(c.ops, c.dy, out, c.ops.shapeOf(x)));
    },
  },
  Sub: {
    shapes: (c) => [broadcastShapes(c.shape(0), c.shape(1))],
    grad: (c) => {
      const { ops, inputs: [a, b], dy } = c;
      const out = ops.shapeOf(c.outputs[0]);
      return [() => reduceTo(ops, dy, out, ops.shapeOf(a)), () => reduceTo(ops, ops.neg(dy), out, ops.shapeOf(b))];
    },
  },
  Mul: {
    shapes: (c) => [broadcastShapes(c.shape(0), c.shape(1))],
    grad: (c) => {
      const { ops, inputs: [a, b], dy } = c;
      const out = ops.shapeOf(c.outputs[0]);
      return [() => reduceTo(ops, ops.mul(dy, b), out, ops.shapeOf(a)), () => reduceTo(ops, ops.mul(a, dy), out, ops.shapeOf(b))];
    },
  },
  // x², as in the penalty of an L2 regulariser; tfjs's gradient, dy·(2x).
  Square: {
    shapes: same,
    grad: (c) => [() => c.ops.mul(c.dy, c.ops.mul(c.inputs[0], c.ops.g.scalar(2)))],
  },
  // Gradient −½·y³·dy (TensorFlow's RsqrtGrad(y, dy)).
  Rsqrt: {
    shapes: same,
    grad: (c) => [() => c.ops.g.node('RsqrtGrad', [c.outputs[0], c.dy], { T: FLOAT })],
  },
  // Piecewise constant: no gradient (TensorFlow's is None; tfjs's, zeros).
  Floor: {
    shapes: same,
    grad: () => [null],
  },
  // Uniform noise in [0, 1) from the int32 shape and seed inputs (dropout
  // masks): nothing flows back to either. The shape input is known when the
  // graph runs (Shape of a tensor with an unknown batch); Ops.statelessUniform
  // records the static shape.
  StatelessRandomUniform: {
    shapes: (c) => [Array.from({ length: c.shape(0)[0] }, () => -1)],
    grad: () => [null, null],
  },
  Tanh: {
    shapes: same,
    grad: (c) => [() => c.ops.g.node('TanhGrad', [c.outputs[0], c.dy], { T: FLOAT })],
  },
  Elu: {
    shapes: same,
    grad: (c) => [() => c.ops.g.node('EluGrad', [c.dy, c.outputs[0]], { T: FLOAT })],
  },
  // tfjs's rule, which is TensorFlow's: the gradient passes where lo ≤ x ≤ hi.
  ClipByValue: {
    shapes: same,
    grad: (c) => {
      const { ops, inputs: [x, lo, hi] } = c;
      return [() => {
        const inside = ops.g.node('LogicalAnd', [
          ops.g.node('GreaterEqual', [x, lo], { T: FLOAT }),
          ops.g.node('LessEqual', [x, hi], { T: FLOAT }),
        ]);
        ops.g.setShape(inside, ops.shapeOf(x));
        return ops.mul(c.dy, ops.castToFloat(inside, 'bool'));
      }, refused(c, 'the clipping bounds'), refused(c, 'the clipping bounds')];
    },
  },
  Reshape: {
    shapes: (c) => [reshapeShape(c.shape(0), c.constant(1))],
    grad: (c) => [() => c.ops.reshapeLike(c.dy, c.inputs[0]), null],
  },
  Unpack: {
    shapes: (c) => {
      const input = c.shape(0);
      const axis = normalizeAxis(attrI(c.node, 'axis'), input.length);
      const slice = input.filter((_, i) => i !== axis);
      return Array.from({ length: attrI(c.node, 'num') }, () => slice);
    },
    grad: (c) => [() => c.ops.stack(dysOrZeros(c), attrI(c.node, 'axis'))],
  },
  Pack: {
    shapes: (c) => {
      const part = c.shape(0);
      const axis = normalizeAxis(attrI(c.node, 'axis'), part.length + 1);
      return [[...part.slice(0, axis), c.node.inputs.length, ...part.slice(axis)]];
    },
    grad: (c) => {
      const parts = once(() => c.ops.unstack(c.dy, c.inputs.length, attrI(c.node, 'axis')));
      return c.inputs.map((_, k) => () => parts()[k]);
    },
  },
  ConcatV2: {
    shapes: (c) => {
      const n = c.node.inputs.length - 1;
      const parts = Array.from({ length: n }, (_, k) => c.shape(k));
      const axis = normalizeAxis(c.constant(n)[0], parts[0].length);
      return [parts[0].map((d, i) => (i === axis ? addSizes(parts.map((p) => p[axis])) : d))];
    },
    grad: (c) => {
      const { ops } = c;
      const values = c.inputs.slice(0, -1);
      const rank = ops.shapeOf(values[0]).length;
      const axis = normalizeAxis(ops.g.constValues(c.inputs[values.length])?.[0] ?? NaN, rank);
      const parts = once(() => ops.splitV(c.dy, values.map((v) => ops.shapeOf(v)[axis]), axis));
      return [...values.map((_, k) => () => parts()[k]), null];
    },
  },
  Split: {
    shapes: (c) => {
      const input = c.shape(1);
      const axis = normalizeAxis(c.constant(0)[0], input.length);
      const num = attrI(c.node, 'num_split');
      const part = input.map((d, i) => (i === axis && d >= 0 ? d / num : d));
      return Array.from({ length: num }, () => part);
    },
    grad: (c) => [null, () => splitGrad(c, c.ops.g.constValues(c.inputs[0])?.[0] ?? NaN)],
  },
  SplitV: {
    shapes: (c) => {
      const input = c.shape(0);
      const sizes = c.constant(1);
      const axis = normalizeAxis(c.constant(2)[0], input.length);
      return sizes.map((s) => input.map((d, i) => (i === axis ? s : d)));
    },
    grad: (c) => [() => splitGrad(c, c.ops.g.constValues(c.inputs[2])?.[0] ?? NaN), null, null],
  },
  Conv2D: {
    shapes: (c) => {
      const [n, h, w] = c.shape(0);
      const [kh, kw, , filters] = c.shape(1);
      const [, sh, sw] = attrInts(c.node, 'strides');
      const padding = attrS(c.node, 'padding');
      return [[n, windowOutput(h, kh, sh, padding), windowOutput(w, kw, sw, padding), filters]];
    },
    grad: (c) => {
      const { ops, node, inputs: [x, kernel], dy } = c;
      return [
        () => ops.g.node('Conv2DBackpropInput', [ops.shapeTensor(x), kernel, dy], node.attrs),
        () => ops.g.node('Conv2DBackpropFilter', [x, ops.shapeTensor(kernel), dy], node.attrs),
      ];
    },
  },
  MaxPool: {
    shapes: (c) => {
      const [n, h, w, ch] = c.shape(0);
      const [, kh, kw] = attrInts(c.node, 'ksize');
      const [, sh, sw] = attrInts(c.node, 'strides');
      const padding = attrS(c.node, 'padding');
      return [[n, windowOutput(h, kh, sh, padding), windowOutput(w, kw, sw, padding), ch]];
    },
    grad: (c) => [() => c.ops.g.node('MaxPoolGrad', [c.inputs[0], c.outputs[0], c.dy], c.node.attrs)],
  },
  // Outputs: the loss per example and its gradient, softmax(logits) − labels.
  SoftmaxCrossEntropyWithLogits: {
    shapes: (c) => {
      const logits = c.shape(0);
      return [[logits[0]], logits];
    },
    grad: (c) => {
      if (c.dys[1] !== undefined) refused(c, 'its second output')();
      const { ops } = c;
      return [() => ops.mul(ops.expandDims(c.dy, -1), c.outputs[1]), refused(c, 'the labels')];
    },
  },
  // Batch normalisation over the last axis of an NHWC tensor, in one kernel.
  // Inputs x, γ, β, mean, variance. In training (is_training) the statistics
  // are the batch's and the outputs are y, the batch mean, the batch variance
  // with Bessel's correction n/(n − 1), and three reserve spaces that the
  // gradient kernel reads; at evaluation the given mean and variance are
  // used. Only y is differentiated, and only in training.
  FusedBatchNormV3: {
    shapes: (c) => {
      const x = c.shape(0);
      const channels = [x[x.length - 1]];
      return [x, channels, channels, channels, channels, [-1]];
    },
    grad: (c) => {
      if (c.dys.slice(1).some((dy) => dy !== undefined)) refused(c, 'its statistics outputs')();
      if (!attrB(c.node, 'is_training')) refused(c, 'a normalisation by given statistics')();
      const { ops, node, inputs: [x, scale], outputs } = c;
      const grads = once(() => {
        const attrs = Object.fromEntries(['T', 'U', 'epsilon', 'data_format', 'is_training'].map((k) => [k, node.attrs[k]]));
        const ref = ops.g.node('FusedBatchNormGradV3', [c.dy, x, scale, outputs[3], outputs[4], outputs[5]], attrs);
        const channels = ops.shapeOf(scale);
        return [ops.shapeOf(x), channels, channels].map((shape, k) => {
          const grad = outputRef(ref, k);
          ops.g.setShape(grad, shape);
          return grad;
        });
      });
      return [() => grads()[0], () => grads()[1], () => grads()[2], null, null];
    },
  },
  Mean: {
    shapes: (c) => [reducedShape(c.shape(0), c.constant(1), attrB(c.node, 'keep_dims'))],
    grad: (c) => reductionGrad(c, true),
  },
  Sum: {
    shapes: (c) => [reducedShape(c.shape(0), c.constant(1), attrB(c.node, 'keep_dims'))],
    grad: (c) => reductionGrad(c, false),
  },
};

const NHWC: Attr = { s: 'NHWC' };

/** Settings of a 2-D convolution or pooling window, as tfjs layers give them. */
export interface WindowSettings {
  strides: [number, number];
  padding: 'SAME' | 'VALID';
}

/**
 * Writes ops into a graph. Ops in the table (OPS) get their output shapes
 * recorded; the others are helpers of forward and gradient code whose
 * results are never differentiated.
 */
export class Ops {
  private readonly unstacked = new Map<string, string[]>();

  constructor(readonly g: GraphBuilder) {}

  /** The static shape of `ref`. */
  shapeOf(ref: string): Shape {
    const shape = this.g.shapeOf(ref);
    if (shape === undefined) throw new Error(`no static shape is known for '${ref}'`);
    return shape;
  }

  /** Adds a node of a table op, records its output shapes and returns its outputs. */
  apply(op: string, inputs: string[], attrs: Record<string, Attr>, name = op): string[] {
    const def = OPS[op];
    if (def === undefined) throw new Error(`${op} is not in the op table`);
    const data = inputs.filter((i) => !i.startsWith('^'));
    const node = this.g.node(op, inputs, attrs, name);
    const spec = this.g.nodeSpec(node);
    const shapes = def.shapes({
      node: spec,
      shape: (k) => this.shapeOf(data[k]),
      constant: (k) => {
        const values = this.g.constValues(data[k]);
        if (values === undefined) throw new Error(`${op} ${node}: input ${k} must be a constant`);
        return values;
      },
    });
    return shapes.map((shape, k) => {
      const ref = outputRef(node, k);
      this.g.setShape(ref, shape);
      return ref;
    });
  }

  private one(op: string, inputs: string[], attrs: Record<string, Attr>, name?: string): string {
    return this.apply(op, inputs, attrs, name)[0];
  }

  // Forward ops, all in the table.

  conv2d(x: string, kernel: string, window: WindowSettings = { strides: [1, 1], padding: 'SAME' }): string {
    const [sh, sw] = window.strides;
    return this.one('Conv2D', [x, kernel], {
      T: FLOAT, strides: { ints: [1, sh, sw, 1] }, padding: { s: window.padding }, data_format: NHWC,
      dilations: { ints: [1, 1, 1, 1] }, use_cudnn_on_gpu: { b: true }, explicit_paddings: { ints: [] },
    });
  }
  maxPool(x: string, size: [number, number], window: WindowSettings): string {
    const [sh, sw] = window.strides;
    return this.one('MaxPool', [x], {
      T: FLOAT, ksize: { ints: [1, ...size, 1] }, strides: { ints: [1, sh, sw, 1] }, padding: { s: window.padding },
      data_format: NHWC,
    });
  }
  biasAdd(x: string, bias: string): string {
    return this.one('BiasAdd', [x, bias], { T: FLOAT, data_format: NHWC });
  }
  elu(x: string): string {
    return this.one('Elu', [x], { T: FLOAT });
  }
  tanh(x: string): string {
    return this.one('Tanh', [x], { T: FLOAT });
  }
  rsqrt(x: string): string {
    return this.one('Rsqrt', [x], { T: FLOAT });
  }
  floor(x: string): string {
    return this.one('Floor', [x], { T: FLOAT });
  }
  /**
   * Uniform noise in [0, 1) of the shape of `like`, from the stateless
   * generator keyed by `seed` (an int32 [2] tensor), as lib/model/dropout.ts's
   * `statelessUniform` draws it eagerly.
   */
  statelessUniform(like: string, seed: string): string {
    const u = this.one('StatelessRandomUniform', [this.shapeTensor(like), seed], {
      dtype: FLOAT, T: INT, Tseed: INT,
    });
    this.g.setShape(u, this.shapeOf(like));
    return u;
  }
  /**
   * Batch normalisation of x over its last axis, `y = (x − μ)·γ/√(σ² + ε) + β`:
   * in training, μ and σ² are the batch's, returned with y (σ² with Bessel's
   * correction, as the kernel gives it); else `mean` and `variance`. A
   * tensor of another rank than 4 is normalised as [n, 1, m, channels].
   */
  fusedBatchNorm(x: string, gamma: string, beta: string, mean: string, variance: string, epsilon: number, training: boolean):
      { y: string; batchMean: string; batchVariance: string } {
    const shape = this.shapeOf(x);
    const middle = shape.slice(1, -1);
    if (shape.length < 2 || middle.some((d) => d < 0)) {
      throw new Error(`batch normalisation of a tensor of shape [${shape.join(', ')}]: only the batch size may be unknown`);
    }
    const x4 = shape.length === 4 ? x : this.reshape(x, [-1, 1, middle.reduce((p, d) => p * d, 1), shape[shape.length - 1]]);
    const [y, batchMean, batchVariance] = this.apply('FusedBatchNormV3', [x4, gamma, beta, mean, variance], {
      T: FLOAT, U: FLOAT, epsilon: { f: epsilon }, exponential_avg_factor: { f: 1 }, data_format: NHWC,
      is_training: { b: training },
    });
    return { y: shape.length === 4 ? y : this.reshapeLike(y, x), batchMean, batchVariance };
  }
  /** tfjs's hard sigmoid, clip(0.2·x + 0.5, 0, 1), the default gate activation of its GRU and LSTM. */
  hardSigmoid(x: string): string {
    const s = this.add(this.mul(x, this.g.scalar(0.2)), this.g.scalar(0.5));
    return this.one('ClipByValue', [s, this.g.scalar(0), this.g.scalar(1)], { T: FLOAT });
  }
  matMul(a: string, b: string, transposeA = false, transposeB = false): string {
    return this.one('MatMul', [a, b], { T: FLOAT, transpose_a: { b: transposeA }, transpose_b: { b: transposeB } });
  }
  add(a: string, b: string): string {
    return this.one('AddV2', [a, b], { T: FLOAT });
  }
  sub(a: string, b: string): string {
    return this.one('Sub', [a, b], { T: FLOAT });
  }
  mul(a: string, b: string): string {
    return this.one('Mul', [a, b], { T: FLOAT });
  }
  square(x: string): string {
    return this.one('Square', [x], { T: FLOAT });
  }
  identity(x: string, controlInputs: string[] = [], name = 'Identity'): string {
    return this.one('Identity', [x, ...controlInputs.map((c) => `^${c}`)], { T: FLOAT }, name);
  }

  /**
   * x reshaped to `shape` (one -1 allowed). A reshape to the shape x already
   * has is x itself, and a reshape of a reshape starts from the original.
   */
  reshape(x: string, shape: number[]): string {
    const producer = this.g.producer(x);
    if (producer.op === 'Reshape') return this.reshape(producer.inputs[0], shape);
    const current = this.shapeOf(x);
    if (current.length === shape.length && current.every((d, i) => d === shape[i])) return x;
    return this.one('Reshape', [x, this.g.ints(shape)], { T: FLOAT, Tshape: INT });
  }
  /** x reshaped to the shape of `like`. */
  reshapeLike(x: string, like: string): string {
    const shape = this.shapeOf(like);
    if (shape.filter((d) => d < 0).length <= 1) return this.reshape(x, shape);
    return this.one('Reshape', [x, this.g.node('Shape', [like], { T: FLOAT, out_type: INT })], { T: FLOAT, Tshape: INT });
  }

  /**
   * The `num` slices of x along `axis`, that axis removed; asked twice for
   * the same x and axis, the same slices. Slicing a concatenation of parts of
   * size 1 along that axis gives back the parts, reshaped.
   */
  unstack(x: string, num: number, axis: number): string[] {
    const key = `${x}@${axis}`;
    const known = this.unstacked.get(key);
    if (known !== undefined) return known;
    const shape = this.shapeOf(x);
    const a = normalizeAxis(axis, shape.length);
    const sliceShape = shape.filter((_, i) => i !== a);
    const producer = this.g.producer(x);
    const parts = producer.op === 'ConcatV2' ? producer.inputs.slice(0, -1) : [];
    let slices: string[];
    if (num === 1) {
      slices = [this.reshape(x, sliceShape)];
    } else if (parts.length === num &&
        normalizeAxis(this.g.constValues(producer.inputs[num])?.[0] ?? NaN, shape.length) === a &&
        parts.every((p) => this.shapeOf(p)[a] === 1)) {
      slices = parts.map((p) => this.reshape(p, sliceShape));
    } else {
      slices = this.apply('Unpack', [x], { T: FLOAT, num: { i: num }, axis: { i: axis } });
    }
    this.unstacked.set(key, slices);
    return slices;
  }
  stack(xs: string[], axis: number): string {
    return this.one('Pack', xs, { T: FLOAT, N: { i: xs.length }, axis: { i: axis } });
  }
  concat(xs: string[], axis: number): string {
    if (xs.length === 1) return xs[0];
    const axisConst = this.g.constant({ dtype: 'int32', shape: [], values: [axis] });
    return this.one('ConcatV2', [...xs, axisConst], { T: FLOAT, N: { i: xs.length }, Tidx: INT });
  }
  /** `num` equal parts of x along `axis`. */
  split(x: string, num: number, axis: number): string[] {
    const axisConst = this.g.constant({ dtype: 'int32', shape: [], values: [axis] });
    return this.apply('Split', [axisConst, x], { T: FLOAT, num_split: { i: num } });
  }
  /** Parts of x along `axis` of the given sizes. */
  splitV(x: string, sizes: number[], axis: number): string[] {
    if (sizes.length === 1) return [x];
    if (sizes.every((s) => s === sizes[0] && s >= 0)) return this.split(x, sizes.length, axis);
    const axisConst = this.g.constant({ dtype: 'int32', shape: [], values: [axis] });
    return this.apply('SplitV', [x, this.g.ints(sizes), axisConst], { T: FLOAT, num_split: { i: sizes.length }, Tlen: INT });
  }
  /** Mean of x over `axes`. */
  mean(x: string, axes: number[] = [0], keepDims = false): string {
    return this.one('Mean', [x, this.g.ints(axes)], { T: FLOAT, Tidx: INT, keep_dims: { b: keepDims } });
  }
  /** Sum of x over `axes`. */
  sum(x: string, axes: number[] = [0], keepDims = false): string {
    return this.one('Sum', [x, this.g.ints(axes)], { T: FLOAT, Tidx: INT, keep_dims: { b: keepDims } });
  }
  /** The softmax cross-entropy of each row of logits against its labels, [batch]. */
  softmaxCrossEntropy(logits: string, labels: string): { loss: string; backprop: string } {
    const [loss, backprop] = this.apply('SoftmaxCrossEntropyWithLogits', [logits, labels], { T: FLOAT });
    return { loss, backprop };
  }

  // Helpers outside the table: gradient code and bookkeeping. Their output
  // shapes are recorded where they follow from the inputs' at once.

  private shaped(ref: string, shape: Shape | undefined): string {
    if (shape !== undefined) this.g.setShape(ref, shape);
    return ref;
  }

  /** The shape of x as an int32 vector: a constant where it is known statically. */
  shapeTensor(x: string): string {
    const shape = this.shapeOf(x);
    return shape.every((d) => d >= 0) ? this.g.ints(shape)
      : this.shaped(this.g.node('Shape', [x], { T: FLOAT, out_type: INT }), [shape.length]);
  }
  biasAddGrad(dy: string): string {
    const shape = this.g.shapeOf(dy);
    return this.shaped(this.g.node('BiasAddGrad', [dy], { T: FLOAT, data_format: NHWC }), shape?.slice(-1));
  }
  neg(x: string): string {
    return this.shaped(this.g.node('Neg', [x], { T: FLOAT }), this.g.shapeOf(x));
  }
  realDiv(a: string, b: string): string {
    const [sa, sb] = [this.g.shapeOf(a), this.g.shapeOf(b)];
    const shape = sa !== undefined && sb !== undefined ? broadcastShapes(sa, sb) : undefined;
    return this.shaped(this.g.node('RealDiv', [a, b], { T: FLOAT }), shape);
  }
  expandDims(x: string, axis: number): string {
    const shape = this.g.shapeOf(x);
    const at = shape === undefined ? 0 : normalizeAxis(axis, shape.length + 1);
    const ref = this.g.node('ExpandDims', [x, this.g.constant({ dtype: 'int32', shape: [], values: [axis] })], { T: FLOAT, Tdim: INT });
    return this.shaped(ref, shape && [...shape.slice(0, at), 1, ...shape.slice(at)]);
  }
  /** x broadcast to the shape of `like`. */
  broadcastTo(x: string, like: string): string {
    return this.shaped(this.g.node('BroadcastTo', [x, this.shapeTensor(like)], { T: FLOAT, Tidx: INT }), this.shapeOf(like));
  }
  /** The number of elements of x, an int32 scalar. */
  size(x: string): string {
    return this.shaped(this.g.node('Size', [x], { T: FLOAT, out_type: INT }), []);
  }
  castToFloat(x: string, from: 'int32' | 'bool' = 'int32'): string {
    return this.shaped(this.g.node('Cast', [x], { SrcT: { type: from }, DstT: FLOAT, Truncate: { b: false } }), this.g.shapeOf(x));
  }
  zerosLike(x: string): string {
    return this.shaped(this.g.node('ZerosLike', [x], { T: FLOAT }), this.g.shapeOf(x));
  }
  addN(xs: string[]): string {
    if (xs.length === 1) return xs[0];
    return this.shaped(this.g.node('AddN', xs, { N: { i: xs.length }, T: FLOAT }), this.g.shapeOf(xs[0]));
  }
}
