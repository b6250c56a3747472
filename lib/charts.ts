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
import type { History } from './types';

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
  const view = new vega.View(vega.parse(vl.compile({ ...spec, config } as ChartSpec).spec), { renderer: 'none' });
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
 * Vega-Lite spec of the training curves: loss on the left, accuracy on the
 * right, each with the per-batch values (bucket means) and the fixed
 * evaluation set, and a dashed rule at the article's 98% accuracy.
 */
export function trainingCurvesSpec(history: History, options: TrainingCurvesOptions = {}): ChartSpec {
  checkHistory(history);
  const {
    maxPoints = 300, width = 320, height = 220,
    referenceAccuracy = ARTICLE_ACCURACY, title, subtitle, logLoss = true,
  } = options;
  const pick = (key: 'loss' | 'accuracy', records: History['steps']): CurvePoint[] =>
    records.filter((r) => Number.isFinite(r[key])).map((r) => ({ step: r.step, value: r[key] }));
  const rows = (key: 'loss' | 'accuracy'): CurveRow[] => [
    ...downsampleMean(pick(key, history.steps), maxPoints).map((p) => ({ ...p, series: TRAIN_SERIES })),
    ...pick(key, history.evals).map((p) => ({ ...p, series: EVAL_SERIES })),
  ];
  const lossRows = rows('loss');
  const accuracyRows = rows('accuracy');
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
  const lossY = {
    field: 'value', type: 'quantitative', title: 'loss',
    scale: useLog ? { type: 'log' } : { zero: true },
  };
  const lossPanel = {
    width, height, title: 'Loss (cross-entropy)',
    data: { values: lossRows },
    layer: [
      { mark: { type: 'line', strokeWidth: 1.5 }, encoding: { x, y: lossY, color } },
      evalPoints(lossY),
    ],
  };

  const accuracyY = {
    field: 'value', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] }, axis: { format: '.0%' },
  };
  const accuracyLayers: object[] = [{
    data: { values: accuracyRows },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: { x, y: accuracyY, color },
  }];
  if (referenceAccuracy != null) {
    if (!(referenceAccuracy >= 0 && referenceAccuracy <= 1)) {
      throw new Error(`referenceAccuracy must be in [0, 1] or null, got ${referenceAccuracy}`);
    }
    const label = `article: ${(referenceAccuracy * 100).toFixed(0)}%`;
    accuracyLayers.push(
      {
        data: { values: [{ value: referenceAccuracy }] },
        mark: { type: 'rule', strokeDash: [6, 4], color: '#555' },
        encoding: { y: { field: 'value', type: 'quantitative' } },
      },
      {
        data: { values: [{ value: referenceAccuracy, label }] },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 3, x: 0, color: '#555' },
        encoding: { y: { field: 'value', type: 'quantitative' }, text: { field: 'label' } },
      },
    );
  }
  accuracyLayers.push({ data: { values: accuracyRows }, ...evalPoints(accuracyY) });
  const accuracyPanel = { width, height, title: 'Accuracy', layer: accuracyLayers };

  const heading = title || subtitle
    ? { title: { text: title ?? '', ...(subtitle ? { subtitle, subtitleFontSize: 12 } : {}), anchor: 'start' } }
    : {};
  return {
    $schema: SCHEMA,
    ...heading,
    hconcat: [lossPanel, accuracyPanel],
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
  const { title, xTitle = null, yTitle = null, width = 420, height = 200, format = '', color = '#4c78a8' } = options;
  return {
    $schema: SCHEMA,
    ...(title ? { title } : {}),
    width, height,
    data: { values: rows },
    mark: { type: 'bar', color },
    encoding: {
      x: { field: 'label', type: 'ordinal', sort: names, title: xTitle, axis: { labelAngle: 0 } },
      y: { field: 'value', type: 'quantitative', title: yTitle, axis: format ? { format } : {} },
    },
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
    format = '.2~f', scheme = 'blues', domain, scaleType = 'linear',
  } = options;
  const showText = cellText === 'auto' ? numRows <= 12 && numCols <= 12 : cellText;
  const cellSize = options.cellSize ?? (showText ? 30 : 22);
  const rows: { x: string; y: string; value: number | null }[] = [];
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < numRows; r++) {
    for (let c = 0; c < numCols; c++) {
      const v = matrix[r][c];
      const value = Number.isFinite(v) ? v : null;
      if (value !== null) { min = Math.min(min, value); max = Math.max(max, value); }
      rows.push({ x: xLabels[c], y: yLabels[r], value });
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
        condition: { test: 'datum.value === null', value: '#eeeeee' },
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
        text: { field: 'value', type: 'quantitative', format },
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
