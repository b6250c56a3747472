/**
 * `npm run bench`: trains the CRNN with this project's TypeScript code on
 * tfjs-node and with three Python peers (tf.keras, a TF1-style graph, PyTorch)
 * under one protocol (bench/protocol.ts), and writes
 *   results.json  every run's report, the plan and the machine;
 *   results.md    the tables;
 *   *.svg         charts of ms/step and of the scaling with T and batch size.
 *
 * Each measurement runs in its own process, so that peak memory is per
 * configuration and no framework warms up another's caches. The Python peers
 * need bench/.venv (`npm run bench:setup`); without it, or without the
 * framework in it, they are skipped with the reason.
 *
 * Every peer gets one environment: TF_ENABLE_ONEDNN_OPTS=1 (or 0 with
 * `--onednn off`) and, with `--threads`, the thread counts. Before the peers
 * an sgemm probe (numpy's matmul in bench/.venv, else tf.matMul) measures
 * the CPU's float32 GFLOP/s; with the model's FLOP per step (bench/flops.ts)
 * it gives the "limit" ms/step each peer is measured against.
 *
 *   node dist/bench/run.js --tiny                 # seconds: checks that everything runs
 *   node dist/bench/run.js                        # the full throughput grid
 *   node dist/bench/run.js --to-target            # also time-to-98% (long)
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { modeDefaults, peerArgs, type BenchMode, type PeerOptions, type PeerReport, type SgemmReport } from './protocol';
import { limitMsPerStep, ratiosToBest, shareOfLimit, trainingFlopsPerSample, type FlopCount } from './flops';
import { peerEnvironment } from './settings';
import { barChartSvg, renderSvg, type ChartSpec } from '../lib/view/charts';
import { cpuUnits, readCpuFlags } from '../lib/runs/cpu';

/** 'tfjs-node' is this project as it trains by default (the graph engine); 'tfjs-eager' the same model op by op. */
export const PEERS = ['tfjs-node', 'tfjs-eager', 'keras', 'tf1', 'torch'] as const;
export type PeerName = (typeof PEERS)[number];
export type Variant = 'per-step' | 'shared';
/** Which sgemm probe gives the limit: numpy in the peers' Python when it has numpy, else tf.matMul. */
export const SGEMM_PROBES = ['auto', 'numpy', 'tfjs', 'none'] as const;
export type SgemmProbe = (typeof SGEMM_PROBES)[number];

/** The repository root (this file runs from dist/bench/). */
const ROOT = path.resolve(__dirname, '..', '..');

/** What to measure. */
export interface BenchPlan {
  tiny: boolean;
  peers: PeerName[];
  variants: Variant[];
  /** The configuration of the main comparison (the article's). */
  batchSize: number;
  seqLength: number;
  /** Grid of the scaling runs (per-step CNN); the other axis stays at the main value. */
  seqLengths: number[];
  batchSizes: number[];
  steps: number;
  warmup: number;
  repeats: number;
  threads: number;
  /** TF_ENABLE_ONEDNN_OPTS=1 (true) or 0 (false) for every peer. */
  onednn: boolean;
  /** The sgemm probe of the limit line. */
  sgemm: SgemmProbe;
  /** Also run every peer to the target accuracy (per-step CNN, main configuration). */
  toTarget: boolean;
  target: number;
  targetSteps: number;
  evalSize: number;
  outDir: string;
  python: string;
  /** Seconds one run may take before it is stopped. */
  timeoutS: number;
}

/** Why a group of runs exists, for the tables. */
export type RunKind = 'main' | 'seq-length' | 'batch-size' | 'to-target';

export interface RunRecord {
  peer: PeerName;
  kinds: RunKind[];
  options: PeerOptions;
  /** The peer's JSON report when it ran. */
  report?: PeerReport;
  /** Why there is no report. */
  error?: string;
  skipped?: string;
  wallSeconds?: number;
}

export interface MachineInfo {
  cpuModel: string;
  /** The CPU_FEATURES of lib/runs/cpu.ts this CPU has (absent in results from before they were recorded). */
  cpuFlags?: string[];
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  tfjs?: string;
  libtensorflow?: string;
  tensorflow?: string;
  torch?: string;
  python?: string;
  date: string;
  /** 1-minute load average before and after the runs: a busy machine shows here. */
  loadAverage: { start: number; end: number };
}

/** The sgemm probe of the run: its report, or why there is none. */
export interface SgemmProbeRecord {
  /** The probe that ran or was meant to run; null when none could. */
  probe: 'numpy' | 'tfjs' | null;
  /** Why this probe (e.g. no numpy in the peers' Python). */
  why: string;
  report?: SgemmReport;
  error?: string;
}

export interface BenchResults {
  machine: MachineInfo;
  plan: BenchPlan;
  runs: RunRecord[];
  /** Absent in results from before the probe existed. */
  sgemm?: SgemmProbeRecord;
}

function list<T extends string>(allowed: readonly T[]) {
  return (value: string): T[] => {
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.find((s) => !allowed.includes(s as T));
    if (bad !== undefined || items.length === 0) {
      throw new InvalidArgumentError(`expected a comma-separated list of ${allowed.join(', ')}, got "${value}"`);
    }
    return items as T[];
  };
}

function integers(min: number) {
  return (value: string): number[] => {
    const items = value.split(',').map((s) => Number(s.trim()));
    if (items.length === 0 || items.some((n) => !Number.isInteger(n) || n < min)) {
      throw new InvalidArgumentError(`expected a comma-separated list of integers >= ${min}, got "${value}"`);
    }
    return items;
  };
}

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
    return n;
  };
}

function onOff(value: string): boolean {
  if (value === 'on' || value === '1') return true;
  if (value === 'off' || value === '0') return false;
  throw new InvalidArgumentError(`expected on or off, got "${value}"`);
}

function choice<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    if (!allowed.includes(value as T)) throw new InvalidArgumentError(`expected one of ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  };
}

/** Parses the command line of run.js into a plan; tiny mode shrinks every default. */
export function parsePlan(argv: readonly string[]): BenchPlan {
  const program = new Command()
    .name('bench')
    .description('Times CRNN training on tfjs-node against tf.keras, TF1-style TensorFlow and PyTorch.')
    .option('--tiny', 'a handful of steps per run, to check that everything works', false)
    .option('--peers <list>', `peers to run, from ${PEERS.join(',')}`, list(PEERS))
    .option('--variants <list>', 'CNN variants of the main comparison: per-step,shared', list(['per-step', 'shared'] as const))
    .option('--batch-size <n>', 'batch size of the main comparison', integer(1), 128)
    .option('--seq-length <n>', 'sequence length of the main comparison', integer(2), 2)
    .option('--seq-lengths <list>', 'sequence lengths of the scaling runs (T = 1: the second digit counts as 0)', integers(1))
    .option('--batch-sizes <list>', 'batch sizes of the scaling runs', integers(1))
    .option('--steps <n>', 'timed steps per repeat', integer(1))
    .option('--warmup <n>', 'untimed steps before timing', integer(0))
    .option('--repeats <n>', 'timed blocks per run', integer(1))
    .option('--threads <n>', 'intra-op threads for every framework; 0: each default', integer(0), 0)
    .option('--onednn <on|off>', 'TF_ENABLE_ONEDNN_OPTS=1 or 0 for every peer', onOff, true)
    .option('--sgemm <probe>', `sgemm probe of the limit line: ${SGEMM_PROBES.join(', ')} ` +
      '(auto: numpy in the peers\' Python if it has numpy, else tfjs)', choice(SGEMM_PROBES), 'auto')
    .option('--to-target', 'also train each peer to the target accuracy (long)', false)
    .option('--target <accuracy>', 'accuracy of --to-target', (v: string) => {
      const n = Number(v);
      if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a number in (0, 1], got "${v}"`);
      return n;
    }, 0.98)
    .option('--target-steps <n>', 'step cap of --to-target', integer(1), 10000)
    .option('--eval-size <n>', 'sequences of the fixed evaluation set of --to-target', integer(1), 10000)
    .option('--out <dir>', 'where results go (default bench/results, bench/results/tiny with --tiny)')
    .option('--python <path>', 'Python of the peers', path.join(ROOT, 'bench', '.venv', 'bin', 'python'))
    .option('--timeout <seconds>', 'limit of one run', integer(1))
    .exitOverride()
    .parse([...argv], { from: 'user' });
  // The flags as commander parsed them; those without a default may be missing.
  const o = program.opts<Pick<BenchPlan, 'tiny' | 'batchSize' | 'seqLength' | 'threads' | 'onednn' | 'sgemm' |
    'toTarget' | 'target' | 'targetSteps' | 'evalSize' | 'python'> & Partial<Pick<BenchPlan, 'peers' | 'variants' |
    'seqLengths' | 'batchSizes' | 'steps' | 'warmup' | 'repeats'>> & { out?: string; timeout?: number }>();
  const tiny = Boolean(o.tiny);
  const mode: BenchMode = tiny ? 'tiny' : 'throughput';
  const defaults = modeDefaults(mode);
  return {
    tiny,
    peers: o.peers ?? [...PEERS],
    variants: o.variants ?? (tiny ? ['per-step'] : ['per-step', 'shared']),
    batchSize: o.batchSize,
    seqLength: o.seqLength,
    seqLengths: o.seqLengths ?? (tiny ? [o.seqLength] : [1, 2, 4, 8]),
    batchSizes: o.batchSizes ?? (tiny ? [32, o.batchSize] : [32, 64, 128, 256, 512]),
    steps: o.steps ?? defaults.steps,
    // Two warm-up steps at least even when tiny: PyTorch's first steps build oneDNN kernels.
    warmup: o.warmup ?? (tiny ? 2 : defaults.warmup),
    repeats: o.repeats ?? defaults.repeats,
    threads: o.threads,
    onednn: o.onednn,
    sgemm: o.sgemm,
    toTarget: Boolean(o.toTarget),
    target: o.target,
    targetSteps: o.targetSteps,
    evalSize: o.evalSize,
    outDir: path.resolve(o.out ?? path.join(ROOT, 'bench', 'results', ...(tiny ? ['tiny'] : []))),
    python: path.resolve(o.python),
    timeoutS: o.timeout ?? (tiny ? 180 : 3600),
  };
}

/** Every run the plan asks for, each configuration once (the main one serves the scaling tables too). */
export function planRuns(plan: BenchPlan): RunRecord[] {
  const runs = new Map<string, RunRecord>();
  const base = (batchSize: number, seqLength: number, shared: boolean): PeerOptions => ({
    mode: plan.tiny ? 'tiny' : 'throughput',
    batchSize, seqLength, shared,
    steps: plan.steps, warmup: plan.warmup, repeats: plan.repeats, threads: plan.threads,
    target: plan.target, evalEvery: 100, evalSize: plan.evalSize, poolSize: 8, seed: 42,
  });
  const add = (kind: RunKind, options: PeerOptions) => {
    for (const peer of plan.peers) {
      const key = JSON.stringify([peer, options]);
      const existing = runs.get(key);
      if (existing) existing.kinds.push(kind);
      else runs.set(key, { peer, kinds: [kind], options });
    }
  };
  for (const variant of plan.variants) add('main', base(plan.batchSize, plan.seqLength, variant === 'shared'));
  for (const seqLength of plan.seqLengths) add('seq-length', base(plan.batchSize, seqLength, false));
  for (const batchSize of plan.batchSizes) add('batch-size', base(batchSize, plan.seqLength, false));
  if (plan.toTarget) {
    add('to-target', { ...base(plan.batchSize, plan.seqLength, false), mode: 'to-target', steps: plan.targetSteps, warmup: 0, repeats: 1 });
  }
  return [...runs.values()];
}

/** The Python modules the peers and the probe need. */
export const PYTHON_MODULES = ['numpy', 'tensorflow', 'torch'] as const;
export type PythonModules = { [M in (typeof PYTHON_MODULES)[number]]?: boolean };

/** What the peers' Python has: `modules` when it answered, else why it did not. */
export type PythonCheck = { python: string; modules: PythonModules } | { python: string; missing: string };

/** The Python module each Python peer imports. */
const PEER_MODULE: Partial<Record<PeerName, (typeof PYTHON_MODULES)[number]>> = { keras: 'tensorflow', tf1: 'tensorflow', torch: 'torch' };

/** Why a Python peer cannot run with `check`, or null when it can. */
export function pythonPeerSkip(peer: PeerName, check: PythonCheck): string | null {
  const setup = '`npm run bench:setup` (bash bench/setup.sh) installs it';
  if ('missing' in check) return `${check.missing}: ${setup}`;
  const module = PEER_MODULE[peer];
  if (module && check.modules[module] !== true) return `no ${module} in ${check.python}: ${setup}`;
  if (check.modules.numpy !== true) return `no numpy in ${check.python}: ${setup}`;
  return null;
}

/** Asks the peers' Python which of PYTHON_MODULES it has, without importing them. */
function checkPython(python: string): PythonCheck {
  if (!fs.existsSync(python)) return { python, missing: `no Python at ${python}` };
  const script = 'import importlib.util, json, sys\n' +
    'print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))';
  const result = spawnSync(python, ['-c', script, ...PYTHON_MODULES], { encoding: 'utf8', timeout: 60_000 });
  try {
    if (result.status !== 0) throw new Error(result.error?.message ?? result.stderr.trim().split('\n').pop());
    return { python, modules: JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as PythonModules };
  } catch (err) {
    return { python, missing: `${python} does not run (${(err as Error).message})` };
  }
}

/** The command that runs `peer`, or why it cannot run here. */
function peerCommand(peer: PeerName, plan: BenchPlan, python: PythonCheck): { file: string; args: string[] } | { skipped: string } {
  if (peer === 'tfjs-node' || peer === 'tfjs-eager') {
    const engine = peer === 'tfjs-node' ? 'graph' : 'eager';
    return { file: process.execPath, args: [path.join(__dirname, 'peers', 'tfjs-node.js'), '--engine', engine] };
  }
  const skip = pythonPeerSkip(peer, python);
  if (skip !== null) return { skipped: skip };
  const script = path.join(ROOT, 'bench', 'peers', `${peer}_crnn.py`);
  return { file: plan.python, args: [script] };
}

/**
 * Which sgemm probe runs: the one asked for, or under 'auto' numpy when the
 * peers' Python has it (the BLAS the Python peers' numpy uses), else tf.matMul.
 */
export function chooseSgemmProbe(asked: SgemmProbe, python: PythonCheck): { probe: 'numpy' | 'tfjs' | null; why: string } {
  const numpy = !('missing' in python) && python.modules.numpy === true;
  const noNumpy = 'missing' in python ? python.missing : `no numpy in ${python.python}`;
  if (asked === 'none') return { probe: null, why: '--sgemm none' };
  if (asked === 'tfjs') return { probe: 'tfjs', why: '--sgemm tfjs' };
  if (asked === 'numpy') return numpy ? { probe: 'numpy', why: '--sgemm numpy' } : { probe: null, why: `--sgemm numpy, but ${noNumpy}` };
  return numpy ? { probe: 'numpy', why: `numpy in ${python.python}` } : { probe: 'tfjs', why: `${noNumpy}: tf.matMul instead` };
}

/** Runs one peer (or probe) process in `env` and parses the JSON object it prints last. */
function runPeer<R = PeerReport>(file: string, args: string[], timeoutS: number, env: NodeJS.ProcessEnv): Promise<R> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const tail = stderr.trim().split('\n').slice(-5).join('\n');
      if (code !== 0) {
        const why = signal === 'SIGKILL' ? `timed out after ${timeoutS} s` : `exited with ${code ?? signal}`;
        reject(new Error(`${path.basename(args[0])} ${why}${tail ? `:\n${tail}` : ''}`));
        return;
      }
      const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      try {
        if (!line) throw new Error('no JSON line on stdout');
        resolve(JSON.parse(line) as R);
      } catch (err) {
        reject(new Error(`${path.basename(args[0])} printed no valid JSON report (${(err as Error).message})`));
      }
    });
  });
}

function describeRun(run: RunRecord): string {
  const o = run.options;
  return `${run.peer} ${o.shared ? 'shared' : 'per-step'} B${o.batchSize} T${o.seqLength} ${o.mode}`;
}

function summary(report: PeerReport): string {
  if (report.msPerStep) return `${report.msPerStep.median.toFixed(1)} ms/step, ${Math.round(report.samplesPerSec ?? 0)} samples/s`;
  if (report.reached) return `${report.stepsToTarget} steps, ${report.secondsToTarget?.toFixed(0)} s to ${report.target}`;
  return `target not reached (final accuracy ${report.finalAccuracy})`;
}

/** The sgemm probe's command (numpy in the peers' Python, or tf.matMul in Node). */
function sgemmCommand(probe: 'numpy' | 'tfjs', plan: BenchPlan): { file: string; args: string[] } {
  const args = ['--n', '2048', '--repeats', plan.tiny ? '3' : '5'];
  return probe === 'numpy'
    ? { file: plan.python, args: [path.join(ROOT, 'bench', 'peers', 'sgemm_numpy.py'), ...args] }
    : { file: process.execPath, args: [path.join(__dirname, 'peers', 'sgemm-tfjs.js'), ...args] };
}

/** Runs the sgemm probe the plan asks for, in the peers' environment. */
async function runSgemm(plan: BenchPlan, python: PythonCheck, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<SgemmProbeRecord> {
  const chosen = chooseSgemmProbe(plan.sgemm, python);
  if (chosen.probe === null) {
    log(`sgemm probe: none (${chosen.why})`);
    return chosen;
  }
  const command = sgemmCommand(chosen.probe, plan);
  try {
    const report = await runPeer<SgemmReport>(command.file, command.args, Math.min(plan.timeoutS, 300), env);
    log(`sgemm probe (${report.library}): ${report.gflops.toFixed(1)} GFLOP/s`);
    return { ...chosen, report };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    log(`sgemm probe (${chosen.probe}): FAILED ${error}`);
    return { ...chosen, error };
  }
}

/** Runs every run of the plan in turn, reporting progress on `log`. */
export async function runPlan(plan: BenchPlan, log: (line: string) => void = (l) => console.error(l)): Promise<BenchResults> {
  const runs = planRuns(plan);
  const loadStart = os.loadavg()[0];
  const env = peerEnvironment(process.env, plan);
  const python = checkPython(plan.python);
  log(`every peer runs with TF_ENABLE_ONEDNN_OPTS=${env.TF_ENABLE_ONEDNN_OPTS}` +
    `${plan.threads > 0 ? ` and ${plan.threads} threads per pool` : ''}`);
  const sgemm = await runSgemm(plan, python, env, log);
  for (const [i, run] of runs.entries()) {
    const prefix = `[${i + 1}/${runs.length}] ${describeRun(run)}`;
    const command = peerCommand(run.peer, plan, python);
    if ('skipped' in command) {
      run.skipped = command.skipped;
      log(`${prefix}: skipped (${command.skipped})`);
      continue;
    }
    const start = performance.now();
    try {
      const report = await runPeer<PeerReport>(command.file, [...command.args, ...peerArgs(run.options)], plan.timeoutS, env);
      run.report = report;
      log(`${prefix}: ${summary(report)}`);
    } catch (err) {
      run.error = err instanceof Error ? err.message : String(err);
      log(`${prefix}: FAILED ${run.error}`);
    }
    run.wallSeconds = (performance.now() - start) / 1000;
  }
  return { machine: machineInfo(runs, loadStart), plan, runs, sgemm };
}

function machineInfo(runs: RunRecord[], loadStart: number): MachineInfo {
  const cpus = os.cpus();
  const reportOf = (peer: PeerName) => runs.find((r) => r.peer === peer && r.report)?.report;
  const tfjs = reportOf('tfjs-node');
  const keras = reportOf('keras') ?? reportOf('tf1');
  const torch = reportOf('torch');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tfjsVersion = (require('@tensorflow/tfjs-node/package.json') as { version: string }).version;
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuFlags: readCpuFlags(),
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    tfjs: tfjsVersion,
    libtensorflow: (tfjs?.libtensorflow as string | undefined) ?? undefined,
    tensorflow: keras?.version,
    torch: torch?.version,
    python: (keras?.python ?? torch?.python) as string | undefined,
    date: new Date().toISOString(),
    loadAverage: { start: loadStart, end: os.loadavg()[0] },
  };
}

// ---------------------------------------------------------------------------
// Report

const fmt = (n: number | undefined | null, digits = 1) => (n == null || !Number.isFinite(n) ? '–' : n.toFixed(digits));

function msCell(report?: PeerReport): string {
  const ms = report?.msPerStep;
  return ms ? `${fmt(ms.median)} (${fmt(ms.min)}–${fmt(ms.max)})` : '–';
}

/** Each main run's ms/step over the fastest main run of the same CNN variant. */
export function mainRatios(mains: readonly RunRecord[]): (number | undefined)[] {
  const ratios: (number | undefined)[] = mains.map(() => undefined);
  for (const shared of [false, true]) {
    const indices = mains.flatMap((r, i) => (r.options.shared === shared ? [i] : []));
    const variantRatios = ratiosToBest(indices.map((i) => mains[i].report?.msPerStep?.median));
    indices.forEach((index, k) => { ratios[index] = variantRatios[k]; });
  }
  return ratios;
}

function find(results: BenchResults, peer: PeerName, kind: RunKind, match: (o: PeerOptions) => boolean) {
  return results.runs.find((r) => r.peer === peer && r.kinds.includes(kind) && match(r.options));
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

/** "AVX2 yes · AVX-512 no · AMX no" for a list of CPU_FEATURES. */
export function cpuUnitsText(flags: readonly string[]): string {
  const u = cpuUnits(flags);
  return `AVX2 ${yesNo(u.avx2)} · AVX-512 ${yesNo(u.avx512)} · AMX ${yesNo(u.amx)}`;
}

/** The sgemm line of the machine table. */
export function sgemmText(record: SgemmProbeRecord | undefined): string {
  if (!record) return '–';
  const r = record.report;
  if (r) {
    return `${r.probe === 'numpy' ? 'numpy matmul' : 'tf.matMul'} of ${r.n} × ${r.n} float32, ${r.library}, ` +
      `best of ${r.repeats}${r.threads ? `, ${r.threads} threads` : ''}: **${fmt(r.gflops)} GFLOP/s** (${record.why})`;
  }
  return record.error ? `${record.probe} probe failed: ${record.error.split('\n')[0]}` : `not measured (${record.why})`;
}

/** The FLOP of one training step of the main configuration and the limit the probe sets on it. */
export interface StepLimit {
  flops: FlopCount;
  batchSize: number;
  /** ms/step at the probe's GFLOP/s; undefined without a probe. */
  limitMs?: number;
}

export function stepLimit(results: BenchResults): StepLimit {
  const { plan } = results;
  const flops = trainingFlopsPerSample({ seqLength: plan.seqLength });
  const gflops = results.sgemm?.report?.gflops;
  return {
    flops, batchSize: plan.batchSize,
    limitMs: gflops !== undefined && gflops > 0 ? limitMsPerStep(flops.training, plan.batchSize, gflops) : undefined,
  };
}

/** The limit line of the machine table. */
export function limitText(limit: StepLimit, gflops: number | undefined): string {
  const f = limit.flops;
  const perStep = f.training * limit.batchSize;
  const count = `${fmt(f.training / 1e6, 2)} MFLOP per training sample (3 × ${fmt(f.forward / 1e6, 2)} forward) × ` +
    `${limit.batchSize} = ${fmt(perStep / 1e9, 2)} GFLOP per step`;
  return limit.limitMs === undefined ? `${count}; no sgemm speed to divide by`
    : `${count}: **${fmt(limit.limitMs)} ms/step** at ${fmt(gflops)} GFLOP/s`;
}

/** oneDNN as a peer reported it: "on (TF_ENABLE_ONEDNN_OPTS=1)". */
export function onednnText(report?: PeerReport): string {
  const o = report?.onednn;
  if (!o) return '–';
  const state = o.on === null ? 'unknown' : o.on ? 'on' : 'off';
  const setting = o.setting === null ? 'TF_ENABLE_ONEDNN_OPTS unset' : `TF_ENABLE_ONEDNN_OPTS=${o.setting}`;
  return o.source === 'TF_ENABLE_ONEDNN_OPTS' ? `${state} (${setting})` : `${state} (${setting}; ${o.source})`;
}

/** One row per peer: what decides its speed, from its first report. */
function settingsRows(results: BenchResults): string[] {
  const rows = ['| peer | CPU | AVX2 / AVX-512 / AMX | oneDNN | intra-op threads | inter-op threads | threads from |',
    '| --- | --- | --- | --- | ---: | ---: | --- |'];
  for (const peer of results.plan.peers) {
    const r = results.runs.find((run) => run.peer === peer && run.report)?.report;
    const units = r?.cpu ? cpuUnits(r.cpu.flags) : undefined;
    const t = r?.threadsInUse;
    rows.push(`| ${peer} | ${r?.cpu?.model ?? '–'} | ${units ? [units.avx2, units.avx512, units.amx].map(yesNo).join(' / ') : '–'} | ` +
      `${onednnText(r)} | ${t?.intraOp ?? '–'} | ${t?.interOp ?? '–'} | ${t?.source ?? '–'} |`);
  }
  return rows;
}

/** The Markdown report: machine, main comparison, scaling, to-target, problems. */
export function resultsMarkdown(results: BenchResults): string {
  const { machine: m, plan } = results;
  const limit = stepLimit(results);
  const lines: string[] = [];
  lines.push('# CRNN training speed: tfjs-node and Python peers', '');
  if (plan.tiny) lines.push('**Tiny run**: a handful of steps per configuration; the numbers only show that everything runs.', '');
  lines.push(
    '| machine | |', '| --- | --- |',
    `| CPU | ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB |`,
    `| CPU features | ${m.cpuFlags ? `${cpuUnitsText(m.cpuFlags)} (${m.cpuFlags.join(', ') || 'none read'})` : '–'} |`,
    `| OS | ${m.os} |`,
    `| Node.js / tfjs-node | ${m.node} / ${m.tfjs ?? '–'} (libtensorflow ${m.libtensorflow ?? '–'}) |`,
    `| Python / TensorFlow / PyTorch | ${m.python ?? '–'} / ${m.tensorflow ?? '–'} / ${m.torch ?? '–'} |`,
    // Plans from before the flag had no setting: the caller's environment decided.
    `| oneDNN | ${plan.onednn === undefined ? '–' : `${plan.onednn ? 'on' : 'off'}: TF_ENABLE_ONEDNN_OPTS=${plan.onednn ? 1 : 0} ` +
      `in every peer's environment (\`--onednn ${plan.onednn ? 'off' : 'on'}\` for ${plan.onednn ? 0 : 1})`} |`,
    `| threads | ${plan.threads === 0 ? 'each framework\'s default' : plan.threads} |`,
    `| sgemm | ${sgemmText(results.sgemm)} |`,
    `| limit | ${limitText(limit, results.sgemm?.report?.gflops)} |`,
    `| load average (1 min) at start / end | ${fmt(m.loadAverage.start, 2)} / ${fmt(m.loadAverage.end, 2)} |`,
    `| date | ${m.date} |`, '',
    `Protocol: batches sampled before timing and kept in memory; ${plan.warmup} warm-up steps, then ` +
      `${plan.repeats} timed blocks of ${plan.steps} steps; each step is forward, backward, Adam update and ` +
      'the loss read back to the host (tfjs-node runs its steps as `trainSteps` does, several per session call, ' +
      'each step\'s loss read back with its call). ms/step: median of the blocks (min–max). CPU ms/step: CPU time of ' +
      'all the threads of the peer\'s process per step (median), which a busy machine disturbs less than ' +
      'wall time; it also counts threads that spin while they wait.', '',
    'What decides the speed, as each peer\'s process saw it:', '',
    ...settingsRows(results), '',
  );

  lines.push(`## Batch ${plan.batchSize}, T = ${plan.seqLength}`, '',
    '| peer | CNN | ms/step (min–max) | samples/s | vs the best | share of the limit | CPU ms/step | parameters | peak RSS (MB) |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  const mains = results.runs.filter((r) => r.kinds.includes('main'));
  const ratios = mainRatios(mains);
  for (const [i, run] of mains.entries()) {
    const r = run.report;
    const ms = r?.msPerStep?.median;
    const share = limit.limitMs !== undefined && ms !== undefined ? shareOfLimit(limit.limitMs, ms) : undefined;
    lines.push(`| ${run.peer} | ${run.options.shared ? 'shared' : 'per step'} | ${msCell(r)} | ` +
      `${fmt(r?.samplesPerSec, 0)} | ${ratios[i] === undefined ? '–' : `${fmt(ratios[i], 2)}×`} | ` +
      `${share === undefined ? '–' : `${fmt(100 * share)}%`} | ${fmt(r?.cpuMsPerStep?.median)} | ${r?.params ?? '–'} | ${fmt(r?.peakRssMb, 0)} |`);
  }
  lines.push('', 'vs the best: ms/step over the fastest peer\'s with the same CNN (1.00× is the fastest). ' +
    'Share of the limit: the limit ms/step over the peer\'s (100% would be every FLOP at sgemm speed).');
  const tfjsMain = mains.filter((r) => r.peer.startsWith('tfjs') && r.report?.loopMsPerStep);
  if (tfjsMain.length > 0) {
    lines.push('', 'The project\'s own loop (`trainSteps`: a fresh batch every step; a call of ' +
      `${plan.steps} steps rounded up to whole session calls, the optimisation of its graph at the first call included), and what making a batch on the CPU costs ` +
      '(`sampleSequenceBatch`, the path of augmented runs):', '',
      '| peer | CNN | loop ms/step | CPU batch ms |', '| --- | --- | ---: | ---: |');
    for (const run of tfjsMain) {
      const r = run.report!;
      const loop = r.loopMsPerStep as PeerReport['msPerStep'];
      const sampling = r.samplingMsPerBatch as PeerReport['msPerStep'];
      lines.push(`| ${run.peer} | ${run.options.shared ? 'shared' : 'per step'} | ${fmt(loop?.median)} | ${fmt(sampling?.median, 2)} |`);
    }
    const byCall = tfjsMain.filter((r) => Object.keys((r.report!.byStepsPerCall ?? {})).length > 0);
    if (byCall.length > 0) {
      const perCall = [...new Set(byCall.flatMap((r) => Object.keys(r.report!.byStepsPerCall as object)))]
        .map(Number).sort((a, b) => a - b);
      lines.push('', 'Steps per session call (`stepsPerCall`: the graph gathers each step\'s batch from its image ' +
        'indices): ms/step of the timed steps after one untimed call, and that first call\'s seconds, in which ' +
        'TensorFlow optimises the graph:', '',
        `| peer | CNN | ${perCall.map((k) => `${k} per call: ms/step`).join(' | ')} | ${perCall.map((k) => `first call of ${k}, s`).join(' | ')} |`,
        `| --- | --- | ${perCall.map(() => '---:').join(' | ')} | ${perCall.map(() => '---:').join(' | ')} |`);
      for (const run of byCall) {
        const byK = run.report!.byStepsPerCall as Record<string, PeerReport['msPerStep']>;
        const first = (run.report!.firstCallMs ?? {}) as Record<string, number>;
        lines.push(`| ${run.peer} | ${run.options.shared ? 'shared' : 'per step'} | ` +
          `${perCall.map((k) => fmt(byK[k]?.median)).join(' | ')} | ${perCall.map((k) => fmt(first[k] / 1000, 2)).join(' | ')} |`);
      }
    }
  }

  const peers = plan.peers;
  const scaling = (kind: RunKind, axis: number[], label: string, pick: (o: PeerOptions, v: number) => boolean, cell: (r?: PeerReport) => string) => {
    if (axis.length < 2) return;
    lines.push('', `| ${label} | ${peers.join(' | ')} |`, `| ---: | ${peers.map(() => '---:').join(' | ')} |`);
    for (const v of axis) {
      lines.push(`| ${v} | ${peers.map((p) => cell(find(results, p, kind, (o) => pick(o, v))?.report)).join(' | ')} |`);
    }
  };
  if (plan.seqLengths.length > 1) {
    lines.push('', `## Scaling with the sequence length (batch ${plan.batchSize}, per-step CNN): ms/step`);
    scaling('seq-length', plan.seqLengths, 'T', (o, v) => o.seqLength === v, (r) => fmt(r?.msPerStep?.median));
  }
  if (plan.batchSizes.length > 1) {
    lines.push('', `## Scaling with the batch size (T = ${plan.seqLength}, per-step CNN): samples/s`);
    scaling('batch-size', plan.batchSizes, 'batch', (o, v) => o.batchSize === v, (r) => fmt(r?.samplesPerSec, 0));
  }

  const targets = results.runs.filter((r) => r.kinds.includes('to-target'));
  if (targets.length > 0) {
    lines.push('', `## Time to ${100 * plan.target}% on ${plan.evalSize} fixed test pairs (batch ${plan.batchSize}, ` +
      `evaluated every 100 steps, at most ${plan.targetSteps} steps)`, '',
      '| peer | reached | steps | seconds | final accuracy |', '| --- | --- | ---: | ---: | ---: |');
    for (const run of targets) {
      const r = run.report;
      lines.push(`| ${run.peer} | ${r ? (r.reached ? 'yes' : 'no') : '–'} | ${r?.stepsToTarget ?? '–'} | ` +
        `${fmt(r?.secondsToTarget ?? null, 0)} | ${fmt(r?.finalAccuracy ?? null, 4)} |`);
    }
  }

  const problems = results.runs.filter((r) => r.error || r.skipped);
  if (problems.length > 0) {
    lines.push('', '## Runs without results', '');
    for (const run of problems) lines.push(`- ${describeRun(run)}: ${run.skipped ? `skipped, ${run.skipped}` : `failed, ${run.error?.split('\n')[0]}`}`);
  }
  return `${lines.join('\n')}\n`;
}

function lineChartSpec(rows: { peer: string; x: number; y: number }[], xTitle: string, yTitle: string, title: string): ChartSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title, width: 420, height: 240,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: { type: 'log', base: 2 }, axis: { values: [...new Set(rows.map((r) => r.x))] } },
      y: { field: 'y', type: 'quantitative', title: yTitle },
      color: { field: 'peer', type: 'nominal', title: null },
    },
  };
}

/** Writes the charts that have data; returns the file names written. */
export async function writeCharts(results: BenchResults, outDir: string): Promise<string[]> {
  const written: string[] = [];
  const { plan } = results;
  const mains = results.runs.filter((r) => r.kinds.includes('main') && r.report?.msPerStep);
  if (mains.length > 0) {
    const labels = mains.map((r) => `${r.peer}${plan.variants.length > 1 ? (r.options.shared ? ' (shared)' : ' (per step)') : ''}`);
    const svg = await barChartSvg(labels, mains.map((r) => r.report!.msPerStep!.median), {
      title: `Training step, batch ${plan.batchSize}, T = ${plan.seqLength} (lower is better)`,
      yTitle: 'ms per step (median)', width: 80 * labels.length, format: '.0f',
    });
    fs.writeFileSync(path.join(outDir, 'ms-per-step.svg'), svg);
    written.push('ms-per-step.svg');
  }
  const series = (kind: RunKind, x: (o: PeerOptions) => number, y: (r: PeerReport) => number) => results.runs
    .filter((r) => r.kinds.includes(kind) && r.report?.msPerStep)
    .map((r) => ({ peer: r.peer, x: x(r.options), y: y(r.report!) }));
  const bySeq = series('seq-length', (o) => o.seqLength, (r) => r.msPerStep!.median);
  if (plan.seqLengths.length > 1 && bySeq.length > 0) {
    fs.writeFileSync(path.join(outDir, 'scaling-seq-length.svg'), await renderSvg(
      lineChartSpec(bySeq, 'sequence length T', 'ms per step', `Step time against T (batch ${plan.batchSize})`)));
    written.push('scaling-seq-length.svg');
  }
  const byBatch = series('batch-size', (o) => o.batchSize, (r) => r.samplesPerSec!);
  if (plan.batchSizes.length > 1 && byBatch.length > 0) {
    fs.writeFileSync(path.join(outDir, 'scaling-batch-size.svg'), await renderSvg(
      lineChartSpec(byBatch, 'batch size', 'samples per second', `Throughput against batch size (T = ${plan.seqLength})`)));
    written.push('scaling-batch-size.svg');
  }
  return written;
}

/** Runs the plan and writes results.json, results.md and the charts into plan.outDir. */
export async function runBench(plan: BenchPlan, log?: (line: string) => void): Promise<BenchResults> {
  fs.mkdirSync(plan.outDir, { recursive: true });
  const results = await runPlan(plan, log);
  fs.writeFileSync(path.join(plan.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(plan.outDir, 'results.md'), resultsMarkdown(results));
  await writeCharts(results, plan.outDir);
  return results;
}

if (require.main === module) {
  let plan: BenchPlan;
  try {
    plan = parsePlan(process.argv.slice(2));
  } catch (err) {
    // commander has printed the problem (or the help) already.
    process.exit((err as { exitCode?: number }).exitCode ?? 2);
  }
  const started = performance.now();
  runBench(plan).then((results) => {
    const failed = results.runs.filter((r) => r.error).length;
    console.error(`bench: ${results.runs.length} runs in ${((performance.now() - started) / 1000).toFixed(0)} s, ` +
      `${failed} failed; results in ${plan.outDir}`);
    process.stdout.write(resultsMarkdown(results));
    if (failed > 0) process.exitCode = 1;
  }, (err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
  });
}
