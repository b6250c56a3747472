/**
 * What the sweep (bin/sweep.ts) says, all on stderr: its first line, each
 * run's folder as the sweep comes to it and how its training ended, a
 * progress bar on a terminal (plain lines otherwise), the stop signals, and
 * the summary; with --print, the runs it leaves out. The lines are plain
 * functions of what they report; `sweepConsole` wires them and the bar to
 * `runSweep`'s events. The UI lives here, not in lib/runs/.
 */
import cliProgress from 'cli-progress';
import { stateMessage, type RunOutcome, type SweepEvents, type SweepSummary } from '../lib/runs/schedule';
import { isTrainable, type RunState, type SweepRun, type SweepSpec } from '../lib/runs/sweep';
import { formatDuration } from '../lib/view/text';
import { percent, type StopSignal } from './cli';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `[2/12] cell=gru/seed-1`: a run as the sweep's lines name it, `index` from 0. */
export function runLabel(index: number, total: number, run: SweepRun): string {
  return `[${index + 1}/${total}] ${run.name}`;
}

/** The first line: the plan, where its runs go, how they are trained (`executor`: its `describe()`), how to resume. */
export function headerLine(spec: SweepSpec, total: number, finishedEarlier: number, executor: string): string {
  const combinations = total / spec.seeds.length;
  return `sweep of ${total} runs (${plural(combinations, 'combination')} × ${plural(spec.seeds.length, 'seed')}) ` +
    `in ${spec.root}${finishedEarlier ? `, ${finishedEarlier} finished earlier` : ''}; ${executor}; ` +
    `to resume, run it again with --root ${spec.root}`;
}

/** A run's folder as the sweep found it before its turn; undefined for a new one, which needs no word. */
export function foundLine(label: string, state: RunState): string | undefined {
  return state.kind === 'new' ? undefined : `${label}: ${stateMessage(state)}`;
}

/** How a run's training ended; undefined for a run cancelled before it started. */
export function outcomeLine(label: string, outcome: RunOutcome): string | undefined {
  if (outcome.kind === 'cancelled') return undefined;
  const where = outcome.where ? ` on ${outcome.where}` : '';
  switch (outcome.kind) {
    case 'done': {
      const accuracy = outcome.finalAccuracy === null ? '' : `, final accuracy ${percent(outcome.finalAccuracy)}`;
      return `${label}: done${where}${accuracy}`;
    }
    case 'stopped': return `${label}: stopped early and saved${where} (${outcome.steps} steps)`;
    case 'failed': {
      const { exit, lastLine, why } = outcome.failure;
      return exit === undefined ? `${label}: failed${where}: ${why}` : `${label}: failed${where} (${exit}): ${lastLine}`;
    }
  }
}

/** What a stop signal does: the first stops the running trainings, which save; `again`, they quit without saving. */
export function stopLine(signal: StopSignal, again: boolean, slots: number): string {
  const one = slots === 1;
  return again
    ? `${signal} again: the running ${one ? 'training quits' : 'trainings quit'} without saving`
    : `${signal}: stopping the running ${one ? 'training (it saves what it' : 'trainings (they save what they'} ` +
      'trained), then the sweep';
}

/**
 * The sweep's last lines: what became of its runs and how long it took, each
 * failure with its log, and why it stopped, if it did: its executor broke
 * (`broken`) or a stop signal came.
 */
export function summaryLines(
  spec: SweepSpec, summary: SweepSummary, seconds: number, ended: { broken?: string; stopSignal?: StopSignal } = {},
): string[] {
  const { total, trained, skipped, stopped, failures, busy, notStarted } = summary;
  const parts = [`${trained} trained`, `${skipped} finished earlier`];
  if (stopped) parts.push(`${stopped} stopped early`);
  if (failures.length) parts.push(`${failures.length} failed`);
  if (busy.length) parts.push(`${busy.length} being trained elsewhere`);
  if (notStarted) parts.push(`${notStarted} not started`);
  const resume = `to resume, run it again with --root ${spec.root}`;
  return [
    `sweep ${spec.root}: ${total} runs: ${parts.join(', ')}; ${formatDuration(seconds)}`,
    ...failures.map((f) => `  failed ${f.run.name}: ${f.why}${f.log ? ` (log ${f.log})` : ''}`),
    ...(ended.broken ? [`stopped: ${ended.broken}; ${resume}`] : []),
    ...(ended.stopSignal ? [`stopped by ${ended.stopSignal}; ${resume}`] : []),
  ];
}

/** --print's note for a run it has no command for, other than a finished one. */
export function leftOutLine(run: SweepRun, state: RunState): string {
  return `left out ${run.name}: ${stateMessage(state).replace(/; training it again$/, '')}` +
    (state.kind === 'stopped' || state.kind === 'partial' ? ' (a sweep without --print trains it again; or delete the folder)' : '');
}

/**
 * The sweep's progress on stderr: a bar (cli-progress), or a plain line as
 * each run starts. Messages go above the bar.
 */
export class SweepProgress {
  private readonly bars?: cliProgress.MultiBar;
  private bar?: cliProgress.SingleBar;
  private ticker?: NodeJS.Timeout;
  private readonly started = Date.now();
  /** The runs training now, by name, with their start times. */
  private readonly running = new Map<string, number>();
  private readonly durations: number[] = [];
  /** Runs dealt with, skipped ones included. */
  private done = 0;

  /**
   * @param total the runs of the sweep.
   * @param toTrain the runs left to train.
   * @param slots the runs trained at once.
   * @param bar a progress bar (on a terminal), else plain lines.
   */
  constructor(private readonly total: number, private toTrain: number, private readonly slots: number, bar: boolean) {
    if (bar) {
      this.bars = new cliProgress.MultiBar({
        // Not {eta} nor {duration}: cli-progress fills those itself, from the bar's value.
        format: 'runs {value}/{total} |{bar}| {name} | {status} | elapsed {timeUsed} | ETA {timeLeft}',
        barsize: 20, hideCursor: true, stream: process.stderr,
      }, cliProgress.Presets.shades_classic);
    }
  }

  /**
   * The estimated time left: the mean duration of the runs trained so far
   * times those left, less what the running ones have done, shared by the
   * runs trained at once.
   */
  private eta(): string {
    if (this.durations.length === 0) return '-';
    const mean = this.durations.reduce((a, b) => a + b, 0) / this.durations.length;
    const now = Date.now();
    const underWay = [...this.running.values()].reduce((sum, start) => sum + Math.min(mean, now - start), 0);
    const atOnce = Math.max(1, Math.min(this.slots, this.toTrain));
    return formatDuration(Math.max(0, mean * this.toTrain - underWay) / atOnce / 1000);
  }

  private times() {
    return { timeUsed: formatDuration((Date.now() - this.started) / 1000), timeLeft: this.eta() };
  }

  /** The running runs, for the bar: one name, or the first and how many more. */
  private names(): string {
    const names = [...this.running.keys()];
    return names.length <= 1 ? names[0] ?? '-' : `${names[0]} and ${names.length - 1} more`;
  }

  log(line: string): void {
    if (this.bars) this.bars.log(`${line}\n`);
    else console.error(line);
  }

  /** Run `index` (from 0) starts training. */
  start(index: number, run: SweepRun): void {
    this.running.set(run.name, Date.now());
    const payload = { name: this.names(), status: 'starting', ...this.times() };
    if (!this.bars) {
      this.log(`${runLabel(index, this.total, run)}: training (elapsed ${payload.timeUsed}, ETA ${payload.timeLeft})`);
      return;
    }
    if (!this.bar) {
      this.bar = this.bars.create(this.total, this.done, payload);
      this.ticker = setInterval(() => this.bar?.update(this.times()), 1000);
    } else {
      this.bar.update(payload);
    }
  }

  /** What a running trainer reported last ("step 300: eval accuracy 91.20%"). */
  status(run: SweepRun, text: string): void {
    this.bar?.update({ status: this.running.size > 1 ? `${run.name}: ${text}` : text });
  }

  /** `run` has ended: trained or failed, or (`trained` false) cancelled before it started. */
  end(run: SweepRun, trained = true): void {
    const start = this.running.get(run.name);
    this.running.delete(run.name);
    if (start !== undefined && trained) this.durations.push(Date.now() - start);
    this.toTrain = Math.max(0, this.toTrain - 1);
    this.bar?.update({ name: this.names() });
  }

  /** One more run of the sweep is dealt with (trained, failed or skipped). */
  advance(): void {
    this.done++;
    this.bar?.update(this.done, this.times());
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    // A redraw first: MultiBar writes the lines logged since the last one only when it redraws.
    this.bars?.update();
    this.bars?.stop();
  }
}

/** `runSweep`'s events as the sweep's lines and progress, for a sweep of `total` runs. */
export function sweepConsole(progress: SweepProgress, total: number): SweepEvents {
  const say = (line: string | undefined) => {
    if (line !== undefined) progress.log(line);
  };
  return {
    found: (index, run, state) => {
      say(foundLine(runLabel(index, total, run), state));
      if (!isTrainable(state)) progress.advance();
    },
    started: (index, run) => progress.start(index, run),
    status: (_index, run, text) => progress.status(run, text),
    ended: (index, run, outcome) => {
      const started = outcome.kind !== 'cancelled';
      progress.end(run, started);
      if (started) progress.advance();
      say(outcomeLine(runLabel(index, total, run), outcome));
    },
  };
}
