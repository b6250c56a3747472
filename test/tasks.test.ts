import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classTable,
  customTask,
  differenceTask,
  getTask,
  sumTask,
  targetDistribution,
  validateTask,
} from '../lib/data/tasks';
import type { Task } from '../lib/types';

test('the difference task maps first − second to one of 19 classes, class = difference + 9', () => {
  const task = getTask('difference', 2);
  assert.equal(task, differenceTask);
  assert.equal(task.numClasses, 19);
  assert.equal(task.minLength, 2);
  assert.equal(task.classOf([7, 2]), 14);
  assert.equal(task.valueOf(14), 5);
  assert.equal(task.classOf([0, 9]), 0);
  assert.equal(task.valueOf(0), -9);
  assert.equal(task.classOf([9, 0]), 18);
  assert.equal(task.classOf([4, 4]), 9);
  for (let a = 0; a < 10; a++) {
    for (let b = 0; b < 10; b++) assert.equal(task.valueOf(task.classOf([a, b])), a - b);
  }
});

test('the difference task only looks at the first two digits of longer sequences', () => {
  const task = getTask('difference', 4);
  assert.equal(task.classOf([8, 3, 9, 9]), task.classOf([8, 3, 0, 1]));
  assert.equal(task.valueOf(task.classOf([8, 3, 9, 9])), 5);
  validateTask(task, 4);
});

test('the sum task has 9T + 1 classes, class = sum', () => {
  const task = getTask('sum', 3);
  assert.equal(task.name, 'sum');
  assert.equal(task.numClasses, 28);
  assert.equal(task.classOf([9, 9, 9]), 27);
  assert.equal(task.classOf([1, 0, 2]), 3);
  assert.equal(task.valueOf(27), 27);
  assert.equal(getTask('sum', 1).numClasses, 10);
  validateTask(task, 3);
});

test('getTask rejects an unknown name, listing the known tasks', () => {
  assert.throws(() => getTask('product', 2), /unknown task "product"; known tasks: difference, sum/);
});

test('getTask rejects sequences shorter than the task needs, and invalid lengths', () => {
  assert.throws(() => getTask('difference', 1), /task "difference" needs sequences of at least 2 digits, got seqLength 1/);
  assert.throws(() => getTask('sum', 0), /seqLength must be a positive integer, got 0/);
  assert.throws(() => getTask('difference', 2.5), /seqLength must be a positive integer, got 2.5/);
  const needsThree = customTask('third', (d) => d[2], { min: 0, max: 9 }, 3);
  assert.throws(() => getTask(needsThree, 2), /task "third" needs sequences of at least 3 digits, got seqLength 2/);
  assert.equal(getTask(needsThree, 3), needsThree);
});

test('customTask maps values to classes, from a range or a list', () => {
  const max = customTask('max', (d) => Math.max(...d), { min: 0, max: 9 });
  assert.equal(max.numClasses, 10);
  assert.equal(max.classOf([3, 8, 1]), 8);
  validateTask(max, 3);

  const same = customTask('same digit', (d) => (d[0] === d[1] ? 1 : -1), [1, -1]);
  assert.equal(same.numClasses, 2);
  assert.equal(same.classOf([4, 4]), 0);
  assert.equal(same.valueOf(same.classOf([1, 2])), -1);
  validateTask(same, 2);
  assert.throws(() => same.valueOf(2), /task "same digit": class 2 is outside 0\.\.1/);
});

test('customTask rejects empty, duplicated or non-finite values and backwards ranges', () => {
  const f = (d: readonly number[]) => d[0];
  assert.throws(() => customTask('t', f, []), /task "t": the list of values is empty/);
  assert.throws(() => customTask('t', f, [1, 2, 1]), /task "t": value 1 is listed twice/);
  assert.throws(() => customTask('t', f, [1, NaN]), /task "t": value NaN is not a finite number/);
  assert.throws(() => customTask('t', f, { min: 5, max: 2 }), /task "t": range needs integers min ≤ max, got min 5, max 2/);
  assert.throws(() => customTask('t', f, { min: 0, max: 9 }, 0), /task "t": minLength must be a positive integer, got 0/);
});

test('validateTask names the digits and value of a task whose classes do not cover its values', () => {
  const product = customTask('product', (d) => d[0] * d[1], { min: 0, max: 81 });
  validateTask(product, 2);
  const tooFew = customTask('product', (d) => d[0] * d[1], { min: 0, max: 72 });
  assert.throws(
    () => validateTask(tooFew, 2),
    /task "product" gives value 81 for digits \[9, 9\] which no class covers \(its classes cover values 0\.\.72\)/,
  );
  const half = customTask('half', (d) => d[0] / 2, { min: 0, max: 9 });
  assert.throws(() => validateTask(half, 1), /task "half" gives value 0\.5 for digits \[1\] which no class covers/);
});

test('validateTask rejects hand-written tasks giving classes out of range or not integers', () => {
  const base: Task = { name: 'shifted', numClasses: 19, minLength: 2, classOf: (d) => d[0] - d[1] + 10, valueOf: (c) => c - 10 };
  assert.throws(() => validateTask(base, 2), /task "shifted" gives class 19 for digits \[9, 0\], outside its classes 0\.\.18/);
  const fractional: Task = { ...base, name: 'mean', classOf: (d) => (d[0] + d[1]) / 2 };
  assert.throws(() => validateTask(fractional, 2), /task "mean" gives class 0\.5 for digits \[0, 1\], which is not an integer class index/);
  const noClasses: Task = { ...base, name: 'empty', numClasses: 0 };
  assert.throws(() => validateTask(noClasses, 2), /task "empty": numClasses must be a positive integer, got 0/);
});

test('validateTask samples long sequences and still finds the extreme value', () => {
  // 10^7 sequences: too many to enumerate, so validation samples, including all nines.
  validateTask(getTask('sum', 7), 7);
  const capped = customTask('sum', (d) => d.reduce((a, b) => a + b, 0), { min: 0, max: 62 });
  assert.throws(() => validateTask(capped, 7), /gives value 63 for digits \[9, 9, 9, 9, 9, 9, 9\]/);
});

test('targetDistribution of the difference is the triangle (10 − |d|) / 100', () => {
  const p = targetDistribution(differenceTask, 2);
  assert.equal(p.length, 19);
  p.forEach((probability, c) => {
    const d = differenceTask.valueOf(c);
    assert.ok(Math.abs(probability - (10 - Math.abs(d)) / 100) < 1e-12, `class ${c}: ${probability}`);
  });
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
});

test('targetDistribution of the sum of three digits matches counting by hand', () => {
  const p = targetDistribution(sumTask(3), 3);
  const counts = new Array<number>(28).fill(0);
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) for (let c = 0; c < 10; c++) counts[a + b + c]++;
  assert.deepEqual(p, counts.map((n) => n / 1000));
  assert.throws(() => targetDistribution(sumTask(7), 7), /seqLength must be at most 6/);
  assert.throws(() => targetDistribution(differenceTask, 1), /needs sequences of at least 2 digits/);
});

test('classTable holds the class of every digit sequence, read as a base-10 number', () => {
  const difference = classTable(differenceTask, 2) as Int32Array;
  assert.equal(difference.length, 100);
  assert.equal(difference[0], 9); // [0, 0]: 0 − 0 + 9
  assert.equal(difference[90], 18); // [9, 0]
  assert.equal(difference[9], 0); // [0, 9]
  assert.equal(difference[37], 5); // [3, 7]: −4 + 9
  const sum = classTable(sumTask(3), 3) as Int32Array;
  assert.equal(sum.length, 1000);
  assert.equal(sum[999], 27);
  assert.equal(sum[123], 6);
  const product = classTable(customTask('product', (d) => d[0] * d[1], { min: 0, max: 81 }), 2) as Int32Array;
  assert.equal(product[78], 56);
});

test('classTable is null when the table would be too long or some sequence has no class', () => {
  assert.equal(classTable(sumTask(7), 7), null);
  assert.equal(classTable(customTask('product', (d) => d[0] * d[1], { min: 0, max: 72 }), 2), null);
  assert.throws(() => classTable(differenceTask, 1), /difference/);
});
