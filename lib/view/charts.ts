/**
 * Charts as SVG strings, drawn headless with Vega-Lite and Vega.
 *
 * Each chart has a spec builder (`*Spec`, plain Vega-Lite JSON that any other
 * renderer can reuse) and a renderer (`*Svg`). Rendering needs no browser, no
 * canvas and no network: Vega's 'none' renderer writes the scenegraph as SVG
 * text, which notebooks show as an `image/svg+xml` output and static viewers
 * (GitHub, nbviewer, VS Code) display as they are.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { EvalRecord, History, StepRecord } from '../types';

// vega and vega-lite are loaded on first use: importing the library for
// training should not pay for the chart engine.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadVega = () => require('vega') as typeof import('vega');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadVegaLite = () => require('vega-lite') as typeof import('vega-lite');

/** The accuracy the article reports after 10,000 steps. */
export const ARTICLE_ACCURACY = 0.98;

/** A chart spec ready for `renderSvg`. */
export type ChartSpec = TopLevelSpec;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** The colours of a Vega colour scheme, so that a group's colour can be given or computed. */
function schemeColors(name: 'tableau10' | 'tableau20' | 'category10'): string[] {
  return loadVega().scheme(name) as string[];
}

/**
 * Compiles a Vega-Lite spec and renders it to an SVG document string.
 * @throws Error when the spec is not valid Vega-Lite.
 */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const vega = loadVega();
  const vl = loadVegaLite();
  // Viewers show notebook SVG through <img>, where ARIA labels are never read; without
  // them a 19×19 heatmap is less than half the size.
  const config = { ...(spec as { config?: object }).config, aria: false };
  const view = new vega.View(vega.parse(vl.compile({ ...spec, config }).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

// ---------------------------------------------------------------------------
// Training curves

/** One point of a curve in the chart data. */
export interface CurvePoint {
  step: number;
  value: number;
}

/**
 * Shrinks a long curve to at most `maxPoints` points by averaging consecutive
 * buckets; each bucket keeps its last step. A 10,000-step run thus draws as a
 * few hundred points, which keeps the SVG (and the notebook) small and also
 * smooths the noisy per-batch values.
 */
export function downsampleMean(points: readonly CurvePoint[], maxPoints: number): CurvePoint[] {
  if (!Number.isInteger(maxPoints) || maxPoints < 1) {
    throw new Error(`maxPoints must be an integer >= 1, got ${maxPoints}`);
  }
  if (points.length <= maxPoints) return points.map((p) => ({ step: p.step, value: p.value }));
  const bucket = Math.ceil(points.length / maxPoints);
  const out: CurvePoint[] = [];
  for (let start = 0; start < points.length; start += bucket) {
    const slice = points.slice(start, start + bucket);
    const sum = slice.reduce((s, p) => s + p.value, 0);
    out.push({ step: slice[slice.length - 1].step, value: sum / slice.length });
  }
  return out;
}

export interface TrainingCurvesOptions {
  /** Most points drawn per training-batch curve (default 300). */
  maxPoints?: number;
  /** Width and height of each of the two panels in pixels (default 320 × 220). */
  width?: number;
  height?: number;
  /** Where the dashed reference line is drawn (default the article's 0.98); null: none. */
  referenceAccuracy?: number | null;
  /** Title above the panels. */
  title?: string;
  /** A line under the title, e.g. training progress. */
  subtitle?: string;
  /** Draw the loss on a log scale (default true): late-training progress stays visible. */
  logLoss?: boolean;
  /**
   * The second panel: 'error' (default) draws the error rate, 1 − accuracy,
   * on a log scale, where 98.0% and 98.5% are apart and the late, slow
   * progress stays visible; 'accuracy' draws the accuracy from 0 to 100%.
   */
  accuracyAxis?: 'error' | 'accuracy';
}

interface CurveRow { step: number; value: number; series: string; }

const TRAIN_SERIES = 'training batches';
const EVAL_SERIES = 'fixed evaluation set';

function checkHistory(history: History): void {
  if (history == null || !Array.isArray(history.steps) || !Array.isArray(history.evals)) {
    throw new Error('trainingCurves needs a History with `steps` and `evals` arrays, got ' +
      (history == null ? String(history) : `an object with keys ${Object.keys(history).join(', ')}`));
  }
}

/**
 * Vega-Lite spec of the training curves: the loss, the error rate (or the
 * accuracy, see `accuracyAxis`) and, when the history records it, the
 * learning rate, side by side. The first two show the per-batch values
 * (bucket means) and the fixed evaluation set, with a dashed rule at the
 * article's 98%.
 */
export function trainingCurvesSpec(history: History, options: TrainingCurvesOptions = {}): ChartSpec {
  checkHistory(history);
  const {
    maxPoints = 300, width = 300, height = 220,
    referenceAccuracy = ARTICLE_ACCURACY, title, subtitle, logLoss = true, accuracyAxis = 'error',
  } = options;
  if (referenceAccuracy != null && !(referenceAccuracy >= 0 && referenceAccuracy <= 1)) {
    throw new Error(`referenceAccuracy must be in [0, 1] or null, got ${referenceAccuracy}`);
  }
  const errorAxis = accuracyAxis === 'error';
  type Key = 'loss' | 'accuracy' | 'learningRate';
  const pick = (key: Key, records: readonly StepRecord[]): CurvePoint[] => records
    .filter((r) => Number.isFinite(r[key]))
    .map((r) => ({ step: r.step, value: key === 'accuracy' && errorAxis ? 1 - r[key] : r[key] as number }));
  const rows = (key: Key): CurveRow[] => [
    ...downsampleMean(pick(key, history.steps), maxPoints).map((p) => ({ ...p, series: TRAIN_SERIES })),
    ...pick(key, history.evals).map((p) => ({ ...p, series: EVAL_SERIES })),
  ];
  const lossRows = rows('loss');
  // A log axis cannot show an error rate of 0 (a perfect batch): such points are left out.
  const accuracyRows = rows('accuracy').filter((r) => !errorAxis || r.value > 0);
  // A log scale cannot show 0; fall back to linear in that (unlikely) case.
  const useLog = logLoss && lossRows.every((r) => r.value > 0);

  const color = {
    field: 'series', type: 'nominal', title: null,
    scale: { domain: [TRAIN_SERIES, EVAL_SERIES], range: ['#9ecae1', '#d62728'] },
    legend: { orient: 'bottom', labelLimit: 0 },
  } as const;
  const x = { field: 'step', type: 'quantitative', title: 'training step' } as const;

  // Evaluations are few and matter most: mark each one with a dot.
  const evalPoints = (y: object) => ({
    transform: [{ filter: `datum.series === '${EVAL_SERIES}'` }],
    mark: { type: 'point', filled: true, size: 18 },
    encoding: { x, y, color },
  });
  // The axes span the data (`nice` would round a log axis out to the next
  // power of ten: a loss of at most 2.2 drawn up to 10).
  const lossY = {
    field: 'value', type: 'quantitative', title: 'loss',
    scale: useLog ? { type: 'log', nice: false } : { zero: true },
  };
  const lossPanel = {
    width, height, title: 'Loss (cross-entropy)',
    data: { values: lossRows },
    layer: [
      { mark: { type: 'line', strokeWidth: 1.5 }, encoding: { x, y: lossY, color } },
      evalPoints(lossY),
    ],
  };

  const accuracyY = errorAxis
    ? { field: 'value', type: 'quantitative', title: 'error rate (1 − accuracy)', scale: { type: 'log', nice: false },
      axis: { format: '.2~%' } }
    : { field: 'value', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] }, axis: { format: '.0%' } };
  const accuracyLayers: object[] = [{
    data: { values: accuracyRows },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: { x, y: accuracyY, color },
  }];
  if (referenceAccuracy != null) {
    const label = `article: ${(referenceAccuracy * 100).toFixed(0)}%` +
      (errorAxis ? ` (${((1 - referenceAccuracy) * 100).toFixed(0)}% error)` : '');
    const value = errorAxis ? 1 - referenceAccuracy : referenceAccuracy;
    // Named in the legend, not beside the line, where the curves would cross it.
    accuracyLayers.push({
      data: { values: [{ value, label }] },
      mark: { type: 'rule', color: '#555' },
      encoding: {
        y: { field: 'value', type: 'quantitative' },
        strokeDash: {
          field: 'label', type: 'nominal', title: null,
          scale: { domain: [label], range: [[6, 4]] }, legend: { orient: 'bottom', labelLimit: 0, symbolType: 'stroke', symbolSize: 400, symbolStrokeColor: '#555' },
        },
      },
    });
  }
  accuracyLayers.push({ data: { values: accuracyRows }, ...evalPoints(accuracyY) });
  const accuracyPanel = { width, height, title: errorAxis ? 'Error rate' : 'Accuracy', layer: accuracyLayers };

  // The rate each step applied, when the history recorded it: a cosine decay
  // next to the curves shows where the late gains come from.
  const rates = downsampleMean(pick('learningRate', history.steps), maxPoints);
  const ratePanel = {
    width: Math.round(width * 0.6), height, title: 'Learning rate',
    data: { values: rates },
    mark: { type: 'line', strokeWidth: 1.5, color: '#555' },
    encoding: {
      x, y: { field: 'value', type: 'quantitative', title: 'learning rate', axis: { format: '.0e' } },
    },
  };

  const heading = title || subtitle
    ? { title: { text: title ?? '', ...(subtitle ? { subtitle, subtitleFontSize: 12 } : {}), anchor: 'start' } }
    : {};
  return {
    $schema: SCHEMA,
    ...heading,
    hconcat: rates.length > 0 ? [lossPanel, accuracyPanel, ratePanel] : [lossPanel, accuracyPanel],
    resolve: { scale: { color: 'shared' } },
    config: { view: { stroke: '#ddd' } },
  } as ChartSpec;
}

/** The training curves of `history` as an SVG string (see `trainingCurvesSpec`). */
export function trainingCurvesSvg(history: History, options: TrainingCurvesOptions = {}): Promise<string> {
  return renderSvg(trainingCurvesSpec(history, options));
}

// ---------------------------------------------------------------------------
// Bar chart

export interface BarChartOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  width?: number;
  height?: number;
  /** d3 format of the values on the axis and the tooltips, e.g. '.1%' (default ''). */
  format?: string;
  color?: string;
  /**
   * An interval [low, high] per bar, drawn as an error bar: a 95% interval
   * shows which differences between small classes are noise.
   */
  intervals?: readonly (readonly [number, number])[];
  /** The value axis's range; default from zero to the largest value. */
  yDomain?: [number, number];
}

/**
 * Vega-Lite spec of a bar chart with one bar per label, in the given order.
 * @throws Error when labels and values differ in length, are empty, or a value is not finite.
 */
export function barChartSpec(
  labels: readonly (string | number)[],
  values: ArrayLike<number>,
  options: BarChartOptions = {},
): ChartSpec {
  if (labels.length !== values.length) {
    throw new Error(`barChart needs one value per label, got ${labels.length} labels and ${values.length} values`);
  }
  if (labels.length === 0) throw new Error('barChart needs at least one bar, got 0 labels');
  const names = labels.map(String);
  if (new Set(names).size !== names.length) {
    throw new Error(`barChart labels must be distinct, got ${names.join(', ')}`);
  }
  const rows = names.map((label, i) => {
    const value = values[i];
    if (!Number.isFinite(value)) throw new Error(`barChart value ${i} (label ${label}) is not finite: ${value}`);
    return { label, value };
  });
  const {
    title, xTitle = null, yTitle = null, width = 420, height = 200, format = '', color = '#4c78a8', intervals, yDomain,
  } = options;
  if (intervals !== undefined) {
    if (intervals.length !== rows.length) {
      throw new Error(`barChart needs one interval per bar, got ${intervals.length} for ${rows.length} bars`);
    }
    intervals.forEach(([low, high], i) => {
      if (!(Number.isFinite(low) && Number.isFinite(high) && low <= high)) {
        throw new Error(`barChart interval ${i} (label ${names[i]}) is not [low, high]: [${low}, ${high}]`);
      }
      Object.assign(rows[i], { low, high });
    });
  }
  const x = { field: 'label', type: 'ordinal', sort: names, title: xTitle, axis: { labelAngle: 0 } } as const;
  const scale = yDomain ? { domain: yDomain, clamp: true } : {};
  const y = { field: 'value', type: 'quantitative', title: yTitle, axis: format ? { format } : {}, scale } as const;
  // clip: a zoomed axis cuts the bars at its floor instead of drawing below the axis.
  const bars = { mark: { type: 'bar', color, clip: true }, encoding: { x, y } };
  const errorBars = {
    mark: { type: 'rule', color: '#333', strokeWidth: 1.5, clip: true },
    encoding: { x, y: { field: 'low', type: 'quantitative', scale }, y2: { field: 'high' } },
  };
  return {
    $schema: SCHEMA,
    ...(title ? { title } : {}),
    width, height,
    data: { values: rows },
    layer: intervals ? [bars, errorBars] : [bars],
  } as ChartSpec;
}

/** A bar chart as an SVG string (see `barChartSpec`). */
export function barChartSvg(
  labels: readonly (string | number)[],
  values: ArrayLike<number>,
  options: BarChartOptions = {},
): Promise<string> {
  return renderSvg(barChartSpec(labels, values, options));
}

// ---------------------------------------------------------------------------
// Heatmap

export interface HeatmapOptions {
  /** Column labels, left to right (default 0, 1, …). */
  xLabels?: readonly (string | number)[];
  /** Row labels, top to bottom (default 0, 1, …). */
  yLabels?: readonly (string | number)[];
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Side of one cell in pixels (default 30 with cell text, 22 without). */
  cellSize?: number;
  /** Write each value in its cell: true, false, or 'auto' (grids up to 12 × 12). */
  cellText?: boolean | 'auto';
  /** Leave cells whose value is 0 without text, so that the non-zero ones stand out (default false). */
  hideZeroText?: boolean;
  /**
   * Colour scale type (default 'linear'). 'sqrt' or 'symlog' make small counts
   * visible next to a large diagonal, as in a confusion matrix.
   */
  scaleType?: 'linear' | 'sqrt' | 'symlog';
  /** d3 format of the cell text and legend, e.g. 'd' for counts, '.0%' for rates (default '.2~f'). */
  format?: string;
  /** Vega colour scheme (default 'blues'). */
  scheme?: string;
  /** Colour domain [min, max]; default the range of the values. */
  domain?: [number, number];
  /**
   * Text per cell, row by row, instead of the formatted value: counts such as
   * "3/98" say how much a rate rests on. Empty strings leave a cell blank.
   */
  cellLabels?: readonly (readonly string[])[];
  /**
   * Paint cells whose value is exactly 0 in this colour (e.g. 'white'), apart
   * from the colour scale: in a confusion matrix an empty cell then differs
   * from a cell with a count of 1.
   */
  zeroColor?: string;
}

/** The value above which a cell is dark enough for white text: 60% along the colour scale. */
function darkThreshold(lo: number, hi: number, scaleType: 'linear' | 'sqrt' | 'symlog'): number {
  const fraction = 0.6;
  if (scaleType === 'sqrt' && lo >= 0) return (Math.sqrt(lo) + (Math.sqrt(hi) - Math.sqrt(lo)) * fraction) ** 2;
  if (scaleType === 'symlog' && lo >= 0) return Math.expm1(Math.log1p(lo) + (Math.log1p(hi) - Math.log1p(lo)) * fraction);
  return lo + (hi - lo) * fraction;
}

/**
 * Legend values for a symlog colour scale: lo, the powers of ten in between
 * and hi (unless it would crowd the last power). Vega's own ticks for symlog
 * bunch up at the top of the gradient (0, 200, 400 on a 0..580 scale).
 */
export function symlogLegendValues(lo: number, hi: number): number[] {
  if (!(lo >= 0 && hi > lo)) return [lo, hi].filter(Number.isFinite);
  const position = (v: number) => (Math.log1p(v) - Math.log1p(lo)) / (Math.log1p(hi) - Math.log1p(lo));
  const values = [lo];
  for (let power = 1; power < hi; power *= 10) {
    if (power > lo && position(power) - position(values[values.length - 1]) >= 0.12) values.push(power);
  }
  if (1 - position(values[values.length - 1]) >= 0.12) values.push(hi);
  else values[values.length - 1] = hi;
  return values;
}

/**
 * Vega-Lite spec of a heatmap of `matrix` (rows top to bottom, columns left to
 * right). NaN cells (e.g. a rate with no samples) are drawn grey and left blank.
 * @throws Error when the matrix is empty or ragged, or the labels do not match its size.
 */
export function heatmapSpec(matrix: readonly ArrayLike<number>[], options: HeatmapOptions = {}): ChartSpec {
  const numRows = matrix.length;
  if (numRows === 0 || matrix[0].length === 0) {
    throw new Error(`heatmap needs a non-empty matrix, got ${numRows} rows`);
  }
  const numCols = matrix[0].length;
  matrix.forEach((row, r) => {
    if (row.length !== numCols) {
      throw new Error(`heatmap matrix must be rectangular: row 0 has ${numCols} values, row ${r} has ${row.length}`);
    }
  });
  const xLabels = (options.xLabels ?? Array.from({ length: numCols }, (_, i) => i)).map(String);
  const yLabels = (options.yLabels ?? Array.from({ length: numRows }, (_, i) => i)).map(String);
  if (xLabels.length !== numCols) {
    throw new Error(`heatmap has ${numCols} columns but ${xLabels.length} xLabels`);
  }
  if (yLabels.length !== numRows) {
    throw new Error(`heatmap has ${numRows} rows but ${yLabels.length} yLabels`);
  }
  const {
    title, xTitle = null, yTitle = null, cellText = 'auto', hideZeroText = false,
    format = '.2~f', scheme = 'blues', domain, scaleType = 'linear', cellLabels, zeroColor,
  } = options;
  if (cellLabels !== undefined && (cellLabels.length !== numRows || cellLabels.some((row) => row.length !== numCols))) {
    throw new Error(`heatmap cellLabels must be ${numRows} rows of ${numCols} labels`);
  }
  const showText = cellText === 'auto' ? numRows <= 12 && numCols <= 12 : cellText;
  const cellSize = options.cellSize ?? (showText ? 30 : 22);
  const rows: { x: string; y: string; value: number | null; label?: string }[] = [];
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < numRows; r++) {
    for (let c = 0; c < numCols; c++) {
      const v = matrix[r][c];
      const value = Number.isFinite(v) ? v : null;
      if (value !== null) { min = Math.min(min, value); max = Math.max(max, value); }
      rows.push({ x: xLabels[c], y: yLabels[r], value, ...(cellLabels ? { label: cellLabels[r][c] } : {}) });
    }
  }
  const [lo, hi] = domain ?? (min <= max ? [min, max] : [0, 1]);
  const x = { field: 'x', type: 'ordinal', sort: xLabels, title: xTitle, axis: { labelAngle: 0 } } as const;
  const y = { field: 'y', type: 'ordinal', sort: yLabels, title: yTitle } as const;
  const layers: object[] = [{
    // invalid: null keeps the NaN cells, so that the condition below paints them grey.
    mark: { type: 'rect', invalid: null },
    encoding: {
      x, y,
      color: {
        condition: [
          { test: 'datum.value === null', value: '#eeeeee' },
          ...(zeroColor ? [{ test: 'datum.value === 0', value: zeroColor }] : []),
        ],
        field: 'value', type: 'quantitative', title: null,
        scale: { type: scaleType, scheme, domain: [lo, hi] },
        legend: {
          format, gradientLength: Math.min(200, cellSize * numRows),
          ...(scaleType === 'symlog' && lo >= 0 ? { values: symlogLegendValues(lo, hi) } : {}),
        },
      },
    },
  }];
  if (showText) {
    // Dark text on light cells, white text on the darker half of the scale.
    const threshold = darkThreshold(lo, hi, scaleType);
    layers.push({
      transform: [{ filter: hideZeroText ? 'datum.value !== null && datum.value !== 0' : 'datum.value !== null' }],
      mark: { type: 'text', fontSize: Math.max(8, Math.min(11, cellSize * 0.37)) },
      encoding: {
        x, y,
        text: cellLabels ? { field: 'label', type: 'nominal' } : { field: 'value', type: 'quantitative', format },
        color: { condition: { test: `datum.value > ${threshold}`, value: 'white' }, value: '#222' },
      },
    });
  }
  return {
    $schema: SCHEMA,
    ...(title ? { title } : {}),
    width: cellSize * numCols,
    height: cellSize * numRows,
    data: { values: rows },
    layer: layers,
    config: { view: { stroke: null }, axis: { grid: false, ticks: false, domain: false } },
  } as ChartSpec;
}

/** A heatmap as an SVG string (see `heatmapSpec`). */
export function heatmapSvg(matrix: readonly ArrayLike<number>[], options: HeatmapOptions = {}): Promise<string> {
  return renderSvg(heatmapSpec(matrix, options));
}

// ---------------------------------------------------------------------------
// Comparison of groups of runs

/** The runs of one group (one setting, several seeds) for `comparisonCurvesSpec`. */
export interface CurveGroup {
  /** The legend entry, e.g. "cell=gru, sharedCnn=true (n=3)". */
  label: string;
  /** The evaluation records of each run of the group. */
  runs: readonly (readonly EvalRecord[])[];
  /** The group's colour (a CSS colour); default from the scheme, by the group's position. */
  color?: string;
}

export interface ComparisonCurvesOptions {
  /**
   * The y axis: 'error-log' (default), the error rate 1 − accuracy on a log
   * scale, where 1.5% and 1.8% error are far apart; or 'accuracy', zoomed to
   * the range of the later evaluations. A 0–100% axis would hide the
   * differences between runs near 98%.
   */
  yScale?: 'error-log' | 'accuracy';
  /**
   * The band around each group's mean: 'minmax' over the seeds (default), 'std' (± one sample std), 'none', or
   * 'final': no band along the curves, and at the right end one bar per group from its lowest to its highest
   * final accuracy over the seeds. Overlapping bands of three or more groups blur into one another; the final
   * bars stay apart.
   */
  band?: 'minmax' | 'std' | 'none' | 'final';
  /**
   * The accuracy range shown: [lo, hi], e.g. [0.95, 1]; 'all': every evaluation, from the first; default 'late':
   * fitted to the evaluations after the first 30% of the steps, where runs differ by tenths of a percent (the
   * early, steep part of the curves is clipped).
   */
  range?: [number, number] | 'all' | 'late';
  /**
   * With the default 'late' range, also draw the whole run in a panel on the left, so that the early steps
   * the zoom clips stay in view (default false).
   */
  overview?: boolean;
  /** Where the dashed reference line is drawn (default the article's 0.98); null: none. */
  referenceAccuracy?: number | null;
  /** Width and height of the (zoomed) panel; the overview panel is 60% as wide. */
  width?: number;
  height?: number;
  title?: string;
  subtitle?: string;
}

interface GroupCurveRow { group: string; step: number; y: number; lo: number; hi: number; n: number; }

const BAND_NAMES = {
  minmax: 'min–max over seeds', std: '± 1 std over seeds', none: '', final: 'bars at the right: final min–max over seeds',
} as const;

/** 1, 2 and 5 (or 1 to 9, for a short range) times the powers of ten from lo to hi. */
function logTicks(lo: number, hi: number): number[] {
  const mantissas = Math.log10(hi / lo) <= 1.3 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : [1, 2, 5];
  const ticks: number[] = [];
  for (let power = Math.floor(Math.log10(lo)); power <= Math.ceil(Math.log10(hi)); power++) {
    for (const m of mantissas) {
      const v = Number((m * 10 ** power).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}

/** The largest of 1, 2, 5 × 10^k at most x (down) or the smallest at least x (up). */
function nice125(x: number, direction: 'down' | 'up'): number {
  const power = 10 ** Math.floor(Math.log10(x));
  const steps = [1, 2, 5, 10].map((m) => m * power);
  return direction === 'down'
    ? steps.filter((v) => v <= x * (1 + 1e-9)).pop() ?? power
    : steps.find((v) => v >= x * (1 - 1e-9)) ?? 10 * power;
}

/** Per group and evaluated step: the mean accuracy over the group's runs and its band, in accuracy. */
function groupCurveRows(groups: readonly CurveGroup[], band: 'minmax' | 'std' | 'none' | 'final'): GroupCurveRow[] {
  const rows: GroupCurveRow[] = [];
  for (const group of groups) {
    const byStep = new Map<number, number[]>();
    for (const evals of group.runs) {
      for (const e of evals) {
        if (Number.isFinite(e.accuracy)) byStep.set(e.step, [...(byStep.get(e.step) ?? []), e.accuracy]);
      }
    }
    if (byStep.size === 0) throw new Error(`group ${group.label} has no evaluations to draw`);
    for (const [step, values] of [...byStep].sort((a, b) => a[0] - b[0])) {
      const n = values.length;
      const mean = values.reduce((s, v) => s + v, 0) / n;
      const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
      const [lo, hi] = band === 'std' ? [mean - std, mean + std]
        : band === 'none' ? [mean, mean] : [Math.min(...values), Math.max(...values)];
      rows.push({ group: group.label, step, y: mean, lo: Math.max(0, lo), hi: Math.min(1, hi), n });
    }
  }
  return rows;
}

/** The y field of a panel and the rows in its units (errors on a log axis, or accuracies), for an accuracy range. */
function curveAxis(accRows: readonly GroupCurveRow[], accRange: [number, number], logError: boolean, given: boolean):
    { rows: GroupCurveRow[]; yField: object; domain: [number, number] } {
  let [accLo, accHi] = accRange;
  if (logError) {
    // Errors of 0 (a perfect evaluation) cannot be drawn on a log axis: they sit at the bottom.
    const positive = accRows.flatMap((r) => [1 - r.y, 1 - r.lo, 1 - r.hi]).filter((v) => v > 0);
    const floor = positive.length > 0 ? Math.min(...positive) / 2 : 1e-4;
    const err = (acc: number) => Math.max(floor, 1 - acc);
    const errLo = nice125(given ? Math.max(floor, 1 - accHi) : err(accHi), 'down');
    const errHi = Math.min(1, nice125(Math.max(err(accLo), errLo * 1.5), 'up'));
    return {
      rows: accRows.map((r) => ({ ...r, y: err(r.y), lo: err(r.hi), hi: err(r.lo) })),
      domain: [errLo, errHi],
      yField: {
        field: 'y', type: 'quantitative', title: 'error rate (1 − accuracy), log scale',
        scale: { type: 'log', domain: [errLo, errHi], nice: false },
        axis: { values: logTicks(errLo, errHi), format: '.2~%' },
      },
    };
  }
  if (!given) {
    const pad = Math.max(0.001, (accHi - accLo) * 0.08);
    accLo = Math.max(0, accLo - pad);
    accHi = Math.min(1, accHi + pad);
  }
  return {
    rows: [...accRows],
    domain: [accLo, accHi],
    yField: {
      field: 'y', type: 'quantitative', title: 'accuracy',
      scale: { domain: [accLo, accHi], zero: false, nice: !given }, axis: { format: '.1%' },
    },
  };
}

/**
 * Vega-Lite spec of the evaluation-accuracy curves of groups of runs,
 * overlaid: per group the mean over its runs at each evaluated step (over
 * the runs evaluated at that step), with a band for the spread, one colour
 * per group. With `overview`, a panel of the whole run stands left of the
 * zoomed one.
 * @throws Error when there are no groups, a group has no evaluations, or the options are invalid.
 */
export function comparisonCurvesSpec(groups: readonly CurveGroup[], options: ComparisonCurvesOptions = {}): ChartSpec {
  const {
    yScale = 'error-log', band = 'minmax', referenceAccuracy = ARTICLE_ACCURACY, width = 520, height = 300,
    title = 'Evaluation accuracy by group', subtitle, range = 'late', overview = false,
  } = options;
  if (groups.length === 0) throw new Error('comparisonCurves needs at least one group of runs');
  if (!['error-log', 'accuracy'].includes(yScale)) throw new Error(`yScale must be 'error-log' or 'accuracy', got ${yScale}`);
  if (!(band in BAND_NAMES)) throw new Error(`band must be 'minmax', 'std', 'none' or 'final', got ${band}`);
  const labels = groups.map((g) => g.label);
  if (new Set(labels).size !== labels.length) throw new Error(`group labels must be distinct, got ${labels.join('; ')}`);
  if (referenceAccuracy != null && !(referenceAccuracy >= 0 && referenceAccuracy <= 1)) {
    throw new Error(`referenceAccuracy must be in [0, 1] or null, got ${referenceAccuracy}`);
  }
  const given = Array.isArray(range);
  if (given && !(range[0] >= 0 && range[1] <= 1 && range[0] < range[1])) {
    throw new Error(`range must be [lo, hi] with 0 <= lo < hi <= 1, 'all' or 'late', got [${range.join(', ')}]`);
  }
  if (!given && range !== 'all' && range !== 'late') throw new Error(`range must be [lo, hi], 'all' or 'late', got ${String(range)}`);
  const logError = yScale === 'error-log';
  const accRows = groupCurveRows(groups, band);

  // The range shown: given, every evaluation, or fitted to the later evaluations.
  const lastStep = Math.max(...accRows.map((r) => r.step));
  const fittedTo = (rows: readonly GroupCurveRow[]): [number, number] =>
    [Math.min(...rows.map((r) => r.lo)), Math.max(...rows.map((r) => r.hi))];
  const late = accRows.filter((r) => r.step >= 0.3 * lastStep);
  const accRange: [number, number] = given ? range : fittedTo(range === 'all' || late.length === 0 ? accRows : late);
  const main = curveAxis(accRows, accRange, logError, given);

  const scheme = schemeColors(groups.length <= 10 ? 'tableau10' : 'tableau20');
  const colors = groups.map((g, i) => g.color ?? scheme[i % scheme.length]);
  const color = {
    field: 'group', type: 'nominal', title: null, sort: labels,
    scale: { domain: labels, range: colors },
    legend: { orient: 'bottom', direction: 'vertical', labelLimit: 0,
      // Symbols as the lines, not as the pale bands.
      symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 },
  };
  const x = { field: 'step', type: 'quantitative', title: 'training step' };

  /** One panel: the bands (or final bars), the mean lines, the reference line where it falls inside the axis. */
  const panel = (axis: ReturnType<typeof curveAxis>, panelWidth: number, panelTitle?: string) => {
    const { yField, domain } = axis;
    const layers: object[] = [];
    if (band !== 'none' && band !== 'final') {
      layers.push({
        mark: { type: 'area', opacity: 0.18, clip: true },
        encoding: { x, y: { ...yField, field: 'lo' }, y2: { field: 'hi' }, color },
      });
    }
    layers.push({ mark: { type: 'line', strokeWidth: 2, clip: true }, encoding: { x, y: yField, color } });
    if (band === 'final') {
      // One bar per group just right of the last evaluation, side by side: the spread of the final accuracy.
      groups.forEach((group, i) => {
        const rows = axis.rows.filter((r) => r.group === group.label);
        const last = rows[rows.length - 1];
        const dx = 8 + 7 * i;
        layers.push(
          {
            data: { values: [{ ...last, group: group.label }] },
            mark: { type: 'rule', strokeWidth: 3, xOffset: dx, clip: false },
            encoding: { x, y: { ...yField, field: 'lo' }, y2: { field: 'hi' }, color },
          },
          {
            data: { values: [{ ...last, group: group.label }] },
            mark: { type: 'tick', orient: 'horizontal', thickness: 2, size: 9, xOffset: dx, clip: false },
            encoding: { x, y: yField, color },
          },
        );
      });
    }
    const reference = referenceAccuracy == null ? null : logError ? 1 - referenceAccuracy : referenceAccuracy;
    // Drawn only inside the range shown: resvg aborts the process on a rule
    // that its clip path removes entirely.
    if (referenceAccuracy != null && reference !== null && reference >= domain[0] && reference <= domain[1]) {
      const label = `article: ${(referenceAccuracy * 100).toFixed(0)}%`;
      layers.push(
        {
          data: { values: [{ y: reference }] },
          mark: { type: 'rule', strokeDash: [6, 4], color: '#555', clip: true },
          encoding: { y: yField },
        },
        {
          data: { values: [{ y: reference, label }] },
          mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -2, x: 0, color: '#555', clip: true },
          encoding: { y: yField, text: { field: 'label' } },
        },
      );
    }
    return { ...(panelTitle ? { title: panelTitle } : {}), width: panelWidth, height, data: { values: axis.rows }, layer: layers };
  };

  const bandNote = BAND_NAMES[band] ? `, ${band === 'final' ? '' : 'band: '}${BAND_NAMES[band]}` : '';
  const heading = { title: { text: title, subtitle: subtitle ?? `mean over seeds${bandNote}`, anchor: 'start', subtitleFontSize: 12 } };
  const common = { $schema: SCHEMA, ...heading, config: { view: { stroke: '#ddd' } } };
  const clipped = !given && range === 'late' && accRows.some((r) => r.lo < accRange[0]);
  if (!overview || !clipped) return { ...common, ...panel(main, width) } as ChartSpec;
  const whole = curveAxis(accRows, fittedTo(accRows), logError, false);
  const from = Math.min(...late.map((r) => r.step));
  return {
    ...common,
    hconcat: [panel(whole, Math.round(width * 0.6), 'The whole run'),
      panel(main, width, `Zoomed on the evaluations from step ${from.toLocaleString('en-US')} on`)],
    resolve: { scale: { color: 'shared' } },
  } as ChartSpec;
}

/** The overlaid evaluation curves of groups of runs as an SVG string (see `comparisonCurvesSpec`). */
export function comparisonCurvesSvg(groups: readonly CurveGroup[], options: ComparisonCurvesOptions = {}): Promise<string> {
  return renderSvg(comparisonCurvesSpec(groups, options));
}

// ---------------------------------------------------------------------------
// Scatter chart

/** One point of a scatter chart. */
export interface ScatterPoint {
  x: number;
  y: number;
  /** The group the point is coloured by (a digit, say); points without one are drawn in one colour. */
  group?: string | number;
}

export interface ScatterChartOptions {
  title?: string;
  subtitle?: string;
  xTitle?: string;
  yTitle?: string;
  /** Legend title of the groups (default none). */
  groupTitle?: string;
  /** The order of the groups in the legend and the colour scheme (default: as they first occur, numbers sorted). */
  groups?: readonly (string | number)[];
  width?: number;
  height?: number;
  /** Area of a point in square pixels (default 16). */
  pointSize?: number;
  /** Opacity of the points (default 0.7): overlapping points stay visible. */
  opacity?: number;
  /** Draw the dashed line y = x, for charts of a prediction against what it predicts (default false). */
  diagonal?: boolean;
  /** d3 formats of the axes, e.g. '.0%' (default ''). */
  xFormat?: string;
  yFormat?: string;
  /** Axis ranges; default fitted to the points. */
  xDomain?: [number, number];
  yDomain?: [number, number];
  /**
   * Write each group's name at the centre of its points (their median), so that
   * clusters are named where they lie, not only by colour (default false).
   */
  groupLabels?: boolean;
}

/**
 * Vega-Lite spec of a scatter chart, points coloured by their group (a
 * nominal scale: category10 up to 10 groups, whose colours stay apart at the
 * size of a point; tableau20 beyond).
 * @throws Error when there are no points or a coordinate is not finite.
 */
export function scatterChartSpec(points: readonly ScatterPoint[], options: ScatterChartOptions = {}): ChartSpec {
  if (points.length === 0) throw new Error('scatterChart needs at least one point, got 0');
  points.forEach((p, i) => {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) throw new Error(`scatterChart point ${i} is not finite: (${p.x}, ${p.y})`);
  });
  const {
    title, subtitle, xTitle = null, yTitle = null, groupTitle = null, width = 420, height = 360, pointSize = 16,
    opacity = 0.7, diagonal = false, xFormat = '', yFormat = '', xDomain, yDomain, groupLabels = false,
  } = options;
  const grouped = points.some((p) => p.group !== undefined);
  const firstSeen = [...new Set(points.filter((p) => p.group !== undefined).map((p) => String(p.group)))];
  const numeric = points.every((p) => typeof p.group === 'number');
  const order = options.groups?.map(String)
    ?? (numeric ? firstSeen.sort((a, b) => Number(a) - Number(b)) : firstSeen);
  const rows = points.map((p) => ({ x: p.x, y: p.y, ...(p.group !== undefined ? { group: String(p.group) } : {}) }));
  const x = {
    field: 'x', type: 'quantitative', title: xTitle, axis: xFormat ? { format: xFormat } : {},
    scale: xDomain ? { domain: xDomain, zero: false } : { zero: false },
  };
  const y = {
    field: 'y', type: 'quantitative', title: yTitle, axis: yFormat ? { format: yFormat } : {},
    scale: yDomain ? { domain: yDomain, zero: false } : { zero: false },
  };
  const color = grouped ? {
    color: {
      field: 'group', type: 'nominal', title: groupTitle, sort: order,
      scale: { domain: order, scheme: order.length <= 10 ? 'category10' : 'tableau20' },
    },
  } : {};
  // Not clipped: a point on the edge of the axes (an accuracy of 100%) stays whole.
  const layers: object[] = [{
    mark: { type: 'point', filled: true, size: pointSize, opacity },
    encoding: { x, y, ...color },
  }];
  if (grouped && groupLabels) {
    // Each group's name on a white disc with a rim of its colour, at the median of its points.
    const centres = { transform: [{ filter: 'isValid(datum.group)' },
      { aggregate: [{ op: 'median', field: 'x', as: 'x' }, { op: 'median', field: 'y', as: 'y' }], groupby: ['group'] }] };
    layers.push(
      { ...centres, mark: { type: 'point', filled: true, size: 330, color: 'white', opacity: 0.9, stroke: null },
        encoding: { x, y } },
      { ...centres, mark: { type: 'point', filled: false, size: 330, strokeWidth: 2, opacity: 1 }, encoding: { x, y, ...color } },
      { ...centres, mark: { type: 'text', fontWeight: 'bold', fontSize: 12, color: '#111', baseline: 'middle' },
        encoding: { x, y, text: { field: 'group', type: 'nominal' } } },
    );
  }
  if (diagonal) {
    const values = [...points.flatMap((p) => [p.x, p.y]), ...(xDomain ?? []), ...(yDomain ?? [])];
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    layers.unshift({
      data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] },
      mark: { type: 'line', strokeDash: [6, 4], color: '#777', clip: true },
      encoding: { x, y },
    });
  }
  return {
    $schema: SCHEMA,
    ...(title ? { title: subtitle ? { text: title, subtitle } : title } : {}),
    width, height,
    data: { values: rows },
    layer: layers,
    config: { view: { stroke: '#ddd' } },
  } as ChartSpec;
}

/** A scatter chart as an SVG string (see `scatterChartSpec`). */
export function scatterChartSvg(points: readonly ScatterPoint[], options: ScatterChartOptions = {}): Promise<string> {
  return renderSvg(scatterChartSpec(points, options));
}
