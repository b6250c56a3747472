import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expectedParamCount } from '../lib/model/build';
import { backend } from '../lib/tf';
import {
  chooseSgemmProbe, mainRatios, parsePlan, planRuns, pythonPeerSkip, resultsMarkdown, stepLimit,
  type BenchResults, type PythonCheck, type RunRecord,
} from '../bench/run';
import { parsePeerArgs, peerArgs, type PeerReport } from '../bench/protocol';
import { limitMsPerStep, ratiosToBest, sgemmGflops, shareOfLimit, trainingFlopsPerSample } from '../bench/flops';
import { writeStepGraph } from '../bench/step-graph';
import { peerEnvironment, tensorflowOnednnReport } from '../bench/settings';
import { CPU_FEATURES } from '../lib/runs/cpu';
import { tempFolders } from './helpers/temp';

const freshDir = tempFolders('bench');

const ROOT = path.resolve(__dirname, '..', '..');
const RUN_JS = path.join(ROOT, 'dist', 'bench', 'run.js');
const TFJS_PEER_JS = path.join(ROOT, 'dist', 'bench', 'peers', 'tfjs-node.js');
const PYTHON = path.join(ROOT, 'bench', '.venv', 'bin', 'python');
const PYTHON_PEERS = ['keras', 'tf1', 'torch'];
const pythonSkip = fs.existsSync(PYTHON)
  ? false
  : `bench/.venv not found (run \`bash bench/setup.sh\` to set up the Python peers)`;
if (pythonSkip) console.log(`# skipping the Python peers: ${pythonSkip}`);
/** The tfjs-node peer trains on the graph engine, which needs the native backend. */
const graphSkip = backend.native ? false : 'the tfjs-node peer\'s graph engine needs the native backend';

/** Runs node/python with `args`, failing with the process's stderr when it exits non-zero. */
function run(file: string, args: string[], timeoutMs = 240_000): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(file, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  if (result.error) throw result.error;
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

function runTinyBench(peers: string[]): BenchResults {
  const out = freshDir();
  // One configuration (batch 128, T 2) keeps the test to seconds per peer.
  const { status, stderr } = run(process.execPath,
    [RUN_JS, '--tiny', '--peers', peers.join(','), '--batch-sizes', '128', '--out', out]);
  assert.equal(status, 0, `bench exited with ${status}:\n${stderr}`);
  for (const file of ['results.json', 'results.md', 'ms-per-step.svg']) {
    assert.ok(fs.existsSync(path.join(out, file)), `${file} was not written`);
  }
  assert.match(fs.readFileSync(path.join(out, 'ms-per-step.svg'), 'utf8'), /^<svg/);
  return JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as BenchResults;
}

function assertPositive(value: unknown, what: string): void {
  assert.ok(typeof value === 'number' && Number.isFinite(value) && value > 0, `${what} should be a positive number, got ${String(value)}`);
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

test('the tiny benchmark of the TypeScript side reports timings, sampling cost, parameters and memory', { skip: graphSkip },
  () => {
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
    // The training's peak, taken when the timed steps end, and the process's, with the extra trainers after.
    assertPositive(report.peakRssMb, 'peakRssMb');
    assert.ok((report.processPeakRssMb as number) >= report.peakRssMb, `${String(report.processPeakRssMb)} < ${report.peakRssMb}`);
    // What decides the speed, as the peer saw it: the bench passes TF_ENABLE_ONEDNN_OPTS=1 by default.
    assert.ok(report.cpu && report.cpu.model.length > 0, 'cpu missing');
    assert.deepEqual(report.onednn, { setting: '1', on: true, source: 'TF_ENABLE_ONEDNN_OPTS' });
    assert.ok(report.threadsInUse && report.threadsInUse.intraOp! > 0 && report.threadsInUse.interOp! > 0);
  }
  // Without the peers' numpy the probe is tfjs's; the limit follows from it.
  const sgemm = results.sgemm!;
  assert.equal(sgemm.error, undefined, sgemm.error);
  assert.ok(sgemm.report?.probe === 'numpy' || sgemm.report?.probe === 'tfjs', JSON.stringify(sgemm));
  assertPositive(sgemm.report?.gflops, 'sgemm GFLOP/s');
  assertPositive(stepLimit(results).limitMs, 'limit ms/step');
  assert.ok(Array.isArray(results.machine.cpuFlags));
  assert.equal(results.machine.libtensorflow !== undefined, true);
  assertPositive(results.machine.cores, 'machine.cores');
  assert.ok(results.machine.cpuModel.length > 0);
});

test('the graph engine\'s step is written as a SavedModel that the TF1 peer\'s profiler traces beside its own', {
  skip: pythonSkip || graphSkip,
}, () => {
  const dir = freshDir();
  const info = writeStepGraph(dir, { seqLength: 2, shared: false });
  // Every trainable weight with Adam's two moments: 3 values for each of 17 weights
  // (per CNN two convolutions' and the dense layer's kernel and bias; the RNN's 3; the output's 2).
  assert.equal(Object.keys(info.assign).length, 3 * (2 * 6 + 3 + 2));
  assert.deepEqual(info.assign.value0, [3, 3, 1, 16]);
  const { stdout, status, stderr } = run(PYTHON, ['bench/peers/profile_step.py', '--graph', dir, '--steps', '2']);
  assert.equal(status, 0, stderr);
  const total = /^\| all ops \| ([\d.]+) \| 100% \| ([\d.]+) \| 100% \|$/m.exec(stdout);
  assert.ok(total !== null && Number(total[1]) > 0 && Number(total[2]) > 0, stdout);
  // Both steps run convolutions and their filter gradients.
  assert.match(stdout, /^\| _MklNativeConv2DBackpropFilter \| [\d.]+ \| [\d.]+% \| [\d.]+ \| [\d.]+% \|$/m);
});

test('the Python peers run the same tiny benchmark with the same parameter count', { skip: pythonSkip }, () => {
  const results = runTinyBench(PYTHON_PEERS);
  assert.deepEqual(results.runs.map((r) => r.peer), PYTHON_PEERS);
  for (const r of results.runs) {
    assert.equal(r.error, undefined, `${r.peer}: ${r.error}`);
    assertThroughputReport(r.report, r.peer);
    assert.ok(r.report!.cpu && r.report!.onednn && r.report!.threadsInUse, `${r.peer}: settings missing`);
    assert.equal(r.report!.onednn.setting, '1', r.peer);
    // TensorFlow reads the setting the bench passed; PyTorch answers for itself.
    if (r.peer !== 'torch') assert.equal(r.report!.onednn.on, true, r.peer);
  }
  assert.equal(results.sgemm?.report?.probe, 'numpy');
  assert.ok(results.machine.tensorflow?.startsWith('2.15'), `TensorFlow ${results.machine.tensorflow}`);
  assert.ok(results.machine.torch, 'torch version missing');
});

function assertToTarget(report: PeerReport, steps: number): void {
  assert.equal(report.mode, 'to-target');
  assert.equal(typeof report.reached, 'boolean');
  assert.ok(report.evals && report.evals.length > 0, 'no evaluations');
  for (const e of report.evals) {
    assert.ok(e.step > 0 && e.step <= steps, `eval at step ${e.step}`);
    assert.ok(e.accuracy >= 0 && e.accuracy <= 1, `accuracy ${e.accuracy}`);
    assertPositive(e.loss, `eval loss at step ${e.step}`);
  }
  assert.equal(report.finalAccuracy, report.evals[report.evals.length - 1].accuracy);
  assertPositive(report.trainSeconds, 'trainSeconds');
  // An accuracy of 1.0 in 4 steps of 16 pairs cannot happen: the target is not reached.
  assert.equal(report.reached, false);
  assert.equal(report.stepsToTarget, null);
}

const toTargetArgs = ['--mode', 'to-target', '--steps', '4', '--eval-every', '2', '--eval-size', '50',
  '--batch-size', '16', '--target', '1'];

test('the to-target mode of the TypeScript side evaluates on the fixed set and reports the outcome', { skip: graphSkip },
  () => {
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
    [['--onednn', 'maybe'], /onednn.*expected on or off, got "maybe"/],
    [['--sgemm', 'blas'], /sgemm.*"blas"/],
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

test('the FLOP count of a training step follows the model configuration', () => {
  // Per image: conv1 28·28·16·9·2, conv2 14·14·16·144·2, dense 784·256·2; the RNN (256 + 256)·256·2 per
  // step; the head 256·19·2. T = 2, per-step CNNs: 3,594,752 forward, 10.78 MFLOP per training sample,
  // the ≈10.8 MFLOP of issue 14.
  const f = trainingFlopsPerSample();
  assert.deepEqual(f, {
    conv1: 2 * 225_792, conv2: 2 * 903_168, dense: 2 * 401_408, rnn: 2 * 262_144, head: 9_728,
    forward: 3_594_752, training: 10_784_256,
  });
  // A shared CNN does the same work; T scales all but the head; a GRU has three gates.
  assert.deepEqual(trainingFlopsPerSample({ sharedCnn: true }), f);
  assert.equal(trainingFlopsPerSample({ seqLength: 4 }).forward, 2 * (f.forward - f.head) + f.head);
  assert.equal(trainingFlopsPerSample({ cell: 'gru' }).rnn, 3 * f.rnn);
  assert.equal(trainingFlopsPerSample({ filters: [8, 32] }).conv2, 2 * 2 * 196 * 32 * 9 * 8);
});

test('the limit: sgemm GFLOP/s, ms per step at that speed, shares and ratios', () => {
  // The numbers: 172 GFLOP/s and 10.8 MFLOP per sample give about 8 ms per step of 128.
  assert.ok(Math.abs(sgemmGflops(2048, 0.1) - 171.8) < 0.1);
  const limit = limitMsPerStep(10_784_256, 128, 172);
  assert.ok(Math.abs(limit - 8.03) < 0.01, String(limit));
  assert.equal(shareOfLimit(8, 32), 0.25);
  assert.deepEqual(ratiosToBest([20, undefined, 10, NaN, 30]), [2, undefined, 1, undefined, 3]);
  assert.deepEqual(ratiosToBest([undefined]), [undefined]);

  // Ratios are within a CNN variant: the fastest per-step and the fastest shared run are both 1.
  const plan = parsePlan(['--tiny', '--peers', 'tfjs-node,tf1', '--variants', 'per-step,shared']);
  const mains = planRuns(plan).filter((r) => r.kinds.includes('main'));
  const ms = { 'tfjs-node': [30, 40], tf1: [24, 50] } as Record<string, number[]>;
  for (const run of mains) {
    run.report = { msPerStep: { median: ms[run.peer][run.options.shared ? 1 : 0], min: 0, max: 0, repeats: [] } } as unknown as PeerReport;
  }
  const byKey = Object.fromEntries(mainRatios(mains).map((r, i) => [`${mains[i].peer} ${mains[i].options.shared}`, r]));
  assert.deepEqual(byKey, { 'tfjs-node false': 1.25, 'tf1 false': 1, 'tfjs-node true': 1, 'tf1 true': 1.25 });
});

test('the bench reports where its oneDNN setting comes from, and its Python peers read the CPU features of lib/runs/cpu.ts', () => {
  const epyc = ['sse4_2', 'avx', 'avx2', 'fma'];
  assert.deepEqual(tensorflowOnednnReport('0', epyc), { setting: '0', on: false, source: 'TF_ENABLE_ONEDNN_OPTS' });
  assert.match(tensorflowOnednnReport(undefined, epyc).source, /default for this CPU/);

  // The Python peers read the same features as lib/runs/cpu.ts.
  const common = fs.readFileSync(path.join(ROOT, 'bench', 'peers', 'common.py'), 'utf8');
  const tuple = /^CPU_FEATURES = \(([^)]*)\)/m.exec(common);
  assert.ok(tuple, 'CPU_FEATURES not found in common.py');
  assert.deepEqual([...tuple[1].matchAll(/'([^']+)'/g)].map((m) => m[1]), [...CPU_FEATURES]);
});

test('every peer gets one environment: the oneDNN setting of the plan and its threads', () => {
  const base = { PATH: '/bin', TF_ENABLE_ONEDNN_OPTS: '0' };
  const on = peerEnvironment(base, { onednn: true, threads: 0 });
  assert.equal(on.TF_ENABLE_ONEDNN_OPTS, '1');
  assert.equal(on.TF_CPP_MIN_LOG_LEVEL, '2');
  assert.equal(on.PATH, '/bin');
  assert.equal(on.TF_NUM_INTRAOP_THREADS, undefined);
  const off = peerEnvironment({ TF_CPP_MIN_LOG_LEVEL: '0' }, { onednn: false, threads: 1 });
  assert.equal(off.TF_ENABLE_ONEDNN_OPTS, '0');
  assert.equal(off.TF_CPP_MIN_LOG_LEVEL, '0');
  for (const name of ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS']) {
    assert.equal(off[name], '1', name);
  }
  assert.equal(parsePlan([]).onednn, true);
  assert.equal(parsePlan(['--onednn', 'off']).onednn, false);
  assert.equal(parsePlan(['--onednn', 'on']).onednn, true);
  assert.equal(parsePlan([]).sgemm, 'auto');
});

test('a missing Python, framework or numpy skips its peers and picks the sgemm probe, with the reason', () => {
  const none: PythonCheck = { python: '/v/bin/python', missing: 'no Python at /v/bin/python' };
  const numpyOnly: PythonCheck = { python: '/v/bin/python', modules: { numpy: true, tensorflow: false, torch: false } };
  const all: PythonCheck = { python: '/v/bin/python', modules: { numpy: true, tensorflow: true, torch: true } };
  assert.match(pythonPeerSkip('keras', none)!, /^no Python at \/v\/bin\/python: `npm run bench:setup`/);
  assert.match(pythonPeerSkip('tf1', numpyOnly)!, /^no tensorflow in \/v\/bin\/python/);
  assert.match(pythonPeerSkip('torch', numpyOnly)!, /^no torch in/);
  assert.equal(pythonPeerSkip('torch', all), null);
  assert.match(pythonPeerSkip('torch', { python: 'p', modules: { torch: true } })!, /^no numpy in p/);

  assert.deepEqual(chooseSgemmProbe('auto', all), { probe: 'numpy', why: 'numpy in /v/bin/python' });
  assert.deepEqual(chooseSgemmProbe('auto', none), { probe: 'tfjs', why: 'no Python at /v/bin/python: tf.matMul instead' });
  assert.deepEqual(chooseSgemmProbe('auto', { python: 'p', modules: {} }), { probe: 'tfjs', why: 'no numpy in p: tf.matMul instead' });
  assert.deepEqual(chooseSgemmProbe('tfjs', all), { probe: 'tfjs', why: '--sgemm tfjs' });
  assert.deepEqual(chooseSgemmProbe('numpy', none), { probe: null, why: '--sgemm numpy, but no Python at /v/bin/python' });
  assert.deepEqual(chooseSgemmProbe('none', all), { probe: null, why: '--sgemm none' });
});

test('the report names the CPU units, the oneDNN setting, each peer\'s threads, the limit and the ratios', () => {
  const plan = parsePlan(['--tiny', '--peers', 'tfjs-node,tf1,torch', '--batch-sizes', '128']);
  const runs = planRuns(plan);
  const report = (peer: string, ms: number, extra: Partial<PeerReport>): PeerReport => ({
    peer, msPerStep: { median: ms, min: ms, max: ms, repeats: [ms] }, samplesPerSec: 128_000 / ms,
    cpu: { model: 'AMD EPYC', flags: ['avx', 'avx2', 'fma'] }, ...extra,
  } as PeerReport);
  runs[0].report = report('tfjs-node', 32, {
    onednn: { setting: '1', on: true, source: 'TF_ENABLE_ONEDNN_OPTS' },
    threadsInUse: { intraOp: 2, interOp: 2, source: 'TensorFlow\'s default: the 2 schedulable CPUs' },
  });
  runs[1].report = report('tf1', 16, {
    onednn: { setting: '1', on: true, source: 'TensorFlow\'s IsMklEnabled()' },
    threadsInUse: { intraOp: 2, interOp: 2, source: 'TensorFlow\'s default: the 2 schedulable CPUs' },
  });
  runs[2].skipped = 'no torch in /v/bin/python';
  const results: BenchResults = {
    plan, runs,
    machine: {
      cpuModel: 'AMD EPYC', cpuFlags: ['sse4_2', 'avx', 'avx2', 'fma'], cores: 2, memoryGb: 8, os: 'Linux', node: 'v20',
      date: '2026-12-01', loadAverage: { start: 0, end: 0 },
    },
    sgemm: {
      probe: 'numpy', why: 'numpy in /v/bin/python',
      report: { probe: 'numpy', library: 'numpy 2.1 (openblas)', n: 2048, repeats: 5, seconds: [0.1], bestSeconds: 0.1, gflops: 172, threads: null },
    },
  };
  const md = resultsMarkdown(results);
  assert.match(md, /\| CPU features \| AVX2 yes · AVX-512 no · AMX no \(sse4_2, avx, avx2, fma\) \|/);
  assert.match(md, /\| oneDNN \| on: TF_ENABLE_ONEDNN_OPTS=1 in every peer's environment \(`--onednn off` for 0\) \|/);
  assert.match(md, /\| sgemm \| numpy matmul of 2048 × 2048 float32, numpy 2\.1 \(openblas\), best of 5: \*\*172\.0 GFLOP\/s\*\* \(numpy in \/v\/bin\/python\) \|/);
  assert.match(md, /\| limit \| 10\.78 MFLOP per training sample \(3 × 3\.59 forward\) × 128 = 1\.38 GFLOP per step: \*\*8\.0 ms\/step\*\* at 172\.0 GFLOP\/s \|/);
  assert.match(md, /\| tfjs-node \| AMD EPYC \| yes \/ no \/ no \| on \(TF_ENABLE_ONEDNN_OPTS=1\) \| 2 \| 2 \| TensorFlow's default: the 2 schedulable CPUs \|/);
  assert.match(md, /\| tf1 \| AMD EPYC \| yes \/ no \/ no \| on \(TF_ENABLE_ONEDNN_OPTS=1; TensorFlow's IsMklEnabled\(\)\) \|/);
  assert.match(md, /\| torch \| – \| – \| – \| – \| – \| – \|/);
  // tf1 is the best (1.00×), tfjs-node takes twice its time; 8.03 ms of limit is 25.1% of 32 ms and 50.2% of 16.
  assert.match(md, /\| tfjs-node \| per step \| 32\.0 \(32\.0–32\.0\) \| 4000 \| 2\.00× \| 25\.1% \|/);
  assert.match(md, /\| tf1 \| per step \| 16\.0 \(16\.0–16\.0\) \| 8000 \| 1\.00× \| 50\.2% \|/);
  assert.match(md, /\| torch \| per step \| – \| – \| – \| – \|/);

  // Without a probe the FLOP count still shows, and no share is made up.
  const noProbe = resultsMarkdown({ ...results, sgemm: { probe: null, why: '--sgemm none' } });
  assert.match(noProbe, /\| sgemm \| not measured \(--sgemm none\) \|/);
  assert.match(noProbe, /1\.38 GFLOP per step; no sgemm speed to divide by \|/);
  assert.match(noProbe, /\| tf1 \| per step \| 16\.0 \(16\.0–16\.0\) \| 8000 \| 1\.00× \| – \|/);
  const off = resultsMarkdown({ ...results, plan: { ...plan, onednn: false } });
  assert.match(off, /\| oneDNN \| off: TF_ENABLE_ONEDNN_OPTS=0 in every peer's environment \(`--onednn on` for 1\) \|/);
});
