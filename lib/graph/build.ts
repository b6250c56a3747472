/**
 * The graph engine: a CRNN training step compiled into one TensorFlow graph.
 *
 * tfjs-node executes eagerly, one native call per op. A training step of the
 * article's CRNN is ~560 such calls (forward, tape-driven backward, and about
 * a dozen ops of Adam per weight), and at ~50 µs each the calls cost more than
 * the arithmetic. Here the same step (forward pass, the backward pass written
 * out layer by layer, and TensorFlow's fused ResourceApplyAdam per weight) is
 * written as a graph, saved as a SavedModel in a temporary folder and loaded
 * through `tf.node.loadSavedModel`. Then a step is one session call, and
 * TensorFlow optimises the graph as a whole (constant folding, fused
 * convolutions, oneDNN kernels).
 *
 * The tfjs model stays the source of truth: the trainer copies its weights
 * and Adam state in when it starts and back on `pull()`, so that saving,
 * predicting and further eager training see the trained model. Evaluation
 * during training runs in the graph (`evaluate`), on the graph's weights.
 *
 * Supported: models built by `buildCrnn`, any cell (lib/graph-rnn.ts), per-step
 * or shared CNNs; `graphEngineSupport` says why another model is not.
 */
import { tf, backend } from '../tf';
import type * as tfTypes from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GraphBuilder, SERVE_TAG, type Attr, type Signature, type TensorSpec } from './def';
import { Ops } from './ops';
import { rnnLayer } from './rnn';
import type { CrnnConfig } from '../types';

/** The architecture of a model built by `buildCrnn`, read from its layers. */
export interface CrnnStructure {
  config: Omit<CrnnConfig, 'learningRate'>;
  /** The CNN layer-name prefixes: ['shared'] or ['step0', 'step1', …]. */
  cnnPrefixes: string[];
}

function layerOrNull(model: tfTypes.LayersModel, name: string): tfTypes.layers.Layer | null {
  try {
    return model.getLayer(name);
  } catch {
    return null;
  }
}

/**
 * Reads the architecture of a CRNN from its layers.
 * @throws Error when the model was not built by `buildCrnn`.
 */
export function crnnStructure(model: tfTypes.LayersModel): CrnnStructure {
  const notCrnn = (what: string) => new Error(`the graph engine trains models built by buildCrnn; this one ${what}`);
  const [, seqLength, height, width, channels] = model.inputs[0].shape;
  if (model.inputs.length !== 1 || seqLength == null || height == null || width == null || channels !== 1) {
    throw notCrnn(`has inputs [${model.inputs.map((i) => i.shape.join(', ')).join('], [')}]`);
  }
  const sharedCnn = layerOrNull(model, 'shared_conv1') != null;
  const cnnPrefixes = sharedCnn ? ['shared'] : Array.from({ length: seqLength }, (_, t) => `step${t}`);
  const kernelShape = (name: string): number[] => {
    const layer = layerOrNull(model, name);
    if (layer == null) throw notCrnn(`has no layer '${name}'`);
    return layer.trainableWeights[0].shape as number[];
  };
  const [, , , f1] = kernelShape(`${cnnPrefixes[0]}_conv1`);
  const [, , , f2] = kernelShape(`${cnnPrefixes[0]}_conv2`);
  const [, denseUnits] = kernelShape(`${cnnPrefixes[0]}_dense`);
  for (const prefix of cnnPrefixes) {
    for (const layer of ['conv1', 'conv2', 'dense']) kernelShape(`${prefix}_${layer}`);
  }
  const cell = (['simple', 'gru', 'lstm'] as const).find((c) => layerOrNull(model, `rnn_${c}`) != null);
  if (cell === undefined) throw notCrnn('has no rnn_simple, rnn_gru or rnn_lstm layer');
  const [hiddenSize, numClasses] = kernelShape('class_probabilities');
  return {
    config: { seqLength, height, width, numClasses, filters: [f1, f2], denseUnits, cell, hiddenSize, sharedCnn },
    cnnPrefixes,
  };
}

/** Null when the graph engine can train `model`, else the reason it cannot. */
export function graphEngineSupport(model: tfTypes.LayersModel): string | null {
  if (!backend.native) return 'the graph engine needs the native backend (@tensorflow/tfjs-node)';
  let structure: CrnnStructure;
  try {
    structure = crnnStructure(model);
  } catch (err) {
    return (err as Error).message;
  }
  // The graph computes the cells as buildCrnn makes them (see lib/graph-rnn.ts).
  const rnn = model.getLayer(`rnn_${structure.config.cell}`).getConfig();
  const expected = { activation: 'tanh', useBias: true, dropout: 0, recurrentDropout: 0,
    ...(structure.config.cell === 'simple' ? {} : { recurrentActivation: 'hardSigmoid' }) };
  for (const [key, value] of Object.entries(expected)) {
    if (rnn[key] !== value) {
      return `the graph engine computes the recurrent layer with ${key} ${JSON.stringify(value)}; ` +
        `this model's has ${JSON.stringify(rnn[key])}`;
    }
  }
  if (model.optimizer == null || model.optimizer.getClassName() !== 'Adam') {
    return 'the graph engine trains with Adam: compile the model with compileCrnn';
  }
  return null;
}

const FLOAT: Attr = { type: 'float32' };

/** ResourceApplyAdam's scalar inputs, in its order: the train signature takes them as one vector. */
const ADAM_INPUTS = ['beta1_power', 'beta2_power', 'learning_rate', 'beta1', 'beta2', 'epsilon'] as const;

/** One trainable weight of the graph: its variables and the model weight it mirrors. */
interface GraphWeight {
  /** Index in `model.trainableWeights`, which is also Adam's order. */
  modelIndex: number;
  shape: number[];
  handle: string;
  m: string;
  v: string;
  value: string;
  grad?: string;
}

/** What the compiled graph consists of, for the trainer. */
interface CrnnGraph {
  savedModel: Uint8Array;
  signatures: Record<'train' | 'gradients' | 'evaluate' | 'assign' | 'read', Signature>;
  weights: GraphWeight[];
}

/**
 * Writes the training graph of `model`, a CRNN of the given structure, with
 * one variable (and two Adam slots) per trainable weight of the model.
 */
function buildCrnnGraph(model: tfTypes.LayersModel, structure: CrnnStructure): CrnnGraph {
  const { config, cnnPrefixes } = structure;
  const { seqLength: T, height: H, width: W, numClasses: C } = config;
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const modelWeights = model.trainableWeights;

  const weights: GraphWeight[] = [];
  /** The graph value of weight `index` of layer `layerName`, with Adam's slots. */
  const variable = (layerName: string, index: number): GraphWeight => {
    const layerWeight = model.getLayer(layerName).trainableWeights[index];
    const modelIndex = modelWeights.indexOf(layerWeight);
    if (modelIndex < 0) throw new Error(`weight ${layerWeight.name} is not among the model's trainable weights`);
    const shape = layerWeight.shape as number[];
    return g.inScope(`${layerName}_${index}`, () => {
      const resource = (name: string) => g.node('VarHandleOp', [], {
        dtype: FLOAT, shape: { shape }, container: { s: '' }, shared_name: { s: `${layerName}_${index}/${name}` },
      }, name);
      const handle = resource('value');
      const weight: GraphWeight = {
        modelIndex, shape, handle, m: resource('adam_m'), v: resource('adam_v'),
        value: g.node('ReadVariableOp', [handle], { dtype: FLOAT }, 'read'),
      };
      weights.push(weight);
      return weight;
    });
  };
  const addGrad = (weight: GraphWeight, grad: string) => {
    weight.grad = weight.grad === undefined ? grad : ops.add(weight.grad, grad);
  };

  const xs = g.placeholder('xs', 'float32', [-1, T, H, W, 1]);
  const ys = g.placeholder('ys', 'float32', [-1, C]);

  // Forward. Every CNN maps images [n, H, W, 1] to features [n, denseUnits].
  type Cnn = ReturnType<typeof cnnForward>;
  const cnnForward = (prefix: string, images: string) => g.inScope(prefix, () => {
    const [k1, b1] = [variable(`${prefix}_conv1`, 0), variable(`${prefix}_conv1`, 1)];
    const [k2, b2] = [variable(`${prefix}_conv2`, 0), variable(`${prefix}_conv2`, 1)];
    const [w3, b3] = [variable(`${prefix}_dense`, 0), variable(`${prefix}_dense`, 1)];
    const a1 = ops.elu(ops.biasAdd(ops.conv2d(images, k1.value), b1.value));
    const p1 = ops.maxPool2x2(a1);
    const a2 = ops.elu(ops.biasAdd(ops.conv2d(p1, k2.value), b2.value));
    const p2 = ops.maxPool2x2(a2);
    const flat = ops.reshape(p2, [-1, w3.shape[0]]);
    const a3 = ops.elu(ops.biasAdd(ops.matMul(flat, w3.value), b3.value));
    return { images, k1, b1, a1, p1, k2, b2, a2, p2, w3, b3, flat, a3 };
  });
  let cnns: Cnn[];
  let features: string[];
  if (config.sharedCnn) {
    const cnn = cnnForward(cnnPrefixes[0], ops.reshape(xs.ref, [-1, H, W, 1]));
    cnns = [cnn];
    features = ops.unstack(ops.reshape(cnn.a3, [-1, T, config.denseUnits]), T, 1);
  } else {
    const images = ops.unstack(xs.ref, T, 1);
    cnns = cnnPrefixes.map((prefix, t) => cnnForward(prefix, images[t]));
    features = cnns.map((cnn) => cnn.a3);
  }

  // The recurrent layer (lib/graph-rnn.ts), its gradients going to its weights.
  const rnnName = `rnn_${config.cell}`;
  const rnnWeights = { kernel: variable(rnnName, 0), recurrent: variable(rnnName, 1), bias: variable(rnnName, 2) };
  const rnn = g.inScope('rnn', () => rnnLayer(ops, config.cell, {
    kernel: rnnWeights.kernel.value, recurrent: rnnWeights.recurrent.value, bias: rnnWeights.bias.value,
  }, config.hiddenSize, features, (weight, grad) => addGrad(rnnWeights[weight], grad)));
  const states = rnn.states;
  const [wo, bo] = [variable('class_probabilities', 0), variable('class_probabilities', 1)];
  const logits = ops.biasAdd(ops.matMul(states[T - 1], wo.value), bo.value);

  // Loss and accuracy of the batch. The model's softmax + categorical
  // cross-entropy is, in one op, softmax cross-entropy on the logits.
  const crossEntropy = g.node('SoftmaxCrossEntropyWithLogits', [logits, ys.ref], { T: FLOAT });
  const loss = ops.mean(`${crossEntropy}:0`);
  const argMax = (x: string) => g.node('ArgMax', [x, g.constant({ dtype: 'int32', shape: [], values: [1] })],
    { T: FLOAT, Tidx: { type: 'int32' }, output_type: { type: 'int32' } });
  const hits = g.node('Equal', [argMax(logits), argMax(ys.ref)], { T: { type: 'int32' }, incompatible_shape_error: { b: true } });
  const correct = g.node('Cast', [hits], { SrcT: { type: 'bool' }, DstT: FLOAT, Truncate: { b: false } });
  const accuracy = ops.mean(correct);
  // For evaluation in batches: the loss summed over the batch and the number right.
  const sum = (x: string) => g.node('Sum', [x, g.ints([0])], { T: FLOAT, Tidx: { type: 'int32' }, keep_dims: { b: false } });
  const lossAndCorrectSums = g.node('Pack', [sum(`${crossEntropy}:0`), sum(correct)],
    { T: FLOAT, N: { i: 2 }, axis: { i: 0 } }, 'loss_and_correct_sums');

  // Backward, from dL/dlogits = (softmax − ys) / batch.
  g.inScope('gradients', () => {
    const batchSize = g.node('Cast', [g.node('Size', [`${crossEntropy}:0`], { T: FLOAT, out_type: { type: 'int32' } })],
      { SrcT: { type: 'int32' }, DstT: FLOAT, Truncate: { b: false } });
    const dLogits = g.node('RealDiv', [`${crossEntropy}:1`, batchSize], { T: FLOAT });
    addGrad(wo, ops.matMul(states[T - 1], dLogits, true, false));
    addGrad(bo, ops.biasGrad(dLogits));
    const dFeatures = g.inScope('rnn', () => rnn.backward(ops.matMul(dLogits, wo.value, false, true)));
    const cnnBackward = (cnn: Cnn, dA3: string) => {
      const dZ3 = ops.eluGrad(dA3, cnn.a3);
      addGrad(cnn.w3, ops.matMul(cnn.flat, dZ3, true, false));
      addGrad(cnn.b3, ops.biasGrad(dZ3));
      const dP2 = ops.reshapeLike(ops.matMul(dZ3, cnn.w3.value, false, true), cnn.p2);
      const dZ2 = ops.eluGrad(ops.maxPool2x2Grad(cnn.a2, cnn.p2, dP2), cnn.a2);
      addGrad(cnn.k2, ops.conv2dGradFilter(cnn.p1, cnn.k2.shape, dZ2));
      addGrad(cnn.b2, ops.biasGrad(dZ2));
      const dP1 = ops.conv2dGradInput(cnn.p1, cnn.k2.value, dZ2);
      const dZ1 = ops.eluGrad(ops.maxPool2x2Grad(cnn.a1, cnn.p1, dP1), cnn.a1);
      addGrad(cnn.k1, ops.conv2dGradFilter(cnn.images, cnn.k1.shape, dZ1));
      addGrad(cnn.b1, ops.biasGrad(dZ1));
    };
    if (config.sharedCnn) {
      cnnBackward(cnns[0], ops.reshape(ops.stack(dFeatures, 1), [-1, config.denseUnits]));
    } else {
      cnns.forEach((cnn, t) => cnnBackward(cnn, dFeatures[t]));
    }
  });

  // Adam: one fused update per weight. Its settings and the bias corrections
  // β1^t, β2^t are fed with every step, from the model's optimiser, so
  // schedules and resumed runs need no rebuild.
  const adamSettings = g.placeholder('adam', 'float32', [ADAM_INPUTS.length]);
  const updates = g.inScope('adam', () => {
    const settings = g.node('Unpack', [adamSettings.ref], { T: FLOAT, num: { i: ADAM_INPUTS.length }, axis: { i: 0 } });
    return weights.map((w) => g.node('ResourceApplyAdam', [
      w.handle, w.m, w.v, ...ADAM_INPUTS.map((_, k) => `${settings}:${k}`), w.grad as string,
    ], { T: FLOAT, use_locking: { b: false }, use_nesterov: { b: false } }));
  });
  const lossAndAccuracy = (controls: string[]) => g.node('Pack', [loss, accuracy, ...controls.map((c) => `^${c}`)],
    { T: FLOAT, N: { i: 2 }, axis: { i: 0 } }, 'loss_and_accuracy');
  const scalar = (ref: string): TensorSpec => ({ ref, dtype: 'float32', shape: [] });
  const pair = (ref: string): TensorSpec => ({ ref, dtype: 'float32', shape: [2] });
  const key = (slot: string, w: GraphWeight) => `${slot}${w.modelIndex}`;

  // Weights and Adam slots in and out.
  const assigns = g.inScope('assign', () => weights.flatMap((w) => (['value', 'm', 'v'] as const).map((slot) => {
    const input = g.placeholder(`${key(slot, w)}`, 'float32', w.shape);
    const handle = slot === 'value' ? w.handle : w[slot];
    return { slot, w, input, op: g.node('AssignVariableOp', [handle, input.ref], { dtype: FLOAT }) };
  })));
  const assigned = ops.identity(g.scalar(1, 'one'), assigns.map((a) => a.op), 'assigned');
  const reads = g.inScope('read', () => weights.flatMap((w) => (['value', 'm', 'v'] as const).map((slot) => {
    const handle = slot === 'value' ? w.handle : w[slot];
    return { slot, w, ref: g.node('ReadVariableOp', [handle], { dtype: FLOAT }, key(slot, w)) };
  })));

  const signatures: CrnnGraph['signatures'] = {
    train: {
      inputs: { xs, ys, adam: adamSettings },
      outputs: { loss_and_accuracy: pair(lossAndAccuracy(updates)) },
    },
    gradients: {
      inputs: { xs, ys },
      outputs: {
        loss_and_accuracy: pair(lossAndAccuracy([])),
        ...Object.fromEntries(weights.map((w) => [key('grad', w), { ref: w.grad as string, dtype: 'float32', shape: w.shape }])),
      },
    },
    evaluate: {
      inputs: { xs, ys },
      outputs: { loss_and_correct_sums: pair(lossAndCorrectSums) },
    },
    assign: {
      inputs: Object.fromEntries(assigns.map((a) => [key(a.slot, a.w), a.input])),
      outputs: { assigned: scalar(assigned) },
    },
    read: {
      inputs: {},
      outputs: Object.fromEntries(reads.map((r) => [key(r.slot, r.w), { ref: r.ref, dtype: 'float32', shape: r.w.shape }])),
    },
  };
  if (weights.length !== modelWeights.length) {
    throw new Error(`the graph has ${weights.length} weights but the model ${modelWeights.length}`);
  }
  return { savedModel: g.toSavedModel(signatures), signatures, weights };
}

/**
 * A copy of `x` in TensorFlow's own memory, for feeding a session.
 *
 * tfjs-node hands TensorFlow the JavaScript memory of a tensor made from
 * JavaScript data (`tf.tensor(array)`) without copying it. Eager ops cope,
 * but fed to a session run such tensors crashed the process within a few
 * hundred runs (unaligned buffers in oneDNN kernels, corrupted V8 memory).
 * The output of a TensorFlow op is allocated by TensorFlow, aligned and
 * owned by it; an addition of 0 is the cheapest such op.
 */
function inTensorFlowMemory(x: tfTypes.Tensor): tfTypes.Tensor {
  return tf.tidy(() => tf.add(x, tf.scalar(0, x.dtype)));
}

/** The tensors a loaded signature takes and gives, by signature key. */
type NamedTensors = Record<string, tfTypes.Tensor>;

/** A signature of a loaded SavedModel (tfjs-node's TFSavedModel, the part used here). */
interface LoadedSignature {
  predict(inputs: NamedTensors): NamedTensors;
  dispose(): void;
}

type LoadSavedModel = (dir: string, tags: string[], signature: string) => Promise<LoadedSignature>;

/** Adam's state, which tfjs's AdamOptimizer keeps in protected fields. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  iterations_?: number;
  accBeta1: tfTypes.Variable;
  accBeta2: tfTypes.Variable;
  accumulatedFirstMoment: ({ originalName: string; variable: tfTypes.Variable } | undefined)[];
  accumulatedSecondMoment: ({ originalName: string; variable: tfTypes.Variable } | undefined)[];
}

/**
 * Trains a CRNN with its graph-compiled step (see the top of this file).
 *
 *   const trainer = await GraphTrainer.create(model);
 *   const lossAndAccuracy = trainer.step(xs, ys);   // [2]: the batch's loss and accuracy
 *   await trainer.pull();                             // the model now holds the trained weights
 *   trainer.dispose();
 */
export class GraphTrainer {
  private disposed = false;
  private iterations: number;

  private constructor(
    private readonly model: tfTypes.LayersModel,
    private readonly signatures: Record<keyof CrnnGraph['signatures'], LoadedSignature>,
    private readonly weights: GraphWeight[],
  ) {
    this.iterations = this.adam.iterations_ ?? 0;
    this.push();
  }

  /**
   * Compiles the training graph of `model` and loads it with the model's
   * current weights and Adam state.
   * @throws Error when `graphEngineSupport(model)` names a reason.
   */
  static async create(model: tfTypes.LayersModel): Promise<GraphTrainer> {
    const unsupported = graphEngineSupport(model);
    if (unsupported !== null) throw new Error(unsupported);
    const graph = buildCrnnGraph(model, crnnStructure(model));
    const loadSavedModel = (tf as unknown as { node: { loadSavedModel: LoadSavedModel } }).node.loadSavedModel;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-graph-'));
    const loaded: Partial<Record<keyof CrnnGraph['signatures'], LoadedSignature>> = {};
    try {
      fs.writeFileSync(path.join(dir, 'saved_model.pb'), graph.savedModel);
      // Signatures loaded from one folder share one session, hence the variables.
      for (const name of Object.keys(graph.signatures) as (keyof CrnnGraph['signatures'])[]) {
        loaded[name] = await loadSavedModel(dir, [SERVE_TAG], name);
      }
    } catch (err) {
      for (const signature of Object.values(loaded)) signature.dispose();
      throw err;
    } finally {
      // The session holds the graph; the file is no longer needed.
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return new GraphTrainer(model, loaded as Record<keyof CrnnGraph['signatures'], LoadedSignature>, graph.weights);
  }

  private get adam(): AdamInternals {
    return this.model.optimizer as unknown as AdamInternals;
  }

  private checkLive(): void {
    if (this.disposed) throw new Error('this GraphTrainer has been disposed');
  }

  /** Copies the model's weights and Adam state into the graph's variables. */
  private push(): void {
    const adam = this.adam;
    const owned: tfTypes.Tensor[] = [];
    const inputs: NamedTensors = {};
    const feed = (key: string, value: tfTypes.Tensor) => {
      inputs[key] = inTensorFlowMemory(value);
      owned.push(inputs[key]);
    };
    for (const w of this.weights) {
      feed(`value${w.modelIndex}`, this.model.trainableWeights[w.modelIndex].read());
      for (const [slot, moments] of [['m', adam.accumulatedFirstMoment], ['v', adam.accumulatedSecondMoment]] as const) {
        const moment = moments[w.modelIndex]?.variable;
        if (moment) feed(`${slot}${w.modelIndex}`, moment);
        else {
          const zeros = tf.zeros(w.shape);
          feed(`${slot}${w.modelIndex}`, zeros);
          zeros.dispose();
        }
      }
    }
    try {
      tf.dispose(Object.values(this.signatures.assign.predict(inputs)));
    } finally {
      tf.dispose(owned);
    }
  }

  /**
   * One Adam step on a batch: xs [batch, seqLength, height, width, 1], one-hot
   * ys [batch, numClasses]. Returns [loss, accuracy] of the batch before the
   * update, as `createTrainStep`'s steps do; the caller disposes it.
   * @param learningRate this step's rate; by default the optimiser's.
   */
  step(xs: tfTypes.Tensor5D, ys: tfTypes.Tensor2D, learningRate = this.adam.learningRate): tfTypes.Tensor1D {
    this.checkLive();
    const t = this.iterations + 1;
    const { beta1, beta2, epsilon } = this.adam;
    const settings: Record<(typeof ADAM_INPUTS)[number], number> = {
      beta1_power: beta1 ** t,
      beta2_power: beta2 ** t,
      learning_rate: learningRate,
      beta1,
      beta2,
      // TensorFlow's Adam adds ε to √v and then corrects the bias; tfjs's corrects
      // first, i.e. adds ε·√(1 − β2^t) to √v. Feeding that ε makes the update tfjs's.
      epsilon: epsilon * Math.sqrt(1 - beta2 ** t),
    };
    const feeds = {
      xs: inTensorFlowMemory(xs),
      ys: inTensorFlowMemory(ys),
      adam: tf.tidy(() => inTensorFlowMemory(tf.tensor1d(ADAM_INPUTS.map((name) => settings[name])))),
    };
    try {
      const out = this.signatures.train.predict(feeds);
      this.iterations = t;
      return out.loss_and_accuracy as tfTypes.Tensor1D;
    } finally {
      tf.dispose(Object.values(feeds));
    }
  }

  /**
   * The batch's [loss, accuracy] and the gradient of the loss with respect to
   * each trainable weight, in `model.trainableWeights` order; nothing is updated.
   */
  gradients(xs: tfTypes.Tensor5D, ys: tfTypes.Tensor2D): { lossAndAccuracy: tfTypes.Tensor1D; grads: tfTypes.Tensor[] } {
    this.checkLive();
    const feeds = { xs: inTensorFlowMemory(xs), ys: inTensorFlowMemory(ys) };
    let out: NamedTensors;
    try {
      out = this.signatures.gradients.predict(feeds);
    } finally {
      tf.dispose(Object.values(feeds));
    }
    const grads = this.weights.map(() => undefined as unknown as tfTypes.Tensor);
    for (const w of this.weights) grads[w.modelIndex] = out[`grad${w.modelIndex}`];
    return { lossAndAccuracy: out.loss_and_accuracy as tfTypes.Tensor1D, grads };
  }

  /**
   * The loss summed over a batch and the number of sequences classified
   * right, [lossSum, correct], with the graph's current weights (no copy into
   * the model needed); the caller disposes it.
   */
  evaluate(xs: tfTypes.Tensor5D, ys: tfTypes.Tensor2D): tfTypes.Tensor1D {
    this.checkLive();
    const feeds = { xs: inTensorFlowMemory(xs), ys: inTensorFlowMemory(ys) };
    try {
      return this.signatures.evaluate.predict(feeds).loss_and_correct_sums as tfTypes.Tensor1D;
    } finally {
      tf.dispose(Object.values(feeds));
    }
  }

  /**
   * Copies the trained weights into the model and Adam's moments and step
   * count into its optimiser, so that predicting, saving or training eagerly
   * continue from here.
   */
  pull(): void {
    this.checkLive();
    const out = this.signatures.read.predict({});
    const adam = this.adam;
    try {
      for (const w of this.weights) {
        const modelWeight = this.model.trainableWeights[w.modelIndex];
        modelWeight.write(out[`value${w.modelIndex}`]);
        for (const [slot, moments] of [['m', adam.accumulatedFirstMoment], ['v', adam.accumulatedSecondMoment]] as const) {
          const value = out[`${slot}${w.modelIndex}`];
          const moment = moments[w.modelIndex];
          if (moment) moment.variable.assign(value);
          else moments[w.modelIndex] = { originalName: `${(modelWeight.read() as tfTypes.Variable).name}/${slot}`, variable: tf.variable(value, false) };
        }
      }
      adam.iterations_ = this.iterations;
      tf.tidy(() => {
        adam.accBeta1.assign(tf.scalar(adam.beta1 ** (this.iterations + 1)));
        adam.accBeta2.assign(tf.scalar(adam.beta2 ** (this.iterations + 1)));
      });
    } finally {
      tf.dispose(Object.values(out));
    }
  }

  /** Frees the graph's session and its variables; the model is untouched. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const signature of Object.values(this.signatures)) signature.dispose();
  }
}
