/**
 * Showing charts, digits and live training progress in a tslab notebook.
 *
 * Every picture is an `image/png` output (SVG charts and captioned grids are
 * rasterised by `svgToPng`) with a `text/plain` stand-in: no scripts, no HTML,
 * no SVG. JupyterLab renders SVG outputs only in trusted notebooks, and a
 * cloned notebook is not trusted; PNG shows everywhere, in JupyterLab without
 * trust, VS Code, nbviewer and GitHub. Pictures are drawn at 2× and shown at
 * their SVG size (the output's width metadata), so text stays sharp on
 * high-density screens.
 *
 * tslab is loaded lazily, on the first call that shows something, so the rest
 * of the library (and this module's pure helpers) load outside the kernel.
 * Every `show*` function also takes a `Display` to write to, which is how the
 * tests check what would be shown.
 */
import { randomBytes } from 'node:crypto';
import type * as tfTypes from '@tensorflow/tfjs';
import type { DigitSet, EvalRecord, History, SequenceBatch, StepRecord, Task } from '../types';
import type { RunEnvironment } from '../environment';
import { trainingCurvesSpec, trainingCurvesSvg, ARTICLE_ACCURACY, type TrainingCurvesOptions } from './charts';
import {
  digitImages, imageGridPng, labelledGridSvg, pngSize, sequenceImages, svgToPng, type LabelledCell,
} from './images';

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
    throw new Error(`Cannot load tslab to show output (${err instanceof Error ? err.message : err}); ` +
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

/**
 * A text stand-in for an SVG picture: for a Vega chart its title, subtitle and
 * axis titles; otherwise the text of all its <text> elements. Parts are joined
 * by ' · ' and cut at `maxLength` characters.
 */
export function svgText(svg: string, maxLength = 600): string {
  const unescape = (t: string) => t.replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) =>
    ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!);
  const texts = (fragment: string) =>
    [...fragment.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => unescape(m[1]).trim()).filter(Boolean);
  // Vega groups text marks by role; the headings say what a chart shows, its tick labels do not.
  const roles = ['title-text', 'title-subtitle', 'axis-title'];
  const headings = roles.flatMap((role) =>
    [...svg.matchAll(new RegExp(`<g class="mark-text role-${role}"[^>]*>(.*?)</g>`, 'gs'))].flatMap((m) => texts(m[1])));
  const text = (headings.length > 0 ? headings : texts(svg)).join(' · ');
  return text.length <= maxLength ? text : `${text.slice(0, maxLength - 1)}…`;
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
  display?: Display;
}

/** Shows images in a grid as one PNG, captioned when `titles` are given. */
export function showImages(images: readonly Uint8Array[], options: ShowImagesOptions = {}): void {
  const { height = 28, width = 28, cols = 8, titles, highlight, scale = 2, invert = true } = options;
  const display = options.display ?? notebookDisplay();
  if (titles && titles.length !== images.length) {
    throw new Error(`showImages got ${titles.length} titles for ${images.length} images`);
  }
  if (titles) {
    if (highlight && highlight.length !== images.length) {
      throw new Error(`highlight has ${highlight.length} flags for ${images.length} images`);
    }
    const cells = images.map((image, i) => ({ images: [image], caption: titles[i], highlight: highlight?.[i] }));
    displaySvg(display, labelledGridSvg(cells, { height, width, cols, scale, invert }), { alt: titles.join(' · ') });
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

/** A number as text with a true minus sign (−), which reads better than '-' in captions. */
export function formatSigned(value: number): string {
  return value < 0 ? `\u2212${-value}` : String(value);
}

/**
 * The caption of a sequence and the value its class stands for:
 * '7 − 3 = 4' for the difference, '7 + 3 = 10' for the sum, and
 * 'name(7, 3) = v' for any other task.
 */
export function describeSequence(digits: readonly number[], value: number, taskName: string): string {
  if (taskName === 'difference') return `${digits.join(' \u2212 ')} = ${formatSigned(value)}`;
  if (taskName === 'sum') return `${digits.join(' + ')} = ${formatSigned(value)}`;
  return `${taskName}(${digits.join(', ')}) = ${formatSigned(value)}`;
}

/** A probability as a percentage that never rounds up to a certain 100%: '51%', '99.6%', '>99.9%'. */
export function formatProbability(p: number): string {
  if (p >= 0.999 && p < 1) return '>99.9%';
  return `${(p * 100).toFixed(p >= 0.99 && p < 1 ? 1 : 0)}%`;
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

// ---------------------------------------------------------------------------
// Live training view

export interface LiveTrainingChartOptions {
  /** Total steps planned, for the progress line. */
  numSteps?: number;
  /** Least time between two redraws in milliseconds (default 1500). */
  minIntervalMs?: number;
  /** Options of the curves (panel size, reference accuracy…). */
  chart?: TrainingCurvesOptions;
  /** Output pixels per chart pixel of the PNG (default 2). */
  scale?: number;
  /** Where to draw; default a new in-place notebook display. */
  display?: Display;
  /** Clock in milliseconds, replaceable in tests (default performance.now). */
  now?: () => number;
}

/**
 * A live chart of the loss and accuracy that redraws ONE notebook output in
 * place while training runs, with a progress line as its subtitle. Pass it as
 * the training callbacks:
 *
 *     const live = new LiveTrainingChart({ numSteps });
 *     const history = await trainSteps(model, data, options, live);
 *     await live.finish(history);
 *
 * Redraws are throttled to one per `minIntervalMs` and never overlap; the
 * saved notebook keeps only the final drawing.
 */
export class LiveTrainingChart {
  /** The records received so far. */
  readonly history: History = { steps: [], evals: [], endReason: 'completed', elapsedMs: 0 };
  /** Number of drawings made, throttling included. */
  drawCount = 0;
  /** The SVG of the latest drawing (null before the first), e.g. to save next to the run. */
  lastSvg: string | null = null;
  private readonly display: Display;
  private readonly now: () => number;
  private readonly started: number;
  private lastDraw = -Infinity;
  private drawing: Promise<void> | null = null;

  constructor(private readonly options: LiveTrainingChartOptions = {}) {
    const { minIntervalMs = 1500, numSteps } = options;
    if (!(minIntervalMs >= 0)) throw new Error(`minIntervalMs must be >= 0, got ${minIntervalMs}`);
    if (options.scale !== undefined && !(options.scale > 0 && options.scale <= 8)) {
      throw new Error(`scale must be a number in (0, 8], got ${options.scale}`);
    }
    if (numSteps !== undefined && !(Number.isInteger(numSteps) && numSteps >= 0)) {
      throw new Error(`numSteps must be an integer >= 0, got ${numSteps}`);
    }
    this.display = options.display ?? newNotebookDisplay();
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
  }

  /** Training callback: records a step and redraws if the last drawing is old enough. */
  readonly onStep = (record: StepRecord): void => {
    this.history.steps.push(record);
    this.maybeDraw();
  };

  /** Training callback: records an evaluation and redraws if the last drawing is old enough. */
  readonly onEval = (record: EvalRecord): void => {
    this.history.evals.push(record);
    this.maybeDraw();
  };

  /** The progress line: step, latest batch loss, latest evaluation accuracy, time. */
  progressText(history: History = this.history, elapsedMs = this.now() - this.started): string {
    const last = history.steps[history.steps.length - 1];
    const lastEval = history.evals[history.evals.length - 1];
    const total = this.options.numSteps;
    const parts = [`step ${last?.step ?? 0}${total !== undefined ? ` / ${total}` : ''}`];
    if (last) parts.push(`batch loss ${last.loss.toFixed(3)}`);
    if (lastEval) parts.push(`evaluation accuracy ${(lastEval.accuracy * 100).toFixed(1)}% (step ${lastEval.step})`);
    parts.push(`${(elapsedMs / 1000).toFixed(1)} s`);
    return parts.join(' · ');
  }

  private maybeDraw(): void {
    if (this.drawing || this.now() - this.lastDraw < (this.options.minIntervalMs ?? 1500)) return;
    void this.draw(this.history, this.progressText());
  }

  private draw(history: History, subtitle: string): Promise<void> {
    this.lastDraw = this.now();
    // Snapshot the arrays: training keeps appending while the chart renders.
    const snapshot: History = { ...history, steps: history.steps.slice(), evals: history.evals.slice() };
    const title = this.options.chart?.title ?? 'Training';
    const drawing = trainingCurvesSvg(snapshot, { ...this.options.chart, title, subtitle })
      .then((svg) => {
        displaySvg(this.display, svg, { scale: this.options.scale, alt: `${title}: ${subtitle}` });
        this.lastSvg = svg;
        this.drawCount++;
      })
      .finally(() => {
        this.drawing = null;
      });
    this.drawing = drawing;
    return drawing;
  }

  /**
   * Waits for a drawing in progress, then draws `history` (default the
   * records received) with a closing line: why training ended and the final
   * accuracy next to the article's.
   */
  async finish(history: History = this.history): Promise<void> {
    if (this.drawing) await this.drawing.catch(() => undefined);
    const reference = this.options.chart?.referenceAccuracy;
    await this.draw(history, summaryLine(history, reference === undefined ? ARTICLE_ACCURACY : reference));
  }
}

/**
 * One line on how training ended: steps, final evaluation accuracy next to
 * `reference` (the article's 98% by default; null for a task it has no
 * figure for), time.
 */
export function summaryLine(history: History, reference: number | null = ARTICLE_ACCURACY): string {
  const lastStep = history.steps[history.steps.length - 1]?.step ?? 0;
  const lastEval = history.evals[history.evals.length - 1];
  const accuracy = lastEval
    ? `final evaluation accuracy ${(lastEval.accuracy * 100).toFixed(2)}%` +
      (reference === null ? '' : ` (article: ${reference * 100}%)`)
    : 'no evaluation yet';
  return `${history.endReason} after ${lastStep} steps · ${accuracy} · ${(history.elapsedMs / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------------------
// The machine, and the tensors in memory

/** The settings `environmentSummary` names: those that change TensorFlow's kernels or threads. */
const SPEED_SETTINGS = /^(TF_ENABLE_ONEDNN_OPTS|TF_NUM_INTRAOP_THREADS|TF_NUM_INTEROP_THREADS|OMP_NUM_THREADS|CRNN_BACKEND)$/;

/**
 * The machine and software of a run, in two lines, for a notebook's header:
 * the CPU (model, cores, the features that pick TensorFlow's kernels) and the
 * versions of Node, TensorFlow.js and libtensorflow, with the settings that
 * change kernels or threads (oneDNN, thread counts).
 */
export function environmentSummary(env: RunEnvironment): string {
  const features = env.cpu.flags.length > 0 ? `; ${env.cpu.flags.join(', ')}` : '';
  const native = env.libtensorflow !== null ? `, libtensorflow ${env.libtensorflow}` : '';
  const settings = Object.entries(env.tfEnvironment).filter(([k]) => SPEED_SETTINGS.test(k)).map(([k, v]) => `${k}=${v}`);
  return [
    `CPU: ${env.cpu.model.trim()}, ${env.cpu.cores} core${env.cpu.cores === 1 ? '' : 's'}${features} (${env.platform})`,
    `software: Node ${env.node}, TensorFlow.js ${env.tfjs}${native}, ${env.backend} backend` +
      (settings.length > 0 ? `; ${settings.join(' ')}` : ''),
  ].join('\n');
}

/** What the tensors in memory belong to (see `tensorCensus`). */
export interface TensorCensus {
  /** All tensors tfjs holds (`tf.memory().numTensors`). */
  total: number;
  /** The model's weight tensors. */
  weights: number;
  /** Tensors the model's optimiser holds (Adam: two moments per weight and its running powers of β1 and β2). */
  optimizer: number;
  /** The rest: tensors neither the model nor its optimiser holds. */
  other: number;
  /** The counts in one line: '53 tensors: 17 weights, 36 optimiser state, 0 other'. */
  text: string;
}

const isTensor = (v: unknown): v is tfTypes.Tensor =>
  typeof v === 'object' && v !== null && 'dataId' in v && 'isDisposed' in v && !(v as tfTypes.Tensor).isDisposed;

/** The live tensors an optimiser holds in its fields: tensors, and arrays of tensors or of { variable }. */
function optimizerTensors(optimizer: object | undefined): number {
  if (!optimizer) return 0;
  let count = 0;
  for (const value of Object.values(optimizer)) {
    if (isTensor(value)) count++;
    else if (Array.isArray(value)) {
      for (const item of value) {
        if (isTensor(item) || isTensor((item as { variable?: unknown } | null)?.variable)) count++;
      }
    }
  }
  return count;
}

/**
 * Counts the tensors in memory and says whose they are: `model`'s weights, its
 * optimiser's state, and the rest. After training and freeing every batch the
 * rest should be 0; a tensor there is a leak, or a cache someone keeps.
 */
export function tensorCensus(model?: tfTypes.LayersModel): TensorCensus {
  // Loaded on use, as tslab is: the display helpers need no TensorFlow otherwise.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { tf } = require('../tf') as typeof import('../tf');
  const total = tf.memory().numTensors;
  const weights = model ? model.weights.length : 0;
  const optimizer = optimizerTensors(model?.optimizer);
  const other = total - weights - optimizer;
  return {
    total, weights, optimizer, other,
    text: `${total} tensors: ${weights} weights, ${optimizer} optimiser state, ${other} other`,
  };
}

// ---------------------------------------------------------------------------
// Optional interactive view (nodeplotlib)

/** A Plotly trace as nodeplotlib takes it. */
export interface PlotlyTrace {
  x: number[];
  y: number[];
  name: string;
  type: 'scatter';
  mode: 'lines' | 'lines+markers';
  xaxis: 'x' | 'x2';
  yaxis: 'y' | 'y2';
  line?: { color?: string; dash?: string; width?: number };
}

/**
 * The training curves as Plotly traces, from the same data as the SVG chart:
 * loss on the left axes (x, y), the error rate (or accuracy, as
 * `options.accuracyAxis` says) on the right (x2, y2).
 */
export function interactiveTraces(history: History, options: TrainingCurvesOptions = {}): PlotlyTrace[] {
  const spec = trainingCurvesSpec(history, options) as unknown as {
    hconcat: [{ data: { values: { step: number; value: number; series: string }[] } },
      { layer: { data: { values: { step?: number; value: number; series?: string }[] } }[] }];
  };
  const traces: PlotlyTrace[] = [];
  const add = (rows: { step?: number; value: number; series?: string }[], axis: 1 | 2, prefix: string) => {
    const series = [...new Set(rows.map((r) => r.series))];
    for (const name of series) {
      const own = rows.filter((r) => r.series === name);
      traces.push({
        x: own.map((r) => r.step as number), y: own.map((r) => r.value), name: `${prefix}: ${name}`,
        type: 'scatter', mode: 'lines', xaxis: axis === 1 ? 'x' : 'x2', yaxis: axis === 1 ? 'y' : 'y2',
      });
    }
  };
  add(spec.hconcat[0].data.values, 1, 'loss');
  const errorAxis = options.accuracyAxis !== 'accuracy';
  add(spec.hconcat[1].layer[0].data.values, 2, errorAxis ? 'error rate' : 'accuracy');
  const reference = options.referenceAccuracy === undefined ? ARTICLE_ACCURACY : options.referenceAccuracy;
  const lastStep = history.steps[history.steps.length - 1]?.step ?? history.evals[history.evals.length - 1]?.step;
  if (reference !== null && lastStep !== undefined) {
    const y = errorAxis ? 1 - reference : reference;
    traces.push({
      x: [0, lastStep], y: [y, y], name: `article: ${reference * 100}%`,
      type: 'scatter', mode: 'lines', xaxis: 'x2', yaxis: 'y2', line: { color: '#555', dash: 'dash', width: 1 },
    });
  }
  return traces;
}

/**
 * Opens the training curves as an interactive Plotly chart (zoom, hover) in a
 * browser tab, through nodeplotlib. nodeplotlib starts a local web server
 * (port from NODEPLOTLIB_PORT, else a free one) and opens the page with the
 * system browser; it never draws inside the notebook, so the notebooks use
 * the SVG charts and this is an optional extra for a desktop session.
 */
export function openInteractive(history: History, options: TrainingCurvesOptions = {}): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { plot } = require('nodeplotlib') as { plot(data: object[], layout?: object): void };
  plot(interactiveTraces(history, options), {
    title: options.title ?? 'Training',
    grid: { rows: 1, columns: 2, pattern: 'independent' },
    xaxis: { title: 'training step' },
    yaxis: { title: 'loss', type: options.logLoss === false ? 'linear' : 'log' },
    xaxis2: { title: 'training step' },
    yaxis2: options.accuracyAxis === 'accuracy'
      ? { title: 'accuracy', range: [0, 1], tickformat: '.0%' }
      : { title: 'error rate (1 − accuracy)', type: 'log', tickformat: '.1%' },
  });
}
