import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { createTrainStep } from '../lib/train/loop';
import { GraphTrainer } from '../lib/graph';
import { samplerSpecFor, type SamplerSpec } from '../lib/graph/sampler';
import { loadMnist } from '../lib/data/data';
import { createEvalSet, EVAL_BATCH_SIZE, evalBatches, makeSequenceBatch } from '../lib/data/sequences';
import { differenceTask } from '../lib/data/tasks';
import { measureLossAccuracy } from '../lib/evaluate/metrics';
import type { CrnnConfig, DigitData } from '../lib/types';
import { drawnIndices, maxAbs, maxAbsDiff, randomBatch, twin } from './helpers/models';

const skip = backend.native ? false : 'the graph engine needs the native backend';
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12 };

test('graph steps follow eager Adam steps and leave the optimiser in the same state', { skip }, async () => {
  const graphModel = buildCrnn(small);
  const eagerModel = twin(graphModel, small);
  const batches = [1, 2].map((seed) => randomBatch(graphModel, 16, seed));
  const trainer = await GraphTrainer.create(graphModel);
  for (const [xs, ys] of batches) trainer.step(xs, ys).dispose();
  trainer.pull();
  trainer.dispose();
  const eagerStep = createTrainStep(eagerModel);
  for (const [xs, ys] of batches) eagerStep(xs, ys).dispose();

  // Two steps of 1e-3 each. The engines round differently (oneDNN's fused
  // convolution against tfjs's separate ops), and a max-pool window whose two
  // largest values differ by a rounding error may send its gradient elsewhere:
  // a tenth of a step bounds that, while a wrong Adam formula misses by a step.
  graphModel.trainableWeights.forEach((w, i) => {
    const error = maxAbsDiff(w.read(), eagerModel.trainableWeights[i].read());
    assert.ok(error < 1e-4, `${w.name}: off by ${error}`);
  });
  const [graphState, eagerState] = [await graphModel.optimizer.getWeights(), await eagerModel.optimizer.getWeights()];
  assert.equal(graphState.length, 1 + 2 * graphModel.trainableWeights.length);
  assert.deepEqual(graphState.map((s) => s.name.replace(/_\d+\//, '/')), eagerState.map((s) => s.name.replace(/_\d+\//, '/')));
  assert.equal(graphState[0].tensor.dataSync()[0], 2); // Adam's step count
  assert.equal(eagerState[0].tensor.dataSync()[0], 2);
  graphState.slice(1).forEach((slot, i) => {
    const reference = eagerState[i + 1].tensor;
    const scale = tf.tidy(() => tf.max(tf.abs(reference)).dataSync()[0]);
    const error = maxAbsDiff(slot.tensor, reference);
    assert.ok(error <= 1e-3 * scale, `${slot.name}: off by ${error} (scale ${scale})`);
  });
  tf.dispose(batches.flat());
  disposeCrnn(graphModel);
  disposeCrnn(eagerModel);
});

test('a new trainer resumes from the model\'s Adam state exactly where the last one stopped', { skip }, async () => {
  const resumed = buildCrnn(small);
  const straight = twin(resumed, small);
  const batches = [1, 2, 3].map((seed) => randomBatch(resumed, 16, seed));
  const first = await GraphTrainer.create(resumed);
  for (const [xs, ys] of batches.slice(0, 2)) first.step(xs, ys).dispose();
  first.pull();
  first.dispose();
  const second = await GraphTrainer.create(resumed);
  second.step(...batches[2]).dispose();
  second.pull();
  second.dispose();

  const once = await GraphTrainer.create(straight);
  for (const [xs, ys] of batches) once.step(xs, ys).dispose();
  once.pull();
  once.dispose();
  // The same graph on the same numbers: equal up to float rounding.
  resumed.trainableWeights.forEach((w, i) => {
    const error = maxAbsDiff(w.read(), straight.trainableWeights[i].read());
    assert.ok(error < 1e-6, `${w.name}: off by ${error}`);
  });
  tf.dispose(batches.flat());
  disposeCrnn(resumed);
  disposeCrnn(straight);
});

test('a step returns the batch loss and accuracy before the update, as the eager step does', { skip }, async () => {
  const model = buildCrnn(small);
  const reference = twin(model, small);
  const [xs, ys] = randomBatch(model, 16, 7);
  const trainer = await GraphTrainer.create(model);
  const graphOut = trainer.step(xs, ys, 1e-3);
  const eagerOut = createTrainStep(reference)(xs, ys);
  const [g, e] = [graphOut.dataSync(), eagerOut.dataSync()];
  assert.ok(Math.abs(g[0] - e[0]) < 1e-5, `loss ${g[0]} vs ${e[0]}`);
  assert.equal(g[1], e[1]);
  tf.dispose([graphOut, eagerOut, xs, ys]);
  trainer.dispose();
  disposeCrnn(model);
  disposeCrnn(reference);
});

test('a step at learning rate 0 leaves the weights as they were, and the graph reports the rate it applied', { skip }, async () => {
  const model = buildCrnn(small);
  const before = model.trainableWeights.map((w) => w.read().clone());
  const [xs, ys] = randomBatch(model, 8, 11);
  const trainer = await GraphTrainer.create(model);
  const out = trainer.step(xs, ys, 0);
  assert.equal(out.dataSync()[2], 0);
  trainer.pull();
  model.trainableWeights.forEach((w, i) => assert.equal(maxAbsDiff(w.read(), before[i]), 0, `${w.name} changed`));
  // Adam's step count and moments did advance: only the rate was 0.
  const state = await model.optimizer.getWeights();
  assert.equal(state[0].tensor.dataSync()[0], 1);
  assert.ok(state.slice(1).some((s) => maxAbs(s.tensor) > 0));
  // A step at a rate above 0 does move them.
  const out2 = trainer.step(xs, ys, 1e-3);
  assert.equal(out2.dataSync()[2], Math.fround(1e-3));
  trainer.pull();
  assert.ok(model.trainableWeights.some((w, i) => maxAbsDiff(w.read(), before[i]) > 0));
  trainer.dispose();
  tf.dispose([out, out2, xs, ys, ...before]);
  disposeCrnn(model);
});

test('graph training leaves the tensor count flat across steps, pulls and trainers', { skip }, async () => {
  const model = buildCrnn(small);
  const [xs, ys] = randomBatch(model, 8, 3);
  const run = async (steps: number) => {
    const trainer = await GraphTrainer.create(model);
    for (let i = 0; i < steps; i++) trainer.step(xs, ys).dispose();
    trainer.pull();
    trainer.dispose();
  };
  await run(1); // the first pull creates Adam's moments in the optimiser
  const before = tf.memory().numTensors;
  await run(3);
  await run(6);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([xs, ys]);
  disposeCrnn(model);
});

test('steps in one call on batches the graph gathers equal single steps on the batches the CPU makes', { skip }, async () => {
  const data: DigitData = loadMnist();
  const config = { ...small, batchNorm: true, dropout: 0.25 };
  const looped = buildCrnn(config);
  const single = twin(looped, config);
  const spec = samplerSpecFor(data.train, differenceTask, 2) as SamplerSpec;
  const indices = drawnIndices(data.train, 3, 8, 2, 11);
  const rates = [1e-3, 2e-3, 5e-4];
  const loop = await GraphTrainer.create(looped, { sampler: { spec, stepsPerCall: 3 }, trainingSet: data.train });
  const out = loop.runSteps(Int32Array.from(indices.flatMap((i) => Array.from(i))), rates);
  assert.deepEqual(out.shape, [3, 3]);
  const loopRows = out.arraySync();
  out.dispose();
  loop.pull();
  loop.dispose();
  const trainer = await GraphTrainer.create(single);
  const singleRows = indices.map((batchIndices, k) => {
    const batch = makeSequenceBatch(data.train, batchIndices, 2, differenceTask);
    const stepOut = trainer.step(batch.xs, batch.ys, rates[k]);
    const row = Array.from(stepOut.dataSync());
    tf.dispose([stepOut, batch.xs, batch.ys]);
    return row;
  });
  trainer.pull();
  trainer.dispose();
  // The same ops on the same numbers (dropout masks seeded by the step, batch
  // statistics, Adam's step count): equal up to float rounding.
  loopRows.forEach((row, k) => {
    assert.ok(Math.abs(row[0] - singleRows[k][0]) < 1e-6, `step ${k + 1}: loss ${row[0]} vs ${singleRows[k][0]}`);
    // The two graphs may be fused differently: a nearly tied argmax can fall either way, one sequence in 8.
    assert.ok(Math.abs(row[1] - singleRows[k][1]) <= 1 / 8 + 1e-6, `step ${k + 1}: accuracy ${row[1]} vs ${singleRows[k][1]}`);
    assert.equal(row[2], Math.fround(rates[k]));
  });
  looped.weights.forEach((w, i) => {
    const error = maxAbsDiff(w.read(), single.weights[i].read());
    assert.ok(error < 1e-6, `${w.name}: off by ${error}`);
  });
  assert.equal((looped.optimizer as unknown as { iterations_: number }).iterations_, 3);
  disposeCrnn(looped);
  disposeCrnn(single);
});

test('runSteps refuses a trainer without data, wrong counts of rates or indices, and indices outside the set', { skip }, async () => {
  const data: DigitData = loadMnist();
  const model = buildCrnn(small);
  const spec = samplerSpecFor(data.train, differenceTask, 2) as SamplerSpec;
  const plain = await GraphTrainer.create(model);
  assert.throws(() => plain.runSteps(new Int32Array(32), [1e-3]), /holds no training data/);
  plain.dispose();
  await assert.rejects(GraphTrainer.create(model, { sampler: { spec, stepsPerCall: 2 } }), /needs its trainingSet/);
  await assert.rejects(GraphTrainer.create(model, { sampler: { spec, stepsPerCall: 0 }, trainingSet: data.train }),
    /stepsPerCall must be a positive integer, got 0/);
  await assert.rejects(GraphTrainer.create(model, { sampler: { spec, stepsPerCall: 2 }, trainingSet: data.test }),
    /written for 60000 images of 28×28; the trainingSet has 10000/);
  const trainer = await GraphTrainer.create(model, { sampler: { spec, stepsPerCall: 2 }, trainingSet: data.train });
  assert.throws(() => trainer.runSteps(new Int32Array(48), [1e-3, 1e-3, 1e-3]), /takes 2 learning rates or 1, one per step; got 3/);
  assert.throws(() => trainer.runSteps(new Int32Array(33), [1e-3, 1e-3]), /same number of image indices for each of its 2 steps/);
  trainer.runSteps(new Int32Array(32), [1e-3]).dispose(); // one step, from the same data
  assert.throws(() => trainer.runSteps(Int32Array.from([0, 60000, 1, 2]), [1e-3, 1e-3]), /image index 60000 is outside 0..59999/);
  trainer.dispose();
  disposeCrnn(model);
});

test('the whole evaluation set in one call gives the eager evaluation\'s loss and accuracy', { skip }, async () => {
  const data: DigitData = loadMnist();
  // Batch normalisation and dropout: the evaluation must be the inference pass.
  const config = { ...small, batchNorm: true, dropout: 0.25 };
  const model = buildCrnn(config);
  const [xs, ys] = randomBatch(model, 16, 21);
  // Whole batches and a partial last one; exactly one batch; a partial one alone.
  for (const size of [2.5 * EVAL_BATCH_SIZE, EVAL_BATCH_SIZE, 64]) {
    const evalSet = createEvalSet(data.test, { size, seqLength: 2, task: differenceTask, seed: size });
    const trainer = await GraphTrainer.create(model, { evaluation: { evalSet, set: data.test, batchSize: EVAL_BATCH_SIZE } });
    // A few steps first, so that the moving statistics are not their initial 0 and 1.
    for (let k = 0; k < 3; k++) trainer.step(xs, ys, 1e-2).dispose();
    trainer.pull();
    const sums = trainer.evaluateSet();
    const [lossSum, correct] = Array.from(sums.dataSync());
    sums.dispose();
    const eager = measureLossAccuracy(model, evalBatches(evalSet, data.test, EVAL_BATCH_SIZE));
    const loss = lossSum / size;
    assert.ok(Math.abs(loss - eager.loss) <= 1e-5 * eager.loss, `${size}: loss ${loss} vs ${eager.loss}`);
    // A nearly tied argmax may fall either way, once.
    assert.ok(Math.abs(correct - eager.accuracy * size) <= 1, `${size}: ${correct} right vs ${eager.accuracy * size}`);
    // The graph's own batch evaluation agrees too.
    const batched = measureLossAccuracy(model, evalBatches(evalSet, data.test, EVAL_BATCH_SIZE), (b) => trainer.evaluate(b.xs, b.ys));
    assert.ok(Math.abs(loss - batched.loss) <= 1e-5 * batched.loss, `${size}: loss ${loss} vs ${batched.loss} in batches`);
    // Repeated evaluations leave the tensor count flat.
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) trainer.evaluateSet().dispose();
    assert.equal(tf.memory().numTensors, before);
    trainer.dispose();
  }
  tf.dispose([xs, ys]);
  disposeCrnn(model);
});

test('a trainer names what it was not given, refuses an average without a decay or an evaluation on another set, and any call once disposed',
  { skip }, async () => {
  const data: DigitData = loadMnist();
  const model = buildCrnn(small);
  const [xs, ys] = randomBatch(model, 4, 13);
  const before = tf.memory().numTensors;
  const trainer = await GraphTrainer.create(model);
  assert.throws(() => trainer.evaluateSet(), /holds no evaluation set: create it with `evaluation`/);
  assert.throws(() => trainer.averagedWeights(), /keeps no moving average: create it with an emaDecay above 0/);
  trainer.dispose();
  trainer.dispose(); // a second dispose is a no-op
  assert.throws(() => trainer.step(xs, ys), /this GraphTrainer has been disposed/);
  assert.throws(() => trainer.evaluate(xs, ys), /this GraphTrainer has been disposed/);
  assert.throws(() => trainer.pull(), /this GraphTrainer has been disposed/);
  await assert.rejects(GraphTrainer.create(model, { average: { steps: 1, values: [] } }),
    /an average to go on with needs an emaDecay above 0/);
  const evalSet = createEvalSet(data.test, { size: 8, seqLength: 2, task: differenceTask });
  await assert.rejects(GraphTrainer.create(model, { evaluation: { evalSet, set: data.train, batchSize: 8 } }),
    /the eval set was built on a DigitSet of 10000 images, but got one of 60000/);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([xs, ys]);
  disposeCrnn(model);
});
