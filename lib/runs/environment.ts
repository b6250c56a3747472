/**
 * Where a run ran, recorded in its run.json: two runs with the same seed give
 * the same history on the same machine and engine, but float results differ
 * in the last bits between CPUs (AVX2 or AVX-512 kernels), libtensorflow
 * versions and oneDNN settings, so these are part of the record.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import path from 'node:path';
import { tf, backend } from '../tf';
import { readCpuFlags, tensorflowOnednn, tensorflowThreads, type TensorflowThreads } from './cpu';

/** Environment variables that change what TensorFlow computes or how fast. */
const TF_VARIABLE = /^(TF_|OMP_|MKL_|ONEDNN_|DNNL_|CRNN_BACKEND$)/;

/** The machine and software a run ran on. */
export interface RunEnvironment {
  node: string;
  /** tfjs-core's version. */
  tfjs: string;
  /** The native TensorFlow library's version, when the native backend is in use. */
  libtensorflow: string | null;
  /** The tfjs backend: 'tensorflow' (native) or 'cpu' (pure JavaScript). */
  backend: string;
  cpu: {
    model: string;
    /** The CPU_FEATURES (lib/runs/cpu.ts) this CPU has (from /proc/cpuinfo; empty elsewhere). */
    flags: string[];
    /** Cores Node may use. */
    cores: number;
  };
  /** TF_*, OMP_*, MKL_*, ONEDNN_* and DNNL_* variables that were set. */
  tfEnvironment: Record<string, string>;
  /** TensorFlow's thread pools (a sweep running runs at once gives each a share of the cores). */
  threads?: TensorflowThreads;
  /** The machine's host name. */
  hostname?: string;
  /** The Ray node that ran the run, when a sweep ran it on a Ray cluster (cluster/ray_sweep.py). */
  rayNode?: RayNode;
  /** The project's git commit, with '-dirty' for uncommitted changes; null outside a checkout. */
  gitCommit: string | null;
  platform: string;
}

function gitCommit(): string | null {
  // dist/lib/runs/environment.js → the project root, three levels up.
  const root = path.resolve(__dirname, '..', '..', '..');
  try {
    const git = (args: string[]) => execFileSync('git', ['-C', root, ...args], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000,
    }).trim();
    const commit = git(['rev-parse', 'HEAD']);
    return git(['status', '--porcelain', '--untracked-files=no']) === '' ? commit : `${commit}-dirty`;
  } catch {
    return null;
  }
}

/** A node of a Ray cluster: its id and address, as Ray names them. */
export interface RayNode {
  id: string;
  ip: string;
}

/** The variables through which a Ray task tells the trainer its node (cluster/ray_sweep.py sets them). */
export const RAY_NODE_VARIABLES = { id: 'CRNN_RAY_NODE_ID', ip: 'CRNN_RAY_NODE_IP' } as const;

function rayNode(env: NodeJS.ProcessEnv): RayNode | undefined {
  const id = env[RAY_NODE_VARIABLES.id];
  return id ? { id, ip: env[RAY_NODE_VARIABLES.ip] ?? 'unknown' } : undefined;
}

let machine: Omit<RunEnvironment, 'tfEnvironment' | 'threads' | 'rayNode'> | undefined;

/**
 * Describes this process's machine and software. The parts that cannot change
 * while the process runs (git is asked once) are computed on the first call.
 */
export function describeEnvironment(): RunEnvironment {
  if (!machine) {
    const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
    machine = {
      node: process.version,
      tfjs: tf.version['tfjs-core'],
      libtensorflow: backend.native ? binding?.TF_Version ?? null : null,
      backend: backend.name,
      cpu: { model: os.cpus()[0]?.model ?? 'unknown', flags: readCpuFlags(), cores: os.availableParallelism() },
      gitCommit: gitCommit(),
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      hostname: os.hostname(),
    };
  }
  const tfEnvironment = Object.fromEntries(Object.entries(process.env)
    .filter((entry): entry is [string, string] => TF_VARIABLE.test(entry[0]) && entry[1] !== undefined)
    .sort(([a], [b]) => a.localeCompare(b)));
  const node = rayNode(process.env);
  return {
    ...machine, tfEnvironment,
    threads: backend.native
      ? tensorflowThreads(process.env, machine.cpu.cores)
      : { intraOp: 1, interOp: 1, source: 'pure-JavaScript backend: one thread' },
    ...(node ? { rayNode: node } : {}),
  };
}

/**
 * The native library behind the backend, in words, for the first line of a
 * run: the libtensorflow version (2.15.1 is the tested one) and whether its
 * oneDNN kernels run, 'libtensorflow 2.15.1, oneDNN on'; on the
 * pure-JavaScript fallback, why it is in use.
 */
export function describeNativeLibrary(): string {
  if (!backend.native) return backend.fallbackReason ?? 'no native library';
  const env = describeEnvironment();
  const onednn = tensorflowOnednn(env.tfEnvironment.TF_ENABLE_ONEDNN_OPTS, env.cpu.flags).on;
  return `libtensorflow ${env.libtensorflow ?? 'of unknown version'}, oneDNN ${onednn ? 'on' : 'off'}`;
}
