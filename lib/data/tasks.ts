/**
 * Tasks: what a sequence of digits is mapped to, as a class index.
 *
 * The article's task is the difference of two digits, an integer −9..9 read
 * as one of 19 classes. Other tasks (the sum, or any function of the digits
 * with a finite set of values) reuse the same data pipeline and model.
 */
import type { Task } from '../types';
import { createRng } from '../random';

/** Sequences are enumerated exhaustively up to this many (10^6: T ≤ 6). */
export const MAX_ENUMERATED_SEQUENCES = 1e6;
/** Number of random sequences {@link validateTask} checks when T > 6. */
const VALIDATION_SAMPLES = 200_000;

function formatDigits(digits: readonly number[]): string {
  return `[${digits.join(', ')}]`;
}

/**
 * The article's task: first digit − second digit, 19 classes, class = d + 9
 * (class 0 is −9, class 18 is +9). Needs T ≥ 2; for longer sequences only
 * the first two digits count, the rest are distractors.
 */
export const differenceTask: Task = Object.freeze({
  name: 'difference',
  numClasses: 19,
  minLength: 2,
  classOf: (digits: readonly number[]) => digits[0] - digits[1] + 9,
  valueOf: (classIndex: number) => classIndex - 9,
});

/**
 * The sum of all `seqLength` digits: 0..9T, so 9T + 1 classes, class = sum.
 * @throws Error when seqLength is not a positive integer.
 */
export function sumTask(seqLength: number): Task {
  checkSeqLength(seqLength);
  return Object.freeze({
    name: 'sum',
    numClasses: 9 * seqLength + 1,
    minLength: 1,
    classOf: (digits: readonly number[]) => {
      let sum = 0;
      for (const d of digits) sum += d;
      return sum;
    },
    valueOf: (classIndex: number) => classIndex,
  });
}

/** The values a custom task can take: a list, or every integer min..max. */
export type TaskValues = readonly number[] | { min: number; max: number };

/**
 * A task from any function of the digits with a finite set of values.
 * Class i stands for `values[i]` (or for `min + i` with a range).
 *
 * @param name shown in logs and error messages.
 * @param valueOfDigits the target value of a sequence of digits 0..9.
 * @param values every value `valueOfDigits` can return, each once.
 * @param minLength smallest sequence length the function accepts (default 1).
 * @example customTask('max', (d) => Math.max(...d), { min: 0, max: 9 })
 * @throws Error when `values` is empty, has duplicates or non-finite values,
 *   or the range is not min ≤ max integers. The returned task's `classOf`
 *   throws when the function gives a value no class covers.
 */
export function customTask(
  name: string,
  valueOfDigits: (digits: readonly number[]) => number,
  values: TaskValues,
  minLength = 1,
): Task {
  if (!Number.isInteger(minLength) || minLength < 1) {
    throw new Error(`task "${name}": minLength must be a positive integer, got ${minLength}`);
  }
  let classValues: number[];
  if (Array.isArray(values)) {
    classValues = [...(values as readonly number[])];
    if (classValues.length === 0) throw new Error(`task "${name}": the list of values is empty`);
    const bad = classValues.find((v) => !Number.isFinite(v));
    if (bad !== undefined) throw new Error(`task "${name}": value ${bad} is not a finite number`);
    const dup = classValues.find((v, i) => classValues.indexOf(v) !== i);
    if (dup !== undefined) throw new Error(`task "${name}": value ${dup} is listed twice`);
  } else {
    const { min, max } = values as { min: number; max: number };
    if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) {
      throw new Error(`task "${name}": range needs integers min ≤ max, got min ${min}, max ${max}`);
    }
    classValues = Array.from({ length: max - min + 1 }, (_, i) => min + i);
  }
  const classIndex = new Map(classValues.map((v, i) => [v, i]));
  const covered = Array.isArray(values)
    ? `values ${formatDigits(classValues)}`
    : `values ${classValues[0]}..${classValues[classValues.length - 1]}`;
  return Object.freeze({
    name,
    numClasses: classValues.length,
    minLength,
    classOf(digits: readonly number[]): number {
      const value = valueOfDigits(digits);
      const index = classIndex.get(value);
      if (index === undefined) {
        throw new Error(
          `task "${name}" gives value ${value} for digits ${formatDigits(digits)} which no class covers ` +
            `(its classes cover ${covered})`,
        );
      }
      return index;
    },
    valueOf(index: number): number {
      if (!Number.isInteger(index) || index < 0 || index >= classValues.length) {
        throw new Error(`task "${name}": class ${index} is outside 0..${classValues.length - 1}`);
      }
      return classValues[index];
    },
  });
}

/** Names {@link getTask} knows. */
export const TASK_NAMES = ['difference', 'sum'] as const;
/** A built-in task's name: 'difference' or 'sum'. */
export type TaskName = (typeof TASK_NAMES)[number];
/** The article's task, the one a run learns unless told otherwise. */
export const DEFAULT_TASK: TaskName = 'difference';

/** @throws Error when seqLength is not a positive integer. */
function checkSeqLength(seqLength: number): void {
  if (!Number.isInteger(seqLength) || seqLength < 1) {
    throw new Error(`seqLength must be a positive integer, got ${seqLength}`);
  }
}

/**
 * Checks that `task` accepts sequences of `seqLength` digits.
 * @throws Error when seqLength is not a positive integer or is below the
 *   task's minLength.
 */
export function checkTaskLength(task: Task, seqLength: number): void {
  checkSeqLength(seqLength);
  if (seqLength < task.minLength) {
    throw new Error(
      `task "${task.name}" needs sequences of at least ${task.minLength} digits, got seqLength ${seqLength}`,
    );
  }
}

/**
 * Resolves a task by name ('difference' or 'sum') for sequences of
 * `seqLength` digits, or checks a Task object against `seqLength`.
 * @throws Error for an unknown name (listing the known ones) or a seqLength
 *   below the task's minLength.
 */
export function getTask(task: string | Task, seqLength: number): Task {
  checkSeqLength(seqLength);
  let resolved: Task;
  if (typeof task !== 'string') resolved = task;
  else if (task === 'difference') resolved = differenceTask;
  else if (task === 'sum') resolved = sumTask(seqLength);
  else throw new Error(`unknown task "${task}"; known tasks: ${TASK_NAMES.join(', ')}`);
  checkTaskLength(resolved, seqLength);
  return resolved;
}

/**
 * The class of `digits` under `task`, checked to be an integer in
 * 0..numClasses-1.
 * @throws Error naming the task, the digits and the bad class.
 */
export function checkedClassOf(task: Task, digits: readonly number[]): number {
  const c = task.classOf(digits);
  if (!Number.isInteger(c)) {
    throw new Error(
      `task "${task.name}" gives class ${c} for digits ${formatDigits(digits)}, which is not an integer class index`,
    );
  }
  if (c < 0 || c >= task.numClasses) {
    throw new Error(
      `task "${task.name}" gives class ${c} for digits ${formatDigits(digits)}, ` +
        `outside its classes 0..${task.numClasses - 1}`,
    );
  }
  return c;
}

/** Calls `visit` with every sequence of `seqLength` digits 0..9 (one reused array). */
function forEachSequence(seqLength: number, visit: (digits: readonly number[]) => void): void {
  const digits = new Array<number>(seqLength).fill(0);
  const total = 10 ** seqLength;
  for (let n = 0; n < total; n++) {
    visit(digits);
    // Increment like an odometer, last digit fastest.
    for (let i = seqLength - 1; i >= 0; i--) {
      if (digits[i] < 9) {
        digits[i]++;
        break;
      }
      digits[i] = 0;
    }
  }
}

/**
 * Checks that every sequence of `seqLength` digits maps to an integer class
 * 0..numClasses-1. All 10^T sequences are tried when 10^T ≤ 10^6 (T ≤ 6);
 * beyond that, the all-0 and all-9 sequences and 200,000 seeded random ones.
 * @throws Error for a bad seqLength, a non-positive numClasses, or the first
 *   sequence that no class covers (naming the task, digits and value).
 */
export function validateTask(task: Task, seqLength: number): void {
  checkTaskLength(task, seqLength);
  if (!Number.isInteger(task.numClasses) || task.numClasses < 1) {
    throw new Error(`task "${task.name}": numClasses must be a positive integer, got ${task.numClasses}`);
  }
  if (10 ** seqLength <= MAX_ENUMERATED_SEQUENCES) {
    forEachSequence(seqLength, (digits) => checkedClassOf(task, digits));
    return;
  }
  checkedClassOf(task, new Array<number>(seqLength).fill(0));
  checkedClassOf(task, new Array<number>(seqLength).fill(9));
  const rng = createRng(`validate-${task.name}`);
  const digits = new Array<number>(seqLength);
  for (let n = 0; n < VALIDATION_SAMPLES; n++) {
    for (let i = 0; i < seqLength; i++) digits[i] = rng.nextInt(10);
    checkedClassOf(task, digits);
  }
}

/**
 * The class of every sequence of `seqLength` digits 0..9, indexed by the
 * sequence read as a base-10 number (first digit most significant): what
 * the graph engine looks a batch's targets up in, so that any task, custom
 * ones too, is computed in the graph. Null when 10^T exceeds 10^6 (T > 6)
 * or when some sequence maps to no class: such a task stays with the CPU sampler.
 */
export function classTable(task: Task, seqLength: number): Int32Array | null {
  checkTaskLength(task, seqLength);
  const total = 10 ** seqLength;
  if (total > MAX_ENUMERATED_SEQUENCES) return null;
  const table = new Int32Array(total);
  let n = 0;
  try {
    forEachSequence(seqLength, (digits) => {
      table[n++] = checkedClassOf(task, digits);
    });
  } catch {
    return null;
  }
  return table;
}

/**
 * Exact probability of each class when every digit is independently uniform
 * on 0..9, by enumerating all 10^T sequences. For the difference task this is
 * the triangle (10 − |d|) / 100 over d = −9..9.
 * @returns numClasses probabilities summing to 1, indexed by class.
 * @throws Error for a bad seqLength, when 10^T exceeds 10^6, or when a
 *   sequence maps to no class.
 */
export function targetDistribution(task: Task, seqLength: number): number[] {
  checkTaskLength(task, seqLength);
  const total = 10 ** seqLength;
  if (total > MAX_ENUMERATED_SEQUENCES) {
    throw new Error(
      `targetDistribution enumerates all 10^${seqLength} sequences; seqLength must be at most ` +
        `${Math.log10(MAX_ENUMERATED_SEQUENCES)}`,
    );
  }
  const counts = new Array<number>(task.numClasses).fill(0);
  forEachSequence(seqLength, (digits) => {
    counts[checkedClassOf(task, digits)]++;
  });
  return counts.map((c) => c / total);
}
