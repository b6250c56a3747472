/**
 * lib/runs/executors/ray.ts without a cluster: the executor speaks JSON lines
 * to a stand-in for cluster/ray_sweep.py, a small Node script given as the
 * executor's Python, that answers as the driver does. What the executor
 * sends, how it reserves a run's folder, writes its log and moves the folder
 * that came back into place, and how it stops and breaks are checked here;
 * ray-sweep.test.ts runs sweeps on a real two-node cluster.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../lib/runs/executors/executor';
import { RAY_DRIVER, RayExecutor } from '../lib/runs/executors/ray';
import { planSweep, type SweepRun } from '../lib/runs/sweep';
import { tempFolders } from './helpers/temp';

const tempDir = tempFolders('ray');

/**
 * How the stand-in driver behaves: `train` runs each run to its end at once,
 * its folder coming back; `hold` starts runs and ends them only on `kill`;
 * `die` exits 3 on the first run; `refuse` reports an error instead of joining.
 */
type Behaviour = 'train' | 'hold' | 'die' | 'refuse';

/** The driver's node in its events. */
const NODE = { id: '3a30a0df5c9e41b7', ip: '10.0.0.5', hostname: 'worker-1' };
const NODE_NAME = 'node 10.0.0.5 (3a30a0df)';
const EVALUATION = 'step 3: eval loss 0.6931, accuracy 50.00%';

/**
 * Writes the stand-in driver, an executable Node script, and returns its
 * path and the file where it records its arguments and each message it reads.
 */
function fakeDriver(behaviour: Behaviour, nodeCpus: number[]): { python: string; received: string } {
  const dir = tempDir();
  const python = path.join(dir, 'python');
  const received = path.join(dir, 'received.jsonl');
  const config = { behaviour, nodeCpus, received, node: NODE, evaluation: EVALUATION };
  fs.writeFileSync(python, `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const config = ${JSON.stringify(config)};
const record = (message) => fs.appendFileSync(config.received, JSON.stringify(message) + '\\n');
const send = (event) => process.stdout.write(JSON.stringify(event) + '\\n');
record({ argv: process.argv.slice(2) });
process.stderr.write('ray: connecting\\n');
if (config.behaviour === 'refuse') {
  send({ event: 'error', message: 'cannot connect to the Ray cluster at head:6379: nothing answers there' });
  process.exit(1);
}
send({ event: 'ready', nodes: config.nodeCpus.length, nodeCpus: config.nodeCpus });
const held = [];
readline.createInterface({ input: process.stdin })
  .on('line', (line) => {
    const message = JSON.parse(line);
    record(message);
    if (message.op === 'kill') {
      for (const id of held) {
        send({ event: 'ended', id, code: null, signal: 'SIGKILL', node: config.node, command: [], log: 'killed\\n', folder: false });
      }
    }
    if (message.op !== 'train') return;
    if (config.behaviour === 'die') {
      process.stderr.write('Traceback: the driver broke\\n');
      process.exit(3);
    }
    send({ event: 'started', id: message.id, node: config.node });
    if (config.behaviour === 'hold') {
      held.push(message.id);
      return;
    }
    send({ event: 'line', id: message.id, line: config.evaluation });
    fs.mkdirSync(message.staging);
    fs.writeFileSync(path.join(message.staging, 'run.json'), '{}');
    send({
      event: 'ended', id: message.id, code: 0, signal: null, node: config.node, folder: true,
      command: ['node', 'train.js', ...message.args, '--out', '/tmp/on-the-node'],
      log: config.evaluation + '\\nsaved to /tmp/on-the-node\\n',
    });
  })
  .on('close', () => process.exit(0));
`, { mode: 0o755 });
  return { python, received };
}

/** What the stand-in driver recorded: its arguments first, then each message. */
function receivedBy(file: string): Record<string, unknown>[] {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
}

/** The one run of a sweep with no grid, in a new root. */
function oneRun(): SweepRun {
  return planSweep({ grid: [], fixed: [], seeds: [1], root: tempDir() })[0];
}

test('a Ray sweep without Ray installed says how to install it', async () => {
  await assert.rejects(RayExecutor.connect({ address: 'auto', threads: 1, python: '/nowhere/bin/python' }),
    /no Python with Ray at \/nowhere\/bin\/python; run `npm run ray:setup`/);
});

test('a driver that cannot join the cluster fails the connection with its message', async () => {
  const { python, received } = fakeDriver('refuse', []);
  await assert.rejects(RayExecutor.connect({ address: 'head:6379', threads: 1, python }), (err: Error) => {
    assert.ok(err.message.startsWith(`the Ray driver (${RAY_DRIVER}) could not start: cannot connect to the Ray ` +
      'cluster at head:6379: nothing answers there'), err.message);
    return true;
  });
  assert.deepEqual(receivedBy(received)[0].argv,
    [RAY_DRIVER, '--address', 'head:6379', '--project', PROJECT_ROOT, '--node-binary', process.execPath]);
});

test('the runs at once are the runs the nodes\' CPUs hold, unless --jobs says; a run needing more CPUs than any node has breaks it', async () => {
  const two = await RayExecutor.connect({ address: 'head:6379', threads: 2, python: fakeDriver('train', [4, 3]).python });
  assert.equal(two.slots, 3);
  assert.equal(two.broken, undefined);
  assert.equal(two.describe(),
    'on the Ray cluster at head:6379 (2 nodes, 7 CPUs): up to 3 runs at once, 2 CPUs and TensorFlow threads per run');
  await two.close();
  const jobs = await RayExecutor.connect({ address: 'auto', threads: 1, jobs: 1, python: fakeDriver('train', [4]).python });
  assert.equal(jobs.describe(), 'on the Ray cluster at auto (1 node, 4 CPUs): up to 1 run at once, 1 CPU and TensorFlow thread per run');
  await jobs.close();

  const { python, received } = fakeDriver('train', [1, 1]);
  const small = await RayExecutor.connect({ address: 'auto', threads: 2, python });
  assert.equal(small.broken, 'no node of the cluster has 2 CPUs (they have 1, 1); give fewer --threads');
  const run = oneRun();
  const result = await small.train(run, { status: () => {} });
  assert.deepEqual(result, { code: null, signal: null, tail: [small.broken] });
  await small.close();
  assert.equal(receivedBy(received).length, 1, 'nothing sent to the driver');
  assert.equal(fs.existsSync(path.dirname(run.dir)), false);
});

test('a run goes to the driver without its --out, and its folder comes back into place with a log naming its node', async () => {
  const { python, received } = fakeDriver('train', [2]);
  const executor = await RayExecutor.connect({ address: 'auto', threads: 2, python });
  const run = oneRun();
  const statuses: string[] = [];
  const result = await executor.train(run, { status: (text) => statuses.push(text) });
  await executor.close();

  assert.deepEqual(result, {
    code: 0, signal: null, tail: [EVALUATION, 'saved to /tmp/on-the-node'], log: `${run.dir}.log`, where: NODE_NAME,
  });
  assert.deepEqual(statuses, [`started on ${NODE_NAME}`, 'step 3: eval accuracy 50.00%']);
  const parent = path.dirname(run.dir);
  assert.deepEqual(receivedBy(received).slice(1), [
    { op: 'train', id: 0, args: run.args.slice(0, -2), threads: 2, staging: path.join(parent, '.seed-1.arriving') },
  ]);
  assert.deepEqual(run.args.slice(-2), ['--out', run.dir]);
  // The folder in place, its log beside it, and no lock or staging folder left.
  assert.deepEqual(fs.readdirSync(parent).sort(), ['seed-1', 'seed-1.log']);
  assert.deepEqual(fs.readdirSync(run.dir), ['run.json']);
  assert.equal(fs.readFileSync(result.log, 'utf8'), `$ node train.js ${run.args.slice(0, -2).join(' ')} --out /tmp/on-the-node\n` +
    `# on Ray ${NODE_NAME}, host worker-1\n${EVALUATION}\nsaved to /tmp/on-the-node\n`);
  assert.equal(executor.broken, undefined);
});

test('while a run is in the cluster its folder is reserved; a first stop asks the driver to stop, a second to kill', async () => {
  const { python, received } = fakeDriver('hold', [1]);
  const executor = await RayExecutor.connect({ address: 'auto', threads: 1, python });
  const run = oneRun();
  let started!: () => void;
  const running = new Promise<void>((resolve) => { started = resolve; });
  const training = executor.train(run, { status: started });
  await running;
  const lock = path.join(path.dirname(run.dir), '.seed-1.lock');
  assert.equal(fs.readFileSync(lock, 'utf8').trim(), String(process.pid));
  executor.stop();
  executor.stop();
  const result = await training;
  await executor.close();
  assert.deepEqual(result, { code: null, signal: 'SIGKILL', tail: ['killed'], log: `${run.dir}.log`, where: NODE_NAME });
  assert.deepEqual(receivedBy(received).slice(2), [{ op: 'stop' }, { op: 'kill' }]);
  // Killed there, it brought no folder back: the reservation is released, only the log stays.
  assert.deepEqual(fs.readdirSync(path.dirname(run.dir)), ['seed-1.log']);
});

test('a driver that ends while runs are in the cluster breaks the executor: the runs fail with its last words, their folders released', async () => {
  const { python } = fakeDriver('die', [2]);
  const executor = await RayExecutor.connect({ address: 'auto', threads: 1, python });
  const run = oneRun();
  const result = await executor.train(run, { status: () => {} });
  assert.match(executor.broken ?? '', /^the Ray driver ended \(exit 3\): .*Traceback: the driver broke$/);
  assert.deepEqual(result, { code: null, signal: null, tail: [executor.broken] });
  assert.deepEqual(fs.readdirSync(path.dirname(run.dir)), []);
  // No more runs start.
  assert.deepEqual(await executor.train(oneRun(), { status: () => {} }), { code: null, signal: null, tail: [executor.broken] });
  await executor.close();
});
