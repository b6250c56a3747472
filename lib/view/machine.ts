/**
 * What a notebook says about where it runs: the machine and software in its
 * header (`environmentSummary`), and whose tensors are in memory at its end
 * (`tensorCensus`), which is how a notebook shows that it leaks none.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { RunEnvironment } from '../runs/environment';

/** The settings `environmentSummary` names: those that change TensorFlow's kernels or threads. */
const SPEED_SETTINGS = /^(TF_ENABLE_ONEDNN_OPTS|TF_NUM_INTRAOP_THREADS|TF_NUM_INTEROP_THREADS|OMP_NUM_THREADS|CRNN_BACKEND)$/;

/**
 * The machine and software of a run, in two lines, for a notebook's header:
 * the CPU (model, cores, the features that pick TensorFlow's kernels) and the
 * versions of Node, TensorFlow.js and libtensorflow, with the settings that
 * change kernels or threads (oneDNN, thread counts).
 */
export function environmentSummary(env: RunEnvironment): string {
  const features = env.cpu.flags.length > 0 ? `; ${env.cpu.flags.join(', ')}` : '';
  const native = env.libtensorflow !== null ? `, libtensorflow ${env.libtensorflow}` : '';
  const settings = Object.entries(env.tfEnvironment).filter(([k]) => SPEED_SETTINGS.test(k)).map(([k, v]) => `${k}=${v}`);
  return [
    `CPU: ${env.cpu.model.trim()}, ${env.cpu.cores} core${env.cpu.cores === 1 ? '' : 's'}${features} (${env.platform})`,
    `software: Node ${env.node}, TensorFlow.js ${env.tfjs}${native}, ${env.backend} backend` +
      (settings.length > 0 ? `; ${settings.join(' ')}` : ''),
  ].join('\n');
}

/** What the tensors in memory belong to (see `tensorCensus`). */
export interface TensorCensus {
  /** All tensors tfjs holds (`tf.memory().numTensors`). */
  total: number;
  /** The model's weight tensors. */
  weights: number;
  /** Tensors the model's optimiser holds (Adam: two moments per weight and its running powers of β1 and β2). */
  optimizer: number;
  /** The rest: tensors neither the model nor its optimiser holds. */
  other: number;
  /** The counts in one line: '53 tensors: 17 weights, 36 optimiser state, 0 other'. */
  text: string;
}

const isTensor = (v: unknown): v is tfTypes.Tensor =>
  typeof v === 'object' && v !== null && 'dataId' in v && 'isDisposed' in v && !(v as tfTypes.Tensor).isDisposed;

/** The live tensors an optimiser holds in its fields: tensors, and arrays of tensors or of { variable }. */
function optimizerTensors(optimizer: object | undefined): number {
  if (!optimizer) return 0;
  let count = 0;
  for (const value of Object.values(optimizer)) {
    if (isTensor(value)) count++;
    else if (Array.isArray(value)) {
      for (const item of value) {
        if (isTensor(item) || isTensor((item as { variable?: unknown } | null)?.variable)) count++;
      }
    }
  }
  return count;
}

/**
 * Counts the tensors in memory and says whose they are: `model`'s weights, its
 * optimiser's state, and the rest. After training and freeing every batch the
 * rest should be 0; a tensor there is a leak, or a cache someone keeps.
 */
export function tensorCensus(model?: tfTypes.LayersModel): TensorCensus {
  // Loaded on use: the rest of the view needs no TensorFlow.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { tf } = require('../tf') as typeof import('../tf');
  const total = tf.memory().numTensors;
  const weights = model ? model.weights.length : 0;
  const optimizer = optimizerTensors(model?.optimizer);
  const other = total - weights - optimizer;
  return {
    total, weights, optimizer, other,
    text: `${total} tensors: ${weights} weights, ${optimizer} optimiser state, ${other} other`,
  };
}
