/**
 * lib/runs/executors/local.ts: trainer processes on this machine. Here with
 * trainers that end at once (a bad flag, a SIGKILL); runs trained in full,
 * with their threads, are in sweep.test.ts (`--jobs 2`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TRAINER } from '../lib/runs/executors/executor';
import { LocalExecutor } from '../lib/runs/executors/local';
import { planSweep, type SweepRun } from '../lib/runs/sweep';
import { tempFolders } from './helpers/temp';

const tempDir = tempFolders('local');

/** The one run of a sweep with no grid, in a new root, with these trainer arguments before its --out. */
function run(args: string[]): SweepRun {
  const [planned] = planSweep({ grid: [], fixed: [], seeds: [1], root: tempDir() });
  return { ...planned, args: [...args, '--out', planned.dir] };
}

test('the local executor says how many runs it trains at once, with how many threads, on how many cores', () => {
  const one = new LocalExecutor(1, 2, 2);
  assert.equal(one.describe(), 'one run at a time, 2 TensorFlow threads (2 cores here)');
  assert.equal(new LocalExecutor(3, 1, 4).describe(), '3 runs at once, 1 TensorFlow thread each (4 cores here)');
  assert.equal(one.resumesCheckpoints, true, 'its trainers run beside the checkpoints');
});

test('a trainer that fails is reported with its exit code and last lines, its output in the attempt\'s log', async () => {
  const bad = run(['--steps', 'many']);
  const statuses: string[] = [];
  const result = await new LocalExecutor(1, 1, 1).train(bad, { status: (text) => statuses.push(text) });
  assert.equal(result.code, 1, result.tail.join('\n'));
  assert.equal(result.signal, null);
  assert.match(result.tail.join('\n'), /option '--steps <n>' argument 'many' is invalid/);
  assert.equal(result.log, `${bad.dir}.log`);
  const log = fs.readFileSync(result.log, 'utf8');
  assert.ok(log.startsWith(`$ node ${TRAINER} --steps many --out ${bad.dir}\n`), log);
  assert.match(log, /argument 'many' is invalid/);
  assert.deepEqual(statuses, []);
  assert.deepEqual(fs.readdirSync(path.dirname(bad.dir)), ['seed-1.log'], 'no run folder');
});

test('stop passes a signal on to the running trainers', async () => {
  const executor = new LocalExecutor(1, 1, 1);
  const training = executor.train(run(['--steps', '100000']), { status: () => {} });
  executor.stop('SIGKILL');
  const result = await training;
  assert.deepEqual([result.code, result.signal], [null, 'SIGKILL']);
});
