/**
 * bin/sweep-console.ts: the sweep's lines as plain functions of what they
 * report, and `sweepConsole` turning `runSweep`'s events into them (the
 * lines the CLI tests in sweep.test.ts match in a real sweep's output).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGridArgument, planSweep, type SweepSpec } from '../lib/runs/sweep';
import type { SweepSummary } from '../lib/runs/schedule';
import {
  foundLine, headerLine, leftOutLine, outcomeLine, runLabel, stopLine, summaryLines, SweepProgress, sweepConsole,
} from '../bin/sweep-console';

const spec: SweepSpec = { grid: [parseGridArgument('cell=simple,gru')], fixed: [], seeds: [1, 2, 3], root: 'runs/s' };
const runs = planSweep(spec);
const gru = runs[1];
const label = runLabel(1, runs.length, gru);

test('the first line gives the plan, its root, the runs finished earlier, the executor and how to resume', () => {
  assert.equal(headerLine(spec, 6, 2, 'one run at a time'), 'sweep of 6 runs (2 combinations × 3 seeds) in runs/s, ' +
    '2 finished earlier; one run at a time; to resume, run it again with --root runs/s');
  const single: SweepSpec = { ...spec, grid: [], seeds: [1] };
  assert.equal(headerLine(single, 1, 0, 'fake'), 'sweep of 1 runs (1 combination × 1 seed) in runs/s; fake; ' +
    'to resume, run it again with --root runs/s');
});

test('a run\'s folder as found is said in a line, except a new one; a run\'s ending names where it ran and why it failed', () => {
  assert.equal(label, '[2/6] cell=gru/seed-1');
  assert.equal(foundLine(label, { kind: 'new' }), undefined);
  assert.equal(foundLine(label, { kind: 'resumable', step: 20, stopped: false }),
    '[2/6] cell=gru/seed-1: was killed after step 20; resuming it from its checkpoint');
  assert.equal(outcomeLine(label, { kind: 'done', finalAccuracy: 0.91234 }), '[2/6] cell=gru/seed-1: done, final accuracy 91.23%');
  assert.equal(outcomeLine(label, { kind: 'done', where: 'node 10.0.0.5 (3a30a0df)', finalAccuracy: null }),
    '[2/6] cell=gru/seed-1: done on node 10.0.0.5 (3a30a0df)');
  assert.equal(outcomeLine(label, { kind: 'stopped', steps: 40 }), '[2/6] cell=gru/seed-1: stopped early and saved (40 steps)');
  assert.equal(outcomeLine(label, {
    kind: 'failed', where: 'node 10.0.0.5 (3a30a0df)',
    failure: { run: gru, why: 'exit 1: error: no data', exit: 'exit 1', lastLine: 'error: no data' },
  }), '[2/6] cell=gru/seed-1: failed on node 10.0.0.5 (3a30a0df) (exit 1): error: no data');
  assert.equal(outcomeLine(label, { kind: 'failed', failure: { run: gru, why: 'the trainer exited 0 but saved no run.json' } }),
    '[2/6] cell=gru/seed-1: failed: the trainer exited 0 but saved no run.json');
  assert.equal(outcomeLine(label, { kind: 'cancelled' }), undefined);
});

test('--print notes the runs it leaves out, and how a stopped or half-written one gets trained', () => {
  assert.equal(leftOutLine(gru, { kind: 'partial' }), 'left out cell=gru/seed-1: was left half-written by a killed run ' +
    '(a sweep without --print trains it again; or delete the folder)');
  assert.equal(leftOutLine(gru, { kind: 'busy', pid: 7 }), 'left out cell=gru/seed-1: being trained by process 7, skipped');
});

test('a first stop signal stops the running trainings, which save; a second makes them quit without saving', () => {
  assert.equal(stopLine('SIGINT', false, 1), 'SIGINT: stopping the running training (it saves what it trained), then the sweep');
  assert.equal(stopLine('SIGTERM', false, 2),
    'SIGTERM: stopping the running trainings (they save what they trained), then the sweep');
  assert.equal(stopLine('SIGINT', true, 1), 'SIGINT again: the running training quits without saving');
  assert.equal(stopLine('SIGINT', true, 3), 'SIGINT again: the running trainings quit without saving');
});

test('the summary counts every run once, leaves out the empty counts, lists each failure with its log, and says why it stopped', () => {
  const summary: SweepSummary = {
    total: 6, trained: 2, skipped: 1, stopped: 1, busy: [runs[4]], notStarted: 1,
    failures: [{ run: gru, why: 'exit 1: error: no data', log: 'runs/s/cell=gru/seed-1.log' }],
  };
  assert.deepEqual(summaryLines(spec, summary, 75, { stopSignal: 'SIGTERM' }), [
    'sweep runs/s: 6 runs: 2 trained, 1 finished earlier, 1 stopped early, 1 failed, 1 being trained elsewhere, ' +
      '1 not started; 1m 15s',
    '  failed cell=gru/seed-1: exit 1: error: no data (log runs/s/cell=gru/seed-1.log)',
    'stopped by SIGTERM; to resume, run it again with --root runs/s',
  ]);
  const clean: SweepSummary = { total: 6, trained: 6, skipped: 0, stopped: 0, busy: [], notStarted: 0, failures: [] };
  assert.deepEqual(summaryLines(spec, clean, 4.2), ['sweep runs/s: 6 runs: 6 trained, 0 finished earlier; 4.2 s']);
  assert.deepEqual(summaryLines(spec, clean, 1, { broken: 'the Ray driver ended (exit 1)' }).slice(1),
    ['stopped: the Ray driver ended (exit 1); to resume, run it again with --root runs/s']);
});

test('without a bar, the sweep\'s events print as lines on stderr: the folders found, each start and each ending', (t) => {
  const lines: string[] = [];
  t.mock.method(console, 'error', (line: string) => lines.push(line));
  const events = sweepConsole(new SweepProgress(runs.length, 2, 1, false), runs.length);
  events.found?.(0, runs[0], { kind: 'finished', endReason: 'completed', finalAccuracy: 0.9 });
  events.found?.(1, gru, { kind: 'new' });
  events.started?.(1, gru);
  events.status?.(1, gru, 'step 3: eval accuracy 50.00%');
  events.ended?.(1, gru, { kind: 'done', finalAccuracy: 0.5 });
  events.found?.(2, runs[2], { kind: 'new' });
  events.started?.(2, runs[2]);
  events.ended?.(2, runs[2], { kind: 'cancelled' });
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.equal(lines[0], '[1/6] default/seed-1: finished earlier (completed), skipped');
  assert.match(lines[1], /^\[2\/6\] cell=gru\/seed-1: training \(elapsed \d+\.\d s, ETA -\)$/);
  assert.equal(lines[2], '[2/6] cell=gru/seed-1: done, final accuracy 50.00%');
  // After one run trained, the estimate is its duration, for the one run still to train.
  assert.match(lines[3], /^\[3\/6\] default\/seed-2: training \(elapsed \d+\.\d s, ETA \d+\.\d s\)$/);
});
