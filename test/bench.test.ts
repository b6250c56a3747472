import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expectedParamCount } from '../lib/model';
import { parsePlan, planRuns, resultsMarkdown, type BenchResults, type RunRecord } from '../bench/run';
import { parsePeerArgs, peerArgs, type PeerReport } from '../bench/protocol';

const ROOT = path.resolve(__dirname, '..', '..');
const RUN_JS = path.join(ROOT, 'dist', 'bench', 'run.js');
const TFJS_PEER_JS = path.join(ROOT, 'dist', 'bench', 'peers', 'tfjs-node.js');
const PYTHON = path.join(ROOT, 'bench', '.venv', 'bin', 'python');
const PYTHON_PEERS = ['keras', 'tf1', 'torch'];
const pythonSkip = fs.existsSync(PYTHON)
  ? false
  : `bench/.venv not found (run \`bash bench/setup.sh\` to set up the Python peers)`;
if (pythonSkip) console.log(`# skipping the Python peers: ${pythonSkip}`);

/** Runs node/python with `args`, failing with the process's stderr when it exits non-zero. */
function run(file: string, args: string[], timeoutMs = 240_000): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(file, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  if (result.error) throw result.error;
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

function runTinyBench(peers: string[]): BenchResults {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-bench-'));
  try {
    // One configuration (batch 128, T 2) keeps the test to seconds per peer.
    const { status, stderr } = run(process.execPath,
      [RUN_JS, '--tiny', '--peers', peers.join(','), '--batch-sizes', '128', '--out', out]);
    assert.equal(status, 0, `bench exited with ${status}:\n${stderr}`);
    for (const file of ['results.json', 'results.md', 'ms-per-step.svg']) {
      assert.ok(fs.existsSync(path.join(out, file)), `${file} was not written`);
    }
    assert.match(fs.readFileSync(path.join(out, 'ms-per-step.svg'), 'utf8'), /^<svg/);
    return JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as BenchResults;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

function assertPositive(value: unknown, what: string): void {
  assert.ok(typeof value === 'number' && Number.isFinite(value) && value > 0, `${what} should be a positive number, got ${value}`);
}

function assertThroughputReport(report: PeerReport | undefined, peer: string): void {
  assert.ok(report, `${peer} gave no report`);
  assert.equal(report.peer, peer);
  assert.equal(report.mode, 'tiny');
  assert.equal(report.batchSize, 128);
  assert.equal(report.seqLength, 2);
  assert.equal(report.variant, 'per-step');
  // The article's model, per-step CNNs, T = 2: the same trainable parameters in every framework.
  assert.equal(report.params, expectedParamCount({ seqLength: 2 }));
  assert.ok(typeof report.version === 'string' && report.version.length > 0, 'version missing');
  assertPositive(report.msPerStep?.median, `${peer} msPerStep.median`);
  assertPositive(report.msPerStep?.min, `${peer} msPerStep.min`);
  assertPositive(report.cpuMsPerStep?.median, `${peer} cpuMsPerStep.median`);
  assert.ok(report.msPerStep!.min <= report.msPerStep!.median && report.msPerStep!.median <= report.msPerStep!.max);
  assert.equal(report.msPerStep?.repeats.length, report.repeats);
  assertPositive(report.samplesPerSec, `${peer} samplesPerSec`);
  assertPositive(report.peakRssMb, `${peer} peakRssMb`);
  assertPositive(report.buildMs, `${peer} buildMs`);
  assert.ok(Number.isFinite(report.finalLoss), `${peer} finalLoss is ${report.finalLoss}`);
}

test('the tiny benchmark of the TypeScript side reports timings, sampling cost, parameters and memory', () => {
  const results = runTinyBench(['tfjs-node', 'tfjs-eager']);
  assert.deepEqual(results.runs.map((r) => r.peer), ['tfjs-node', 'tfjs-eager']);
  for (const [runRecord, engine] of results.runs.map((r, i) => [r, ['graph', 'eager'][i]] as const)) {
    assert.equal(runRecord.error, undefined, runRecord.error);
    const report = runRecord.report!;
    assertThroughputReport(report, runRecord.peer);
    assert.equal(report.engine, engine);
    assertPositive(report.loopMsPerStep && (report.loopMsPerStep as { median: number }).median, 'loopMsPerStep.median');
    assertPositive(report.samplingMsPerBatch && (report.samplingMsPerBatch as { median: number }).median, 'samplingMsPerBatch.median');
    assertPositive(report.samplingShare, 'samplingShare');
    // The timed steps, the project's loop and the sampling leave no tensor behind.
    assert.equal(report.leakedTensors, 0, runRecord.peer);
  }
  assert.equal(results.machine.libtensorflow !== undefined, true);
  assertPositive(results.machine.cores, 'machine.cores');
  assert.ok(results.machine.cpuModel.length > 0);
});

test('the Python peers run the same tiny benchmark with the same parameter count', { skip: pythonSkip }, () => {
  const results = runTinyBench(PYTHON_PEERS);
  assert.deepEqual(results.runs.map((r) => r.peer), PYTHON_PEERS);
  for (const r of results.runs) {
    assert.equal(r.error, undefined, `${r.peer}: ${r.error}`);
    assertThroughputReport(r.report, r.peer);
  }
  assert.ok(results.machine.tensorflow?.startsWith('2.15'), `TensorFlow ${results.machine.tensorflow}`);
  assert.ok(results.machine.torch, 'torch version missing');
});

function assertToTarget(report: PeerReport, steps: number): void {
  assert.equal(report.mode, 'to-target');
  assert.equal(typeof report.reached, 'boolean');
  assert.ok(report.evals && report.evals.length > 0, 'no evaluations');
  for (const e of report.evals!) {
    assert.ok(e.step > 0 && e.step <= steps, `eval at step ${e.step}`);
    assert.ok(e.accuracy >= 0 && e.accuracy <= 1, `accuracy ${e.accuracy}`);
    assertPositive(e.loss, `eval loss at step ${e.step}`);
  }
  assert.equal(report.finalAccuracy, report.evals![report.evals!.length - 1].accuracy);
  assertPositive(report.trainSeconds, 'trainSeconds');
  // An accuracy of 1.0 in 4 steps of 16 pairs cannot happen: the target is not reached.
  assert.equal(report.reached, false);
  assert.equal(report.stepsToTarget, null);
}

const toTargetArgs = ['--mode', 'to-target', '--steps', '4', '--eval-every', '2', '--eval-size', '50',
  '--batch-size', '16', '--target', '1'];

test('the to-target mode of the TypeScript side evaluates on the fixed set and reports the outcome', () => {
  const { status, stdout, stderr } = run(process.execPath, [TFJS_PEER_JS, ...toTargetArgs]);
  assert.equal(status, 0, stderr);
  const report = JSON.parse(stdout) as PeerReport;
  assertToTarget(report, 4);
  assert.deepEqual(report.evals!.map((e) => e.step), [2, 4]);
});

test('the to-target mode of each Python peer evaluates on the fixed set and reports the outcome', { skip: pythonSkip }, () => {
  for (const peer of PYTHON_PEERS) {
    const { status, stdout, stderr } = run(PYTHON, [path.join(ROOT, 'bench', 'peers', `${peer}_crnn.py`), ...toTargetArgs]);
    assert.equal(status, 0, `${peer}: ${stderr}`);
    const report = JSON.parse(stdout) as PeerReport;
    assertToTarget(report, 4);
    assert.deepEqual(report.evals!.map((e) => e.step), [2, 4], peer);
  }
});

test('the plan runs each configuration once and tiny mode shrinks the defaults', () => {
  const full = parsePlan([]);
  assert.deepEqual(full.seqLengths, [1, 2, 4, 8]);
  assert.deepEqual(full.batchSizes, [32, 64, 128, 256, 512]);
  assert.deepEqual(full.variants, ['per-step', 'shared']);
  // 2 variants + T 1, 4, 8 + batch 32, 64, 256, 512 (T 2 / batch 128 is the main run) = 9 per peer.
  const runs = planRuns(full);
  assert.equal(runs.length, 9 * full.peers.length);
  assert.deepEqual(full.peers, ['tfjs-node', 'tfjs-eager', 'keras', 'tf1', 'torch']);
  const main = runs.find((r) => r.peer === 'tfjs-node' && !r.options.shared && r.options.batchSize === 128 && r.options.seqLength === 2);
  assert.deepEqual(main?.kinds, ['main', 'seq-length', 'batch-size']);

  const tiny = parsePlan(['--tiny', '--peers', 'tfjs-node']);
  assert.equal(tiny.tiny, true);
  assert.equal(tiny.steps, 3);
  assert.ok(tiny.outDir.endsWith(path.join('bench', 'results', 'tiny')), tiny.outDir);
  assert.equal(planRuns(tiny).length, 2);

  const withTarget = planRuns(parsePlan(['--peers', 'torch', '--to-target', '--target-steps', '500']));
  const toTarget = withTarget.filter((r) => r.kinds.includes('to-target'));
  assert.equal(toTarget.length, 1);
  assert.equal(toTarget[0].options.mode, 'to-target');
  assert.equal(toTarget[0].options.steps, 500);
});

test('peer options survive the round trip through the command line', () => {
  const options = parsePeerArgs(['--mode', 'throughput', '--batch-size', '64', '--seq-length', '4', '--shared', '--threads', '1'], 'test');
  assert.deepEqual(parsePeerArgs(peerArgs(options), 'test'), options);
  assert.equal(options.steps, 50);
  assert.equal(options.shared, true);
});

test('bad benchmark arguments fail with a message naming the value', () => {
  const cases: [string[], RegExp][] = [
    [['--peers', 'jax'], /peers.*"jax"/],
    [['--batch-sizes', '32,zero'], /batch-sizes.*"32,zero"/],
    [['--seq-lengths', '0,2'], /seq-lengths.*>= 1.*"0,2"/],
    [['--threads', '-1'], /threads.*"-1"/],
    [['--target', '1.5'], /target.*"1.5"/],
  ];
  for (const [args, message] of cases) {
    const { status, stderr } = run(process.execPath, [RUN_JS, ...args], 20_000);
    assert.notEqual(status, 0, `${args.join(' ')} was accepted`);
    assert.match(stderr, message);
  }
  const peer = run(process.execPath, [TFJS_PEER_JS, '--mode', 'fast'], 20_000);
  assert.notEqual(peer.status, 0);
  assert.match(peer.stderr, /--mode must be one of throughput, to-target, tiny, got "fast"/);
  const engine = run(process.execPath, [TFJS_PEER_JS, '--engine', 'fast'], 20_000);
  assert.notEqual(engine.status, 0);
  assert.match(engine.stderr, /--engine must be graph or eager, got "fast"/);
  // One image per sequence is a throughput point only: the difference needs two digits.
  const short = run(process.execPath, [TFJS_PEER_JS, '--mode', 'to-target', '--seq-length', '1'], 20_000);
  assert.notEqual(short.status, 0);
  assert.match(short.stderr, /--seq-length must be at least 2.*got 1/);
  const python = pythonSkip ? undefined : run(PYTHON, [path.join(ROOT, 'bench', 'peers', 'torch_crnn.py'), '--mode', 'to-target', '--seq-length', '1'], 20_000);
  if (python) {
    assert.notEqual(python.status, 0);
    assert.match(python.stderr, /--seq-length must be at least 2.*got 1/);
  }
});

test('the report lists runs that failed or were skipped, with the reason', () => {
  const plan = parsePlan(['--tiny', '--peers', 'tfjs-node,keras']);
  const runs: RunRecord[] = planRuns(plan).filter((r) => r.options.batchSize === 128);
  runs[0].error = 'tfjs-node.js exited with 1:\nboom';
  runs[1].skipped = 'no Python at /nowhere';
  const md = resultsMarkdown({
    plan, runs,
    machine: {
      cpuModel: 'Test CPU', cores: 2, memoryGb: 1, os: 'test', node: 'v20', date: '2024-01-01',
      loadAverage: { start: 0, end: 0 },
    },
  });
  assert.match(md, /Test CPU, 2 cores/);
  assert.match(md, /tfjs-node per-step B128 T2 tiny: failed, tfjs-node\.js exited with 1:/);
  assert.match(md, /keras per-step B128 T2 tiny: skipped, no Python at \/nowhere/);
  assert.match(md, /\| tfjs-node \| per step \| – \|/);
});
