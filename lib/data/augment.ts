/**
 * Input augmentation of training batches: each image shifted by whole
 * pixels and rotated about its centre, at random, from a seeded Rng, so that
 * the same seed gives the same batches. Applied by the batch sampler
 * (`sampleSequenceBatch`) to training batches only; the fixed evaluation set
 * and predictions never see it.
 *
 * Training (`trainSteps`) draws a step's transforms from TensorFlow's
 * stateless generator keyed by [seed, step] (`augmentOfStep`): the numbers
 * the graph draws when it augments the batches it gathers
 * (lib/graph/sampler.ts), so that a step's images are shifted and rotated
 * alike whichever engine or sampler makes them.
 *
 * The transform is computed straight from the uint8 pixels into the batch's
 * float32 buffer, while the bytes are scaled to [0, 1] anyway: a shift is an
 * offset copy with zeros shifted in, a rotation (with its shift) maps every
 * output pixel back into the input and samples it bilinearly, zero outside.
 */
import type { Rng } from '../random';
import { statelessUniform } from '../model/dropout';

/** How training images are augmented (see TrainConfig.augmentShift and augmentRotation). */
export interface AugmentOptions {
  /** Largest shift in pixels: dx and dy are drawn uniformly from the integers −maxShift..maxShift. */
  maxShift: number;
  /** Largest rotation in degrees: the angle is drawn uniformly from [−maxRotation, maxRotation]. */
  maxRotation: number;
  /** Where the random shifts and angles come from. */
  rng: Rng;
}

/** One image's transform: the image moves by (dx, dy) pixels and turns by `angle` radians about its centre. */
export interface ImageTransform {
  /** Columns to the right (negative: to the left). */
  dx: number;
  /** Rows down (negative: up). */
  dy: number;
  /** Radians; positive turns the image clockwise as displayed (rows growing downwards). */
  angle: number;
}

/**
 * Augmentation whose draws follow from a seed and the training step alone
 * (`augmentOfStep`), as the graph draws them (lib/graph/sampler.ts).
 */
export interface SteppedAugment {
  maxShift: number;
  maxRotation: number;
  /** An int32: with the step, the key of the stateless generator. */
  seed: number;
}

/**
 * Checks augmentation options.
 * @throws Error naming the option and the value.
 */
export function checkAugmentOptions(options: Pick<AugmentOptions, 'maxShift' | 'maxRotation'>): void {
  if (!Number.isInteger(options.maxShift) || options.maxShift < 0) {
    throw new Error(`augmentation maxShift must be an integer >= 0, got ${options.maxShift}`);
  }
  if (!Number.isFinite(options.maxRotation) || options.maxRotation < 0) {
    throw new Error(`augmentation maxRotation must be a number >= 0, got ${options.maxRotation}`);
  }
}

/** True when the options change images at all (a shift or rotation above 0). */
export function augments<Options extends Pick<AugmentOptions, 'maxShift' | 'maxRotation'>>(
  options: Options | undefined,
): options is Options {
  return options !== undefined && (options.maxShift > 0 || options.maxRotation > 0);
}

/**
 * The augmentation of `count` images at training step `step`: an
 * AugmentOptions whose rng hands out, in order, the count × 3 uniforms of
 * StatelessRandomUniform([count, 3], [seed, step]), the dx, dy and angle
 * draws of each image (`drawTransform`). The graph draws the very same
 * numbers for its batch of that step, and maps them to transforms by the
 * same rule, in float32 (see `writeAugmentTransforms`).
 * @throws Error for invalid options, a seed or step that is not an int32, or
 *   (from its rng) a draw beyond the count × 3.
 */
export function augmentOfStep(augment: SteppedAugment, count: number, step: number): AugmentOptions {
  checkAugmentOptions(augment);
  if (!Number.isInteger(count) || count < 1) throw new Error(`augmentOfStep: count must be a positive integer, got ${count}`);
  const uniforms = statelessUniform([count, 3], [augment.seed, step]);
  const values = uniforms.dataSync();
  uniforms.dispose();
  let drawn = 0;
  const next = () => {
    if (drawn >= values.length) throw new Error(`the augmentation of step ${step} holds ${values.length} draws, all drawn`);
    return values[drawn++];
  };
  return {
    maxShift: augment.maxShift,
    maxRotation: augment.maxRotation,
    rng: { seed: `${augment.seed}/${step}`, next, nextInt: (n) => Math.floor(next() * n) },
  };
}

/**
 * Draws one image's transform. Always three draws, dx, dy, then the angle,
 * so that for a given seed the shifts are the same whatever the rotation,
 * and the other way round.
 *
 * The graph computes the same rule in float32 on the uniforms of
 * `augmentOfStep`, which are multiples of 2⁻²³: there, u·(2·maxShift + 1)
 * rounds to float32 without crossing an integer for every shift the
 * settings allow (tested), so the shifts are the same integers; the angle
 * differs by float32 rounding.
 */
export function drawTransform(options: AugmentOptions): ImageTransform {
  const { maxShift, maxRotation, rng } = options;
  const dx = Math.floor(rng.next() * (2 * maxShift + 1)) - maxShift;
  const dy = Math.floor(rng.next() * (2 * maxShift + 1)) - maxShift;
  const angle = (2 * rng.next() - 1) * maxRotation * (Math.PI / 180);
  return { dx, dy, angle };
}

/**
 * Writes one image, transformed, as floats in [0, 1]: output pixel (x, y) is
 * the input at the point the transform brings onto it, i.e. the input at
 * R(−angle)·(x − dx − cx, y − dy − cy) + (cx, cy), with (cx, cy) the centre
 * of the image ((width − 1)/2, (height − 1)/2). Points outside the image read
 * as 0. Without rotation that is an exact offset copy; with one, bilinear
 * sampling of the four nearest pixels.
 *
 * @param source grey-scale bytes 0..255, row-major.
 * @param sourceOffset index of the image's first byte in `source`.
 * @param target where the height × width floats go.
 * @param targetOffset index of the image's first float in `target`.
 */
export function transformImage(
  source: Uint8Array, sourceOffset: number, target: Float32Array, targetOffset: number,
  height: number, width: number, transform: ImageTransform,
): void {
  const { dx, dy, angle } = transform;
  if (angle === 0) {
    for (let y = 0; y < height; y++) {
      const sy = y - dy;
      const row = targetOffset + y * width;
      if (sy < 0 || sy >= height) {
        target.fill(0, row, row + width);
        continue;
      }
      const from = sourceOffset + sy * width;
      for (let x = 0; x < width; x++) {
        const sx = x - dx;
        target[row + x] = sx >= 0 && sx < width ? source[from + sx] / 255 : 0;
      }
    }
    return;
  }
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const scale = 1 / 255;
  for (let y = 0; y < height; y++) {
    const v = y - dy - cy;
    // The source point of (0, y); each step along x moves it by (cos, −sin).
    let sx = cos * (-dx - cx) + sin * v + cx;
    let sy = -sin * (-dx - cx) + cos * v + cy;
    const row = targetOffset + y * width;
    for (let x = 0; x < width; x++, sx += cos, sy -= sin) {
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      let a00: number;
      let a10: number;
      let a01: number;
      let a11: number;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < width && y0 + 1 < height) {
        // All four neighbours inside: the common case, without more checks.
        const p = sourceOffset + y0 * width + x0;
        a00 = source[p];
        a10 = source[p + 1];
        a01 = source[p + width];
        a11 = source[p + width + 1];
      } else if (x0 < -1 || y0 < -1 || x0 >= width || y0 >= height) {
        target[row + x] = 0; // all four outside
        continue;
      } else {
        const p = sourceOffset + y0 * width + x0;
        const left = x0 >= 0;
        const right = x0 + 1 < width;
        const up = y0 >= 0;
        const down = y0 + 1 < height;
        a00 = left && up ? source[p] : 0;
        a10 = right && up ? source[p + 1] : 0;
        a01 = left && down ? source[p + width] : 0;
        a11 = right && down ? source[p + width + 1] : 0;
      }
      const top = a00 + (a10 - a00) * fx;
      const bottom = a01 + (a11 - a01) * fx;
      target[row + x] = (top + (bottom - top) * fy) * scale;
    }
  }
}
