/**
 * Training batches made inside the graph: the training images and labels
 * live in the graph as two variables, loaded once, and a step is given only
 * the image indices of its batch. The graph gathers the images and looks
 * the targets up in the task's class table (`classTable` in lib/data/tasks.ts),
 * so a step's feed is 4 bytes per image instead of the images themselves.
 *
 * The indices are drawn on the CPU by the run's seeded Rng, exactly as
 * `sampleSequenceBatch` draws them: a run's batches are the same with
 * either sampler, and so are its results (to float rounding).
 */
import type { GraphBuilder } from './def';
import type { DigitSet, Task } from '../types';
import { classTable } from '../data/tasks';

const FLOAT = { type: 'float32' } as const;
const INT = { type: 'int32' } as const;

/** The shape of the training data and task that a graph sampler is written for. */
export interface SamplerSpec {
  /** Images in the training set. */
  count: number;
  height: number;
  width: number;
  /** Images per sequence, T. */
  seqLength: number;
  numClasses: number;
  /** [10^T] the class of each sequence of digits, read as a base-10 number (`classTable`). */
  classTable: Int32Array;
}

/** The data variables of a graph sampler. */
export interface SamplerData {
  /** Handles of the images [count, height, width] (pixels / 255) and labels [count] (int32). */
  imagesHandle: string;
  labelsHandle: string;
  /** Their values, read once per run of the graph (the data never changes during a call). */
  images: string;
  labels: string;
}

/** Writes the sampler's two data variables. */
export function writeSamplerData(g: GraphBuilder, spec: SamplerSpec): SamplerData {
  return g.inScope('data', () => {
    const variable = (name: string, dtype: typeof FLOAT | typeof INT, shape: number[]) => {
      const handle = g.node('VarHandleOp', [], {
        dtype, shape: { shape }, container: { s: '' }, shared_name: { s: `data/${name}` },
      }, name);
      const value = g.node('ReadVariableOp', [handle], { dtype }, `${name}_read`);
      g.setShape(value, shape);
      return { handle, value };
    };
    const images = variable('images', FLOAT, [spec.count, spec.height, spec.width]);
    const labels = variable('labels', INT, [spec.count]);
    return { imagesHandle: images.handle, labelsHandle: labels.handle, images: images.value, labels: labels.value };
  });
}

/**
 * Writes one batch from `indices`, an int32 [batch·T] vector of image
 * indices, sequence after sequence: xs [batch, T, height, width, 1] and
 * one-hot ys [batch, numClasses], as `makeSequenceBatch` builds them.
 */
export function writeSampledBatch(
  g: GraphBuilder, spec: SamplerSpec, data: SamplerData, indices: string,
): { xs: string; ys: string } {
  const { seqLength, height, width, numClasses } = spec;
  const axis0 = g.constant({ dtype: 'int32', shape: [], values: [0] }, 'axis0');
  const gather = (params: string, ids: string, dtype: typeof FLOAT | typeof INT, name: string) => {
    const out = g.node('GatherV2', [params, ids, axis0], { Tparams: dtype, Tindices: INT, Taxis: INT, batch_dims: { i: 0 } }, name);
    g.setShape(out, [-1, ...(g.shapeOf(params) ?? []).slice(1)]);
    return out;
  };
  const reshape = (x: string, shape: number[], dtype: typeof FLOAT | typeof INT, name: string) => {
    const out = g.node('Reshape', [x, g.ints(shape, `${name}_shape`)], { T: dtype, Tshape: INT }, name);
    g.setShape(out, shape);
    return out;
  };
  const xs = reshape(gather(data.images, indices, FLOAT, 'images'), [-1, seqLength, height, width, 1], FLOAT, 'xs');
  // The sequence's digits as one base-10 number, the row of the class table.
  const digits = reshape(gather(data.labels, indices, INT, 'digits'), [-1, seqLength], INT, 'digits_by_sequence');
  const powers = g.ints(Array.from({ length: seqLength }, (_, t) => 10 ** (seqLength - 1 - t)), 'powers_of_ten');
  const weighted = g.node('Mul', [digits, powers], { T: INT }, 'weighted_digits');
  const row = g.node('Sum', [weighted, g.ints([1], 'sum_axis')], { T: INT, Tidx: INT, keep_dims: { b: false } }, 'row');
  const table = g.constant({ dtype: 'int32', shape: [spec.classTable.length], values: spec.classTable }, 'class_table');
  const classes = gather(table, row, INT, 'classes');
  const ys = g.node('OneHot', [
    classes, g.constant({ dtype: 'int32', shape: [], values: [numClasses] }, 'depth'), g.scalar(1, 'on'), g.scalar(0, 'off'),
  ], { T: FLOAT, TI: INT, axis: { i: -1 } }, 'ys');
  g.setShape(ys, [-1, numClasses]);
  return { xs, ys };
}

/**
 * The sampler spec for batches of `seqLength` images of `set` under `task`,
 * or the reason the graph cannot make them (then the CPU sampler does):
 * labels beyond 0..9, or a task without a class table (T > 6, or a
 * sequence no class covers).
 */
export function samplerSpecFor(set: DigitSet, task: Task, seqLength: number): SamplerSpec | string {
  for (let i = 0; i < set.count; i++) {
    if (set.labels[i] > 9) return `the graph's sampler reads digits 0..9; image ${i} has label ${set.labels[i]}`;
  }
  const table = classTable(task, seqLength);
  if (table === null) {
    return `task "${task.name}" with T = ${seqLength} has no class table (T > 6, or a sequence no class covers)`;
  }
  return { count: set.count, height: set.height, width: set.width, seqLength, numClasses: task.numClasses, classTable: table };
}
