/**
 * Sweeps on a real Ray cluster: two nodes on this machine (`ray start` twice,
 * one CPU each, each with its own temporary folder), driven by
 * `npm run sweep -- --ray`. Where the machine allows it (root), the cluster
 * and the sweeps run in a network namespace of their own that holds only the
 * loopback, so that all of Ray's traffic stays on 127.0.0.1.
 *
 * Skipped, with the reason printed, where Ray is not installed
 * (`npm run ray:setup`) or a Ray cluster already runs here (the test ends
 * with `ray stop`, which would stop it too).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RAY_PYTHON } from '../lib/runs/executors/ray';
import { TRAINER_FILES, type RunRecord } from '../lib/runs/record';
import { assertAllClose, FLOAT32_TOLERANCE } from './helpers/close';
import { tempFolders } from './helpers/temp';

const sweeper = path.join(__dirname, '..', 'bin', 'sweep.js');
const RAY = path.join(path.dirname(RAY_PYTHON), 'ray');

/** Why the cluster cannot be started here, or undefined. */
function skipReason(): string | undefined {
  if (!fs.existsSync(RAY)) return `Ray is not installed (no ${RAY}); \`npm run ray:setup\` installs it`;
  if (spawnSync('pgrep', ['-x', 'raylet']).status === 0) {
    return 'a Ray cluster already runs on this machine, and this test ends with `ray stop`, which would stop it';
  }
  return undefined;
}

const skip = skipReason();
if (skip) console.log(`# skipping the Ray cluster tests: ${skip}`);

/** The settings of a tiny run (as in sweep.test.ts), with two evaluations. */
const tinySettings = ['batchSize=8', 'evalSize=16', 'filters=2,2', 'denseUnits=8', 'hiddenSize=8', 'numSteps=6', 'evalEvery=3']
  .flatMap((s) => ['--set', s]);

/** Two Ray nodes on this machine, in a loopback-only network namespace where one can be made. */
class TwoNodeCluster {
  readonly scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-ray-cluster-'));
  /** The command prefix that enters the namespace (empty without one). */
  private prefix: string[] = [];
  private holder?: ChildProcess;
  private started = false;
  address = '';
  nodeIds: string[] = [];

  /** A command as run in the cluster's network. */
  command(words: string[]): [string, string[]] {
    const all = [...this.prefix, ...words];
    return [all[0], all.slice(1)];
  }

  private run(words: string[], timeout = 180_000): string {
    const [file, args] = this.command(words);
    const env = { ...process.env, RAY_USAGE_STATS_ENABLED: '0' };
    const result = spawnSync(file, args, { encoding: 'utf8', timeout, env });
    if (result.status !== 0) throw new Error(`${words.join(' ')}: exit ${result.status}\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  }

  /** A network namespace with only the loopback, held open by a sleeping process of ours. */
  private async enterNamespace(): Promise<string> {
    const holder = spawn('unshare', ['--net', 'sh', '-c', 'ip link set lo up && echo up && exec sleep 86400'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    const up = await new Promise<boolean>((resolve) => {
      holder.stdout.once('data', () => resolve(true));
      holder.once('close', () => resolve(false));
      holder.once('error', () => resolve(false));
    });
    if (!up) return 'no network namespace could be made here (unshare needs root): Ray uses this machine\'s address';
    this.holder = holder;
    this.prefix = ['nsenter', `--net=/proc/${holder.pid}/ns/net`];
    return 'in a network namespace holding only the loopback';
  }

  async start(): Promise<void> {
    const where = await this.enterNamespace();
    // A namespace of its own has every port free; the machine's network may not.
    const port = this.holder ? 6379 : 20000 + Math.floor(Math.random() * 10000);
    this.address = `127.0.0.1:${port}`;
    const node = ['--num-cpus', '1', '--disable-usage-stats'];
    const started = Date.now();
    this.started = true;
    this.run([RAY, 'start', '--head', '--port', String(port), '--include-dashboard=false', ...node,
      '--temp-dir', path.join(this.scratch, 'head')]);
    this.run([RAY, 'start', '--address', this.address, ...node, '--temp-dir', path.join(this.scratch, 'worker')]);
    // The second node may take a moment to register with the head.
    const script = 'import json, sys, time, ray\n' +
      `ray.init(address=${JSON.stringify(this.address)}, log_to_driver=False, logging_level="error")\n` +
      'for _ in range(120):\n' +
      '    alive = [n["NodeID"] for n in ray.nodes() if n["Alive"]]\n' +
      '    if len(alive) == 2: break\n' +
      '    time.sleep(0.5)\n' +
      'print(json.dumps(alive))\n';
    this.nodeIds = JSON.parse(this.run([RAY_PYTHON, '-c', script]).trim().split('\n').pop()!);
    console.log(`# Ray cluster of ${this.nodeIds.length} nodes at ${this.address}, ${where}, ` +
      `started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  /** `ray stop`, then the namespace's holder goes. Safe to call more than once. */
  stop(): void {
    if (this.started) {
      this.started = false;
      const [file, args] = this.command([RAY, 'stop']);
      spawnSync(file, [...args], { encoding: 'utf8', timeout: 120_000 });
    }
    this.holder?.kill('SIGKILL');
    this.holder = undefined;
    fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}

const cluster = new TwoNodeCluster();
const tempDir = tempFolders('ray-sweep');

if (!skip) {
  // `ray stop` on every way out: the hooks below, an exception, Ctrl-C or SIGTERM.
  process.on('exit', () => cluster.stop());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cluster.stop();
      process.exit(128 + os.constants.signals[signal]);
    });
  }
  before(() => cluster.start(), { timeout: 600_000 });
}
after(() => cluster.stop());

interface Finished { status: number | null; signal: NodeJS.Signals | null; stderr: string }

/** Starts a sweep in the cluster's network. */
function startSweep(args: string[]): { child: ChildProcess; finished: Promise<Finished> } {
  const [file, rest] = cluster.command([process.execPath, sweeper, ...args]);
  const child = spawn(file, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const finished = new Promise<Finished>((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stderr })));
  return { child, finished };
}

/** The run folders under `root` that hold a run.json, by run name (`cell=gru/seed-1`). */
function savedRuns(root: string): Map<string, RunRecord> {
  const runs = new Map<string, RunRecord>();
  if (!fs.existsSync(root)) return runs;
  for (const config of fs.readdirSync(root)) {
    const configDir = path.join(root, config);
    if (!fs.statSync(configDir).isDirectory()) continue;
    for (const seed of fs.readdirSync(configDir)) {
      // `.seed-N.arriving`: a run folder the driver is still writing, not yet moved into place.
      if (seed.startsWith('.')) continue;
      const record = path.join(configDir, seed, 'run.json');
      if (fs.existsSync(record)) runs.set(`${config}/${seed}`, JSON.parse(fs.readFileSync(record, 'utf8')));
    }
  }
  return runs;
}

/** Every file and folder under `root`, relative to it. */
function entries(root: string): string[] {
  return fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).sort();
}

const RUN_NAMES = ['default/seed-1', 'cell=gru/seed-1', 'default/seed-2', 'cell=gru/seed-2'];

test('a sweep on two Ray nodes, killed and resumed, brings each of its 4 runs back once and complete, ' +
  'trained on both nodes with the histories of local runs', { skip, timeout: 900_000 }, async () => {
  const root = path.join(tempDir(), 'sweep');
  const args = ['--grid', 'cell=simple,gru', '--seeds', '2', ...tinySettings, '--threads', '1', '--root', root,
    '--ray', cluster.address];

  // The sweep is killed (SIGKILL: no chance to tidy up) as soon as a run has come back.
  const first = startSweep(args);
  let exited = false;
  void first.finished.then(() => { exited = true; });
  while (savedRuns(root).size === 0 && !exited) await new Promise((resolve) => setTimeout(resolve, 100));
  first.child.kill('SIGKILL');
  const killed = await first.finished;
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const before = savedRuns(root);
  assert.ok(before.size >= 1 && before.size < 4, `${before.size} runs back before the kill\n${killed.stderr}`);

  // Run again: what came back is kept, the rest is trained, once.
  const resumed = startSweep(args);
  const again = await resumed.finished;
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`4 runs: ${4 - before.size} trained, ${before.size} finished earlier`));
  const runs = savedRuns(root);
  assert.deepEqual([...runs.keys()].sort(), [...RUN_NAMES].sort());
  for (const [name, record] of before) assert.equal(runs.get(name)!.savedAt, record.savedAt, `${name} was trained again`);
  // Complete folders and their logs, and nothing else: no lock, staging folder or stray file. (A sweep
  // killed between writing a run's log and moving its folder in leaves that attempt's log too.)
  const expected = RUN_NAMES.flatMap((name) => [name, `${name}.log`, ...TRAINER_FILES.map((f) => `${name}/${f}`)]);
  const found = entries(root).filter((entry) => !/\.attempt-\d+\.log$/.test(entry));
  assert.deepEqual(found, [...new Set([...expected, 'default', 'cell=gru'])].sort());
  for (const name of RUN_NAMES) assert.match(fs.readFileSync(path.join(root, `${name}.log`), 'utf8'), /# on Ray node /);

  // Each run records its node; with one CPU each, the two nodes trained runs at the same time.
  const nodes = new Set([...runs.values()].map((r) => r.environment?.rayNode?.id));
  assert.deepEqual([...nodes].sort(), [...cluster.nodeIds].sort());
  for (const record of runs.values()) assert.equal(record.environment?.threads?.intraOp, 1);

  // The same runs trained here, with the same thread count, give the same histories.
  const localRoot = path.join(tempDir(), 'local');
  const local = spawnSync(process.execPath, [sweeper, ...args.slice(0, -4), '--root', localRoot, '--jobs', '2'],
    { encoding: 'utf8', timeout: 600_000 });
  assert.equal(local.status, 0, local.stderr);
  const localRuns = savedRuns(localRoot);
  for (const name of RUN_NAMES) {
    const [ray, here] = [runs.get(name)!.history, localRuns.get(name)!.history];
    const computed = (h: typeof ray) => ({
      steps: h.steps.map((s) => [s.loss, s.accuracy]), evals: h.evals.map((e) => [e.loss, e.accuracy]),
    });
    assert.equal(ray.steps.length, 6, name);
    assert.equal(ray.evals.length, 2, name);
    assertAllClose(computed(ray).steps, computed(here).steps, FLOAT32_TOLERANCE, `${name} steps`);
    assertAllClose(computed(ray).evals, computed(here).evals, FLOAT32_TOLERANCE, `${name} evals`);
  }
});

test('a run that fails on the cluster is reported with its log', { skip, timeout: 600_000 }, async () => {
  const parent = tempDir();
  const root = path.join(parent, 'sweep');
  const missing = path.join(parent, 'missing');
  const { finished } = startSweep([...tinySettings, '--data', missing, '--root', root, '--ray', cluster.address]);
  const { status, stderr } = await finished;
  assert.equal(status, 1, stderr);
  assert.match(stderr, /\[1\/1\] default\/seed-1: failed on node [\d.]+ \(\w{8}\) \(exit 1\): error: .*missing/);
  assert.match(stderr, /1 runs: 0 trained, 0 finished earlier, 1 failed/);
  const log = path.join(root, 'default', 'seed-1.log');
  assert.match(stderr, new RegExp(`failed default/seed-1: exit 1: .*\\(log ${log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
  const text = fs.readFileSync(log, 'utf8');
  assert.match(text, /^\$ .*train\.js .*--data /);
  assert.match(text, /# on Ray node [\d.]+ \(\w{8}\), host /);
  assert.match(text, /error: .*missing/);
  // Nothing else is left: the reserved folder and its lock are gone.
  assert.deepEqual(entries(root), ['default', 'default/seed-1.log']);
});

test('a sweep given an address where no cluster answers stops at once, creating nothing', { skip }, () => {
  const root = path.join(tempDir(), 'sweep');
  const [file, args] = cluster.command([process.execPath, sweeper, ...tinySettings, '--root', root, '--ray', '127.0.0.1:1']);
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /cannot connect to the Ray cluster at 127\.0\.0\.1:1: nothing answers there/);
  assert.equal(fs.existsSync(root), false);
});
