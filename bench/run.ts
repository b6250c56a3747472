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
 * need bench/.venv (`npm run bench:setup`); without it they are skipped.
 *
 *   node dist/bench/run.js --tiny                 # seconds: checks that everything runs
 *   node dist/bench/run.js                        # the full throughput grid
 *   node dist/bench/run.js --to-target            # also time-to-98% (long)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { modeDefaults, peerArgs, type BenchMode, type PeerOptions, type PeerReport } from './protocol';
import { barChartSvg, renderSvg, type ChartSpec } from '../lib/view/charts';

/** 'tfjs-node' is this project as it trains by default (the graph engine); 'tfjs-eager' the same model op by op. */
export const PEERS = ['tfjs-node', 'tfjs-eager', 'keras', 'tf1', 'torch'] as const;
export type PeerName = (typeof PEERS)[number];
export type Variant = 'per-step' | 'shared';

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

export interface BenchResults {
  machine: MachineInfo;
  plan: BenchPlan;
  runs: RunRecord[];
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
  const o = program.opts();
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

/** The command that runs `peer`, or why it cannot run here. */
function peerCommand(peer: PeerName, plan: BenchPlan): { file: string; args: string[] } | { skipped: string } {
  if (peer === 'tfjs-node' || peer === 'tfjs-eager') {
    const engine = peer === 'tfjs-node' ? 'graph' : 'eager';
    return { file: process.execPath, args: [path.join(__dirname, 'peers', 'tfjs-node.js'), '--engine', engine] };
  }
  if (!fs.existsSync(plan.python)) {
    return { skipped: `no Python at ${plan.python}: run \`npm run bench:setup\` (bash bench/setup.sh) first` };
  }
  const script = path.join(ROOT, 'bench', 'peers', `${peer}_crnn.py`);
  return { file: plan.python, args: [script] };
}

/** Runs one peer process and parses the JSON object it prints last. */
function runPeer(file: string, args: string[], timeoutS: number): Promise<PeerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: ROOT,
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
        resolve(JSON.parse(line) as PeerReport);
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

/** Runs every run of the plan in turn, reporting progress on `log`. */
export async function runPlan(plan: BenchPlan, log: (line: string) => void = (l) => console.error(l)): Promise<BenchResults> {
  const runs = planRuns(plan);
  const loadStart = os.loadavg()[0];
  for (const [i, run] of runs.entries()) {
    const prefix = `[${i + 1}/${runs.length}] ${describeRun(run)}`;
    const command = peerCommand(run.peer, plan);
    if ('skipped' in command) {
      run.skipped = command.skipped;
      log(`${prefix}: skipped (${command.skipped})`);
      continue;
    }
    const start = performance.now();
    try {
      run.report = await runPeer(command.file, [...command.args, ...peerArgs(run.options)], plan.timeoutS);
      log(`${prefix}: ${summary(run.report)}`);
    } catch (err) {
      run.error = err instanceof Error ? err.message : String(err);
      log(`${prefix}: FAILED ${run.error}`);
    }
    run.wallSeconds = (performance.now() - start) / 1000;
  }
  return { machine: machineInfo(runs, loadStart), plan, runs };
}

function machineInfo(runs: RunRecord[], loadStart: number): MachineInfo {
  const cpus = os.cpus();
  const reportOf = (peer: PeerName) => runs.find((r) => r.peer === peer && r.report)?.report;
  const tfjs = reportOf('tfjs-node');
  const keras = reportOf('keras') ?? reportOf('tf1');
  const torch = reportOf('torch');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tfjsVersion: string = require('@tensorflow/tfjs-node/package.json').version;
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
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

function find(results: BenchResults, peer: PeerName, kind: RunKind, match: (o: PeerOptions) => boolean) {
  return results.runs.find((r) => r.peer === peer && r.kinds.includes(kind) && match(r.options));
}

/** The Markdown report: machine, main comparison, scaling, to-target, problems. */
export function resultsMarkdown(results: BenchResults): string {
  const { machine: m, plan } = results;
  const lines: string[] = [];
  lines.push('# CRNN training speed: tfjs-node and Python peers', '');
  if (plan.tiny) lines.push('**Tiny run**: a handful of steps per configuration; the numbers only show that everything runs.', '');
  lines.push(
    '| machine | |', '| --- | --- |',
    `| CPU | ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB |`,
    `| OS | ${m.os} |`,
    `| Node.js / tfjs-node | ${m.node} / ${m.tfjs ?? '–'} (libtensorflow ${m.libtensorflow ?? '–'}) |`,
    `| Python / TensorFlow / PyTorch | ${m.python ?? '–'} / ${m.tensorflow ?? '–'} / ${m.torch ?? '–'} |`,
    `| threads | ${plan.threads === 0 ? 'each framework\'s default' : plan.threads} |`,
    `| load average (1 min) at start / end | ${fmt(m.loadAverage.start, 2)} / ${fmt(m.loadAverage.end, 2)} |`,
    `| date | ${m.date} |`, '',
    `Protocol: batches sampled before timing and kept in memory; ${plan.warmup} warm-up steps, then ` +
      `${plan.repeats} timed blocks of ${plan.steps} steps; each step is forward, backward, Adam update and ` +
      'the loss read back to the host. ms/step: median of the blocks (min–max). CPU ms/step: CPU time of ' +
      'all the threads of the peer\'s process per step (median), which a busy machine disturbs less than ' +
      'wall time; it also counts threads that spin while they wait.', '',
  );

  lines.push(`## Batch ${plan.batchSize}, T = ${plan.seqLength}`, '',
    '| peer | CNN | ms/step (min–max) | samples/s | CPU ms/step | parameters | peak RSS (MB) |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: |');
  const mains = results.runs.filter((r) => r.kinds.includes('main'));
  for (const run of mains) {
    const r = run.report;
    lines.push(`| ${run.peer} | ${run.options.shared ? 'shared' : 'per step'} | ${msCell(r)} | ` +
      `${fmt(r?.samplesPerSec, 0)} | ${fmt(r?.cpuMsPerStep?.median)} | ${r?.params ?? '–'} | ${fmt(r?.peakRssMb, 0)} |`);
  }
  const tfjsMain = mains.filter((r) => r.peer.startsWith('tfjs') && r.report?.loopMsPerStep);
  if (tfjsMain.length > 0) {
    lines.push('', 'The project\'s own loop (`trainSteps`, a fresh batch sampled every step) and the share of ' +
      'sampling (`sampleSequenceBatch`) in it:', '',
      '| peer | CNN | loop ms/step | sampling ms/batch | sampling share |', '| --- | --- | --- | ---: | ---: |');
    for (const run of tfjsMain) {
      const r = run.report!;
      const loop = r.loopMsPerStep as PeerReport['msPerStep'];
      const sampling = r.samplingMsPerBatch as PeerReport['msPerStep'];
      lines.push(`| ${run.peer} | ${run.options.shared ? 'shared' : 'per step'} | ${fmt(loop?.median)} | ` +
        `${fmt(sampling?.median, 2)} | ${fmt(100 * (r.samplingShare as number), 1)}% |`);
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
  } as ChartSpec;
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
