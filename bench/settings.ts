/**
 * What decides the speed of a peer besides its code: the CPU's vector units,
 * oneDNN, and the threads. The environment every peer gets, and the reading
 * of it on the TensorFlow side. Pure functions; no TensorFlow import.
 */
import { tensorflowOnednn } from '../lib/runs/cpu';
import type { OnednnReport } from './protocol';

/** The settings the bench pins for every peer. */
export interface PinnedSettings {
  /** TF_ENABLE_ONEDNN_OPTS=1 (true) or 0 (false) in every peer's environment. */
  onednn: boolean;
  /** Threads per pool for every framework; 0 keeps each framework's default. */
  threads: number;
}

/**
 * The environment of every peer process (and of the sgemm probe): the
 * caller's, with one oneDNN setting for all (TensorFlow reads
 * TF_ENABLE_ONEDNN_OPTS; PyTorch and numpy ignore it) and, with a thread
 * count, that count for TensorFlow's pools and for the BLAS of numpy's probe
 * (the peers also apply --threads themselves). TensorFlow's C++ logs stay at
 * warnings unless the caller chose a level.
 */
export function peerEnvironment(base: NodeJS.ProcessEnv, pinned: PinnedSettings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    TF_CPP_MIN_LOG_LEVEL: base.TF_CPP_MIN_LOG_LEVEL ?? '2',
    TF_ENABLE_ONEDNN_OPTS: pinned.onednn ? '1' : '0',
  };
  if (pinned.threads > 0) {
    const names = ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'];
    for (const name of names) env[name] = String(pinned.threads);
  }
  return env;
}

// The reading of the thread variables is the runs' too (run.json records it).
export { tensorflowThreads } from '../lib/runs/cpu';

/** oneDNN in a process that loaded libtensorflow with this TF_ENABLE_ONEDNN_OPTS, on a CPU with these flags. */
export function tensorflowOnednnReport(setting: string | undefined, cpuFlags: readonly string[]): OnednnReport {
  const state = tensorflowOnednn(setting, cpuFlags);
  return {
    setting: setting ?? null,
    on: state.on,
    source: state.source === 'set'
      ? 'TF_ENABLE_ONEDNN_OPTS'
      : `TensorFlow's default for this CPU (on only with AVX-512 VNNI/BF16, AVX-VNNI or AMX)`,
  };
}
