/**
 * What the trainer (bin/train.ts) says while a run trains: where it runs and
 * what it trains once the model is built, a progress bar on a terminal or one
 * line per evaluation otherwise, the digit probe, and at the end how long it
 * took, why it ended, where it was saved and its final accuracy; a failure in
 * one line. The lines are plain functions of what they report; `trainConsole`
 * wires them to `trainRun`'s hooks. The UI lives here, not in lib/train/.
 */
import cliProgress from 'cli-progress';
import { backend } from '../lib/tf';
import { describeNativeLibrary } from '../lib/runs/environment';
import { changedFromPreset } from '../lib/presets';
import type { DigitData, DigitProbeRecord, EvalRecord } from '../lib/types';
import { GraphEngineUnsupportedError, TrainingDivergedError, type TrainCallbacks } from '../lib/train/loop';
import { RunFolderError, type BuiltRun, type ResumedRun, type RunResult, type TrainedRun } from '../lib/train/run';
import { ARTICLE_ACCURACY } from '../lib/view/charts';
import { formatDuration } from '../lib/view/text';
import { exitForSignal, percent, type StopSignal } from './cli';

/** A duration in milliseconds as the tables write it: `42.0 s`, `4m 50s`. */
const duration = (ms: number) => formatDuration(ms / 1000);

/** What the trainer's lines say about a run besides the run itself. */
export interface TrainContext {
  data: DigitData;
  /** The run folder. */
  outDir: string;
  /** The preset the settings start from (for a new run's line: what differs from it). */
  preset: string;
  /** The run resumed from its checkpoint, when it is one. */
  resumed?: ResumedRun;
}

/** The step a run starts from: its checkpoint's for a resumed run, else 0. */
const stepsBefore = (context: Pick<TrainContext, 'resumed'>) => context.resumed?.checkpoint.state.step ?? 0;

/** What a failed or empty run leaves of a resumed one, after 'nothing was saved'. */
const checkpointKept = (context: Pick<TrainContext, 'resumed'>) =>
  (context.resumed ? `; the checkpoint at step ${stepsBefore(context)} is left as it was` : '');

/**
 * The lines that open a run once its model is built: the backend with its
 * native library and the data; the model, task and engine, and the preset
 * with the settings that differ from it, or the checkpoint resumed from,
 * followed by each setting a resume changed.
 */
export function builtLines(run: BuiltRun, context: TrainContext): string[] {
  const { model, engine, task, crnnConfig, trainConfig } = run;
  const { data, preset, resumed, outDir } = context;
  const changed = changedFromPreset(preset, crnnConfig, trainConfig);
  return [
    `backend ${backend.name} (${describeNativeLibrary()}); ` +
      `data ${data.source}: ${data.train.count} train / ${data.test.count} test digits`,
    `model ${model.name}: ${model.countParams().toLocaleString('en')} parameters; ` +
      `task ${task.name} (${task.numClasses} classes), T = ${crnnConfig.seqLength}; ${engine} engine; ` +
      (resumed ? `resumed from the checkpoint at step ${stepsBefore(context)} of ${outDir}`
        : `preset ${preset}${changed.length > 0 ? `, with ${changed.join(', ')}` : ''}`),
    ...(resumed?.changes ?? []).map((change) => `resumed with ${change}`),
  ];
}

/** One evaluation, as the trainer prints it without a progress bar (and a sweep reads it: lib/runs/executors/). */
export function evaluationLine(record: EvalRecord): string {
  return `step ${record.step}: eval loss ${record.loss.toFixed(4)}, accuracy ${percent(record.accuracy)}`;
}

/** The digit probe's accuracy per time step, and their product (what a perfect reader of those digits could reach). */
export function digitProbeLine(probe: DigitProbeRecord): string {
  const product = probe.accuracy.reduce((p, a) => p * a, 1);
  return `digit probe (a linear read-out of each step's CNN features, ${probe.testDigits} test digits): ` +
    `p = ${probe.accuracy.map(percent).join(', ')}; their product ${percent(product)}`;
}

/**
 * The closing lines of a saved run: its steps, time and why it ended (the
 * stop signal, when one stopped it), its evaluations' count and time, where
 * it was saved and, with a checkpoint kept, how to go on; how the graph
 * engine made its batches; and the final accuracy beside the article's.
 */
export function summaryLines(
  result: Pick<RunResult, 'history' | 'checkpointStep'>, context: { outDir: string; evalSize: number; stopSignal?: StopSignal },
): string[] {
  const { history } = result;
  const { outDir, stopSignal } = context;
  const why = stopSignal ? `stopped by ${stopSignal}` : history.endReason;
  const evaluations = history.evaluations === undefined ? ''
    : `, ${history.evaluations.count} evaluation${history.evaluations.count === 1 ? '' : 's'} among them taking ` +
      duration(history.evaluations.ms);
  const lines = [`${history.steps.length} steps in ${duration(history.elapsedMs)} (${why}${evaluations}); saved to ${outDir}` +
    (result.checkpointStep !== undefined ? `; to go on, train --resume ${outDir}` : '')];
  if (history.sampler === 'graph') {
    lines.push(`batches gathered in the graph from the seeded image indices, ${history.stepsPerCall} steps per session call`);
  } else if (history.engine === 'graph') {
    lines.push('batches made on the CPU (a task without a class table), one step per session call');
  }
  const last = history.evals[history.evals.length - 1];
  if (last) {
    lines.push(`final accuracy ${percent(last.accuracy)} on ${context.evalSize} test sequences ` +
      `(the article reports about ${percent(ARTICLE_ACCURACY)} after 10,000 steps)`);
  }
  return lines;
}

/**
 * What `trainRun`'s expected errors mean, in one line: a run folder that
 * cannot be reserved (named by its flag, --out or --resume) or saved, a model
 * the graph engine cannot train, a diverged run (nothing saved; a resumed
 * one's checkpoint left as it was). Undefined for any other error.
 */
export function trainingErrorMessage(err: unknown, context: Pick<TrainContext, 'resumed'>): string | undefined {
  const { resumed } = context;
  if (err instanceof RunFolderError) {
    return err.stage === 'reserve' ? `${resumed ? '--resume' : '--out'}: ${err.message}` : err.message;
  }
  if (err instanceof GraphEngineUnsupportedError) return `--engine graph: ${err.reason}`;
  if (err instanceof TrainingDivergedError) return `${err.message}; nothing was saved${checkpointKept(context)}`;
  return undefined;
}

export interface TrainConsoleOptions extends TrainContext {
  /** A progress bar on stderr; otherwise one line per evaluation on stdout. */
  progressBar: boolean;
  /** The stop signal received so far, if any: training stops after the step under way. */
  stopSignal: () => StopSignal | undefined;
}

/** The trainer's console, as hooks for `trainRun` and what to print after it. */
export interface TrainConsole {
  onBuilt: (run: BuiltRun) => void;
  /** Drives the bar or prints evaluations, and stops training once a stop signal came. */
  callbacks: TrainCallbacks;
  /** Prints the digit probe; a run stopped before its first step has nothing to save: says so and exits as the signal would. */
  onTrained: (run: TrainedRun) => void;
  /** Prints the closing lines of a saved run (`summaryLines`). */
  summary: (result: RunResult) => void;
  /** A failed `trainRun`'s error in one line (the bar cleared first; see `trainingErrorMessage`), or undefined for an unexpected one. */
  failure: (err: unknown) => string | undefined;
}

export function trainConsole(options: TrainConsoleOptions): TrainConsole {
  const { progressBar, stopSignal } = options;
  const bar = progressBar ? new cliProgress.SingleBar({
    format: 'step {value}/{total} |{bar}| loss {loss} acc {acc} | eval acc {evalAcc} | ETA {eta_formatted}',
    etaBuffer: 50,
    hideCursor: true,
  }, cliProgress.Presets.shades_classic) : undefined;
  const log = (lines: string[]) => {
    for (const line of lines) console.log(line);
  };
  return {
    onBuilt: (run) => {
      log(builtLines(run, options));
      bar?.start(run.trainConfig.numSteps, stepsBefore(options), { loss: '-', acc: '-', evalAcc: '-' });
    },
    callbacks: {
      onStep: (r) => bar?.update(r.step, { loss: r.loss.toFixed(3), acc: r.accuracy.toFixed(3) }),
      onEval: (r) => {
        if (bar) bar.update({ evalAcc: percent(r.accuracy) });
        else console.log(evaluationLine(r));
      },
      shouldStop: () => stopSignal() !== undefined,
    },
    onTrained: ({ history, digitProbe }) => {
      bar?.stop();
      const signal = stopSignal();
      if (history.steps.length === stepsBefore(options) && signal) {
        console.error(`${signal} before the first step; nothing was saved${checkpointKept(options)}`);
        exitForSignal(signal);
      }
      if (digitProbe) console.log(digitProbeLine(digitProbe));
    },
    summary: (result) => log(summaryLines(result, {
      outDir: options.outDir, evalSize: result.trainConfig.evalSize, stopSignal: stopSignal(),
    })),
    failure: (err) => {
      bar?.stop();
      return trainingErrorMessage(err, options);
    },
  };
}
