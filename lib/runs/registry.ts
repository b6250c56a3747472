/**
 * A registry of saved runs: finds the run folders under a root, summarises
 * them from their run.json, and compares groups of runs that differ only in
 * the seed (mean ± standard deviation and a 95% interval over seeds, from
 * lib/evaluate/stats.ts). lib/view/tables.ts draws the runs and comparisons
 * as tables, lib/view/compare.ts as a chart.
 *
 * Only run.json is read, never the weights, so listing hundreds of runs takes
 * a moment, and nothing here loads TensorFlow.
 *
 * How a folder under the root is classified (the root itself included):
 *
 * - It holds run.json: a **run** when `readRunRecord` (lib/runs/record.ts)
 *   reads it; otherwise **skipped** with the reason (not a regular file, not
 *   valid JSON, another format, a newer version, an invalid config). Either way it is not searched further: a run folder's
 *   contents belong to the run (and `saveRun` replaces it as a whole).
 *   A run whose weights were deleted is still a run (`hasModel: false`).
 * - It holds model.json or weights.bin but no run.json: **skipped**, half-written
 *   (`saveRun` writes run.json with the model, so this is not its work).
 * - It holds a training checkpoint (`checkpoint/`) but no run.json:
 *   **skipped**, a run in progress or killed before its save, with the step
 *   of its checkpoint (`train --resume` goes on from there).
 * - `.<name>.saving-XXXXXX`: **skipped**, an unfinished save (in progress,
 *   or killed). `.<name>.saving-XXXXXX.previous`, a run an interrupted save
 *   moved aside: when `<name>` is missing or empty, it is **put back** first
 *   and listed as `<name>` (see `recovered`), unless a running trainer holds
 *   the lock of `<name>` or the copy is incomplete; otherwise **skipped**
 *   with the reason (beside a run folder `<name>`, it is a leftover that a
 *   later save removes).
 * - An empty folder with a `.<name>.lock` beside it: **skipped**, reserved by
 *   a training run that is still going, or that was killed before saving.
 * - Any other folder is searched: a sweep's folders (`sweep/cell-gru/seed-1`)
 *   are just traversed. A folder that holds files but nothing run-like
 *   anywhere below it is **skipped** as not a run; empty folders are ignored.
 * - Other hidden entries (`.git`, `.ipynb_checkpoints`, lock files) and
 *   `node_modules` are ignored, and so is anything more than `maxDepth`
 *   levels down (default 8); a run folder just past that depth is reported
 *   as skipped. Symbolic links to folders are followed once.
 *
 * The settings of a run are its task and the fields of its crnnConfig and
 * trainConfig, by field name (`cell`, `sharedCnn`, `seed`, …).
 */
import { promises as fs, readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';
import type { CrnnConfig, EvalRecord, History, TrainConfig } from '../types';
import type { RunEnvironment } from './environment';
import { defaultCrnnConfig, defaultTrainConfig, formatSetting } from '../config';
import { presetOf } from '../presets';
import { DEFAULT_TASK } from '../data/tasks';
import { meanDifference, sampleStats, type SampleStats } from '../evaluate/stats';
import { liveLockOwner, lockFileOf, lockOwner, recoverUnlessLocked } from './lock';
import {
  CHECKPOINT_FOLDER, MODEL_FILE, RUN_FILE, TRAINER_FILES, WEIGHTS_FILE, finalEvaluation, holdsCompleteModel,
  parseSavingFolder, readRunRecord, RunRecordError, type RunRecord,
} from './record';
import { readCheckpointRecord } from '../train/checkpoint';

/** Files of a run folder that, without run.json, mark a save that did not finish. */
const RUN_PARTS = TRAINER_FILES.filter((name) => name !== RUN_FILE);

/** One saved run, from its run.json. */
export interface RunSummary {
  /** The run folder: the root joined with `id`. */
  dir: string;
  /** The folder relative to the root, with '/' separators (the root's own name when the root is the run). */
  id: string;
  task: string;
  seqLength: number;
  crnnConfig: CrnnConfig;
  trainConfig: TrainConfig;
  /** The last training step done (0 when none was). */
  steps: number;
  /** Accuracy and loss on the fixed evaluation set at the last evaluation; null without evaluations. */
  finalAccuracy: number | null;
  finalLoss: number | null;
  /** The highest evaluation accuracy and the (first) step it was reached at. */
  bestAccuracy: number | null;
  bestStep: number | null;
  endReason: History['endReason'];
  /** Training time in seconds. */
  elapsedSeconds: number;
  /** ISO date of the save. */
  savedAt: string;
  /** The engine that ran the steps, when recorded. */
  engine: 'graph' | 'eager' | null;
  /** The tfjs backend ('tensorflow' or 'cpu'). */
  backend: string;
  /** The CPU model, when the run recorded its environment. */
  cpu: string | null;
  /** The project's git commit the run was trained with, when recorded. */
  gitCommit: string | null;
  /** Whether the folder holds model.json (the weights can be loaded with `loadRun`). */
  hasModel: boolean;
  /**
   * [T] the digit probe's per-digit accuracy p of each time step's CNN, when
   * the run measured it (`measureDigitProbe`); null otherwise.
   */
  digitAccuracy: number[] | null;
  /**
   * For each accuracy of MILESTONES, the first evaluation at or above it:
   * its step and seconds since training started (null where the run did not
   * record them); null where no evaluation reached it.
   */
  milestones: (Milestone | null)[];
  /** The process's peak resident memory in MiB, when the run recorded it. */
  peakRssMiB: number | null;
}

/** The accuracies whose first reaching the comparison shows: time to accuracy. */
export const MILESTONES: readonly number[] = Object.freeze([0.98, 0.99]);

/** When a run first reached an accuracy on its fixed evaluation set. */
export interface Milestone {
  step: number;
  seconds: number | null;
}

/** The mean, or null for no values. */
function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

function milestonesOf(evals: readonly EvalRecord[]): (Milestone | null)[] {
  const ordered = [...evals].sort((a, b) => a.step - b.step);
  return MILESTONES.map((accuracy) => {
    const first = ordered.find((e) => e.accuracy >= accuracy);
    return first ? { step: first.step, seconds: first.elapsedMs === undefined ? null : first.elapsedMs / 1000 } : null;
  });
}

/** A run with its full record (history included), as `loadRuns` returns it. */
export interface RunDetails extends RunSummary {
  history: History;
  dataSource?: string;
  environment?: RunEnvironment;
}

/** A folder that looks like (part of) a run but is not one, and why. */
export interface SkippedFolder {
  dir: string;
  /** The folder relative to the root. */
  id: string;
  reason: string;
}

export interface ListRunsOptions {
  /** How many levels below the root are searched (default 8). */
  maxDepth?: number;
}

/** A run folder put back from where an interrupted save had moved it aside (see `recoverMovedAside`). */
export interface RecoveredRun {
  dir: string;
  /** The folder relative to the root. */
  id: string;
  /** Where it was: `.<name>.saving-XXXXXX.previous` beside it. */
  from: string;
}

export interface RunList<T extends RunSummary = RunSummary> {
  /** The runs, sorted by id (numbers in names in numeric order: seed-2 before seed-10). */
  runs: T[];
  skipped: SkippedFolder[];
  /** The run folders put back while searching, sorted by id; they are among `runs` (or `skipped`). */
  recovered: RecoveredRun[];
}

const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id, 'en', { numeric: true });

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? e.code : e instanceof Error ? e.message : String(err);
}

type ReadResult = { run: RunDetails } | { reason: string };

/** Reads and checks `dir`/run.json (see `readRunRecord`); never throws. */
function readRunFolder(dir: string, id: string, names: ReadonlySet<string>): ReadResult {
  try {
    return { run: summarize(dir, id, readRunRecord(dir), names.has(MODEL_FILE)) };
  } catch (err) {
    if (err instanceof RunRecordError) return { reason: err.reason };
    return { reason: `${RUN_FILE} cannot be read (${errorText(err)})` };
  }
}

/** The probe's per-step accuracies of a record, if it has valid ones. */
function digitAccuracyOf(record: RunRecord): number[] | null {
  const accuracy = record.digitProbe?.accuracy;
  return Array.isArray(accuracy) && accuracy.length > 0 &&
    accuracy.every((p) => typeof p === 'number' && p >= 0 && p <= 1) ? accuracy : null;
}

/** The product of the steps' per-digit accuracies: the pair accuracy if digit errors were independent. */
export function digitProduct(accuracy: readonly number[]): number {
  return accuracy.reduce((p, a) => p * a, 1);
}

function summarize(dir: string, id: string, record: RunRecord, hasModel: boolean): RunDetails {
  const { history } = record;
  const evals = history.evals.filter((e) => Number.isFinite(e.accuracy));
  const final = finalEvaluation(history);
  const best = evals.reduce<EvalRecord | undefined>((top, e) =>
    (!top || e.accuracy > top.accuracy || (e.accuracy === top.accuracy && e.step < top.step) ? e : top), undefined);
  const steps = history.steps.reduce((max, s) => Math.max(max, s.step), 0);
  return {
    dir, id,
    task: record.task,
    seqLength: record.crnnConfig.seqLength,
    crnnConfig: record.crnnConfig,
    trainConfig: record.trainConfig,
    steps,
    finalAccuracy: final?.accuracy ?? null,
    finalLoss: final?.loss ?? null,
    bestAccuracy: best?.accuracy ?? null,
    bestStep: best?.step ?? null,
    endReason: history.endReason,
    elapsedSeconds: (history.elapsedMs ?? 0) / 1000,
    savedAt: record.savedAt,
    engine: history.engine ?? null,
    backend: record.backend,
    cpu: record.environment?.cpu?.model ?? null,
    gitCommit: record.environment?.gitCommit ?? null,
    hasModel,
    digitAccuracy: digitAccuracyOf(record),
    milestones: milestonesOf(evals),
    peakRssMiB: history.peakRssMiB ?? null,
    history,
    ...(record.dataSource !== undefined ? { dataSource: record.dataSource } : {}),
    ...(record.environment !== undefined ? { environment: record.environment } : {}),
  };
}

/**
 * Why a hidden `.<name>.saving-…` folder is still there after the scan put
 * back what it could (a moved-aside copy of a run folder that is missing or
 * empty is put back unless a trainer holds the lock or the copy is incomplete).
 */
function savingReason(parent: string, entry: string, name: string, movedAside: boolean): string {
  if (!movedAside) return `unfinished save of ${name} (a save in progress, or killed; the next save of ${name} removes it)`;
  const target = path.join(parent, name);
  const inPlace = (dirEntries(target)?.length ?? 0) > 0;
  if (inPlace) return `leftover of an interrupted save of ${name}: its previous copy (a later save of ${name} removes it)`;
  const owner = liveLockOwner(target);
  if (owner !== undefined) return `${name} moved aside by a save in progress (process ${owner})`;
  if (!holdsCompleteModel(path.join(parent, entry))) {
    return `${name} moved aside by an interrupted save, and incomplete (no complete model): not put back; ` +
      `${name} is missing`;
  }
  return `${name} moved aside by an interrupted save; ${name} is missing`;
}

/** The entries of a folder, or undefined when it cannot be read. */
function dirEntries(dir: string): string[] | undefined {
  try {
    return readdirSync(dir);
  } catch {
    return undefined;
  }
}

/** Why a folder holding a training checkpoint but no run.json is there. */
function checkpointReason(dir: string): string {
  const owner = liveLockOwner(dir);
  if (owner !== undefined) return `training in progress (process ${owner}); nothing saved yet`;
  try {
    const { state } = readCheckpointRecord(dir);
    return `killed before its save, with a checkpoint at step ${state.step} of ${state.numSteps}: ` +
      `train --resume ${dir} goes on from there`;
  } catch (err) {
    return `killed before its save, with a checkpoint that cannot be read (${(err as Error).message})`;
  }
}

/** Why an empty folder with a lock file beside it is there, or null without a lock. */
function reservedReason(parent: string, name: string, siblings: ReadonlySet<string>): string | null {
  if (!siblings.has(path.basename(lockFileOf(path.join(parent, name))))) return null;
  const live = liveLockOwner(path.join(parent, name));
  if (live !== undefined) return `training in progress (process ${live}); nothing saved yet`;
  return `empty, reserved by a training run (process ${lockOwner(path.join(parent, name)) ?? '?'}) ` +
    'that ended without saving (killed?)';
}

class Scan {
  readonly runs: RunDetails[] = [];
  readonly skipped: SkippedFolder[] = [];
  readonly recovered: RecoveredRun[] = [];
  private readonly visited = new Set<string>();

  constructor(private readonly rootName: string, private readonly maxDepth: number) {}

  private skip(dir: string, id: string, reason: string): void {
    this.skipped.push({ dir, id, reason });
  }

  /**
   * Puts back the runs that interrupted saves moved aside in `dir`, before
   * they are listed (see `recoverUnlessLocked`); a copy that cannot be put
   * back is skipped with the reason. Returns whether anything was put back.
   */
  recover(dir: string, id: string, entries: readonly Dirent[]): boolean {
    let any = false;
    for (const entry of entries) {
      const saving = parseSavingFolder(entry.name);
      if (!saving?.movedAside || !entry.isDirectory()) continue;
      const target = path.join(dir, saving.run);
      const targetId = id ? `${id}/${saving.run}` : saving.run;
      try {
        const from = recoverUnlessLocked(target);
        if (from !== undefined) {
          this.recovered.push({ dir: target, id: targetId, from });
          any = true;
        }
      } catch (err) {
        this.skip(path.join(dir, entry.name), id ? `${id}/${entry.name}` : entry.name, (err as Error).message);
      }
    }
    return any;
  }

  /** Searches `dir`; returns whether anything run-like (a run or a skipped folder) was found in it. */
  async visit(dir: string, id: string, depth: number): Promise<boolean> {
    const real = await fs.realpath(dir).catch(() => dir);
    if (this.visited.has(real)) return false;
    this.visited.add(real);
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (depth === 0) throw err;
      this.skip(dir, id, `cannot be read (${errorText(err)})`);
      return true;
    }
    const names = new Set(entries.map((e) => e.name));
    if (names.has(RUN_FILE)) {
      const result = readRunFolder(dir, id || this.rootName, names);
      if ('run' in result) this.runs.push(result.run);
      else this.skip(dir, id || this.rootName, result.reason);
      return true;
    }
    if (names.has(CHECKPOINT_FOLDER)) {
      this.skip(dir, id || this.rootName, checkpointReason(dir));
      return true;
    }
    const parts = RUN_PARTS.filter((name) => names.has(name));
    if (parts.includes(MODEL_FILE) || parts.includes(WEIGHTS_FILE)) {
      this.skip(dir, id || this.rootName, `half-written: no run.json (holds ${parts.join(', ')})`);
      return true;
    }
    if (this.recover(dir, id, entries)) entries = await fs.readdir(dir, { withFileTypes: true });
    const skippedBefore = new Set(this.skipped.map((s) => s.dir));
    let found = false;
    const files: string[] = [];
    for (const entry of [...entries].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))) {
      const child = path.join(dir, entry.name);
      const childId = id ? `${id}/${entry.name}` : entry.name;
      const isDir = entry.isDirectory() ||
        (entry.isSymbolicLink() && (await fs.stat(child).then((s) => s.isDirectory(), () => false)));
      if (entry.name.startsWith('.')) {
        const saving = parseSavingFolder(entry.name);
        if (saving && isDir) {
          if (!skippedBefore.has(child)) this.skip(child, childId, savingReason(dir, entry.name, saving.run, saving.movedAside));
          found = true;
        }
        continue;
      }
      if (!isDir) {
        files.push(entry.name);
        continue;
      }
      if (entry.name === 'node_modules') continue;
      const childEntries = await fs.readdir(child).catch(() => null);
      if (depth + 1 > this.maxDepth) {
        // Reported when it is a run (or its remains) itself; what lies deeper is not looked at.
        if (childEntries?.some((name) => name === RUN_FILE || name === MODEL_FILE)) {
          const levels = `${this.maxDepth} level${this.maxDepth === 1 ? '' : 's'}`;
          this.skip(child, childId, `not searched: more than ${levels} below the root (maxDepth)`);
          found = true;
        }
        continue;
      }
      if (childEntries !== null && childEntries.length === 0) {
        const reason = reservedReason(dir, entry.name, names);
        if (reason) {
          this.skip(child, childId, reason);
          found = true;
        }
        continue;
      }
      found = (await this.visit(child, childId, depth + 1)) || found;
    }
    if (!found && files.length > 0 && depth > 0) {
      const shown = files.slice(0, 3).join(', ') + (files.length > 3 ? `, … (${files.length} files)` : '');
      const what = parts.length > 0 ? `half-written: no run.json (holds ${shown})` : `not a run: no run.json (holds ${shown})`;
      this.skip(dir, id, what);
      return true;
    }
    return found;
  }
}

/**
 * Finds the saved runs under `root` (searched recursively, see the rules at
 * the top of this file) and the folders that look like runs but are not,
 * each with the reason; puts back the runs interrupted saves moved aside.
 * Reads run.json files, and the model.json of a run moved aside; never weights.
 * @throws Error when `root` does not exist or is not a folder.
 */
export async function listRuns(root = 'runs', options: ListRunsOptions = {}): Promise<RunList> {
  const { runs, skipped, recovered } = await scanRuns(root, options);
  return {
    recovered,
    runs: runs.map((run) => {
      const summary: RunSummary & Partial<Pick<RunDetails, 'history' | 'dataSource' | 'environment'>> = { ...run };
      delete summary.history;
      delete summary.dataSource;
      delete summary.environment;
      return summary;
    }),
    skipped,
  };
}

async function scanRuns(root: string, options: ListRunsOptions): Promise<RunList<RunDetails>> {
  const { maxDepth = 8 } = options;
  if (!Number.isInteger(maxDepth) || maxDepth < 0) {
    throw new Error(`maxDepth must be an integer >= 0, got ${maxDepth}`);
  }
  // The root may itself be a run folder that an interrupted save moved aside.
  const recovered: RecoveredRun[] = [];
  try {
    const from = recoverUnlessLocked(root);
    if (from !== undefined) recovered.push({ dir: root, id: path.basename(path.resolve(root)), from });
  } catch (err) {
    throw new Error(`runs folder ${root} cannot be read: ${(err as Error).message}`);
  }
  const stat = await fs.stat(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new Error(`runs folder ${root} does not exist`);
    throw new Error(`runs folder ${root} cannot be read (${errorText(err)})`);
  });
  if (!stat.isDirectory()) throw new Error(`${root} is not a folder`);
  const scan = new Scan(path.basename(path.resolve(root)), maxDepth);
  try {
    await scan.visit(root, '', 0);
  } catch (err) {
    throw new Error(`runs folder ${root} cannot be read (${errorText(err)})`);
  }
  return { runs: scan.runs.sort(byId), skipped: scan.skipped.sort(byId), recovered: [...recovered, ...scan.recovered].sort(byId) };
}

/**
 * The full records of runs, histories included (weights are never read):
 * every run under a root folder (as `listRuns` finds them; the skipped
 * folders are left out), or the given run folders (their id is the folder as given).
 * @throws Error when the root does not exist, or a given folder is not a run (with the reason).
 */
export async function loadRuns(dirsOrRoot: string | readonly string[] = 'runs',
    options: ListRunsOptions = {}): Promise<RunDetails[]> {
  if (typeof dirsOrRoot === 'string') return (await scanRuns(dirsOrRoot, options)).runs;
  const runs: RunDetails[] = [];
  for (const dir of dirsOrRoot) {
    recoverUnlessLocked(dir);
    const names = new Set(await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
      throw new Error(err.code === 'ENOENT' ? `${dir} does not exist` : `${dir} cannot be read (${errorText(err)})`);
    }));
    if (!names.has(RUN_FILE)) throw new Error(`${dir} is not a saved run: no run.json`);
    const result = readRunFolder(dir, dir, names);
    if ('reason' in result) throw new Error(`${dir} is not a saved run: ${result.reason}`);
    runs.push(result.run);
  }
  return runs;
}

// ---------------------------------------------------------------------------
// Settings

/** The settings of runs: the task, then the model's and training's config fields, in this order. */
export function settingNames(): string[] {
  return ['task', ...Object.keys(defaultCrnnConfig), ...Object.keys(defaultTrainConfig)];
}

/** The settings of a run by name: its task and config fields (see `settingNames`). */
export function runSettings(run: Pick<RunSummary, 'task' | 'crnnConfig' | 'trainConfig'>): Record<string, unknown> {
  return { task: run.task, ...run.crnnConfig, ...run.trainConfig };
}

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The names of the settings whose values are not the same in all `runs`, in `settingNames` order. */
export function differingSettings(runs: readonly Pick<RunSummary, 'task' | 'crnnConfig' | 'trainConfig'>[]): string[] {
  if (runs.length < 2) return [];
  const all = runs.map(runSettings);
  const names = [...new Set([...settingNames(), ...all.flatMap((s) => Object.keys(s))])];
  return names.filter((name) => all.some((s) => !sameValue(s[name], all[0][name])));
}

/**
 * What `CompareOptions.groupBy` may name besides the settings: `preset`, the
 * preset whose settings a run has (`presetOf`), `none` for a run of none.
 */
export const PRESET_GROUP = 'preset';

function checkSettingNames(what: string, names: readonly string[], extra: readonly string[] = []): void {
  const known = [...settingNames(), ...extra];
  for (const name of names) {
    if (!known.includes(name)) throw new Error(`${what}: unknown setting '${name}'; known settings: ${known.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------
// Grouping and comparing

/**
 * The runs that differ from `baseline` (default: the article's setup, task
 * DEFAULT_TASK) in `setting` at most, besides the seed and the settings in
 * `ignore` (e.g. 'engine'): one factor at a time, as a sweep with one
 * `--grid` trains it. Height, width and class count follow the data and task
 * and are never compared.
 */
export function varyingOnly<T extends RunSummary>(runs: readonly T[], setting: string,
    options: { baseline?: Record<string, unknown>; ignore?: readonly string[] } = {}): T[] {
  checkSettingNames('setting', [setting]);
  const baseline = options.baseline ?? { task: DEFAULT_TASK, ...defaultCrnnConfig, ...defaultTrainConfig };
  const free = new Set(['seed', 'height', 'width', 'numClasses', setting, ...(options.ignore ?? [])]);
  return runs.filter((run) => {
    const values = runSettings(run);
    return Object.keys(baseline).every((name) => free.has(name) || sameValue(values[name], baseline[name]));
  });
}

/**
 * One line per group of `comparison` against its `baseline` group (the one
 * whose label is `baselineLabel`, or the first): the difference of mean final
 * accuracy in points, its Welch 95% interval, and whether it is larger than
 * the seeds' spread explains.
 */
export function differenceLines(comparison: Comparison, baselineLabel?: string): string[] {
  const baseline = comparison.groups.find((g) => g.label === baselineLabel) ?? comparison.groups[0];
  if (!baseline?.finalAccuracy) return [];
  // Signed to two decimals; a difference that rounds to zero reads +0.00, not −0.00.
  const points = (x: number) => {
    const rounded = Math.abs(100 * x).toFixed(2);
    return `${x >= 0 || Number(rounded) === 0 ? '+' : '−'}${rounded}`;
  };
  return comparison.groups.filter((g) => g !== baseline && g.finalAccuracy).map((group) => {
    const d = meanDifference(baseline.finalAccuracy as SampleStats, group.finalAccuracy as SampleStats);
    const interval = d.ci95 ? ` (95% interval ${points(d.ci95[0])} … ${points(d.ci95[1])})` : '';
    const verdict = d.ci95 === null ? 'one seed: no interval'
      : d.beyondSeedSpread ? 'larger than the spread between seeds' : 'within the spread between seeds';
    return `${group.label} vs ${baseline.label}: ${points(d.difference)} points${interval}, ${verdict}`;
  });
}

// ---------------------------------------------------------------------------
// Comparing groups of runs

/** Runs that share every grouping setting: the same experiment over different seeds. */
export interface RunGroup<T extends RunSummary = RunSummary> {
  /** The settings that differ between the groups, as `name=value, …` ('all runs' when none do). */
  label: string;
  /** The group's values of the settings that differ between groups. */
  differing: Record<string, unknown>;
  /** The group's values of every grouping setting. */
  settings: Record<string, unknown>;
  runs: T[];
  /** The seeds of the runs, in run order. */
  seeds: number[];
  /** Over the runs with at least one evaluation (n may be less than runs.length). */
  finalAccuracy: SampleStats | null;
  finalLoss: SampleStats | null;
  bestAccuracy: SampleStats | null;
  /**
   * Over the runs that measured a digit probe: each run's per-digit accuracy
   * (the mean over its steps), and the product over its steps.
   */
  digitAccuracy: SampleStats | null;
  digitProduct: SampleStats | null;
  /** Means over the runs. */
  meanSteps: number;
  meanSeconds: number;
  /**
   * For each accuracy of MILESTONES: how many of the measured runs reached
   * it, and the means over those of the step and seconds at which they first
   * did (seconds over the runs that recorded them; null where none did).
   */
  milestones: { reached: number; meanStep: number | null; meanSeconds: number | null }[];
  /** The mean peak resident memory in MiB, over the runs that recorded it. */
  meanPeakRssMiB: number | null;
}

export interface CompareOptions {
  /**
   * Group by these settings only (default: every setting but `seed` and
   * `ignore`); `preset` groups by the preset a run was trained with.
   */
  groupBy?: readonly string[];
  /** Settings left out of the grouping besides `seed`, e.g. ['engine']. */
  ignore?: readonly string[];
  /** Order of the groups: by mean final accuracy, best first (default), or by their settings. */
  sort?: 'accuracy' | 'settings';
}

export interface Comparison<T extends RunSummary = RunSummary> {
  groups: RunGroup<T>[];
  /** The settings that differ between the groups (the columns of the table, the legend's terms). */
  settings: string[];
  /** What may make the comparison misleading: repeated seeds, runs that stopped early, runs without evaluations. */
  warnings: string[];
}

/**
 * Groups `runs` by their settings except the seed (see `CompareOptions`) and
 * describes each group: n, mean ± sample standard deviation and a 95%
 * Student t interval of the mean final accuracy over the seeds, the mean
 * best accuracy, steps and time. The interval is over seeds, on the fixed
 * evaluation set the runs share; with n = 1 there is none.
 * @throws Error for an unknown setting name in the options.
 */
export function compareRuns<T extends RunSummary>(runs: readonly T[], options: CompareOptions = {}): Comparison<T> {
  const { ignore = [], sort = 'accuracy' } = options;
  checkSettingNames('ignore', ignore);
  if (options.groupBy) checkSettingNames('groupBy', options.groupBy, [PRESET_GROUP]);
  const grouping = (options.groupBy ?? settingNames()).filter((name) =>
    (options.groupBy ? true : name !== 'seed') && !ignore.includes(name));
  const byPreset = grouping.includes(PRESET_GROUP);
  const keyed = (run: T): Record<string, unknown> => (byPreset
    ? { ...runSettings(run), [PRESET_GROUP]: presetOf(run.crnnConfig, run.trainConfig) ?? 'none' } : runSettings(run));
  const byKey = new Map<string, T[]>();
  for (const run of runs) {
    const settings = keyed(run);
    const key = JSON.stringify(grouping.map((name) => settings[name] ?? null));
    byKey.set(key, [...(byKey.get(key) ?? []), run]);
  }
  const members = [...byKey.values()].map((group) => [...group].sort(byId));
  const representatives = members.map((group) => group[0]);
  const differing = [...(byPreset && new Set(representatives.map((r) => keyed(r)[PRESET_GROUP])).size > 1
    ? [PRESET_GROUP] : []), ...differingSettings(representatives).filter((name) => grouping.includes(name))];
  const warnings: string[] = [];
  const groups = members.map((group): RunGroup<T> => {
    const settings = keyed(group[0]);
    const label = differing.length === 0 ? 'all runs'
      : differing.map((name) => `${name}=${formatSetting(settings[name])}`).join(', ');
    const measured = group.filter((run) => run.finalAccuracy !== null);
    const probed = group.flatMap((run) => (run.digitAccuracy === null ? [] : [run.digitAccuracy]));
    const seeds = group.map((run) => run.trainConfig.seed);
    const repeated = [...new Set(seeds.filter((seed, i) => seeds.indexOf(seed) !== i))];
    if (repeated.length > 0) {
      warnings.push(`${label}: seed ${repeated.join(', ')} occurs more than once; the interval assumes ` +
        'one run per seed');
    }
    for (const run of group) {
      if (run.finalAccuracy === null) warnings.push(`${label}: ${run.id} has no evaluation and is left out`);
      else if (run.steps < run.trainConfig.numSteps && run.endReason !== 'target-reached') {
        warnings.push(`${label}: ${run.id} ended ${run.endReason} at step ${run.steps} of ${run.trainConfig.numSteps}`);
      }
    }
    return {
      label,
      differing: Object.fromEntries(differing.map((name) => [name, settings[name]])),
      settings: Object.fromEntries(grouping.map((name) => [name, settings[name]])),
      runs: group,
      seeds,
      finalAccuracy: sampleStats(measured.map((run) => run.finalAccuracy as number)),
      finalLoss: sampleStats(measured.flatMap((run) => (run.finalLoss === null ? [] : [run.finalLoss]))),
      bestAccuracy: sampleStats(measured.map((run) => run.bestAccuracy as number)),
      digitAccuracy: sampleStats(probed.map((p) => p.reduce((a, b) => a + b, 0) / p.length)),
      digitProduct: sampleStats(probed.map(digitProduct)),
      meanSteps: group.reduce((s, run) => s + run.steps, 0) / group.length,
      meanSeconds: group.reduce((s, run) => s + run.elapsedSeconds, 0) / group.length,
      milestones: MILESTONES.map((_, k) => {
        const reached = measured.flatMap((run) => run.milestones[k] ?? []);
        const timed = reached.flatMap((m) => (m.seconds === null ? [] : [m.seconds]));
        return {
          reached: reached.length,
          meanStep: mean(reached.map((m) => m.step)),
          meanSeconds: mean(timed),
        };
      }),
      meanPeakRssMiB: mean(group.flatMap((run) => (run.peakRssMiB === null ? [] : [run.peakRssMiB]))),
    };
  });
  if (sort === 'accuracy') {
    groups.sort((a, b) => (b.finalAccuracy?.mean ?? -1) - (a.finalAccuracy?.mean ?? -1));
  } else {
    groups.sort((a, b) => a.label.localeCompare(b.label, 'en', { numeric: true }));
  }
  return { groups, settings: differing, warnings };
}
