/**
 * One training run, written once for the command-line trainer (bin/train.ts)
 * and notebook 3: the settings resolved for the data and the task, the model
 * built and trained, its digits probed, the run saved.
 *
 *     const run = resolveRun(presetConfigs('fast', splitSettings({ numSteps: 300 })), data);
 *     const { model, history, savedTo } = await trainRun(run, { data, outDir: 'runs/fast-300' });
 *
 * The caller owns what comes back (dispose the model with `disposeCrnn`).
 * Progress comes out through the hooks, so each caller shows it its own way
 * (a progress bar, a live chart). The charts belong to lib/view/, which this
 * layer does not import: a caller that wants the curves in the run folder
 * passes `curvesSvg`.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { CrnnConfig, DigitData, History, Task, TrainConfig } from '../types';
import { resolveCrnnConfig, resolveTrainConfig, type RunSettings } from '../config';
import { DEFAULT_TASK, getTask } from '../data/tasks';
import { buildCrnn, disposeCrnn, expectedParamCount } from '../model/build';
import { measureDigitProbe, type DigitProbeRecord } from '../evaluate/probe';
import { historyCsv, saveRun } from '../runs/persist';
import { CURVES_FILE, HISTORY_CSV_FILE, HISTORY_JSON_FILE } from '../runs/record';
import { reserveRunFolder, type RunFolderReservation } from '../runs/lock';
import { checkTrainingMemory } from './limits';
import { trainingEngine, trainSteps, type TrainCallbacks } from './loop';

/** A run's settings resolved for its data: the task, and the full, checked configs. */
export interface ResolvedRun {
  task: Task;
  crnnConfig: CrnnConfig;
  trainConfig: TrainConfig;
}

/**
 * The task and the full configs of a run on `data`: `settings` over the
 * defaults, the image size from the data and the number of classes from the
 * task; every value checked, and the memory the run needs.
 * @throws Error naming the first invalid setting (`TrainConfig.numSteps must
 *   be …`), an unknown task or one that does not take sequences of seqLength,
 *   test and training images of different sizes, or the memory estimate of a
 *   run the machine cannot hold.
 */
export function resolveRun(settings: RunSettings, data: DigitData): ResolvedRun {
  const trainConfig = resolveTrainConfig(settings.train);
  const { seqLength } = resolveCrnnConfig(settings.model);
  const task = getTask(settings.task ?? DEFAULT_TASK, seqLength);
  if (data.test.height !== data.train.height || data.test.width !== data.train.width) {
    throw new Error(`data ${data.source}: the test images are ${data.test.height}×${data.test.width}, ` +
      `the training images ${data.train.height}×${data.train.width}; both splits need one size`);
  }
  const crnnConfig = resolveCrnnConfig({
    ...settings.model, height: data.train.height, width: data.train.width, numClasses: task.numClasses,
  });
  checkTrainingMemory(crnnConfig, trainConfig);
  return { task, crnnConfig, trainConfig };
}

/** A run whose model is built and whose engine is chosen, about to take its first step. */
export interface BuiltRun extends ResolvedRun {
  model: tfTypes.LayersModel;
  /** The engine that trains it: TrainConfig.engine with 'auto' decided. */
  engine: 'graph' | 'eager';
}

/** A trained run: its model (the caller's to dispose), history and digit probe. */
export interface TrainedRun extends ResolvedRun {
  model: tfTypes.LayersModel;
  history: History;
  /** The per-digit accuracy of each step's CNN (`measureDigitProbe`); none when no step ran or it was not asked for. */
  digitProbe?: DigitProbeRecord;
}

/** What `trainRun` returns: the trained run and where it was saved. */
export interface RunResult extends TrainedRun {
  /** The run folder; undefined when there was none to save to, or training stopped before its first step. */
  savedTo?: string;
}

export interface TrainRunOptions {
  data: DigitData;
  /** The run folder to save into; none: the run is not saved. */
  outDir?: string;
  /**
   * 'new' (the CLI): `outDir` must be new or empty, and is reserved before the
   * first step (locked, its disk space checked), so that an existing run is
   * never replaced and an unusable folder fails before any training.
   * 'replace' (default; a notebook run again): the save replaces the run in
   * `outDir`, all or nothing.
   */
  folder?: 'new' | 'replace';
  /** The training loop's hooks: per step, per evaluation, and when to stop (see `trainSteps`). */
  callbacks?: TrainCallbacks;
  /** Called once the model is built and the engine chosen, before the first step. */
  onBuilt?(run: BuiltRun): void;
  /** Called after training and the digit probe, before the save: a run stopped before its first step is not saved. */
  onTrained?(run: TrainedRun): void | Promise<void>;
  /**
   * Draws the training curves saved as training-curves.svg (lib/view's
   * `trainingCurvesSvg`); none: no chart. A chart that fails is left out with
   * a warning: the run is saved without it.
   */
  curvesSvg?(history: History): Promise<string>;
  /** Measure the digit probe after training and record it in run.json (default true). */
  digitProbe?: boolean;
}

/** Why a run's folder failed it: it could not be reserved before training, or the save failed. */
export class RunFolderError extends Error {
  constructor(
    message: string,
    /** 'reserve': before the first step, nothing trained; 'save': after training. */
    readonly stage: 'reserve' | 'save',
    /** After a failed save, the trained run, whose model the catcher owns. */
    readonly trained?: TrainedRun,
  ) {
    super(message);
    this.name = 'RunFolderError';
  }
}

/** Bytes a saved run takes: weights and Adam's two moments, plus history files and the chart. */
function savedRunBytes(config: CrnnConfig, numSteps: number): number {
  return 3 * 4 * expectedParamCount(config) + 200 * numSteps + 2 ** 20;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Builds the model of `run` (seeded by its trainConfig.seed), trains it with
 * `trainSteps`, measures its digit probe and saves the run into `outDir`:
 * the model with Adam's state, run.json, history.json, history.csv and, with
 * `curvesSvg`, training-curves.svg, all or nothing. A run stopped (by
 * `callbacks.shouldStop`) before its first step is not saved.
 * @returns the trained run, the caller's to dispose, and where it was saved.
 * @throws RunFolderError when `outDir` cannot be reserved (nothing trained)
 *   or the save fails (the run attached); GraphEngineUnsupportedError for
 *   engine 'graph' on a model it cannot train; TrainingDivergedError when the
 *   loss diverges. The model is freed when training fails.
 */
export async function trainRun(run: ResolvedRun, options: TrainRunOptions): Promise<RunResult> {
  const { data, outDir } = options;
  const { task, crnnConfig, trainConfig } = run;
  let reservation: RunFolderReservation | undefined;
  if (outDir !== undefined && options.folder === 'new') {
    try {
      reservation = reserveRunFolder(outDir, { bytesNeeded: savedRunBytes(crnnConfig, trainConfig.numSteps) });
    } catch (err) {
      throw new RunFolderError(messageOf(err), 'reserve');
    }
  }
  try {
    const model = buildCrnn(crnnConfig, { seed: trainConfig.seed });
    let trained: TrainedRun;
    try {
      options.onBuilt?.({ ...run, model, engine: trainingEngine(model, trainConfig.engine) });
      const history = await trainSteps(model, data, { ...trainConfig, seqLength: crnnConfig.seqLength, task },
        options.callbacks);
      const probe = options.digitProbe !== false && history.steps.length > 0;
      trained = { ...run, model, history, ...(probe ? { digitProbe: measureDigitProbe(model, data) } : {}) };
      await options.onTrained?.(trained);
    } catch (err) {
      disposeCrnn(model);
      throw err;
    }
    const { history, digitProbe } = trained;
    if (outDir === undefined || (history.endReason === 'stopped' && history.steps.length === 0)) return trained;

    const files: Record<string, string> = {
      [HISTORY_JSON_FILE]: JSON.stringify(history, null, 1),
      [HISTORY_CSV_FILE]: historyCsv(history),
    };
    if (options.curvesSvg) {
      try {
        files[CURVES_FILE] = await options.curvesSvg(history);
      } catch (err) {
        console.warn(`warning: ${CURVES_FILE} not written: ${messageOf(err)}`);
      }
    }
    try {
      await saveRun(outDir, {
        model, crnnConfig, trainConfig, task: task.name, history, dataSource: data.source,
        dataLocation: data.location, digitProbe,
      }, { files });
    } catch (err) {
      throw new RunFolderError(`could not save the run to ${outDir}: ${messageOf(err)}`, 'save', trained);
    }
    return { ...trained, savedTo: outDir };
  } finally {
    reservation?.release();
  }
}
