/**
 * An exponential moving average of the trainable weights, evaluated in
 * place of the weights as trained (TrainConfig.emaDecay). After training
 * step t (t = 1, 2, …, counted from the start of the average):
 *
 *   average ← average − α_t·(average − w),   α_t = (1 − d) / (1 − d^t)
 *
 * which keeps average = Σ_{i≤t} d^{t−i}·w_i / Σ_{i≤t} d^{t−i}: the weights
 * after each step so far, each step older weighing d times less. The
 * divisor corrects the bias towards the start, as Adam corrects its moments:
 * α_1 = 1, so the first average is the first step's weights, and the early
 * evaluations of a run are not pulled back towards its initial weights.
 *
 * Both engines update the same way: the eager one with `WeightAverage`, the
 * graph with one ResourceApplyGradientDescent per weight (lib/graph/build.ts,
 * `movingAverage`), each at the rate `emaRate` gives for the step.
 */
import { tf } from '../tf';
import type * as tfTypes from '@tensorflow/tfjs';

/**
 * Checks a decay of the moving average.
 * @throws Error unless it is a number in [0, 1).
 */
export function checkEmaDecay(decay: number): void {
  if (!(typeof decay === 'number' && decay >= 0 && decay < 1)) {
    throw new Error(`emaDecay must be a number in [0, 1), got ${String(decay)}`);
  }
}

/**
 * α_t = (1 − d) / (1 − d^t), the rate at which the average moves to the
 * weights after step `step` (t, 1-based); 1 at the first step.
 * @throws Error for an invalid decay or a step that is not an integer >= 1.
 */
export function emaRate(decay: number, step: number): number {
  checkEmaDecay(decay);
  if (!Number.isInteger(step) || step < 1) throw new Error(`the moving average's step must be an integer >= 1, got ${step}`);
  return (1 - decay) / (1 - decay ** step);
}

/**
 * Writes `values` into the model's trainable weights, in
 * `model.trainableWeights` order; the caller keeps `values`.
 */
export function writeTrainableWeights(model: tfTypes.LayersModel, values: readonly tfTypes.Tensor[]): void {
  if (values.length !== model.trainableWeights.length) {
    throw new Error(`the model has ${model.trainableWeights.length} trainable weights; got ${values.length} values`);
  }
  model.trainableWeights.forEach((w, i) => w.write(values[i]));
}

/**
 * The moving average of a model's trainable weights on the eager engine:
 * variables beside the model's, which `update` moves after each step.
 *
 *   const average = new WeightAverage(model, 0.999);
 *   …a training step…; average.update();
 *   average.evaluate(() => measure(model));   // on the averaged weights
 *   average.writeToModel(); average.dispose();
 */
export class WeightAverage {
  /** One per trainable weight, in `model.trainableWeights` order. */
  private readonly averages: tfTypes.Variable[];
  /** Steps averaged so far, t. */
  private count = 0;

  /**
   * Starts an average of the model's trainable weights as they are now.
   * @throws Error for an invalid decay.
   */
  constructor(private readonly model: tfTypes.LayersModel, readonly decay: number) {
    checkEmaDecay(decay);
    // Variables own their values: tfjs assigns by replacing a variable's data, never by writing into it.
    this.averages = model.trainableWeights.map((w) => tf.variable(w.read(), false));
  }

  /** Steps averaged so far. */
  get steps(): number {
    return this.count;
  }

  /** Moves the average to the model's current weights, as after step t + 1. */
  update(): void {
    const rate = emaRate(this.decay, this.count + 1);
    tf.tidy(() => {
      const alpha = tf.scalar(rate);
      // average − (average − w)·α, in the order of TensorFlow's ResourceApplyGradientDescent.
      this.averages.forEach((average, i) => {
        average.assign(tf.sub(average, tf.mul(tf.sub(average, this.model.trainableWeights[i].read()), alpha)));
      });
    });
    this.count++;
  }

  /** The averages, in `model.trainableWeights` order; they stay owned by this object. */
  get values(): readonly tfTypes.Tensor[] {
    return this.averages;
  }

  /** Runs `measure` with the model's trainable weights set to the averages, then puts the weights back. */
  evaluate<T>(measure: () => T): T {
    const trained = this.model.trainableWeights.map((w) => tf.clone(w.read()));
    try {
      writeTrainableWeights(this.model, this.averages);
      return measure();
    } finally {
      writeTrainableWeights(this.model, trained);
      tf.dispose(trained);
    }
  }

  /** Sets the model's trainable weights to the averages. */
  writeToModel(): void {
    writeTrainableWeights(this.model, this.averages);
  }

  dispose(): void {
    tf.dispose(this.averages);
  }
}
