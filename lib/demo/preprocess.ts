/**
 * A drawing turned into a model input the way MNIST's digits were made
 * (LeCun, Cortes and Burges, "The MNIST database"): the ink's bounding box
 * scaled to fit a 20×20 box keeping its aspect ratio (grey levels from the
 * area each pixel covers: anti-aliasing), then placed in a 28×28 field so
 * that its centre of mass sits at the field's centre.
 *
 * Pure functions on grey images (no DOM, no TensorFlow): the browser page
 * (demo/) runs them on its canvases, and Node tests them.
 */

/** A grey image, row-major: 0 is background, 1 full ink. */
export interface GreyImage {
  width: number;
  height: number;
  /** [height · width] values in [0, 1]. */
  pixels: Float32Array;
}

/** Side of the images the model reads. */
export const FIELD_SIZE = 28;
/** Side of the box the digit is scaled into. */
export const BOX_SIZE = 20;
/**
 * Where MNIST's digits have their centre of mass, in pixel indices (see
 * `centreOfMass`): every digit of the test split has it within half a pixel
 * of (14, 14), half a pixel right of and below the field's middle (13.5, 13.5).
 */
export const MNIST_CENTRE = 14;

/** The ink's extent: columns left..right − 1, rows top..bottom − 1. */
export interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

function checkImage(image: GreyImage): void {
  const { width, height, pixels } = image;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new Error(`an image needs a positive integer width and height, got ${width} × ${height}`);
  }
  if (pixels.length !== width * height) {
    throw new Error(`a ${width} × ${height} image needs ${width * height} pixels, got ${pixels.length}`);
  }
}

/**
 * A canvas's RGBA bytes (ImageData.data) as a grey image: the pixel's
 * luminance / 255, so white ink on black reads as MNIST's 1 on 0.
 * @throws Error when `rgba` does not hold width · height · 4 bytes.
 */
export function greyFromRgba(rgba: ArrayLike<number>, width: number, height: number): GreyImage {
  if (rgba.length !== width * height * 4) {
    throw new Error(`RGBA data of a ${width} × ${height} image needs ${width * height * 4} bytes, got ${rgba.length}`);
  }
  const pixels = new Float32Array(width * height);
  for (let p = 0; p < pixels.length; p++) {
    pixels[p] = (0.299 * rgba[4 * p] + 0.587 * rgba[4 * p + 1] + 0.114 * rgba[4 * p + 2]) / 255;
  }
  return { width, height, pixels };
}

/** The smallest box holding every pixel above `threshold`, or null for an image without ink. */
export function inkBox(image: GreyImage, threshold = 0): Box | null {
  checkImage(image);
  const { width, height, pixels } = image;
  let left = width;
  let top = height;
  let right = 0;
  let bottom = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (pixels[y * width + x] > threshold) {
        left = Math.min(left, x);
        right = Math.max(right, x + 1);
        top = Math.min(top, y);
        bottom = Math.max(bottom, y + 1);
      }
    }
  }
  return right > left ? { left, top, right, bottom } : null;
}

/**
 * For resampling `length` source pixels into `size` target pixels: for each
 * target pixel, the source pixels it covers and the share of each (the
 * weights of a pixel sum to 1). Target pixel j spans [j, j + 1) · length / size.
 */
function coverage(length: number, size: number): { first: number; weights: number[] }[] {
  const step = length / size;
  return Array.from({ length: size }, (_, j) => {
    const start = j * step;
    const end = (j + 1) * step;
    const first = Math.floor(start);
    const weights: number[] = [];
    for (let i = first; i < end && i < length; i++) {
      weights.push((Math.min(end, i + 1) - Math.max(start, i)) / step);
    }
    return { first, weights };
  });
}

/**
 * The part `box` of `image` resampled to width × height by area averaging:
 * each target pixel is the mean of the source area it covers.
 * @returns [height · width] values, row-major.
 */
export function resampleArea(image: GreyImage, box: Box, width: number, height: number): Float32Array {
  checkImage(image);
  const boxWidth = box.right - box.left;
  const boxHeight = box.bottom - box.top;
  // Rows first (boxHeight rows of `width` values), then columns.
  const columns = coverage(boxWidth, width);
  const rows = coverage(boxHeight, height);
  const narrowed = new Float32Array(boxHeight * width);
  for (let y = 0; y < boxHeight; y++) {
    const row = (box.top + y) * image.width + box.left;
    for (let x = 0; x < width; x++) {
      const { first, weights } = columns[x];
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k] * image.pixels[row + first + k];
      narrowed[y * width + x] = sum;
    }
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const { first, weights } = rows[y];
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k] * narrowed[(first + k) * width + x];
      out[y * width + x] = sum;
    }
  }
  return out;
}

/**
 * The centre of mass of the grey levels, in pixel indices: a single pixel at
 * column x, row y has its mass at (x, y). Null for an image without ink.
 */
export function centreOfMass(image: GreyImage): { x: number; y: number } | null {
  checkImage(image);
  const { width, height, pixels } = image;
  let mass = 0;
  let sumX = 0;
  let sumY = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = pixels[y * width + x];
      mass += v;
      sumX += v * x;
      sumY += v * y;
    }
  }
  return mass > 0 ? { x: sumX / mass, y: sumY / mass } : null;
}

/**
 * A drawing as the model's 28×28 input, made as MNIST's digits were: the
 * ink's bounding box scaled so that its longer side is 20 px (aspect ratio
 * kept, area-averaged grey levels), then shifted by whole pixels so that its
 * centre of mass is within half a pixel of MNIST's (14, 14). A test digit
 * drawn k times larger (each pixel a k × k block) comes back as itself.
 * Ink that the shift would push out of the field is dropped (a digit's mass
 * is rarely that far from its box's middle). Grey levels stay in [0, 1].
 * @param threshold grey levels at or below it count as background when
 *   finding the ink (default 0: any ink at all).
 * @returns a 28×28 grey image; all zeros for a drawing without ink.
 */
export function mnistInput(drawing: GreyImage, threshold = 0): GreyImage {
  const field: GreyImage = { width: FIELD_SIZE, height: FIELD_SIZE, pixels: new Float32Array(FIELD_SIZE * FIELD_SIZE) };
  const box = inkBox(drawing, threshold);
  if (box === null) return field;
  const boxWidth = box.right - box.left;
  const boxHeight = box.bottom - box.top;
  const scale = BOX_SIZE / Math.max(boxWidth, boxHeight);
  const width = Math.max(1, Math.min(BOX_SIZE, Math.round(boxWidth * scale)));
  const height = Math.max(1, Math.min(BOX_SIZE, Math.round(boxHeight * scale)));
  const digit: GreyImage = { width, height, pixels: resampleArea(drawing, box, width, height) };
  const centre = centreOfMass(digit);
  if (centre === null) return field;
  const dx = Math.round(MNIST_CENTRE - centre.x);
  const dy = Math.round(MNIST_CENTRE - centre.y);
  for (let y = 0; y < height; y++) {
    const fy = y + dy;
    if (fy < 0 || fy >= FIELD_SIZE) continue;
    for (let x = 0; x < width; x++) {
      const fx = x + dx;
      if (fx >= 0 && fx < FIELD_SIZE) field.pixels[fy * FIELD_SIZE + fx] = Math.min(1, digit.pixels[y * width + x]);
    }
  }
  return field;
}
