import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../lib/tf';
import {
  augmentOfStep, augments, drawTransform, transformImage, type AugmentOptions, type SteppedAugment,
} from '../lib/data/augment';
import { createRng, deriveSeed } from '../lib/random';
import { createEvalSet, evalBatches, sampleSequenceBatch } from '../lib/data/sequences';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { trainSteps, type TrainOptions } from '../lib/train/loop';
import { loadMnist } from '../lib/data/data';
import type { DigitData, SequenceBatch } from '../lib/types';

const data: DigitData = loadMnist();

function dispose(batch: SequenceBatch): void {
  tf.dispose([batch.xs, batch.ys]);
}

/** Total ink and centre of mass (x, y) of an image of floats. */
function centreOfMass(pixels: ArrayLike<number>, offset: number, height: number, width: number): { ink: number; x: number; y: number } {
  let [ink, x, y] = [0, 0, 0];
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const v = pixels[offset + r * width + c];
      ink += v;
      x += v * c;
      y += v * r;
    }
  }
  return { ink, x: x / ink, y: y / ink };
}

/** A 12×10 image with a lopsided blob away from the borders. */
function blobImage(): { source: Uint8Array; height: number; width: number } {
  const [height, width] = [12, 10];
  const source = new Uint8Array(height * width);
  const set = (r: number, c: number, v: number) => { source[r * width + c] = v; };
  set(4, 4, 255); set(4, 5, 100); set(5, 4, 50); set(6, 5, 200); set(7, 3, 30);
  return { source, height, width };
}

test('a shift moves every pixel by whole pixels, zeros shifted in: the centre of mass moves by (dx, dy)', () => {
  const { source, height, width } = blobImage();
  const plain = new Float32Array(height * width);
  transformImage(source, 0, plain, 0, height, width, { dx: 0, dy: 0, angle: 0 });
  assert.deepEqual(Array.from(plain), Array.from(source, (v) => Math.fround(v / 255)));
  const before = centreOfMass(plain, 0, height, width);
  for (const [dx, dy] of [[2, 0], [0, -2], [-1, 2], [2, 2], [-2, -1]]) {
    const out = new Float32Array(height * width).fill(9); // every value must be written
    transformImage(source, 0, out, 0, height, width, { dx, dy, angle: 0 });
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const [sr, sc] = [r - dy, c - dx];
        const expected = sr >= 0 && sr < height && sc >= 0 && sc < width ? plain[sr * width + sc] : 0;
        assert.equal(out[r * width + c], expected, `(${dx}, ${dy}) at row ${r}, column ${c}`);
      }
    }
    const after = centreOfMass(out, 0, height, width);
    assert.ok(Math.abs(after.ink - before.ink) < 1e-6, 'no ink is lost away from the borders');
    assert.ok(Math.abs(after.x - before.x - dx) < 1e-6 && Math.abs(after.y - before.y - dy) < 1e-6,
      `(${dx}, ${dy}): the centre moved by (${after.x - before.x}, ${after.y - before.y})`);
  }
  // Shifted beyond the image: all zeros.
  const gone = new Float32Array(height * width).fill(9);
  transformImage(source, 0, gone, 0, height, width, { dx: width, dy: 0, angle: 0 });
  assert.ok(gone.every((v) => v === 0));
});

test('a rotation turns the image about its centre, clockwise as displayed, sampling bilinearly', () => {
  const [height, width] = [9, 9]; // centre (4, 4)
  const source = new Uint8Array(height * width);
  source[4 * width + 7] = 255; // 3 right of the centre
  const out = new Float32Array(height * width);
  transformImage(source, 0, out, 0, height, width, { dx: 0, dy: 0, angle: Math.PI / 2 });
  // A quarter turn clockwise (rows grow downwards): right of the centre goes below it.
  out.forEach((v, p) => assert.ok(Math.abs(v - (p === 7 * width + 4 ? 1 : 0)) < 1e-6, `pixel ${p}: ${v}`));
  // With a shift as well: the turned point, then moved by (dx, dy).
  transformImage(source, 0, out, 0, height, width, { dx: -1, dy: -2, angle: Math.PI / 2 });
  out.forEach((v, p) => assert.ok(Math.abs(v - (p === 5 * width + 3 ? 1 : 0)) < 1e-6, `pixel ${p}: ${v}`));
  // Half a pixel's worth between two pixels: bilinear weights.
  const { source: blob, height: h, width: w } = blobImage();
  const small = new Float32Array(h * w);
  const angle = (10 * Math.PI) / 180;
  transformImage(blob, 0, small, 0, h, w, { dx: 0, dy: 0, angle });
  const [before, after] = [centreOfMass(Float32Array.from(blob, (v) => v / 255), 0, h, w), centreOfMass(small, 0, h, w)];
  // Bilinear sampling keeps the ink (to first order) and turns the centre of mass by the angle.
  assert.ok(Math.abs(after.ink - before.ink) / before.ink < 0.02, `ink ${before.ink} → ${after.ink}`);
  const [cx, cy] = [(w - 1) / 2, (h - 1) / 2];
  const turned = {
    x: cx + Math.cos(angle) * (before.x - cx) - Math.sin(angle) * (before.y - cy),
    y: cy + Math.sin(angle) * (before.x - cx) + Math.cos(angle) * (before.y - cy),
  };
  assert.ok(Math.hypot(after.x - turned.x, after.y - turned.y) < 0.05, `centre ${JSON.stringify(after)} vs ${JSON.stringify(turned)}`);
});

test('the transforms drawn stay within the limits and take every shift, three draws per image', () => {
  const options: AugmentOptions = { maxShift: 2, maxRotation: 15, rng: createRng(1) };
  const shifts = new Set<number>();
  let largest = 0;
  for (let i = 0; i < 500; i++) {
    const t = drawTransform(options);
    assert.ok(Number.isInteger(t.dx) && Math.abs(t.dx) <= 2 && Number.isInteger(t.dy) && Math.abs(t.dy) <= 2);
    assert.ok(Math.abs(t.angle) <= (15 * Math.PI) / 180);
    shifts.add(t.dx).add(t.dy);
    largest = Math.max(largest, Math.abs(t.angle));
  }
  assert.deepEqual([...shifts].sort(), [-1, -2, 0, 1, 2]);
  assert.ok(largest > (14 * Math.PI) / 180);
  const counted = { ...createRng(3), calls: 0 };
  const rng = createRng(3);
  counted.next = () => { counted.calls++; return rng.next(); };
  drawTransform({ maxShift: 0, maxRotation: 5, rng: counted });
  assert.equal(counted.calls, 3);
  assert.equal(augments(undefined), false);
  assert.equal(augments({ maxShift: 0, maxRotation: 0, rng }), false);
  assert.equal(augments({ maxShift: 1, maxRotation: 0, rng }), true);
});

test('a step\'s transforms are drawn from [seed, step]: the same for the same step, others for another step or seed', () => {
  const augment = { maxShift: 2, maxRotation: 10, seed: 17 };
  const draw = (options: SteppedAugment, step: number) => {
    const rng = augmentOfStep(options, 6, step);
    return Array.from({ length: 6 }, () => drawTransform(rng));
  };
  const first = draw(augment, 5);
  assert.deepEqual(draw(augment, 5), first);
  assert.notDeepEqual(draw(augment, 6), first);
  assert.notDeepEqual(draw({ ...augment, seed: 18 }, 5), first);
  // Three draws per image: a seventh image has none left.
  const rng = augmentOfStep(augment, 1, 5);
  for (let i = 0; i < 3; i++) rng.rng.next();
  assert.throws(() => rng.rng.next(), /the augmentation of step 5 holds 3 draws, all drawn/);
  assert.throws(() => augmentOfStep({ ...augment, seed: 2 ** 31 }, 1, 1), /the seed must be two int32 values/);
});

test('the drawn shifts and angles cover their ranges uniformly', () => {
  const augment = { maxShift: 2, maxRotation: 10, seed: 3 };
  const count = 4000;
  const rng = augmentOfStep(augment, count, 1);
  const transforms = Array.from({ length: count }, () => drawTransform(rng));
  const maxRadians = 10 * Math.PI / 180;
  for (const key of ['dx', 'dy'] as const) {
    for (let shift = -2; shift <= 2; shift++) {
      const share = transforms.filter((t) => t[key] === shift).length / count;
      // 1/5 each; the standard deviation of a share of 4,000 draws is 0.0063.
      assert.ok(Math.abs(share - 0.2) < 0.03, `${key} = ${shift}: ${share}`);
    }
  }
  assert.ok(transforms.every((t) => Math.abs(t.angle) <= maxRadians));
  // Uniform on [−10°, 10°]: a quarter of the angles in each quarter of the range.
  for (let quarter = 0; quarter < 4; quarter++) {
    const [low, high] = [-maxRadians + quarter * maxRadians / 2, -maxRadians + (quarter + 1) * maxRadians / 2];
    const share = transforms.filter((t) => t.angle >= low && t.angle < high).length / count;
    assert.ok(Math.abs(share - 0.25) < 0.03, `angles in quarter ${quarter}: ${share}`);
  }
});

test('shift 0 and rotation 0 give the batches of before, and draw nothing', () => {
  const augmentRng = createRng(7);
  const options = { batchSize: 16, seqLength: 2, task: 'difference' as const };
  const plain = sampleSequenceBatch(data.train, { ...options, rng: createRng(5) });
  const zero = sampleSequenceBatch(data.train, { ...options, rng: createRng(5), augment: { maxShift: 0, maxRotation: 0, rng: augmentRng } });
  try {
    assert.deepEqual(zero.indices, plain.indices);
    assert.deepEqual(zero.xs.dataSync(), plain.xs.dataSync());
    assert.deepEqual(zero.ys.dataSync(), plain.ys.dataSync());
    assert.equal(augmentRng.next(), createRng(7).next(), 'the augmentation stream was not drawn from');
  } finally {
    [plain, zero].forEach(dispose);
  }
});

test('on real digits, a shift of up to 2 px moves each digit\'s centre of mass by whole pixels within ±2', () => {
  const options = { batchSize: 64, seqLength: 2, task: 'difference' as const };
  const plain = sampleSequenceBatch(data.train, { ...options, rng: createRng(5) });
  const shifted = sampleSequenceBatch(data.train, { ...options, rng: createRng(5), augment: { maxShift: 2, maxRotation: 0, rng: createRng(8) } });
  try {
    // The images drawn are the same: augmentation has its own stream.
    assert.deepEqual(shifted.indices, plain.indices);
    assert.deepEqual(shifted.targets, plain.targets);
    assert.deepEqual(shifted.ys.dataSync(), plain.ys.dataSync());
    const [a, b] = [plain.xs.dataSync(), shifted.xs.dataSync()];
    const moves = new Set<string>();
    let whole = 0;
    for (let k = 0; k < plain.indices.length; k++) {
      const [before, after] = [centreOfMass(a, k * 784, 28, 28), centreOfMass(b, k * 784, 28, 28)];
      if (Math.abs(after.ink - before.ink) > 1e-3) continue; // a digit touching the border lost some ink
      whole++;
      const [mx, my] = [after.x - before.x, after.y - before.y];
      assert.ok(Math.abs(mx - Math.round(mx)) < 1e-4 && Math.abs(my - Math.round(my)) < 1e-4, `moved by (${mx}, ${my})`);
      assert.ok(Math.abs(mx) <= 2 + 1e-4 && Math.abs(my) <= 2 + 1e-4, `moved by (${mx}, ${my})`);
      moves.add(`${Math.round(mx)},${Math.round(my)}`);
    }
    assert.ok(whole > 100, `${whole} of 128 digits kept all their ink`);
    assert.ok(moves.size >= 15, `only ${moves.size} of the 25 shifts occurred`);
  } finally {
    [plain, shifted].forEach(dispose);
  }
});

test('augmented batches: the same seeds give the same batch, another augmentation seed another one', () => {
  const sample = (seed: number) => sampleSequenceBatch(data.train, {
    batchSize: 8, seqLength: 2, task: 'sum', rng: createRng(3), augment: { maxShift: 2, maxRotation: 15, rng: createRng(seed) },
  });
  const [a, b, c] = [sample(1), sample(1), sample(2)];
  try {
    assert.deepEqual(a.xs.dataSync(), b.xs.dataSync());
    assert.deepEqual(a.indices, c.indices);
    assert.notDeepEqual(a.xs.dataSync(), c.xs.dataSync());
    const [min, max] = tf.tidy(() => [a.xs.min().dataSync()[0], a.xs.max().dataSync()[0]]);
    assert.ok(min >= 0 && max <= 1, `pixels in [${min}, ${max}]`);
  } finally {
    [a, b, c].forEach(dispose);
  }
});

test('invalid augmentation options are refused, naming the option', () => {
  const sample = (maxShift: number, maxRotation: number) => () => sampleSequenceBatch(data.test, {
    batchSize: 2, seqLength: 2, task: 'difference', rng: createRng(0), augment: { maxShift, maxRotation, rng: createRng(0) },
  });
  assert.throws(sample(1.5, 0), /augmentation maxShift must be an integer >= 0, got 1.5/);
  assert.throws(sample(-1, 0), /maxShift must be an integer >= 0, got -1/);
  assert.throws(sample(0, NaN), /augmentation maxRotation must be a number >= 0, got NaN/);
});

test('trainSteps augments the training batches only: the evaluations are those of unaugmented test sequences', async () => {
  const options: TrainOptions = {
    seqLength: 2, task: 'difference', batchSize: 16, evalSize: 64, evalEvery: 2, numSteps: 4, seed: 4, stepsPerCall: 2,
  };
  // A learning rate so small that the weights stay put: every evaluation is the untrained model's.
  const run = async (augment: Partial<TrainOptions>) => {
    const model = buildCrnn({ filters: [4, 4], denseUnits: 16, hiddenSize: 16, learningRate: 1e-30 }, { seed: 4 });
    const history = await trainSteps(model, data, { ...options, ...augment });
    disposeCrnn(model);
    return history;
  };
  const plain = await run({});
  const augmented = await run({ augmentShift: 2, augmentRotation: 15 });
  assert.equal(augmented.engine, plain.engine);
  // Training saw other pixels…
  assert.notDeepEqual(augmented.steps.map((s) => s.loss), plain.steps.map((s) => s.loss));
  // …the fixed evaluation set the same ones.
  assert.equal(plain.evals.length, 2);
  augmented.evals.forEach((e, i) => {
    assert.ok(Math.abs(e.loss - plain.evals[i].loss) < 1e-6, `eval ${e.step}: ${e.loss} vs ${plain.evals[i].loss}`);
    assert.equal(e.accuracy, plain.evals[i].accuracy);
  });
  // And they are the untouched test images, as evalBatches gives them.
  const evalSet = createEvalSet(data.test, { size: 64, seqLength: 2, task: 'difference', seed: 42 });
  for (const batch of evalBatches(evalSet, data.test, 64)) {
    const xs = batch.xs.dataSync();
    const first = evalSet.indices[0] * 784;
    for (let p = 0; p < 784; p++) assert.equal(xs[p], Math.fround(data.test.images[first + p] / 255));
  }
});

test('an augmented run is reproducible from its seed, and its augmentation stream is derived from it', async () => {
  const run = async (seed: number) => {
    const model = buildCrnn({ filters: [4, 4], denseUnits: 16, hiddenSize: 16 }, { seed });
    const history = await trainSteps(model, data, {
      seqLength: 2, task: 'difference', batchSize: 8, evalSize: 16, evalEvery: 3, numSteps: 3, seed, stepsPerCall: 3,
      augmentShift: 2, augmentRotation: 10,
    });
    disposeCrnn(model);
    return history.steps.map((s) => s.loss);
  };
  const first = await run(9);
  assert.deepEqual(await run(9), first);
  assert.notDeepEqual(await run(10), first);
  assert.notEqual(deriveSeed(9, 'augment'), 9);
});
