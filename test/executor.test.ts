/**
 * lib/runs/executors/executor.ts: what every executor shares: where the
 * trainer is, the first line of a run's log, and how a trainer's output is
 * read. The executors themselves: local.test.ts, ray.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { logHeader, PROJECT_ROOT, TRAINER, TrainerOutput } from '../lib/runs/executors/executor';

test('the trainer the executors run is the built bin/train.js of this project', () => {
  // This file is dist/test/executor.test.js, beside dist/bin/.
  assert.equal(TRAINER, path.join(__dirname, '..', 'bin', 'train.js'));
  assert.ok(fs.existsSync(TRAINER));
  assert.ok(fs.existsSync(path.join(PROJECT_ROOT, 'package.json')));
});

test('a run\'s log opens with the command that trained it, as a shell would take it, on a line of its own', () => {
  assert.equal(logHeader(['node', 'train.js', '--data', 'my digits']), `$ node train.js --data 'my digits'\n`);
});

test('a trainer\'s output is read by whole lines, stream by stream, its evaluations passed on to the progress', () => {
  const statuses: string[] = [];
  const output = new TrainerOutput((text) => statuses.push(text));
  output.write('backend tensorflow\nstep 3: eval loss 2.9', 'stdout');
  output.write('warning: half a line', 'stderr');
  output.write('439, accuracy 12.50%\n', 'stdout');
  output.write(' and its end\nfinal accuracy 6.25% on 16 test sequences', 'stderr');
  output.end();
  assert.deepEqual(statuses, ['step 3: eval accuracy 12.50%']);
  assert.deepEqual(output.tail, ['backend tensorflow', 'step 3: eval loss 2.9439, accuracy 12.50%',
    'warning: half a line and its end', 'final accuracy 6.25% on 16 test sequences']);
  for (let i = 0; i < 30; i++) output.line(`line ${i}`);
  assert.equal(output.tail.length, 20);
  assert.equal(output.tail[19], 'line 29');
});
