/**
 * The live training chart of a notebook: the loss and accuracy curves,
 * redrawn in ONE output of the running cell while training runs, and the
 * line that says how training ended.
 */
import type { EvalRecord, History, StepRecord } from '../types';
import { trainingCurvesSvg, ARTICLE_ACCURACY, type TrainingCurvesOptions } from './charts';
import { newNotebookDisplay, showSvg, type Display } from './notebook';
import { formatDuration } from './text';

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
  private started: number;
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

  /**
   * Training callback: training's clock starts, and the progress line's with
   * it, so that it shows the training time the history records, without the
   * engine's set-up.
   */
  readonly onStart = (): void => {
    this.started = this.now();
  };

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

  /** The progress line: step, latest batch loss, latest evaluation accuracy, training time so far. */
  progressText(history: History = this.history, elapsedMs = this.now() - this.started): string {
    const last = history.steps[history.steps.length - 1];
    const lastEval = history.evals[history.evals.length - 1];
    const total = this.options.numSteps;
    const parts = [`step ${last?.step ?? 0}${total !== undefined ? ` / ${total}` : ''}`];
    if (last) parts.push(`batch loss ${last.loss.toFixed(3)}`);
    if (lastEval) parts.push(`evaluation accuracy ${(lastEval.accuracy * 100).toFixed(1)}% (step ${lastEval.step})`);
    parts.push(formatDuration(elapsedMs / 1000));
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
        showSvg(svg, { display: this.display, scale: this.options.scale, alt: `${title}: ${subtitle}` });
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
  return `${history.endReason} after ${lastStep} steps · ${accuracy} · ${formatDuration(history.elapsedMs / 1000)}`;
}
