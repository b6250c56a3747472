/**
 * lib/demo/readings.ts, a pure part of the browser page: the task in words,
 * and the digits read off the answer or a digit probe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerTable, digitProbabilities, digitsFromAnswer, ordinal, taskFormula } from '../lib/demo/readings';
import { differenceTask, sumTask } from '../lib/data/tasks';
import { assertAllClose } from './helpers/close';

test('the task is named in words', () => {
  assert.equal(taskFormula('difference', 2), 'first − second');
  assert.equal(taskFormula('difference', 3), 'first − second; the other 1 digit is a distraction');
  assert.equal(taskFormula('difference', 5), 'first − second; the other 3 digits are a distraction');
  assert.equal(taskFormula('sum', 1), 'the digit itself');
  assert.equal(taskFormula('sum', 3), 'first + second + third');
  assert.equal(taskFormula('sum', 12), 'the sum of the 12 digits');
  assert.equal(taskFormula('max', 2), 'max');
  assert.equal(ordinal(10), 'digit 11');
});

test('digits read off the answer: pinned where the answer decides them, spread where it does not', () => {
  const table = answerTable(differenceTask, 2)!;
  assert.equal(table.sequences.reduce((a, b) => a + b, 0), 100);
  assert.deepEqual([table.sequences[0], table.sequences[9], table.sequences[18]], [1, 10, 1]);
  const sure = (c: number) => Array.from({ length: 19 }, (_, k) => (k === c ? 1 : 0));
  // +9 is only 9 − 0.
  const nine = digitsFromAnswer(sure(18), table);
  assertAllClose(nine, [[0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]], 1e-12);
  // 0 is any digit minus itself: both uniform.
  assertAllClose(digitsFromAnswer(sure(9), table), [new Array(10).fill(0.1), new Array(10).fill(0.1)], 1e-12);
  // Half +9, half −9: each digit 0 or 9.
  const split = digitsFromAnswer(sure(18).map((p, k) => (p + sure(0)[k]) / 2), table);
  assertAllClose(split[0], [0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.5], 1e-12);
  assert.throws(() => digitsFromAnswer([1], table), /expected 19 class probabilities, got 1/);
  // The sum of 3 digits: a total of 27 pins all three at 9; the third digit of a difference is never pinned.
  const sumTable = answerTable(sumTask(3), 3)!;
  const all9 = digitsFromAnswer(Array.from({ length: 28 }, (_, k) => (k === 27 ? 1 : 0)), sumTable);
  for (const step of all9) assertAllClose(step, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 1e-12);
  const third = digitsFromAnswer(sure(18), answerTable(differenceTask, 3)!)[2];
  assertAllClose(third, new Array(10).fill(0.1), 1e-12);
  assert.equal(answerTable(sumTask(7), 7), null, 'T > 6 is not enumerated');
});

test('a digit probe\'s read-out gives softmax((features − mean) / scale · weights + bias)', () => {
  // 2 features, 3 classes.
  const readout = { mean: [1, -1], scale: [2, 0.5], weights: [1, 0, -1, 0, 2, 0], bias: [0, 0.5, 0] };
  const probabilities = digitProbabilities([3, -0.5], readout); // standardised: [1, 1]
  const logits = [1, 2.5, -1];
  const total = logits.reduce((s, l) => s + Math.exp(l), 0);
  assertAllClose(probabilities, logits.map((l) => Math.exp(l) / total), 1e-12);
  assert.throws(() => digitProbabilities([1, 2, 3], readout), /reads 2 features, got 3/);
});

test('a digit probe\'s read-out stays finite for logits far beyond exp\'s range', () => {
  const readout = { mean: [0], scale: [1], weights: [0, 0, 0], bias: [1000, 0, -1000] };
  const probabilities = digitProbabilities([5], readout);
  assertAllClose(probabilities, [1, 0, 0], 1e-12);
  assert.equal(probabilities.reduce((a, b) => a + b, 0), 1);
});
