/**
 * The training curves as an interactive Plotly chart in a browser tab, through
 * nodeplotlib: the trainer's `--plot`, or an optional extra in a desktop
 * session. It draws nothing inside a notebook and loads no notebook code
 * (tslab), so the command-line trainer can use it.
 */
import type { History } from '../types';
import { trainingCurvesSpec, ARTICLE_ACCURACY, type TrainingCurvesOptions } from './charts';

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
  const { plot } = require('nodeplotlib') as { plot: (data: object[], layout?: object) => void };
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
