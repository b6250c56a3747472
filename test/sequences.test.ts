import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../lib/tf';
import { createRng } from '../lib/random';
import { createEvalSet, evalBatches, makeSequenceBatch, sampleSequenceBatch } from '../lib/data/sequences';
import { customTask, differenceTask, sumTask } from '../lib/data/tasks';
import { loadMnist } from '../lib/data/data';
import type { SequenceBatch, Task } from '../lib/types';
import { makeDigitSet } from './helpers/idx-fixtures';

const set = makeDigitSet(50, 4, 3);

function dispose(batch: SequenceBatch): void {
  batch.xs.dispose();
  batch.ys.dispose();
}

test('sampleSequenceBatch builds xs, ys, digits, targets and indices that agree with each other', () => {
  const batch = sampleSequenceBatch(set, { batchSize: 6, seqLength: 3, task: 'difference', rng: createRng(5) });
  try {
    assert.deepEqual(batch.xs.shape, [6, 3, 4, 3, 1]);
    assert.equal(batch.xs.dtype, 'float32');
    assert.deepEqual(batch.ys.shape, [6, 19]);
    assert.equal(batch.indices.length, 18);
    assert.equal(batch.digits.length, 18);
    assert.equal(batch.targets.length, 6);
    const xs = batch.xs.dataSync();
    const ys = batch.ys.arraySync();
    const pixels = 12;
    for (let k = 0; k < 18; k++) {
      const index = batch.indices[k];
      assert.ok(index >= 0 && index < set.count);
      assert.equal(batch.digits[k], set.labels[index]);
      for (let p = 0; p < pixels; p++) {
        assert.ok(Math.abs(xs[k * pixels + p] - set.images[index * pixels + p] / 255) < 1e-7);
      }
    }
    for (let b = 0; b < 6; b++) {
      const digits = [...batch.digits.subarray(b * 3, b * 3 + 3)];
      assert.equal(batch.targets[b], differenceTask.classOf(digits));
      assert.equal(ys[b].reduce((s, v) => s + v, 0), 1);
      assert.equal(ys[b][batch.targets[b]], 1);
    }
  } finally {
    dispose(batch);
  }
});

test('sampleSequenceBatch gives the same batch for the same seed', () => {
  const opts = { batchSize: 8, seqLength: 2, task: 'sum' as const };
  const a = sampleSequenceBatch(set, { ...opts, rng: createRng(9) });
  const b = sampleSequenceBatch(set, { ...opts, rng: createRng(9) });
  const c = sampleSequenceBatch(set, { ...opts, rng: createRng(10) });
  try {
    assert.deepEqual(a.indices, b.indices);
    assert.deepEqual(a.xs.dataSync(), b.xs.dataSync());
    assert.deepEqual(a.ys.dataSync(), b.ys.dataSync());
    assert.notDeepEqual(a.indices, c.indices);
  } finally {
    [a, b, c].forEach(dispose);
  }
});

test('sampleSequenceBatch rejects a bad batchSize, seqLength or task with a clear message', () => {
  const rng = createRng(0);
  const call = (batchSize: number, seqLength: number, task: Task | 'difference' | 'sum' = 'difference') =>
    () => sampleSequenceBatch(set, { batchSize, seqLength, task, rng });
  assert.throws(call(0, 2), /batchSize must be a positive integer, got 0/);
  assert.throws(call(-4, 2), /batchSize must be a positive integer, got -4/);
  assert.throws(call(2.5, 2), /batchSize must be a positive integer, got 2.5/);
  assert.throws(call(4, 0, 'sum'), /seqLength must be a positive integer, got 0/);
  assert.throws(call(4, 1), /task "difference" needs sequences of at least 2 digits, got seqLength 1/);
  assert.throws(call(4, 2, 'product' as 'sum'), /unknown task "product"; known tasks: difference, sum/);
  const narrow = customTask('first', (d) => d[0], { min: 0, max: 4 });
  // Labels 0..9 occur, so some sequence starts with a digit above 4.
  assert.throws(call(64, 1, narrow), /task "first" gives value [5-9] for digits \[[5-9]\] which no class covers/);
  const empty = { ...set, images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 };
  assert.throws(() => sampleSequenceBatch(empty, { batchSize: 2, seqLength: 2, task: 'difference', rng }), /the DigitSet is empty/);
});

test('makeSequenceBatch rejects image indices outside the set and partial sequences', () => {
  assert.throws(() => makeSequenceBatch(set, Int32Array.from([1, 50]), 2, differenceTask), /image index 50 is outside 0\.\.49/);
  assert.throws(() => makeSequenceBatch(set, Int32Array.from([1, 2, 3]), 2, differenceTask), /3 image indices do not form whole sequences of length 2/);
});

test('sampling and disposing batches repeatedly leaves no tensors behind', () => {
  const rng = createRng(11);
  const opts = { batchSize: 16, seqLength: 2, task: sumTask(2), rng };
  dispose(sampleSequenceBatch(set, opts));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 25; i++) {
    const batch = sampleSequenceBatch(set, opts);
    assert.equal(tf.memory().numTensors, before + 2);
    dispose(batch);
  }
  assert.equal(tf.memory().numTensors, before);
});

test('createEvalSet draws a fixed set of sequences from a seed, storing indices only', () => {
  const a = createEvalSet(set, { size: 10, seqLength: 2, task: 'difference', seed: 1 });
  const b = createEvalSet(set, { size: 10, seqLength: 2, task: 'difference', seed: 1 });
  const c = createEvalSet(set, { size: 10, seqLength: 2, task: 'difference', seed: 2 });
  assert.equal(a.size, 10);
  assert.equal(a.indices.length, 20);
  assert.deepEqual(a.indices, b.indices);
  assert.deepEqual(a.targets, b.targets);
  assert.notDeepEqual(a.indices, c.indices);
  for (let s = 0; s < 10; s++) {
    assert.equal(a.targets[s], differenceTask.classOf([set.labels[a.indices[2 * s]], set.labels[a.indices[2 * s + 1]]]));
  }
  assert.equal(createEvalSet(set, { seqLength: 2, task: 'difference' }).size, 10000);
  assert.throws(() => createEvalSet(set, { size: 0, seqLength: 2, task: 'difference' }), /eval set size must be a positive integer, got 0/);
  assert.throws(() => createEvalSet(set, { size: 5, seqLength: 1, task: 'difference' }), /needs sequences of at least 2 digits/);
});

test('evalBatches yields the eval set in order, in batches, with the same tensors for the same seed', () => {
  const collect = (seed: number) => {
    const evalSet = createEvalSet(set, { size: 10, seqLength: 2, task: 'difference', seed });
    const sizes: number[] = [];
    const targets: number[] = [];
    const pixels: number[] = [];
    for (const batch of evalBatches(evalSet, set, 4)) {
      sizes.push(batch.xs.shape[0]);
      assert.deepEqual(batch.ys.shape, [batch.xs.shape[0], 19]);
      targets.push(...batch.targets);
      pixels.push(...batch.xs.dataSync());
    }
    return { evalSet, sizes, targets, pixels };
  };
  const a = collect(3);
  const b = collect(3);
  assert.deepEqual(a.sizes, [4, 4, 2]);
  assert.deepEqual(a.targets, [...a.evalSet.targets]);
  assert.deepEqual(a.pixels, b.pixels);
  assert.notDeepEqual(a.pixels, collect(4).pixels);
});

test('evalBatches disposes each batch when the next is requested and when the loop stops early', () => {
  const evalSet = createEvalSet(set, { size: 9, seqLength: 2, task: 'difference', seed: 0 });
  const before = tf.memory().numTensors;
  const seen: SequenceBatch[] = [];
  for (const batch of evalBatches(evalSet, set, 2)) {
    seen.push(batch);
    assert.equal(tf.memory().numTensors, before + 2);
    if (seen.length === 3) break;
  }
  assert.equal(tf.memory().numTensors, before);
  assert.ok(seen.every((batch) => batch.xs.isDisposed && batch.ys.isDisposed));
  for (let round = 0; round < 3; round++) {
    for (const batch of evalBatches(evalSet, set, 4)) batch.xs.dataSync();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('evalBatches rejects a bad batchSize or a DigitSet other than the one the eval set was built on', () => {
  const evalSet = createEvalSet(set, { size: 4, seqLength: 2, task: 'difference', seed: 0 });
  assert.throws(() => evalBatches(evalSet, set, 0), /batchSize must be a positive integer, got 0/);
  assert.throws(() => evalBatches(evalSet, makeDigitSet(60), 2), /built on a DigitSet of 50 images, but got one of 60/);
});

test('samples a batch of 128 pairs of real MNIST test digits', () => {
  const { test: testSet } = loadMnist();
  const rng = createRng(42);
  const opts = { batchSize: 128, seqLength: 2, task: 'difference' as const, rng };
  dispose(sampleSequenceBatch(testSet, opts));
  const start = performance.now();
  const rounds = 20;
  for (let i = 0; i < rounds; i++) dispose(sampleSequenceBatch(testSet, opts));
  console.log(`# sampleSequenceBatch(128 × 2 MNIST): ${((performance.now() - start) / rounds).toFixed(2)} ms per batch`);
  const batch = sampleSequenceBatch(testSet, opts);
  try {
    assert.deepEqual(batch.xs.shape, [128, 2, 28, 28, 1]);
    const [min, max] = tf.tidy(() => [batch.xs.min().dataSync()[0], batch.xs.max().dataSync()[0]]);
    assert.equal(min, 0);
    assert.equal(max, 1);
    for (const t of batch.targets) assert.ok(t >= 0 && t < 19);
  } finally {
    dispose(batch);
  }
});
