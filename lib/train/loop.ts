/**
 * Step-based training as in the article: every step draws a fresh random
 * batch of sequences from the training split and takes one Adam step; every
 * `evalEvery` steps the model is measured on a fixed, seeded set of test
 * sequences. Progress is reported through callbacks, so the same loop serves
 * the notebooks, the command-line trainer and the tests.
 */
import { tf } from '../tf';
import type * as tfTypes from '@tensorflow/tfjs';
import type { DigitData, DigitSet, EvalRecord, History, StepRecord, Task, TrainConfig } from '../types';
import { resolveTrainConfig } from '../config';
import { getTask } from '../data/tasks';
import { createRng, deriveSeed, type RngState } from '../random';
import {
  createEvalSet, drawSequenceIndices, EVAL_BATCH_SIZE, evalBatches, makeSequenceBatch, type EvalSet,
} from '../data/sequences';
import { augmentOfStep, augments, type SteppedAugment } from '../data/augment';
import { WeightAverage, writeTrainableWeights, type AverageState } from './ema';
import { measureLossAccuracy } from '../evaluate/metrics';
import { GraphTrainer, graphEngineSupport, labelSmoothingOf, samplerSpecFor } from '../graph';
import { setDropoutStep } from '../model/dropout';

/**
 * Steps in a row that the batch loss may stay above `divergenceLossLimit`
 * before training is taken to have diverged: one bad batch is not enough.
 */
export const DIVERGENCE_PATIENCE = 10;

/**
 * The batch loss (mean cross-entropy, nats) above which a step counts towards
 * divergence: 8 nats, a mean probability of e⁻⁸ ≈ 0.03% on the true class, or
 * twice a uniform guess's loss (2 ln K) for tasks of more than 54 classes.
 *
 * The limit has to sit well below −ln 1e-7 ≈ 16.1: the eager engine clips
 * probabilities at 1e-7 (tfjs's epsilon), so a diverged model's loss sticks
 * there, while the graph engine's loss on the logits grows without bound.
 * One rule then stops both engines alike.
 */
export function divergenceLossLimit(numClasses: number): number {
  return Math.max(8, 2 * Math.log(numClasses));
}

/**
 * The divergence rule of `trainSteps`, fed one batch loss per step: true once
 * the loss is non-finite, or has stayed above `divergenceLossLimit` for
 * DIVERGENCE_PATIENCE steps in a row. One pure function that both engines
 * feed, so that a run diverges at the same step on either.
 */
export function divergenceWatch(numClasses: number): (loss: number) => boolean {
  const limit = divergenceLossLimit(numClasses);
  let stepsAbove = 0;
  return (loss) => {
    if (!Number.isFinite(loss)) return true;
    stepsAbove = loss > limit ? stepsAbove + 1 : 0;
    return stepsAbove >= DIVERGENCE_PATIENCE;
  };
}


/** The cosine and one-cycle schedules end at this fraction of the learning rate. */
const COSINE_FLOOR = 0.01;

/** The share of a one-cycle run spent warming up, and the fraction of the rate it starts from. */
const ONE_CYCLE_WARMUP = 0.2;
const ONE_CYCLE_START = 0.1;

/** Half a cosine from 1 (progress 0) down to COSINE_FLOOR (progress 1). */
function cosineFactor(progress: number): number {
  return COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * The learning rate of step `step` (1-based) out of `numSteps`:
 * - constant: `base` throughout (the article's);
 * - cosine: half a cosine from `base` down to COSINE_FLOOR·base at the last step;
 * - one-cycle: a linear warm-up from ONE_CYCLE_START·base to `base` over the
 *   first ONE_CYCLE_WARMUP of the steps, then the cosine's descent. Adam's
 *   first steps, taken on moment estimates of a few batches, are the ones a
 *   high rate makes unstable; after the warm-up a short run can afford a
 *   rate that a long run at a constant rate could not.
 */
export function scheduledLearningRate(
  schedule: TrainConfig['lrSchedule'], base: number, step: number, numSteps: number,
): number {
  if (schedule === 'constant' || numSteps <= 1) return base;
  const progress = (step - 1) / (numSteps - 1);
  if (schedule === 'cosine') return base * cosineFactor(progress);
  if (progress < ONE_CYCLE_WARMUP) {
    return base * (ONE_CYCLE_START + (1 - ONE_CYCLE_START) * progress / ONE_CYCLE_WARMUP);
  }
  return base * cosineFactor((progress - ONE_CYCLE_WARMUP) / (1 - ONE_CYCLE_WARMUP));
}

/** tfjs optimisers keep their rate in a protected field that applyGradients reads on every step. */
type WithLearningRate = { learningRate: number };

function optimizerLearningRate(model: tfTypes.LayersModel): WithLearningRate {
  if (!model.optimizer) {
    throw new Error('the model is not compiled: build it with buildCrnn or call compileCrnn first');
  }
  const optimizer = model.optimizer as unknown as Partial<WithLearningRate>;
  if (typeof optimizer.learningRate !== 'number') {
    throw new Error(`the model's optimizer (${model.optimizer.getClassName()}) has no learning rate to schedule`);
  }
  return optimizer as WithLearningRate;
}

/** Thrown when the loss diverges (see `divergenceWatch`). */
export class TrainingDivergedError extends Error {
  constructor(
    /** The step at which the loss was found diverged. */
    readonly step: number,
    /** That step's loss. */
    readonly loss: number,
    /** The records up to the step before. */
    readonly history: History,
    /** The loss limit of the task (see `divergenceLossLimit`). */
    readonly limit: number,
  ) {
    super(`training diverged at step ${step}: loss is ${loss}` +
      (Number.isFinite(loss) ? `, above ${limit.toFixed(1)} for ${DIVERGENCE_PATIENCE} steps in a row` : '') +
      '; try a lower learning rate');
    this.name = 'TrainingDivergedError';
  }
}

/**
 * Training steps the graph engine runs per session call (see
 * `TrainOptions.stepsPerCall`): 10 takes most of the gain, measured in
 * docs/graph-engine.md, for a graph 10× the size of one step's (a few seconds to build).
 */
export const DEFAULT_STEPS_PER_CALL = 10;

/**
 * Where a run stands between two steps, besides what its model holds
 * (weights, Adam's moments and step count): with the model, enough to go
 * on as if training had never stopped. Dropout masks and augmentation
 * follow Adam's step count (lib/model/dropout.ts, `augmentOfStep`) and the
 * evaluation set is drawn again from `evalSeed`, so none of them needs more.
 * lib/train/checkpoint.ts writes and reads it.
 */
export interface TrainingState {
  /** The last step trained. */
  step: number;
  /** The numSteps those steps were scheduled for (see scheduledLearningRate). */
  numSteps: number;
  /** The records so far; its elapsedMs is the training time so far. */
  history: History;
  /** The stream of batch indices, where the next step takes it up. */
  random: { batches: RngState };
  /** With emaDecay above 0: the moving average of the weights (lib/train/ema.ts). */
  average?: AverageState;
}

/**
 * Checkpoints at evaluations, besides those every `checkpointEvery` steps,
 * are written while all checkpoints so far stay within this share of the
 * training time.
 */
export const CHECKPOINT_TIME_SHARE = 0.01;

/** What training needs besides the TrainConfig: the task and sequence length. */
export interface TrainOptions extends Partial<TrainConfig> {
  /** Images per sequence, T; must match the model's input. */
  seqLength: number;
  /** The task, or the name of a built-in one ('difference', 'sum'). */
  task: Task | string;
  /**
   * With the graph engine, the steps run per session call (default
   * DEFAULT_STEPS_PER_CALL), on batches the graph gathers from the training
   * images it holds: the same batches as the CPU sampler's, without copying
   * them in at every step, augmented in the graph where the run augments.
   * Runs stop for each evaluation: the steps that do not fill a call before
   * it run one per call. Runs on a task without a class table (`classTable`)
   * take one step per call on batches made on the CPU. It changes how fast
   * training runs, not its result (to float rounding).
   */
  stepsPerCall?: number;
  /**
   * Go on from this state (a checkpoint's, see lib/train/checkpoint.ts)
   * instead of starting at step 1: the model must hold the weights and Adam
   * state of that step. The history goes on from its records, and the
   * steps and evaluations that follow are those of a run never stopped,
   * to the last float on the same machine and engine. `numSteps` may be
   * larger than the state's (the schedule then stretches over the new
   * length from here on), never smaller than its step.
   */
  resume?: TrainingState;
}

/** Hooks into the training loop; all optional. */
export interface TrainCallbacks {
  /**
   * When the clock of History.elapsedMs starts, right before the first step
   * (the engine is ready): a progress display timed from here shows the same
   * training time as the history.
   */
  onStart?(): void;
  /** After every step, with that batch's loss and accuracy. */
  onStep?(record: StepRecord): void;
  /** After every evaluation on the fixed set. */
  onEval?(record: EvalRecord): void;
  /** Asked before every step; returning true ends training with endReason 'stopped'. */
  shouldStop?(): boolean;
  /**
   * Writes a checkpoint (see lib/train/checkpoint.ts), and is awaited:
   * called every `checkpointEvery` steps (at the first call boundary from
   * there), after an evaluation while all checkpoints stay within
   * CHECKPOINT_TIME_SHARE of the training time, and when `shouldStop` ends
   * training. During the call the model holds the weights and Adam state of
   * `state.step` (the weights as trained, not their average). Never called
   * with `checkpointEvery` 0.
   */
  saveCheckpoint?(state: TrainingState): Promise<void>;
}

/**
 * Checks that a run can go on from `state` with `numSteps` steps.
 * @throws Error naming what does not fit.
 */
function checkResumable(state: TrainingState, numSteps: number): void {
  const { step, history } = state;
  if (!Number.isInteger(step) || step < 0) throw new Error(`cannot resume at step ${step}: not a step number`);
  if (step > numSteps) {
    throw new Error(`cannot resume at step ${step} with numSteps ${numSteps}: numSteps may grow, not shrink below the steps trained`);
  }
  const steps = history?.steps;
  if (!Array.isArray(steps) || !Array.isArray(history.evals) || steps.length !== step ||
      (step > 0 && steps[step - 1]?.step !== step)) {
    throw new Error(`cannot resume at step ${step}: the history holds ${Array.isArray(steps) ? steps.length : 'no'} step records`);
  }
}

function checkModelFits(model: tfTypes.LayersModel, data: DigitData, seqLength: number, task: Task): void {
  const [, modelSeqLength, height, width] = model.inputs[0].shape;
  if (modelSeqLength !== seqLength) {
    throw new Error(`the model was built for sequences of length ${modelSeqLength}, but seqLength is ${seqLength}`);
  }
  if (height !== data.train.height || width !== data.train.width) {
    throw new Error(`the model takes ${height}×${width} images, but the data has ` +
      `${data.train.height}×${data.train.width}`);
  }
  const numClasses = model.outputs[0].shape[1];
  if (numClasses !== task.numClasses) {
    throw new Error(`the model predicts ${numClasses} classes, but task "${task.name}" has ${task.numClasses}`);
  }
}

/** One optimiser step: a batch in, that batch's [loss, accuracy] out (see `createTrainStep`). */
export type TrainStep = (xs: tfTypes.Tensor5D, ys: tfTypes.Tensor2D) => tfTypes.Tensor1D;

/** Settings of the training loss that the model does not hold (the same for both engines). */
export interface StepOptions {
  /** Label smoothing ε in [0, 1) (default 0): see TrainConfig.labelSmoothing. */
  labelSmoothing?: number;
}

/**
 * The penalties of the model's weight regularisers (an L2 penalty λ·ΣW² per
 * regularised kernel, see CrnnConfig.weightDecay), each a scalar, in the
 * order of the layers and of their weights. tfjs's own `calculateLosses`
 * leaves out those of recurrent layers, whose weights, and regularisers,
 * belong to the layer's cell: they are taken from the cell here.
 */
function regularisationPenalties(model: tfTypes.LayersModel): tfTypes.Scalar[] {
  return model.layers.flatMap((layer) => {
    const cell = (layer as { cell?: tfTypes.layers.Layer }).cell;
    return [...layer.calculateLosses(), ...(cell ? cell.calculateLosses() : [])];
  });
}

/**
 * The training step of a compiled model: Adam (or whatever optimiser it was
 * compiled with) on the mean categorical cross-entropy of a batch, against
 * labels smoothed by `options.labelSmoothing`, plus the penalties of the
 * model's weight regularisers (CrnnConfig.weightDecay).
 *
 * The returned function takes xs [batch, seqLength, height, width, 1] and
 * one-hot ys [batch, numClasses], updates the trainable weights, and returns
 * [loss, accuracy] of the batch as one tensor, so reading both costs a single
 * transfer; the caller disposes it. The loss is the batch's cross-entropy
 * against the (smoothed) labels, without the weight penalties, which enter
 * only the gradient: so it stays comparable with the evaluation loss, and
 * the divergence rule, a limit in nats of cross-entropy, holds whatever λ.
 * The accuracy is against the true class, ys. xs and ys stay owned by the caller.
 * `trainSteps` and the benchmark (bench/peers/tfjs-node.ts) use this step.
 * @throws Error when the model is not compiled, or for an invalid label smoothing.
 */
export function createTrainStep(model: tfTypes.LayersModel, options: StepOptions = {}): TrainStep {
  if (!model.optimizer) {
    throw new Error('the model is not compiled: build it with buildCrnn or call compileCrnn first');
  }
  const labelSmoothing = labelSmoothingOf(options);
  const numClasses = model.outputs[0].shape[1] as number;
  const variables = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
  return (xs, ys) => {
    // Dropout masks follow Adam's step number, as in the graph (lib/model/dropout.ts).
    setDropoutStep(model, model.optimizer.iterations + 1);
    let accuracy: tfTypes.Scalar | undefined;
    let crossEntropy: tfTypes.Scalar | undefined;
    const total = model.optimizer.minimize(() => {
      const probs = model.apply(xs, { training: true }) as tfTypes.Tensor2D;
      // The forward pass runs in its own scope: keep the accuracy out of it.
      accuracy = tf.keep(tf.metrics.categoricalAccuracy(ys, probs).mean<tfTypes.Scalar>());
      // (1 − ε)·ys + ε/K, as the graph engine computes it (lib/graph/build.ts).
      const targets = labelSmoothing === 0 ? ys : tf.add(tf.mul(ys, 1 - labelSmoothing), labelSmoothing / numClasses);
      crossEntropy = tf.keep(tf.metrics.categoricalCrossentropy(targets, probs).mean<tfTypes.Scalar>());
      return regularisationPenalties(model).reduce((sum, penalty) => tf.add(sum, penalty), crossEntropy);
    }, true, variables) as tfTypes.Scalar;
    const both = tf.stack([crossEntropy as tfTypes.Scalar, accuracy as tfTypes.Scalar]) as tfTypes.Tensor1D;
    // Without penalties `total` is the cross-entropy itself; disposing it twice is harmless.
    tf.dispose([total, crossEntropy, accuracy]);
    return both;
  };
}

/** The running steps of one `trainSteps` call, by either engine. */
interface StepEngine {
  name: 'graph' | 'eager';
  /**
   * One step at the given learning rate; returns [loss, accuracy, …], which
   * the caller disposes.
   */
  step(xs: tfTypes.Tensor5D, ys: tfTypes.Tensor2D, learningRate: number): tfTypes.Tensor1D;
  /**
   * With a sampler in the graph: `stepsPerCall` steps on the batches of
   * `indices` (drawSequenceIndices, one batch after another), returning
   * [stepsPerCall, 3], each step's [loss, accuracy, rate].
   */
  sampler?: { stepsPerCall: number; runSteps(indices: Int32Array, learningRates: number[]): tfTypes.Tensor2D };
  /**
   * Mean loss and accuracy over the fixed evaluation set, of the current
   * weights or, with a moving average, of their average.
   */
  measure(): { loss: number; accuracy: number };
  /**
   * Makes the model and its optimiser current (for a checkpoint: the
   * weights as trained), and returns the moving average where there is
   * one; training goes on.
   */
  pull(): AverageState | undefined;
  /**
   * Makes the model and its optimiser current (the model holding the
   * average of the weights where there is one) and frees the engine.
   */
  finish(): void;
}

/** What a graph engine's sampler needs: the training set and task, the steps per call, the augmentation. */
interface SamplerRequest {
  set: DigitSet;
  task: Task;
  seqLength: number;
  stepsPerCall: number;
  augment?: SteppedAugment;
}

/** The fixed evaluation set of a run and the images it was drawn from. */
interface Evaluation {
  evalSet: EvalSet;
  set: DigitSet;
}

/** Why engine 'graph' was asked for a model it cannot train: the reason is `graphEngineSupport`'s. */
export class GraphEngineUnsupportedError extends Error {
  constructor(readonly reason: string) {
    super(`engine 'graph' cannot train this model: ${reason}; use engine 'eager'`);
    this.name = 'GraphEngineUnsupportedError';
  }
}

/**
 * The engine that trains `model` for the setting `choice` (TrainConfig.engine):
 * 'auto' takes the graph engine wherever `graphEngineSupport` allows it.
 * @throws GraphEngineUnsupportedError for 'graph' on a model it cannot train.
 */
export function trainingEngine(model: tfTypes.LayersModel, choice: TrainConfig['engine']): 'graph' | 'eager' {
  if (choice === 'eager') return 'eager';
  const unsupported = graphEngineSupport(model);
  if (unsupported === null) return 'graph';
  if (choice === 'graph') throw new GraphEngineUnsupportedError(unsupported);
  return 'eager';
}

/**
 * Starts the engine that runs the steps: `choice`, or for 'auto' the graph
 * where it can train the model. `emaDecay` above 0 keeps a moving average
 * of the weights (lib/train/ema.ts), which the evaluations measure.
 */
async function startEngine(
  model: tfTypes.LayersModel, choice: TrainConfig['engine'], options: StepOptions,
  ema: { decay: number; start?: AverageState }, evaluation: Evaluation, sampling?: SamplerRequest,
): Promise<StepEngine> {
  const emaDecay = ema.decay;
  if (trainingEngine(model, choice) === 'eager') {
    const step = createTrainStep(model, options);
    const optimizer = optimizerLearningRate(model);
    const measure = () => measureLossAccuracy(model, evalBatches(evaluation.evalSet, evaluation.set));
    const average = emaDecay > 0 ? new WeightAverage(model, emaDecay, ema.start) : undefined;
    return {
      name: 'eager',
      // tfjs's optimisers read their rate from this field on every step.
      step: (xs, ys, learningRate) => {
        optimizer.learningRate = learningRate;
        const out = step(xs, ys);
        average?.update();
        return out;
      },
      measure: () => (average === undefined ? measure() : average.evaluate(measure)),
      pull: () => average?.state(),
      finish: () => {
        if (average === undefined) return;
        average.writeToModel();
        average.dispose();
      },
    };
  }
  const spec = sampling === undefined ? undefined : samplerSpecFor(sampling.set, sampling.task, sampling.seqLength);
  const withSampler = sampling !== undefined && spec !== undefined && typeof spec !== 'string';
  const trainer = await GraphTrainer.create(model, {
    ...options,
    ...(withSampler
      ? { sampler: { spec, stepsPerCall: sampling.stepsPerCall, augment: sampling.augment }, trainingSet: sampling.set }
      : {}),
    evaluation: { ...evaluation, batchSize: EVAL_BATCH_SIZE },
    emaDecay,
    ...(ema.start === undefined ? {} : { average: ema.start }),
  });
  return {
    name: 'graph',
    step: (xs, ys, learningRate) => trainer.step(xs, ys, learningRate),
    sampler: withSampler
      ? { stepsPerCall: sampling.stepsPerCall, runSteps: (indices, rates) => trainer.runSteps(indices, rates) }
      : undefined,
    // The whole set in one call, on the graph's weights and the images it holds.
    measure: () => {
      const sums = trainer.evaluateSet();
      const [lossSum, correct] = sums.dataSync();
      sums.dispose();
      const count = evaluation.evalSet.size;
      return { loss: lossSum / count, accuracy: correct / count };
    },
    pull: () => {
      trainer.pull();
      return emaDecay > 0 ? trainer.averageState() : undefined;
    },
    finish: () => {
      try {
        trainer.pull();
        if (emaDecay > 0) {
          const averages = trainer.averagedWeights();
          writeTrainableWeights(model, averages);
          tf.dispose(averages);
        }
      } finally {
        trainer.dispose();
      }
    },
  };
}

/**
 * Trains `model` for `numSteps` steps of `batchSize` fresh random sequences
 * from `data.train`, evaluating every `evalEvery` steps (and after the last
 * step) on `evalSize` fixed sequences from `data.test`. Missing settings take
 * the article's values (see `defaultTrainConfig`); `seed` fixes the
 * batches and `evalSeed` the evaluation set. With `numSteps: 0` the untrained model is
 * evaluated once, at step 0.
 *
 * Training batches are shifted and rotated at random by `augmentShift` and
 * `augmentRotation`, by transforms drawn from a seed derived from `seed`
 * and the step's number (Adam's step count, `augmentOfStep`), in the graph
 * where it gathers the batches, else on the CPU: the same transforms on
 * either engine. The evaluation set never is. Each step minimises the
 * cross-entropy against labels smoothed by `labelSmoothing` plus the
 * model's weight penalties (CrnnConfig.weightDecay), and records that
 * cross-entropy, without the penalties (see `createTrainStep`); the
 * evaluations measure the plain cross-entropy against the true class, on
 * both engines. With `emaDecay` above 0 they measure a moving average of the
 * weights (lib/train/ema.ts), started with this call, and the model holds
 * that average at the end.
 *
 * Uses the model's compiled optimiser, so training can be continued by calling
 * again (from the averaged weights, where there is an average); `resume`
 * continues a checkpointed run exactly, and the callback `saveCheckpoint`
 * writes the checkpoints. Steps run on `engine` (see TrainConfig): with the graph engine the
 * evaluations run in the graph too, the whole set in one session call on
 * the test images the graph holds, and the model's weights and Adam state
 * are brought up to date at the end, also when training stops on an error.
 * The event loop gets a turn after each step, so a signal handler can
 * set the flag read by `shouldStop`.
 *
 * @returns one record per step and per evaluation, and why training ended.
 * @throws Error for an invalid config, a model that does not fit the data or
 *   task; TrainingDivergedError, naming the step and the value, when the
 *   loss diverges by the rule of `divergenceWatch` (the same on both engines).
 */
export async function trainSteps(
  model: tfTypes.LayersModel,
  data: DigitData,
  options: TrainOptions,
  callbacks: TrainCallbacks = {},
): Promise<History> {
  const { seqLength, task: taskOrName, stepsPerCall = DEFAULT_STEPS_PER_CALL, resume, ...partial } = options;
  if (!Number.isInteger(stepsPerCall) || stepsPerCall < 1) {
    throw new Error(`stepsPerCall must be a positive integer, got ${String(stepsPerCall)}`);
  }
  const config = resolveTrainConfig(partial);
  const task = getTask(taskOrName, seqLength);
  checkModelFits(model, data, seqLength, task);
  if (resume !== undefined) checkResumable(resume, config.numSteps);
  if (resume !== undefined && (resume.average !== undefined) !== (config.emaDecay > 0)) {
    throw new Error(`cannot resume: the state ${resume.average === undefined ? 'holds no' : 'holds a'} moving average ` +
      `of the weights, and emaDecay is ${config.emaDecay}`);
  }
  const optimizer = optimizerLearningRate(model);
  const baseLearningRate = optimizer.learningRate;

  const rng = createRng(config.seed, resume?.random.batches);
  // Augmentation draws from a key of its own, [seed, step]: the same images are drawn with or without it.
  const augmentation: SteppedAugment = {
    maxShift: config.augmentShift, maxRotation: config.augmentRotation, seed: deriveSeed(config.seed, 'augment') | 0,
  };
  const augment = augments(augmentation) ? augmentation : undefined;
  // Adam's step count before the run's first step: step s of the run is Adam's step stepsBefore + s on either engine.
  const stepsBefore = model.optimizer.iterations - (resume?.step ?? 0);
  const evalSet = createEvalSet(data.test, { size: config.evalSize, seqLength, task, seed: config.evalSeed });
  // Started last: everything above may throw, and the engine must then be freed.
  const engine = await startEngine(model, config.engine, { labelSmoothing: config.labelSmoothing },
    { decay: config.emaDecay, start: resume?.average }, { evalSet, set: data.test },
    { set: data.train, task, seqLength, stepsPerCall, augment });
  const before = resume?.history;
  const history: History = {
    steps: [...before?.steps ?? []], evals: [...before?.evals ?? []], endReason: 'completed', elapsedMs: 0,
    startedAt: before?.startedAt ?? new Date().toISOString(),
    engine: engine.name, sampler: engine.sampler ? 'graph' : 'cpu',
    ...(engine.sampler ? { stepsPerCall: engine.sampler.stepsPerCall } : {}),
    ...(before?.checkpoints === undefined ? {} : { checkpoints: { ...before.checkpoints } }),
    ...(before?.evaluations === undefined ? {} : { evaluations: { ...before.evaluations } }),
    ...(resume === undefined ? {} : {
      resumes: [...before?.resumes ?? [], { step: resume.step, at: new Date().toISOString(), numSteps: resume.numSteps }],
    }),
  };
  const diverged = divergenceWatch(task.numClasses);
  // The divergence rule counts steps in a row: it takes up the count where it was.
  for (const record of history.steps) diverged(record.loss);
  callbacks.onStart?.();
  // Times go on from the checkpoint's: the time of the steps lost is not counted.
  const start = performance.now() - (before?.elapsedMs ?? 0);

  let lastCheckpoint = resume?.step ?? 0;
  // The time of this call's checkpoints, for the rule of CHECKPOINT_TIME_SHARE.
  let checkpointMs = 0;
  let lastCheckpointMs: number | undefined;
  const saveCheckpoint = async (step: number): Promise<void> => {
    if (callbacks.saveCheckpoint === undefined || config.checkpointEvery === 0) return;
    const begin = performance.now();
    const average = engine.pull();
    // The model as compiled: saved with the base rate, as after training.
    optimizer.learningRate = baseLearningRate;
    await callbacks.saveCheckpoint({
      step,
      numSteps: config.numSteps,
      history: { ...history, steps: [...history.steps], evals: [...history.evals], elapsedMs: begin - start },
      random: { batches: rng.state() },
      ...(average === undefined ? {} : { average }),
    });
    lastCheckpoint = step;
    lastCheckpointMs = performance.now() - begin;
    checkpointMs += lastCheckpointMs;
    const { count = 0, ms = 0 } = history.checkpoints ?? {};
    history.checkpoints = { count: count + 1, ms: ms + lastCheckpointMs };
  };
  /** Whether to checkpoint after `step`: the first boundary past a multiple of checkpointEvery, or a cheap one after an evaluation. */
  const checkpointDue = (step: number, evaluated: boolean): boolean => {
    const every = config.checkpointEvery;
    if (every === 0 || step === lastCheckpoint) return false;
    if (Math.floor(step / every) > Math.floor(lastCheckpoint / every)) return true;
    return evaluated && lastCheckpointMs !== undefined &&
      checkpointMs + lastCheckpointMs <= CHECKPOINT_TIME_SHARE * (performance.now() - start);
  };

  const evaluate = (step: number): boolean => {
    const begin = performance.now();
    const { loss, accuracy } = engine.measure();
    const end = performance.now();
    const { count = 0, ms = 0 } = history.evaluations ?? {};
    history.evaluations = { count: count + 1, ms: ms + (end - begin) };
    const record: EvalRecord = { step, loss, accuracy, elapsedMs: end - start };
    history.evals.push(record);
    callbacks.onEval?.(record);
    return config.targetAccuracy !== undefined && accuracy >= config.targetAccuracy;
  };

  const imagesPerBatch = config.batchSize * seqLength;
  try {
    if (config.numSteps === 0) evaluate(0);
    let step = (resume?.step ?? 0) + 1;
    while (step <= config.numSteps) {
      if (callbacks.shouldStop?.()) {
        history.endReason = 'stopped';
        if (step - 1 > lastCheckpoint) await saveCheckpoint(step - 1);
        break;
      }
      // With the graph's sampler, the steps up to the next evaluation run
      // stepsPerCall at a time, and those that do not fill a call one at a time.
      const evalStep = Math.min(config.numSteps, Math.ceil(step / config.evalEvery) * config.evalEvery);
      const sampler = engine.sampler;
      const count = sampler !== undefined && evalStep - step + 1 >= sampler.stepsPerCall ? sampler.stepsPerCall : 1;
      // The schedule is the one source of the rate: the engine is given it for
      // each step, and the optimiser holds it, where callbacks see it.
      const rates = Array.from({ length: count },
        (_, k) => scheduledLearningRate(config.lrSchedule, baseLearningRate, step + k, config.numSteps));
      // [loss, accuracy, …] of each step, `stride` values apart.
      let values: Float32Array | Int32Array | Uint8Array;
      let stride: number;
      if (sampler !== undefined) {
        const indices = new Int32Array(count * imagesPerBatch);
        for (let k = 0; k < count; k++) {
          indices.set(drawSequenceIndices(data.train.count, config.batchSize, seqLength, rng), k * imagesPerBatch);
        }
        const out = sampler.runSteps(indices, rates);
        values = out.dataSync();
        out.dispose();
        stride = 3;
      } else {
        optimizer.learningRate = rates[0];
        const indices = drawSequenceIndices(data.train.count, config.batchSize, seqLength, rng);
        const batch = makeSequenceBatch(data.train, indices, seqLength, task,
          augment === undefined ? undefined : augmentOfStep(augment, indices.length, stepsBefore + step));
        try {
          const lossAndAccuracy = engine.step(batch.xs, batch.ys, rates[0]);
          // One small read per step: the native backend computes synchronously,
          // so this costs microseconds, and callbacks get exact per-step values.
          values = lossAndAccuracy.dataSync();
          stride = values.length;
          lossAndAccuracy.dispose();
        } finally {
          tf.dispose([batch.xs, batch.ys]);
        }
      }
      for (let k = 0; k < count; k++, step++) {
        const record: StepRecord = { step, loss: values[k * stride], accuracy: values[k * stride + 1], learningRate: rates[k] };
        optimizer.learningRate = rates[k];
        if (diverged(record.loss)) {
          history.elapsedMs = performance.now() - start;
          history.endedAt = new Date().toISOString();
          throw new TrainingDivergedError(step, record.loss, history, divergenceLossLimit(task.numClasses));
        }
        history.steps.push(record);
        callbacks.onStep?.(record);
      }
      const last = step - 1;
      const evaluated = last % config.evalEvery === 0 || last === config.numSteps;
      if (evaluated && evaluate(last)) {
        history.endReason = 'target-reached';
        break;
      }
      // Not after the last step: the run is saved whole next.
      if (last < config.numSteps && checkpointDue(last, evaluated)) await saveCheckpoint(last);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    // Training again later starts from the compiled rate, not from a decayed one.
    optimizer.learningRate = baseLearningRate;
    engine.finish();
  }
  history.elapsedMs = performance.now() - start;
  history.endedAt = new Date().toISOString();
  // maxRSS is in KiB.
  history.peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  return history;
}
