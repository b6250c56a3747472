/**
 * Running a sweep: each run's folder looked at just before it would start,
 * the runs to train (new, half-written, stopped, or resumed from their
 * checkpoint) handed to an executor (lib/runs/executors/) as its slots free
 * up, the others skipped or reported, and the result of each trained run
 * read back from the run.json it saved.
 *
 * What happens is told through `SweepEvents`, as data: the wording and the
 * progress bar are the caller's (bin/sweep-console.ts).
 */
import * as fs from 'node:fs';
import {
  clearRunFolder, inspectRun, isTrainable, stateForExecutor, trainerArgs, type RunState, type SweepRun, type SweepSpec,
} from './sweep';
import type { Executor, TrainResult } from './executors/executor';

/** What a folder holds, as a phrase, for the states the sweep does not simply train ('new' is just "new"). */
export function stateMessage(state: RunState): string {
  switch (state.kind) {
    case 'finished': return `finished earlier (${state.endReason}), skipped`;
    case 'busy': return `being trained by process ${state.pid}, skipped`;
    case 'mismatch': return `holds a run with other settings (${state.differences.join('; ')}); not touched, ` +
      'choose another --root';
    case 'foreign': return `${state.reason}; not touched`;
    case 'stopped': return `was stopped early (${state.steps} steps); training it again`;
    case 'resumable': return `was ${state.stopped ? 'stopped early' : 'killed'} after step ${state.step}; ` +
      'resuming it from its checkpoint';
    case 'partial': return 'was left half-written by a killed run; training it again';
    case 'new': return 'new';
  }
}

/** A run the sweep could not train, or whose folder it must not touch. */
export interface SweepFailure {
  run: SweepRun;
  /** Why, in a phrase: "exit 1: error: …", "the trainer exited 0 but saved no run.json", the folder's state. */
  why: string;
  /** How the trainer ended when it did not exit 0 ("exit 1", "killed by SIGKILL"); `why` then adds its last line. */
  exit?: string;
  /** Its last line of output, with `exit`. */
  lastLine?: string;
  /** The log of the attempt. */
  log?: string;
}

/** How a run handed to the executor ended. */
export type RunOutcome =
  /** It saved a finished run, with its accuracy at the last evaluation (null without one). */
  | { kind: 'done'; where?: string; finalAccuracy: number | null }
  /** A stop signal ended it early; it saved what it trained (with its checkpoint, for the next sweep to resume). */
  | { kind: 'stopped'; where?: string; steps: number }
  | { kind: 'failed'; where?: string; failure: SweepFailure }
  /** It never started (the sweep stopped while it waited for a node): left for the next sweep. */
  | { kind: 'cancelled' };

/**
 * What a sweep tells while it runs. `index` is the run's place in the plan,
 * from 0. Every run is `found`; a trainable one then `started` and, once its
 * trainer has ended, `ended`.
 */
export interface SweepEvents {
  /** The run's folder as the sweep found it just before its turn, as the executor will train it. */
  found?(index: number, run: SweepRun, state: RunState): void;
  started?(index: number, run: SweepRun): void;
  /** What its trainer reported last ("step 300: eval accuracy 91.20%", "started on node …"). */
  status?(index: number, run: SweepRun, text: string): void;
  ended?(index: number, run: SweepRun, outcome: RunOutcome): void;
}

/** What a sweep did: each run of the plan is counted once, in one of the counts or lists. */
export interface SweepSummary {
  /** Runs in the plan. */
  total: number;
  trained: number;
  /** Finished by an earlier sweep. */
  skipped: number;
  /** Stopped early by a stop signal, and saved. */
  stopped: number;
  /** Folders not touched, as they were found, and runs that failed, as they ended. */
  failures: SweepFailure[];
  /** Being trained by another process. */
  busy: SweepRun[];
  /** Left for the next sweep: the sweep stopped, or its executor broke, before their turn. */
  notStarted: number;
}

/** How many runs of the plan are finished and how many are left to train, their folders as they are now. */
export function surveyRuns(spec: SweepSpec, runs: SweepRun[]): { finished: number; toTrain: number } {
  const states = runs.map((run) => inspectRun(spec, run));
  return { finished: states.filter((s) => s.kind === 'finished').length, toTrain: states.filter(isTrainable).length };
}

/** A run of `commandPlan`: the trainer's arguments, or the state that leaves it out. */
export type PlannedCommand = { run: SweepRun; args: string[] } | { run: SweepRun; leftOut: RunState };

/**
 * The runs a scheduler of its own (GNU parallel, a Slurm array) can train
 * from a printed command, with the trainer's arguments, and those left out,
 * with their state. A finished run is neither. A stopped or half-written run
 * is left out (an empty folder aside): clearing its folder is the sweep's.
 */
export function commandPlan(spec: SweepSpec, runs: SweepRun[]): PlannedCommand[] {
  return runs.flatMap((run): PlannedCommand[] => {
    const state = inspectRun(spec, run);
    const empty = state.kind === 'partial' && fs.readdirSync(run.dir).length === 0;
    if (state.kind === 'new' || state.kind === 'resumable' || empty) {
      return [{ run, args: trainerArgs(run, state) }];
    }
    return state.kind === 'finished' ? [] : [{ run, leftOut: state }];
  });
}

/**
 * What the trainer of `run` left, read from its folder: a finished run, a
 * run stopped early that saved what it trained (with its checkpoint, for the
 * next sweep to resume), or a failure.
 */
function outcomeOf(spec: SweepSpec, run: SweepRun, result: TrainResult): RunOutcome {
  if (result.cancelled) return { kind: 'cancelled' };
  const where = result.where === undefined ? {} : { where: result.where };
  if (result.code !== 0) {
    const exit = result.signal ? `killed by ${result.signal}` : `exit ${result.code ?? 'error'}`;
    // The last line that says something: not commander's pointer to --help.
    const lastLine = result.tail.filter((l) => !l.startsWith('(run with --help')).slice(-1)[0] ?? '';
    return { kind: 'failed', ...where, failure: { run, why: `${exit}: ${lastLine}`, exit, lastLine, log: result.log } };
  }
  const saved = inspectRun(spec, run);
  if (saved.kind === 'finished') return { kind: 'done', ...where, finalAccuracy: saved.finalAccuracy };
  if (saved.kind === 'stopped') return { kind: 'stopped', ...where, steps: saved.steps };
  if (saved.kind === 'resumable' && saved.stopped) return { kind: 'stopped', ...where, steps: saved.step };
  const why = saved.kind === 'new' || saved.kind === 'partial' ? 'the trainer exited 0 but saved no run.json'
    : `the trainer exited 0, but its folder is not a finished run of this sweep: ${stateMessage(saved)}`;
  return { kind: 'failed', ...where, failure: { run, why, log: result.log } };
}

/**
 * Trains the runs of `spec` (its plan: `planSweep`) that their folders say
 * are left, in the plan's order, up to `executor.slots` at once: a finished
 * run is skipped, a busy one left to the process training it, a folder of
 * other settings or not a run's reported and not touched, a stopped or
 * half-written one cleared and trained again, and a run with a checkpoint
 * resumed from it where the executor can (`stateForExecutor`). Each folder is
 * looked at when a slot is free for it, so that runs other sweeps finish
 * meanwhile are skipped.
 *
 * Stopping: abort `signal` and pass the signal on to the executor
 * (`executor.stop`), which stops the running trainers; no more runs start,
 * and the call resolves once the running ones have ended. It also stops
 * starting runs when the executor breaks (`executor.broken`). The caller
 * closes the executor afterwards.
 */
export async function runSweep(
  spec: SweepSpec, runs: SweepRun[], executor: Executor, events: SweepEvents = {}, signal?: AbortSignal,
): Promise<SweepSummary> {
  const summary: SweepSummary = { total: runs.length, trained: 0, skipped: 0, stopped: 0, failures: [], busy: [], notStarted: 0 };
  const running = new Set<Promise<void>>();
  for (const [index, run] of runs.entries()) {
    // A free slot first: a run's folder is looked at just before it starts.
    while (running.size >= executor.slots) await Promise.race(running);
    if (signal?.aborted || executor.broken) break;
    const state = stateForExecutor(inspectRun(spec, run), executor.resumesCheckpoints === true);
    events.found?.(index, run, state);
    if (state.kind === 'finished') summary.skipped++;
    if (state.kind === 'busy') summary.busy.push(run);
    if (state.kind === 'mismatch' || state.kind === 'foreign') summary.failures.push({ run, why: stateMessage(state) });
    if (!isTrainable(state)) continue;
    if (state.kind === 'stopped' || state.kind === 'partial') clearRunFolder(run.dir);
    events.started?.(index, run);
    const training: Promise<void> = executor.train({ ...run, args: trainerArgs(run, state) },
      { status: (text) => events.status?.(index, run, text) })
      .then((result) => {
        const outcome = outcomeOf(spec, run, result);
        if (outcome.kind === 'done') summary.trained++;
        if (outcome.kind === 'stopped') summary.stopped++;
        if (outcome.kind === 'failed') summary.failures.push(outcome.failure);
        events.ended?.(index, run, outcome);
      })
      .finally(() => running.delete(training));
    running.add(training);
  }
  await Promise.all(running);
  summary.notStarted = runs.length - summary.trained - summary.stopped - summary.skipped - summary.failures.length -
    summary.busy.length;
  return summary;
}
