import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import {
  createTrainStep, DIVERGENCE_PATIENCE, divergenceLossLimit, divergenceWatch, scheduledLearningRate, trainSteps,
  TrainingDivergedError, type TrainOptions,
} from '../lib/train/loop';
import { defaultTrainConfig, resolveTrainConfig } from '../lib/config';
import { loadMnist } from '../lib/data/data';
import { GraphTrainer } from '../lib/graph';
import { createEvalSet, evalBatches } from '../lib/data/sequences';
import { customTask, differenceTask, sumTask } from '../lib/data/tasks';
import { measureLossAccuracy } from '../lib/evaluate/metrics';
import type { CrnnConfig, DigitData, EvalRecord, StepRecord, TrainConfig } from '../lib/types';
import { twin } from './helpers/models';

/** A small CRNN that trains in milliseconds per step on 2 cores. */
const tiny: Partial<CrnnConfig> = { filters: [8, 8], denseUnits: 64, hiddenSize: 64, learningRate: 3e-3 };
/** Smaller still, for the tests that compare engines step by step. */
const small: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12 };
const data: DigitData = loadMnist();
const quick: TrainOptions = { seqLength: 2, task: 'difference', batchSize: 16, evalEvery: 5, evalSize: 64 };
/** The graph engine's cases skip, with the reason, on the pure-JavaScript fallback. */
const skipOn = (engine: 'eager' | 'graph') => ({
  skip: engine === 'graph' && !backend.native ? 'the graph engine needs the native backend' : false,
});

test('the default training config is the article\'s schedule with a cosine learning rate', () => {
  assert.deepEqual(resolveTrainConfig(), {
    numSteps: 10000, batchSize: 128, evalEvery: 100, evalSize: 10000, seed: 42, evalSeed: 42, targetAccuracy: undefined,
    lrSchedule: 'cosine', engine: 'auto', augmentShift: 0, augmentRotation: 0, labelSmoothing: 0, emaDecay: 0,
    checkpointEvery: 1000,
  });
  assert.ok(Object.isFrozen(defaultTrainConfig));
});

test('forty steps on real MNIST lower the loss on the fixed evaluation set', async () => {
  const model = buildCrnn(tiny);
  const options: TrainOptions = { seqLength: 2, task: 'difference', batchSize: 32, evalSize: 500 };
  const before = await trainSteps(model, data, { ...options, numSteps: 0 });
  const after = await trainSteps(model, data, { ...options, numSteps: 40, evalEvery: 40 });
  assert.equal(before.evals[0].step, 0);
  const [lossBefore, lossAfter] = [before.evals[0].loss, after.evals[0].loss];
  // Chance level is ln 19 ≈ 2.94; measured runs end near 2.7.
  assert.ok(lossAfter < lossBefore - 0.1, `eval loss went from ${lossBefore} to ${lossAfter}`);
  assert.equal(after.steps.length, 40);
  model.dispose();
});

// The loop's behaviour is the same whichever engine runs the steps.
for (const engine of ['graph', 'eager'] as const) {
  test(`records every step and evaluates every evalEvery steps and after the last one (${engine} engine)`, skipOn(engine),
    async () => {
    const model = buildCrnn(tiny);
    const steps: StepRecord[] = [];
    const evals: EvalRecord[] = [];
    const history = await trainSteps(model, data, { ...quick, engine, numSteps: 12 }, {
      onStep: (r) => steps.push(r),
      onEval: (r) => evals.push(r),
    });
    assert.deepEqual(history.steps.map((r) => r.step), Array.from({ length: 12 }, (_, i) => i + 1));
    assert.deepEqual(history.evals.map((r) => r.step), [5, 10, 12]);
    assert.deepEqual(steps, history.steps);
    assert.deepEqual(evals, history.evals);
    assert.equal(history.endReason, 'completed');
    assert.equal(history.engine, engine);
    for (const r of [...history.steps, ...history.evals]) {
      assert.ok(Number.isFinite(r.loss) && r.loss > 0, `loss ${r.loss}`);
      assert.ok(r.accuracy >= 0 && r.accuracy <= 1, `accuracy ${r.accuracy}`);
    }
    // 64 evaluation sequences: accuracies are multiples of 1/64.
    for (const r of history.evals) assert.equal(Math.round(r.accuracy * 64), r.accuracy * 64);
    // The evaluations' time is counted, and is part of the training time.
    assert.equal(history.evaluations?.count, 3);
    assert.ok(history.evaluations.ms > 0 && history.evaluations.ms < history.elapsedMs,
      `evaluations ${history.evaluations.ms} ms of ${history.elapsedMs}`);
    model.dispose();
  });

  test(`stops early once the target accuracy is reached (${engine} engine)`, skipOn(engine), async () => {
    const model = buildCrnn(tiny);
    // Bias the output towards class 9 (difference 0, a tenth of all pairs) so
    // the first evaluation's accuracy is surely above zero, the target here.
    const head = model.getLayer('class_probabilities');
    const [kernel] = head.getWeights();
    const bias = tf.oneHot(9, 19).mul(10);
    head.setWeights([kernel, bias]);
    bias.dispose();
    const history = await trainSteps(model, data,
      { ...quick, engine, numSteps: 50, targetAccuracy: 1e-9, evalSize: 256 });
    assert.equal(history.endReason, 'target-reached');
    assert.equal(history.steps.length, 5);
    assert.equal(history.evals.length, 1);
    model.dispose();
  });

  test(`shouldStop ends training between steps with endReason "stopped" (${engine} engine)`, skipOn(engine), async () => {
    const model = buildCrnn(tiny);
    let seen = 0;
    const history = await trainSteps(model, data, { ...quick, engine, numSteps: 50 }, {
      onStep: () => { seen++; },
      shouldStop: () => seen >= 3,
    });
    assert.equal(history.endReason, 'stopped');
    assert.equal(history.steps.length, 3);
    model.dispose();
  });

  test(`the number of tensors is the same after N and after 2N steps (${engine} engine)`, skipOn(engine), async () => {
    const model = buildCrnn(tiny);
    // The first call creates Adam's moment variables; count from there on.
    await trainSteps(model, data, { ...quick, engine, numSteps: 3 });
    const afterN = tf.memory().numTensors;
    await trainSteps(model, data, { ...quick, engine, numSteps: 3 });
    const after2N = tf.memory().numTensors;
    await trainSteps(model, data, { ...quick, engine, numSteps: 6 });
    assert.equal(after2N, afterN);
    assert.equal(tf.memory().numTensors, afterN);
    model.dispose();
  });

  test(`a non-finite loss stops training with an error naming the step and the value (${engine} engine)`, skipOn(engine),
    async () => {
    const model = buildCrnn(tiny);
    await trainSteps(model, data, { ...quick, engine, numSteps: 1 }); // creates Adam's variables
    const head = model.getLayer('class_probabilities');
    const [kernel, bias] = head.getWeights();
    const nanKernel = tf.fill(kernel.shape, NaN);
    head.setWeights([nanKernel, bias]);
    nanKernel.dispose();
    const before = tf.memory().numTensors;
    await assert.rejects(trainSteps(model, data, { ...quick, engine, numSteps: 10 }), (err: unknown) => {
      assert.ok(err instanceof TrainingDivergedError);
      assert.match(err.message, /training diverged at step 1: loss is NaN/);
      assert.equal(err.step, 1);
      assert.equal(err.history.steps.length, 0);
      return true;
    });
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
  });
}

test('the divergence rule: a non-finite loss at once, a loss above the limit only when it persists', () => {
  assert.equal(divergenceLossLimit(19), 8);
  assert.ok(Math.abs(divergenceLossLimit(1000) - 2 * Math.log(1000)) < 1e-12);
  const nan = divergenceWatch(19);
  assert.equal(nan(2.9), false);
  assert.equal(nan(NaN), true);
  assert.equal(divergenceWatch(19)(Infinity), true);
  // Spikes shorter than the patience, with a normal loss between them, never stop training.
  const spikes = divergenceWatch(19);
  for (let i = 0; i < 3; i++) {
    for (let k = 0; k < DIVERGENCE_PATIENCE - 1; k++) assert.equal(spikes(16.1), false);
    assert.equal(spikes(2.5), false);
  }
  const stuck = divergenceWatch(19);
  const verdicts = Array.from({ length: DIVERGENCE_PATIENCE }, () => stuck(16.118));
  assert.deepEqual(verdicts, [...Array(DIVERGENCE_PATIENCE - 1).fill(false), true]);
});

for (const engine of ['eager', 'graph'] as const) {
  test(`a learning rate of 10 is caught as divergence on the ${engine} engine`, skipOn(engine), async () => {
    // Measured: the eager loss sticks near 16.1 (the log of tfjs's 1e-7
    // probability clip) from step 2; the graph's grows past 40.
    const model = buildCrnn({ ...tiny, learningRate: 10 });
    await assert.rejects(
      trainSteps(model, data, { ...quick, numSteps: 100, evalEvery: 100, engine, lrSchedule: 'constant' }),
      (err: unknown) => {
        assert.ok(err instanceof TrainingDivergedError, String(err));
        assert.match(err.message, /training diverged at step \d+: loss is [\d.]+, above 8\.0 for 10 steps in a row/);
        assert.ok(err.step <= 2 + DIVERGENCE_PATIENCE, `caught at step ${err.step}`);
        assert.equal(err.history.steps.length, err.step - 1);
        assert.equal(err.history.engine, engine);
        return true;
      });
    model.dispose();
  });
}

test('every invalid training setting is rejected with the field and the value', async () => {
  const model = buildCrnn(tiny);
  const cases: [Partial<TrainConfig> & Record<string, unknown>, RegExp][] = [
    [{ batchSize: 0 }, /batchSize must be an integer >= 1, got 0/],
    [{ batchSize: 12.5 }, /batchSize must be an integer >= 1, got 12.5/],
    [{ numSteps: -1 }, /numSteps must be an integer >= 0, got -1/],
    [{ evalEvery: 0 }, /evalEvery must be an integer >= 1, got 0/],
    [{ evalSize: 0 }, /evalSize must be an integer >= 1, got 0/],
    [{ seed: 1.5 }, /seed must be an integer, got 1.5/],
    [{ targetAccuracy: 1.5 }, /targetAccuracy must be a number in \(0, 1\], got 1.5/],
    [{ targetAccuracy: 0 }, /targetAccuracy must be a number in \(0, 1\], got 0/],
    [{ steps: 10 }, /Unknown TrainConfig field 'steps'/],
    [{ lrSchedule: 'linear' as TrainConfig['lrSchedule'] }, /lrSchedule must be one of constant, cosine, one-cycle, got "linear"/],
  ];
  for (const [config, message] of cases) {
    await assert.rejects(trainSteps(model, data, { ...quick, ...config }), message, JSON.stringify(config));
  }
  model.dispose();
});

test('a model that does not fit the sequence length, task, images or training is rejected', async () => {
  const model = buildCrnn(tiny);
  await assert.rejects(trainSteps(model, data, { ...quick, seqLength: 3 }),
    /the model was built for sequences of length 2, but seqLength is 3/);
  await assert.rejects(trainSteps(model, data, { ...quick, seqLength: 0 }), /seqLength/);
  await assert.rejects(trainSteps(model, data, { ...quick, task: 'product' }), /product/);
  const parity = customTask('parity', (d) => (d[0] + d[1]) % 2, [0, 1]);
  await assert.rejects(trainSteps(model, data, { ...quick, task: parity }),
    /the model predicts 19 classes, but task "parity" has 2/);
  const small = buildCrnn({ ...tiny, height: 14, width: 14 });
  await assert.rejects(trainSteps(small, data, quick), /the model takes 14×14 images, but the data has 28×28/);
  const uncompiled = tf.model({ inputs: model.inputs, outputs: model.outputs });
  await assert.rejects(trainSteps(uncompiled, data, quick), /the model is not compiled/);
  model.dispose();
  small.dispose();
});

test('the cosine schedule falls from the learning rate to 1% of it, the constant one stays', () => {
  assert.equal(scheduledLearningRate('constant', 1e-3, 5000, 10000), 1e-3);
  assert.equal(scheduledLearningRate('cosine', 1e-3, 1, 10000), 1e-3);
  // Half way through, half way down to the floor: 0.01 + 0.99 · 0.5.
  assert.ok(Math.abs(scheduledLearningRate('cosine', 1e-3, 5000.5, 10000) - 0.505e-3) < 1e-12);
  assert.ok(Math.abs(scheduledLearningRate('cosine', 1e-3, 10000, 10000) - 1e-5) < 1e-15);
  const rates = [1, 2500, 5000, 7500, 10000].map((s) => scheduledLearningRate('cosine', 1, s, 10000));
  rates.slice(1).forEach((rate, i) => assert.ok(rate < rates[i], `not decreasing: ${rates.join(', ')}`));
});

test('the one-cycle schedule warms up linearly to the learning rate over the first 20% of the steps, then follows the cosine down', () => {
  const rate = (step: number) => scheduledLearningRate('one-cycle', 1e-3, step, 1001);
  assert.ok(Math.abs(rate(1) - 1e-4) < 1e-15, 'starts at 10% of the rate');
  // Progress 0.1 of 1,000 intervals: half way through the warm-up, 0.1 + 0.9 · 0.5.
  assert.ok(Math.abs(rate(101) - 0.55e-3) < 1e-12);
  assert.ok(Math.abs(rate(201) - 1e-3) < 1e-15, 'the peak at the end of the warm-up');
  // Half way through the descent (progress 0.6), half way down to the floor.
  assert.ok(Math.abs(rate(601) - 0.505e-3) < 1e-12);
  assert.ok(Math.abs(rate(1001) - 1e-5) < 1e-15, 'ends at the cosine\'s floor');
  const warmUp = [1, 50, 100, 150, 200].map(rate);
  warmUp.slice(1).forEach((r, i) => assert.ok(r > warmUp[i], `not rising: ${warmUp.join(', ')}`));
  const descent = [201, 400, 600, 800, 1001].map(rate);
  descent.slice(1).forEach((r, i) => assert.ok(r < descent[i], `not falling: ${descent.join(', ')}`));
});

test('a cosine run changes the optimiser\'s rate while training and restores it afterwards', async () => {
  const model = buildCrnn(tiny);
  const optimizer = model.optimizer as unknown as { learningRate: number };
  const seen: number[] = [];
  await trainSteps(model, data, { ...quick, numSteps: 4, lrSchedule: 'cosine' }, {
    onStep: () => seen.push(optimizer.learningRate),
  });
  assert.deepEqual(seen, [1, 2, 3, 4].map((s) => scheduledLearningRate('cosine', 3e-3, s, 4)));
  assert.equal(optimizer.learningRate, 3e-3);
  model.dispose();
});

test('createTrainStep takes the same Adam step as model.trainOnBatch and returns the batch loss and accuracy', async () => {
  const small = { ...tiny, filters: [4, 4] as [number, number], denseUnits: 16, hiddenSize: 16 };
  const ours = buildCrnn(small);
  const reference = buildCrnn(small);
  reference.setWeights(ours.getWeights());
  const xs = tf.randomUniform<tfTypes.Rank.R5>([8, 2, 28, 28, 1], 0, 1, 'float32', 7);
  const ys = tf.oneHot(tf.tensor1d([0, 3, 9, 18, 9, 4, 1, 12], 'int32'), 19) as tfTypes.Tensor2D;
  const initialHead = ours.getLayer('class_probabilities').getWeights()[0].clone();
  const step = createTrainStep(ours);
  for (let i = 0; i < 3; i++) {
    const lossAndAccuracy = step(xs, ys);
    const [loss, accuracy] = lossAndAccuracy.dataSync();
    lossAndAccuracy.dispose();
    const [refLoss, refAccuracy] = await reference.trainOnBatch(xs, ys) as number[];
    assert.ok(Math.abs(loss - refLoss) < 1e-5, `step ${i + 1}: loss ${loss} vs ${refLoss}`);
    assert.equal(accuracy, refAccuracy);
  }
  const moved = tf.tidy(() => ours.getLayer('class_probabilities').getWeights()[0].sub(initialHead).abs().max().dataSync()[0]);
  assert.ok(moved > 1e-4, `the step changes the weights (by ${moved})`);
  initialHead.dispose();
  const [a, b] = [ours.getWeights(), reference.getWeights()];
  a.forEach((w, i) => {
    const gap = tf.tidy(() => w.sub(b[i]).abs().max().dataSync()[0]);
    assert.ok(gap < 1e-5, `${ours.weights[i].name} differs by ${gap}`);
  });

  // Adam's variables exist now: more steps leave the tensor count flat.
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step(xs, ys).dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.ok(!xs.isDisposed && !ys.isDisposed);

  const uncompiled = tf.model({ inputs: ours.inputs, outputs: ours.outputs });
  assert.throws(() => createTrainStep(uncompiled), /the model is not compiled/);
  tf.dispose([xs, ys]);
  ours.dispose();
  reference.dispose();
});

test('sequences of a single image train on both engines', async () => {
  const one = { ...tiny, seqLength: 1, numClasses: 10 };
  const engines: ('eager' | 'graph')[] = backend.native ? ['eager', 'graph'] : ['eager'];
  for (const engine of engines) {
    const model = buildCrnn(one);
    const history = await trainSteps(model, data, {
      seqLength: 1, task: 'sum', numSteps: 3, batchSize: 8, evalSize: 16, engine,
    });
    assert.equal(history.engine, engine);
    assert.ok(history.steps.every((r) => Number.isFinite(r.loss)), engine);
    model.dispose();
  }
});

for (const engine of ['graph', 'eager'] as const) {
  test(`the same seed gives the same history to the last float, another seed another one (${engine} engine)`,
    skipOn(engine), async () => {
      const run = async (seed: number) => {
        const model = buildCrnn(tiny, { seed });
        const history = await trainSteps(model, data, { ...quick, engine, seed, numSteps: 8, evalEvery: 4 });
        model.dispose();
        // elapsedMs is the wall time of each evaluation: everything else is computed.
        return { steps: history.steps, evals: history.evals.map((e) => ({ step: e.step, loss: e.loss, accuracy: e.accuracy })) };
      };
      const first = await run(5);
      assert.deepEqual(await run(5), first);
      const other = await run(6);
      assert.notDeepEqual(other.steps.map((r) => r.loss), first.steps.map((r) => r.loss));
    });
}

test('in a cosine run, the graph applies the scheduled rate at every step', skipOn('graph'), async () => {
  const model = buildCrnn({ ...small, learningRate: 2e-3 });
  const applied: number[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the instance as `this`
  const { step, runSteps } = GraphTrainer.prototype;
  GraphTrainer.prototype.step = function (this: GraphTrainer, ...args: Parameters<typeof step>) {
    const out = step.apply(this, args);
    applied.push(out.dataSync()[2]);
    return out;
  };
  GraphTrainer.prototype.runSteps = function (this: GraphTrainer, ...args: Parameters<typeof runSteps>) {
    const out = runSteps.apply(this, args);
    (out.arraySync()).forEach((row) => applied.push(row[2]));
    return out;
  };
  try {
    // Steps 1–3 and 4–6 in calls of 3, step 7 alone; then the same run one step per call.
    for (const stepsPerCall of [3, 1]) {
      const history = await trainSteps(model, data, {
        seqLength: 2, task: 'difference', numSteps: 7, lrSchedule: 'cosine', engine: 'graph', batchSize: 4, evalSize: 8,
        stepsPerCall, evalEvery: 3,
      });
      assert.equal(history.steps.length, 7);
    }
  } finally {
    Object.assign(GraphTrainer.prototype, { step, runSteps });
  }
  // Float32 in the graph: the scheduled rate rounded to float32, exactly.
  const scheduled = [1, 2, 3, 4, 5, 6, 7].map((s) => Math.fround(scheduledLearningRate('cosine', 2e-3, s, 7)));
  assert.deepEqual(applied, [...scheduled, ...scheduled]);
  assert.ok(applied[6] < applied[0] / 50);
  disposeCrnn(model);
});

test('trainSteps runs on the graph engine by default and the model holds the trained weights', skipOn('graph'), async () => {
  const options = { seqLength: 2, task: 'difference', batchSize: 32, evalSize: 500, seed: 3, evalSeed: 3 } as const;
  const model = buildCrnn({ filters: [8, 8], denseUnits: 64, hiddenSize: 64, learningRate: 3e-3 });
  const before = await trainSteps(model, data, { ...options, numSteps: 0 });
  const after = await trainSteps(model, data, { ...options, numSteps: 100, evalEvery: 50 });
  assert.equal(after.engine, 'graph');
  const [lossBefore, lossAfter] = [before.evals[0].loss, after.evals[1].loss];
  assert.ok(lossAfter < lossBefore - 0.1, `eval loss went from ${lossBefore} to ${lossAfter}`);
  // The graph evaluated its own weights; the tfjs model, measured on the same
  // fixed set, must now give the same figures: the trained weights came back.
  const evalSet = createEvalSet(data.test, { size: 500, seqLength: 2, task: differenceTask, seed: 3 });
  const measured = measureLossAccuracy(model, evalBatches(evalSet, data.test, 250));
  assert.ok(Math.abs(measured.loss - lossAfter) < 1e-4, `model ${measured.loss}, graph ${lossAfter}`);
  assert.equal(measured.accuracy, after.evals[1].accuracy);
  disposeCrnn(model);
});

test('trainSteps runs K steps per call where it can and gives the history of one step per call', skipOn('graph'), async () => {
  // 13 steps, evaluated every 5: calls of 4 steps, then single steps up to each evaluation.
  const options = {
    seqLength: 2, task: 'difference', batchSize: 8, evalSize: 40, seed: 9, numSteps: 13, evalEvery: 5, lrSchedule: 'cosine',
  } as const;
  const model = buildCrnn({ ...small, dropout: 0.1 });
  const reference = twin(model, { ...small, dropout: 0.1 });
  const calls: number[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the instance as `this`
  const runSteps = GraphTrainer.prototype.runSteps;
  GraphTrainer.prototype.runSteps = function (this: GraphTrainer, ...args: Parameters<typeof runSteps>) {
    calls.push(args[1].length);
    return runSteps.apply(this, args);
  };
  let history;
  try {
    history = await trainSteps(model, data, { ...options, stepsPerCall: 4 });
  } finally {
    GraphTrainer.prototype.runSteps = runSteps;
  }
  // Steps 1–4 and 6–9 in calls of 4; 5, 10 (before their evaluations) and 11–13 (fewer than 4 left) one by one.
  assert.deepEqual(calls, [4, 1, 4, 1, 1, 1, 1]);
  assert.deepEqual([history.sampler, history.stepsPerCall], ['graph', 4]);
  const one = await trainSteps(reference, data, { ...options, stepsPerCall: 1 });
  assert.deepEqual(history.steps.map((r) => r.step), one.steps.map((r) => r.step));
  assert.deepEqual(history.evals.map((r) => r.step), [5, 10, 13]);
  history.steps.forEach((r, k) => {
    assert.ok(Math.abs(r.loss - one.steps[k].loss) < 1e-5, `step ${r.step}: loss ${r.loss} vs ${one.steps[k].loss}`);
    assert.equal(r.learningRate, one.steps[k].learningRate);
  });
  history.evals.forEach((r, k) => assert.ok(Math.abs(r.loss - one.evals[k].loss) < 1e-5));
  disposeCrnn(model);
  disposeCrnn(reference);
});

test('trainSteps on the graph engine evaluates in one session call, with or without the sampler', skipOn('graph'), async () => {
  const options = { seqLength: 2, task: 'difference', batchSize: 8, evalSize: 1500, seed: 4, numSteps: 4, evalEvery: 2 } as const;
  const model = buildCrnn(small);
  const reference = twin(model, small);
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the instance as `this`
  const { evaluateSet, evaluate } = GraphTrainer.prototype;
  const calls = { evaluateSet: 0, evaluate: 0 };
  GraphTrainer.prototype.evaluateSet = function (this: GraphTrainer) {
    calls.evaluateSet++;
    return evaluateSet.apply(this);
  };
  GraphTrainer.prototype.evaluate = function (this: GraphTrainer, ...args: Parameters<typeof evaluate>) {
    calls.evaluate++;
    return evaluate.apply(this, args);
  };
  // Sequences of 7 digits: 10^7 of them, too many for a class table, so their batches are made on the CPU.
  const longTask = sumTask(7);
  const longModel = buildCrnn({ ...small, seqLength: 7, numClasses: longTask.numClasses });
  let graph, cpu;
  try {
    graph = await trainSteps(model, data, options);
    cpu = await trainSteps(longModel, data, { ...options, seqLength: 7, task: longTask });
  } finally {
    Object.assign(GraphTrainer.prototype, { evaluateSet, evaluate });
  }
  assert.deepEqual([graph.sampler, cpu.engine, cpu.sampler], ['graph', 'graph', 'cpu']);
  disposeCrnn(longModel);
  assert.deepEqual(calls, { evaluateSet: 4, evaluate: 0 });
  // The eager engine, evaluating in batches from JavaScript, records the same.
  const eager = await trainSteps(reference, data, { ...options, engine: 'eager' });
  assert.deepEqual(graph.evals.map((r) => Object.keys(r)), eager.evals.map((r) => Object.keys(r)));
  graph.evals.forEach((r, k) => {
    assert.equal(r.step, eager.evals[k].step);
    assert.ok(Math.abs(r.loss - eager.evals[k].loss) < 1e-4, `step ${r.step}: loss ${r.loss} vs ${eager.evals[k].loss}`);
    assert.ok(Math.abs(r.accuracy - eager.evals[k].accuracy) <= 2 / 1500, `step ${r.step}: accuracy ${r.accuracy} vs ${eager.evals[k].accuracy}`);
  });
  disposeCrnn(model);
  disposeCrnn(reference);
});
