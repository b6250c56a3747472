/**
 * Dropout whose masks follow from a seed and the training step, the same on
 * the eager engine and in the graph (lib/graph/layers.ts):
 *
 *   u    = StatelessRandomUniform(shape, [seed, step])   in [0, 1)
 *   mask = floor(u + keep) · (1 / keep),   keep = 1 − rate
 *   y    = x · mask                        (training steps only; else y = x)
 *
 * A unit is kept with probability `keep` and scaled by 1/keep, as tf.dropout
 * does. tfjs's own Dropout layer draws a fresh unseeded mask per call, or,
 * given a seed, the very same mask at every step; here the layer's `seed`
 * (derived from the run's seed and the layer's name by `buildCrnn`) and the
 * step number (Adam's step count, set by the training step before each step)
 * decide the mask: the same run seed gives the same masks.
 *
 * StatelessRandomUniform is TensorFlow's counter-based generator (Philox):
 * on the native backend the eager layer runs that very op, so both engines
 * draw identical masks for a step. On the other backends (pure JavaScript,
 * or a browser's), which have no such op, the mask comes from tf.randomUniform seeded by [seed, step]:
 * still reproducible, but other numbers.
 */
import * as tf from '@tensorflow/tfjs';
import type * as tfTypes from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** The part of tfjs-node's backend used to run one TensorFlow op eagerly. */
interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number; TF_INT32: number };
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: number }[], inputs: tfTypes.Tensor[]): tfTypes.Tensor;
}

/** tfjs-node's backend when it is the active one (lib/tf.ts loads it in Node), else undefined. */
function nativeBackend(): NativeBackend | undefined {
  if (tf.getBackend() !== 'tensorflow') return undefined;
  const active = tf.backend() as unknown as Partial<NativeBackend>;
  return active.binding !== undefined && typeof active.executeSingleOutput === 'function'
    ? active as NativeBackend : undefined;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function isInt32(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= INT32_MIN && (value as number) <= INT32_MAX;
}

/**
 * Uniform noise in [0, 1) of `shape` from the stateless generator keyed by
 * `seed` = [a, b] (two int32s): the same key gives the same numbers.
 */
export function statelessUniform(shape: number[], seed: [number, number]): tfTypes.Tensor {
  if (seed.length !== 2 || !seed.every((v) => isInt32(v))) {
    throw new Error(`statelessUniform: the seed must be two int32 values, got [${seed.join(', ')}]`);
  }
  return tf.tidy(() => {
    const native = nativeBackend();
    if (native !== undefined) {
      const { TF_ATTR_TYPE, TF_FLOAT, TF_INT32 } = native.binding;
      return native.executeSingleOutput('StatelessRandomUniform', [
        { name: 'dtype', type: TF_ATTR_TYPE, value: TF_FLOAT },
        { name: 'T', type: TF_ATTR_TYPE, value: TF_INT32 },
        { name: 'Tseed', type: TF_ATTR_TYPE, value: TF_INT32 },
      ], [tf.tensor1d(shape, 'int32'), tf.tensor1d(seed, 'int32')]);
    }
    return tf.randomUniform(shape, 0, 1, 'float32', `${seed[0]}/${seed[1]}`);
  });
}

/** The dropout mask of `u` (uniform noise): 1/keep where floor(u + keep) is 1, else 0. */
export function dropoutMask(u: tfTypes.Tensor, rate: number): tfTypes.Tensor {
  const keep = 1 - rate;
  return tf.tidy(() => tf.mul(tf.floor(tf.add(u, tf.scalar(keep))), tf.scalar(1 / keep)));
}

/**
 * Dropout with seeded masks (see the top of this file). Config: `rate`
 * (0 ≤ rate < 1) and `seed` (an int32). The field `step` picks the mask of
 * the next training call; the training step sets it to Adam's step number,
 * and each training call moves it on by one, so that a plain `model.fit`
 * draws a new mask per batch too. At evaluation and prediction the layer
 * passes its input through.
 */
export class SeededDropout extends tf.layers.Layer {
  static className = 'SeededDropout';
  /** The fraction of units dropped in a training step. */
  readonly rate: number;
  /** The layer's seed: with the step, it decides the masks. */
  readonly seed: number;
  /** The step whose mask the next training call applies. */
  step = 1;

  constructor(args: LayerArgs & { rate: number; seed: number }) {
    super(args);
    if (typeof args.rate !== 'number' || !(args.rate >= 0 && args.rate < 1)) {
      throw new Error(`SeededDropout rate must be a number in [0, 1), got ${String(args.rate)}`);
    }
    if (!isInt32(args.seed)) throw new Error(`SeededDropout seed must be an int32, got ${String(args.seed)}`);
    this.rate = args.rate;
    this.seed = args.seed;
  }

  override computeOutputShape(inputShape: tfTypes.Shape | tfTypes.Shape[]): tfTypes.Shape | tfTypes.Shape[] {
    return inputShape;
  }

  override call(inputs: tfTypes.Tensor | tfTypes.Tensor[], kwargs: Record<string, unknown>): tfTypes.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (kwargs.training !== true || this.rate === 0) return x;
    if (!isInt32(this.step)) throw new Error(`SeededDropout '${this.name}': step must be an int32, got ${String(this.step)}`);
    const step = this.step;
    this.step += 1;
    return tf.tidy(() => {
      const u = statelessUniform(x.shape, [this.seed, step]);
      return tf.mul(x, dropoutMask(u, this.rate));
    });
  }

  override getConfig(): tfTypes.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(SeededDropout);

/**
 * Sets the mask step of every SeededDropout layer of `model` to `step`
 * (Adam's step number of the step about to run).
 */
export function setDropoutStep(model: tfTypes.LayersModel, step: number): void {
  for (const layer of model.layers) {
    if (layer instanceof SeededDropout) layer.step = step;
  }
}
