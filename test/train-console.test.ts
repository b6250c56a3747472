import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as tfTypes from '@tensorflow/tfjs';
import { backend } from '../lib/tf';
import { splitSettings } from '../lib/config';
import { presetConfigs } from '../lib/presets';
import { describeNativeLibrary } from '../lib/runs/environment';
import { TrainerOutput } from '../lib/runs/executors/executor';
import { GraphEngineUnsupportedError, TrainingDivergedError } from '../lib/train/loop';
import { resolveRun, RunFolderError, type ResumedRun } from '../lib/train/run';
import type { DigitData, History } from '../lib/types';
import {
  builtLines, digitProbeLine, evaluationLine, summaryLines, trainConsole, trainingErrorMessage,
} from '../bin/train-console';
import { makeDigitSet } from './helpers/idx-fixtures';

const data: DigitData = { train: makeDigitSet(200, 12, 12), test: makeDigitSet(100, 12, 12), source: 'synthetic' };

/** A history of `steps` steps with these evaluations, as the graph engine records it. */
function history(steps: number, evals: { step: number; accuracy: number }[], fields: Partial<History> = {}): History {
  return {
    steps: Array.from({ length: steps }, (_, i) => ({ step: i + 1, loss: 1, accuracy: 0.5 })),
    evals: evals.map((e) => ({ ...e, loss: 0.5 })),
    endReason: 'completed', elapsedMs: 83_456, engine: 'graph', sampler: 'graph', stepsPerCall: 10,
    evaluations: { count: evals.length, ms: 2_040 },
    ...fields,
  };
}

/** A run resumed from its checkpoint at `step` (what the lines read of it). */
const resumedAt = (step: number, changes: string[] = []) =>
  ({ checkpoint: { state: { step } }, changes }) as unknown as ResumedRun;

test('a finished run\'s summary gives its steps, time, evaluations, folder, batches and final accuracy', () => {
  const lines = summaryLines({ history: history(300, [{ step: 100, accuracy: 0.5 }, { step: 300, accuracy: 0.9123 }]) },
    { outDir: 'runs/a', evalSize: 1000 });
  assert.deepEqual(lines, [
    '300 steps in 1m 23s (completed, 2 evaluations among them taking 2.0 s); saved to runs/a',
    'batches gathered in the graph from the seeded image indices, 10 steps per session call',
    'final accuracy 91.23% on 1000 test sequences (the article reports about 98.00% after 10,000 steps)',
  ]);
});

test('a stopped run\'s summary names the signal and how to go on; an eager run without evaluations says no more', () => {
  const stopped = summaryLines({
    history: history(40, [{ step: 20, accuracy: 0.25 }], { endReason: 'stopped', engine: 'graph', sampler: 'cpu' }),
    checkpointStep: 40,
  }, { outDir: 'runs/b', evalSize: 16, stopSignal: 'SIGTERM' });
  assert.deepEqual(stopped.slice(0, 2), [
    '40 steps in 1m 23s (stopped by SIGTERM, 1 evaluation among them taking 2.0 s); saved to runs/b; ' +
      'to go on, train --resume runs/b',
    'batches made on the CPU (a task without a class table), one step per session call',
  ]);
  const eager = history(5, [], { engine: 'eager', sampler: undefined, evaluations: undefined, elapsedMs: 120 });
  assert.deepEqual(summaryLines({ history: eager }, { outDir: 'runs/c', evalSize: 16 }),
    ['5 steps in 0.1 s (completed); saved to runs/c']);
});

test('an evaluation line reads as the sweep\'s progress reads it, and the digit probe gives each step and the product', () => {
  const line = evaluationLine({ step: 300, loss: 0.123456, accuracy: 0.912 });
  assert.equal(line, 'step 300: eval loss 0.1235, accuracy 91.20%');
  const statuses: string[] = [];
  new TrainerOutput((status) => statuses.push(status)).line(line);
  assert.deepEqual(statuses, ['step 300: eval accuracy 91.20%']);
  assert.equal(digitProbeLine({ accuracy: [0.99, 0.98], trainDigits: 5000, testDigits: 10000 }),
    'digit probe (a linear read-out of each step\'s CNN features, 10000 test digits): p = 99.00%, 98.00%; ' +
    'their product 97.02%');
});

test('the opening lines name the backend, data, model and engine, and the preset\'s changes or the checkpoint resumed', () => {
  const run = resolveRun(presetConfigs('fast', splitSettings({ numSteps: 300, seed: 5 })), data);
  const model = { name: 'crnn_simple_shared_cnn', countParams: () => 123456 } as unknown as tfTypes.LayersModel;
  const built = { ...run, model, engine: 'graph' as const };
  assert.deepEqual(builtLines(built, { data, outDir: 'runs/a', preset: 'fast' }), [
    `backend ${backend.name} (${describeNativeLibrary()}); data synthetic: 200 train / 100 test digits`,
    'model crnn_simple_shared_cnn: 123,456 parameters; task difference (19 classes), T = 2; graph engine; ' +
      'preset fast, with numSteps 300, seed 5',
  ]);
  const resumed = resumedAt(120, ['numSteps 300 (the checkpoint\'s: 200)']);
  assert.deepEqual(builtLines(built, { data, outDir: 'runs/a', preset: 'fast', resumed }).slice(1), [
    'model crnn_simple_shared_cnn: 123,456 parameters; task difference (19 classes), T = 2; graph engine; ' +
      'resumed from the checkpoint at step 120 of runs/a',
    'resumed with numSteps 300 (the checkpoint\'s: 200)',
  ]);
});

test('each expected training error becomes one line naming its flag; any other error is left to the caller', () => {
  const history0 = history(0, []);
  const diverged = new TrainingDivergedError(11, 16.5, history0, 8);
  assert.equal(trainingErrorMessage(new RunFolderError('runs/a already exists', 'reserve'), {}), '--out: runs/a already exists');
  assert.equal(trainingErrorMessage(new RunFolderError('runs/a is locked', 'reserve'), { resumed: resumedAt(40) }),
    '--resume: runs/a is locked');
  assert.equal(trainingErrorMessage(new RunFolderError('could not save the run', 'save'), {}), 'could not save the run');
  assert.equal(trainingErrorMessage(new GraphEngineUnsupportedError('it needs the native backend'), {}),
    '--engine graph: it needs the native backend');
  assert.equal(trainingErrorMessage(diverged, {}), `${diverged.message}; nothing was saved`);
  assert.equal(trainingErrorMessage(diverged, { resumed: resumedAt(40) }),
    `${diverged.message}; nothing was saved; the checkpoint at step 40 is left as it was`);
  assert.equal(trainingErrorMessage(new Error('out of memory'), {}), undefined);
});

test('without a bar the console prints each evaluation and the summary, and stops training once a signal came', (t) => {
  const printed: string[] = [];
  t.mock.method(console, 'log', (line: string) => printed.push(line));
  const received: { signal?: 'SIGINT' } = {};
  const run = resolveRun(presetConfigs('article', splitSettings({ numSteps: 3, evalSize: 16 })), data);
  const report = trainConsole({ data, outDir: 'runs/a', preset: 'article', progressBar: false, stopSignal: () => received.signal });
  report.callbacks.onStep?.({ step: 1, loss: 2, accuracy: 0 });
  report.callbacks.onEval?.({ step: 1, loss: 2, accuracy: 0.0625 });
  assert.equal(report.callbacks.shouldStop?.(), false);
  received.signal = 'SIGINT';
  assert.equal(report.callbacks.shouldStop?.(), true);
  const result = { ...run, model: {} as tfTypes.LayersModel, history: history(1, [{ step: 1, accuracy: 0.0625 }]) };
  report.summary(result);
  assert.deepEqual(printed, [
    'step 1: eval loss 2.0000, accuracy 6.25%',
    ...summaryLines(result, { outDir: 'runs/a', evalSize: 16, stopSignal: 'SIGINT' }),
  ]);
  assert.match(printed[1], /\(stopped by SIGINT, /);
});
