/**
 * lib/demo/preprocess.ts, a pure part of the browser page: a drawing made into
 * an MNIST input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOX_SIZE, centreOfMass, FIELD_SIZE, greyFromRgba, inkBox, MNIST_CENTRE, mnistInput, resampleArea, type GreyImage,
} from '../lib/demo/preprocess';
import { loadMnist } from '../lib/data/data';
import { assertAllClose } from './helpers/close';

/** A blank width × height image with `ink` (1) on the pixels where `draw(x, y)` holds. */
function drawn(width: number, height: number, draw: (x: number, y: number) => boolean): GreyImage {
  const pixels = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (draw(x, y)) pixels[y * width + x] = 1;
  return { width, height, pixels };
}

/** `image` with each pixel made a k × k block. */
function enlarged(image: GreyImage, k: number): GreyImage {
  const width = image.width * k;
  const height = image.height * k;
  const pixels = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels[y * width + x] = image.pixels[Math.floor(y / k) * image.width + Math.floor(x / k)];
  }
  return { width, height, pixels };
}

test('a canvas\'s RGBA bytes become grey levels in [0, 1], white ink 1 and black 0', () => {
  const rgba = [255, 255, 255, 255, 0, 0, 0, 255, 128, 128, 128, 255];
  const grey = greyFromRgba(rgba, 3, 1);
  assertAllClose(Array.from(grey.pixels), [1, 0, 128 / 255], 1e-6);
  assert.throws(() => greyFromRgba(rgba, 2, 2), /a 2 × 2 image needs 16 bytes, got 12/);
});

test('the ink box spans the pixels above the threshold, and is null without ink', () => {
  const image = drawn(10, 8, (x, y) => x >= 2 && x < 5 && y >= 3 && y < 7);
  assert.deepEqual(inkBox(image), { left: 2, top: 3, right: 5, bottom: 7 });
  image.pixels[0] = 0.05;
  assert.deepEqual(inkBox(image), { left: 0, top: 0, right: 5, bottom: 7 });
  assert.deepEqual(inkBox(image, 0.1), { left: 2, top: 3, right: 5, bottom: 7 });
  assert.equal(inkBox(drawn(4, 4, () => false)), null);
  assert.throws(() => inkBox({ width: 3, height: 3, pixels: new Float32Array(8) }), /a 3 × 3 image needs 9 pixels, got 8/);
});

test('area resampling gives each target pixel the mean of the area it covers', () => {
  const image: GreyImage = { width: 4, height: 2, pixels: Float32Array.from([0, 1, 1, 1, 0, 0, 1, 0]) };
  const box = { left: 0, top: 0, right: 4, bottom: 2 };
  assertAllClose(Array.from(resampleArea(image, box, 2, 1)), [0.25, 0.75], 1e-6);
  // 4 columns into 3: target column 1 spans [4/3, 8/3), half of column 1 and half of column 2.
  assertAllClose(Array.from(resampleArea(image, box, 3, 1)), [(0.25 + 0) / 2, (1 + 0.5) / 2, (1 + 0.25) / 2], 1e-6);
  // Sizes that do not divide keep a uniform image uniform.
  const flat: GreyImage = { width: 7, height: 5, pixels: new Float32Array(35).fill(0.6) };
  const resized = resampleArea(flat, { left: 0, top: 0, right: 7, bottom: 5 }, 3, 2);
  assertAllClose(Array.from(resized), new Array(6).fill(0.6), 1e-6);
});

test('the centre of mass is in pixel indices', () => {
  assert.deepEqual(centreOfMass(drawn(5, 5, (x, y) => x === 0 && y === 0)), { x: 0, y: 0 });
  const pair = drawn(5, 3, (x, y) => y === 1 && (x === 1 || x === 4));
  assert.deepEqual(centreOfMass(pair), { x: 2.5, y: 1 });
  assert.equal(centreOfMass(drawn(3, 3, () => false)), null);
});

test('a drawing is scaled into 20×20 keeping its aspect ratio and centred by its centre of mass', () => {
  // A 100 × 50 block anywhere on a 200 × 200 canvas: a 20 × 10 block of full ink, mass at MNIST's centre.
  for (const [left, top] of [[0, 0], [37, 121], [100, 150]]) {
    const input = mnistInput(drawn(200, 200, (x, y) => x >= left && x < left + 100 && y >= top && y < top + 50));
    assert.equal(input.width, FIELD_SIZE);
    assert.equal(input.pixels.length, FIELD_SIZE * FIELD_SIZE);
    const box = inkBox(input)!;
    assert.deepEqual([box.right - box.left, box.bottom - box.top], [BOX_SIZE, 10]);
    const centre = centreOfMass(input)!;
    assert.ok(Math.abs(centre.x - MNIST_CENTRE) <= 0.5 && Math.abs(centre.y - MNIST_CENTRE) <= 0.5, JSON.stringify(centre));
    assert.ok(input.pixels.every((v) => v === 0 || Math.abs(v - 1) < 1e-6), 'whole pixels of ink stay 1');
  }
  // A lopsided shape (an L): its mass, not its box, goes to the centre.
  const ell = mnistInput(drawn(90, 90, (x, y) => (x < 15 && y < 90) || (y >= 75 && x < 90)));
  const centre = centreOfMass(ell)!;
  assert.ok(Math.abs(centre.x - MNIST_CENTRE) <= 0.5 && Math.abs(centre.y - MNIST_CENTRE) <= 0.5, JSON.stringify(centre));
  const box = inkBox(ell)!;
  assert.ok(box.left + box.right !== FIELD_SIZE, 'the box is off-centre');
  assert.ok(ell.pixels.every((v) => v >= 0 && v <= 1));
  // A thin stroke becomes a thin, grey-edged line: 6 × 60 → 2 × 20.
  const stroke = mnistInput(drawn(100, 100, (x, y) => x >= 40 && x < 46 && y >= 20 && y < 80));
  const strokeBox = inkBox(stroke)!;
  assert.deepEqual([strokeBox.right - strokeBox.left, strokeBox.bottom - strokeBox.top], [2, 20]);
  assert.ok(mnistInput(drawn(30, 30, () => false)).pixels.every((v) => v === 0), 'no ink: a blank input');
});

test('a test digit drawn 7 times larger comes back as itself (MNIST was made this way)', () => {
  const test = loadMnist().test;
  const pixels = FIELD_SIZE * FIELD_SIZE;
  for (let i = 0; i < 200; i++) {
    const digit: GreyImage = {
      width: FIELD_SIZE, height: FIELD_SIZE,
      pixels: Float32Array.from(test.images.subarray(i * pixels, (i + 1) * pixels), (v) => v / 255),
    };
    assertAllClose(Array.from(mnistInput(enlarged(digit, 7)).pixels), Array.from(digit.pixels), 1e-5, `test digit ${i}`);
  }
});
