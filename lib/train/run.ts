/**
 * One training run, written once for the command-line trainer (bin/train.ts)
 * and notebook 3: the settings resolved for the data and the task, the model
 * built and trained, its digits probed, the run saved.
 *
 *     const run = resolveRun(presetConfigs('fast', splitSettings({ numSteps: 300 })), data);
 *     const { model, history, savedTo } = await trainRun(run, { data, outDir: 'runs/fast-300' });
 *
 * A run with a folder writes checkpoints into it while it trains (see
 * lib/train/checkpoint.ts); a run killed or stopped goes on from its last
 * one, to the history and weights it would have had if never stopped:
 *
 *     const { history } = await resumeFrom('runs/fast-300');
 *
 * The caller owns what comes back (dispose the model with `disposeCrnn`).
 * Progress comes out through the hooks, so each caller shows it its own way
 * (a progress bar, a live chart). The charts belong to lib/view/, which this
 * layer does not import: a caller that wants the curves in the run folder
 * passes `curvesSvg`.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { CrnnConfig, DigitData, DigitProbeRecord, History, Task, TrainConfig } from '../types';
import path from 'node:path';
import { resolveCrnnConfig, resolveTrainConfig, type RunSettings } from '../config';
import { DEFAULT_TASK, getTask } from '../data/tasks';
import { loadMnist } from '../data/data';
import { buildCrnn, disposeCrnn, expectedParamCount } from '../model/build';
import { measureDigitProbe } from '../evaluate/probe';
import { checkRunFolder, historyCsv, saveRun } from '../runs/persist';
import { CHECKPOINT_FOLDER, CURVES_FILE, HISTORY_CSV_FILE, HISTORY_JSON_FILE } from '../runs/record';
import { reserveRunFolder, type RunFolderReservation } from '../runs/lock';
import { checkTrainingMemory } from './limits';
import { TrainingDivergedError, trainingEngine, trainSteps, type TrainCallbacks, type TrainingState } from './loop';
import {
  loadCheckpoint, planResume, readCheckpointRecord, removeCheckpoint, writeCheckpoint, type CheckpointRecord,
  type ResumeRequest,
} from './checkpoint';

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

/** A run to go on from its checkpoint (`resolveResume`): the checkpoint's settings, with the changes allowed. */
export interface ResumedRun extends ResolvedRun {
  /** The run folder: its checkpoint is read when training starts, and the run is saved there. */
  runDir: string;
  /** The checkpoint's record: its step, history and data. */
  checkpoint: CheckpointRecord;
  /** Where `loadMnist` loads the checkpoint's data again (its `location`); undefined for data made otherwise. */
  dataLocation?: string;
  /** The settings changed from the checkpoint's, in words (a larger numSteps, checkpointEvery). */
  changes: string[];
}

/**
 * The run in `runDir` to resume from its checkpoint: the checkpoint's task
 * and configs, with what `request` gives explicitly (see `planResume`:
 * only a larger numSteps and checkpointEvery may differ), and the memory
 * the run needs checked. Reads checkpoint.json only.
 * @throws Error for a folder without a checkpoint or with a damaged one,
 *   naming the file and what is wrong, and for settings that differ from the
 *   checkpoint's, naming each with both values. Nothing is changed.
 */
export function resolveResume(runDir: string, request: ResumeRequest = {}): ResumedRun {
  const checkpoint = readCheckpointRecord(runDir);
  const plan = planResume(runDir, checkpoint, request);
  const task = getTask(plan.task, plan.crnnConfig.seqLength);
  checkTrainingMemory(plan.crnnConfig, plan.trainConfig);
  return {
    task, crnnConfig: plan.crnnConfig, trainConfig: plan.trainConfig, runDir, checkpoint,
    dataLocation: plan.dataLocation, changes: plan.changes,
  };
}

/**
 * The data a resumed run's checkpoint was trained on, loaded again from where
 * it records (`dataLocation`).
 * @throws Error for a checkpoint trained on data `loadMnist` did not load
 *   (resume it with `trainRun`, given that data), or data that cannot be read.
 */
export function loadResumeData(run: ResumedRun): DigitData {
  if (run.dataLocation === undefined) {
    throw new Error(`the checkpoint in ${run.runDir} was trained on data not loaded by loadMnist (${run.checkpoint.data.description}); ` +
      'resume it with resolveResume and trainRun, given that data');
  }
  return loadMnist({ source: run.dataLocation });
}

/** Checks that `data` has the splits the checkpoint was trained on: the batches and the evaluation set depend on them. */
function checkResumeData(run: ResumedRun, data: DigitData): void {
  const { train, test, description } = run.checkpoint.data;
  if (data.train.count !== train || data.test.count !== test) {
    throw new Error(`the data holds ${data.train.count} training and ${data.test.count} test images, the ` +
      `checkpoint's (${description}) ${train} and ${test}; resuming needs the same data`);
  }
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
  /** The step of the checkpoint the saved run keeps (a run stopped early), to resume from; undefined: none kept. */
  checkpointStep?: number;
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

/**
 * Why a run's folder failed it: it could not be reserved before training
 * (for a resumed run: its checkpoint could not be read, or the data is not
 * its checkpoint's), or the save failed.
 */
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

/**
 * Bytes a saved run takes: weights and Adam's two moments, plus history
 * files and the chart; three times over, for its checkpoint and the next
 * checkpoint being written.
 */
function savedRunBytes(config: CrnnConfig, numSteps: number): number {
  return 3 * (3 * 4 * expectedParamCount(config) + 200 * numSteps) + 2 ** 20;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Builds the model of `run` (seeded by its trainConfig.seed), trains it with
 * `trainSteps`, measures its digit probe and saves the run into `outDir`:
 * the model with Adam's state, run.json, history.json, history.csv and, with
 * `curvesSvg`, training-curves.svg, all or nothing. A run stopped (by
 * `callbacks.shouldStop`) before its first step is not saved.
 *
 * With `outDir`, training writes checkpoints into `<outDir>/checkpoint/`
 * every `checkpointEvery` steps (then calls `callbacks.saveCheckpoint`, if
 * any); a checkpoint that cannot be written is warned of once, and training
 * goes on. The save drops the checkpoint when the run ended by itself and
 * keeps it when it was stopped early. A new run that diverges removes the
 * checkpoints it wrote. A `ResumedRun` (`resolveResume`) goes on from its
 * checkpoint instead of building a model, in its own folder, which it locks.
 * @returns the trained run, the caller's to dispose, and where it was saved.
 * @throws RunFolderError when `outDir` cannot be reserved, or a resumed
 *   run's checkpoint cannot be read or its data is not the checkpoint's
 *   (nothing trained, nothing changed), or the save fails (the run
 *   attached); GraphEngineUnsupportedError for engine 'graph' on a model it
 *   cannot train; TrainingDivergedError when the loss diverges. The model is
 *   freed when training fails.
 */
export async function trainRun(run: ResolvedRun | ResumedRun, options: TrainRunOptions): Promise<RunResult> {
  const { data } = options;
  const resumed = 'checkpoint' in run ? run : undefined;
  const { task, crnnConfig, trainConfig } = run;
  if (resumed && options.outDir !== undefined && path.resolve(options.outDir) !== path.resolve(resumed.runDir)) {
    throw new Error(`a resumed run is saved in its own folder ${resumed.runDir}, not in ${options.outDir}`);
  }
  const outDir = resumed?.runDir ?? options.outDir;
  if (resumed) {
    try {
      checkResumeData(resumed, data);
    } catch (err) {
      throw new RunFolderError(messageOf(err), 'reserve');
    }
  }
  let reservation: RunFolderReservation | undefined;
  if (outDir !== undefined && (options.folder === 'new' || resumed)) {
    try {
      reservation = reserveRunFolder(outDir, {
        bytesNeeded: savedRunBytes(crnnConfig, trainConfig.numSteps), existing: resumed !== undefined,
      });
    } catch (err) {
      throw new RunFolderError(messageOf(err), 'reserve');
    }
  } else if (outDir !== undefined) {
    // Checkpoints go into the folder from the first steps on: it must be one a run may replace.
    try {
      await checkRunFolder(outDir);
    } catch (err) {
      throw new RunFolderError(messageOf(err), 'reserve');
    }
  }
  try {
    let model: tfTypes.LayersModel;
    let resume: TrainingState | undefined;
    if (resumed) {
      try {
        ({ model, state: resume } = await loadCheckpoint(resumed.runDir));
      } catch (err) {
        throw new RunFolderError(messageOf(err), 'reserve');
      }
    } else {
      model = buildCrnn(crnnConfig, { seed: trainConfig.seed });
    }
    const stepsBefore = resume?.step ?? 0;
    // The step of the checkpoint in the run folder.
    let checkpointStep = resume?.step;
    let checkpointFailed = false;
    let wroteCheckpoint = false;
    const callbacks: TrainCallbacks = outDir === undefined ? options.callbacks ?? {} : {
      ...options.callbacks,
      saveCheckpoint: async (state) => {
        try {
          await writeCheckpoint(outDir, { model, crnnConfig, trainConfig, task: task.name, data }, state);
          checkpointStep = state.step;
          wroteCheckpoint = true;
        } catch (err) {
          // The previous checkpoint is left whole: training goes on.
          if (!checkpointFailed) console.warn(`warning: the checkpoint of step ${state.step} was not written: ${messageOf(err)}`);
          checkpointFailed = true;
        }
        await options.callbacks?.saveCheckpoint?.(state);
      },
    };
    let trained: TrainedRun;
    try {
      options.onBuilt?.({ ...run, model, engine: trainingEngine(model, trainConfig.engine) });
      const history = await trainSteps(model, data, { ...trainConfig, seqLength: crnnConfig.seqLength, task, resume },
        callbacks);
      const probe = options.digitProbe !== false && history.steps.length > stepsBefore;
      trained = { ...run, model, history, ...(probe ? { digitProbe: measureDigitProbe(model, data) } : {}) };
      await options.onTrained?.(trained);
    } catch (err) {
      disposeCrnn(model);
      // A new run that diverged leaves nothing; a resumed one keeps its checkpoint as it was.
      if (err instanceof TrainingDivergedError && outDir !== undefined && !resumed && wroteCheckpoint) {
        await removeCheckpoint(outDir);
      }
      throw err;
    }
    const { history, digitProbe } = trained;
    if (outDir === undefined || (history.endReason === 'stopped' && history.steps.length === stepsBefore)) return trained;
    // A run stopped early keeps the checkpoint of the step it stopped at, to be resumed; one that ended by itself is final.
    const keepCheckpoint = history.endReason === 'stopped' && checkpointStep === history.steps.length;

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
      }, { files, keep: keepCheckpoint ? [CHECKPOINT_FOLDER] : [] });
    } catch (err) {
      throw new RunFolderError(`could not save the run to ${outDir}: ${messageOf(err)}`, 'save', trained);
    }
    return { ...trained, savedTo: outDir, ...(keepCheckpoint ? { checkpointStep } : {}) };
  } finally {
    reservation?.release();
  }
}

/**
 * Resumes the run in `runDir`, killed or stopped, from its last checkpoint
 * and saves it there: `resolveResume` with `request` (settings given
 * explicitly, which must be the checkpoint's but for a larger numSteps and
 * checkpointEvery), the checkpoint's data loaded again, and `trainRun`.
 * The run ends with the history and weights of a run never stopped, to the
 * last float on the same machine and engine.
 * @throws as `resolveResume` and `trainRun` do.
 */
export async function resumeFrom(
  runDir: string, options: Omit<TrainRunOptions, 'data' | 'outDir' | 'folder'> & { request?: ResumeRequest } = {},
): Promise<RunResult> {
  const { request, ...rest } = options;
  const run = resolveResume(runDir, request);
  return trainRun(run, { ...rest, data: loadResumeData(run) });
}
