/**
 * The tfjs layers the graph engine computes, one rule per layer class: which
 * of the layer's settings (its getConfig()) the graph reproduces, and the
 * layer's forward pass in the graph, written from those settings. A layer
 * whose class has no rule, or whose config has a setting the rule does not
 * list or a value it does not reproduce, is refused with the reason (see
 * `layerSupport`): the graph never trains a model as something else.
 *
 * Adding a layer: a rule here, with its settings, and, should it need new
 * ops, their entries in ops.ts. The backward pass comes from autodiff.ts.
 *
 * Regularisers: an L2 penalty on a weight (tf.regularizers.l2, what
 * `weightDecay` builds) is computed where a rule lists it in `penalties`; the
 * graph adds it to the loss, as the eager step does (see `weightPenalties`).
 * Any other regulariser, and every constraint, is refused.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Ops } from './ops';
import { rnnStates, type Activation, type RnnCell } from './rnn';

type Layer = tfTypes.layers.Layer;
type Config = tfTypes.serialization.ConfigDict;

/** The activations the graph computes, by their tfjs name; each as tfjs computes it. */
export const ACTIVATIONS: Record<string, (ops: Ops, x: string) => string> = {
  linear: (_ops, x) => x,
  elu: (ops, x) => ops.elu(x),
  tanh: (ops, x) => ops.tanh(x),
  hardSigmoid: (ops, x) => ops.hardSigmoid(x),
};

function activation(ops: Ops, name: unknown): Activation {
  return (x) => ACTIVATIONS[name as string](ops, x);
}

/**
 * How a rule treats one setting: 'ignored' for settings with no effect on a
 * training step (initialisers, names), else the values the graph reproduces,
 * or a check that returns what is wrong with a value.
 */
type Setting = 'ignored' | { oneOf: readonly unknown[] } | ((value: unknown) => string | null);

/** What a rule's forward pass is given. */
export interface LayerContext {
  ops: Ops;
  layer: Layer;
  /** The layer's config, as checked. */
  config: Config;
  /**
   * True in the forward pass of training steps (tfjs's `training: true`),
   * false in the one of evaluation; see `LayerRule.differsInTraining`.
   */
  training: boolean;
  /** The graph value of the layer's trainable weight k (its order in `layer.trainableWeights`). */
  weight(k: number): string;
  /** The graph value of the layer's non-trainable weight k (its order in `layer.nonTrainableWeights`). */
  state(k: number): string;
  /**
   * In the training pass: non-trainable weight k becomes `value` when the
   * training step runs (after the forward pass has read it).
   */
  update(k: number, value: string): void;
  /**
   * An int32 [2] seed for stateless random ops, [seed, step], where step is
   * the number of the training step, fed with each step: the same seed and
   * step give the same numbers.
   */
  stepSeed(seed: number): string;
}

/** How the graph computes one class of tfjs layer. */
export interface LayerRule {
  /** Every setting of the layer's config, with how the graph treats it. */
  settings: Record<string, Setting>;
  /** Further conditions, on the layer's shapes; returns what is wrong, or null. */
  check?(layer: Layer): string | null;
  /** How many non-trainable weights the layer has and the rule reads or updates (default none). */
  nonTrainableWeights?: number;
  /**
   * True when the layer computes otherwise in training steps than at
   * evaluation (dropout, batch normalisation): the graph then writes the
   * model's forward pass twice, with `training` true and false, sharing the
   * variables. Default false.
   */
  differsInTraining?(config: Config): boolean;
  /** Writes the forward pass: the layer's inputs in, its outputs out. */
  forward(c: LayerContext, inputs: string[]): string[];
  /**
   * The regulariser settings whose L2 penalty the graph computes, each with
   * the index of the weight it applies to, in the order of the weights.
   */
  penalties?: Record<string, number>;
}

const show = (value: unknown) => JSON.stringify(value);
const oneOf = (...values: unknown[]): Setting => ({ oneOf: values });
const activationSetting: Setting = { oneOf: Object.keys(ACTIVATIONS) };
/** Regularisers and constraints change the loss or the update: none is computed, except L2 penalties (below). */
const none: Setting = oneOf(null, undefined);

/**
 * The λ of a regulariser as a layer's config gives it: 0 for none, λ for
 * tfjs's L1L2 without an L1 term (`tf.regularizers.l2({ l2: λ })`), and
 * undefined for anything else. (L1L2 takes a missing l1 or l2 as 0.01.)
 */
function l2Of(value: unknown): number | undefined {
  if (value == null) return 0;
  const { className, config } = value as { className?: unknown; config?: { l1?: unknown; l2?: unknown } | null };
  if (className !== 'L1L2' || config == null || config.l1 !== 0) return undefined;
  const l2 = config.l2;
  return typeof l2 === 'number' && Number.isFinite(l2) && l2 >= 0 ? l2 : undefined;
}

/** A regulariser setting the graph computes: none, or an L2 penalty (see `weightPenalties`). */
const l2Penalty: Setting = (value) => (l2Of(value) === undefined
  ? 'is not an L2 penalty (tf.regularizers.l2: L1L2 with l1 0)' : null);

/** Settings every layer may have. */
const COMMON: Record<string, Setting> = {
  name: 'ignored',
  // A layer that is not trainable has weights outside `trainableWeights`, which `layerSupport` refuses.
  trainable: 'ignored',
  batchInputShape: 'ignored',
  inputShape: 'ignored',
  batchSize: 'ignored',
  dtype: oneOf('float32', null, undefined),
};

const INITIALISERS = ['kernelInitializer', 'biasInitializer', 'recurrentInitializer'];
const REGULARISERS = [
  'kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'recurrentRegularizer',
  'kernelConstraint', 'biasConstraint', 'recurrentConstraint',
];
const initialisers = Object.fromEntries(INITIALISERS.map((k) => [k, 'ignored']));
const regularisers = Object.fromEntries(REGULARISERS.map((k) => [k, none]));

function staticShape(layer: Layer, which: 'input' | 'output'): (number | null)[] {
  const tensor = which === 'input' ? layer.input : layer.output;
  if (Array.isArray(tensor)) throw new Error(`layer '${layer.name}' has several ${which}s`);
  return tensor.shape;
}

/** Null when the layer's input has `rank` dimensions, else the reason. */
function inputRank(layer: Layer, rank: number): string | null {
  const shape = staticShape(layer, 'input');
  return shape.length === rank ? null : `takes inputs of rank ${rank} here, this one has shape [${shape.map(String).join(', ')}]`;
}

/** The layer's output shape as a Reshape target: null (the batch) becomes -1; null if any other size is unknown. */
function reshapeTarget(layer: Layer): number[] | null {
  const [batch, ...rest] = staticShape(layer, 'output');
  if (batch !== null || rest.some((d) => d == null)) return null;
  return [-1, ...(rest as number[])];
}

/** The rule of a layer that only reshapes its input to its output shape. */
const reshapeRule = (settings: Record<string, Setting> = {}): LayerRule => ({
  settings,
  check: (layer) => (reshapeTarget(layer) === null ? 'has an output shape with unknown sizes besides the batch' : null),
  forward: (c, [x]) => [c.ops.reshape(x, reshapeTarget(c.layer) as number[])],
});

const twoInts = (value: unknown) => Array.isArray(value) && value.length === 2 && value.every(Number.isInteger);

/** The rule of a recurrent layer of tfjs: the cell, then the last state. */
function recurrentRule(cell: RnnCell): LayerRule {
  return {
    settings: {
      units: 'ignored',
      activation: activationSetting,
      ...(cell === 'SimpleRNN' ? {} : { recurrentActivation: activationSetting }),
      useBias: oneOf(true),
      ...initialisers,
      ...regularisers,
      kernelRegularizer: l2Penalty,
      recurrentRegularizer: l2Penalty,
      dropout: oneOf(0),
      recurrentDropout: oneOf(0),
      returnSequences: oneOf(false),
      returnState: oneOf(false),
      goBackwards: oneOf(false),
      stateful: oneOf(false),
      // Unrolled or not, tfjs computes the same steps; and it computes every
      // `implementation` as one (the kernels' gates in one product).
      unroll: 'ignored',
      ...(cell === 'SimpleRNN' ? {} : { implementation: 'ignored' }),
      ...(cell === 'GRU' ? { resetAfter: oneOf(false) } : {}),
      ...(cell === 'LSTM' ? { unitForgetBias: 'ignored' } : {}),
    },
    penalties: { kernelRegularizer: 0, recurrentRegularizer: 1 },
    check: (layer) => {
      const shape = staticShape(layer, 'input');
      return inputRank(layer, 3) ?? (shape[1] == null ? 'needs a known sequence length' : null);
    },
    forward: (c, [x]) => {
      const { ops, config } = c;
      const steps = ops.unstack(x, ops.shapeOf(x)[1], 1);
      const act = { activation: activation(ops, config.activation), recurrent: activation(ops, config.recurrentActivation) };
      const weights = { kernel: c.weight(0), recurrent: c.weight(1), bias: c.weight(2) };
      const states = rnnStates(ops, cell, weights, config.units as number, steps, act);
      return [states[states.length - 1]];
    },
  };
}

/** A Conv2D layer's convolution of x, without its bias: [n, h, w, cIn] → [n, h', w', filters]. */
function convolution(c: LayerContext, x: string): string {
  const { config } = c;
  return c.ops.conv2d(x, c.weight(0), {
    strides: config.strides as [number, number], padding: config.padding === 'same' ? 'SAME' : 'VALID',
  });
}

/** What a Conv2D layer does after its convolution: its bias (if any), then its activation; same shape out. */
function convBiasActivation(c: LayerContext, conv: string): string {
  const { ops, config } = c;
  return activation(ops, config.activation)(config.useBias ? ops.biasAdd(conv, c.weight(1)) : conv);
}

/** MaxPool2x2: [n, h, w, c] → [n, ⌊h/2⌋, ⌊w/2⌋, c]. */
function maxPool2x2(ops: Ops, x: string): string {
  return ops.maxPool(x, [2, 2], { strides: [2, 2], padding: 'VALID' });
}

/** The layers the graph computes, by tfjs class name. */
export const LAYERS: Record<string, LayerRule> = {
  Conv2D: {
    settings: {
      filters: 'ignored', // the kernel's shape says it
      kernelSize: 'ignored', // likewise
      strides: (value) => (twoInts(value) ? null : 'is not two integers'),
      padding: oneOf('same', 'valid'),
      dataFormat: oneOf('channelsLast'),
      dilationRate: (value) => (show(value) === '[1,1]' || value === 1 ? null : 'is not 1'),
      activation: activationSetting,
      useBias: oneOf(true, false),
      ...initialisers,
      ...regularisers,
      kernelRegularizer: l2Penalty,
    },
    penalties: { kernelRegularizer: 0 },
    check: (layer) => inputRank(layer, 4),
    forward: (c, [x]) => [convBiasActivation(c, convolution(c, x))],
  },
  // lib/model/build.ts: 2×2 max-pooling, stride 2, 'valid' padding.
  MaxPool2x2: {
    settings: {},
    check: (layer) => inputRank(layer, 4),
    forward: (c, [x]) => [maxPool2x2(c.ops, x)],
  },
  Flatten: reshapeRule({ dataFormat: oneOf('channelsLast', null, undefined) }),
  Dense: {
    settings: {
      units: 'ignored',
      activation: activationSetting,
      useBias: oneOf(true, false),
      ...initialisers,
      ...regularisers,
      kernelRegularizer: l2Penalty,
    },
    penalties: { kernelRegularizer: 0 },
    check: (layer) => inputRank(layer, 2),
    forward: (c, [x]) => {
      const { ops } = c;
      const product = ops.matMul(x, c.weight(0));
      return [activation(ops, c.config.activation)(c.config.useBias ? ops.biasAdd(product, c.weight(1)) : product)];
    },
  },
  Activation: {
    settings: { activation: activationSetting },
    forward: (c, [x]) => [activation(c.ops, c.config.activation)(x)],
  },
  // tfjs's BatchNormalization over the last axis, in TensorFlow's fused
  // kernel. In training: the batch's mean μ and (biased) variance σ² over the
  // other axes, y = (x − μ)·γ/√(σ² + ε) + β, and the moving statistics
  // m ← m − (m − μ)·(1 − momentum), v ← v − (v − σ²)·(1 − momentum), as tfjs
  // updates them. At evaluation: the same y with the moving statistics.
  BatchNormalization: {
    settings: {
      axis: 'ignored', // checked against the input's rank below
      momentum: (value) => (typeof value === 'number' && value >= 0 && value <= 1 ? null : 'is not in [0, 1]'),
      epsilon: (value) => (typeof value === 'number' && value > 0 ? null : 'is not a positive number'),
      center: oneOf(true),
      scale: oneOf(true),
      betaInitializer: 'ignored',
      gammaInitializer: 'ignored',
      movingMeanInitializer: 'ignored',
      movingVarianceInitializer: 'ignored',
      betaRegularizer: none,
      gammaRegularizer: none,
      betaConstraint: none,
      gammaConstraint: none,
    },
    nonTrainableWeights: 2,
    check: (layer) => {
      const shape = staticShape(layer, 'input');
      const axis = layer.getConfig().axis;
      if (axis !== -1 && axis !== shape.length - 1) return `normalises over axis ${show(axis)}; the graph engine computes the last axis only`;
      if (shape.length < 2 || shape.slice(1).some((d) => d == null)) return `has an input of shape [${shape.map(String).join(', ')}]; only the batch size may be unknown`;
      return layer.trainableWeights.length === 2 ? null : 'has no γ and β to train';
    },
    differsInTraining: () => true,
    forward: (c, [x]) => {
      const { ops, config } = c;
      const g = ops.g;
      const [gamma, beta] = [c.weight(0), c.weight(1)];
      const epsilon = config.epsilon as number;
      const { y, batchMean, batchVariance } = ops.fusedBatchNorm(x, gamma, beta, c.state(0), c.state(1), epsilon, c.training);
      if (c.training) {
        // The kernel's batch variance has Bessel's correction, n/(n − 1);
        // tfjs averages the biased one, so it is taken back out.
        const channels = ops.shapeOf(x).slice(-1)[0];
        const biased = ops.sub(g.scalar(1), ops.realDiv(g.scalar(channels), ops.castToFloat(ops.size(x))));
        const decay = g.scalar(1 - (config.momentum as number), 'decay');
        [batchMean, ops.mul(batchVariance, biased)].forEach((batch, k) => {
          const moving = c.state(k);
          c.update(k, ops.sub(moving, ops.mul(ops.sub(moving, batch), decay)));
        });
      }
      return [y];
    },
  },
  // lib/model/dropout.ts: x·floor(u + keep)/keep in training steps, u the stateless
  // uniform noise of [seed, step]; x itself at evaluation.
  SeededDropout: {
    settings: {
      rate: (value) => (typeof value === 'number' && value >= 0 && value < 1 ? null : 'is not in [0, 1)'),
      seed: (value) => (Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31 ? null : 'is not an int32'),
    },
    differsInTraining: (config) => (config.rate as number) > 0,
    forward: (c, [x]) => {
      const { ops, config } = c;
      const rate = config.rate as number;
      if (!c.training || rate === 0) return [x];
      const keep = 1 - rate;
      const u = ops.statelessUniform(x, c.stepSeed(config.seed as number));
      const mask = ops.mul(ops.floor(ops.add(u, ops.g.scalar(keep, 'keep'))), ops.g.scalar(1 / keep, 'inverse_keep'));
      return [ops.mul(x, mask)];
    },
  },
  Reshape: reshapeRule({ targetShape: 'ignored' /* the output shape says it */ }),
  Concatenate: {
    settings: { axis: (value) => (Number.isInteger(value) ? null : 'is not an integer') },
    forward: (c, inputs) => {
      const rank = c.ops.shapeOf(inputs[0]).length;
      const axis = c.config.axis as number;
      return [c.ops.concat(inputs, axis < 0 ? axis + rank : axis)];
    },
  },
  // lib/model/build.ts: step `step` of [batch, seqLength, ...].
  TimeStepSlice: {
    settings: { step: 'ignored' },
    forward: (c, [x]) => [c.ops.unstack(x, c.ops.shapeOf(x)[1], 1)[c.config.step as number]],
  },
  // lib/model/build.ts: [batch, seqLength, ...] ↔ [batch·seqLength, ...].
  FoldTime: reshapeRule(),
  UnfoldTime: reshapeRule({ seqLength: 'ignored' }),
  SimpleRNN: recurrentRule('SimpleRNN'),
  GRU: recurrentRule('GRU'),
  LSTM: recurrentRule('LSTM'),
};

/**
 * Pool first: a convolution whose output reaches a MaxPool2x2 only through
 * steps that commute with the pooling (its bias add, and activations that
 * never decrease: its own, then those of Activation layers) is written
 * conv → max-pool → bias add → activations, so that these steps and their
 * gradients run on the pooled tensor, a quarter of the size.
 *
 * Why it is exact: a window's maximum of x + b, b one value per channel, is
 * its maximum of x, plus b; and of f(x), f non-decreasing, f of its maximum.
 * In float32 too, since rounding is monotonic (max(fl(a + b), fl(c + b)) =
 * fl(max(a, c) + b)): the pooled values are the same bit for bit, given the
 * same convolution (TensorFlow may fuse the bias and ELU into the convolution
 * of the layers as written, and round its sums otherwise). The gradient
 * goes to the window's largest pre-activation rather than its largest
 * activation; the two differ only where the activation ties distinct inputs,
 * ELU saturated at −1 (inputs below about −17), where its gradient is ~1e-8.
 * A batch normalisation in between (statistics over the un-pooled tensor),
 * or a dropout, breaks the chain: such layers are written as they are.
 */
export interface PoolFirstChain {
  conv: Layer;
  /** The Activation layers between the convolution and the pool, in order. */
  activations: Layer[];
  pool: Layer;
}

/** The activations that commute with max-pooling (non-decreasing ones), by tfjs name. */
const POOL_COMMUTING_ACTIVATIONS: readonly unknown[] = ['linear', 'elu'];

/**
 * The chains of `model` that the graph writes pool first (see
 * `PoolFirstChain`), with each layer's config as the graph computes it
 * (`configOf`). Expects a model that `layerSupport` accepts layer by layer.
 */
export function poolFirstChains(model: tfTypes.LayersModel, configOf: (layer: Layer) => Config): PoolFirstChain[] {
  // Uses of each tensor: as a layer's input, or as a model output.
  const uses = new Map<number, number>();
  const use = (t: tfTypes.SymbolicTensor) => uses.set(t.id, (uses.get(t.id) ?? 0) + 1);
  model.outputs.forEach(use);
  for (const layer of model.layers) layer.inboundNodes[0]?.inputTensors.forEach(use);
  /** The layer whose output is `layer`'s only input and is used by `layer` alone; else null. */
  const soleFeeder = (layer: Layer): Layer | null => {
    const inputs = layer.inboundNodes[0].inputTensors;
    return inputs.length === 1 && uses.get(inputs[0].id) === 1 ? inputs[0].sourceLayer : null;
  };
  const commutes = (layer: Layer) => POOL_COMMUTING_ACTIVATIONS.includes(configOf(layer).activation);
  const chains: PoolFirstChain[] = [];
  for (const pool of model.layers) {
    if (pool.getClassName() !== 'MaxPool2x2') continue;
    const activations: Layer[] = [];
    let feeder = soleFeeder(pool);
    while (feeder !== null && feeder.getClassName() === 'Activation' && commutes(feeder)) {
      activations.unshift(feeder);
      feeder = soleFeeder(feeder);
    }
    if (feeder !== null && feeder.getClassName() === 'Conv2D' && commutes(feeder)) chains.push({ conv: feeder, activations, pool });
  }
  return chains;
}

/**
 * Writes a `PoolFirstChain` from the convolution's input x: conv (no bias) →
 * max-pool → the convolution's bias and activation → the Activation layers'.
 * `conv` and `activations` are the contexts of the chain's layers.
 * @returns the pool's output, [n, ⌊h'/2⌋, ⌊w'/2⌋, filters].
 */
export function writePoolFirst(conv: LayerContext, activations: LayerContext[], x: string): string {
  const pooled = maxPool2x2(conv.ops, convolution(conv, x));
  return activations.reduce((y, a) => activation(a.ops, a.config.activation)(y), convBiasActivation(conv, pooled));
}

/**
 * The penalties of the layer's L2 regularisers (its rule's `penalties`),
 * scalars to add to the loss, in the order of the layer's weights; none where
 * λ is 0. Each is Σ(λ·W²), written as tfjs's L1L2 computes it; its gradient,
 * 2λW, comes from autodiff.
 * @throws Error for a regulariser that `layerSupport` refuses.
 */
export function weightPenalties(c: Pick<LayerContext, 'ops' | 'layer' | 'config' | 'weight'>): string[] {
  const { ops, layer, config } = c;
  return Object.entries(LAYERS[layer.getClassName()]?.penalties ?? {}).flatMap(([key, k]) => {
    const l2 = l2Of(config[key]);
    if (l2 === undefined) throw new Error(`layer '${layer.name}': ${key} ${show(config[key])} is not an L2 penalty`);
    if (l2 === 0) return [];
    const w = c.weight(k);
    const axes = ops.shapeOf(w).map((_, i) => i);
    return [ops.sum(ops.mul(ops.g.scalar(l2), ops.square(w)), axes)];
  });
}

/**
 * Null when the graph computes `layer`, configured as `config`, exactly as
 * tfjs does; else the reason, naming the layer and the setting.
 */
export function layerSupport(layer: Layer, config: Config): string | null {
  const what = `layer '${layer.name}' (${layer.getClassName()})`;
  const rule = LAYERS[layer.getClassName()];
  if (rule === undefined) {
    return `${what}: the graph engine computes only ${Object.keys(LAYERS).join(', ')} layers`;
  }
  if (layer.inboundNodes.length !== 1) return `${what} is applied ${layer.inboundNodes.length} times; the graph engine takes each layer once`;
  if (layer.nonTrainableWeights.length !== (rule.nonTrainableWeights ?? 0)) {
    return `${what} has ${layer.nonTrainableWeights.length} weights that are not trained, which the graph engine does not handle`;
  }
  for (const [key, value] of Object.entries(config)) {
    const setting = rule.settings[key] ?? COMMON[key];
    if (setting === undefined) return `${what}: the graph engine does not know the setting ${key} (${show(value)})`;
    if (setting === 'ignored') continue;
    if (typeof setting === 'function') {
      const wrong = setting(value);
      if (wrong !== null) return `${what}: ${key} ${show(value)} ${wrong}; the graph engine cannot compute it`;
    } else if (!setting.oneOf.includes(value)) {
      const values = setting.oneOf.filter((v) => v != null).map(show).join(', ') || 'null';
      return `${what}: ${key} is ${show(value)}; the graph engine computes only ${values} there`;
    }
  }
  const wrong = rule.check?.(layer) ?? null;
  return wrong === null ? null : `${what} ${wrong}`;
}
