/**
 * The browser page's pure parts (lib/demo/): a drawing made into an MNIST
 * input, the task in words, and the digits read off the answer or a probe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOX_SIZE, centreOfMass, FIELD_SIZE, greyFromRgba, inkBox, MNIST_CENTRE, mnistInput, resampleArea, type GreyImage,
} from '../lib/demo/preprocess';
import { answerTable, digitProbabilities, digitsFromAnswer, ordinal, taskFormula } from '../lib/demo/readings';
import { differenceTask, sumTask } from '../lib/data/tasks';
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

test('the task is named in words', () => {
  assert.equal(taskFormula('difference', 2), 'first − second');
  assert.equal(taskFormula('difference', 3), 'first − second; the other 1 digit is a distraction');
  assert.equal(taskFormula('difference', 5), 'first − second; the other 3 digits are a distraction');
  assert.equal(taskFormula('sum', 1), 'the digit itself');
  assert.equal(taskFormula('sum', 3), 'first + second + third');
  assert.equal(taskFormula('sum', 12), 'the sum of the 12 digits');
  assert.equal(taskFormula('max', 2), 'max');
  assert.equal(ordinal(10), 'digit 11');
});

test('digits read off the answer: pinned where the answer decides them, spread where it does not', () => {
  const table = answerTable(differenceTask, 2)!;
  assert.equal(table.sequences.reduce((a, b) => a + b, 0), 100);
  assert.deepEqual([table.sequences[0], table.sequences[9], table.sequences[18]], [1, 10, 1]);
  const sure = (c: number) => Array.from({ length: 19 }, (_, k) => (k === c ? 1 : 0));
  // +9 is only 9 − 0.
  const nine = digitsFromAnswer(sure(18), table);
  assertAllClose(nine, [[0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]], 1e-12);
  // 0 is any digit minus itself: both uniform.
  assertAllClose(digitsFromAnswer(sure(9), table), [new Array(10).fill(0.1), new Array(10).fill(0.1)], 1e-12);
  // Half +9, half −9: each digit 0 or 9.
  const split = digitsFromAnswer(sure(18).map((p, k) => (p + sure(0)[k]) / 2), table);
  assertAllClose(split[0], [0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.5], 1e-12);
  assert.throws(() => digitsFromAnswer([1], table), /expected 19 class probabilities, got 1/);
  // The sum of 3 digits: a total of 27 pins all three at 9; the third digit of a difference is never pinned.
  const sumTable = answerTable(sumTask(3), 3)!;
  const all9 = digitsFromAnswer(Array.from({ length: 28 }, (_, k) => (k === 27 ? 1 : 0)), sumTable);
  for (const step of all9) assertAllClose(step, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 1e-12);
  const third = digitsFromAnswer(sure(18), answerTable(differenceTask, 3)!)[2];
  assertAllClose(third, new Array(10).fill(0.1), 1e-12);
  assert.equal(answerTable(sumTask(7), 7), null, 'T > 6 is not enumerated');
});

test('a digit probe\'s read-out gives softmax((features − mean) / scale · weights + bias)', () => {
  // 2 features, 3 classes.
  const readout = { mean: [1, -1], scale: [2, 0.5], weights: [1, 0, -1, 0, 2, 0], bias: [0, 0.5, 0] };
  const probabilities = digitProbabilities([3, -0.5], readout); // standardised: [1, 1]
  const logits = [1, 2.5, -1];
  const total = logits.reduce((s, l) => s + Math.exp(l), 0);
  assertAllClose(probabilities, logits.map((l) => Math.exp(l) / total), 1e-12);
  assert.throws(() => digitProbabilities([1, 2, 3], readout), /reads 2 features, got 3/);
});
