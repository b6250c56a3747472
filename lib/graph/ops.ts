/**
 * The TensorFlow ops the graph engine writes (lib/graph-train.ts), each with
 * the attributes TensorFlow requires filled in, so that the model code reads
 * as arithmetic: `ops.matMul(x, w)`, `ops.tanhGrad(y, dy)`.
 */
import type { Attr, GraphBuilder } from './def';

const FLOAT: Attr = { type: 'float32' };

const NHWC: Attr = { s: 'NHWC' };
const UNIT_STRIDES: Attr = { ints: [1, 1, 1, 1] };
const POOL_WINDOW: Attr = { ints: [1, 2, 2, 1] };

/** The ops of the CRNN graph; every method adds nodes and returns the output's reference. */
export class Ops {
  constructor(readonly g: GraphBuilder) {}

  private convAttrs(): Record<string, Attr> {
    return {
      T: FLOAT, strides: UNIT_STRIDES, padding: { s: 'SAME' }, data_format: NHWC,
      dilations: UNIT_STRIDES, use_cudnn_on_gpu: { b: true }, explicit_paddings: { ints: [] },
    };
  }

  conv2d(x: string, kernel: string): string {
    return this.g.node('Conv2D', [x, kernel], this.convAttrs());
  }
  conv2dGradFilter(x: string, kernelShape: number[], dy: string): string {
    return this.g.node('Conv2DBackpropFilter', [x, this.g.ints(kernelShape), dy], this.convAttrs());
  }
  conv2dGradInput(x: string, kernel: string, dy: string): string {
    return this.g.node('Conv2DBackpropInput', [this.shape(x), kernel, dy], this.convAttrs());
  }
  biasAdd(x: string, bias: string): string {
    return this.g.node('BiasAdd', [x, bias], { T: FLOAT, data_format: NHWC });
  }
  biasGrad(dy: string): string {
    return this.g.node('BiasAddGrad', [dy], { T: FLOAT, data_format: NHWC });
  }
  elu(x: string): string {
    return this.g.node('Elu', [x], { T: FLOAT });
  }
  /** dL/dx of y = elu(x), from dL/dy and y. */
  eluGrad(dy: string, y: string): string {
    return this.g.node('EluGrad', [dy, y], { T: FLOAT });
  }
  tanh(x: string): string {
    return this.g.node('Tanh', [x], { T: FLOAT });
  }
  /** dL/dx of y = tanh(x), from y and dL/dy. */
  tanhGrad(y: string, dy: string): string {
    return this.g.node('TanhGrad', [y, dy], { T: FLOAT });
  }
  private poolAttrs(): Record<string, Attr> {
    return { T: FLOAT, ksize: POOL_WINDOW, strides: POOL_WINDOW, padding: { s: 'VALID' }, data_format: NHWC };
  }
  maxPool2x2(x: string): string {
    return this.g.node('MaxPool', [x], this.poolAttrs());
  }
  maxPool2x2Grad(x: string, y: string, dy: string): string {
    return this.g.node('MaxPoolGrad', [x, y, dy], this.poolAttrs());
  }
  matMul(a: string, b: string, transposeA = false, transposeB = false): string {
    return this.g.node('MatMul', [a, b], { T: FLOAT, transpose_a: { b: transposeA }, transpose_b: { b: transposeB } });
  }
  add(a: string, b: string): string {
    return this.g.node('AddV2', [a, b], { T: FLOAT });
  }
  addN(xs: string[]): string {
    return xs.length === 1 ? xs[0] : this.g.node('AddN', xs, { N: { i: xs.length }, T: FLOAT });
  }
  reshape(x: string, shape: number[]): string {
    return this.g.node('Reshape', [x, this.g.ints(shape)], { T: FLOAT, Tshape: { type: 'int32' } });
  }
  reshapeLike(x: string, like: string): string {
    return this.g.node('Reshape', [x, this.shape(like)], { T: FLOAT, Tshape: { type: 'int32' } });
  }
  shape(x: string): string {
    return this.g.node('Shape', [x], { T: FLOAT, out_type: { type: 'int32' } });
  }
  /** The `num` slices of x along `axis`, that axis removed. */
  unstack(x: string, num: number, axis: number): string[] {
    const node = this.g.node('Unpack', [x], { T: FLOAT, num: { i: num }, axis: { i: axis } });
    return Array.from({ length: num }, (_, k) => `${node}:${k}`);
  }
  stack(xs: string[], axis: number): string {
    return this.g.node('Pack', xs, { T: FLOAT, N: { i: xs.length }, axis: { i: axis } });
  }
  /** Mean over axis 0 of a vector. */
  mean(x: string): string {
    return this.g.node('Mean', [x, this.g.ints([0])], { T: FLOAT, Tidx: { type: 'int32' }, keep_dims: { b: false } });
  }
  sub(a: string, b: string): string {
    return this.g.node('Sub', [a, b], { T: FLOAT });
  }
  mul(a: string, b: string): string {
    return this.g.node('Mul', [a, b], { T: FLOAT });
  }
  /** a·x + b for numbers a, b. */
  affine(x: string, a: number, b: number): string {
    return this.add(this.mul(x, this.g.scalar(a)), this.g.scalar(b));
  }
  zerosLike(x: string): string {
    return this.g.node('ZerosLike', [x], { T: FLOAT });
  }
  /** `num` equal parts of x along `axis`. */
  split(x: string, num: number, axis: number): string[] {
    const axisConst = this.g.constant({ dtype: 'int32', shape: [], values: [axis] });
    const node = this.g.node('Split', [axisConst, x], { T: FLOAT, num_split: { i: num } });
    return Array.from({ length: num }, (_, k) => `${node}:${k}`);
  }
  concat(xs: string[], axis: number): string {
    if (xs.length === 1) return xs[0];
    const axisConst = this.g.constant({ dtype: 'int32', shape: [], values: [axis] });
    return this.g.node('ConcatV2', [...xs, axisConst], { T: FLOAT, N: { i: xs.length }, Tidx: { type: 'int32' } });
  }
  /** The block of x from `begin`, of `size` (-1: to the end). */
  slice(x: string, begin: number[], size: number[]): string {
    return this.g.node('Slice', [x, this.g.ints(begin), this.g.ints(size)], { T: FLOAT, Index: { type: 'int32' } });
  }
  /**
   * tfjs's hard sigmoid, clip(0.2·x + 0.5, 0, 1), the default gate activation
   * of its GRU and LSTM. Returns the output and the clipped argument s, which
   * the gradient needs.
   */
  hardSigmoid(x: string): { y: string; s: string } {
    const s = this.affine(x, 0.2, 0.5);
    return { y: this.g.node('ClipByValue', [s, this.g.scalar(0), this.g.scalar(1)], { T: FLOAT }), s };
  }
  /** dL/dx of the hard sigmoid, from its argument s and dL/dy: 0.2·dy where 0 ≤ s ≤ 1 (tfjs's rule). */
  hardSigmoidGrad(s: string, dy: string): string {
    const inside = this.g.node('LogicalAnd', [
      this.g.node('GreaterEqual', [s, this.g.scalar(0)], { T: FLOAT }),
      this.g.node('LessEqual', [s, this.g.scalar(1)], { T: FLOAT }),
    ]);
    const mask = this.g.node('Cast', [inside], { SrcT: { type: 'bool' }, DstT: FLOAT, Truncate: { b: false } });
    return this.mul(this.mul(dy, mask), this.g.scalar(0.2));
  }
  identity(x: string, controlInputs: string[] = [], name = 'Identity'): string {
    return this.g.node('Identity', [x, ...controlInputs.map((c) => `^${c}`)], { T: FLOAT }, name);
  }
}
