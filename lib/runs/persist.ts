/**
 * Saving and loading training runs: the model (topology, weights and Adam
 * state, in the tfjs `model.json` + `weights.bin` layout) and `run.json`
 * (configs, task, history, backend, date). The run folder and its record
 * are described in lib/runs/record.ts.
 *
 * Files are written with Node's `fs` through `tf.io.withSaveHandler`, not the
 * `file://` scheme of tfjs-node, so the same code works on the pure-JS
 * fallback backend. A save goes to a temporary sibling folder that replaces
 * the run folder only once complete: a failed save leaves the previous
 * checkpoint as it was.
 *
 * Replacing takes two renames: the old run folder `<name>` to
 * `.<name>.saving-XXXXXX.previous`, then the new one `.<name>.saving-XXXXXX`
 * to `<name>`. A process killed between them leaves no run folder, so
 * loading and saving (and reserving, listing and sweeping) first put a
 * complete `.previous` folder back (`recoverUnlessLocked`, lib/runs/lock.ts,
 * unless a running trainer holds the folder's lock);
 * the next save removes the leftovers.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { tf, backend } from '../tf';
import type * as tfTypes from '@tensorflow/tfjs';
import type { History } from '../types';
import { buildCrnn, compileCrnn, disposeCrnn } from '../model/build';
import { resolveCrnnConfig } from '../config';
import { describeEnvironment } from './environment';
import { recoverUnlessLocked } from './lock';
import {
  CHECKPOINT_FOLDER, MAX_MODEL_FILE_BYTES, MODEL_FILE, RUN_FILE, WEIGHTS_FILE, holdsCompleteModel, isCheckpointEntry,
  movedAsideFolder, newRunRecord, readRegularFile,
  RunRecordError, readRunRecord, runRecordJson, savingFolders, stagingFolder, weightBytes, type RunRecord,
} from './record';

/** What `saveRun` stores: the model, and the fields of its record that the trainer knows. */
export type RunToSave = Pick<RunRecord,
  'crnnConfig' | 'trainConfig' | 'task' | 'history' | 'dataSource' | 'dataLocation' | 'digitProbe'> & {
  model: tfTypes.LayersModel;
};

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
  /**
   * For tests only: called when the previous run has been moved aside and the
   * new one not yet moved in, the one moment the run folder does not exist.
   * Killing the process here leaves what a crash at that moment leaves.
   */
  betweenRenames?: () => void | Promise<void>;
  /**
   * Entries of the run folder being replaced to carry into the new one,
   * by plain name (the checkpoint of a run stopped early, which resumes
   * it): copied, so that the old folder stays whole until the new one is
   * in its place. Missing ones are left out.
   */
  keep?: string[];
}

/**
 * Leftovers of a save younger than this are kept: they may belong to a save
 * still running in another process. Two processes saving the same run is
 * not supported (the CLI locks the run folder); this only keeps a stray one
 * from deleting a live staging folder under the other's feet.
 */
const STALE_AFTER_MS = 60_000;

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}

/**
 * Removes what killed saves of `target` left: staging folders, and runs
 * moved aside, but those only while `target` holds a complete model, so
 * that the only copy of a run is never deleted (an empty `target`, reserved
 * by a trainer, is no copy). Folders changed in the last STALE_AFTER_MS are
 * kept.
 */
async function removeStaleSavingFolders(target: string): Promise<void> {
  const targetComplete = holdsCompleteModel(target);
  const now = Date.now();
  for (const folder of savingFolders(target)) {
    if (now - folder.mtimeMs < STALE_AFTER_MS || (folder.movedAside && !targetComplete)) continue;
    await fs.rm(folder.path, { recursive: true, force: true });
  }
}

/**
 * Writes the model's artifacts as model.json + weights.bin into `dir`: the
 * weights, then the optimiser's (Adam's step count and moments).
 */
export async function writeModel(model: tfTypes.LayersModel, dir: string): Promise<void> {
  // tfjs's optimisers hand model.save a new scalar of their step count, which
  // model.save never disposes: one tensor leaked per save. Collect what the
  // optimiser hands over that is not one of its variables, and dispose it.
  const optimizer = model.optimizer as tfTypes.Optimizer | undefined;
  const getWeights = optimizer ? optimizer.getWeights.bind(optimizer) : undefined;
  const handedOver: tfTypes.Tensor[] = [];
  if (optimizer && getWeights) {
    optimizer.getWeights = async () => {
      const weights = await getWeights();
      handedOver.push(...weights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
      return weights;
    };
  }
  try {
    await saveArtifacts(model, dir);
  } finally {
    if (optimizer && getWeights) delete (optimizer as Partial<tfTypes.Optimizer>).getWeights;
    tf.dispose(handedOver);
  }
}

async function saveArtifacts(model: tfTypes.LayersModel, dir: string): Promise<void> {
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
      [MODEL_FILE, WEIGHTS_FILE, RUN_FILE, CHECKPOINT_FOLDER].includes(name)) {
    throw new Error(`extra run file name must be a plain file name other than ${MODEL_FILE}, ` +
      `${WEIGHTS_FILE}, ${RUN_FILE} and ${CHECKPOINT_FOLDER}, got ${JSON.stringify(name)}`);
  }
}

/** Flushes a file or folder to the disk; a folder that cannot be opened for it (some platforms) is left to the system. */
async function syncToDisk(target: string, folder: boolean): Promise<void> {
  let handle;
  try {
    handle = await fs.open(target, 'r');
    await handle.sync();
  } catch (err) {
    if (!folder) throw err;
  } finally {
    await handle?.close();
  }
}

/** Flushes the files of `dir`, its folders' and its own entries to the disk. */
async function syncFolder(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) await syncFolder(entryPath);
    else if (entry.isFile()) await syncToDisk(entryPath, false);
  }
  await syncToDisk(dir, true);
}

/**
 * Writes the folder `dir` all or nothing: `fill` writes into a new
 * temporary sibling folder, which then takes the place of `dir` (see the
 * top of this file); the previous `dir` is removed only after that. If
 * `fill` or the move fails, `dir` is left as it was and the temporary
 * folder is removed. A `dir` that a killed write left moved aside is put
 * back first, and leftovers of killed writes more than a minute old are
 * removed. The new folder is flushed to the disk before it takes the place
 * of `dir`, and the renames after, so that a power cut too leaves the old
 * folder or the new one whole. Runs (`saveRun`) and training checkpoints
 * are written so.
 * @param betweenRenames for tests, see SaveRunOptions.
 */
export async function writeFolderAtomically(
  dir: string, fill: (folder: string) => Promise<void>, betweenRenames?: () => void | Promise<void>,
): Promise<void> {
  const target = path.resolve(dir);
  recoverUnlessLocked(target);
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  await removeStaleSavingFolders(target);
  // Not mkdtemp, which makes 0700 folders: the folder gets mkdir's usual mode.
  const suffix = randomBytes(6).toString('base64url').replace(/[-_]/g, '0').slice(0, 6);
  const staging = stagingFolder(target, suffix);
  await fs.mkdir(staging);
  try {
    await fill(staging);
    await syncFolder(staging);
    await replaceFolder(staging, target, betweenRenames);
    await syncToDisk(parent, true);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Checks that `dir` may receive a run: missing, empty, a saved run, or a
 * folder holding only a run's training checkpoint (a run killed before its
 * save). Puts back a run that an interrupted save moved aside first.
 * @throws Error when `dir` is something else, which a save must not replace.
 */
export async function checkRunFolder(dir: string): Promise<void> {
  const target = path.resolve(dir);
  recoverUnlessLocked(target);
  if (!(await exists(target))) return;
  const entries = await fs.readdir(target).catch(() => {
    throw new Error(`${dir} exists and is not a folder; refusing to replace it`);
  });
  if (entries.length > 0 && !entries.includes(MODEL_FILE) && !entries.every(isCheckpointEntry)) {
    throw new Error(`${dir} is not empty and is not a saved model folder (no ${MODEL_FILE}); ` +
      'refusing to replace it: choose a new folder');
  }
}

/**
 * Saves a run into `dir` (created if needed): model.json, weights.bin
 * (weights, then Adam's state so training can resume), run.json and any
 * `options.files`, and the entries `options.keep` carries over.
 *
 * All or nothing (`writeFolderAtomically`): everything is written into a
 * temporary sibling folder that then takes the place of `dir`; the previous
 * contents of `dir` are removed only after that. If anything fails, `dir`
 * is left as it was. If an earlier save was killed midway, its run moved
 * aside is put back first and its leftovers more than a minute old are
 * removed.
 * @throws Error when `dir` exists but is not a saved run or a run's
 *   checkpoint (to avoid replacing an unrelated folder), or when writing fails.
 */
export async function saveRun(dir: string, run: RunToSave, options: SaveRunOptions = {}): Promise<void> {
  const files = options.files ?? {};
  Object.keys(files).forEach(checkFileName);
  const target = path.resolve(dir);
  await checkRunFolder(target);
  const keep = options.keep ?? [];
  keep.forEach((name) => {
    if (!name || name !== path.basename(name) || name === '.' || name === '..') {
      throw new Error(`an entry to keep must be a plain name, got ${JSON.stringify(name)}`);
    }
  });
  await writeFolderAtomically(target, async (staging) => {
    await writeModel(run.model, staging);
    const record = newRunRecord({
      crnnConfig: run.crnnConfig,
      trainConfig: run.trainConfig,
      task: run.task,
      history: run.history,
      ...(run.dataSource !== undefined ? { dataSource: run.dataSource } : {}),
      ...(run.dataLocation !== undefined ? { dataLocation: run.dataLocation } : {}),
      backend: backend.name,
      environment: describeEnvironment(),
      ...(run.digitProbe !== undefined ? { digitProbe: run.digitProbe } : {}),
    });
    await fs.writeFile(path.join(staging, RUN_FILE), runRecordJson(record));
    for (const [name, contents] of Object.entries(files)) {
      await fs.writeFile(path.join(staging, name), contents);
    }
    for (const name of keep) {
      const from = path.join(target, name);
      if (await exists(from)) await fs.cp(from, path.join(staging, name), { recursive: true });
    }
  }, options.betweenRenames);
}

/** Moves `staging` to `target`, keeping the old `target` until the move succeeded. */
async function replaceFolder(staging: string, target: string,
    betweenRenames?: () => void | Promise<void>): Promise<void> {
  if (!(await exists(target))) {
    await fs.rename(staging, target);
    return;
  }
  // The name recoverMovedAside (lib/runs/record.ts) and removeStaleSavingFolders look for.
  const previous = movedAsideFolder(staging);
  await fs.rename(target, previous);
  try {
    await betweenRenames?.();
    await fs.rename(staging, target);
  } catch (err) {
    await fs.rename(previous, target);
    throw err;
  }
  await fs.rm(previous, { recursive: true, force: true });
}

/**
 * Reads one manifest group's weight files and checks them against the
 * manifest: exactly the byte count it describes, and no NaN or infinity in
 * float32 weights. tfjs checks neither: another architecture's larger file
 * loads silently with the wrong values, and random bytes load as NaNs.
 */
async function readWeightGroup(dir: string, modelPath: string,
    group: tfTypes.io.WeightsManifestConfig[number]): Promise<ArrayBuffer> {
  if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
    throw new Error(`${modelPath}: every weightsManifest group needs paths and weights`);
  }
  const expected = group.weights.reduce((n, entry) => n + weightBytes(entry, modelPath), 0);
  const files = group.paths.map((file) => path.join(dir, file));
  const parts: Uint8Array[] = [];
  for (const [i, weightsPath] of files.entries()) {
    if (!(await exists(weightsPath))) {
      throw new Error(`${dir} is an incomplete saved model: missing ${group.paths[i]}`);
    }
    parts.push(await fs.readFile(weightsPath).catch((err: Error) => {
      throw new Error(`${weightsPath} cannot be read: ${err.message}`);
    }));
  }
  const named = files.join(' + ') || `the weights of ${modelPath}`;
  const actual = parts.reduce((n, part) => n + part.byteLength, 0);
  if (actual !== expected) {
    throw new Error(`${named} holds ${actual} bytes but ${modelPath} describes ${expected}: ` +
      'another model\'s weights?');
  }
  // A fresh buffer at offset 0, so float32 weights can be viewed in place.
  const data = new Uint8Array(expected);
  parts.reduce((at, part) => (data.set(part, at), at + part.byteLength), 0);
  checkFinite(data.buffer, group.weights, named, modelPath);
  return data.buffer;
}

/**
 * Throws on the first NaN or infinity in an unquantized float32 weight:
 * trained weights are finite (a diverged run is never saved), while random or
 * overwritten bytes are almost surely not.
 */
function checkFinite(data: ArrayBuffer, entries: tfTypes.io.WeightsManifestEntry[],
    named: string, modelPath: string): void {
  let offset = 0;
  for (const entry of entries) {
    const bytes = weightBytes(entry, modelPath);
    if (entry.dtype === 'float32' && entry.quantization === undefined) {
      const values = offset % 4 === 0
        ? new Float32Array(data, offset, bytes / 4) : new Float32Array(data.slice(offset, offset + bytes));
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) {
          throw new Error(`${named}: weight ${entry.name} holds ${values[i]} at index ${i}; ` +
            'the file is damaged or is not this model\'s weights');
        }
      }
    }
    offset += bytes;
  }
}

/**
 * Loads the model saved in `dir` (model.json + weight files), compiled and
 * with its Adam state when it was saved with one. When `dir` is missing
 * because a save was killed midway, the run that save moved aside is put
 * back first (see `saveRun`).
 * @param learningRate used to compile a model saved without training config.
 * @throws Error when `dir` is not a saved model folder, or a weights file is
 *   missing, unreadable, not the size its manifest describes, or holds NaN
 *   or infinite float32 values (each error names the file).
 */
export async function loadModel(dir: string, learningRate?: number): Promise<tfTypes.LayersModel> {
  recoverUnlessLocked(dir);
  if (!(await exists(dir))) throw new Error(`${dir} does not exist`);
  const modelPath = path.join(dir, MODEL_FILE);
  if (!(await exists(modelPath))) throw new Error(`${dir} is not a saved model folder: missing ${MODEL_FILE}`);
  let text: string;
  try {
    text = readRegularFile(modelPath, MAX_MODEL_FILE_BYTES).toString('utf8');
  } catch (err) {
    throw new Error(`${modelPath} cannot be read: ${(err as Error).message.replace(`${modelPath} `, '')}`);
  }
  let modelJson: tfTypes.io.ModelJSON;
  try {
    modelJson = JSON.parse(text) as tfTypes.io.ModelJSON;
  } catch (err) {
    throw new Error(`${modelPath} is not valid JSON: ${(err as Error).message}`);
  }
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`${modelPath} is not a tfjs model: it needs modelTopology and weightsManifest`);
  }
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const buffers: ArrayBuffer[] = [];
    for (const group of manifest) buffers.push(await readWeightGroup(dir, modelPath, group));
    return [manifest.flatMap((group) => group.weights), tf.io.CompositeArrayBuffer.join(buffers)];
  });
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  if (!model.optimizer) compileCrnn(model, learningRate ?? resolveCrnnConfig().learningRate);
  return model;
}

/**
 * Loads a run saved by `saveRun`: the compiled model, its configs, task,
 * history and where and when it was trained. Like `loadModel`, puts back a
 * run that a killed save left moved aside.
 * @throws Error when `dir` is not a saved run or its files are damaged.
 */
export async function loadRun(dir: string): Promise<LoadedRun> {
  recoverUnlessLocked(dir);
  if (!(await exists(dir))) throw new Error(`${dir} does not exist`);
  if (!(await exists(path.join(dir, MODEL_FILE)))) {
    throw new Error(`${dir} is not a saved model folder: missing ${MODEL_FILE}`);
  }
  // Validated before the weights are read: a hand-edited run.json fails here, not during training.
  let record: RunRecord;
  try {
    record = readRunRecord(dir);
  } catch (err) {
    if (err instanceof RunRecordError && err.problem === 'missing') {
      throw new Error(`${dir} holds a model but is not a saved run: missing ${RUN_FILE}`);
    }
    throw err;
  }
  const model = await loadModel(dir, record.crnnConfig.learningRate);
  try {
    checkTopology(model, record, dir);
  } catch (err) {
    disposeCrnn(model);
    throw err;
  }
  return { ...record, model };
}

/** Layer settings that depend on the run's seed or are bookkeeping, not on the architecture. */
const NOT_ARCHITECTURE = /Initializer$|^(name|trainable|seed)$/;

/** A layer as its class, name, weight shapes and architectural settings: `LSTM rnn_lstm [16,64] … {"units":16,…}`. */
function layerSignature(layer: tfTypes.layers.Layer): { head: string; settings: Record<string, string> } {
  // null and absent mean the same (a deserialised LSTM has `implementation: null`, a built one none).
  const settings = Object.fromEntries(Object.entries(layer.getConfig())
    .filter(([key, value]) => !NOT_ARCHITECTURE.test(key) && value != null)
    .map(([key, value]) => [key, JSON.stringify(value)]));
  return { head: `${layer.getClassName()} ${layer.name} [${layer.weights.map((w) => w.shape.join('×')).join(', ')}]`, settings };
}

/**
 * Checks that the model loaded from model.json is the one run.json's
 * settings build, layer by layer: their classes, names, weight shapes and
 * settings (not the initialisers). model.json and weights.bin that belong to
 * another run (an LSTM beside a run.json that says `cell: simple`) would
 * otherwise load and be reported with the wrong settings.
 * @throws Error naming the folder and the first layer that differs.
 */
function checkTopology(model: tfTypes.LayersModel, record: RunRecord, dir: string): void {
  const expected = buildCrnn(record.crnnConfig, { seed: record.trainConfig.seed });
  try {
    const [want, got] = [expected.layers.map(layerSignature), model.layers.map(layerSignature)];
    for (let i = 0; i < Math.max(want.length, got.length); i++) {
      const differing = want[i] && got[i] && want[i].head === got[i].head
        ? Object.keys({ ...want[i].settings, ...got[i].settings })
          .filter((key) => want[i].settings[key] !== got[i].settings[key]) : [];
      if (want[i]?.head === got[i]?.head && differing.length === 0) continue;
      const detail = differing.length > 0
        ? `${got[i].head}: ${differing.map((key) => `${key} ${got[i].settings[key] ?? 'none'} in ${MODEL_FILE}, ` +
          `${want[i].settings[key] ?? 'none'} by ${RUN_FILE}`).join('; ')}`
        : `layer ${i + 1} is ${got[i]?.head ?? 'missing'} in ${MODEL_FILE}, ${want[i]?.head ?? 'missing'} by ${RUN_FILE}`;
      throw new Error(`${dir}: ${MODEL_FILE} is not the model ${RUN_FILE} describes (cell ${record.crnnConfig.cell}, ` +
        `sharedCnn ${record.crnnConfig.sharedCnn}, …): ${detail}; are the two files of different runs?`);
    }
  } finally {
    disposeCrnn(expected);
  }
}

/**
 * The history as CSV, one row per step:
 * `step,loss,accuracy,eval_loss,eval_accuracy,learning_rate`, the eval columns
 * filled on the steps where the fixed set was evaluated (a row of its own for
 * an evaluation at step 0).
 */
export function historyCsv(history: History): string {
  const evals = new Map(history.evals.map((e) => [e.step, e]));
  const rows = ['step,loss,accuracy,eval_loss,eval_accuracy,learning_rate'];
  const stepNumbers = new Set(history.steps.map((s) => s.step));
  for (const e of history.evals) {
    if (!stepNumbers.has(e.step)) rows.push(`${e.step},,,${e.loss},${e.accuracy},`);
  }
  for (const s of history.steps) {
    const e = evals.get(s.step);
    rows.push(`${s.step},${s.loss},${s.accuracy},${e ? e.loss : ''},${e ? e.accuracy : ''},${s.learningRate ?? ''}`);
  }
  return rows.join('\n') + '\n';
}
