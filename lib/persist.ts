/**
 * Saving and loading training runs: the model (topology, weights and Adam
 * state, in the tfjs `model.json` + `weights.bin` layout) and `run.json`
 * (configs, task, history, backend, date).
 *
 * Files are written with Node's `fs` through `tf.io.withSaveHandler`, not the
 * `file://` scheme of tfjs-node, so the same code works on the pure-JS
 * fallback backend. A save goes to a temporary sibling folder that replaces
 * the run folder only once complete: a failed save leaves the previous
 * checkpoint as it was.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tf, backend } from './tf';
import type * as tfTypes from '@tensorflow/tfjs';
import type { CrnnConfig, History, TrainConfig } from './types';
import { compileCrnn } from './model';
import { resolveCrnnConfig, resolveTrainConfig } from './config';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';
const RUN_FILE = 'run.json';
const RUN_FORMAT = 'crnn-mnist-run';
const RUN_FORMAT_VERSION = 1;

/** What `saveRun` stores. */
export interface RunToSave {
  model: tfTypes.LayersModel;
  crnnConfig: CrnnConfig;
  trainConfig: TrainConfig;
  /** Name of the task the model was trained on ('difference', 'sum', …). */
  task: string;
  history: History;
  /** Where the digits came from (DigitData.source), for the record. */
  dataSource?: string;
}

/** The contents of `run.json`. */
export interface RunRecord {
  format: typeof RUN_FORMAT;
  version: number;
  crnnConfig: CrnnConfig;
  trainConfig: TrainConfig;
  task: string;
  history: History;
  dataSource?: string;
  /** tfjs backend that trained the model ('tensorflow' or 'cpu'). */
  backend: string;
  /** ISO date of the save. */
  savedAt: string;
}

/** A loaded run: the compiled model and its record. */
export interface LoadedRun extends RunRecord {
  model: tfTypes.LayersModel;
}

export interface SaveRunOptions {
  /**
   * More files to write into the run folder in the same all-or-nothing save,
   * by plain file name (for example history.csv or charts).
   */
  files?: Record<string, string | Uint8Array>;
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}

/** Writes the model's artifacts as model.json + weights.bin into `dir`. */
async function writeModel(model: tfTypes.LayersModel, dir: string): Promise<void> {
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weights = artifacts.weightData === undefined
      ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    await fs.writeFile(path.join(dir, WEIGHTS_FILE), new Uint8Array(weights));
    const modelJson = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      trainingConfig: artifacts.trainingConfig,
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
    };
    await fs.writeFile(path.join(dir, MODEL_FILE), JSON.stringify(modelJson));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }), { includeOptimizer: true });
}

function checkFileName(name: string): void {
  if (!name || name !== path.basename(name) || name === '.' || name === '..' ||
      [MODEL_FILE, WEIGHTS_FILE, RUN_FILE].includes(name)) {
    throw new Error(`extra run file name must be a plain file name other than ${MODEL_FILE}, ` +
      `${WEIGHTS_FILE} and ${RUN_FILE}, got ${JSON.stringify(name)}`);
  }
}

/**
 * Saves a run into `dir` (created if needed): model.json, weights.bin
 * (weights, then Adam's state so training can resume), run.json and any
 * `options.files`.
 *
 * All or nothing: everything is written into a temporary sibling folder that
 * then takes the place of `dir`; the previous contents of `dir` are removed
 * only after that. If anything fails, `dir` is left as it was.
 * @throws Error when `dir` exists but is not a saved run (to avoid replacing
 *   an unrelated folder), or when writing fails.
 */
export async function saveRun(dir: string, run: RunToSave, options: SaveRunOptions = {}): Promise<void> {
  const files = options.files ?? {};
  Object.keys(files).forEach(checkFileName);
  const target = path.resolve(dir);
  if (await exists(target)) {
    const entries = await fs.readdir(target).catch(() => {
      throw new Error(`${dir} exists and is not a folder; refusing to replace it`);
    });
    if (entries.length > 0 && !entries.includes(MODEL_FILE)) {
      throw new Error(`${dir} is not empty and is not a saved model folder (no ${MODEL_FILE}); ` +
        'refusing to replace it: choose a new folder');
    }
  }
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const staging = await fs.mkdtemp(path.join(parent, `.${path.basename(target)}.saving-`));
  try {
    await writeModel(run.model, staging);
    const record: RunRecord = {
      format: RUN_FORMAT,
      version: RUN_FORMAT_VERSION,
      crnnConfig: run.crnnConfig,
      trainConfig: run.trainConfig,
      task: run.task,
      history: run.history,
      ...(run.dataSource !== undefined ? { dataSource: run.dataSource } : {}),
      backend: backend.name,
      savedAt: new Date().toISOString(),
    };
    await fs.writeFile(path.join(staging, RUN_FILE), JSON.stringify(record, null, 1));
    for (const [name, contents] of Object.entries(files)) {
      await fs.writeFile(path.join(staging, name), contents);
    }
    await replaceFolder(staging, target);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/** Moves `staging` to `target`, keeping the old `target` until the move succeeded. */
async function replaceFolder(staging: string, target: string): Promise<void> {
  if (!(await exists(target))) {
    await fs.rename(staging, target);
    return;
  }
  const previous = `${staging}.previous`;
  await fs.rename(target, previous);
  try {
    await fs.rename(staging, target);
  } catch (err) {
    await fs.rename(previous, target);
    throw err;
  }
  await fs.rm(previous, { recursive: true, force: true });
}

/**
 * Loads the model saved in `dir` (model.json + weight files), compiled and
 * with its Adam state when it was saved with one.
 * @param learningRate used to compile a model saved without training config.
 * @throws Error when `dir` is not a saved model folder or a file is missing.
 */
export async function loadModel(dir: string, learningRate?: number): Promise<tfTypes.LayersModel> {
  if (!(await exists(dir))) throw new Error(`${dir} does not exist`);
  const modelPath = path.join(dir, MODEL_FILE);
  if (!(await exists(modelPath))) throw new Error(`${dir} is not a saved model folder: missing ${MODEL_FILE}`);
  let modelJson: tfTypes.io.ModelJSON;
  try {
    modelJson = JSON.parse(await fs.readFile(modelPath, 'utf8'));
  } catch (err) {
    throw new Error(`${modelPath} is not valid JSON: ${(err as Error).message}`);
  }
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`${modelPath} is not a tfjs model: it needs modelTopology and weightsManifest`);
  }
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const buffers: ArrayBuffer[] = [];
    for (const group of manifest) {
      for (const file of group.paths) {
        const weightsPath = path.join(dir, file);
        if (!(await exists(weightsPath))) {
          throw new Error(`${dir} is an incomplete saved model: missing ${file}`);
        }
        const bytes = await fs.readFile(weightsPath);
        buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      }
    }
    return [manifest.flatMap((group) => group.weights), tf.io.CompositeArrayBuffer.join(buffers)];
  });
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  if (!model.optimizer) compileCrnn(model, learningRate ?? resolveCrnnConfig().learningRate);
  return model;
}

/**
 * Loads a run saved by `saveRun`: the compiled model, its configs, task,
 * history and where and when it was trained.
 * @throws Error when `dir` is not a saved run or its files are damaged.
 */
export async function loadRun(dir: string): Promise<LoadedRun> {
  const runPath = path.join(dir, RUN_FILE);
  if (!(await exists(dir))) throw new Error(`${dir} does not exist`);
  if (!(await exists(path.join(dir, MODEL_FILE)))) {
    throw new Error(`${dir} is not a saved model folder: missing ${MODEL_FILE}`);
  }
  if (!(await exists(runPath))) throw new Error(`${dir} holds a model but is not a saved run: missing ${RUN_FILE}`);
  let record: RunRecord;
  try {
    record = JSON.parse(await fs.readFile(runPath, 'utf8'));
  } catch (err) {
    throw new Error(`${runPath} cannot be read: ${(err as Error).message}`);
  }
  if (record?.format !== RUN_FORMAT) {
    throw new Error(`${runPath} is not a run record (format ${JSON.stringify(record?.format)})`);
  }
  // Re-validate: a hand-edited run.json should fail here, not during training.
  const crnnConfig = resolveCrnnConfig(record.crnnConfig);
  const trainConfig = resolveTrainConfig(record.trainConfig);
  const model = await loadModel(dir, crnnConfig.learningRate);
  return { ...record, crnnConfig, trainConfig, model };
}

/**
 * The history as CSV, one row per step: `step,loss,accuracy,eval_loss,eval_accuracy`,
 * the eval columns filled on the steps where the fixed set was evaluated
 * (a row of its own for an evaluation at step 0).
 */
export function historyCsv(history: History): string {
  const evals = new Map(history.evals.map((e) => [e.step, e]));
  const rows = ['step,loss,accuracy,eval_loss,eval_accuracy'];
  const stepNumbers = new Set(history.steps.map((s) => s.step));
  for (const e of history.evals) {
    if (!stepNumbers.has(e.step)) rows.push(`${e.step},,,${e.loss},${e.accuracy}`);
  }
  for (const s of history.steps) {
    const e = evals.get(s.step);
    rows.push(`${s.step},${s.loss},${s.accuracy},${e ? e.loss : ''},${e ? e.accuracy : ''}`);
  }
  return rows.join('\n') + '\n';
}
