/**
 * Showing charts and digits in a tslab notebook: the notebook module, the only
 * one of the library that loads tslab.
 *
 * Every picture is an `image/png` output (SVG charts and captioned grids are
 * rasterised by `svgToPng`) with a `text/plain` stand-in: no scripts, no HTML,
 * no SVG. JupyterLab renders SVG outputs only in trusted notebooks, and a
 * cloned notebook is not trusted; PNG shows everywhere, in JupyterLab without
 * trust, VS Code, nbviewer and GitHub. Pictures are drawn at 2× and shown at
 * their SVG size (the output's width metadata), so text stays sharp on
 * high-density screens.
 *
 * tslab is loaded lazily, on the first call that shows something, so this
 * module (and the library's barrel, which exports it) loads outside the
 * kernel. Every `show*` function also takes a `Display` to write to, which is
 * how the tests check what would be shown. The command-line trainer never
 * imports this module: its `--plot` comes from `interactive.ts`.
 */
import { randomBytes } from 'node:crypto';
import type { DigitSet, SequenceBatch, Task } from '../types';
import { digitImages, imageGridPng, labelledGridSvg, sequenceImages, type GreyScaleKey, type LabelledCell } from './images';
import { pngSize, svgToPng } from './png';
import { describeSequence, formatProbability, formatSigned, svgText } from './text';

/** How an image output is shown. */
export interface ImageOutputOptions {
  /**
   * Displayed size in CSS pixels (saved as the output's metadata); a PNG drawn
   * at 2× is shown at half its pixel size. Default: the PNG's own size.
   */
  width?: number;
  height?: number;
  /** A plain-text stand-in saved next to the image (`text/plain`), for readers without images. */
  alt?: string;
}

/** Where outputs go: the running notebook cell, or a recorder in the tests. */
export interface Display {
  png(b: Uint8Array, options?: ImageOutputOptions): void;
  text(s: string): void;
  markdown(s: string): void;
}

/** A display message as tslab's kernel sends it (Jupyter's display_data / update_display_data). */
interface DisplayMessage {
  data: Record<string, string>;
  metadata: Record<string, unknown>;
  transient: { display_id?: string };
}

interface TslabKernel {
  /** Set by tslab while a cell runs; null outside a running kernel. */
  lastWriteDisplayData: ((message: DisplayMessage, update: boolean) => void) | null;
}

function loadTslabKernel(): TslabKernel {
  try {
    // tslab's public `display` sends one MIME type and no metadata per output; the
    // kernel's writer (the one behind it) lets one output carry the PNG, its
    // displayed size and a text stand-in.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('tslab/dist/jupyter') as TslabKernel;
  } catch (err) {
    throw new Error(`Cannot load tslab to show output (${err instanceof Error ? err.message : String(err)}); ` +
      'run this inside the tslab kernel, or pass a Display');
  }
}

/** A Display writing to the running tslab kernel; `inPlace`: each call replaces the previous output. */
function kernelDisplay(inPlace: boolean): Display {
  const kernel = loadTslabKernel();
  const displayId = inPlace ? randomBytes(8).toString('hex') : undefined;
  let shown = false;
  const write = (data: Record<string, string>, metadata: Record<string, unknown> = {}) => {
    const send = kernel.lastWriteDisplayData;
    if (!send) {
      throw new Error('tslab can only show output inside a running tslab kernel ' +
        '(the kernel must be the tslab of this project\'s node_modules); outside it, pass a Display');
    }
    send({ data, metadata, transient: { display_id: displayId } }, inPlace && shown);
    shown = true;
  };
  return {
    png(b, options = {}) {
      const data: Record<string, string> = { 'image/png': Buffer.from(b).toString('base64') };
      if (options.alt) data['text/plain'] = options.alt;
      const size = Object.fromEntries(
        (['width', 'height'] as const).filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
      write(data, Object.keys(size).length > 0 ? { 'image/png': size } : {});
    },
    text: (s) => write({ 'text/plain': s }),
    markdown: (s) => write({ 'text/markdown': s, 'text/plain': s }),
  };
}

/** The notebook's display: each call adds one output to the running cell. */
export function notebookDisplay(): Display {
  return kernelDisplay(false);
}

/** A display that holds ONE output of the running cell and redraws it in place on each call. */
export function newNotebookDisplay(): Display {
  return kernelDisplay(true);
}

export interface ShowSvgOptions {
  /** Output pixels per SVG pixel of the PNG (default 2); the picture is shown at the SVG's size. */
  scale?: number;
  /** Text stand-in saved with the picture (default the SVG's text, see `svgText`). */
  alt?: string;
  display?: Display;
}

/** Rasterises `svg` and shows it at its own size, with a text stand-in. */
function displaySvg(display: Display, svg: string, options: Omit<ShowSvgOptions, 'display'>): void {
  const { scale = 2 } = options;
  const png = svgToPng(svg, { scale });
  const { width, height } = pngSize(png);
  display.png(png, {
    width: Math.round(width / scale), height: Math.round(height / scale), alt: options.alt ?? svgText(svg),
  });
}

/**
 * Shows an SVG document (e.g. from `trainingCurvesSvg`) as a PNG drawn at
 * `scale`× and displayed at the SVG's size (see the module comment for why PNG).
 */
export function showSvg(svg: string, options: ShowSvgOptions = {}): void {
  if (typeof svg !== 'string' || !svg.trimStart().startsWith('<svg')) {
    throw new Error(`showSvg needs an SVG document string starting with <svg, got ${String(svg).slice(0, 40)}`);
  }
  displaySvg(options.display ?? notebookDisplay(), svg, options);
}

/** Shows a PNG image (e.g. from `imageGridPng`). */
export function showPng(png: Uint8Array, display: Display = notebookDisplay()): void {
  const signature = [0x89, 0x50, 0x4e, 0x47];
  if (!(png instanceof Uint8Array) || !signature.every((b, i) => png[i] === b)) {
    throw new Error('showPng needs PNG bytes (starting with \\x89PNG)');
  }
  display.png(png);
}

// ---------------------------------------------------------------------------
// Digits and sequences

export interface ShowImagesOptions {
  /** Size of each image in pixels (default 28 × 28). */
  height?: number;
  width?: number;
  /** Images per row (default 8). */
  cols?: number;
  /** One caption per image (the grid is then drawn as a captioned SVG and rasterised). */
  titles?: readonly string[];
  /** Images to frame in red; same length as the images. */
  highlight?: readonly boolean[];
  /** Displayed size of one pixel (default 2). */
  scale?: number;
  /** Dark ink on white (default true) or MNIST's white on black. */
  invert?: boolean;
  /** A title above the grid (the grid is then drawn as an SVG and rasterised, as with `titles`). */
  title?: string;
  /** A key of what the grey levels stand for, under the grid (see `GreyScaleKey`; drawn as with `titles`). */
  greyScale?: GreyScaleKey;
  display?: Display;
}

/** Shows images in a grid as one PNG, captioned when `titles` are given. */
export function showImages(images: readonly Uint8Array[], options: ShowImagesOptions = {}): void {
  const { height = 28, width = 28, cols = 8, titles, highlight, scale = 2, invert = true, title, greyScale } = options;
  const display = options.display ?? notebookDisplay();
  if (titles && titles.length !== images.length) {
    throw new Error(`showImages got ${titles.length} titles for ${images.length} images`);
  }
  if (titles || title || greyScale) {
    if (highlight && highlight.length !== images.length) {
      throw new Error(`highlight has ${highlight.length} flags for ${images.length} images`);
    }
    const cells = images.map((image, i) => ({ images: [image], caption: titles?.[i], highlight: highlight?.[i] }));
    const key = greyScale ? `grey scale: black ${greyScale.black}${greyScale.middle !== undefined ? `, mid-grey ${greyScale.middle}` : ''}, ` +
      `white ${greyScale.white}` : '';
    const alt = [title, titles?.join(' · '), key].filter((line) => line).join('\n');
    displaySvg(display, labelledGridSvg(cells, { height, width, cols, scale, invert, title, greyScale }), { alt });
  } else {
    display.png(imageGridPng(images, { height, width, cols, scale, invert, highlight }));
  }
}

/** Shows the images of `set` at `indices`, each captioned with its label. */
export function showDigits(
  set: DigitSet,
  indices: ArrayLike<number>,
  options: Omit<ShowImagesOptions, 'height' | 'width' | 'titles'> & { labels?: boolean } = {},
): void {
  const images = digitImages(set, indices);
  const titles = options.labels === false ? undefined : Array.from(indices, (i) => String(set.labels[i]));
  showImages(images, { ...options, height: set.height, width: set.width, titles });
}

/** Sequences to show: image indices, their digits and targets (a SequenceBatch has them all). */
export type SequenceRecords = Pick<SequenceBatch, 'indices' | 'digits' | 'targets'>;

export interface ShowSequencesOptions {
  /** The task, for captions (class → value). */
  task: Task;
  /** Predicted class of each sequence; adds a 'predicted' line and frames mistakes in red. */
  predictions?: ArrayLike<number>;
  /** Probability of each predicted class, shown next to it. */
  probabilities?: ArrayLike<number>;
  /** How many sequences to show, from the first (default all, at most 64). */
  count?: number;
  /** Sequences per row (default 4). */
  cols?: number;
  /** Displayed size of one pixel (default 2). */
  scale?: number;
  title?: string;
  display?: Display;
}

/**
 * The labelled cells for `showSequences`: each sequence's digits side by
 * side, captioned '7 − 3 = 4', with the prediction (and its probability)
 * when given; wrong predictions are highlighted.
 */
export function sequenceCells(set: DigitSet, records: SequenceRecords, options: ShowSequencesOptions): LabelledCell[] {
  const { task, predictions, probabilities } = options;
  const numSequences = records.targets.length;
  if (numSequences === 0) throw new Error('showSequences needs at least one sequence, got 0');
  const seqLength = records.indices.length / numSequences;
  if (!Number.isInteger(seqLength) || records.digits.length !== records.indices.length) {
    throw new Error(`sequence records do not match: ${records.indices.length} indices, ` +
      `${records.digits.length} digits, ${numSequences} targets`);
  }
  const count = options.count ?? Math.min(numSequences, 64);
  if (!Number.isInteger(count) || count < 1 || count > numSequences) {
    throw new Error(`count must be an integer in [1, ${numSequences}], got ${count}`);
  }
  if (predictions && predictions.length < count) {
    throw new Error(`got ${predictions.length} predictions for ${count} sequences`);
  }
  if (probabilities && probabilities.length < count) {
    throw new Error(`got ${probabilities.length} probabilities for ${count} sequences`);
  }
  const images = sequenceImages(set, Array.prototype.slice.call(records.indices, 0, count * seqLength), seqLength);
  return images.map((cellImages, i) => {
    const digits = Array.from(records.digits.subarray(i * seqLength, (i + 1) * seqLength));
    const caption = [describeSequence(digits, task.valueOf(records.targets[i]), task.name)];
    let highlight = false;
    if (predictions) {
      const predicted = predictions[i];
      const probability = probabilities ? ` (${formatProbability(probabilities[i])})` : '';
      caption.push(`predicted ${formatSigned(task.valueOf(predicted))}${probability}`);
      highlight = predicted !== records.targets[i];
    }
    return { images: cellImages, caption, highlight };
  });
}

/**
 * Shows sequences as a grid of digit rows with '7 − 3 = 4' captions (see
 * `sequenceCells`), as a PNG whose text stand-in lists the captions.
 */
export function showSequences(set: DigitSet, records: SequenceRecords, options: ShowSequencesOptions): void {
  const cells = sequenceCells(set, records, options);
  const display = options.display ?? notebookDisplay();
  const svg = labelledGridSvg(cells, {
    height: set.height, width: set.width, cols: options.cols ?? 4, scale: options.scale ?? 2, title: options.title,
  });
  const captions = cells.map((cell) => (typeof cell.caption === 'string' ? [cell.caption] : cell.caption ?? []).join(', '));
  const alt = [...(options.title ? [options.title] : []), ...captions].join('\n');
  displaySvg(display, svg, { alt });
}
