/**
 * The CPU features that decide which TensorFlow kernels run, and whether
 * TensorFlow turns its oneDNN kernels on. Pure functions over the text of
 * /proc/cpuinfo, and no TensorFlow import, so that the benchmark's driver can
 * use them without loading libtensorflow.
 */
import { readFileSync } from 'node:fs';

/** The CPU features that decide which TensorFlow kernels run. */
export const CPU_FEATURES = [
  'sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'avx_vnni', 'amx_tile',
  'amx_bf16', 'amx_int8',
] as const;

/** The CPU_FEATURES named on the first `flags` line of /proc/cpuinfo's text, in CPU_FEATURES's order. */
export function cpuFlagsFrom(cpuinfo: string): string[] {
  const line = /^flags\s*:\s*(.*)$/m.exec(cpuinfo);
  const flags = new Set(line ? line[1].trim().split(/\s+/) : []);
  return CPU_FEATURES.filter((f) => flags.has(f));
}

/** This machine's CPU_FEATURES (empty where /proc/cpuinfo does not exist). */
export function readCpuFlags(): string[] {
  try {
    return cpuFlagsFrom(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return [];
  }
}

/** The vector and matrix units that set a CPU's float throughput. */
export interface CpuUnits {
  avx2: boolean;
  /** AVX-512 Foundation. */
  avx512: boolean;
  /** Advanced Matrix Extensions (tiles). */
  amx: boolean;
}

export function cpuUnits(flags: readonly string[]): CpuUnits {
  return { avx2: flags.includes('avx2'), avx512: flags.includes('avx512f'), amx: flags.includes('amx_tile') };
}

/**
 * Whether TensorFlow (2.9 and later, Linux x86) turns its oneDNN kernels on
 * when TF_ENABLE_ONEDNN_OPTS is not set: only on CPUs with
 * neural-network features (IsMklEnabled in tensorflow/core/util/util.cc).
 */
export function tensorflowOnednnDefault(flags: readonly string[]): boolean {
  return ['avx512_vnni', 'avx512_bf16', 'avx_vnni', 'amx_tile', 'amx_int8', 'amx_bf16'].some((f) => flags.includes(f));
}

/** oneDNN in TensorFlow as a value of TF_ENABLE_ONEDNN_OPTS and the CPU decide it. */
export interface OnednnState {
  on: boolean;
  /** 'set': by TF_ENABLE_ONEDNN_OPTS; 'default': TensorFlow's default for this CPU (unset or unreadable value). */
  source: 'set' | 'default';
}

/**
 * TensorFlow's reading of TF_ENABLE_ONEDNN_OPTS (ReadBoolFromEnvVar: '0',
 * 'false', '1' or 'true', in any case, untrimmed); anything else, or nothing, leaves the
 * default for the CPU (see `tensorflowOnednnDefault`).
 */
export function tensorflowOnednn(setting: string | undefined | null, flags: readonly string[]): OnednnState {
  const value = setting?.toLowerCase();
  if (value === '1' || value === 'true') return { on: true, source: 'set' };
  if (value === '0' || value === 'false') return { on: false, source: 'set' };
  return { on: tensorflowOnednnDefault(flags), source: 'default' };
}

/** The sizes of TensorFlow's two thread pools in a process, and where they come from. */
export interface TensorflowThreads {
  /** Threads that share the work of one op (matrix products, convolutions). */
  intraOp: number;
  /** Threads that run independent ops at once. */
  interOp: number;
  /** The environment variables that set them, or TensorFlow's default. */
  source: string;
}

/**
 * TensorFlow's thread pools in a process with this environment
 * (tensorflow/core/common_runtime/process_util.cc): TF_NUM_INTRAOP_THREADS
 * and TF_NUM_INTEROP_THREADS when positive integers, else the CPUs the
 * process may run on, for each pool.
 */
export function tensorflowThreads(env: NodeJS.ProcessEnv, schedulableCpus: number): TensorflowThreads {
  const read = (name: string) => {
    const value = env[name];
    const n = value !== undefined && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : NaN;
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };
  const intra = read('TF_NUM_INTRAOP_THREADS');
  const inter = read('TF_NUM_INTEROP_THREADS');
  const source = intra !== undefined || inter !== undefined
    ? `TF_NUM_INTRAOP_THREADS=${env.TF_NUM_INTRAOP_THREADS ?? '–'}, TF_NUM_INTEROP_THREADS=${env.TF_NUM_INTEROP_THREADS ?? '–'}` +
      (intra === undefined || inter === undefined ? `; otherwise the ${schedulableCpus} schedulable CPUs` : '')
    : `TensorFlow's default: the ${schedulableCpus} schedulable CPUs`;
  return { intraOp: intra ?? schedulableCpus, interOp: inter ?? schedulableCpus, source };
}

/** The environment variables that give a process `threads` threads in each of TensorFlow's pools. */
export function tensorflowThreadEnvironment(threads: number): Record<string, string> {
  return { TF_NUM_INTRAOP_THREADS: String(threads), TF_NUM_INTEROP_THREADS: String(threads) };
}

/**
 * TensorFlow threads for each of `jobs` processes sharing `cores` CPUs: an
 * equal share, at least one (more jobs than cores share cores instead).
 */
export function threadsPerJob(cores: number, jobs: number): number {
  return Math.max(1, Math.floor(cores / jobs));
}
