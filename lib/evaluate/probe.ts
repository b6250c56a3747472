/**
 * Looking inside a trained CRNN: what its CNNs compute, and what a simple
 * read-out can recover from it.
 *
 * - `firstLayerFilters`, `featureMaps`: the 3×3 kernels of a CNN's first
 *   convolution and the maps its layers produce for one digit, as small
 *   grey images for `showImages`.
 * - `stepFeatures`: the denseUnits-dimensional features (ELU) that the CNN of
 *   one time step hands to the RNN, for single digit images.
 * - `pca`: the principal components of such features (covariance from tfjs,
 *   its eigenvectors by Householder tridiagonalisation and QL).
 * - `trainDigitProbe`: a linear softmax classifier trained on frozen
 *   features, the "digit probe": how well the digit can be read off them.
 *
 * Each CNN is found by its layer names (see `buildCrnn`): `step{t}_conv1` …
 * `step{t}_dense` with one CNN per time step, or `shared_conv1` … with one
 * CNN shared by all steps, which then answers for every step.
 */
import { tf } from '../tf';
import type * as tfTypes from '@tensorflow/tfjs';
import type { DigitProbeRecord, DigitReadout, DigitSet } from '../types';
import { createRng, shuffleInPlace } from '../random';

/** The layers of a CNN, in order (see `cnnLayers` in model.ts). */
export const CNN_LAYERS = ['conv1', 'pool1', 'conv2', 'pool2', 'flatten', 'dense'] as const;
/** The name of one layer of a CNN, without its `step{t}_` or `shared_` prefix. */
export type CnnLayer = typeof CNN_LAYERS[number];

/** Images per forward pass when computing features. */
const DEFAULT_BATCH_SIZE = 500;

function hasLayer(model: tfTypes.LayersModel, name: string): boolean {
  return model.layers.some((layer) => layer.name === name);
}

/**
 * The number of time steps T of a CRNN (its input is [batch, T, h, w, 1]).
 * @throws Error when the model's input is not a sequence of images.
 */
export function stepsOf(model: tfTypes.LayersModel): number {
  const shape = model.inputs[0]?.shape;
  if (shape?.length !== 5 || typeof shape[1] !== 'number') {
    throw new Error(`expected a CRNN with input [batch, T, height, width, 1], got [${(shape ?? []).join(', ')}]`);
  }
  return shape[1];
}

/** Whether the model reads every step with one shared CNN (`shared_*` layers). */
export function hasSharedCnn(model: tfTypes.LayersModel): boolean {
  return hasLayer(model, 'shared_conv1');
}

/**
 * The prefix of the layers of the CNN that reads time step `step`:
 * `step{t}` with one CNN per step, `shared` with one CNN for all.
 * @throws Error when `step` is not in 0..T-1 or the model has no such CNN.
 */
export function cnnPrefix(model: tfTypes.LayersModel, step: number): string {
  const steps = stepsOf(model);
  if (!Number.isInteger(step) || step < 0 || step >= steps) {
    throw new Error(`step must be an integer in 0..${steps - 1} for a model of T = ${steps}, got ${step}`);
  }
  if (hasSharedCnn(model)) return 'shared';
  const prefix = `step${step}`;
  if (!hasLayer(model, `${prefix}_conv1`)) {
    throw new Error(`the model has neither a layer ${prefix}_conv1 nor shared_conv1: not a CRNN of buildCrnn`);
  }
  return prefix;
}

function checkIndices(set: DigitSet, indices: ArrayLike<number>): void {
  if (indices.length === 0) throw new Error('need at least one image index, got none');
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i];
    if (!Number.isInteger(index) || index < 0 || index >= set.count) {
      throw new Error(`image index ${index} is outside 0..${set.count - 1}`);
    }
  }
}

/** The images of `set` at `indices` as a [n, h, w, 1] float32 tensor in [0, 1], as the model sees them. */
function imageTensor(set: DigitSet, indices: ArrayLike<number>): tfTypes.Tensor4D {
  const pixels = set.height * set.width;
  const data = new Float32Array(indices.length * pixels);
  for (let k = 0; k < indices.length; k++) {
    const source = indices[k] * pixels;
    for (let p = 0; p < pixels; p++) data[k * pixels + p] = set.images[source + p] / 255;
  }
  return tf.tensor4d(data, [indices.length, set.height, set.width, 1]);
}

/** Options of {@link layerActivations} and {@link stepFeatures}. */
export interface ActivationOptions {
  /** Images per forward pass (default 500). */
  batchSize?: number;
}

/**
 * What layer `layer` of the CNN of time step `step` computes for single digit
 * images: the images at `indices` of `set` go through that CNN's layers up
 * to `layer`, exactly as the model runs them on step `step` of a sequence
 * (the CNN of a step sees only its own image).
 *
 * @returns a tensor owned by the caller: [n, h, w, filters] for conv and
 *   pool layers, [n, features] for flatten and dense; n = indices.length.
 * @throws Error for a bad step, layer, index or batch size, or images of
 *   another size than the model's.
 */
export function layerActivations(
  model: tfTypes.LayersModel, set: DigitSet, indices: ArrayLike<number>, step: number, layer: CnnLayer,
  options: ActivationOptions = {},
): tfTypes.Tensor {
  const prefix = cnnPrefix(model, step);
  const upTo = CNN_LAYERS.indexOf(layer);
  if (upTo < 0) throw new Error(`layer must be one of ${CNN_LAYERS.join(', ')}, got ${String(layer)}`);
  const { batchSize = DEFAULT_BATCH_SIZE } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const [, , height, width] = model.inputs[0].shape;
  if (height !== set.height || width !== set.width) {
    throw new Error(`the model takes ${height}×${width} images, but the set has ${set.height}×${set.width}`);
  }
  checkIndices(set, indices);
  // With batch normalisation, a convolution or dense layer is linear and its
  // normalisation and ELU follow as `…_bn` and `…_elu` (see cnnLayers in model.ts).
  const layers = CNN_LAYERS.slice(0, upTo + 1).flatMap((name) => [name, `${name}_bn`, `${name}_elu`])
    .filter((name) => CNN_LAYERS.includes(name as CnnLayer) || hasLayer(model, `${prefix}_${name}`))
    .map((name) => model.getLayer(`${prefix}_${name}`));
  const parts: tfTypes.Tensor[] = [];
  try {
    for (let start = 0; start < indices.length; start += batchSize) {
      const chunk = Array.prototype.slice.call(indices, start, Math.min(start + batchSize, indices.length)) as number[];
      parts.push(tf.tidy(() =>
        layers.reduce<tfTypes.Tensor>((x, l) => l.apply(x) as tfTypes.Tensor, imageTensor(set, chunk))));
    }
    return parts.length === 1 ? parts.splice(0, 1)[0] : tf.concat(parts, 0);
  } finally {
    tf.dispose(parts);
  }
}

/**
 * The features the CNN of time step `step` hands to the RNN for single digit
 * images: the output of its dense layer (`step{t}_dense`, or `shared_dense`
 * for a shared CNN), denseUnits ELU values per image.
 * @param indices images of `set` (n of them).
 * @returns [n, denseUnits] float32, owned by the caller.
 * @throws Error as {@link layerActivations}.
 */
export function stepFeatures(
  model: tfTypes.LayersModel, set: DigitSet, indices: ArrayLike<number>, step: number,
  options: ActivationOptions = {},
): tfTypes.Tensor2D {
  return layerActivations(model, set, indices, step, 'dense', options) as tfTypes.Tensor2D;
}

/**
 * Signed values as grey images: 0 is mid-grey (128), +maxAbs white, −maxAbs
 * black. With one `maxAbs` for several images their contrast compares.
 * @param values one array per image.
 * @param maxAbs the value drawn white (default the largest |value| of all images).
 */
export function signedImages(values: readonly ArrayLike<number>[], maxAbs?: number): Uint8Array[] {
  let scale = maxAbs ?? 0;
  if (maxAbs === undefined) {
    for (const v of values) for (let i = 0; i < v.length; i++) scale = Math.max(scale, Math.abs(v[i]));
  }
  return values.map((v) => Uint8Array.from(v, (x) =>
    scale > 0 ? Math.round(Math.min(255, Math.max(0, 127.5 + 127.5 * x / scale))) : 128));
}

/** The kernels of a first convolution layer. */
export interface LayerFilters {
  /** The layer's name, e.g. 'step0_conv1'. */
  layer: string;
  /** Kernel size in pixels (3 × 3 in the CRNN). */
  height: number;
  width: number;
  /** One [height × width] row-major kernel per filter (the single input channel). */
  weights: Float32Array[];
  /** One bias per filter. */
  biases: number[];
  /** The largest |weight| of the layer. */
  maxAbs: number;
  /** The kernels as grey images on the layer's own scale (see `signedImages`): white positive, black negative. */
  images: Uint8Array[];
}

/**
 * The 3×3 kernels of the first convolution of the CNN of time step `step`
 * (`step{t}_conv1`, or `shared_conv1`), as numbers and as small images.
 * @throws Error for a bad step, or a first layer with more than one input channel.
 */
export function firstLayerFilters(model: tfTypes.LayersModel, step: number): LayerFilters {
  const layer = `${cnnPrefix(model, step)}_conv1`;
  const [kernel, bias] = model.getLayer(layer).getWeights();
  const [height, width, channels, filters] = kernel.shape;
  if (channels !== 1) throw new Error(`${layer} has ${channels} input channels; expected grey images (1)`);
  const values = kernel.dataSync(); // [h, w, 1, filters]
  const weights = Array.from({ length: filters }, (_, f) =>
    Float32Array.from({ length: height * width }, (_, p) => values[p * filters + f]));
  const maxAbs = Math.max(...weights.map((w) => Math.max(...Array.from(w, Math.abs))));
  return {
    layer, height, width, weights, maxAbs,
    biases: bias ? Array.from(bias.dataSync()) : new Array<number>(filters).fill(0),
    images: signedImages(weights, maxAbs),
  };
}

/** For one filter, its closest filter in another set. */
export interface FilterMatch {
  /** Index of the closest filter in the other set. */
  index: number;
  /** Their cosine similarity, −1..1 (1: the same kernel up to a positive factor). */
  cosine: number;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/**
 * For each kernel of `a`, the most similar kernel of `b` by cosine similarity
 * (signed: ELU after the convolution treats a kernel and its negative
 * differently). Filters have no order, so two CNNs that learnt the same
 * detectors hold them at different indices; this finds them.
 * @throws Error when the kernels differ in size or `b` is empty.
 */
export function matchFilters(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): FilterMatch[] {
  if (b.length === 0) throw new Error('matchFilters needs at least one kernel to match against');
  const size = b[0].length;
  if (![...a, ...b].every((k) => k.length === size)) throw new Error('matchFilters needs kernels of one size');
  return a.map((kernel) => b.reduce<FilterMatch>((best, other, index) => {
    const c = cosine(kernel, other);
    return c > best.cosine ? { index, cosine: c } : best;
  }, { index: -1, cosine: -Infinity }));
}

/** The maps of one layer for one image, as grey images. */
export interface FeatureMaps {
  /** The layer's name, e.g. 'step0_conv1'. */
  layer: string;
  height: number;
  width: number;
  /** The lowest and highest value over all maps: drawn black and white. */
  min: number;
  max: number;
  /** One [height × width] image per channel, all on the one scale min..max. */
  images: Uint8Array[];
}

/**
 * What layer `layer` (a convolution or pooling layer) of the CNN of step
 * `step` computes for the image `index` of `set`: one map per filter, drawn
 * on one grey scale for all maps (black the lowest value, white the highest),
 * so a filter that barely responds shows as a flat map.
 * @throws Error for a bad step or index, or a layer without maps (flatten, dense).
 */
export function featureMaps(
  model: tfTypes.LayersModel, set: DigitSet, index: number, step: number, layer: CnnLayer,
): FeatureMaps {
  if (layer === 'flatten' || layer === 'dense') throw new Error(`${layer} has no 2-D maps; use conv1, pool1, conv2 or pool2`);
  const maps = layerActivations(model, set, [index], step, layer);
  let values: Float32Array;
  try {
    values = maps.dataSync() as Float32Array;
  } finally {
    maps.dispose();
  }
  const [, height, width, channels] = maps.shape;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const range = max - min;
  const images = Array.from({ length: channels }, (_, c) => Uint8Array.from({ length: height * width }, (_, p) =>
    range > 0 ? Math.round(255 * (values[p * channels + c] - min) / range) : 0));
  return { layer: `${cnnPrefix(model, step)}_${layer}`, height, width, min, max, images };
}

/** Principal components of a set of feature vectors. */
export interface PcaResult {
  /** [n, k] the centred vectors projected on the components, owned by the caller. */
  projections: tfTypes.Tensor2D;
  /** [d, k] the unit principal directions as columns, largest variance first, owned by the caller. */
  components: tfTypes.Tensor2D;
  /** [d] the mean that was subtracted, owned by the caller. */
  mean: tfTypes.Tensor1D;
  /** [k] the variance along each component (eigenvalues of the covariance, divided by n − 1). */
  variances: number[];
  /** [k] each component's share of the total variance, 0..1. */
  explainedVarianceRatio: number[];
}

/**
 * Eigenvalues and eigenvectors of a symmetric d × d matrix, in float64:
 * Householder reduction to tridiagonal form, then the implicit QL method
 * (the `tred2` and `tql2` routines of EISPACK, as in the public-domain JAMA
 * library). O(d³): a few tens of milliseconds for d = 256.
 * @param matrix row-major d × d, symmetric (only exactly symmetric input gives
 *   exact results); not modified.
 * @returns values in decreasing order, and vectors[i] the unit eigenvector of values[i],
 *   its largest component made positive so that the result does not flip sign.
 * @throws Error when matrix does not hold d × d values.
 */
export function symmetricEigen(matrix: ArrayLike<number>, d: number): { values: number[]; vectors: Float64Array[] } {
  if (!Number.isInteger(d) || d < 1 || matrix.length !== d * d) {
    throw new Error(`symmetricEigen needs a d × d matrix, got ${matrix.length} values for d = ${d}`);
  }
  const n = d;
  const V = Float64Array.from(matrix); // V[r * n + c]; ends holding the eigenvectors as columns
  const diag = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalize(V, diag, e, n);
  diagonalize(V, diag, e, n);
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => diag[j] - diag[i]);
  const vectors = order.map((col) => {
    const vec = Float64Array.from({ length: n }, (_, k) => V[k * n + col]);
    let largest = 0;
    for (let k = 1; k < n; k++) if (Math.abs(vec[k]) > Math.abs(vec[largest])) largest = k;
    if (vec[largest] < 0) for (let k = 0; k < n; k++) vec[k] = -vec[k];
    return vec;
  });
  return { values: order.map((i) => diag[i]), vectors };
}

/** EISPACK tred2: V (the matrix) → the orthogonal transformation; d, e the tridiagonal form. */
function tridiagonalize(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j] * d[k];
          e[k] += V[k * n + j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k];
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j];
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** EISPACK tql2: the eigenvalues of the tridiagonal (d, e) into d, their vectors accumulated into V. */
function diagonalize(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      for (let iter = 0; ; iter++) {
        if (iter > 100) throw new Error('symmetricEigen: the QL iteration did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (let k = 0; k < n; k++) {
            h = V[k * n + i + 1];
            V[k * n + i + 1] = s * V[k * n + i] + c * h;
            V[k * n + i] = c * V[k * n + i] - s * h;
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]) > eps * tst1)) break;
      }
    }
    d[l] += f;
    e[l] = 0;
  }
}

/**
 * Principal component analysis: centres `features` ([n, d]), computes their
 * covariance with tfjs, and projects them on its k leading eigenvectors.
 * `features` stays owned by the caller; dispose the result's tensors with
 * `tf.dispose([r.projections, r.components, r.mean])`.
 * @throws Error when features is not [n, d] with n >= 2, or k is not in 1..d.
 */
export function pca(features: tfTypes.Tensor2D, k: number): PcaResult {
  if (features.rank !== 2) throw new Error(`pca needs [n, d] features, got shape [${features.shape.join(', ')}]`);
  const [n, d] = features.shape;
  if (n < 2) throw new Error(`pca needs at least 2 vectors, got ${n}`);
  if (!Number.isInteger(k) || k < 1 || k > d) throw new Error(`k must be an integer in 1..${d}, got ${k}`);
  const covariance = tf.tidy(() => {
    const centred = tf.sub(features, tf.mean(features, 0));
    return tf.div(tf.matMul(centred, centred, true, false), n - 1);
  });
  let values: Float32Array;
  try {
    values = covariance.dataSync() as Float32Array;
  } finally {
    covariance.dispose();
  }
  // float32 products are symmetric only to rounding: symmetrise first.
  const symmetric = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) symmetric[i * d + j] = (values[i * d + j] + values[j * d + i]) / 2;
  }
  const eigen = symmetricEigen(symmetric, d);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += symmetric[i * d + i];
  const variances = eigen.values.slice(0, k).map((v) => Math.max(0, v));
  const componentData = new Float32Array(d * k);
  for (let c = 0; c < k; c++) for (let i = 0; i < d; i++) componentData[i * k + c] = eigen.vectors[c][i];
  return tf.tidy(() => {
    const mean = tf.mean<tfTypes.Tensor1D>(features, 0);
    const components = tf.tensor2d(componentData, [d, k]);
    const projections = tf.matMul<tfTypes.Tensor2D>(tf.sub(features, mean), components);
    return {
      projections, components, mean, variances,
      explainedVarianceRatio: variances.map((v) => (trace > 0 ? v / trace : 0)),
    };
  });
}

/** Options of {@link trainDigitProbe}. */
export interface ProbeOptions {
  /** Passes over the training features (default 30). */
  epochs?: number;
  /** Seed of the order of the mini-batches (default 0). */
  seed?: number | string;
  /** Features per Adam step (default 1,000). */
  batchSize?: number;
  /** Adam's learning rate (default 0.01). */
  learningRate?: number;
  /** L2 penalty on the weights, added to the mean loss (default 1e-4). */
  l2?: number;
  /** Number of classes (default 10, the digits). */
  numClasses?: number;
}

/** What a digit probe reads off held-out features. */
export interface ProbeResult {
  /** Share of the test features classified correctly: p. */
  accuracy: number;
  /** [numClasses] accuracy per true class (recall); NaN for a class without test features. */
  perClass: number[];
  /** [numClasses] correct and total test features per class. */
  correct: number[];
  total: number[];
  /** Accuracy on the training features themselves. */
  trainAccuracy: number;
  /** [numTest] the predicted class of each test feature. */
  predicted: Int32Array;
  /** Mean cross-entropy on the test features. */
  testLoss: number;
  /** The fitted classifier, to apply to other features (`digitProbabilities` in lib/demo/readings.ts). */
  readout: DigitReadout;
}


function checkLabels(labels: ArrayLike<number>, n: number, numClasses: number, what: string): void {
  if (labels.length !== n) throw new Error(`${what}: ${labels.length} labels for ${n} feature vectors`);
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= numClasses) {
      throw new Error(`${what}: label ${labels[i]} at ${i} is not a class in 0..${numClasses - 1}`);
    }
  }
}

/**
 * Trains a linear softmax classifier (the "probe") on frozen features and
 * measures it on held-out ones: how much of the label a linear read-out
 * can recover from the features.
 *
 * Leak-free: the features are standardised with the mean and spread of the
 * training features only, and the test features are used once, to measure.
 * Deterministic for a seed: weights start at zero, the seed orders the
 * mini-batches. Trained with Adam on the mean cross-entropy plus `l2` times
 * the squared weights. Runs synchronously; leaves no tensors behind.
 *
 * @param trainFeatures [nTrain, d]; @param testFeatures [nTest, d]; both stay owned by the caller.
 * @param trainLabels [nTrain] and @param testLabels [nTest] class indices.
 * @throws Error for mismatched shapes, labels outside 0..numClasses-1 or bad options.
 */
export function trainDigitProbe(
  trainFeatures: tfTypes.Tensor2D, trainLabels: ArrayLike<number>,
  testFeatures: tfTypes.Tensor2D, testLabels: ArrayLike<number>,
  options: ProbeOptions = {},
): ProbeResult {
  const { epochs = 30, seed = 0, batchSize = 1000, learningRate = 0.01, l2 = 1e-4, numClasses = 10 } = options;
  for (const [name, value] of Object.entries({ epochs, batchSize, numClasses })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  }
  if (!(learningRate > 0)) throw new Error(`learningRate must be > 0, got ${learningRate}`);
  if (!(l2 >= 0)) throw new Error(`l2 must be >= 0, got ${l2}`);
  if (trainFeatures.rank !== 2 || testFeatures.rank !== 2 || trainFeatures.shape[1] !== testFeatures.shape[1]) {
    throw new Error(`trainDigitProbe needs [n, d] features of one d, got [${trainFeatures.shape.join(', ')}] ` +
      `and [${testFeatures.shape.join(', ')}]`);
  }
  const [nTrain, d] = trainFeatures.shape;
  const nTest = testFeatures.shape[0];
  if (nTrain < 1 || nTest < 1) throw new Error('trainDigitProbe needs at least one training and one test vector');
  checkLabels(trainLabels, nTrain, numClasses, 'training labels');
  checkLabels(testLabels, nTest, numClasses, 'test labels');

  const rng = createRng(seed);
  // Weights, bias and Adam's two moments of each, updated in place.
  const zeros = (shape: number[]) => tf.tidy(() => tf.variable(tf.zeros(shape)));
  const weights = zeros([d, numClasses]);
  const bias = zeros([numClasses]);
  const moments = [zeros([d, numClasses]), zeros([d, numClasses]), zeros([numClasses]), zeros([numClasses])];
  // Standardised with the training features' statistics only.
  const [mean, scale, xTrain, xTest, yTrain, yTest] = tf.tidy((): tfTypes.Tensor[] => {
    const m = tf.mean(trainFeatures, 0);
    const s = tf.add(tf.sqrt(tf.mean(tf.square(tf.sub(trainFeatures, m)), 0)), 1e-6);
    return [
      m, s,
      tf.div(tf.sub(trainFeatures, m), s), tf.div(tf.sub(testFeatures, m), s),
      tf.oneHot(tf.tensor1d(Int32Array.from(trainLabels), 'int32'), numClasses),
      tf.oneHot(tf.tensor1d(Int32Array.from(testLabels), 'int32'), numClasses),
    ];
  });
  const logits = (x: tfTypes.Tensor) => tf.add(tf.matMul(x as tfTypes.Tensor2D, weights), bias);
  // Adam as tf.train.adam computes it (β1 0.9, β2 0.999, ε the backend's),
  // on the gradient of a linear softmax written out: (softmax − y)/n through
  // the matrix product, plus 2·l2·W. Without the tape, a step is a dozen ops.
  const [beta1, beta2, epsilon] = [0.9, 0.999, tf.backend().epsilon()];
  const adamUpdate = (value: tfTypes.Variable, gradient: tfTypes.Tensor, m: tfTypes.Variable, v: tfTypes.Variable, t: number) => {
    m.assign(tf.add(tf.mul(m, beta1), tf.mul(gradient, 1 - beta1)));
    v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(gradient), 1 - beta2)));
    const mHat = tf.div(m, 1 - beta1 ** t);
    const vHat = tf.div(v, 1 - beta2 ** t);
    value.assign(tf.sub(value, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)), learningRate)));
  };
  try {
    const order = Int32Array.from({ length: nTrain }, (_, i) => i);
    let t = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      shuffleInPlace(order, rng);
      for (let start = 0; start < nTrain; start += batchSize) {
        const rows = order.slice(start, Math.min(start + batchSize, nTrain));
        t++;
        tf.tidy(() => {
          const at = tf.tensor1d(rows, 'int32');
          const x = tf.gather(xTrain, at);
          const y = tf.gather(yTrain, at);
          const error = tf.div(tf.sub(tf.softmax(logits(x)), y), rows.length);
          const gradW = tf.add(tf.matMul(x, error, true, false), tf.mul(weights, 2 * l2));
          adamUpdate(weights, gradW, moments[0], moments[1], t);
          adamUpdate(bias, tf.sum(error, 0), moments[2], moments[3], t);
        });
      }
    }
    const [trainPredicted, testPredicted, testLoss] = tf.tidy((): tfTypes.Tensor[] => {
      const testLogits = logits(xTest);
      return [
        tf.argMax(logits(xTrain), 1), tf.argMax(testLogits, 1), tf.losses.softmaxCrossEntropy(yTest, testLogits),
      ];
    });
    let trainPred: Int32Array;
    let predicted: Int32Array;
    let loss: number;
    let readout: DigitReadout;
    try {
      trainPred = Int32Array.from(trainPredicted.dataSync());
      predicted = Int32Array.from(testPredicted.dataSync());
      loss = testLoss.dataSync()[0];
      const [m, s, w, b] = [mean, scale, weights, bias].map((t) => Array.from(t.dataSync()));
      readout = { mean: m, scale: s, weights: w, bias: b };
    } finally {
      tf.dispose([trainPredicted, testPredicted, testLoss]);
    }
    const correct = new Array<number>(numClasses).fill(0);
    const total = new Array<number>(numClasses).fill(0);
    for (let i = 0; i < nTest; i++) {
      total[testLabels[i]]++;
      if (predicted[i] === testLabels[i]) correct[testLabels[i]]++;
    }
    let trainRight = 0;
    for (let i = 0; i < nTrain; i++) if (trainPred[i] === trainLabels[i]) trainRight++;
    return {
      accuracy: correct.reduce((a, b) => a + b, 0) / nTest,
      perClass: correct.map((c, k) => (total[k] === 0 ? NaN : c / total[k])),
      correct, total, trainAccuracy: trainRight / nTrain, predicted, testLoss: loss, readout,
    };
  } finally {
    tf.dispose([weights, bias, ...moments, mean, scale, xTrain, xTest, yTrain, yTest]);
  }
}

/**
 * `n` distinct image indices of `set`, drawn with a seed (a seeded shuffle of
 * 0..count-1, cut to n), and their labels.
 * @throws Error when n is not in 1..set.count.
 */
export function sampleImages(set: DigitSet, n: number, seed: number | string): { indices: Int32Array; labels: Int32Array } {
  if (!Number.isInteger(n) || n < 1 || n > set.count) {
    throw new Error(`n must be an integer in 1..${set.count}, got ${n}`);
  }
  const all = Int32Array.from({ length: set.count }, (_, i) => i);
  const indices = shuffleInPlace(all, createRng(seed)).slice(0, n);
  return { indices, labels: Int32Array.from(indices, (i) => set.labels[i]) };
}


/** Options of {@link measureDigitProbe}. */
export interface MeasureDigitProbeOptions {
  /** Training-split digits to fit each probe on (default 10,000). */
  trainDigits?: number;
  /** Test-split digits to measure it on (default: all of the test split). */
  testDigits?: number;
}

/** The digit probes of a model: the record a run keeps, and the probes themselves. */
export interface DigitProbes {
  record: DigitProbeRecord;
  /** [T] the probe of each time step (one object for all steps of a shared CNN). */
  readouts: DigitReadout[];
  /** [T] the layer whose output each probe reads: the step's CNN features (see `stepFeatures`). */
  featureLayers: string[];
}

/**
 * Per-digit accuracy of a trained CRNN, measured with a digit probe
 * (`trainDigitProbe`) on the features of each time step's CNN: how well the
 * digit of each step can be read off what the RNN receives. A sequence is
 * read right only if every digit is (nearly: an error can cancel out in
 * rare cases), so the pair accuracy is close to the product of the steps'
 * p, p² for two steps: 99.5% per digit for 99.0% per pair.
 *
 * The same seeded digits for every model, so that runs compare; a CNN
 * shared by all steps is probed once and answers for each step. Leaves no
 * tensors behind.
 * @throws Error for sizes outside the splits, as `sampleImages`.
 */
export function measureDigitProbe(
  model: tfTypes.LayersModel, data: { train: DigitSet; test: DigitSet }, options: MeasureDigitProbeOptions = {},
): DigitProbeRecord {
  return fitDigitProbes(model, data, options).record;
}

/**
 * `measureDigitProbe` with the probes it fits: deterministic, so the same
 * model, data and options give again the probes a run's record measured
 * (to rounding), for example to read a drawn digit off its features.
 * @throws Error as `measureDigitProbe`.
 */
export function fitDigitProbes(
  model: tfTypes.LayersModel, data: { train: DigitSet; test: DigitSet }, options: MeasureDigitProbeOptions = {},
): DigitProbes {
  const trainDigits = options.trainDigits ?? Math.min(10_000, data.train.count);
  const testDigits = options.testDigits ?? data.test.count;
  const train = sampleImages(data.train, trainDigits, 'probe-train');
  const test = sampleImages(data.test, testDigits, 'probe-test');
  const byCnn = new Map<string, { accuracy: number; readout: DigitReadout }>();
  const probes = Array.from({ length: stepsOf(model) }, (_, step) => {
    const prefix = cnnPrefix(model, step);
    const known = byCnn.get(prefix);
    if (known !== undefined) return known;
    const trainFeatures = stepFeatures(model, data.train, train.indices, step);
    const testFeatures = stepFeatures(model, data.test, test.indices, step);
    try {
      const { accuracy, readout } = trainDigitProbe(trainFeatures, train.labels, testFeatures, test.labels);
      byCnn.set(prefix, { accuracy, readout });
      return { accuracy, readout };
    } finally {
      tf.dispose([trainFeatures, testFeatures]);
    }
  });
  return {
    record: { accuracy: probes.map((p) => p.accuracy), trainDigits, testDigits },
    readouts: probes.map((p) => p.readout),
    featureLayers: probes.map((_, step) => featureLayer(model, step)),
  };
}

/** The layer whose output `stepFeatures` returns for `step`: the CNN's dense ELU. */
export function featureLayer(model: tfTypes.LayersModel, step: number): string {
  const prefix = cnnPrefix(model, step);
  // With batch normalisation the ELU is a layer of its own (see cnnLayers in lib/model/build.ts).
  return hasLayer(model, `${prefix}_dense_elu`) ? `${prefix}_dense_elu` : `${prefix}_dense`;
}
