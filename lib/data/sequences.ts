/**
 * Sequences of digit images and their targets, as tensors for the model.
 *
 * A sequence is `seqLength` images drawn at random, with replacement, from a
 * {@link DigitSet}; its target is the task's class of their labels. Pixels
 * are scaled from bytes to [0, 1] only when a batch is made, so the data
 * stays compact (uint8) in memory.
 */
import { tf } from '../tf';
import type { DigitSet, SequenceBatch, Task } from '../types';
import { checkedClassOf, getTask, type TaskName } from './tasks';
import { createRng, type Rng } from '../random';
import { augments, checkAugmentOptions, drawTransform, transformImage, type AugmentOptions } from './augment';

/** Options of {@link sampleSequenceBatch}. */
export interface SampleOptions {
  /** Number of sequences in the batch (the article: 128). */
  batchSize: number;
  /** Images per sequence, T (the article: 2). */
  seqLength: number;
  /** A Task, or the name of a built-in one ('difference', 'sum'). */
  task: Task | TaskName;
  /** Source of randomness; the same seed gives the same batches. */
  rng: Rng;
  /**
   * Random shifts and rotations of each image, for training batches (see
   * lib/data/augment.ts); drawn from its own Rng, so the images drawn are the
   * same with or without it. Absent, or shift and rotation 0: the images as
   * they are, and no draws.
   */
  augment?: AugmentOptions;
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
}

function checkSet(set: DigitSet): void {
  if (!set || !(set.images instanceof Uint8Array) || !(set.labels instanceof Uint8Array)) {
    throw new Error('expected a DigitSet with Uint8Array images and labels');
  }
  if (set.count < 1) throw new Error(`the DigitSet is empty (count ${set.count})`);
}

/**
 * Builds the batch for given image indices: xs, ys, digits and targets.
 *
 * @param set where the images come from.
 * @param indices row-major [batchSize × seqLength] image indices into `set`.
 * @param seqLength images per sequence, T.
 * @param task maps each sequence's digits to its target class.
 * @param augment shifts and rotations drawn for each image in turn (training
 *   batches only); absent or 0: the images as they are.
 * @returns a batch owned by the caller: dispose `xs` [batchSize, T, h, w, 1]
 *   and `ys` [batchSize, numClasses].
 * @throws Error when an index is out of range, indices.length is not a
 *   multiple of seqLength, or the task gives a class outside 0..numClasses-1.
 */
export function makeSequenceBatch(
  set: DigitSet,
  indices: Int32Array,
  seqLength: number,
  task: Task,
  augment?: AugmentOptions,
): SequenceBatch {
  if (augment !== undefined) checkAugmentOptions(augment);
  const augmentation = augments(augment) ? augment : undefined;
  const batchSize = indices.length / seqLength;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`${indices.length} image indices do not form whole sequences of length ${seqLength}`);
  }
  const { height, width, count, images, labels } = set;
  const pixels = height * width;
  const digits = new Int32Array(indices.length);
  const targets = new Int32Array(batchSize);
  const sequence = new Array<number>(seqLength);
  // One Float32Array filled in a plain loop, then a single tf.tensor: faster
  // than gathering from a cached image tensor (measured in the report).
  const xsData = new Float32Array(indices.length * pixels);
  const ysData = new Float32Array(batchSize * task.numClasses);
  for (let b = 0; b < batchSize; b++) {
    for (let t = 0; t < seqLength; t++) {
      const k = b * seqLength + t;
      const index = indices[k];
      if (!(index >= 0 && index < count)) {
        throw new Error(`image index ${index} is outside 0..${count - 1}`);
      }
      digits[k] = labels[index];
      sequence[t] = labels[index];
      const source = index * pixels;
      const target = k * pixels;
      if (augmentation !== undefined) {
        transformImage(images, source, xsData, target, height, width, drawTransform(augmentation));
      } else {
        for (let p = 0; p < pixels; p++) xsData[target + p] = images[source + p] / 255;
      }
    }
    targets[b] = checkedClassOf(task, sequence);
    ysData[b * task.numClasses + targets[b]] = 1;
  }
  const xs = tf.tensor5d(xsData, [batchSize, seqLength, height, width, 1], 'float32');
  const ys = tf.tensor2d(ysData, [batchSize, task.numClasses], 'float32');
  return { xs, ys, digits, targets, indices };
}

/**
 * Draws `numSequences × seqLength` image indices of a set of `count` images
 * uniformly, with replacement, sequence after sequence: the draws of
 * `sampleSequenceBatch`, whose batch these indices make with
 * `makeSequenceBatch` (or in the graph, lib/graph/sampler.ts).
 */
export function drawSequenceIndices(count: number, numSequences: number, seqLength: number, rng: Rng): Int32Array {
  const indices = new Int32Array(numSequences * seqLength);
  for (let i = 0; i < indices.length; i++) indices[i] = rng.nextInt(count);
  return indices;
}

/**
 * Samples a fresh batch of sequences, as the article does at every step:
 * batchSize × seqLength images drawn uniformly with replacement from `set`,
 * each shifted and rotated at random when `options.augment` says so.
 *
 * @returns a batch owned by the caller, who must dispose `xs` and `ys`:
 *   xs [batchSize, seqLength, height, width, 1] float32 in [0, 1];
 *   ys [batchSize, numClasses] float32 one-hot;
 *   digits and indices [batchSize × seqLength], targets [batchSize].
 * @throws Error when batchSize is not a positive integer, seqLength is not a
 *   positive integer or is below the task's minLength, the task name is
 *   unknown, the set is empty, or the augmentation options are invalid.
 */
export function sampleSequenceBatch(set: DigitSet, options: SampleOptions): SequenceBatch {
  const { batchSize, seqLength, rng } = options;
  checkBatchSize(batchSize);
  const task = getTask(options.task, seqLength);
  checkSet(set);
  return makeSequenceBatch(set, drawSequenceIndices(set.count, batchSize, seqLength, rng), seqLength, task, options.augment);
}

/**
 * A fixed set of sequences to evaluate on, so that accuracy is measured on
 * the same sequences every time. Holds image indices only (4 bytes per
 * image), not pixels: 10,000 pairs take 80 kB.
 */
export interface EvalSet {
  /** Number of sequences. */
  size: number;
  seqLength: number;
  task: Task;
  seed: number | string;
  /** Row-major [size × seqLength] image indices into the DigitSet it was built on. */
  indices: Int32Array;
  /** [size] target classes. */
  targets: Int32Array;
  /** Image count of the DigitSet it was built on, to catch a mix-up of sets. */
  setCount: number;
}

/** Options of {@link createEvalSet}. */
export interface EvalSetOptions {
  /** Number of sequences (default 10,000). */
  size?: number;
  seqLength: number;
  task: Task | TaskName;
  /** Seed of the draw (default 42): the same seed gives the same sequences. */
  seed?: number | string;
}

/**
 * Draws a fixed, seeded evaluation set of sequences from `set` (usually the
 * test split), the same way {@link sampleSequenceBatch} draws a batch.
 * @throws Error for a bad size, seqLength or task, or an empty set.
 */
export function createEvalSet(set: DigitSet, options: EvalSetOptions): EvalSet {
  const { seqLength, size = 10_000, seed = 42 } = options;
  if (!Number.isInteger(size) || size < 1) {
    throw new Error(`eval set size must be a positive integer, got ${size}`);
  }
  const task = getTask(options.task, seqLength);
  checkSet(set);
  const indices = drawSequenceIndices(set.count, size, seqLength, createRng(seed));
  const targets = new Int32Array(size);
  const sequence = new Array<number>(seqLength);
  for (let s = 0; s < size; s++) {
    for (let t = 0; t < seqLength; t++) sequence[t] = set.labels[indices[s * seqLength + t]];
    targets[s] = checkedClassOf(task, sequence);
  }
  return { size, seqLength, task, seed, indices, targets, setCount: set.count };
}

/**
 * Sequences per forward pass when evaluating on the fixed set (in the graph
 * too, to bound its memory). 500 evaluates as fast as 1,000 and lowers a
 * default run's peak RSS from 728 to 649 MiB: the first convolution's output
 * for a batch of 1,000 pairs alone is 100 MB.
 */
export const EVAL_BATCH_SIZE = 500;

/**
 * Iterates over an evaluation set in batches of tensors, in order; the last
 * batch holds the remainder (size − k × batchSize sequences).
 *
 * Ownership: the ITERATOR owns each yielded batch. Its `xs` and `ys` are
 * disposed when the consumer asks for the next batch, and when the loop ends
 * (also through `break` or an exception), so a `for…of` loop leaks nothing.
 * Clone a tensor (`xs.clone()`) to keep it beyond its iteration.
 *
 * @param evalSet from {@link createEvalSet}.
 * @param set the DigitSet the eval set was built on.
 * @param batchSize sequences per batch (default 1,000).
 * @yields batches with xs [b, T, h, w, 1] and ys [b, numClasses], b ≤ batchSize.
 * @throws Error, at the call, when batchSize is not a positive integer or
 *   `set` does not have the image count the eval set was built on.
 */
export function evalBatches(
  evalSet: EvalSet,
  set: DigitSet,
  batchSize = EVAL_BATCH_SIZE,
): Generator<SequenceBatch, void, undefined> {
  // Validate now, not lazily at the first next() as a generator body would.
  checkBatchSize(batchSize);
  checkSet(set);
  if (set.count !== evalSet.setCount) {
    throw new Error(
      `the eval set was built on a DigitSet of ${evalSet.setCount} images, but got one of ${set.count}`,
    );
  }
  return iterateEvalBatches(evalSet, set, batchSize);
}

function* iterateEvalBatches(evalSet: EvalSet, set: DigitSet, batchSize: number): Generator<SequenceBatch, void, undefined> {
  const { seqLength } = evalSet;
  for (let start = 0; start < evalSet.size; start += batchSize) {
    const end = Math.min(start + batchSize, evalSet.size);
    const batch = makeSequenceBatch(
      set,
      evalSet.indices.slice(start * seqLength, end * seqLength),
      seqLength,
      evalSet.task,
    );
    try {
      yield batch;
    } finally {
      batch.xs.dispose();
      batch.ys.dispose();
    }
  }
}
