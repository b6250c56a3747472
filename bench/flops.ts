/**
 * The arithmetic of one training step, from the model's configuration, and
 * the speed limit it implies on a CPU whose sgemm speed is known.
 *
 * Counted: the multiply-adds of the convolutions, the dense layers and the
 * recurrent layer (2 FLOP each). Not counted: biases, activations, pooling,
 * the loss and Adam, which are a few FLOP per value, not per weight. A
 * training step is taken as 3× the forward pass (the backward pass computes
 * the gradient of each layer's input and of its weights, each as costly as
 * the forward product); the first convolution needs no input gradient, so
 * this overstates the work a little (by 4% for the default model, T = 2).
 */
import { resolveCrnnConfig } from '../lib/config';
import type { CrnnConfig } from '../lib/types';

/** Forward FLOP per sample, by layer group. */
export interface FlopCount {
  /** Each CNN: conv1, conv2 and the dense layer on the pooled maps, times the time steps. */
  conv1: number;
  conv2: number;
  dense: number;
  /** The recurrent layer over all time steps (input and recurrent products, every gate). */
  rnn: number;
  /** The output layer. */
  head: number;
  /** The sum of the above: one sample, forward only. */
  forward: number;
  /** 3 × forward: one sample of a training step. */
  training: number;
}

/**
 * FLOP per sample of `config` (the library's defaults fill what is missing).
 * With `sharedCnn` the work is the same: one CNN runs on every time step.
 */
export function trainingFlopsPerSample(config: Partial<CrnnConfig> = {}): FlopCount {
  const c = resolveCrnnConfig(config);
  const [f1, f2] = c.filters;
  const T = c.seqLength;
  // 'same' 3×3 convolutions: one output per input pixel; 2×2 pooling with stride 2 floors.
  const h1 = Math.floor(c.height / 2);
  const w1 = Math.floor(c.width / 2);
  const h2 = Math.floor(h1 / 2);
  const w2 = Math.floor(w1 / 2);
  const conv1 = T * 2 * c.height * c.width * f1 * 9 * 1;
  const conv2 = T * 2 * h1 * w1 * f2 * 9 * f1;
  const dense = T * 2 * h2 * w2 * f2 * c.denseUnits;
  const gates = { simple: 1, gru: 3, lstm: 4 }[c.cell];
  const rnn = T * 2 * gates * (c.denseUnits * c.hiddenSize + c.hiddenSize * c.hiddenSize);
  const head = 2 * c.hiddenSize * c.numClasses;
  const forward = conv1 + conv2 + dense + rnn + head;
  return { conv1, conv2, dense, rnn, head, forward, training: 3 * forward };
}

/** GFLOP/s of an n×n by n×n matrix product that took `seconds` (2n³ FLOP). */
export function sgemmGflops(n: number, seconds: number): number {
  return (2 * n ** 3) / seconds / 1e9;
}

/** The fastest a step of `batchSize` samples can be at `gflops`: its FLOP at sgemm speed, in ms. */
export function limitMsPerStep(flopsPerSample: number, batchSize: number, gflops: number): number {
  return (flopsPerSample * batchSize) / (gflops * 1e9) * 1000;
}

/** The share of the limit a peer reaches: limit ms / the peer's ms (1 = at the limit). */
export function shareOfLimit(limitMs: number, peerMs: number): number {
  return limitMs / peerMs;
}

/**
 * Each value's ratio to the smallest (the best ms/step): 1 for the best, 2
 * for twice its time. Missing values stay missing.
 */
export function ratiosToBest(msPerStep: readonly (number | undefined)[]): (number | undefined)[] {
  const valid = msPerStep.filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
  if (valid.length === 0) return msPerStep.map(() => undefined);
  const best = Math.min(...valid);
  return msPerStep.map((v) => (v !== undefined && Number.isFinite(v) && v > 0 ? v / best : undefined));
}
