/**
 * The graph engine: a training step compiled into one TensorFlow graph.
 *
 * tfjs-node executes eagerly, one native call per op. A training step of the
 * article's CRNN is ~560 such calls (forward, tape-driven backward, and about
 * a dozen ops of Adam per weight), and at ~50 µs each the calls cost more than
 * the arithmetic. Here the same step (forward pass, backward pass and
 * TensorFlow's fused ResourceApplyAdam per weight) is written as a graph
 * (build.ts), saved as a SavedModel in a temporary folder and loaded through
 * `tf.node.loadSavedModel`. Then a step is one session call, and TensorFlow
 * optimises the graph as a whole (constant folding, fused convolutions,
 * oneDNN kernels). With a sampler (sampler.ts), the graph also holds the
 * training images, and one call runs several steps (`runSteps`).
 *
 * The tfjs model stays the source of truth: the trainer copies its weights
 * and Adam state in when it starts and back on `pull()`, so that saving,
 * predicting and further eager training see the trained model. Evaluation
 * during training runs in the graph, on the graph's weights: a batch at a
 * time (`evaluate`), or, given the evaluation set and its images, the whole
 * set in one call (`evaluateSet`).
 *
 * Supported: the models whose every layer the graph computes exactly as tfjs
 * does (layers.ts), among them every model `buildCrnn` builds;
 * `graphEngineSupport` says why another model is not.
 */
import { tf } from '../tf';
import type * as tfTypes from '@tensorflow/tfjs';
import {
  ADAM_INPUTS, buildTrainingGraph, type AverageSignatureName, type EvalSignatureName, type GraphState, type GraphWeight,
  type LoopSignatureName, type SignatureName, type TrainingGraphOptions,
} from './build';
import { checkEmaDecay, emaRate } from '../train/ema';
import type { DigitSet } from '../types';
import type { EvalSet } from '../data/sequences';
import { packedImages } from './sampler';
import { loadSignatures, inTensorFlowMemory, type LoadedSignature, type NamedTensors } from './session';

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
 * What `GraphTrainer.create` takes: the graph's options, the data of its
 * sampler, the set it evaluates, the decay of the weights' moving average.
 */
export interface GraphTrainerOptions extends Omit<TrainingGraphOptions, 'evaluation' | 'movingAverage'> {
  /** The training images and labels the sampler gathers from (with `sampler`). */
  trainingSet?: DigitSet;
  /**
   * A fixed evaluation set (`createEvalSet`) and the images it was drawn
   * from, which the graph holds, to evaluate the whole set in one call
   * (`evaluateSet`), `batchSize` sequences per forward pass.
   */
  evaluation?: { evalSet: EvalSet; set: DigitSet; batchSize: number };
  /**
   * Decay d in [0, 1) of a moving average of the trainable weights
   * (lib/train/ema.ts), started from the model's weights and updated after
   * every step; the evaluations run on it, `averagedWeights` reads it.
   * 0 (the default): none.
   */
  emaDecay?: number;
}

function checkSetFits(set: DigitSet, spec: { count: number; height: number; width: number }): void {
  if (set.count !== spec.count || set.height !== spec.height || set.width !== spec.width) {
    throw new Error(`the sampler was written for ${spec.count} images of ${spec.height}×${spec.width}; ` +
      `the trainingSet has ${set.count} of ${set.height}×${set.width}`);
  }
}

/**
 * Trains a model with its graph-compiled step (see the top of this file).
 *
 *   const trainer = await GraphTrainer.create(model);
 *   const out = trainer.step(xs, ys, 1e-3);   // [3]: the batch's loss and accuracy, the rate applied
 *   trainer.pull();                           // the model now holds the trained weights
 *   trainer.dispose();
 */
export class GraphTrainer {
  private disposed = false;
  private iterations: number;
  /** Images in the sampler's training data, once loaded. */
  private sampledImages = 0;
  /** Steps in the moving average of the weights so far. */
  private averagedSteps = 0;

  private constructor(
    private readonly model: tfTypes.LayersModel,
    private readonly signatures: Record<SignatureName, LoadedSignature>
      & Partial<Record<LoopSignatureName | EvalSignatureName | AverageSignatureName, LoadedSignature>>,
    private readonly weights: GraphWeight[],
    private readonly states: GraphState[],
    private readonly takesStep: boolean,
    /** Steps per `runSteps` call; undefined without a sampler. */
    readonly stepsPerCall: number | undefined,
    /** Whether the loops take their steps' numbers (dropout masks, augmentation). */
    private readonly loopTakesSteps: boolean,
    /** The decay of the weights' moving average; 0: none. */
    private readonly emaDecay: number,
  ) {
    this.iterations = this.adam.iterations_ ?? 0;
    this.push();
  }

  /**
   * Compiles the training graph of `model` and loads it with the model's
   * current weights and Adam state. The loss is the model's (with the
   * penalties of its L2 regularisers), on labels smoothed by
   * `options.labelSmoothing`.
   * @throws Error when `graphEngineSupport(model)` names a reason, or for an
   *   invalid label smoothing.
   */
  static async create(model: tfTypes.LayersModel, options: GraphTrainerOptions = {}): Promise<GraphTrainer> {
    const { trainingSet, evaluation, emaDecay = 0, ...graphOptions } = options;
    checkEmaDecay(emaDecay);
    if ((trainingSet === undefined) !== (graphOptions.sampler === undefined)) {
      throw new Error('a sampler needs its trainingSet, and a trainingSet a sampler');
    }
    if (trainingSet !== undefined && graphOptions.sampler !== undefined) checkSetFits(trainingSet, graphOptions.sampler.spec);
    if (evaluation !== undefined && evaluation.set.count !== evaluation.evalSet.setCount) {
      throw new Error(`the eval set was built on a DigitSet of ${evaluation.evalSet.setCount} images, ` +
        `but got one of ${evaluation.set.count}`);
    }
    const graph = buildTrainingGraph(model, {
      ...graphOptions,
      movingAverage: emaDecay > 0,
      ...(evaluation === undefined ? {} : {
        evaluation: {
          images: { count: evaluation.set.count, height: evaluation.set.height, width: evaluation.set.width },
          indices: evaluation.evalSet.indices, targets: evaluation.evalSet.targets, batchSize: evaluation.batchSize,
        },
      }),
    });
    const names = Object.keys(graph.signatures) as (keyof GraphTrainer['signatures'])[];
    const signatures = await loadSignatures(graph.savedModel, names) as GraphTrainer['signatures'];
    const trainer = new GraphTrainer(model, signatures, graph.weights, graph.states, graph.takesStep,
      graphOptions.sampler?.stepsPerCall, graph.loopTakesSteps, emaDecay);
    try {
      if (trainingSet !== undefined) trainer.loadData(trainingSet);
      if (evaluation !== undefined) trainer.loadEvalImages(evaluation.set);
    } catch (err) {
      trainer.dispose();
      throw err;
    }
    return trainer;
  }

  /** Copies the training images (their bytes, as uint8) and labels into the sampler's variables. */
  private loadData(set: DigitSet): void {
    this.load(this.signatures.load_data as LoadedSignature, () => ({
      images: inTensorFlowMemory(tf.tensor1d(packedImages(set), 'int32')),
      labels: inTensorFlowMemory(tf.tensor1d(Int32Array.from(set.labels), 'int32')),
    }));
    this.sampledImages = set.count;
  }

  /** Copies the images of the evaluation set's DigitSet (their bytes, as uint8) into the graph. */
  private loadEvalImages(set: DigitSet): void {
    this.load(this.signatures.load_eval_data as LoadedSignature, () => ({
      images: inTensorFlowMemory(tf.tensor1d(packedImages(set), 'int32')),
    }));
  }

  /** Runs a loading signature on the feeds `makeFeeds` makes, and frees them. */
  private load(signature: LoadedSignature, makeFeeds: () => NamedTensors): void {
    const feeds = tf.tidy(makeFeeds);
    try {
      tf.dispose(Object.values(signature.predict(feeds)));
    } finally {
      tf.dispose(Object.values(feeds));
    }
  }

  private get adam(): AdamInternals {
    return this.model.optimizer as unknown as AdamInternals;
  }

  private checkLive(): void {
    if (this.disposed) throw new Error('this GraphTrainer has been disposed');
  }

  /** The step input of the train and gradients signatures, where they take one (dropout masks). */
  private stepFeed(step: number): NamedTensors {
    if (!this.takesStep) return {};
    if (!Number.isInteger(step) || step < 0 || step >= 2 ** 31) throw new Error(`step must be an int32 >= 0, got ${step}`);
    return { step: tf.tidy(() => inTensorFlowMemory(tf.scalar(step, 'int32'))) };
  }

  /** Copies the model's weights, its non-trainable weights and Adam state into the graph's variables. */
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
    for (const state of this.states) feed(`state${state.modelIndex}`, this.model.nonTrainableWeights[state.modelIndex].read());
    try {
      tf.dispose(Object.values(this.signatures.assign.predict(inputs)));
    } finally {
      tf.dispose(owned);
    }
  }

  /**
   * One Adam step on a batch: xs [batch, seqLength, height, width, 1], one-hot
   * ys [batch, numClasses], at the given learning rate (by default the
   * optimiser's). Returns [loss, accuracy, learning rate]: the batch's loss
   * and accuracy before the update, as `createTrainStep`'s steps give them,
   * and the rate that Adam applied, as the graph read it; the caller disposes it.
   * The step's number (Adam's step count after it) seeds its dropout masks;
   * batch normalisation's moving statistics are updated with the weights,
   * and so is the weights' moving average, where there is one.
   */
  step(xs: tfTypes.Tensor5D, ys: tfTypes.Tensor2D, learningRate: number = this.adam.learningRate): tfTypes.Tensor1D {
    this.checkLive();
    const t = this.iterations + 1;
    const feeds = {
      xs: inTensorFlowMemory(xs),
      ys: inTensorFlowMemory(ys),
      learning_rate: tf.tidy(() => inTensorFlowMemory(tf.scalar(learningRate))),
      adam: tf.tidy(() => inTensorFlowMemory(tf.tensor1d(this.adamSettings(t)))),
      ...this.stepFeed(t),
      ...(this.emaDecay > 0
        ? { ema_rate: tf.tidy(() => inTensorFlowMemory(tf.scalar(emaRate(this.emaDecay, this.averagedSteps + 1)))) }
        : {}),
    };
    try {
      const out = this.signatures.train.predict(feeds);
      this.iterations = t;
      if (this.emaDecay > 0) this.averagedSteps++;
      return out.loss_accuracy_rate as tfTypes.Tensor1D;
    } finally {
      tf.dispose(Object.values(feeds));
    }
  }

  /** ResourceApplyAdam's settings for Adam's step t (1-based), in ADAM_INPUTS order. */
  private adamSettings(t: number): number[] {
    const { beta1, beta2, epsilon } = this.adam;
    const settings: Record<(typeof ADAM_INPUTS)[number], number> = {
      beta1_power: beta1 ** t,
      beta2_power: beta2 ** t,
      beta1,
      beta2,
      // TensorFlow's Adam adds ε to √v and then corrects the bias; tfjs's corrects
      // first, i.e. adds ε·√(1 − β2^t) to √v. Feeding that ε makes the update tfjs's.
      epsilon: epsilon * Math.sqrt(1 - beta2 ** t),
    };
    return ADAM_INPUTS.map((name) => settings[name]);
  }

  /**
   * `stepsPerCall` Adam steps (or one) in one session call, on batches the
   * graph gathers from the training data it holds: `indices` holds each
   * step's image indices, [steps × batch × T] (sequence after sequence, as
   * `drawSequenceIndices` draws them), `learningRates` each step's rate.
   * With the sampler's `augment`, the images of each step are shifted and
   * rotated as `augmentOfStep` would for that step's number (Adam's step
   * count after it).
   * Returns [steps, 3]: each step's [loss, accuracy, learning rate], as
   * `step` gives them; the caller disposes it.
   * @throws Error without a sampler, for a wrong number of rates or indices,
   *   or an index outside the training set.
   */
  runSteps(indices: Int32Array, learningRates: readonly number[]): tfTypes.Tensor2D {
    this.checkLive();
    const perCall = this.stepsPerCall;
    if (perCall === undefined || this.signatures.train_loop === undefined) {
      throw new Error('this GraphTrainer holds no training data: create it with a sampler and its trainingSet');
    }
    const k = learningRates.length;
    const loop = k === perCall ? this.signatures.train_loop : k === 1 ? this.signatures.train_step : undefined;
    if (loop === undefined) {
      throw new Error(`runSteps takes ${perCall} learning rates${perCall === 1 ? '' : ' or 1'}, one per step; got ${k}`);
    }
    if (indices.length === 0 || indices.length % k !== 0) {
      throw new Error(`runSteps takes the same number of image indices for each of its ${k} steps; got ${indices.length} in all`);
    }
    const count = this.sampledImages;
    for (const index of indices) {
      if (!(index >= 0 && index < count)) throw new Error(`image index ${index} is outside 0..${count - 1}`);
    }
    const first = this.iterations + 1;
    const adamRows = Array.from({ length: k }, (_, i) => this.adamSettings(first + i));
    const averageRates = Array.from({ length: k }, (_, i) => emaRate(this.emaDecay, this.averagedSteps + 1 + i));
    const feeds: NamedTensors = tf.tidy(() => ({
      indices: inTensorFlowMemory(tf.tensor2d(indices, [k, indices.length / k], 'int32')),
      learning_rates: inTensorFlowMemory(tf.tensor1d(learningRates as number[])),
      adam: inTensorFlowMemory(tf.tensor2d(adamRows)),
      ...(this.loopTakesSteps
        ? { steps: inTensorFlowMemory(tf.tensor1d(Array.from({ length: k }, (_, i) => first + i), 'int32')) }
        : {}),
      ...(this.emaDecay > 0
        ? { ema_rates: inTensorFlowMemory(tf.tensor1d(averageRates)) }
        : {}),
    }));
    try {
      const out = loop.predict(feeds);
      this.iterations += k;
      if (this.emaDecay > 0) this.averagedSteps += k;
      return out.loss_accuracy_rate as tfTypes.Tensor2D;
    } finally {
      tf.dispose(Object.values(feeds));
    }
  }

  /**
   * The batch's [loss, accuracy] and the gradient of the loss with respect to
   * each trainable weight, in `model.trainableWeights` order, as the training
   * pass computes them (batch statistics, and the dropout masks of step
   * `step`, by default the next step's); nothing is updated.
   */
  gradients(
    xs: tfTypes.Tensor5D, ys: tfTypes.Tensor2D, step: number = this.iterations + 1,
  ): { lossAndAccuracy: tfTypes.Tensor1D; grads: tfTypes.Tensor[] } {
    this.checkLive();
    const feeds = { xs: inTensorFlowMemory(xs), ys: inTensorFlowMemory(ys), ...this.stepFeed(step) };
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
   * right, [lossSum, correct], with the graph's current weights, or their
   * moving average where there is one (no copy into the model needed); the
   * caller disposes it.
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
   * The loss summed over the whole evaluation set given to `create` and the
   * number of its sequences classified right, [lossSum, correct], with the
   * graph's current weights (or their moving average, as `evaluate`), in
   * one session call: the sums `evaluate` gives
   * for its batches, added up in order. The caller disposes it.
   * @throws Error when the trainer was created without an evaluation set.
   */
  evaluateSet(): tfTypes.Tensor1D {
    this.checkLive();
    const signature = this.signatures.evaluate_set;
    if (signature === undefined) throw new Error('this GraphTrainer holds no evaluation set: create it with `evaluation`');
    return signature.predict({}).loss_and_correct_sums as tfTypes.Tensor1D;
  }

  /**
   * The moving average of each trainable weight, in `model.trainableWeights`
   * order, as the graph holds it now; the caller disposes them.
   * @throws Error when the trainer keeps no average (emaDecay 0).
   */
  averagedWeights(): tfTypes.Tensor[] {
    this.checkLive();
    const signature = this.signatures.read_averages;
    if (signature === undefined) throw new Error('this GraphTrainer keeps no moving average: create it with an emaDecay above 0');
    const out = signature.predict({});
    return this.weights.map((w) => out[`average${w.modelIndex}`]);
  }

  /**
   * Copies the trained weights and the non-trainable ones (moving statistics)
   * into the model and Adam's moments and step count into its optimiser, so
   * that predicting, saving or training eagerly continue from here.
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
      for (const state of this.states) {
        this.model.nonTrainableWeights[state.modelIndex].write(out[`state${state.modelIndex}`]);
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
