/**
 * What a run will need, checked before it starts: an impossible setting
 * (`seqLength: 100000`, `evalSize: 1e11`) must fail at once with the memory it
 * would take, not hang for minutes or crash inside a typed-array constructor.
 */
import * as os from 'node:os';
import type { CrnnConfig, TrainConfig } from '../types';
import { expectedParamCount } from '../model/build';
import { EVAL_BATCH_SIZE } from '../data/sequences';

/** Share of the machine's memory a run may plan to use. */
export const MEMORY_SHARE = 0.8;

/** An estimate of a training run's peak memory in bytes, by part. */
export interface MemoryEstimate {
  /** Weights, their gradients, Adam's two moments, and the graph engine's copy. */
  weights: number;
  /** A training batch's input and the activations kept for the backward pass. */
  training: number;
  /** The fixed evaluation set (indices and targets) and one evaluation batch. */
  evaluation: number;
  total: number;
}

/** Floats of one sequence's activations: each image's CNN maps, then the RNN's state. */
function activationsPerSequence(c: CrnnConfig): number {
  const [f1, f2] = c.filters;
  const pixels = c.height * c.width;
  const half = Math.floor(c.height / 2) * Math.floor(c.width / 2);
  const quarter = Math.floor(c.height / 4) * Math.floor(c.width / 4);
  const perImage = pixels + pixels * f1 + half * f1 + half * f2 + quarter * f2 + c.denseUnits;
  const gates = { simple: 1, gru: 3, lstm: 4 }[c.cell];
  return c.seqLength * (perImage + gates * c.hiddenSize);
}

/**
 * Estimates the peak memory of training `crnn` with `train`, from the shapes
 * alone (nothing is allocated). Rough by design, within a factor of about two:
 * it exists to refuse runs that need far more than the machine has.
 */
export function estimateTrainingMemory(crnn: CrnnConfig, train: TrainConfig): MemoryEstimate {
  const float = 4;
  const weights = 6 * float * expectedParamCount(crnn);
  // Forward activations, their gradients, and tfjs's intermediates.
  const training = 3 * float * train.batchSize * activationsPerSequence(crnn);
  const evaluation = float * train.evalSize * (crnn.seqLength + 1) +
    2 * float * Math.min(train.evalSize, EVAL_BATCH_SIZE) * activationsPerSequence(crnn);
  return { weights, training, evaluation, total: weights + training + evaluation };
}

function gigabytes(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GB`;
}

/**
 * Refuses a run whose estimated memory exceeds MEMORY_SHARE of `availableBytes`
 * (the machine's memory by default).
 * @throws Error with the estimate by part and the settings that drive it.
 */
export function checkTrainingMemory(
  crnn: CrnnConfig, train: TrainConfig, availableBytes: number = os.totalmem(),
): void {
  const need = estimateTrainingMemory(crnn, train);
  const limit = MEMORY_SHARE * availableBytes;
  if (need.total > limit) {
    throw new Error(`this run would need about ${gigabytes(need.total)} of memory ` +
      `(weights and Adam state ${gigabytes(need.weights)}, training batch ${gigabytes(need.training)}, ` +
      `evaluation ${gigabytes(need.evaluation)}), more than ${Math.round(100 * MEMORY_SHARE)}% of ` +
      `the ${gigabytes(availableBytes)} available; lower seqLength (${crnn.seqLength}), ` +
      `batchSize (${train.batchSize}) or evalSize (${train.evalSize})` +
      (crnn.sharedCnn ? '' : ', or share one CNN over the steps (sharedCnn)'));
  }
}
