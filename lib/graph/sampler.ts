/**
 * Training batches made inside the graph: the training images and labels
 * live in the graph as two variables, loaded once, and a step is given only
 * the image indices of its batch. The graph gathers the images and looks
 * the targets up in the task's class table (`classTable` in lib/data/tasks.ts),
 * so a step's feed is 4 bytes per image instead of the images themselves.
 *
 * The images are held as their bytes (uint8, 47 MB for MNIST's 60,000, not
 * 188 MB of floats) and scaled to [0, 1] only in the batch, to the float32
 * pixels `makeSequenceBatch` makes, bit for bit.
 *
 * The indices are drawn on the CPU by the run's seeded Rng, exactly as
 * `sampleSequenceBatch` draws them: a run's batches are the same with
 * either sampler, and so are its results (to float rounding).
 *
 * Augmented batches are shifted and rotated in the graph too
 * (`writeAugmented`), by transforms drawn from TensorFlow's stateless
 * generator keyed by [seed, step], as `augmentOfStep` draws them for the
 * batches made on the CPU.
 */
import type { GraphBuilder, TensorSpec } from './def';
import type { DigitSet, Task } from '../types';
import { classTable } from '../data/tasks';
import type { SteppedAugment } from '../data/augment';

const FLOAT = { type: 'float32' } as const;
const INT = { type: 'int32' } as const;
const UINT8 = { type: 'uint8' } as const;

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

/** The shape of a set of images held in the graph. */
export interface ImagesShape {
  count: number;
  height: number;
  width: number;
}

/** A variable of the graph: its handle, and its value as read once per run (it never changes during a call). */
export interface DataVariable {
  handle: string;
  value: string;
}

/** The data variables of a graph sampler. */
export interface SamplerData {
  /** Handles of the images [count, height, width] (uint8, the bytes as stored) and labels [count] (int32). */
  imagesHandle: string;
  labelsHandle: string;
  /** Their values, read once per run of the graph (the data never changes during a call). */
  images: string;
  labels: string;
}

/**
 * Writes a variable called `name` in the current scope, its node name also
 * its shared name (so that each is its own variable in the session).
 */
export function writeDataVariable(g: GraphBuilder, name: string, dtype: 'int32' | 'uint8', shape: number[]): DataVariable {
  const type = { type: dtype };
  const handle = g.node('VarHandleOp', [], { dtype: type, shape: { shape }, container: { s: '' } }, name);
  g.nodeSpec(handle).attrs.shared_name = { s: handle };
  const value = g.node('ReadVariableOp', [handle], { dtype: type }, `${name}_read`);
  g.setShape(value, shape);
  return { handle, value };
}

/** Writes the sampler's two data variables. */
export function writeSamplerData(g: GraphBuilder, spec: SamplerSpec): SamplerData {
  return g.inScope('data', () => {
    const images = writeDataVariable(g, 'images', 'uint8', [spec.count, spec.height, spec.width]);
    const labels = writeDataVariable(g, 'labels', 'int32', [spec.count]);
    return { imagesHandle: images.handle, labelsHandle: labels.handle, images: images.value, labels: labels.value };
  });
}

/** The int32 words that hold `bytes` bytes, 4 to a word. */
function wordsFor(bytes: number): number {
  return Math.ceil(bytes / 4);
}

/**
 * Writes the loading of a uint8 images variable [count, height, width]:
 * a placeholder `name` of the images' bytes packed 4 to an int32 (see
 * `packedImages`; tfjs has no uint8 tensors to feed) and their assignment,
 * unpacked, to the variable. Returns the placeholder and the assignment.
 */
export function writeImagesLoad(
  g: GraphBuilder, name: string, handle: string, shape: ImagesShape,
): { input: TensorSpec; assign: string } {
  const bytes = shape.count * shape.height * shape.width;
  const input = g.placeholder(name, 'int32', [wordsFor(bytes)]);
  // Bitcast keeps the bytes in memory order, the order of the Uint8Array the words were read from.
  const asBytes = g.node('Bitcast', [input.ref], { T: INT, type: UINT8 }, `${name}_bytes`);
  const flat = g.node('Reshape', [asBytes, g.ints([-1], `${name}_flat_shape`)], { T: UINT8, Tshape: INT }, `${name}_flat`);
  const exact = bytes % 4 === 0 ? flat
    : g.node('Slice', [flat, g.ints([0], `${name}_begin`), g.ints([bytes], `${name}_size`)], { T: UINT8, Index: INT }, `${name}_unpadded`);
  const images = g.node('Reshape', [exact, g.ints([shape.count, shape.height, shape.width], `${name}_shape`)],
    { T: UINT8, Tshape: INT }, `${name}_images`);
  return { input, assign: g.node('AssignVariableOp', [handle, images], { dtype: UINT8 }, `assign_${name}`) };
}

/**
 * The bytes of `set.images` as int32 words, 4 bytes to a word in memory
 * order, for the placeholder of `writeImagesLoad`: a view of the same
 * memory where it is aligned to 4 bytes and fills whole words, else a copy
 * padded with zeros.
 */
export function packedImages(set: DigitSet): Int32Array {
  const { images } = set;
  if (images.byteOffset % 4 === 0 && images.length % 4 === 0) {
    return new Int32Array(images.buffer, images.byteOffset, images.length / 4);
  }
  const words = new Int32Array(wordsFor(images.length));
  new Uint8Array(words.buffer).set(images);
  return words;
}

/** The augmentation of one step's batch in the graph: the settings and seed, and the int32 step number. */
export interface StepAugment extends SteppedAugment {
  /** The int32 scalar tensor of the step's number. */
  step: string;
}

/**
 * Writes the transforms of the images of a batch, the rule of
 * `drawTransform` and `transformImage` (lib/data/augment.ts) in float32:
 * `count` is an int32 [1] tensor holding the number of images n. The
 * uniforms are StatelessRandomUniform([n, 3], [seed, step]), each row the
 * dx, dy and angle draws of one image, as `augmentOfStep` draws them.
 * Returns the float32 [n, 8] rows of ImageProjectiveTransformV2, each
 * mapping an output pixel (x, y) to its source point
 * R(−angle)·(x − dx − cx, y − dy − cy) + (cx, cy).
 */
export function writeAugmentTransforms(g: GraphBuilder, count: string, augment: StepAugment, height: number, width: number): string {
  return g.inScope('augment', () => {
    const float = (name: string, value: number) => g.scalar(value, name);
    const binary = (op: string, a: string, b: string, name: string) => g.node(op, [a, b], { T: FLOAT }, name);
    const seed = g.node('Pack', [g.constant({ dtype: 'int32', shape: [], values: [augment.seed] }, 'seed'), augment.step],
      { T: INT, N: { i: 2 }, axis: { i: 0 } }, 'step_seed');
    const shape = g.node('ConcatV2', [count, g.ints([3], 'draws_per_image'), g.constant({ dtype: 'int32', shape: [], values: [0] }, 'axis0')],
      { T: INT, N: { i: 2 }, Tidx: INT }, 'draws_shape');
    const uniforms = g.node('StatelessRandomUniform', [shape, seed], { dtype: FLOAT, T: INT, Tseed: INT }, 'uniforms');
    const draws = g.node('Unpack', [uniforms], { T: FLOAT, num: { i: 3 }, axis: { i: 1 } }, 'draws');
    // dx, dy: floor(u·(2·maxShift + 1)) − maxShift; the angle (2u − 1)·maxRotation, in radians.
    const shiftOf = (u: string, name: string) => binary('Sub',
      g.node('Floor', [binary('Mul', u, float(`${name}_choices`, 2 * augment.maxShift + 1), `${name}_scaled`)], { T: FLOAT }, `${name}_floor`),
      float(`${name}_max`, augment.maxShift), name);
    const dx = shiftOf(`${draws}:0`, 'dx');
    const dy = shiftOf(`${draws}:1`, 'dy');
    const angle = binary('Mul', binary('Sub', binary('Mul', `${draws}:2`, float('two', 2), 'twice_u'), float('one', 1), 'centred_u'),
      float('max_radians', augment.maxRotation * (Math.PI / 180)), 'angle');
    const cos = g.node('Cos', [angle], { T: FLOAT }, 'cos');
    const sin = g.node('Sin', [angle], { T: FLOAT }, 'sin');
    const cx = (width - 1) / 2;
    const cy = (height - 1) / 2;
    // The source point of (0, 0), relative to the centre: (−dx − cx, −dy − cy).
    const px = binary('Sub', float('minus_cx', -cx), dx, 'px');
    const py = binary('Sub', float('minus_cy', -cy), dy, 'py');
    const add = (a: string, b: string, name: string) => binary('AddV2', a, b, name);
    const a2 = add(add(binary('Mul', cos, px, 'cos_px'), binary('Mul', sin, py, 'sin_py'), 'x_turned'), float('cx', cx), 'x_offset');
    const a5 = add(binary('Sub', binary('Mul', cos, py, 'cos_py'), binary('Mul', sin, px, 'sin_px'), 'y_turned'), float('cy', cy), 'y_offset');
    const minusSin = g.node('Neg', [sin], { T: FLOAT }, 'minus_sin');
    const zeros = g.node('ZerosLike', [cos], { T: FLOAT }, 'zeros');
    return g.node('Pack', [cos, sin, a2, minusSin, cos, a5, zeros, zeros], { T: FLOAT, N: { i: 8 }, axis: { i: 1 } }, 'transforms');
  });
}

/**
 * Writes `byteValues` (float32 [n, height, width], the bytes as floats)
 * shifted and rotated by the transforms of `writeAugmentTransforms`:
 * bilinear sampling with zeros outside the image, as `transformImage`
 * samples (an exact offset copy where the angle is 0). `count`: an int32
 * [1] tensor holding n.
 */
function writeAugmented(g: GraphBuilder, byteValues: string, count: string, augment: StepAugment, height: number, width: number): string {
  const transforms = writeAugmentTransforms(g, count, augment, height, width);
  return g.inScope('augment', () => {
    const images = g.node('Reshape', [byteValues, g.ints([-1, height, width, 1], 'images_shape')], { T: FLOAT, Tshape: INT }, 'images');
    const moved = g.node('ImageProjectiveTransformV2', [images, transforms, g.ints([height, width], 'output_shape')], {
      dtype: FLOAT, interpolation: { s: 'BILINEAR' }, fill_mode: { s: 'CONSTANT' },
    }, 'transformed');
    return g.node('Reshape', [moved, g.ints([-1, height, width], 'transformed_shape')], { T: FLOAT, Tshape: INT }, 'byte_values');
  });
}

/**
 * Writes the images of `indices`, an int32 [batch·T] vector of indices into
 * `images` (uint8 [count, height, width]), as the float32 batch
 * xs [batch, T, height, width, 1] that `makeSequenceBatch` makes, bit for
 * bit: each byte divided by 255. The divisor is a PlaceholderWithDefault
 * (never fed) rather than a constant: TensorFlow's graph optimiser turns a
 * division by a constant into a product by its reciprocal, which rounds
 * otherwise for 126 of the 256 bytes. (A lookup table of byte / 255 is
 * exact too, but gathering from it took 5× as long as the division.)
 * `after`: control inputs of the gathering. With `augment`, the images are
 * shifted and rotated before the division (`writeAugmented`), as
 * `makeSequenceBatch` does with `augmentOfStep`'s options: the same pixels
 * for shifts alone, within float32 rounding with rotations.
 */
export function writeGatheredImages(
  g: GraphBuilder, images: string, indices: string, shape: { seqLength: number; height: number; width: number },
  after: string[] = [], augment?: StepAugment,
): string {
  const { seqLength, height, width } = shape;
  const axis0 = g.constant({ dtype: 'int32', shape: [], values: [0] }, 'axis0');
  const bytes = g.node('GatherV2', [images, indices, axis0, ...after.map((c) => `^${c}`)],
    { Tparams: UINT8, Tindices: INT, Taxis: INT, batch_dims: { i: 0 } }, 'images');
  const gathered = g.node('Cast', [bytes], { SrcT: UINT8, DstT: FLOAT, Truncate: { b: false } }, 'byte_values');
  const byteValues = augment === undefined ? gathered
    : writeAugmented(g, gathered, g.node('Shape', [indices], { T: INT, out_type: INT }, 'image_count'), augment, height, width);
  const divisor = g.node('PlaceholderWithDefault', [g.scalar(255, 'byte_max')], { dtype: FLOAT, shape: { shape: [] } }, 'divisor');
  const pixels = g.node('RealDiv', [byteValues, divisor], { T: FLOAT }, 'pixels');
  // Known shapes, for the ops that look through the reshape below (ops.reshape).
  for (const ref of [bytes, gathered, byteValues, pixels]) g.setShape(ref, [-1, height, width]);
  const shapeOut = [-1, seqLength, height, width, 1];
  const xs = g.node('Reshape', [pixels, g.ints(shapeOut, 'xs_shape')], { T: FLOAT, Tshape: INT }, 'xs');
  g.setShape(xs, shapeOut);
  return xs;
}

/**
 * Writes one batch from `indices`, an int32 [batch·T] vector of image
 * indices, sequence after sequence: xs [batch, T, height, width, 1] and
 * one-hot ys [batch, numClasses], as `makeSequenceBatch` builds them
 * (shifted and rotated with `augment`, see `writeGatheredImages`).
 */
export function writeSampledBatch(
  g: GraphBuilder, spec: SamplerSpec, data: SamplerData, indices: string, augment?: StepAugment,
): { xs: string; ys: string } {
  const { seqLength, numClasses } = spec;
  const xs = writeGatheredImages(g, data.images, indices, spec, [], augment);
  // The sequence's digits as one base-10 number, the row of the class table.
  const axis0 = g.constant({ dtype: 'int32', shape: [], values: [0] }, 'axis0');
  const gather = (params: string, ids: string, name: string) => {
    const out = g.node('GatherV2', [params, ids, axis0], { Tparams: INT, Tindices: INT, Taxis: INT, batch_dims: { i: 0 } }, name);
    g.setShape(out, [-1]);
    return out;
  };
  const digits = g.node('Reshape', [gather(data.labels, indices, 'digits'), g.ints([-1, seqLength], 'digits_by_sequence_shape')],
    { T: INT, Tshape: INT }, 'digits_by_sequence');
  g.setShape(digits, [-1, seqLength]);
  const powers = g.ints(Array.from({ length: seqLength }, (_, t) => 10 ** (seqLength - 1 - t)), 'powers_of_ten');
  const weighted = g.node('Mul', [digits, powers], { T: INT }, 'weighted_digits');
  const row = g.node('Sum', [weighted, g.ints([1], 'sum_axis')], { T: INT, Tidx: INT, keep_dims: { b: false } }, 'row');
  const table = g.constant({ dtype: 'int32', shape: [spec.classTable.length], values: spec.classTable }, 'class_table');
  return { xs, ys: writeOneHot(g, gather(table, row, 'classes'), numClasses) };
}

/** Writes the one-hot float32 rows [n, numClasses] of `classes`, an int32 [n] vector. */
export function writeOneHot(g: GraphBuilder, classes: string, numClasses: number): string {
  const ys = g.node('OneHot', [
    classes, g.constant({ dtype: 'int32', shape: [], values: [numClasses] }, 'depth'), g.scalar(1, 'on'), g.scalar(0, 'off'),
  ], { T: FLOAT, TI: INT, axis: { i: -1 } }, 'ys');
  g.setShape(ys, [-1, numClasses]);
  return ys;
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
