/**
 * What the model reads, for the browser page of a run (demo/): the task in
 * words, and each digit as the model sees it, two ways:
 *
 * - from the digit probe (lib/evaluate/probe.ts): a linear read-out of the
 *   features the step's CNN hands to the RNN, fitted on training digits;
 * - from the answer: the digits' marginal probabilities under the model's
 *   answer distribution, every sequence with a given answer taken as equally
 *   likely. Where the answer does not pin a digit down (the difference 0 of
 *   "3 − 3" and "7 − 7"; a distractor digit), this reading stays spread out.
 *
 * Pure functions on plain arrays: no DOM, no TensorFlow.
 */
import type { DigitReadout, Task } from '../types';
import { classTable } from '../data/tasks';

/** Digits 0..9. */
const DIGITS = 10;

const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth'];

/** The i-th digit (from 0) in words: 'first', 'second', …, 'digit 11'. */
export function ordinal(index: number): string {
  return ORDINALS[index] ?? `digit ${index + 1}`;
}

/**
 * What a task computes from `seqLength` digits, in words: 'first − second'
 * for the difference (and which digits are only distractors), 'first +
 * second + third' for the sum, the task's name for any other.
 */
export function taskFormula(task: string, seqLength: number): string {
  if (task === 'difference') {
    const rest = seqLength > 2 ? `; the other ${seqLength - 2} digit${seqLength > 3 ? 's are' : ' is'} a distraction` : '';
    return `first − second${rest}`;
  }
  if (task === 'sum') {
    if (seqLength === 1) return 'the digit itself';
    return seqLength <= ORDINALS.length
      ? Array.from({ length: seqLength }, (_, i) => ordinal(i)).join(' + ')
      : `the sum of the ${seqLength} digits`;
  }
  return task;
}

/**
 * How often each digit sits at each step among the sequences of each class,
 * with every sequence of `seqLength` digits counted once: what
 * {@link digitsFromAnswer} needs.
 */
export interface AnswerTable {
  seqLength: number;
  numClasses: number;
  /** [numClasses] sequences per class. */
  sequences: number[];
  /** [numClasses · seqLength · 10]: sequences of class c with digit d at step t, at (c · seqLength + t) · 10 + d. */
  digitCounts: number[];
}

/**
 * The {@link AnswerTable} of `task` by enumerating its 10^T sequences, or
 * null where the task has no class table (T > 6, or a sequence no class covers).
 */
export function answerTable(task: Task, seqLength: number): AnswerTable | null {
  const classes = classTable(task, seqLength);
  if (classes === null) return null;
  const { numClasses } = task;
  const sequences = new Array<number>(numClasses).fill(0);
  const digitCounts = new Array<number>(numClasses * seqLength * DIGITS).fill(0);
  for (let n = 0; n < classes.length; n++) {
    const c = classes[n];
    sequences[c]++;
    // The sequence's index read as a base-10 number, first digit most significant.
    let rest = n;
    for (let t = seqLength - 1; t >= 0; t--) {
      digitCounts[(c * seqLength + t) * DIGITS + (rest % DIGITS)]++;
      rest = Math.floor(rest / DIGITS);
    }
  }
  return { seqLength, numClasses, sequences, digitCounts };
}

/**
 * Each step's digit probabilities implied by the answer's: P(digit t = d) =
 * Σ_c P(c) · (sequences of class c with d at step t) / (sequences of class c).
 * @param probabilities [numClasses] the model's answer probabilities.
 * @returns [seqLength][10], each summing to the probability mass of the classes that have sequences.
 * @throws Error when the probabilities do not match the table's classes.
 */
export function digitsFromAnswer(probabilities: ArrayLike<number>, table: AnswerTable): number[][] {
  if (probabilities.length !== table.numClasses) {
    throw new Error(`expected ${table.numClasses} class probabilities, got ${probabilities.length}`);
  }
  const { seqLength } = table;
  const digits = Array.from({ length: seqLength }, () => new Array<number>(DIGITS).fill(0));
  for (let c = 0; c < table.numClasses; c++) {
    if (table.sequences[c] === 0) continue;
    const share = probabilities[c] / table.sequences[c];
    for (let t = 0; t < seqLength; t++) {
      for (let d = 0; d < DIGITS; d++) digits[t][d] += share * table.digitCounts[(c * seqLength + t) * DIGITS + d];
    }
  }
  return digits;
}

/**
 * The class probabilities a digit probe gives a feature vector:
 * softmax(((features − mean) / scale) · weights + bias).
 * @param features [d] a step's CNN features.
 * @returns [numClasses] probabilities.
 * @throws Error when the features' length is not the probe's d.
 */
export function digitProbabilities(features: ArrayLike<number>, readout: DigitReadout): number[] {
  const d = readout.mean.length;
  if (features.length !== d) throw new Error(`the digit probe reads ${d} features, got ${features.length}`);
  const numClasses = readout.bias.length;
  const logits = readout.bias.slice();
  for (let i = 0; i < d; i++) {
    const x = (features[i] - readout.mean[i]) / readout.scale[i];
    for (let k = 0; k < numClasses; k++) logits[k] += x * readout.weights[i * numClasses + k];
  }
  const top = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}
