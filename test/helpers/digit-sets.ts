import type { DigitSet } from '../../lib/types';

/** Four 3×2 images; image k has every pixel equal to 10·k + position, label k. */
export function tinySet(): DigitSet {
  const height = 3;
  const width = 2;
  const count = 4;
  const images = new Uint8Array(count * height * width);
  for (let k = 0; k < count; k++) {
    for (let p = 0; p < height * width; p++) images[k * height * width + p] = 10 * k + p;
  }
  return { images, labels: Uint8Array.from([0, 1, 2, 3]), count, height, width };
}
