/**
 * The gradients this project gives tfjs kernels in place of tfjs's own, in
 * one place. `registerGradients()` registers them, once; `compileCrnn`
 * (lib/model/build.ts) calls it, so every model compiled for training here
 * computes its eager gradients with them.
 */
import * as tf from '@tensorflow/tfjs';
import type * as tfTypes from '@tensorflow/tfjs';

type GradConfig = Parameters<typeof tf.registerGradient>[0];

const GRADIENTS: GradConfig[] = [
  // tfjs's gradient of unstack (kernel 'Unpack') stacks the gradients of the
  // slices, but with a single slice tfjs hands over that slice's gradient bare,
  // not in a list, and stack fails: an RNN on sequences of length 1 could not
  // train. The same gradient, taking either form.
  {
    kernelName: 'Unpack',
    gradFunc: (dy: tfTypes.Tensor | tfTypes.Tensor[], _saved: tfTypes.Tensor[], attrs?: tfTypes.NamedAttrMap) => {
      const axis = (attrs as { axis: number } | undefined)?.axis ?? 0;
      return { value: () => tf.stack(Array.isArray(dy) ? dy : [dy], axis) };
    },
  },
];

let registered = false;

/** Registers the gradients above with tfjs; later calls do nothing. */
export function registerGradients(): void {
  if (registered) return;
  for (const config of GRADIENTS) tf.registerGradient(config);
  registered = true;
}
