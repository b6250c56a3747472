/** Random batches, the image indices of a run's batches, and weight copies for the engine tests. */
import type * as tfTypes from '@tensorflow/tfjs';
import { tf } from '../../lib/tf';
import { buildCrnn } from '../../lib/model/build';
import { drawSequenceIndices } from '../../lib/data/sequences';
import { createRng } from '../../lib/random';
import type { CrnnConfig, DigitSet } from '../../lib/types';

/** xs [batchSize, T, h, w, 1] uniform in [0, 1) and one-hot ys of random classes, shaped for `model`, seeded. */
export function randomBatch(model: tfTypes.LayersModel, batchSize: number, seed: number): [tfTypes.Tensor5D, tfTypes.Tensor2D] {
  const [, seqLength, height, width] = model.inputs[0].shape as number[];
  const numClasses = model.outputs[0].shape[1] as number;
  return tf.tidy(() => [
    tf.randomUniform<tfTypes.Rank.R5>([batchSize, seqLength, height, width, 1], 0, 1, 'float32', seed),
    tf.oneHot(tf.randomUniform<tfTypes.Rank.R1>([batchSize], 0, numClasses, 'int32', seed + 1), numClasses)
      .toFloat() as tfTypes.Tensor2D,
  ]);
}

/** `count` batches of image indices of `set`, one after another, as trainSteps draws them with `seed`. */
export function drawnIndices(set: DigitSet, count: number, batchSize: number, seqLength: number, seed: number): Int32Array[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => drawSequenceIndices(set.count, batchSize, seqLength, rng));
}

/**
 * A model of `config` holding copies of the weights (trainable and not) of
 * `model`, which has the same layers with weights.
 */
export function twin(model: tfTypes.LayersModel, config: Partial<CrnnConfig>): tfTypes.LayersModel {
  const copy = buildCrnn(config);
  // getWeights gives the variables themselves; copies keep the twin apart.
  copy.setWeights(model.getWeights().map((w) => w.clone()));
  return copy;
}

export function maxAbsDiff(a: tfTypes.Tensor, b: tfTypes.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

export function maxAbs(a: tfTypes.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
}
