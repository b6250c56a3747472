/**
 * Digit images as PNG and as captioned SVG grids.
 *
 * Two kinds of picture:
 * - `imageGridPng`: one PNG of many digits (nearest-neighbour upscaled), for
 *   plain grids; mistakes can be framed in red. Grey unless a frame is red.
 * - `labelledGridSvg`: an SVG whose cells hold one or more digits side by side
 *   (a sequence) with caption lines under them. Each digit is a tiny embedded
 *   grey-scale PNG (a few hundred bytes) and the captions are SVG text, so the
 *   output stays small and text stays sharp.
 *
 * `svgToPng` (`png.ts`) turns these grids into PNG: notebooks show pictures
 * as PNG because JupyterLab renders SVG outputs only in trusted notebooks,
 * and a freshly cloned notebook is not trusted.
 */
import type { DigitSet } from '../types';
import { encodePng } from './png';

/** How pixels are mapped to grey levels. */
export interface InkOptions {
  /**
   * true (default): dark ink on white paper, easier to read next to captions;
   * false: MNIST's own white digits on black.
   */
  invert?: boolean;
}

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be an integer >= 1, got ${value}`);
  }
}

function checkImage(image: Uint8Array, height: number, width: number, what: string): void {
  if (!(image instanceof Uint8Array)) {
    throw new Error(`${what} must be a Uint8Array of ${height}×${width} pixels, got ${Object.prototype.toString.call(image)}`);
  }
  if (image.length !== height * width) {
    throw new Error(`${what} has ${image.length} pixels, expected ${height}×${width} = ${height * width}`);
  }
}

/**
 * The pixels of image `index` of `set`: a [height × width] view, no copy.
 * @throws Error when `index` is not an integer in [0, set.count).
 */
export function digitImage(set: DigitSet, index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= set.count) {
    throw new Error(`Image index ${index} is out of range for a set of ${set.count} images`);
  }
  const size = set.height * set.width;
  return set.images.subarray(index * size, (index + 1) * size);
}

/** Views of the images of `set` at `indices`, in that order. */
export function digitImages(set: DigitSet, indices: ArrayLike<number>): Uint8Array[] {
  return Array.from(indices, (index) => digitImage(set, index));
}

/**
 * Sequences as lists of images: `indices` is row-major [count × seqLength]
 * (as `SequenceBatch.indices`), and sequence i is images
 * `indices[i*seqLength .. (i+1)*seqLength)` of `set`.
 * @throws Error when the number of indices is not a multiple of `seqLength`.
 */
export function sequenceImages(set: DigitSet, indices: ArrayLike<number>, seqLength: number): Uint8Array[][] {
  checkPositiveInteger('seqLength', seqLength);
  if (indices.length % seqLength !== 0) {
    throw new Error(`${indices.length} image indices do not split into sequences of length ${seqLength}`);
  }
  const out: Uint8Array[][] = [];
  for (let start = 0; start < indices.length; start += seqLength) {
    out.push(digitImages(set, Array.prototype.slice.call(indices, start, start + seqLength) as number[]));
  }
  return out;
}

/**
 * Encodes one grey-scale image as an 8-bit grey PNG.
 * @param pixels [height × width] values 0..255, row-major.
 */
export function greyPng(pixels: Uint8Array, height: number, width: number, options: InkOptions = {}): Buffer {
  checkPositiveInteger('height', height);
  checkPositiveInteger('width', width);
  checkImage(pixels, height, width, 'Image');
  const { invert = true } = options;
  const data = Buffer.alloc(width * height);
  for (let i = 0; i < data.length; i++) data[i] = invert ? 255 - pixels[i] : pixels[i];
  return encodePng({ data, width, height, channels: 1 });
}

export interface ImageGridOptions extends InkOptions {
  /** Size of each image in pixels. */
  height: number;
  width: number;
  /** Images per row; the number of rows follows from the number of images. */
  cols: number;
  /** Each image pixel becomes scale × scale output pixels (default 2). */
  scale?: number;
  /** Space between images in output pixels (default 4). */
  gap?: number;
  /** Images to frame in red (e.g. mistakes); same length as the images. */
  highlight?: readonly boolean[];
}

const HIGHLIGHT_RGB = [214, 39, 40] as const;
const BACKGROUND = 255;

/**
 * One PNG showing `images` in a grid, row by row: 8-bit grey, or RGB when a
 * red frame needs it (see `encodePng`).
 * @throws Error on an empty list, an image of the wrong size, or bad options.
 */
export function imageGridPng(images: readonly Uint8Array[], options: ImageGridOptions): Buffer {
  const { height, width, cols, scale = 2, gap = 4, invert = true, highlight } = options;
  checkPositiveInteger('height', height);
  checkPositiveInteger('width', width);
  checkPositiveInteger('cols', cols);
  checkPositiveInteger('scale', scale);
  if (!Number.isInteger(gap) || gap < 0) throw new Error(`gap must be an integer >= 0, got ${gap}`);
  if (images.length === 0) throw new Error('imageGridPng needs at least one image, got 0');
  images.forEach((image, i) => checkImage(image, height, width, `Image ${i}`));
  if (highlight && highlight.length !== images.length) {
    throw new Error(`highlight has ${highlight.length} flags for ${images.length} images`);
  }
  const rows = Math.ceil(images.length / cols);
  const usedCols = Math.min(cols, images.length);
  const cellW = width * scale;
  const cellH = height * scale;
  const outW = usedCols * cellW + (usedCols + 1) * gap;
  const outH = rows * cellH + (rows + 1) * gap;
  const rgb = Buffer.alloc(outW * outH * 3, BACKGROUND);
  const put = (x: number, y: number, r: number, g: number, b: number) => {
    const o = (y * outW + x) * 3;
    rgb[o] = r; rgb[o + 1] = g; rgb[o + 2] = b;
  };
  images.forEach((image, i) => {
    const x0 = gap + (i % cols) * (cellW + gap);
    const y0 = gap + Math.floor(i / cols) * (cellH + gap);
    for (let y = 0; y < cellH; y++) {
      for (let x = 0; x < cellW; x++) {
        const v = image[Math.floor(y / scale) * width + Math.floor(x / scale)];
        const grey = invert ? 255 - v : v;
        put(x0 + x, y0 + y, grey, grey, grey);
      }
    }
    if (highlight?.[i]) {
      // A frame of up to 2 pixels inside the gap around the image.
      const t = Math.min(2, gap);
      for (let k = 1; k <= t; k++) {
        for (let x = x0 - k; x < x0 + cellW + k; x++) {
          put(x, y0 - k, ...HIGHLIGHT_RGB);
          put(x, y0 + cellH - 1 + k, ...HIGHLIGHT_RGB);
        }
        for (let y = y0 - k; y < y0 + cellH + k; y++) {
          put(x0 - k, y, ...HIGHLIGHT_RGB);
          put(x0 + cellW - 1 + k, y, ...HIGHLIGHT_RGB);
        }
      }
    }
  });
  return encodePng({ data: rgb, width: outW, height: outH, channels: 3 });
}

/** One cell of a labelled grid: digits side by side, and caption lines under them. */
export interface LabelledCell {
  /** Images of the cell, drawn left to right (one for a digit, T for a sequence). */
  images: readonly Uint8Array[];
  /** Caption lines under the images. */
  caption?: string | readonly string[];
  /** Frame the cell in red (e.g. a wrong prediction). */
  highlight?: boolean;
}

export interface LabelledGridOptions extends InkOptions {
  /** Size of each image in pixels. */
  height: number;
  width: number;
  /** Cells per row. */
  cols: number;
  /** Displayed size of one image pixel (default 2). */
  scale?: number;
  /** Font size of the captions in pixels (default 13). */
  fontSize?: number;
  /** Title above the grid. */
  title?: string;
  /**
   * A grey-scale key under the grid, from black (pixel 0) to white (255),
   * with what each end and the middle stand for: for pictures of values
   * rather than of digits, such as kernels ('−0.47', '0', '+0.47').
   */
  greyScale?: GreyScaleKey;
}

/** What the grey levels of a picture stand for: labels under the black end, the middle and the white end of a key. */
export interface GreyScaleKey {
  black: string;
  middle?: string;
  white: string;
  /** A line before the key, e.g. 'weight'. */
  title?: string;
}

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

/**
 * An SVG grid of cells, each with its digits side by side and its caption lines
 * centred below. Highlighted cells get a red frame and red captions.
 * @throws Error on an empty list, a cell without images, an image of the wrong size, or bad options.
 */
export function labelledGridSvg(cells: readonly LabelledCell[], options: LabelledGridOptions): string {
  const { height, width, cols, scale = 2, fontSize = 13, title, invert = true, greyScale } = options;
  checkPositiveInteger('height', height);
  checkPositiveInteger('width', width);
  checkPositiveInteger('cols', cols);
  if (!(scale > 0)) throw new Error(`scale must be > 0, got ${scale}`);
  if (cells.length === 0) throw new Error('labelledGridSvg needs at least one cell, got 0');
  const captions = cells.map((cell) => (cell.caption == null ? [] : typeof cell.caption === 'string' ? [cell.caption] : [...cell.caption]));
  const perCell = Math.max(...cells.map((c) => c.images.length));
  cells.forEach((cell, i) => {
    if (cell.images.length === 0) throw new Error(`Cell ${i} has no images`);
    cell.images.forEach((image, j) => checkImage(image, height, width, `Image ${j} of cell ${i}`));
  });

  const imageGap = Math.round(2 * scale);
  const imageW = width * scale;
  const imageH = height * scale;
  const lineH = Math.round(fontSize * 1.3);
  const captionLines = Math.max(...captions.map((c) => c.length));
  // Wide enough for the images and for the longest caption (about 0.6 em per character).
  const longestCaption = Math.max(0, ...captions.flat().map((line) => line.length));
  const cellW = Math.max(perCell * imageW + (perCell - 1) * imageGap, Math.ceil(longestCaption * fontSize * 0.6));
  const cellH = imageH + captionLines * lineH + 4;
  const gapX = Math.max(20, Math.round(fontSize * 1.6));
  const gapY = 10;
  const titleH = title ? lineH + 6 : 0;
  const rows = Math.ceil(cells.length / cols);
  const usedCols = Math.min(cols, cells.length);
  // Room for the grey-scale key's labels under a narrow grid.
  const svgW = Math.max(usedCols * cellW + (usedCols + 1) * gapX, greyScale ? 320 : 0);
  const keyH = greyScale ? 2 * lineH + 12 : 0;
  const svgH = titleH + rows * cellH + (rows + 1) * gapY + keyH;

  // Identical images (a digit drawn twice) share one encoding.
  const encoded = new Map<Uint8Array, string>();
  const href = (image: Uint8Array) => {
    let uri = encoded.get(image);
    if (!uri) {
      uri = 'data:image/png;base64,' + greyPng(image, height, width, { invert }).toString('base64');
      encoded.set(image, uri);
    }
    return uri;
  };

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
      `width="${svgW}" height="${svgH}" viewBox="0 0 ${svgW} ${svgH}" ` +
      `font-family="${FONT}" font-size="${fontSize}">`,
    `<rect width="${svgW}" height="${svgH}" fill="white"/>`,
  ];
  if (title) {
    parts.push(`<text x="${svgW / 2}" y="${lineH}" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`);
  }
  cells.forEach((cell, i) => {
    const x0 = gapX + (i % cols) * (cellW + gapX);
    const y0 = titleH + gapY + Math.floor(i / cols) * (cellH + gapY);
    // Centre cells that have fewer images than the widest one.
    const used = cell.images.length * imageW + (cell.images.length - 1) * imageGap;
    const left = x0 + (cellW - used) / 2;
    cell.images.forEach((image, j) => {
      const x = left + j * (imageW + imageGap);
      // image-rendering keeps the pixels square when the viewer scales them up.
      parts.push(`<image x="${x}" y="${y0}" width="${imageW}" height="${imageH}" ` +
        `style="image-rendering:pixelated" preserveAspectRatio="none" ` +
        `xlink:href="${href(image)}"/>`);
      // A frame: white pixels (paper, or the largest values) would otherwise merge into the background.
      parts.push(`<rect x="${x}" y="${y0}" width="${imageW}" height="${imageH}" fill="none" ` +
        `stroke="${invert ? '#d0d0d0' : '#888888'}"/>`);
    });
    if (cell.highlight) {
      parts.push(`<rect x="${x0 - 4}" y="${y0 - 4}" width="${cellW + 8}" height="${cellH + 4}" ` +
        `fill="none" stroke="#d62728" stroke-width="2.5" rx="3"/>`);
    }
    captions[i].forEach((line, k) => {
      const y = y0 + imageH + (k + 1) * lineH - 2;
      const color = cell.highlight ? '#d62728' : '#222';
      parts.push(`<text x="${x0 + cellW / 2}" y="${y}" text-anchor="middle" fill="${color}">${escapeXml(line)}</text>`);
    });
  });
  if (greyScale) parts.push(...greyScaleKeySvg(greyScale, svgW, svgH - keyH, lineH));
  parts.push('</svg>');
  return parts.join('\n');
}

/** The SVG elements of a grey-scale key in a band of the picture starting at `top`: its title, the bar, its labels. */
function greyScaleKeySvg(key: GreyScaleKey, svgW: number, top: number, lineH: number): string[] {
  const barW = Math.min(240, svgW - 40);
  const barH = Math.round(lineH * 0.7);
  const x0 = (svgW - barW) / 2;
  const y0 = top + 4;
  const label = (x: number, anchor: string, text: string) =>
    `<text x="${x}" y="${y0 + barH + lineH - 2}" text-anchor="${anchor}" fill="#222">${escapeXml(text)}</text>`;
  return [
    '<defs><linearGradient id="grey-scale-key"><stop offset="0" stop-color="black"/>' +
      '<stop offset="1" stop-color="white"/></linearGradient></defs>',
    ...(key.title ? [`<text x="${x0 - 8}" y="${y0 + barH - 2}" text-anchor="end" fill="#222">${escapeXml(key.title)}</text>`] : []),
    `<rect x="${x0}" y="${y0}" width="${barW}" height="${barH}" fill="url(#grey-scale-key)" stroke="#888888"/>`,
    label(x0, 'start', key.black),
    ...(key.middle !== undefined ? [label(x0 + barW / 2, 'middle', key.middle)] : []),
    label(x0 + barW, 'end', key.white),
  ];
}
