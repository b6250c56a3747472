/**
 * Measuring a trained CRNN: accuracy and loss on a fixed set of sequences,
 * plus the tables that show where it errs (confusion matrix, accuracy per
 * class and per pair of digits) and individual predictions for display.
 *
 * The metric functions work on plain arrays so they can be tested and reused
 * without a model; `evaluateModel` feeds them batched predictions.
 */
import { tf } from '../tf';
import type * as tfTypes from '@tensorflow/tfjs';
import type { SequenceBatch } from '../types';

/** Number of digit classes of MNIST, the size of the digit-pair grid. */
const NUM_DIGITS = 10;

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>, names: string): void {
  if (a.length !== b.length) {
    throw new Error(`${names} must have the same length, got ${a.length} and ${b.length}`);
  }
}

function checkClass(value: number, numClasses: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= numClasses) {
    throw new Error(`${what} ${value} is not a class index in 0..${numClasses - 1}`);
  }
}

/**
 * Counts of (target, predicted) class pairs: `matrix[target][predicted]`,
 * numClasses × numClasses. Diagonal entries are the correct predictions.
 * @throws Error when the arrays differ in length or hold an index outside 0..numClasses-1.
 */
export function confusionMatrix(
  targets: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number,
): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  }
  checkSameLength(targets, predicted, 'targets and predicted');
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < targets.length; i++) {
    checkClass(targets[i], numClasses, 'target');
    checkClass(predicted[i], numClasses, 'predicted class');
    matrix[targets[i]][predicted[i]]++;
  }
  return matrix;
}

/**
 * The Wilson score interval of a proportion: `successes` of `trials`, at the
 * level of `z` (1.96: 95%). Unlike the normal approximation it stays inside
 * [0, 1] and is sound for small counts and for rates near 100%, where a class
 * of ~100 sequences with no mistakes still gets an honest lower bound.
 * @returns [low, high]; [0, 1] for no trials.
 */
export function wilsonInterval(successes: number, trials: number, z = 1.96): [number, number] {
  if (!(Number.isInteger(successes) && Number.isInteger(trials) && successes >= 0 && successes <= trials)) {
    throw new Error(`wilsonInterval needs integers 0 <= successes <= trials, got ${successes} of ${trials}`);
  }
  if (trials === 0) return [0, 1];
  const p = successes / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * Share of each target class predicted correctly (recall), from a confusion
 * matrix. A class without any example gets NaN (it has no accuracy).
 */
export function perClassAccuracy(confusion: readonly (readonly number[])[]): number[] {
  return confusion.map((row, c) => {
    const total = row.reduce((sum, n) => sum + n, 0);
    return total === 0 ? NaN : row[c] / total;
  });
}

/** Counts per (first digit, second digit) pair: `correct[a][b]` of `total[a][b]` sequences. */
export interface DigitPairCounts {
  correct: number[][];
  total: number[][];
}

/**
 * How many sequences of each (first digit, second digit) pair there are, and
 * how many of them were classified correctly: `[first][second]`, 10 × 10 for
 * MNIST. With about 100 sequences per pair, the counts say how much a rate
 * rests on.
 * @param digits row-major [count × seqLength] digit labels (seqLength >= 2).
 * @param correct [count] whether each sequence was classified correctly.
 * @throws Error when the sizes do not fit or a digit is outside 0..numDigits-1.
 */
export function digitPairCounts(
  digits: ArrayLike<number>, seqLength: number, correct: ArrayLike<boolean>, numDigits = NUM_DIGITS,
): DigitPairCounts {
  if (!Number.isInteger(seqLength) || seqLength < 2) {
    throw new Error(`digitPairAccuracy needs sequences of length >= 2, got seqLength ${seqLength}`);
  }
  if (digits.length !== correct.length * seqLength) {
    throw new Error(`digits must hold ${seqLength} labels per sequence: got ${digits.length} ` +
      `labels for ${correct.length} sequences`);
  }
  const hits = Array.from({ length: numDigits }, () => new Array<number>(numDigits).fill(0));
  const totals = Array.from({ length: numDigits }, () => new Array<number>(numDigits).fill(0));
  for (let i = 0; i < correct.length; i++) {
    const first = digits[i * seqLength];
    const second = digits[i * seqLength + 1];
    checkClass(first, numDigits, 'digit');
    checkClass(second, numDigits, 'digit');
    totals[first][second]++;
    if (correct[i]) hits[first][second]++;
  }
  return { correct: hits, total: totals };
}

/**
 * Accuracy for each (first digit, second digit) pair of the sequences:
 * `grid[first][second]`, 10 × 10 for MNIST; NaN for pairs that never occur.
 * Shows, for example, whether 9 − 0 is learnt as well as 4 − 5.
 * @throws Error as {@link digitPairCounts}.
 */
export function digitPairAccuracy(
  digits: ArrayLike<number>, seqLength: number, correct: ArrayLike<boolean>, numDigits = NUM_DIGITS,
): number[][] {
  return pairRates(digitPairCounts(digits, seqLength, correct, numDigits));
}

function pairRates({ correct, total }: DigitPairCounts): number[][] {
  return correct.map((row, a) => row.map((hits, b) => (total[a][b] === 0 ? NaN : hits / total[a][b])));
}

/** The rows of a [count, numClasses] tensor as arrays of numbers. */
function rowsOf(probs: tfTypes.Tensor2D): number[][] {
  const [count, numClasses] = probs.shape;
  const values = probs.dataSync();
  return Array.from({ length: count }, (_, i) =>
    Array.from(values.subarray(i * numClasses, (i + 1) * numClasses)));
}

function argMax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** One evaluated sequence. */
export interface PredictionRecord {
  /** The digits of the sequence, in order. */
  digits: number[];
  /** Target class index. */
  target: number;
  /** Predicted class index. */
  predicted: number;
  /** Probability the model gives to its prediction. */
  probability: number;
  /** All class probabilities, when asked for with `keepProbabilities`. */
  probabilities?: number[];
}

/** Everything `evaluateModel` measures on a set of sequences. */
export interface Evaluation {
  /** Number of sequences evaluated. */
  count: number;
  /** Share of sequences whose most probable class is the target. */
  accuracy: number;
  /** Mean categorical cross-entropy. */
  loss: number;
  /** [numClasses][numClasses] counts, `confusion[target][predicted]`. */
  confusion: number[][];
  /** [numClasses] accuracy per target class; NaN for absent classes. */
  perClassAccuracy: number[];
  /** [10][10] accuracy per (first digit, second digit); NaN for absent pairs. Empty for seqLength 1. */
  digitGrid: number[][];
  /** The counts behind `digitGrid`; empty grids for seqLength 1. */
  digitPairs: DigitPairCounts;
  /** One record per sequence, in evaluation order. */
  predictions: PredictionRecord[];
}

export interface EvaluateOptions {
  /** Keep every sequence's class probabilities in `predictions` (default false). */
  keepProbabilities?: boolean;
}

/**
 * Checks that a batch has the input and output shapes `model` was built for.
 * @throws Error naming both shapes when they differ.
 */
export function checkBatchFitsModel(model: tfTypes.LayersModel, batch: SequenceBatch): void {
  const expectedX = model.inputs[0].shape.slice(1);
  const gotX = batch.xs.shape.slice(1);
  if (expectedX.length !== gotX.length || expectedX.some((d, i) => d !== null && d !== gotX[i])) {
    throw new Error(`the model takes sequences of shape [${expectedX.join(', ')}] ` +
      `(seqLength, height, width, channels), but the batch has [${gotX.join(', ')}]`);
  }
  const numClasses = model.outputs[0].shape[1];
  if (numClasses !== batch.ys.shape[1]) {
    throw new Error(`the model predicts ${numClasses} classes, but the batch's targets have ${batch.ys.shape[1]}`);
  }
}

/**
 * Batch statistics as tensors: summed loss and correct count, [batch] predictions.
 * Kept on the backend so a whole evaluation needs one read per batch.
 */
function batchStats(model: tfTypes.LayersModel, batch: SequenceBatch) {
  return tf.tidy(() => {
    const probs = model.predict(batch.xs) as tfTypes.Tensor2D;
    const loss = tf.metrics.categoricalCrossentropy(batch.ys, probs).sum();
    return { probs, loss };
  });
}

function predictedSums(model: tfTypes.LayersModel, batch: SequenceBatch): tfTypes.Tensor1D {
  const probs = model.predict(batch.xs) as tfTypes.Tensor2D;
  const loss = tf.metrics.categoricalCrossentropy(batch.ys, probs).sum();
  const correct = tf.metrics.categoricalAccuracy(batch.ys, probs).sum();
  return tf.stack([loss, correct]) as tfTypes.Tensor1D;
}

/**
 * Loss and accuracy only, for the evaluations during training: one forward
 * pass per batch and a single read of two numbers at the end.
 * @param batchSums a batch's [loss summed over the sequences, number right];
 *   by default from `model.predict` (the graph engine passes its own).
 * @throws Error when `batches` is empty.
 */
export function measureLossAccuracy(
  model: tfTypes.LayersModel, batches: Iterable<SequenceBatch>,
  batchSums: (batch: SequenceBatch) => tfTypes.Tensor1D = (batch) => predictedSums(model, batch),
): { loss: number; accuracy: number; count: number } {
  let count = 0;
  let totals = tf.zeros([2]);
  let sums: ArrayLike<number>;
  try {
    for (const batch of batches) {
      checkBatchFitsModel(model, batch);
      const next = tf.tidy(() => totals.add(batchSums(batch)));
      totals.dispose();
      totals = next;
      count += batch.targets.length;
    }
    sums = totals.dataSync();
  } finally {
    totals.dispose();
  }
  if (count === 0) throw new Error('cannot evaluate on an empty set of sequences');
  return { loss: sums[0] / count, accuracy: sums[1] / count, count };
}

/**
 * Evaluates `model` on `batches` (for example the fixed evaluation set):
 * accuracy, mean loss, confusion matrix, accuracy per class and per digit
 * pair, and one prediction record per sequence.
 * The batches stay owned by the caller; no tensors are left behind.
 * @throws Error when `batches` is empty or a batch's targets do not fit the model.
 */
export function evaluateModel(
  model: tfTypes.LayersModel, batches: Iterable<SequenceBatch>, options: EvaluateOptions = {},
): Evaluation {
  const targets: number[] = [];
  const predicted: number[] = [];
  const digits: number[] = [];
  const predictions: PredictionRecord[] = [];
  let lossSum = 0;
  let seqLength = 0;
  let numClasses = 0;
  for (const batch of batches) {
    checkBatchFitsModel(model, batch);
    const stats = batchStats(model, batch);
    let probs: number[][];
    try {
      lossSum += stats.loss.dataSync()[0];
      probs = rowsOf(stats.probs);
    } finally {
      tf.dispose(stats);
    }
    const count = batch.targets.length;
    seqLength = batch.digits.length / count;
    numClasses = probs[0]?.length ?? numClasses;
    for (let i = 0; i < count; i++) {
      const p = probs[i];
      const best = argMax(p);
      const seqDigits = Array.from(batch.digits.subarray(i * seqLength, (i + 1) * seqLength));
      targets.push(batch.targets[i]);
      predicted.push(best);
      digits.push(...seqDigits);
      predictions.push({
        digits: seqDigits,
        target: batch.targets[i],
        predicted: best,
        probability: p[best],
        ...(options.keepProbabilities ? { probabilities: p } : {}),
      });
    }
  }
  if (targets.length === 0) throw new Error('cannot evaluate on an empty set of sequences');
  const confusion = confusionMatrix(targets, predicted, numClasses);
  const correct = targets.map((t, i) => t === predicted[i]);
  const pairs = seqLength >= 2 ? digitPairCounts(digits, seqLength, correct) : { correct: [], total: [] };
  return {
    count: targets.length,
    accuracy: correct.filter(Boolean).length / targets.length,
    loss: lossSum / targets.length,
    confusion,
    perClassAccuracy: perClassAccuracy(confusion),
    digitGrid: pairRates(pairs),
    digitPairs: pairs,
    predictions,
  };
}
