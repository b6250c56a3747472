/**
 * What every peer of the benchmark agrees on: the command line each peer takes
 * (the Python scripts in bench/peers/ parse the same flags in common.py) and
 * the JSON report each one prints on stdout.
 *
 * Protocol:
 * - throughput: `poolSize` batches are sampled before timing and stay in
 *   memory; `warmup` untimed steps, then `repeats` timed blocks of `steps`
 *   steps; every step returns its loss to the host. ms/step is the median of
 *   the blocks, min and max give the spread.
 * - to-target: a fresh batch per step; every `evalEvery` steps the accuracy on
 *   a fixed, seeded set of `evalSize` test sequences; stop at `target` or
 *   after `steps` steps (the cap).
 * - tiny: throughput with a handful of steps, to check that everything runs.
 * - T = 1 (throughput and tiny only): the label is the difference with a
 *   second digit of 0, so that the model keeps its 19 classes.
 */
import { Command, InvalidArgumentError } from 'commander';

export type BenchMode = 'throughput' | 'to-target' | 'tiny';
export const BENCH_MODES: readonly BenchMode[] = ['throughput', 'to-target', 'tiny'];

/** Settings of one peer run. */
export interface PeerOptions {
  mode: BenchMode;
  batchSize: number;
  seqLength: number;
  /** Timed steps per repeat (throughput) or the step cap (to-target). */
  steps: number;
  warmup: number;
  repeats: number;
  /** One CNN shared over the time steps instead of one per step. */
  shared: boolean;
  /** Intra-op threads; 0 keeps the framework's default. */
  threads: number;
  target: number;
  evalEvery: number;
  evalSize: number;
  /** Batches kept in memory for the throughput mode. */
  poolSize: number;
  seed: number;
}

/** Defaults per mode, the same as common.py's. */
export function modeDefaults(mode: BenchMode): Pick<PeerOptions, 'steps' | 'warmup' | 'repeats'> {
  if (mode === 'tiny') return { steps: 3, warmup: 1, repeats: 2 };
  return { steps: mode === 'to-target' ? 10000 : 50, warmup: 10, repeats: 5 };
}

/** Median, min and max of a list of block times. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** ms/step of each timed block, in order. */
  repeats: number[];
}

export interface EvalPoint { step: number; loss: number; accuracy: number; }

/** The CPU as a peer's process sees it (/proc/cpuinfo). */
export interface CpuReport {
  model: string;
  /** The CPU_FEATURES of lib/runs/cpu.ts it has. */
  flags: string[];
}

/** oneDNN as it runs in a peer's process. */
export interface OnednnReport {
  /** TF_ENABLE_ONEDNN_OPTS in the peer's process (for tfjs-node: after lib/tf.ts set it); null when unset. */
  setting: string | null;
  /** Whether oneDNN kernels run; null when the peer cannot tell. */
  on: boolean | null;
  /** Where `on` comes from: the framework's own answer, or TensorFlow's rule applied to the setting and the CPU. */
  source: string;
}

/** The thread pools in a peer's process. */
export interface ThreadsReport {
  /** Threads of one op (TensorFlow's intra-op pool, torch.get_num_threads()). */
  intraOp: number | null;
  /** Threads that run independent ops at once (TensorFlow's inter-op pool, torch.get_num_interop_threads()). */
  interOp: number | null;
  /** Where the numbers come from: the flag, an environment variable, or the framework's default. */
  source: string;
}

/** What an sgemm probe prints (bench/peers/sgemm_numpy.py, bench/peers/sgemm-tfjs.ts). */
export interface SgemmReport {
  /** 'numpy' or 'tfjs'. */
  probe: string;
  /** The library and version that multiplied. */
  library: string;
  /** The matrices are n × n float32. */
  n: number;
  repeats: number;
  /** Seconds of each timed product. */
  seconds: number[];
  bestSeconds: number;
  /** 2n³ / bestSeconds, in GFLOP/s. */
  gflops: number;
  /** Threads the probe was limited to; null: the library's default. */
  threads: number | null;
}

/** The JSON object a peer prints. Fields after `peakRssMb` depend on the mode. */
export interface PeerReport {
  peer: string;
  framework: string;
  version: string;
  mode: BenchMode;
  variant: 'per-step' | 'shared';
  batchSize: number;
  seqLength: number;
  threads: number;
  /** Trainable parameters of the model. */
  params: number;
  warmup: number;
  steps: number;
  repeats: number;
  /** Time to build (and compile) the model. */
  buildMs: number;
  /**
   * Peak resident memory of the peer's process when its timed steps end.
   * (The tfjs-node peer goes on to build further trainers for its extra
   * tables; its `processPeakRssMb` is the peak with those.)
   */
  peakRssMb: number;
  /** What decides the speed, as the peer's process saw it (reports before these fields existed lack them). */
  cpu?: CpuReport;
  onednn?: OnednnReport;
  threadsInUse?: ThreadsReport;
  // throughput and tiny
  msPerStep?: Spread;
  /** CPU time of all the peer's threads per step: steadier than wall time on a busy machine. */
  cpuMsPerStep?: Spread;
  samplesPerSec?: number;
  finalLoss?: number;
  // to-target
  target?: number;
  reached?: boolean;
  stepsToTarget?: number | null;
  secondsToTarget?: number | null;
  trainSeconds?: number;
  evalSeconds?: number;
  finalAccuracy?: number | null;
  evals?: EvalPoint[];
  // anything else a peer adds (the TypeScript side: loop timing, sampling cost)
  [extra: string]: unknown;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function spreadOf(blockMs: readonly number[]): Spread {
  return { median: median(blockMs), min: Math.min(...blockMs), max: Math.max(...blockMs), repeats: [...blockMs] };
}

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
    return n;
  };
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a number in (0, 1], got "${value}"`);
  return n;
}

/**
 * Parses a peer's command line (the flags of common.py, in the same spelling).
 * @throws via commander's exit when a flag is malformed.
 */
export function parsePeerArgs(argv: readonly string[], description: string): PeerOptions {
  const program = new Command()
    .description(description)
    .option('--mode <mode>', `one of ${BENCH_MODES.join(', ')}`, 'throughput')
    .option('--batch-size <n>', 'sequences per batch', integer(1), 128)
    .option('--seq-length <n>', 'images per sequence (>= 2 for to-target: the difference needs two digits)', integer(1), 2)
    .option('--steps <n>', 'timed steps per repeat (throughput) or step cap (to-target)', integer(1))
    .option('--warmup <n>', 'untimed steps first', integer(0))
    .option('--repeats <n>', 'timed blocks', integer(1))
    .option('--shared', 'one CNN shared over the time steps', false)
    .option('--threads <n>', 'intra-op threads; 0: the default', integer(0), 0)
    .option('--target <accuracy>', 'accuracy to reach in to-target mode', fraction, 0.98)
    .option('--eval-every <n>', 'steps between evaluations', integer(1), 100)
    .option('--eval-size <n>', 'sequences in the fixed evaluation set', integer(1), 10000)
    .option('--pool-size <n>', 'batches kept in memory for throughput', integer(1), 8)
    .option('--seed <n>', 'random seed', integer(0), 42)
    .exitOverride()
    .parse([...argv], { from: 'user' });
  // The flags as commander parsed them: the mode unchecked, the counts without their mode's default.
  const o = program.opts<Omit<PeerOptions, 'mode' | 'steps' | 'warmup' | 'repeats'> & {
    mode: string; steps?: number; warmup?: number; repeats?: number;
  }>();
  const mode = o.mode as BenchMode;
  if (!BENCH_MODES.includes(mode)) {
    throw new Error(`--mode must be one of ${BENCH_MODES.join(', ')}, got "${o.mode}"`);
  }
  if (mode === 'to-target' && o.seqLength < 2) {
    throw new Error(`--seq-length must be at least 2 for the difference task, got ${o.seqLength}`);
  }
  const defaults = modeDefaults(mode);
  return {
    mode,
    batchSize: o.batchSize,
    seqLength: o.seqLength,
    steps: o.steps ?? defaults.steps,
    warmup: o.warmup ?? defaults.warmup,
    repeats: o.repeats ?? defaults.repeats,
    shared: Boolean(o.shared),
    threads: o.threads,
    target: o.target,
    evalEvery: o.evalEvery,
    evalSize: o.evalSize,
    poolSize: o.poolSize,
    seed: o.seed,
  };
}

/** The flags that reproduce `options` on any peer's command line. */
export function peerArgs(options: PeerOptions): string[] {
  const args = [
    '--mode', options.mode,
    '--batch-size', String(options.batchSize),
    '--seq-length', String(options.seqLength),
    '--steps', String(options.steps),
    '--warmup', String(options.warmup),
    '--repeats', String(options.repeats),
    '--threads', String(options.threads),
    '--target', String(options.target),
    '--eval-every', String(options.evalEvery),
    '--eval-size', String(options.evalSize),
    '--pool-size', String(options.poolSize),
    '--seed', String(options.seed),
  ];
  if (options.shared) args.push('--shared');
  return args;
}
