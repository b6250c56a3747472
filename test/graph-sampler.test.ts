import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import { GraphBuilder, GraphTrainer } from '../lib/graph';
import { loadSignatures, inTensorFlowMemory } from '../lib/graph/session';
import {
  packedImages, samplerSpecFor, writeAugmentTransforms, writeImagesLoad, writeSampledBatch, writeSamplerData,
  type SamplerSpec,
} from '../lib/graph/sampler';
import { augmentOfStep, drawTransform, type SteppedAugment } from '../lib/data/augment';
import { makeSequenceBatch } from '../lib/data/sequences';
import { differenceTask, sumTask } from '../lib/data/tasks';
import { loadMnist } from '../lib/data/data';
import { getSetting } from '../lib/config';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { trainSteps, type TrainOptions } from '../lib/train/loop';
import type { CrnnConfig, DigitData, DigitSet } from '../lib/types';
import { drawnIndices, twin } from './helpers/models';

const skip = backend.native ? false : 'the graph engine needs the native backend';
const data: DigitData = loadMnist();
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12 };

test('samplerSpecFor gives the shape of the set and the class of every sequence, or why the graph cannot sample', () => {
  const spec = samplerSpecFor(data.train, sumTask(3), 3) as SamplerSpec;
  assert.deepEqual([spec.count, spec.height, spec.width, spec.seqLength, spec.numClasses], [60000, 28, 28, 3, 28]);
  assert.equal(spec.classTable.length, 1000);
  // Row 472 is the sequence 4, 7, 2.
  assert.equal(spec.classTable[472], 13);
  assert.equal((samplerSpecFor(data.train, differenceTask, 2) as SamplerSpec).classTable[37], 3 - 7 + 9);
  assert.equal(samplerSpecFor(data.train, sumTask(7), 7),
    'task "sum" with T = 7 has no class table (T > 6, or a sequence no class covers)');
  const labels = Uint8Array.from([3, 12, 5]);
  const odd: DigitSet = { count: 3, height: 2, width: 2, images: new Uint8Array(12), labels };
  assert.equal(samplerSpecFor(odd, differenceTask, 2), 'the graph\'s sampler reads digits 0..9; image 1 has label 12');
});

test('packedImages views whole aligned words of the images, and copies other images into zero-padded words', () => {
  const bytes = Uint8Array.from({ length: 13 }, (_, i) => 200 + i);
  const aligned: DigitSet = { count: 3, height: 2, width: 2, images: bytes.subarray(0, 12), labels: new Uint8Array(3) };
  const view = packedImages(aligned);
  assert.equal(view.buffer, bytes.buffer);
  assert.deepEqual(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), bytes.subarray(0, 12));
  // Offset by one byte: no int32 view can start there.
  const shifted: DigitSet = { ...aligned, images: bytes.subarray(1, 13) };
  const copy = packedImages(shifted);
  assert.notEqual(copy.buffer, bytes.buffer);
  assert.deepEqual(new Uint8Array(copy.buffer), bytes.subarray(1, 13));
  // 3 images of 1×3: 9 bytes in 3 words, the last padded with zeros.
  const short: DigitSet = { count: 3, height: 1, width: 3, images: bytes.subarray(0, 9), labels: new Uint8Array(3) };
  const padded = packedImages(short);
  assert.equal(padded.length, 3);
  assert.deepEqual(Array.from(new Uint8Array(padded.buffer)), [...Array.from(bytes.subarray(0, 9)), 0, 0, 0]);
});

test('batches gathered from uint8 images in the graph are the CPU\'s, bit for bit', { skip }, async () => {
  // Every byte value, in images whose bytes do not fill whole int32 words (5 × 7 = 35 per image).
  const count = 9;
  const images = Uint8Array.from({ length: count * 35 }, (_, i) => (i * 37) % 256);
  images.set(Uint8Array.from({ length: 256 }, (_, i) => i), 10);
  const set: DigitSet = { count, height: 5, width: 7, images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10) };
  const spec = samplerSpecFor(set, differenceTask, 2) as SamplerSpec;
  const g = new GraphBuilder();
  const data = writeSamplerData(g, spec);
  const load = writeImagesLoad(g, 'images', data.imagesHandle, spec);
  const labels = g.placeholder('labels', 'int32', [count]);
  const loaded = g.node('Identity', [g.scalar(1), `^${load.assign}`,
    `^${g.node('AssignVariableOp', [data.labelsHandle, labels.ref], { dtype: { type: 'int32' } })}`], { T: { type: 'float32' } });
  const indices = g.placeholder('indices', 'int32', [-1]);
  const batch = writeSampledBatch(g, spec, data, indices.ref);
  const signatures = await loadSignatures(g.toSavedModel({
    load: { inputs: { images: load.input, labels }, outputs: { loaded: { ref: loaded, dtype: 'float32', shape: [] } } },
    batch: {
      inputs: { indices },
      outputs: { xs: { ref: batch.xs, dtype: 'float32', shape: [-1, 2, 5, 7, 1] }, ys: { ref: batch.ys, dtype: 'float32', shape: [-1, 19] } },
    },
  }), ['load', 'batch']);
  const feeds = tf.tidy(() => ({
    images: inTensorFlowMemory(tf.tensor1d(packedImages(set), 'int32')),
    labels: inTensorFlowMemory(tf.tensor1d(Int32Array.from(set.labels), 'int32')),
  }));
  tf.dispose([...Object.values(feeds), ...Object.values(signatures.load.predict(feeds))]);
  const batchIndices = Int32Array.from({ length: 2 * count }, (_, i) => (i * 5) % count);
  const indexFeed = tf.tidy(() => inTensorFlowMemory(tf.tensor1d(batchIndices, 'int32')));
  const out = signatures.batch.predict({ indices: indexFeed });
  const cpu = makeSequenceBatch(set, batchIndices, 2, differenceTask);
  assert.deepEqual(out.xs.shape, cpu.xs.shape);
  assert.deepEqual(out.xs.dataSync(), cpu.xs.dataSync());
  assert.deepEqual(out.ys.dataSync(), cpu.ys.dataSync());
  tf.dispose([indexFeed, ...Object.values(out), cpu.xs, cpu.ys]);
  for (const signature of Object.values(signatures)) signature.dispose();
});

test('the graph looks up any task\'s targets: the sum of three digits, gathered in the graph, equals the CPU\'s', { skip }, async () => {
  const task = sumTask(3);
  const config = { ...small, seqLength: 3, numClasses: task.numClasses };
  const looped = buildCrnn(config);
  const single = twin(looped, config);
  const spec = samplerSpecFor(data.train, task, 3) as SamplerSpec;
  const [indices] = drawnIndices(data.train, 1, 16, 3, 5);
  const loop = await GraphTrainer.create(looped, { sampler: { spec, stepsPerCall: 1 }, trainingSet: data.train });
  const trainer = await GraphTrainer.create(single);
  const batch = makeSequenceBatch(data.train, indices, 3, task);
  const [a, b] = [loop.runSteps(indices, [1e-3]), trainer.step(batch.xs, batch.ys, 1e-3)];
  const [loopRow, singleRow] = [a.dataSync(), b.dataSync()];
  assert.ok(Math.abs(loopRow[0] - singleRow[0]) < 1e-6, `loss ${loopRow[0]} vs ${singleRow[0]}`);
  tf.dispose([a, b, batch.xs, batch.ys]);
  loop.dispose();
  trainer.dispose();
  disposeCrnn(looped);
  disposeCrnn(single);
});

/** The first `count` images of `set`, as a DigitSet of their own. */
function firstImages(set: DigitSet, count: number): DigitSet {
  const pixels = set.height * set.width;
  return { ...set, count, images: set.images.subarray(0, count * pixels), labels: set.labels.subarray(0, count) };
}

/**
 * A graph holding `set` that makes the batch of fed indices, augmented by
 * `augment` at the fed step, as the training loops write it; and the
 * transforms of that batch. `batch(indices, step)` runs it.
 */
async function augmentedBatchGraph(set: DigitSet, augment: SteppedAugment) {
  const spec = samplerSpecFor(set, differenceTask, 2) as SamplerSpec;
  const g = new GraphBuilder();
  const stored = writeSamplerData(g, spec);
  const load = writeImagesLoad(g, 'images', stored.imagesHandle, spec);
  const labels = g.placeholder('labels', 'int32', [set.count]);
  const loaded = g.node('Identity', [g.scalar(1), `^${load.assign}`,
    `^${g.node('AssignVariableOp', [stored.labelsHandle, labels.ref], { dtype: { type: 'int32' } })}`], { T: { type: 'float32' } });
  const indices = g.placeholder('indices', 'int32', [-1]);
  const step = g.placeholder('step', 'int32', []);
  const batch = writeSampledBatch(g, spec, stored, indices.ref, { ...augment, step: step.ref });
  const count = g.node('Shape', [indices.ref], { T: { type: 'int32' }, out_type: { type: 'int32' } });
  const transforms = writeAugmentTransforms(g, count, { ...augment, step: step.ref }, set.height, set.width);
  const signatures = await loadSignatures(g.toSavedModel({
    load: { inputs: { images: load.input, labels }, outputs: { loaded: { ref: loaded, dtype: 'float32', shape: [] } } },
    batch: {
      inputs: { indices, step },
      outputs: {
        xs: { ref: batch.xs, dtype: 'float32', shape: [-1, 2, set.height, set.width, 1] },
        transforms: { ref: transforms, dtype: 'float32', shape: [-1, 8] },
      },
    },
  }), ['load', 'batch']);
  const feeds = tf.tidy(() => ({
    images: inTensorFlowMemory(tf.tensor1d(packedImages(set), 'int32')),
    labels: inTensorFlowMemory(tf.tensor1d(Int32Array.from(set.labels), 'int32')),
  }));
  tf.dispose([...Object.values(feeds), ...Object.values(signatures.load.predict(feeds))]);
  return {
    batch(batchIndices: Int32Array, stepNumber: number): { xs: Float32Array; transforms: Float32Array } {
      const inputs = tf.tidy(() => ({
        indices: inTensorFlowMemory(tf.tensor1d(batchIndices, 'int32')),
        step: inTensorFlowMemory(tf.scalar(stepNumber, 'int32')),
      }));
      const out = signatures.batch.predict(inputs);
      const result = { xs: out.xs.dataSync() as Float32Array, transforms: out.transforms.dataSync() as Float32Array };
      tf.dispose([...Object.values(inputs), ...Object.values(out)]);
      return result;
    },
    dispose(): void {
      for (const signature of Object.values(signatures)) signature.dispose();
    },
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** The CPU's batch of `indices` at `step`: makeSequenceBatch with augmentOfStep's transforms. */
function cpuBatch(set: DigitSet, indices: Int32Array, augment: SteppedAugment, step: number): Float32Array {
  const batch = makeSequenceBatch(set, indices, 2, differenceTask, augmentOfStep(augment, indices.length, step));
  const xs = batch.xs.dataSync() as Float32Array;
  tf.dispose([batch.xs, batch.ys]);
  return xs;
}

test('the shifts drawn from float32 uniforms are the same integers in float32 as in double, for every shift allowed', () => {
  // StatelessRandomUniform's float32 values are m·2⁻²³; the graph floors u·n in float32, drawTransform in double.
  const maxShift = getSetting('augmentShift').type as { max: number };
  for (let shift = 1; shift <= maxShift.max; shift++) {
    const n = 2 * shift + 1;
    let differ = 0;
    for (let m = 0; m < 2 ** 23; m++) {
      const u = m * 2 ** -23;
      if (Math.floor(Math.fround(u * n)) !== Math.floor(u * n)) differ++;
    }
    assert.equal(differ, 0, `shift ${shift}: ${differ} uniforms round across an integer in float32`);
  }
});

test('the graph draws the CPU\'s transforms and shifts and rotates the images as transformImage does', { skip }, async () => {
  const set = firstImages(data.train, 50);
  const indices = Int32Array.from({ length: 64 }, (_, i) => (i * 7) % set.count);
  // Rotated pixels are bilinear samples computed in float32 in the graph, in double on the CPU.
  const tolerance = 1e-5;
  for (const augment of [{ maxShift: 2, maxRotation: 10, seed: 5 }, { maxShift: 0, maxRotation: 30, seed: -8 }]) {
    const graph = await augmentedBatchGraph(set, augment);
    for (const step of [1, 2, 1000]) {
      const out = graph.batch(indices, step);
      // The transforms: the CPU's parameters, as the rows of ImageProjectiveTransformV2.
      const rng = augmentOfStep(augment, indices.length, step);
      const cx = (set.width - 1) / 2;
      const cy = (set.height - 1) / 2;
      const expected = Array.from({ length: indices.length }, () => {
        const { dx, dy, angle } = drawTransform(rng);
        const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
        const [px, py] = [-dx - cx, -dy - cy];
        return [cos, sin, cos * px + sin * py + cx, -sin, cos, cos * py - sin * px + cy, 0, 0];
      }).flat();
      assert.ok(maxAbsDiff(out.transforms, expected) < 1e-5, `${JSON.stringify(augment)} step ${step}: transforms`);
      const error = maxAbsDiff(out.xs, cpuBatch(set, indices, augment, step));
      assert.ok(error < tolerance, `${JSON.stringify(augment)} step ${step}: pixels off by ${error}`);
    }
    graph.dispose();
  }
});

test('shifts alone give the CPU\'s pixels bit for bit, in images of any size', { skip }, async () => {
  const count = 6;
  const [height, width] = [9, 13];
  const images = Uint8Array.from({ length: count * height * width }, (_, i) => (i * 53) % 256);
  const set: DigitSet = { count, height, width, images, labels: Uint8Array.from({ length: count }, (_, i) => i) };
  const augment = { maxShift: 4, maxRotation: 0, seed: 9 };
  const graph = await augmentedBatchGraph(set, augment);
  const indices = Int32Array.from({ length: 40 }, (_, i) => i % count);
  for (const step of [1, 7]) {
    const out = graph.batch(indices, step);
    assert.deepEqual(out.xs, cpuBatch(set, indices, augment, step));
  }
  // The same step gives the same batch; another step another one.
  assert.deepEqual(graph.batch(indices, 3).xs, graph.batch(indices, 3).xs);
  assert.notDeepEqual(graph.batch(indices, 3).xs, graph.batch(indices, 4).xs);
  graph.dispose();
});

test('augmented runs gather their batches in the graph too; the graph sampler leaves the tensor count flat', { skip }, async () => {
  const options = { seqLength: 2, task: 'difference', batchSize: 8, evalSize: 16, numSteps: 8, evalEvery: 4 } as const;
  const model = buildCrnn(small);
  for (const augment of [{}, { augmentShift: 1, augmentRotation: 5 }]) {
    await trainSteps(model, data, { ...options, ...augment, stepsPerCall: 2 });
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const again = await trainSteps(model, data, { ...options, ...augment, stepsPerCall: 2 }, {
      onStep: () => counts.push(tf.memory().numTensors),
    });
    assert.deepEqual([again.sampler, again.stepsPerCall], ['graph', 2]);
    assert.equal(new Set(counts).size, 1, `tensor counts at the steps: ${counts.join(', ')}`);
    assert.equal(tf.memory().numTensors, before);
  }
  await assert.rejects(trainSteps(model, data, { ...options, stepsPerCall: 1.5 }), /stepsPerCall must be a positive integer, got 1.5/);
  disposeCrnn(model);
});

/** Small runs of a tiny CRNN, augmented as the `best` preset is. */
const augmentedRun: TrainOptions = {
  seqLength: 2, task: 'difference', batchSize: 8, evalSize: 32, numSteps: 4, evalEvery: 4, seed: 4,
  augmentShift: 2, augmentRotation: 10, stepsPerCall: 2,
};
const tinyModel = { filters: [4, 4] as [number, number], denseUnits: 16, hiddenSize: 16, learningRate: 3e-3 };

async function historyOf(options: Partial<TrainOptions>, seed = 4) {
  const model = buildCrnn(tinyModel, { seed });
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the instance as `this`
  const { runSteps } = GraphTrainer.prototype;
  let calls = 0;
  GraphTrainer.prototype.runSteps = function (this: GraphTrainer, ...args: Parameters<typeof runSteps>) {
    calls++;
    return runSteps.apply(this, args);
  };
  try {
    const history = await trainSteps(model, data, { ...augmentedRun, seed, ...options });
    return { history, calls };
  } finally {
    GraphTrainer.prototype.runSteps = runSteps;
    disposeCrnn(model);
  }
}

test('an augmented run on the graph engine takes K steps per call, and its history is reproducible from its seed', { skip }, async () => {
  const { history, calls } = await historyOf({});
  assert.deepEqual([history.engine, history.sampler, history.stepsPerCall, calls], ['graph', 'graph', 2, 2]);
  const again = await historyOf({});
  const losses = (run: typeof history) => run.steps.map((s) => s.loss);
  assert.deepEqual(losses(again.history), losses(history));
  assert.deepEqual(again.history.evals.map((e) => [e.loss, e.accuracy]), history.evals.map((e) => [e.loss, e.accuracy]));
  assert.notDeepEqual(losses((await historyOf({}, 5)).history), losses(history));
});

test('an augmented run\'s steps see the same images on the graph\'s sampler as on the eager engine\'s CPU batches', { skip }, async () => {
  // A learning rate so small that the weights stay put: each step's loss is the untrained model's on that
  // step's augmented batch. (Trained, the engines part by Adam's first steps, to 1e-3, augmented or not.)
  const still = { ...tinyModel, learningRate: 1e-30 };
  const run = async (options: Partial<TrainOptions>) => {
    const model = buildCrnn(still, { seed: 4 });
    const history = await trainSteps(model, data, { ...augmentedRun, ...options });
    disposeCrnn(model);
    return history;
  };
  const graph = await run({});
  const eager = await run({ engine: 'eager' });
  assert.deepEqual([graph.sampler, eager.engine, eager.sampler], ['graph', 'eager', 'cpu']);
  // The same transforms; the rotated pixels and the two engines' arithmetic differ in float rounding.
  graph.steps.forEach((r, k) => {
    assert.ok(Math.abs(r.loss - eager.steps[k].loss) < 1e-5, `step ${r.step}: loss ${r.loss} vs ${eager.steps[k].loss}`);
  });
  // Other transforms of the same images (shifts of at most 1 pixel from the same draws) move the losses far more.
  const other = await run({ engine: 'eager', augmentShift: 1 });
  assert.ok(graph.steps.some((r, k) => Math.abs(r.loss - other.steps[k].loss) > 1e-3));
});
