/**
 * How a sweep's runs get trained: the seam between the sweep's bookkeeping
 * (lib/runs/sweep.ts and schedule.ts: which runs, their folders, what is
 * resumed) and what runs the trainer: processes on this machine (local.ts)
 * or tasks on a Ray cluster (ray.ts).
 *
 * An executor trains a run into its folder under the sweep's root and
 * leaves the trainer's output beside it, in the attempt's log (`<folder>.log`,
 * then `<folder>.attempt-2.log`, …); when the trainer saved nothing the
 * folder is absent. The sweep reads the result from the folder's run.json. It trains up to `slots` runs
 * at once, each with `threads` TensorFlow threads.
 */
import path from 'node:path';
import { shellCommand, type SweepRun } from '../sweep';

/** The project's root: this file is dist/lib/runs/executors/executor.js. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** The trainer's script, built: dist/bin/train.js. */
export const TRAINER = path.join(PROJECT_ROOT, 'dist', 'bin', 'train.js');

/** The first line of a run's log: the command that trained it. */
export function logHeader(command: string[]): string {
  return `$ ${shellCommand(command)}\n`;
}

/** How a trainer ended, with the last lines it wrote. */
export interface TrainResult {
  /** Its exit code; null when it did not exit by itself (killed, or never started). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Its last lines of output (at most TAIL_LINES). */
  tail: string[];
  /** The log of this attempt (`<folder>.log`, `<folder>.attempt-2.log`, …: see `openAttemptLog`), if one was written. */
  log?: string;
  /** Where it ran, when not on this machine: "node 10.0.0.5 (3a30a0df)". */
  where?: string;
  /** True when it never started: the sweep stopped while the run waited for a free node. */
  cancelled?: boolean;
}

/** What a running trainer reports while it trains. */
export interface TrainEvents {
  /** Its latest evaluation ("step 300: eval accuracy 91.20%"), or where it started. */
  status(text: string): void;
}

/** Trains a sweep's runs. */
export interface Executor {
  /** Runs trained at once. */
  readonly slots: number;
  /** TensorFlow threads of each run (both pools), recorded in its run.json. */
  readonly threads: number;
  /** Where and how the runs are trained, for the sweep's first line. */
  describe(): string;
  /**
   * Whether it trains on this machine, where a run's checkpoint is, so that
   * a run killed or stopped is resumed from it (`train --resume`); else such
   * a run is trained again.
   */
  readonly resumesCheckpoints?: boolean;
  /**
   * Trains `run` into `run.dir`, whose folder is new or cleared. Resolves
   * when the trainer has ended and its folder and log are in place; never
   * rejects.
   */
  train(run: SweepRun, events: TrainEvents): Promise<TrainResult>;
  /**
   * Passes a stop signal on: the running trainers stop after their step and
   * save what they trained; a second signal ends them without saving.
   */
  stop(signal: NodeJS.Signals): void;
  /** Why no more runs can be started (the cluster's driver ended), or undefined while they can. */
  readonly broken?: string;
  /** Ends what the executor started; call once every `train` has resolved. */
  close(): Promise<void>;
}

/** Lines of a trainer's output kept for the sweep's report. */
const TAIL_LINES = 20;

/**
 * Reads a trainer's output as it comes: keeps its last lines (for the report
 * of a failure) and passes its evaluations on to the progress line (display
 * only: the run's result is read from its run.json).
 */
export class TrainerOutput {
  readonly tail: string[] = [];
  /** The unfinished last line of each stream. */
  private readonly partial = new Map<string, string>();

  constructor(private readonly onStatus?: (text: string) => void) {}

  /** A chunk of one of its streams, which may end in the middle of a line. */
  write(chunk: string, stream = 'stdout'): void {
    const lines = ((this.partial.get(stream) ?? '') + chunk).split('\n');
    this.partial.set(stream, lines.pop() ?? '');
    for (const line of lines) this.line(line);
  }

  /** The output has ended: the last lines without a newline. */
  end(): void {
    for (const rest of this.partial.values()) this.line(rest);
    this.partial.clear();
  }

  /** One whole line. */
  line(line: string): void {
    if (!line.trim()) return;
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    const evaluation = /^step (\d+): eval loss [\d.]+, accuracy ([\d.]+%)/.exec(line);
    if (evaluation) this.onStatus?.(`step ${evaluation[1]}: eval accuracy ${evaluation[2]}`);
  }
}
