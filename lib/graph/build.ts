/**
 * The training graph of a tfjs model, written from the model's own layers:
 * each layer by the rule of its class (layers.ts), from its own config, in
 * the order of the model's layers (a convolution's bias and ELU moved after
 * its max-pool: `PoolFirstChain`); then the loss, its gradients (autodiff.ts),
 * one fused Adam update per weight, and the signatures the trainer runs
 * (trainer.ts). `graphEngineSupport` says why a model cannot be written so.
 */
import { backend } from '../tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { GraphBuilder, outputRef as outputRefOf, type Attr, type Signature, type TensorSpec } from './def';
import { Ops } from './ops';
import { gradients } from './autodiff';
import {
  LAYERS, layerSupport, poolFirstChains, weightPenalties, writePoolFirst, type LayerContext, type PoolFirstChain,
} from './layers';
import {
  writeDataVariable, writeGatheredImages, writeImagesLoad, writeOneHot, writeSampledBatch, writeSamplerData,
  type ImagesShape, type SamplerSpec,
} from './sampler';
import { augments, checkAugmentOptions, type SteppedAugment } from '../data/augment';
import { checkSetting, getSetting } from '../config';

/** The loss the graph computes: tfjs's name for it. */
const LOSS = 'categoricalCrossentropy';

/**
 * The layer's config as the graph computes it: the output layer's softmax
 * becomes part of the loss (softmax cross-entropy on the logits).
 */
function graphConfig(model: tfTypes.LayersModel, layer: tfTypes.layers.Layer): tfTypes.serialization.ConfigDict {
  const config = layer.getConfig();
  return layer === model.outputs[0].sourceLayer ? { ...config, activation: 'linear' } : config;
}

/**
 * Null when the graph engine can train `model` exactly as tfjs would, else
 * the reason it cannot, naming the layer and the setting where one is at fault.
 */
export function graphEngineSupport(model: tfTypes.LayersModel): string | null {
  if (!backend.native) return 'the graph engine needs the native backend (@tensorflow/tfjs-node)';
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    return `the graph engine trains models of one input and one output; this one has ${model.inputs.length} and ${model.outputs.length}`;
  }
  const [, ...imageShape] = model.inputs[0].shape;
  if (imageShape.some((d) => d == null) || model.inputs[0].dtype !== 'float32') {
    return `the graph engine needs a float32 input of known shape; this model's is [${model.inputs[0].shape.join(', ')}]`;
  }
  if (model.optimizer == null || model.optimizer.getClassName() !== 'Adam') {
    return 'the graph engine trains with Adam: compile the model with compileCrnn';
  }
  const losses = Array.isArray(model.loss) ? model.loss : [model.loss];
  if (losses.length !== 1 || losses[0] !== LOSS) {
    return `the graph engine trains on the loss ${JSON.stringify(LOSS)}; this model's is ${JSON.stringify(model.loss)}`;
  }
  const output = model.outputs[0].sourceLayer;
  if (model.outputs[0].shape.length !== 2) {
    return `the graph engine trains models whose output is [batch, classes]; this one's is [${model.outputs[0].shape.map(String).join(', ')}]`;
  }
  const outputActivation = output.getConfig().activation;
  if (outputActivation !== 'softmax') {
    return `the graph engine computes the output layer '${output.name}' with activation "softmax" (in the loss); ` +
      `this model's has ${JSON.stringify(outputActivation)}`;
  }
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const reason = layerSupport(layer, graphConfig(model, layer));
    if (reason !== null) return reason;
  }
  return null;
}

const FLOAT: Attr = { type: 'float32' };
const INT: Attr = { type: 'int32' };

/** ResourceApplyAdam's scalar inputs besides the learning rate, in its order: the train signature takes them as one vector. */
export const ADAM_INPUTS = ['beta1_power', 'beta2_power', 'beta1', 'beta2', 'epsilon'] as const;

/** One trainable weight of the graph: its variables and the model weight it mirrors. */
export interface GraphWeight {
  /** Index in `model.trainableWeights`, which is also Adam's order. */
  modelIndex: number;
  shape: number[];
  handle: string;
  m: string;
  v: string;
  value: string;
  grad: string;
}

/**
 * One non-trainable weight of the graph (a moving statistic of batch
 * normalisation): its variable and the model weight it mirrors. Training
 * steps update it; the trainer copies it in and out with the weights.
 */
export interface GraphState {
  /** Index in `model.nonTrainableWeights`. */
  modelIndex: number;
  shape: number[];
  handle: string;
  value: string;
}

/** The signatures of every training graph, which share its variables. */
export type SignatureName = 'train' | 'gradients' | 'evaluate' | 'assign' | 'read';
/** The signatures of a graph written with a sampler: load its data, run `stepsPerCall` steps, or one. */
export type LoopSignatureName = 'load_data' | 'train_loop' | 'train_step';
/** The signatures of a graph written with an evaluation set: load its images, evaluate the whole set. */
export type EvalSignatureName = 'load_eval_data' | 'evaluate_set';
/** The signatures of a graph written with a moving average of the weights: read the averages, set them (a checkpoint's). */
export type AverageSignatureName = 'read_averages' | 'assign_averages';

/**
 * A fixed set of sequences that the graph evaluates whole in one call
 * (`evaluate_set`), on images it holds (as uint8, loaded by `load_eval_data`).
 */
export interface EvalGraphSpec {
  /** The images the sequences are drawn from (the test split). */
  images: ImagesShape;
  /** [size × T] image indices, sequence after sequence (`EvalSet.indices`). */
  indices: Int32Array;
  /** [size] the class of each sequence (`EvalSet.targets`). */
  targets: Int32Array;
  /**
   * Sequences per forward pass: the passes run one after another, so the
   * activations of one batch are alive at a time.
   */
  batchSize: number;
}

/** Training settings the model does not hold, given to `buildTrainingGraph`. */
export interface TrainingGraphOptions {
  /**
   * Label smoothing ε in [0, 1) (default 0): the training loss is the
   * cross-entropy against (1 − ε)·ys + ε/numClasses. Accuracy and the
   * evaluation sums use ys as fed.
   */
  labelSmoothing?: number;
  /**
   * Also write `stepsPerCall` training steps in a row on batches the graph
   * gathers itself from the training data (sampler.ts), as the
   * `train_loop` signature (and one step, `train_step`), and `load_data`
   * to load that data. With `augment` (a shift or rotation above 0), each
   * step's images are shifted and rotated by transforms drawn from
   * [augment.seed, step] (`writeAugmentTransforms`), and the loops take the
   * steps' numbers.
   */
  sampler?: { spec: SamplerSpec; stepsPerCall: number; augment?: SteppedAugment };
  /**
   * Also write the evaluation of this fixed set of sequences in one call, in
   * batches (`evaluate_set`, the loss summed over the set and the number of
   * sequences right, as `evaluate` gives them for a batch), and
   * `load_eval_data` to load its images.
   */
  evaluation?: EvalGraphSpec;
  /**
   * Also keep an exponential moving average of each trainable weight
   * (lib/train/ema.ts): a variable per weight, set to the weight by
   * `assign`, and after every training step moved to the updated weight at
   * the rate fed with the step (`ema_rate` to `train`, `ema_rates` to the
   * loops). The evaluations (`evaluate`, `evaluate_set`) then run on the
   * averages, which `read_averages` reads (`average${k}`).
   */
  movingAverage?: boolean;
  /**
   * Write each convolution that reaches a 2×2 max-pool through its bias and
   * ELU only as conv → max-pool → bias → ELU (default true): the same values,
   * with the bias, the ELU and their gradients on a tensor a quarter of the
   * size (see `PoolFirstChain`). False writes the layers as they come, for
   * comparison.
   */
  poolFirst?: boolean;
}

/**
 * The label smoothing of `options`, checked against its range in the
 * settings table (lib/config.ts).
 * @throws Error unless it is a number in [0, 1).
 */
export function labelSmoothingOf(options: TrainingGraphOptions): number {
  const epsilon = options.labelSmoothing ?? 0;
  checkSetting(getSetting('labelSmoothing'), epsilon);
  return epsilon;
}

/** What the compiled graph consists of, for the trainer. */
export interface TrainingGraph {
  savedModel: Uint8Array;
  signatures: Record<SignatureName, Signature>
    & Partial<Record<LoopSignatureName | EvalSignatureName | AverageSignatureName, Signature>>;
  /** In `model.trainableWeights` order. */
  weights: GraphWeight[];
  /** In `model.nonTrainableWeights` order. */
  states: GraphState[];
  /**
   * Whether the train and gradients signatures take `step`, the int32 number
   * of the training step, which seeds the dropout masks.
   */
  takesStep: boolean;
  /**
   * Whether `train_loop` and `train_step` take `steps`, the int32 numbers of
   * their steps, which seed the dropout masks and the augmentation.
   */
  loopTakesSteps: boolean;
}

/** What the layers' forward passes read and write besides their inputs (see LayerContext). */
interface ForwardContext {
  training: boolean;
  weightValue(w: tfTypes.LayerVariable): string;
  stateValue(w: tfTypes.LayerVariable): string;
  update(w: tfTypes.LayerVariable, value: string): void;
  stepSeed(seed: number): string;
}

/**
 * Writes the model's forward pass from `xs`: the layers in the model's
 * order, each from its config, except that each of `poolFirst` is written as
 * one, at its convolution (see `PoolFirstChain`). Returns the logits.
 */
function writeForward(
  g: GraphBuilder, ops: Ops, model: tfTypes.LayersModel, xs: string, context: ForwardContext, poolFirst: PoolFirstChain[],
): string {
  const values = new Map<number, string>([[model.inputs[0].id, xs]]);
  const chainAt = new Map(poolFirst.map((chain) => [chain.conv, chain]));
  const inChain = new Set(poolFirst.flatMap((chain) => [...chain.activations, chain.pool]));
  const layerContext = (layer: tfTypes.layers.Layer): LayerContext => ({
    ops, layer, config: graphConfig(model, layer), training: context.training,
    weight: (k) => context.weightValue(layer.trainableWeights[k]),
    state: (k) => context.stateValue(layer.nonTrainableWeights[k]),
    update: (k, value) => context.update(layer.nonTrainableWeights[k], value),
    stepSeed: (seed) => context.stepSeed(seed),
  });
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer' || inChain.has(layer)) continue;
    const { inputTensors, outputTensors } = layer.inboundNodes[0];
    const inputs = inputTensors.map((t) => {
      const ref = values.get(t.id);
      if (ref === undefined) throw new Error(`layer '${layer.name}' comes before its input in the model's layers`);
      return ref;
    });
    const chain = chainAt.get(layer);
    if (chain !== undefined) {
      // The chain's later layers come after the convolution in the model's
      // order, and nothing else reads their inputs: the pool's output stands for them all.
      const pooled = g.inScope(layer.name, () => writePoolFirst(layerContext(layer), chain.activations.map(layerContext), inputs[0]));
      values.set(chain.pool.inboundNodes[0].outputTensors[0].id, pooled);
      continue;
    }
    const outputs = g.inScope(layer.name, () => LAYERS[layer.getClassName()].forward(layerContext(layer), inputs));
    outputTensors.forEach((t, k) => values.set(t.id, outputs[k]));
  }
  return values.get(model.outputs[0].id) as string;
}

/** Whether some layer of the model computes otherwise in training steps than at evaluation. */
function differsInTraining(model: tfTypes.LayersModel): boolean {
  return model.layers.some((layer) => LAYERS[layer.getClassName()]?.differsInTraining?.(graphConfig(model, layer)) ?? false);
}

/**
 * Writes the penalties of the layers' L2 regularisers (see `weightPenalties`),
 * in the order of the layers and of their weights, as tfjs's layers list them.
 */
function writePenalties(
  g: GraphBuilder, ops: Ops, model: tfTypes.LayersModel, weightValue: (w: tfTypes.LayerVariable) => string,
): string[] {
  return model.layers.flatMap((layer) => (layer.getClassName() === 'InputLayer' ? [] : g.inScope(`${layer.name}_penalty`,
    () => weightPenalties({
      ops, layer, config: graphConfig(model, layer), weight: (k) => weightValue(layer.trainableWeights[k]),
    }))));
}

/**
 * Writes the training graph of `model`, with one variable (and two Adam
 * slots) per trainable weight of the model. The training loss is the mean
 * softmax cross-entropy (against labels smoothed by `options.labelSmoothing`),
 * plus the penalties of the layers' L2 regularisers; the signatures report
 * the cross-entropy without the penalties, as `createTrainStep` does.
 * @throws Error when `graphEngineSupport(model)` names a reason, or for an
 *   invalid label smoothing.
 */
export function buildTrainingGraph(model: tfTypes.LayersModel, options: TrainingGraphOptions = {}): TrainingGraph {
  const unsupported = graphEngineSupport(model);
  if (unsupported !== null) throw new Error(unsupported);
  const labelSmoothing = labelSmoothingOf(options);
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const numClasses = model.outputs[0].shape[1] as number;
  const poolFirst = options.poolFirst === false ? [] : poolFirstChains(model, (layer) => graphConfig(model, layer));

  // The weights: a variable each, with Adam's two moments.
  const variables = model.trainableWeights.map((layerWeight, modelIndex) => {
    const shape = layerWeight.shape as number[];
    const scope = `weight${modelIndex}`;
    return g.inScope(scope, () => {
      const resource = (name: string) => g.node('VarHandleOp', [], {
        dtype: FLOAT, shape: { shape }, container: { s: '' }, shared_name: { s: `${scope}/${name}` },
      }, name);
      const handle = resource('value');
      const value = g.node('ReadVariableOp', [handle], { dtype: FLOAT }, 'read');
      g.setShape(value, shape);
      // The moving average of the weight, and its value as the evaluations read it.
      const average = options.movingAverage === true ? resource('average') : undefined;
      const averageValue = average === undefined ? undefined : g.node('ReadVariableOp', [average], { dtype: FLOAT }, 'read_average');
      if (averageValue !== undefined) g.setShape(averageValue, shape);
      return {
        layerWeight, modelIndex, shape, handle, m: resource('adam_m'), v: resource('adam_v'), value, average, averageValue,
      };
    });
  });
  const valueOf = new Map(variables.map((w) => [w.layerWeight, w.value]));
  const averageOf = new Map(variables.map((w) => [w.layerWeight, w.averageValue]));

  // The non-trainable weights: a variable each, updated by training steps.
  const states: GraphState[] = model.nonTrainableWeights.map((layerWeight, modelIndex) => {
    const shape = layerWeight.shape as number[];
    const scope = `state${modelIndex}`;
    return g.inScope(scope, () => {
      const handle = g.node('VarHandleOp', [], {
        dtype: FLOAT, shape: { shape }, container: { s: '' }, shared_name: { s: `${scope}/value` },
      }, 'value');
      const value = g.node('ReadVariableOp', [handle], { dtype: FLOAT }, 'read');
      g.setShape(value, shape);
      return { modelIndex, shape, handle, value };
    });
  });
  const stateOf = new Map(model.nonTrainableWeights.map((w, k) => [w, states[k]]));
  const known = <T>(map: Map<tfTypes.LayerVariable, T>, w: tfTypes.LayerVariable, what: string): T => {
    const value = map.get(w);
    if (value === undefined) throw new Error(`weight ${w.name} is not among the model's ${what} weights`);
    return value;
  };
  const weightValue = (w: tfTypes.LayerVariable) => known(valueOf, w, 'trainable');
  // What the evaluations read: the weights' moving averages, where the graph keeps them.
  const evaluatedValue = options.movingAverage === true
    ? (w: tfTypes.LayerVariable) => known(averageOf, w, 'trainable') as string
    : weightValue;
  // The step number, fed with each step, for the layers that draw random masks.
  let step: TensorSpec | undefined;
  const stepPlaceholder = () => {
    step ??= g.placeholder('step', 'int32', []);
    return step.ref;
  };
  const stateValue = (w: tfTypes.LayerVariable) => known(stateOf, w, 'non-trainable').value;
  const context = (
    training: boolean, values: Pick<ForwardContext, 'weightValue' | 'stateValue'>, stepRef: () => string,
    stateUpdates: string[],
  ): ForwardContext => ({
    training,
    ...values,
    update: (w, value) => {
      if (!training) throw new Error('only the training pass updates non-trainable weights');
      stateUpdates.push(g.node('AssignVariableOp', [known(stateOf, w, 'non-trainable').handle, value], { dtype: FLOAT }, 'update'));
    },
    stepSeed: (seed) => {
      const seedConst = g.constant({ dtype: 'int32', shape: [], values: [seed] }, 'seed');
      const pair = g.node('Pack', [seedConst, stepRef()], { T: INT, N: { i: 2 }, axis: { i: 0 } }, 'step_seed');
      g.setShape(pair, [2]);
      return pair;
    },
  });

  // Loss and accuracy of a batch. The model's softmax + categorical
  // cross-entropy is, in one op, softmax cross-entropy on the logits.
  const argMax = (x: string) => g.node('ArgMax', [x, g.constant({ dtype: 'int32', shape: [], values: [1] })],
    { T: FLOAT, Tidx: { type: 'int32' }, output_type: { type: 'int32' } });
  const measures = (of: string, ys: string) => {
    const crossEntropy = ops.softmaxCrossEntropy(of, ys).loss;
    const hits = g.node('Equal', [argMax(of), argMax(ys)], { T: { type: 'int32' }, incompatible_shape_error: { b: true } });
    const correct = ops.castToFloat(hits, 'bool');
    g.setShape(correct, [-1]);
    return { crossEntropy, correct };
  };

  /**
   * One training pass on the batch xs, ys with the weights and statistics
   * `values` and the step number `stepRef`: loss and accuracy, the
   * gradients of the objective, the updates of the moving statistics.
   */
  const trainingPass = (
    xs: string, ys: string, values: Pick<ForwardContext, 'weightValue' | 'stateValue'>, stepRef: () => string,
  ) => {
    const stateUpdates: string[] = [];
    const logits = writeForward(g, ops, model, xs, context(true, values, stepRef, stateUpdates), poolFirst);
    const trained = measures(logits, ys);
    // Training on smoothed labels, (1 − ε)·ys + ε/K, as the eager step computes them.
    const trainingCrossEntropy = labelSmoothing === 0 ? trained.crossEntropy : g.inScope('label_smoothing', () => {
      const smoothed = ops.add(ops.mul(ys, g.scalar(1 - labelSmoothing)), g.scalar(labelSmoothing / numClasses));
      return ops.softmaxCrossEntropy(logits, smoothed).loss;
    });
    // The loss reported; what is minimised adds the regularisers' penalties one
    // by one, in the eager step's order.
    const loss = ops.mean(trainingCrossEntropy);
    const objective = writePenalties(g, ops, model, values.weightValue)
      .reduce((total, penalty) => ops.add(total, penalty), loss);
    const accuracy = ops.mean(trained.correct);
    const grads = g.inScope('gradients', () => gradients(
      ops, [objective], variables.map((w) => values.weightValue(w.layerWeight))));
    return { logits, trained, loss, accuracy, grads, stateUpdates };
  };

  // Adam: one fused update per weight. The learning rate, its other settings
  // and the bias corrections β1^t, β2^t are fed with every step, so
  // schedules and resumed runs need no rebuild.
  const adamUpdates = (grads: string[], settingsVector: string, learningRate: string) => g.inScope('adam', () => {
    const settings = g.node('Unpack', [settingsVector], { T: FLOAT, num: { i: ADAM_INPUTS.length }, axis: { i: 0 } });
    const setting = (name: (typeof ADAM_INPUTS)[number]) => `${settings}:${ADAM_INPUTS.indexOf(name)}`;
    return variables.map((w, i) => g.node('ResourceApplyAdam', [
      w.handle, w.m, w.v, setting('beta1_power'), setting('beta2_power'), learningRate,
      setting('beta1'), setting('beta2'), setting('epsilon'), grads[i],
    ], { T: FLOAT, use_locking: { b: false }, use_nesterov: { b: false } }));
  });
  // The moving averages: after a step's Adam updates, each average moves to
  // its updated weight, average − α·(average − w), at the rate α fed with the step.
  const averageUpdates = (updates: string[], rate: string, after: string[]) => (options.movingAverage !== true ? []
    : g.inScope('moving_average', () => variables.map((w, i) => {
      const updated = g.node('ReadVariableOp', [w.handle, `^${updates[i]}`], { dtype: FLOAT }, 'updated');
      const average = g.node('ReadVariableOp', [w.average as string, ...after], { dtype: FLOAT }, 'average');
      const delta = g.node('Sub', [average, updated], { T: FLOAT }, 'delta');
      return g.node('ResourceApplyGradientDescent', [w.average as string, rate, delta],
        { T: FLOAT, use_locking: { b: false } }, 'update');
    })));
  const packed = (name: string, values: string[], controls: string[] = []) => g.node('Pack',
    [...values, ...controls.map((c) => `^${c}`)], { T: FLOAT, N: { i: values.length }, axis: { i: 0 } }, name);

  // The training pass of the fed batch, and, where a layer computes otherwise
  // at evaluation, a second forward pass for evaluation on the same variables.
  const input = model.inputs[0];
  const xs = g.placeholder('xs', 'float32', [-1, ...(input.shape.slice(1) as number[])]);
  const ys = g.placeholder('ys', 'float32', [-1, numClasses]);
  const pass = trainingPass(xs.ref, ys.ref, { weightValue, stateValue }, stepPlaceholder);
  const evaluated = differsInTraining(model) || options.movingAverage === true
    ? g.inScope('inference', () => measures(writeForward(g, ops, model, xs.ref,
      context(false, { weightValue: evaluatedValue, stateValue }, stepPlaceholder, []), poolFirst), ys.ref))
    : pass.trained;
  // For evaluation in batches: the loss summed over the batch and the number right.
  const lossAndCorrectSums = g.node('Pack', [ops.sum(evaluated.crossEntropy), ops.sum(evaluated.correct)],
    { T: FLOAT, N: { i: 2 }, axis: { i: 0 } }, 'loss_and_correct_sums');
  const weights: GraphWeight[] = variables.map((w, i) => ({
    modelIndex: w.modelIndex, shape: w.shape, handle: w.handle, m: w.m, v: w.v, value: w.value, grad: pass.grads[i],
  }));
  const learningRate = g.placeholder('learning_rate', 'float32', []);
  const adamSettings = g.placeholder('adam', 'float32', [ADAM_INPUTS.length]);
  const updates = adamUpdates(pass.grads, adamSettings.ref, learningRate.ref);
  const averageRate = options.movingAverage === true ? g.placeholder('ema_rate', 'float32', []) : undefined;
  const stepAverageUpdates = averageRate === undefined ? [] : averageUpdates(updates, averageRate.ref, []);
  const vector = (ref: string, size: number): TensorSpec => ({ ref, dtype: 'float32', shape: [size] });
  const key = (slot: string, w: GraphWeight) => `${slot}${w.modelIndex}`;

  // Weights, Adam slots and non-trainable weights (`state${k}`) in and out.
  const variableSlots = [
    ...weights.flatMap((w) => (['value', 'm', 'v'] as const).map((slot) => ({
      key: key(slot, w), shape: w.shape, handle: slot === 'value' ? w.handle : w[slot],
    }))),
    ...states.map((s) => ({ key: `state${s.modelIndex}`, shape: s.shape, handle: s.handle })),
  ];
  const assigns = g.inScope('assign', () => variableSlots.map((v) => {
    const input = g.placeholder(v.key, 'float32', v.shape);
    return { ...v, input, op: g.node('AssignVariableOp', [v.handle, input.ref], { dtype: FLOAT }) };
  }));
  // Each average starts at its weight.
  const averageAssigns = options.movingAverage !== true ? [] : g.inScope('assign', () => variables.map((w, i) => {
    const input = assigns.find((a) => a.key === key('value', weights[i]))?.input as TensorSpec;
    return g.node('AssignVariableOp', [w.average as string, input.ref], { dtype: FLOAT }, 'average');
  }));
  const assigned = ops.identity(g.scalar(1, 'one'), [...assigns.map((a) => a.op), ...averageAssigns], 'assigned');
  const reads = g.inScope('read', () => variableSlots.map((v) => (
    { ...v, ref: g.node('ReadVariableOp', [v.handle], { dtype: FLOAT }, v.key) })));
  const stepInput: Record<string, TensorSpec> = step === undefined ? {} : { step };

  const signatures: TrainingGraph['signatures'] = {
    train: {
      inputs: {
        xs, ys, learning_rate: learningRate, adam: adamSettings, ...stepInput,
        ...(averageRate === undefined ? {} : { ema_rate: averageRate }),
      },
      // The rate is read back as Adam received it, once the updates (of the
      // weights, the moving statistics and averages) are done.
      outputs: {
        loss_accuracy_rate: vector(packed('loss_accuracy_rate', [pass.loss, pass.accuracy, learningRate.ref],
          [...updates, ...pass.stateUpdates, ...stepAverageUpdates]), 3),
      },
    },
    // The training pass's loss and gradients (dropout masks of the fed step,
    // batch statistics), without updating anything.
    gradients: {
      inputs: { xs, ys, ...stepInput },
      outputs: {
        loss_and_accuracy: vector(packed('loss_and_accuracy', [pass.loss, pass.accuracy]), 2),
        ...Object.fromEntries(weights.map((w) => [key('grad', w), { ref: w.grad, dtype: 'float32', shape: w.shape }])),
      },
    },
    evaluate: {
      inputs: { xs, ys },
      outputs: { loss_and_correct_sums: vector(lossAndCorrectSums, 2) },
    },
    assign: {
      inputs: Object.fromEntries(assigns.map((a) => [a.key, a.input])),
      outputs: { assigned: { ref: assigned, dtype: 'float32', shape: [] } },
    },
    read: {
      inputs: {},
      outputs: Object.fromEntries(reads.map((r) => [r.key, { ref: r.ref, dtype: 'float32', shape: r.shape }])),
    },
  };

  if (options.movingAverage === true) {
    signatures.read_averages = g.inScope('read_averages', () => ({
      inputs: {},
      outputs: Object.fromEntries(variables.map((w) => [`average${w.modelIndex}`, {
        ref: g.node('ReadVariableOp', [w.average as string], { dtype: FLOAT }, `average${w.modelIndex}`),
        dtype: 'float32', shape: w.shape,
      } satisfies TensorSpec])),
    }));
    // To go on with an average kept outside the graph (a checkpoint's), instead of one started at the weights.
    signatures.assign_averages = g.inScope('assign_averages', () => {
      const inputs = variables.map((w) => g.placeholder(`average${w.modelIndex}`, 'float32', w.shape));
      const done = variables.map((w, i) => g.node('AssignVariableOp', [w.average as string, inputs[i].ref], { dtype: FLOAT }));
      return {
        inputs: Object.fromEntries(variables.map((w, i) => [`average${w.modelIndex}`, inputs[i]])),
        outputs: { assigned: { ref: ops.identity(g.scalar(1, 'one'), done, 'assigned'), dtype: 'float32', shape: [] } },
      };
    });
  }

  // Training steps in a row, on batches the graph gathers itself (sampler.ts).
  if (options.sampler !== undefined) {
    const { spec, stepsPerCall } = options.sampler;
    checkSamplerSpec(spec, model, stepsPerCall);
    const augment = checkedAugment(options.sampler.augment);
    const data = writeSamplerData(g, spec);
    const loadData = g.inScope('load_data', () => {
      const images = writeImagesLoad(g, 'images', data.imagesHandle, spec);
      const labels = g.placeholder('labels', 'int32', [spec.count]);
      const assignLabels = g.node('AssignVariableOp', [data.labelsHandle, labels.ref], { dtype: INT });
      return { images: images.input, labels, done: ops.identity(g.scalar(1, 'one'), [images.assign, assignLabels], 'loaded') };
    });
    signatures.load_data = {
      inputs: { images: loadData.images, labels: loadData.labels },
      outputs: { loaded: { ref: loadData.done, dtype: 'float32', shape: [] } },
    };
    const writeLoop = (callSteps: number) => g.inScope(`loop${callSteps}`, () => {
      const indices = g.placeholder('indices', 'int32', [callSteps, -1]);
      const rates = g.placeholder('learning_rates', 'float32', [callSteps]);
      const adamRows = g.placeholder('adam', 'float32', [callSteps, ADAM_INPUTS.length]);
      const averageRates = options.movingAverage === true ? g.placeholder('ema_rates', 'float32', [callSteps]) : undefined;
      const unpack = (x: string, dtype: Attr, name: string) => {
        const node = g.node('Unpack', [x], { T: dtype, num: { i: callSteps }, axis: { i: 0 } }, name);
        return Array.from({ length: callSteps }, (_, k) => outputRefOf(node, k));
      };
      const batchIndices = unpack(indices.ref, INT, 'indices_by_step');
      const stepRates = unpack(rates.ref, FLOAT, 'rates_by_step');
      const stepAdam = unpack(adamRows.ref, FLOAT, 'adam_by_step');
      const stepAverageRates = averageRates === undefined ? [] : unpack(averageRates.ref, FLOAT, 'ema_rates_by_step');
      let steps: { spec: TensorSpec; each: string[] } | undefined;
      const stepNumber = (k: number) => () => {
        if (steps === undefined) {
          const spec = g.placeholder('steps', 'int32', [callSteps]);
          steps = { spec, each: unpack(spec.ref, INT, 'steps_by_step') };
        }
        return steps.each[k];
      };
      const rows: string[] = [];
      let done: string | undefined;
      for (let k = 0; k < callSteps; k++) {
        rows.push(g.inScope(`step${k}`, () => {
          const batch = writeSampledBatch(g, spec, data, batchIndices[k],
            augment === undefined ? undefined : { ...augment, step: stepNumber(k)() });
          // Each step reads the weights and statistics that the step before it wrote.
          const after = done === undefined ? [] : [`^${done}`];
          const read = (handle: string, shape: number[]) => {
            const ref = g.node('ReadVariableOp', [handle, ...after], { dtype: FLOAT }, 'read');
            g.setShape(ref, shape);
            return ref;
          };
          const weightReads = new Map(variables.map((w) => [w.layerWeight, read(w.handle, w.shape)]));
          const stateReads = new Map(states.map((s) => [model.nonTrainableWeights[s.modelIndex], read(s.handle, s.shape)]));
          const stepPass = trainingPass(batch.xs, batch.ys, {
            weightValue: (w) => known(weightReads, w, 'trainable'),
            stateValue: (w) => known(stateReads, w, 'non-trainable'),
          }, stepNumber(k));
          const stepUpdates = adamUpdates(stepPass.grads, stepAdam[k], stepRates[k]);
          const averaged = averageRates === undefined ? [] : averageUpdates(stepUpdates, stepAverageRates[k], after);
          done = packed('loss_accuracy_rate', [stepPass.loss, stepPass.accuracy, stepRates[k]],
            [...stepUpdates, ...stepPass.stateUpdates, ...averaged]);
          return done;
        }));
      }
      const out = g.node('Pack', rows, { T: FLOAT, N: { i: callSteps }, axis: { i: 0 } }, 'loss_accuracy_rate');
      return {
        inputs: {
          indices, learning_rates: rates, adam: adamRows, ...(steps === undefined ? {} : { steps: steps.spec }),
          ...(averageRates === undefined ? {} : { ema_rates: averageRates }),
        },
        out,
      };
    });
    // The steps that do not fill a call (before an evaluation, at the end) run one per call.
    for (const [name, k] of [['train_loop', stepsPerCall], ['train_step', 1]] as const) {
      if (name === 'train_step' && stepsPerCall === 1) continue;
      const loop = writeLoop(k);
      signatures[name] = {
        inputs: loop.inputs,
        outputs: { loss_accuracy_rate: { ref: loop.out, dtype: 'float32', shape: [k, 3] } },
      };
    }
  }
  // The whole evaluation set in one call, batch after batch, on the inference pass.
  if (options.evaluation !== undefined) {
    const evaluation = options.evaluation;
    checkEvalSpec(evaluation, model);
    const [, seqLength, height, width] = input.shape as number[];
    const evalImages = g.inScope('eval_data', () => writeDataVariable(g, 'images', 'uint8',
      [evaluation.images.count, evaluation.images.height, evaluation.images.width]));
    signatures.load_eval_data = g.inScope('load_eval_data', () => {
      const load = writeImagesLoad(g, 'images', evalImages.handle, evaluation.images);
      return {
        inputs: { images: load.input },
        outputs: { loaded: { ref: ops.identity(g.scalar(1, 'one'), [load.assign], 'loaded'), dtype: 'float32', shape: [] } },
      };
    });
    const noStep = () => {
      throw new Error('the inference pass draws no dropout masks');
    };
    const size = evaluation.targets.length;
    const total = g.inScope('evaluate_set', () => {
      let sum: string | undefined;
      for (let start = 0, k = 0; start < size; start += evaluation.batchSize, k++) {
        const end = Math.min(start + evaluation.batchSize, size);
        sum = g.inScope(`batch${k}`, () => {
          const indices = g.constant({
            dtype: 'int32', shape: [(end - start) * seqLength], values: evaluation.indices.subarray(start * seqLength, end * seqLength),
          }, 'indices');
          const targets = g.constant({ dtype: 'int32', shape: [end - start], values: evaluation.targets.subarray(start, end) }, 'targets');
          // A batch's images are gathered once the batch before it is summed: one batch's activations at a time.
          const batchXs = writeGatheredImages(g, evalImages.value, indices, { seqLength, height, width }, sum === undefined ? [] : [sum]);
          const logits = writeForward(g, ops, model, batchXs,
            context(false, { weightValue: evaluatedValue, stateValue }, noStep, []), poolFirst);
          const measured = measures(logits, writeOneHot(g, targets, numClasses));
          const sums = g.node('Pack', [ops.sum(measured.crossEntropy), ops.sum(measured.correct)],
            { T: FLOAT, N: { i: 2 }, axis: { i: 0 } }, 'sums');
          g.setShape(sums, [2]);
          // Added up in order, in float32, as measureLossAccuracy adds the batches' sums.
          return sum === undefined ? sums : ops.add(sum, sums);
        });
      }
      return sum as string;
    });
    signatures.evaluate_set = { inputs: {}, outputs: { loss_and_correct_sums: vector(total, 2) } };
  }
  return {
    savedModel: g.toSavedModel(signatures), signatures, weights, states, takesStep: step !== undefined,
    loopTakesSteps: signatures.train_loop?.inputs.steps !== undefined,
  };
}

/**
 * The augmentation of a sampler, checked; undefined where it changes no
 * image (absent, or no shift and no rotation).
 * @throws Error naming the option and the value, or a seed that is not an int32.
 */
function checkedAugment(augment: SteppedAugment | undefined): SteppedAugment | undefined {
  if (augment === undefined) return undefined;
  checkAugmentOptions(augment);
  if (!(Number.isInteger(augment.seed) && augment.seed >= -(2 ** 31) && augment.seed < 2 ** 31)) {
    throw new Error(`the augmentation seed must be an int32, got ${augment.seed}`);
  }
  return augments(augment) ? augment : undefined;
}

/**
 * Checks that an evaluation set fits the model (image size, classes) and
 * its images, and that its batch size is a positive integer.
 * @throws Error naming the mismatch.
 */
function checkEvalSpec(spec: EvalGraphSpec, model: tfTypes.LayersModel): void {
  const { images, indices, targets, batchSize } = spec;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`the evaluation batch size must be a positive integer, got ${batchSize}`);
  }
  const [, seqLength, height, width] = model.inputs[0].shape as number[];
  const numClasses = model.outputs[0].shape[1] as number;
  if (images.height !== height || images.width !== width) {
    throw new Error(`the evaluation images are ${images.height}×${images.width}; the model takes ${height}×${width}`);
  }
  if (targets.length < 1 || indices.length !== targets.length * seqLength) {
    throw new Error(`an evaluation set of ${targets.length} sequences of ${seqLength} images needs ` +
      `${targets.length * seqLength} image indices; got ${indices.length}`);
  }
  for (const index of indices) {
    if (!(index >= 0 && index < images.count)) throw new Error(`evaluation image index ${index} is outside 0..${images.count - 1}`);
  }
  for (const target of targets) {
    if (!(target >= 0 && target < numClasses)) throw new Error(`evaluation target ${target} is outside 0..${numClasses - 1}`);
  }
}

/**
 * Checks that a sampler fits the model (image size, T, classes) and that
 * `stepsPerCall` is a positive integer.
 * @throws Error naming the mismatch.
 */
function checkSamplerSpec(spec: SamplerSpec, model: tfTypes.LayersModel, stepsPerCall: number): void {
  if (!Number.isInteger(stepsPerCall) || stepsPerCall < 1) {
    throw new Error(`stepsPerCall must be a positive integer, got ${stepsPerCall}`);
  }
  const [, seqLength, height, width] = model.inputs[0].shape;
  const numClasses = model.outputs[0].shape[1];
  if (spec.seqLength !== seqLength || spec.height !== height || spec.width !== width || spec.numClasses !== numClasses) {
    throw new Error(`the sampler makes sequences of ${spec.seqLength} ${spec.height}×${spec.width} images in ` +
      `${spec.numClasses} classes; the model takes ${seqLength} ${height}×${width} images in ${numClasses}`);
  }
  if (spec.classTable.length !== 10 ** spec.seqLength) {
    throw new Error(`the class table has ${spec.classTable.length} entries; sequences of ${spec.seqLength} digits need ${10 ** spec.seqLength}`);
  }
}
