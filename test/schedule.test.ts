/**
 * lib/runs/schedule.ts: which runs a sweep trains, in what order, how many at
 * once, what it skips, resumes and clears, and what it reads back, with a
 * fake executor that writes run folders as a trainer would (no TensorFlow).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CrnnConfig } from '../lib/types';
import { parseGridArgument, parseSetArgument, planSweep, type SweepRun, type SweepSpec } from '../lib/runs/sweep';
import { commandPlan, runSweep, stateMessage, surveyRuns, type RunOutcome, type SweepEvents } from '../lib/runs/schedule';
import type { Executor, TrainEvents, TrainResult } from '../lib/runs/executors/executor';
import type { RunRecord } from '../lib/runs/record';
import { checkpointRecordJson } from './helpers/checkpoint';
import { testRecord, writeRecord } from './helpers/run-folders';
import { tempFolders } from './helpers/temp';

const tempDir = tempFolders('schedule');

/** A sweep of three steps over these cells and seeds, in a new root. */
function sweep(cells: string, seeds = [1]): { spec: SweepSpec; runs: SweepRun[] } {
  const spec: SweepSpec = {
    grid: [parseGridArgument(`cell=${cells}`)], fixed: [parseSetArgument('numSteps=3')], seeds, root: tempDir(),
  };
  return { spec, runs: planSweep(spec) };
}

/** The run.json a trainer saves for `run`: of the sweep's settings, or of `numSteps` others. */
function saved(run: SweepRun, endReason: RunRecord['history']['endReason'] = 'completed', numSteps = 3): RunRecord {
  const cell = run.point.cell as CrnnConfig['cell'] | undefined;
  return testRecord({ crnnConfig: { cell }, trainConfig: { numSteps, seed: run.seed }, endReason });
}

/** What a fake trainer does with a run: what it leaves in the folder, and how it ends (exit 0 unless it says). */
type Trainer = (run: SweepRun, events: TrainEvents) => Partial<TrainResult>;

/** A trainer that saves a finished run. */
const finishes: Trainer = (run) => {
  writeRecord(run.dir, saved(run));
  return {};
};

/** An executor whose trainers are functions, each ending a turn of the event loop after it starts. */
class FakeExecutor implements Executor {
  readonly threads = 1;
  broken?: string;
  /** The runs handed over, in order, with the trainer's arguments and whether their folder existed then. */
  readonly handed: { name: string; args: string[]; folder: boolean }[] = [];
  mostAtOnce = 0;
  private running = 0;

  constructor(readonly slots: number, private readonly trainer: Trainer = finishes, readonly resumesCheckpoints = true) {}

  describe(): string {
    return 'fake';
  }

  async train(run: SweepRun, events: TrainEvents): Promise<TrainResult> {
    this.handed.push({ name: run.name, args: run.args, folder: fs.existsSync(run.dir) });
    this.mostAtOnce = Math.max(this.mostAtOnce, ++this.running);
    await new Promise((resolve) => setImmediate(resolve));
    this.running--;
    return { code: 0, signal: null, tail: [], ...this.trainer(run, events) };
  }

  stop(): void {}

  async close(): Promise<void> {}
}

/** Events recorded as `found 0 new`, `started 0`, `status 0 …`, `ended 0 done`, and the outcomes by index. */
function recorder(): { log: string[]; outcomes: Map<number, RunOutcome>; events: SweepEvents } {
  const log: string[] = [];
  const outcomes = new Map<number, RunOutcome>();
  const events: SweepEvents = {
    found: (index, _run, state) => log.push(`found ${index} ${state.kind}`),
    started: (index) => log.push(`started ${index}`),
    status: (index, _run, text) => log.push(`status ${index} ${text}`),
    ended: (index, _run, outcome) => {
      outcomes.set(index, outcome);
      log.push(`ended ${index} ${outcome.kind}`);
    },
  };
  return { log, outcomes, events };
}

test('runSweep trains the runs in the plan\'s order, no more at once than the slots, and reads each result from its run.json', async () => {
  const { spec, runs } = sweep('simple,gru,lstm', [1, 2]);
  const executor = new FakeExecutor(2, (run, events) => {
    events.status('step 3: eval accuracy 50.00%');
    return finishes(run, events);
  });
  const { log, outcomes, events } = recorder();
  const summary = await runSweep(spec, runs, executor, events);
  assert.deepEqual(executor.handed.map((h) => h.name), runs.map((r) => r.name));
  assert.deepEqual(executor.handed[0].args, runs[0].args);
  assert.equal(executor.mostAtOnce, 2);
  assert.deepEqual(summary, { total: 6, trained: 6, skipped: 0, stopped: 0, failures: [], busy: [], notStarted: 0 });
  assert.deepEqual(outcomes.get(5), { kind: 'done', finalAccuracy: 0.5 });
  for (const index of runs.keys()) {
    const at = (event: string) => log.indexOf(`${event} ${index}`);
    assert.ok(at('found') < at('started') && at('started') < log.indexOf(`status ${index} step 3: eval accuracy 50.00%`) &&
      log.indexOf(`status ${index} step 3: eval accuracy 50.00%`) < log.indexOf(`ended ${index} done`), log.join('\n'));
  }
  // The third run's folder is looked at only once a slot is free.
  assert.ok(log.indexOf('found 2 new') > log.findIndex((e) => e.startsWith('ended')), log.join('\n'));
});

test('runSweep skips finished runs, leaves busy ones to their process, and reports folders of other settings or not a run\'s untouched', async () => {
  const { spec, runs } = sweep('simple,gru,lstm', [1, 2]);
  const [finished, busy, mismatch, foreign] = runs;
  writeRecord(finished.dir, saved(finished));
  fs.mkdirSync(busy.dir, { recursive: true });
  fs.writeFileSync(path.join(path.dirname(busy.dir), '.seed-1.lock'), `${process.pid}\n`);
  writeRecord(mismatch.dir, saved(mismatch, 'completed', 5));
  fs.mkdirSync(foreign.dir, { recursive: true });
  fs.writeFileSync(path.join(foreign.dir, 'notes.txt'), 'mine');
  const executor = new FakeExecutor(1);
  const { log, events } = recorder();
  const summary = await runSweep(spec, runs, executor, events);

  assert.deepEqual(log.filter((e) => e.startsWith('found')),
    ['found 0 finished', 'found 1 busy', 'found 2 mismatch', 'found 3 foreign', 'found 4 new', 'found 5 new']);
  assert.deepEqual(executor.handed.map((h) => h.name), [runs[4].name, runs[5].name]);
  assert.equal(summary.trained, 2);
  assert.equal(summary.skipped, 1);
  assert.deepEqual(summary.busy, [busy]);
  assert.deepEqual(summary.failures, [
    { run: mismatch, why: stateMessage({ kind: 'mismatch', differences: ['numSteps 5, this sweep 3'] }) },
    { run: foreign, why: 'it holds notes.txt, which no run writes; not touched' },
  ]);
  assert.equal(summary.notStarted, 0);
  assert.equal(JSON.parse(fs.readFileSync(path.join(mismatch.dir, 'run.json'), 'utf8')).trainConfig.numSteps, 5);
  assert.equal(fs.readFileSync(path.join(foreign.dir, 'notes.txt'), 'utf8'), 'mine');
});

test('runSweep resumes a run from its checkpoint where the executor can, and clears and trains again a stopped run, ' +
  'or a resumable one where it cannot', async () => {
  /** A sweep whose first run was stopped early without a checkpoint and whose second was killed after one. */
  const interrupted = () => {
    const { spec, runs } = sweep('simple,gru');
    writeRecord(runs[0].dir, saved(runs[0], 'stopped'));
    fs.mkdirSync(path.join(runs[1].dir, 'checkpoint'), { recursive: true });
    fs.writeFileSync(path.join(runs[1].dir, 'checkpoint', 'checkpoint.json'), checkpointRecordJson({ cell: 'gru' }, { numSteps: 3, seed: 1 }));
    return { spec, runs };
  };

  const here = interrupted();
  const resumer = new FakeExecutor(1);
  const resumed = recorder();
  const summary = await runSweep(here.spec, here.runs, resumer, resumed.events);
  assert.deepEqual(resumed.log.filter((e) => e.startsWith('found')), ['found 0 stopped', 'found 1 resumable']);
  assert.deepEqual(resumer.handed.map((h) => [h.args.slice(-2), h.folder]), [
    [['--out', here.runs[0].dir], false],
    [['--resume', here.runs[1].dir], true],
  ]);
  assert.equal(summary.trained, 2);

  const elsewhere = interrupted();
  const retrainer = new FakeExecutor(1, finishes, false);
  const retrained = recorder();
  await runSweep(elsewhere.spec, elsewhere.runs, retrainer, retrained.events);
  assert.deepEqual(retrained.log.filter((e) => e.startsWith('found')), ['found 0 stopped', 'found 1 partial']);
  assert.deepEqual(retrainer.handed.map((h) => [h.args.slice(-2), h.folder]), [
    [['--out', elsewhere.runs[0].dir], false],
    [['--out', elsewhere.runs[1].dir], false],
  ]);
});

test('runSweep collects each failure with its cause and log, counts runs stopped early, and leaves cancelled ones for the next sweep', async () => {
  const { spec, runs } = sweep('simple,gru', [1, 2, 3]);
  const endings: Trainer[] = [
    () => ({ code: 1, tail: ['loading', 'error: no data at /nowhere', '(run with --help for the list of options)'], log: 'a.log' }),
    () => ({ code: null, signal: 'SIGKILL', tail: ['step 1'], where: 'node 10.0.0.5 (3a30a0df)' }),
    () => ({ log: 'c.log' }),
    (run) => {
      writeRecord(run.dir, saved(run, 'completed', 5));
      return {};
    },
    () => ({ code: null, tail: [], cancelled: true }),
    (run) => {
      writeRecord(run.dir, saved(run, 'stopped'));
      return {};
    },
  ];
  const executor = new FakeExecutor(2, (run, events) => endings[runs.findIndex((r) => r.name === run.name)](run, events));
  const { outcomes, events } = recorder();
  const summary = await runSweep(spec, runs, executor, events);

  assert.deepEqual(summary.failures.map(({ run, ...failure }) => [run.name, failure]), [
    [runs[0].name, { why: 'exit 1: error: no data at /nowhere', exit: 'exit 1', lastLine: 'error: no data at /nowhere', log: 'a.log' }],
    [runs[1].name, { why: 'killed by SIGKILL: step 1', exit: 'killed by SIGKILL', lastLine: 'step 1', log: undefined }],
    [runs[2].name, { why: 'the trainer exited 0 but saved no run.json', log: 'c.log' }],
    [runs[3].name, { why: 'the trainer exited 0, but its folder is not a finished run of this sweep: holds a run with ' +
      'other settings (numSteps 5, this sweep 3); not touched, choose another --root', log: undefined }],
  ]);
  const killed = outcomes.get(1);
  assert.ok(killed?.kind === 'failed');
  assert.equal(killed.where, 'node 10.0.0.5 (3a30a0df)');
  assert.deepEqual(outcomes.get(4), { kind: 'cancelled' });
  assert.deepEqual(outcomes.get(5), { kind: 'stopped', steps: 100 });
  assert.deepEqual({ ...summary, failures: summary.failures.length },
    { total: 6, trained: 0, skipped: 0, stopped: 1, failures: 4, busy: [], notStarted: 1 });
});

test('a sweep whose signal is aborted, or whose executor breaks, starts no more runs but waits for those running', async () => {
  const { spec, runs } = sweep('simple,gru,lstm');
  const stopping = new AbortController();
  // As the CLI does on Ctrl-C: the signal aborts, and the running trainer stops and saves.
  const stopper = new FakeExecutor(1, (run) => {
    stopping.abort();
    writeRecord(run.dir, saved(run, 'stopped'));
    return {};
  });
  const stopped = await runSweep(spec, runs, stopper, {}, stopping.signal);
  assert.deepEqual(stopper.handed.map((h) => h.name), [runs[0].name]);
  assert.deepEqual({ ...stopped, failures: stopped.failures.length },
    { total: 3, trained: 0, skipped: 0, stopped: 1, failures: 0, busy: [], notStarted: 2 });

  const other = sweep('simple,gru,lstm');
  const breaker: FakeExecutor = new FakeExecutor(2, () => {
    breaker.broken = 'the Ray driver ended (exit 1)';
    return { code: null, tail: [breaker.broken] };
  });
  const broken = await runSweep(other.spec, other.runs, breaker);
  // Both slots were filled before the first run ended; the third never starts.
  assert.deepEqual(breaker.handed.map((h) => h.name), other.runs.slice(0, 2).map((r) => r.name));
  assert.deepEqual(broken.failures.map((f) => f.why), Array(2).fill('exit error: the Ray driver ended (exit 1)'));
  assert.equal(broken.notStarted, 1);
});

test('surveyRuns counts the finished runs and those left; commandPlan gives commands for new, resumable and empty ' +
  'half-written runs and leaves out the others', () => {
  const { spec, runs } = sweep('simple,gru,lstm', [1, 2, 3]);
  const [finished, , resumable, empty, partial, stopped, mismatch] = runs;
  writeRecord(finished.dir, saved(finished));
  fs.mkdirSync(path.join(resumable.dir, 'checkpoint'), { recursive: true });
  fs.writeFileSync(path.join(resumable.dir, 'checkpoint', 'checkpoint.json'),
    checkpointRecordJson({ cell: 'lstm' }, { numSteps: 3, seed: 1 }));
  fs.mkdirSync(empty.dir, { recursive: true });
  fs.mkdirSync(partial.dir, { recursive: true });
  fs.writeFileSync(path.join(partial.dir, 'model.json'), '{}');
  writeRecord(stopped.dir, saved(stopped, 'stopped'));
  writeRecord(mismatch.dir, saved(mismatch, 'completed', 5));

  assert.deepEqual(surveyRuns(spec, runs), { finished: 1, toTrain: 7 });
  const plan = commandPlan(spec, runs);
  assert.deepEqual(plan.map((entry) => ('args' in entry ? ['train', entry.run.name] : [entry.leftOut.kind, entry.run.name])), [
    ['train', runs[1].name], ['train', resumable.name], ['train', empty.name],
    ['partial', partial.name], ['stopped', stopped.name], ['mismatch', mismatch.name],
    ['train', runs[7].name], ['train', runs[8].name],
  ]);
  const args = (run: SweepRun) => plan.find((entry) => entry.run === run && 'args' in entry) as { args: string[] };
  assert.deepEqual(args(resumable).args.slice(-2), ['--resume', resumable.dir]);
  assert.deepEqual(args(empty).args, empty.args);
  // Nothing was cleared or created.
  assert.ok(fs.existsSync(path.join(partial.dir, 'model.json')) && fs.existsSync(empty.dir));
  assert.equal(fs.existsSync(runs[1].dir), false);
});
