import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn } from '../lib/model/build';
import {
  confusionMatrix, digitPairAccuracy, digitPairCounts, evaluateModel, measureLossAccuracy, perClassAccuracy,
  wilsonInterval,
} from '../lib/evaluate/metrics';
import { createEvalSet, evalBatches } from '../lib/data/sequences';
import { differenceTask } from '../lib/data/tasks';
import type { SequenceBatch } from '../lib/types';
import { makeDigitSet } from './helpers/idx-fixtures';
import { assertAllClose } from './helpers/close';

test('confusionMatrix counts (target, predicted) pairs', () => {
  assert.deepEqual(confusionMatrix([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], 3), [
    [1, 0, 0],
    [0, 1, 1],
    [0, 1, 1],
  ]);
  assert.deepEqual(confusionMatrix([], [], 2), [[0, 0], [0, 0]]);
});

test('confusionMatrix rejects mismatched lengths and out-of-range classes', () => {
  assert.throws(() => confusionMatrix([0, 1], [0], 2), /same length, got 2 and 1/);
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /target 3 is not a class index in 0..2/);
  assert.throws(() => confusionMatrix([0], [-1], 3), /predicted class -1 is not a class index in 0..2/);
  assert.throws(() => confusionMatrix([0], [0], 0), /numClasses must be a positive integer, got 0/);
});

test('perClassAccuracy is the recall of each class, NaN for a class never seen', () => {
  const acc = perClassAccuracy([
    [3, 1, 0],
    [0, 0, 0],
    [1, 1, 2],
  ]);
  assert.equal(acc[0], 0.75);
  assert.ok(Number.isNaN(acc[1]));
  assert.equal(acc[2], 0.5);
});

test('digitPairAccuracy gives accuracy per (first, second) digit, NaN where a pair never occurs', () => {
  // Sequences of length 3: only the first two digits decide the cell.
  const digits = [1, 2, 9, 1, 2, 0, 3, 4, 5, 0, 0, 0];
  const grid = digitPairAccuracy(digits, 3, [true, false, true, false]);
  assert.equal(grid.length, 10);
  assert.equal(grid[1][2], 0.5);
  assert.equal(grid[3][4], 1);
  assert.equal(grid[0][0], 0);
  assert.ok(Number.isNaN(grid[2][1]));
  assert.equal(grid.flat().filter((x) => !Number.isNaN(x)).length, 3);
  assert.throws(() => digitPairAccuracy([1, 2, 3], 2, [true, false]), /2 labels per sequence: got 3 labels for 2/);
  assert.throws(() => digitPairAccuracy([1], 1, [true]), /length >= 2, got seqLength 1/);
  assert.throws(() => digitPairAccuracy([1, 12], 2, [true]), /digit 12 is not a class index in 0..9/);
});

/** A small CRNN and a fixed eval set of 8×8 synthetic digits. */
function fixture() {
  const set = makeDigitSet(40, 8, 8);
  const model = buildCrnn({ height: 8, width: 8, filters: [2, 2], denseUnits: 8, hiddenSize: 8 });
  const evalSet = createEvalSet(set, { size: 50, seqLength: 2, task: differenceTask, seed: 3 });
  return { set, model, evalSet };
}

test('evaluateModel agrees with its own predictions and with measureLossAccuracy, leaking nothing', () => {
  const { set, model, evalSet } = fixture();
  const before = tf.memory().numTensors;
  const result = evaluateModel(model, evalBatches(evalSet, set, 16), { keepProbabilities: true });
  const quick = measureLossAccuracy(model, evalBatches(evalSet, set, 7));
  assert.equal(tf.memory().numTensors, before);

  assert.equal(result.count, 50);
  assert.equal(result.predictions.length, 50);
  assert.deepEqual(result.predictions.map((p) => p.target), Array.from(evalSet.targets));
  const hits = result.predictions.filter((p) => p.predicted === p.target).length;
  assert.equal(result.accuracy, hits / 50);
  assert.ok(Math.abs(quick.accuracy - result.accuracy) < 1e-9);
  assert.ok(Math.abs(quick.loss - result.loss) < 1e-4, `${quick.loss} vs ${result.loss}`);

  const trace = result.confusion.reduce((sum, row, i) => sum + row[i], 0);
  assert.equal(trace, hits);
  assert.equal(result.confusion.flat().reduce((a, b) => a + b, 0), 50);
  assert.equal(result.perClassAccuracy.length, 19);
  assert.equal(result.digitGrid.length, 10);

  // Mean cross-entropy recomputed from the kept probabilities.
  const loss = result.predictions.reduce((sum, p) => sum - Math.log(p.probabilities![p.target]), 0) / 50;
  assert.ok(Math.abs(loss - result.loss) < 1e-4, `${loss} vs ${result.loss}`);
  for (const p of result.predictions) {
    assert.equal(p.digits.length, 2);
    assert.equal(p.target, differenceTask.classOf(p.digits));
    assert.equal(p.probability, Math.max(...p.probabilities!));
  }
  model.dispose();
});

test('evaluation rejects an empty set and batches that do not fit the model', () => {
  const { model } = fixture();
  assert.throws(() => evaluateModel(model, []), /cannot evaluate on an empty set of sequences/);
  assert.throws(() => measureLossAccuracy(model, []), /cannot evaluate on an empty set of sequences/);
  const before = tf.memory().numTensors;
  const wrongClasses: SequenceBatch[] = [{
    xs: tf.zeros([1, 2, 8, 8, 1]), ys: tf.zeros([1, 5]),
    digits: Int32Array.from([1, 2]), targets: Int32Array.from([0]), indices: Int32Array.from([0, 1]),
  }];
  assert.throws(() => evaluateModel(model, wrongClasses), /the model predicts 19 classes, but the batch's targets have 5/);
  assert.throws(() => measureLossAccuracy(model, wrongClasses), /predicts 19 classes/);
  tf.dispose([wrongClasses[0].xs, wrongClasses[0].ys]);
  assert.equal(tf.memory().numTensors, before);
  const bigger = makeDigitSet(40, 12, 12);
  const wrongSize = createEvalSet(bigger, { size: 4, seqLength: 2, task: differenceTask });
  assert.throws(() => evaluateModel(model, evalBatches(wrongSize, bigger)),
    /the model takes sequences of shape \[2, 8, 8, 1\].*but the batch has \[2, 12, 12, 1\]/);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('evaluateModel reports the probabilities of model.predict, up to float rounding, and their most probable classes', () => {
  const { set, model, evalSet } = fixture();
  const iterator = evalBatches(evalSet, set, 50);
  const batch = iterator.next().value!;
  const expected = tf.tidy(() => (model.predict(batch.xs) as tfTypes.Tensor2D).arraySync());
  iterator.return();
  // Batches of 16 instead of 50: the same sums, rounded differently on some CPUs.
  const evaluation = evaluateModel(model, evalBatches(evalSet, set, 16), { keepProbabilities: true });
  assertAllClose(evaluation.predictions.map((p) => p.probabilities), expected);
  evaluation.predictions.forEach((p) => assert.equal(p.probabilities![p.predicted], Math.max(...p.probabilities!)));
  model.dispose();
});

test('the Wilson interval matches published values and stays inside [0, 1]', () => {
  // 81 of 263 at 95%: [0.2553, 0.3662] (Wilson 1927, as tabulated by Newcombe 1998, case 3).
  const [low, high] = wilsonInterval(81, 263);
  assert.ok(Math.abs(low - 0.2553) < 5e-4 && Math.abs(high - 0.3662) < 5e-4, `${low}, ${high}`);
  // A class with no mistakes in 94 sequences still has an honest lower bound.
  const [allLow, allHigh] = wilsonInterval(94, 94);
  assert.equal(allHigh, 1);
  assert.ok(allLow > 0.95 && allLow < 0.97, `${allLow}`);
  assert.deepEqual(wilsonInterval(0, 0), [0, 1]);
  assert.equal(wilsonInterval(0, 10)[0], 0);
  assert.throws(() => wilsonInterval(5, 4), /0 <= successes <= trials, got 5 of 4/);
  assert.throws(() => wilsonInterval(1.5, 4), /integers/);
});

test('digitPairCounts counts the sequences of each digit pair and the correct ones', () => {
  const digits = [3, 1, 3, 1, 0, 9, 3, 1];
  const counts = digitPairCounts(digits, 2, [true, false, true, true], 10);
  assert.equal(counts.total[3][1], 3);
  assert.equal(counts.correct[3][1], 2);
  assert.equal(counts.total[0][9], 1);
  assert.equal(counts.total[1][3], 0);
  const rates = digitPairAccuracy(digits, 2, [true, false, true, true], 10);
  assert.equal(rates[3][1], 2 / 3);
  assert.ok(Number.isNaN(rates[1][3]));
});
