/**
 * The project's custom Keras layers, registered with tf.serialization so that
 * a saved model (model.json) that uses them loads: TimeStepSlice, MaxPool2x2,
 * FoldTime and UnfoldTime here, SeededDropout in ./dropout.ts.
 *
 * The model code (this folder) imports '@tensorflow/tfjs' itself, never
 * lib/tf.ts, which loads tfjs-node: the same code then runs in a browser
 * (demo/) and in Node. In Node it is the one copy of '@tensorflow/tfjs' that
 * tfjs-node extends (lib/tf.ts checks this), so it runs on the backend that
 * lib/tf.ts chose. Importing this module registers every custom layer.
 */
import * as tf from '@tensorflow/tfjs';
import type * as tfTypes from '@tensorflow/tfjs';
// Registers SeededDropout, so that importing this module registers every custom layer.
import './dropout';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** The custom layers below take one input; tfjs may still pass it in a list. */
function onlyShape(inputShape: tfTypes.Shape | tfTypes.Shape[]): tfTypes.Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfTypes.Shape;
}

function onlyInput(inputs: tfTypes.Tensor | tfTypes.Tensor[]): tfTypes.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

/**
 * Picks one time step out of a sequence: [batch, seqLength, ...rest] → [batch, ...rest].
 *
 * tfjs has no Lambda layer, and the functional API needs a layer to slice a
 * symbolic tensor. Registered with tf.serialization so that saved models load.
 */
export class TimeStepSlice extends tf.layers.Layer {
  static className = 'TimeStepSlice';
  /** Index of the time step this layer selects. */
  readonly step: number;

  constructor(args: LayerArgs & { step: number }) {
    super(args);
    if (!Number.isInteger(args.step) || args.step < 0) {
      throw new Error(`TimeStepSlice step must be an integer >= 0, got ${args.step}`);
    }
    this.step = args.step;
  }

  override computeOutputShape(inputShape: tfTypes.Shape | tfTypes.Shape[]): tfTypes.Shape {
    const shape = onlyShape(inputShape);
    const length = shape[1];
    if (length != null && this.step >= length) {
      throw new Error(`TimeStepSlice step ${this.step} is out of range for sequences of length ${length}`);
    }
    return [shape[0], ...shape.slice(2)];
  }

  override call(inputs: tfTypes.Tensor | tfTypes.Tensor[]): tfTypes.Tensor {
    return tf.tidy(() => {
      const x = onlyInput(inputs);
      const begin = x.shape.map((_, axis) => (axis === 1 ? this.step : 0));
      const size = x.shape.map((_, axis) => (axis === 1 ? 1 : -1));
      return tf.squeeze(tf.slice(x, begin, size), [1]);
    });
  }

  override getConfig(): tfTypes.serialization.ConfigDict {
    return { ...super.getConfig(), step: this.step };
  }
}
tf.serialization.registerClass(TimeStepSlice);

/** tf.maxPool(x, 2, 2, 'valid') with the mask gradient described at `MaxPool2x2` below. */
const maxPool2x2 = tf.customGrad(((x: tfTypes.Tensor4D, save: tfTypes.GradSaveFunc) => {
  const y = tf.maxPool(x, 2, 2, 'valid');
  save([x, y]);
  return {
    value: y,
    gradFunc: (dy: tfTypes.Tensor4D, saved: tfTypes.Tensor[]) => {
      const [input, pooled] = saved as [tfTypes.Tensor4D, tfTypes.Tensor4D];
      const [b, h, w, c] = input.shape;
      const [, ho, wo] = pooled.shape;
      // The pooled part of x as [b·ho, 2, wo, 2, c]: window (i, j) is [·, :, j, :, ·].
      const covered = h === 2 * ho && w === 2 * wo ? input : tf.slice(input, 0, [b, 2 * ho, 2 * wo, c]);
      const windows = covered.reshape([b * ho, 2, wo, 2, c]);
      const isMax = tf.equal(windows, pooled.reshape([b * ho, 1, wo, 1, c]));
      const dx = tf.mul(tf.cast(isMax, 'float32'), dy.reshape([b * ho, 1, wo, 1, c]))
        .reshape([b, 2 * ho, 2 * wo, c]);
      return h === 2 * ho && w === 2 * wo ? dx : tf.pad(dx, [[0, 0], [0, h - 2 * ho], [0, w - 2 * wo], [0, 0]]);
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tfTypes.Tensor4D) => tfTypes.Tensor4D;

/**
 * 2×2 max-pooling with stride 2 and 'valid' padding: [b, h, w, c] → [b, ⌊h/2⌋, ⌊w/2⌋, c].
 *
 * The forward pass is tf.maxPool's. The gradient is computed here because
 * TensorFlow's MaxPoolGrad kernel, run op by op as tfjs-node does, is its
 * slow Eigen version (oneDNN only replaces it inside graphs): it was the
 * largest single cost of a training step. For non-overlapping 2×2 windows
 * the gradient is the upstream gradient sent to the window's maximum, i.e.
 * dy broadcast over each window times the mask (x == window max), a few
 * element-wise ops. With 'valid' pooling an odd last row or column is in no
 * window and gets zero gradient.
 *
 * Ties: the mask sends the gradient to every tied maximum of a window, where
 * MaxPoolGrad picks one. In the CRNN the pooled values come out of ELU, so two
 * different inputs tie only where ELU saturates at −1, and there ELU's own
 * gradient is ~0: training is unaffected.
 */
export class MaxPool2x2 extends tf.layers.Layer {
  static className = 'MaxPool2x2';

  override computeOutputShape(inputShape: tfTypes.Shape | tfTypes.Shape[]): tfTypes.Shape {
    const shape = onlyShape(inputShape);
    if (shape.length !== 4) {
      throw new Error(`MaxPool2x2 takes [batch, height, width, channels] inputs, got shape [${shape.map(String).join(', ')}]`);
    }
    const half = (n: number | null) => (n == null ? null : Math.floor(n / 2));
    return [shape[0], half(shape[1]), half(shape[2]), shape[3]];
  }

  override call(inputs: tfTypes.Tensor | tfTypes.Tensor[]): tfTypes.Tensor {
    const x = onlyInput(inputs);
    this.computeOutputShape(x.shape);
    return maxPool2x2(x as tfTypes.Tensor4D);
  }
}
tf.serialization.registerClass(MaxPool2x2);

/**
 * Folds time into the batch: [batch, seqLength, ...rest] → [batch·seqLength, ...rest],
 * so that one CNN reads every image of every sequence in a single pass.
 * (tf.layers.timeDistributed instead loops over the steps, op by op, in both
 * directions.) Row b·seqLength + t holds step t of sequence b. Undone by `UnfoldTime`.
 */
export class FoldTime extends tf.layers.Layer {
  static className = 'FoldTime';

  override computeOutputShape(inputShape: tfTypes.Shape | tfTypes.Shape[]): tfTypes.Shape {
    const shape = onlyShape(inputShape);
    if (shape.length < 3) {
      throw new Error(`FoldTime takes [batch, seqLength, ...] inputs of rank >= 3, got shape [${shape.map(String).join(', ')}]`);
    }
    const [batch, seqLength, ...rest] = shape;
    return [batch == null || seqLength == null ? null : batch * seqLength, ...rest];
  }

  override call(inputs: tfTypes.Tensor | tfTypes.Tensor[]): tfTypes.Tensor {
    const x = onlyInput(inputs);
    this.computeOutputShape(x.shape);
    return tf.reshape(x, [-1, ...x.shape.slice(2)]);
  }
}
tf.serialization.registerClass(FoldTime);

/**
 * Undoes `FoldTime`: [batch·seqLength, ...rest] → [batch, seqLength, ...rest].
 * The layer keeps seqLength in its config, since the folded batch does not tell it.
 */
export class UnfoldTime extends tf.layers.Layer {
  static className = 'UnfoldTime';
  /** Steps per sequence. */
  readonly seqLength: number;

  constructor(args: LayerArgs & { seqLength: number }) {
    super(args);
    if (!Number.isInteger(args.seqLength) || args.seqLength < 1) {
      throw new Error(`UnfoldTime seqLength must be an integer >= 1, got ${args.seqLength}`);
    }
    this.seqLength = args.seqLength;
  }

  override computeOutputShape(inputShape: tfTypes.Shape | tfTypes.Shape[]): tfTypes.Shape {
    const shape = onlyShape(inputShape);
    const [folded, ...rest] = shape;
    if (shape.length < 2) {
      throw new Error(`UnfoldTime takes [batch·seqLength, ...] inputs of rank >= 2, got shape [${shape.map(String).join(', ')}]`);
    }
    if (folded != null && folded % this.seqLength !== 0) {
      throw new Error(`UnfoldTime cannot split a batch of ${folded} into sequences of length ${this.seqLength}`);
    }
    return [folded == null ? null : folded / this.seqLength, this.seqLength, ...rest];
  }

  override call(inputs: tfTypes.Tensor | tfTypes.Tensor[]): tfTypes.Tensor {
    const x = onlyInput(inputs);
    this.computeOutputShape(x.shape);
    return tf.reshape(x, [-1, this.seqLength, ...x.shape.slice(1)]);
  }

  override getConfig(): tfTypes.serialization.ConfigDict {
    return { ...super.getConfig(), seqLength: this.seqLength };
  }
}
tf.serialization.registerClass(UnfoldTime);
