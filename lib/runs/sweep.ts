/**
 * Sweeps: every combination of some settings' values, each trained with
 * several seeds, one run folder per combination and seed.
 *
 * This file holds what can be decided without running anything: reading the
 * grid, naming the runs, the trainer's command of each run, and what a run
 * folder left by an earlier sweep holds. lib/runs/schedule.ts runs the sweep.
 *
 * A run's folder is `<root>/<key=value,...>/seed-<n>`, keys in the order of
 * the settings table, so the same sweep given in another order, or grown by
 * a value or a seed, finds the runs it already has.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import {
  findSetting, formatSetting, parseSetting, resolveCrnnConfig, resolveTrainConfig, settings, type Setting,
  type SettingValue,
} from '../config';
import type { CrnnConfig, TrainConfig } from '../types';
import { presetConfigs } from '../presets';
import { DEFAULT_TASK } from '../data/tasks';
import { liveLockOwner, recoverUnlessLocked } from './lock';
import {
  RUN_FILE, RunRecordError, TRAINER_FILES, attemptLogFile, finalEvaluation, isCheckpointEntry, readRunRecord,
  type RunRecord,
} from './record';
import { hasCheckpoint, readCheckpointRecord } from '../train/checkpoint';

/** One setting and the values a sweep gives it. */
export interface GridAxis {
  setting: Setting;
  values: SettingValue[];
}

/** What a sweep runs: the grid, the settings all its runs share, and the seeds. */
export interface SweepSpec {
  /** The settings that vary; every combination of their values is run. */
  grid: GridAxis[];
  /** Settings given to every run. */
  fixed: { setting: Setting; value: SettingValue }[];
  seeds: number[];
  /** The folder holding the run folders. */
  root: string;
  /** The trainer's --task, when not its default. */
  task?: string;
  /** The trainer's --data, when not its default. */
  data?: string;
  /** The trainer's --preset, when not the article's: its values under the grid's and --set's. */
  preset?: string;
}

/** One run of a sweep: a combination of the grid's values and a seed. */
export interface SweepRun {
  /** `cell=gru,sharedCnn=true/seed-1` (see `runName`): the folder under the root, and the run's name in messages. */
  name: string;
  /** The run folder, `<root>/<name>`. */
  dir: string;
  seed: number;
  /** The grid's values for this run, by setting name, in the order of the settings table. */
  point: Record<string, SettingValue>;
  /** The trainer's arguments (after the script's path). */
  args: string[];
}


/** Why a setting cannot be a key of a sweep, or undefined when it can. */
function notSweepable(setting: Setting): string | undefined {
  if (setting.flag === null) return `${setting.name} is derived from the data or the task`;
  if (setting.name === 'seed') return 'the seeds are given by --seeds or --seed-list';
  return undefined;
}

/** The settings a sweep can vary or fix: those with a flag, except the seed. */
export const sweepableSettings: readonly Setting[] = settings.filter((s) => notSweepable(s) === undefined);

function sweepableSetting(name: string): Setting {
  const setting = findSetting(name);
  const known = sweepableSettings.map((s) => s.name).join(', ');
  if (!setting) throw new Error(`unknown setting '${name}'; the settings are ${known}`);
  const why = notSweepable(setting);
  if (why) throw new Error(`${name} cannot be set by a sweep: ${why}`);
  return setting;
}

/** Splits `key=rest`, refusing text without a key. */
function keyAndValue(text: string, example: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new Error(`expected key=value like ${example}, got ${JSON.stringify(text)}`);
  return [text.slice(0, at).trim(), text.slice(at + 1)];
}

/**
 * Reads a `--grid` argument: `cell=simple,gru,lstm`, `learningRate=1e-3,3e-4`.
 * The values of a pair setting, whose values hold a comma, are separated by
 * semicolons: `filters=8,8;16,16`.
 * @throws Error naming the key and the allowed keys or values.
 */
export function parseGridArgument(text: string): GridAxis {
  const [name, list] = keyAndValue(text, 'cell=simple,gru');
  const setting = sweepableSetting(name);
  const separator = setting.type.kind === 'integer-pair' ? ';' : ',';
  const values = list.split(separator).map((item) => parseSetting(name, item));
  const written = values.map((v) => formatSetting(v));
  const twice = written.find((w, i) => written.indexOf(w) !== i);
  if (twice !== undefined) throw new Error(`${name}=${twice} is given twice`);
  return { setting, values };
}

/**
 * Reads a `--set` argument, one setting for every run: `numSteps=2000`, `filters=8,8`.
 * @throws Error naming the key and the allowed keys or values.
 */
export function parseSetArgument(text: string): { setting: Setting; value: SettingValue } {
  const [name, value] = keyAndValue(text, 'numSteps=2000');
  const setting = sweepableSetting(name);
  return { setting, value: parseSetting(name, value) };
}

/** A value as it reads in a folder name: `16x16` for a pair, so that commas only separate settings. */
function nameValue(value: SettingValue): string {
  return Array.isArray(value) ? value.join('x') : formatSetting(value);
}

/**
 * The folder name of a run: its grid values that differ from the defaults,
 * in the settings table's order, then the seed: `cell=gru,sharedCnn=true/seed-1`,
 * or `default/seed-1` where all are the defaults; a sweep over a preset other
 * than the article's puts `preset=NAME` first. Named by what differs, a
 * config gets one folder whichever grid trains it, so sweeps that each vary
 * one setting share their default runs when given one root. (The `--set`
 * values are the same for every run of a sweep and are not in the name; a
 * folder trained with other ones is reported, never reused: see `inspectRun`.)
 * @param point the run's grid values, by setting name.
 */
export function runName(point: Record<string, SettingValue>, seed: number, preset?: string): string {
  const differing = settings.filter((s) => s.name in point &&
    formatSetting(point[s.name]) !== formatSetting(s.default));
  const config = [
    ...(preset !== undefined && preset !== 'article' ? [`preset=${preset}`] : []),
    ...differing.map((s) => `${s.name}=${nameValue(point[s.name])}`),
  ].join(',');
  return `${config || 'default'}/seed-${seed}`;
}

/** Every combination of the axes' values, the first axis varying slowest. */
function combinations(axes: GridAxis[]): Record<string, SettingValue>[] {
  let points: Record<string, SettingValue>[] = [{}];
  for (const axis of axes) {
    points = points.flatMap((point) => axis.values.map((value) => ({ ...point, [axis.setting.name]: value })));
  }
  return points;
}

/**
 * The runs of a sweep: seed after seed (every combination with the first
 * seed, then with the second, …), so that an unfinished sweep has compared
 * all combinations on some seeds rather than some combinations on all seeds.
 * @throws Error when a key is given twice, there are no seeds or one is
 *   given twice, or a combination is not a valid config.
 */
export function planSweep(spec: SweepSpec): SweepRun[] {
  const names = [...spec.grid.map((a) => a.setting.name), ...spec.fixed.map((f) => f.setting.name)];
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new Error(`${twice} is given more than once (in --grid or --set)`);
  if (spec.seeds.length === 0) throw new Error('no seeds');
  if (new Set(spec.seeds).size !== spec.seeds.length) throw new Error('a seed is given twice');
  for (const seed of spec.seeds) parseSetting('seed', String(seed));
  const order = (s: Setting) => settings.indexOf(s);
  const axes = [...spec.grid].sort((a, b) => order(a.setting) - order(b.setting));
  const points = combinations(axes);
  for (const point of points) {
    // Cross-field checks the per-setting ones cannot make, before any run starts.
    expectedConfigs(spec, point, spec.seeds[0]);
  }
  return spec.seeds.flatMap((seed) => points.map((point) => {
    const name = runName(point, seed, spec.preset);
    const dir = path.join(spec.root, ...name.split('/'));
    return { name, dir, seed, point, args: trainArgs(spec, point, seed, dir) };
  }));
}

/** The trainer's arguments for one run: the settings in table order, the seed, task, data and folder. */
function trainArgs(spec: SweepSpec, point: Record<string, SettingValue>, seed: number, dir: string): string[] {
  const given: Record<string, SettingValue> = { ...point };
  for (const { setting, value } of spec.fixed) given[setting.name] = value;
  const args: string[] = spec.preset !== undefined ? ['--preset', spec.preset] : [];
  for (const setting of settings) {
    if (setting.name in given) args.push(setting.flag as string, formatSetting(given[setting.name]));
  }
  args.push('--seed', String(seed));
  if (spec.task !== undefined) args.push('--task', spec.task);
  if (spec.data !== undefined) args.push('--data', spec.data);
  args.push('--out', dir);
  return args;
}

/** The configs a run of the sweep trains with, over the defaults. */
function expectedConfigs(spec: SweepSpec, point: Record<string, SettingValue>, seed: number):
  { crnn: CrnnConfig; train: TrainConfig } {
  const model: Record<string, unknown> = {};
  const train: Record<string, unknown> = { seed };
  const given = [...spec.fixed, ...Object.entries(point).map(([name, value]) => ({ setting: findSetting(name)!, value }))];
  for (const { setting, value } of given) (setting.config === 'model' ? model : train)[setting.name] = value;
  const configs = presetConfigs(spec.preset ?? 'article', { model, train });
  return { crnn: resolveCrnnConfig(configs.model), train: resolveTrainConfig(configs.train) };
}

/** Quotes an argument for a POSIX shell when it holds anything but plain characters. */
export function shellQuote(arg: string): string {
  return /^[\w./=,:+@%-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A command line for a shell: `node dist/bin/train.js --cell gru ... --out runs/x/cell=gru/seed-1`. */
export function shellCommand(words: string[]): string {
  return words.map(shellQuote).join(' ');
}

/** What a run's folder holds when the sweep comes to it. */
export type RunState =
  /** No folder: the run is to be trained. */
  | { kind: 'new' }
  /**
   * A complete save of a run that ended by itself (all steps, or the target
   * accuracy), with its accuracy at the last evaluation (null without one).
   */
  | { kind: 'finished'; endReason: string; finalAccuracy: number | null }
  /** A complete save of a run stopped early (Ctrl-C, SIGTERM) without a checkpoint: trained again, replacing it. */
  | { kind: 'stopped'; steps: number }
  /**
   * A run killed (no run.json) or stopped early, with a checkpoint of the
   * sweep's settings at `step`: the trainer resumes it (`trainerArgs`).
   */
  | { kind: 'resumable'; step: number; stopped: boolean }
  /** A folder without run.json, holding only what a trainer writes: left by a killed run. */
  | { kind: 'partial' }
  /** A trainer is running on it now (its lock names a live process). */
  | { kind: 'busy'; pid: number }
  /** A save of other settings than the sweep's: never touched. */
  | { kind: 'mismatch'; differences: string[] }
  /**
   * Anything else (other files, a file instead of a folder, a run.json that
   * is unreadable, of another format or of a newer version): never touched.
   */
  | { kind: 'foreign'; reason: string };

/** "numSteps 3, this sweep 2000" for each setting the saved run (or its checkpoint) differs in. */
function differences(spec: SweepSpec, run: SweepRun, record: Pick<RunRecord, 'crnnConfig' | 'trainConfig' | 'task'>): string[] {
  const { crnn, train } = expectedConfigs(spec, run.point, run.seed);
  const expected: Record<string, unknown> = { ...crnn, ...train };
  const saved: Record<string, unknown> = { ...record.crnnConfig, ...record.trainConfig };
  const found: string[] = [];
  // Bookkeeping settings (checkpointEvery) do not change what a run trains.
  for (const setting of [...sweepableSettings, findSetting('seed')!].filter((s) => !s.bookkeeping)) {
    const [want, got] = [expected[setting.name], saved[setting.name]] as SettingValue[];
    if (formatSetting(got) !== formatSetting(want)) {
      found.push(`${setting.name} ${formatSetting(got)}, this sweep ${formatSetting(want)}`);
    }
  }
  const task = spec.task ?? DEFAULT_TASK;
  if (record.task !== task) found.push(`task ${record.task}, this sweep ${task}`);
  return found;
}

/**
 * What the folder of `run` holds, once a run an interrupted save moved aside
 * is put back: nothing yet, a finished or stopped run
 * (with the sweep's settings or not), a run a killed or stopped trainer left
 * with a checkpoint to resume, a run a killed trainer left half-written,
 * one in progress, or something that is not the sweep's.
 * Read from its run.json (through `readRunRecord`), before a run is trained
 * and after: the sweep learns the result of a run from there.
 */
export function inspectRun(spec: SweepSpec, run: SweepRun): RunState {
  const owner = liveLockOwner(run.dir);
  if (owner !== undefined) return { kind: 'busy', pid: owner };
  try {
    recoverUnlessLocked(run.dir);
  } catch (err) {
    return { kind: 'foreign', reason: (err as Error).message };
  }
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(run.dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'new' };
    return { kind: 'foreign', reason: code === 'ENOTDIR' ? 'it is not a folder' : String(err) };
  }
  const checkpointEntries = entries.filter((e) => e.isDirectory() && isCheckpointEntry(e.name));
  const files = entries.filter((e) => !checkpointEntries.includes(e));
  const strange = files.filter((e) => !TRAINER_FILES.includes(e.name)).map((e) => e.name);
  if (strange.length > 0) return { kind: 'foreign', reason: `it holds ${strange.join(', ')}, which no run writes` };
  const notFiles = files.filter((e) => !e.isFile()).map((e) => e.name);
  if (notFiles.length > 0) return { kind: 'foreign', reason: `its ${notFiles.join(', ')} is not a regular file` };
  const saved = entries.some((e) => e.name === RUN_FILE);
  let steps = 0;
  if (saved) {
    let record: RunRecord;
    try {
      record = readRunRecord(run.dir);
    } catch (err) {
      return { kind: 'foreign', reason: err instanceof RunRecordError ? `its ${err.reason}` : String(err) };
    }
    const differ = differences(spec, run, record);
    if (differ.length > 0) return { kind: 'mismatch', differences: differ };
    const { history } = record;
    if (history.endReason !== 'stopped') {
      return { kind: 'finished', endReason: history.endReason, finalAccuracy: finalEvaluation(history)?.accuracy ?? null };
    }
    steps = history.steps.length;
  }
  if (checkpointEntries.length > 0 && hasCheckpoint(run.dir)) {
    let checkpoint;
    try {
      checkpoint = readCheckpointRecord(run.dir);
    } catch (err) {
      return { kind: 'foreign', reason: `${(err as Error).message}: delete the folder to train the run again` };
    }
    const differ = differences(spec, run, checkpoint);
    if (differ.length > 0) return { kind: 'mismatch', differences: differ.map((d) => `checkpoint: ${d}`) };
    return { kind: 'resumable', step: checkpoint.state.step, stopped: saved };
  }
  return saved ? { kind: 'stopped', steps } : { kind: 'partial' };
}

/** The states whose run the sweep trains: 'new', 'partial' and 'stopped' (cleared first: `clearRunFolder`), 'resumable'. */
export function isTrainable(state: RunState): boolean {
  return state.kind === 'new' || state.kind === 'partial' || state.kind === 'stopped' || state.kind === 'resumable';
}

/**
 * `state` as an executor trains it: a run's checkpoint stays on this
 * machine, so where the executor cannot resume it (`resumesCheckpoints`
 * false: it trains elsewhere), a resumable run is trained again, as the
 * 'stopped' run it saved or the 'partial' one a killed trainer left.
 */
export function stateForExecutor(state: RunState, resumesCheckpoints: boolean): RunState {
  if (state.kind !== 'resumable' || resumesCheckpoints) return state;
  return state.stopped ? { kind: 'stopped', steps: state.step } : { kind: 'partial' };
}

/**
 * The trainer's arguments for `run` found in `state`: those of the plan,
 * with `--resume` in place of `--out` for a run to resume from its
 * checkpoint (the trainer checks the settings against the checkpoint's).
 */
export function trainerArgs(run: SweepRun, state: RunState): string[] {
  if (state.kind !== 'resumable') return run.args;
  const at = run.args.lastIndexOf('--out');
  return [...run.args.slice(0, at), '--resume', ...run.args.slice(at + 1)];
}

/**
 * Removes a run folder that `inspectRun` found 'partial' or 'stopped': only
 * the files a trainer writes and what interrupted checkpoint writes left,
 * then the folder, which must then be empty.
 */
export function clearRunFolder(dir: string): void {
  for (const name of TRAINER_FILES) fs.rmSync(path.join(dir, name), { force: true });
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && isCheckpointEntry(entry.name)) {
      fs.rmSync(path.join(dir, entry.name), { recursive: true, force: true });
    }
  }
  fs.rmdirSync(dir);
}

/**
 * Creates the log of a new attempt to train the run folder `dir`: the first
 * of `<dir>.log`, `<dir>.attempt-2.log`, … that does not exist, created
 * exclusively, so that two sweeps on one root never write to one log, and a
 * failed attempt's log is its own. Creates the parent folder.
 * @returns the log's path and its open file descriptor (the caller closes it).
 */
export function openAttemptLog(dir: string): { file: string; fd: number } {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const file = attemptLogFile(dir, attempt);
    try {
      return { file, fd: fs.openSync(file, 'wx') };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
