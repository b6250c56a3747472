#!/usr/bin/env node
/**
 * Sweeps: trains every combination of some settings' values with several
 * seeds, one trainer process (bin/train.js) per run, each writing its own run
 * folder under the sweep's root: one after another, `--jobs N` at once, or as
 * tasks on a Ray cluster (`--ray ADDRESS`; lib/runs/executors/).
 *
 *   npm run sweep -- --grid cell=simple,gru,lstm --grid sharedCnn=false,true --seeds 3
 *   npm run sweep -- --grid cell=gru,lstm --set numSteps=2000 --root runs/cells --jobs 2
 *   npm run sweep -- --grid cell=gru,lstm --set numSteps=2000 --root runs/cells --ray 10.0.0.5:6379
 *   npm run sweep -- --grid cell=gru,lstm --set numSteps=2000 --root runs/cells --print | parallel -j 4
 *
 * Given the same --root again, a sweep skips the runs already finished and
 * trains the rest; the output of each attempt to train a run goes to a log of
 * its own beside the run folder: `<run folder>.log`, then `.attempt-2.log`, …
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { allowedValues, formatSetting } from '../lib/config';
import {
  clearRunFolder, inspectRun, isTrainable, parseGridArgument, parseSetArgument, planSweep, shellCommand,
  stateForExecutor, sweepableSettings, trainerArgs, type RunState, type SweepRun, type SweepSpec,
} from '../lib/runs/sweep';
import { TASK_NAMES } from '../lib/data/tasks';
import { PRESET_NAMES } from '../lib/presets';
import { formatDuration } from '../lib/view/tables';
import { threadsPerJob } from '../lib/runs/cpu';
import { TRAINER, type Executor, type TrainResult } from '../lib/runs/executors/executor';
import { LocalExecutor } from '../lib/runs/executors/local';
import { RayExecutor } from '../lib/runs/executors/ray';
import { exitForSignal, ignoreClosedOutput, onStopSignals, percent, runMain, timestamp, type StopSignal } from './cli';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...previous ?? [], value];
}

function positiveInteger(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new InvalidArgumentError('Expected an integer >= 1.');
  return Number(text);
}

function seedList(text: string): number[] {
  const seeds = text.split(',').map((s) => s.trim());
  if (seeds.some((s) => !/^[+-]?\d+$/.test(s))) throw new InvalidArgumentError('Expected integers like 1,5,9.');
  return seeds.map(Number);
}

/** The settings a sweep accepts and their values, for --help. */
function settingsHelp(): string {
  const width = Math.max(...sweepableSettings.map((s) => s.name.length));
  const lines = sweepableSettings.map((s) =>
    `  ${s.name.padEnd(width)}  ${allowedValues(s)} (default: ${formatSetting(s.default)})`);
  return `\nSettings for --grid and --set (see train --help):\n${lines.join('\n')}\n\n` +
    'Runs go to <root>/<key=value,...>/seed-<n>, the output of each attempt to train one to a log of\n' +
    'its own: <folder>.log, then <folder>.attempt-2.log, ... Given the same --root, a sweep skips\n' +
    'finished runs, resumes runs killed or stopped early from their checkpoints (train --resume; on\n' +
    'this machine, not with --ray), and trains the rest: folders a killed run left without a checkpoint\n' +
    'are trained again.\n';
}

function buildProgram(): Command {
  return new Command()
    .name('sweep')
    .description('Train every combination of some settings\' values with several seeds: one run after another, ' +
      'several at once (--jobs), or on a Ray cluster (--ray).')
    .option('--grid <key=values>', 'a setting and its values, comma-separated (semicolons for filters: ' +
      'filters=8,8;16,16); repeat for more settings', collect)
    .option('--set <key=value>', 'a setting for every run, e.g. numSteps=2000; repeatable', collect)
    .addOption(new Option('--seeds <n>', 'train seeds 1..n (default: 1)').argParser(positiveInteger).conflicts('seedList'))
    .addOption(new Option('--seed-list <list>', 'train these seeds, e.g. 1,5,9').argParser(seedList))
    .option('--root <dir>', 'folder of the sweep\'s runs; give an earlier sweep\'s to resume it ' +
      '(default runs/sweep-<timestamp>)')
    .addOption(new Option('--task <name>', 'the trainer\'s --task').choices([...TASK_NAMES]))
    .option('--data <source>', 'the trainer\'s --data')
    .addOption(new Option('--preset <name>', 'the trainer\'s --preset: its values for every run, under --grid and --set')
      .choices([...PRESET_NAMES]))
    .addOption(new Option('--jobs <n>', 'train n runs at once, the cores split between them (default 1; ' +
      'with --ray: as many as the cluster\'s CPUs hold)').argParser(positiveInteger))
    .addOption(new Option('--threads <n>', 'TensorFlow threads of each run, and with --ray the CPUs its task ' +
      'declares (default: the cores divided by --jobs; with --ray 1)').argParser(positiveInteger))
    .option('--ray <address>', 'train each run as a task on the Ray cluster at this address (HOST:PORT of its ' +
      'head, or auto); the folders come back here (set up with npm run ray:setup)')
    .addOption(new Option('--print', 'print the train command of each run not finished yet, one per line, and do nothing else ' +
      '(for GNU parallel, a Slurm array, ...)').conflicts(['jobs', 'threads', 'ray']))
    .addHelpText('after', settingsHelp())
    .allowExcessArguments(false)
    .showHelpAfterError('(run with --help for the list of options)');
}

interface SweepOptions {
  grid?: string[]; set?: string[]; seeds?: number; seedList?: number[]; root?: string; task?: string;
  data?: string; preset?: string; print?: boolean; jobs?: number; threads?: number; ray?: string;
}

/**
 * The sweep's progress: a bar on a terminal (cli-progress), plain lines
 * otherwise. Messages go above the bar.
 */
class Progress {
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
   * @param toTrain the runs left to train.
   * @param slots the runs trained at once.
   */
  constructor(private readonly total: number, private toTrain: number, private readonly slots: number) {
    if (process.stderr.isTTY === true) {
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
      this.log(`[${index + 1}/${this.total}] ${run.name}: training (elapsed ${payload.timeUsed}, ETA ${payload.timeLeft})`);
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

/** What a folder holds, as a message, for the states the sweep does not train over. */
function stateMessage(state: RunState): string {
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

/** Prints the commands of the runs to train; notes the others on stderr. */
function printCommands(spec: SweepSpec, runs: SweepRun[]): void {
  const relative = path.relative(process.cwd(), TRAINER);
  const trainer = relative.startsWith('..') ? TRAINER : relative;
  for (const run of runs) {
    const state = inspectRun(spec, run);
    const empty = state.kind === 'partial' && fs.readdirSync(run.dir).length === 0;
    if (state.kind === 'new' || empty || state.kind === 'resumable') {
      console.log(shellCommand(['node', trainer, ...trainerArgs(run, state)]));
    } else if (state.kind !== 'finished') {
      console.error(`left out ${run.name}: ${stateMessage(state).replace(/; training it again$/, '')}` +
        (state.kind === 'stopped' || state.kind === 'partial'
          ? ' (a sweep without --print trains it again; or delete the folder)' : ''));
    }
  }
}

interface Failure { run: SweepRun; why: string; log?: string }

/** The executor the options ask for: this machine's cores (--jobs, --threads) or a Ray cluster (--ray). */
async function startExecutor(opts: SweepOptions): Promise<Executor> {
  if (opts.ray !== undefined) {
    console.error(`connecting to the Ray cluster at ${opts.ray}`);
    return RayExecutor.connect({ address: opts.ray, threads: opts.threads ?? 1, jobs: opts.jobs });
  }
  const cores = os.availableParallelism();
  const jobs = opts.jobs ?? 1;
  return new LocalExecutor(jobs, opts.threads ?? threadsPerJob(cores, jobs), cores);
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.parse(argv);
  const opts = program.opts<SweepOptions>();
  const fail = (message: string): never => program.error(`error: ${message}`);
  ignoreClosedOutput();

  let spec: SweepSpec;
  let runs: SweepRun[];
  try {
    // Each argument's error names the argument it is about.
    const each = <T>(flag: string, texts: string[] | undefined, parse: (text: string) => T): T[] =>
      (texts ?? []).map((text) => {
        try {
          return parse(text);
        } catch (err) {
          throw new Error(`${flag} ${text}: ${(err as Error).message}`);
        }
      });
    spec = {
      grid: each('--grid', opts.grid, parseGridArgument),
      fixed: each('--set', opts.set, parseSetArgument),
      seeds: opts.seedList ?? Array.from({ length: opts.seeds ?? 1 }, (_, i) => i + 1),
      root: opts.root ?? path.join('runs', `sweep-${timestamp()}`),
      task: opts.task,
      data: opts.data,
      preset: opts.preset,
    };
    runs = planSweep(spec);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (opts.print) return printCommands(spec, runs);

  let executor: Executor;
  try {
    executor = await startExecutor(opts);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (executor.broken) {
    await executor.close();
    return fail(executor.broken);
  }

  const states = runs.map((run) => inspectRun(spec, run));
  const finishedBefore = states.filter((s) => s.kind === 'finished').length;
  const combos = runs.length / spec.seeds.length;
  console.error(`sweep of ${runs.length} runs (${combos} combination${combos === 1 ? '' : 's'} × ` +
    `${spec.seeds.length} seed${spec.seeds.length === 1 ? '' : 's'}) in ${spec.root}` +
    (finishedBefore ? `, ${finishedBefore} finished earlier` : '') +
    `; ${executor.describe()}; to resume, run it again with --root ${spec.root}`);

  const toTrain = states.filter(isTrainable).length;
  const progress = new Progress(runs.length, toTrain, executor.slots);
  let stopSignal: StopSignal | undefined;
  const onSignal = (signal: StopSignal) => {
    const one = executor.slots === 1;
    progress.log(stopSignal
      ? `${signal} again: the running ${one ? 'training quits' : 'trainings quit'} without saving`
      : `${signal}: stopping the running ${one ? 'training (it saves what it' : 'trainings (they save what they'} ` +
        'trained), then the sweep');
    stopSignal ??= signal;
    executor.stop(signal);
  };
  // Stop signals are forwarded to the running trainers, which stop after their step and save.
  onStopSignals(onSignal);

  const started = Date.now();
  const failures: Failure[] = [];
  const busy: SweepRun[] = [];
  let trained = 0;
  let stopped = 0;
  let skipped = 0;
  /** Counts and reports a run that has ended. */
  const settle = (run: SweepRun, label: string, result: TrainResult) => {
    if (result.cancelled) return; // never started: left for the next sweep
    const where = result.where ? ` on ${result.where}` : '';
    if (result.code === 0) {
      // What the trainer saved, from its run.json. Stopped by a signal, it saves
      // what it trained with its checkpoint, and a resumed sweep goes on from there.
      const saved = inspectRun(spec, run);
      if (saved.kind === 'finished') {
        trained++;
        const accuracy = saved.finalAccuracy === null ? '' : `, final accuracy ${percent(saved.finalAccuracy)}`;
        progress.log(`${label}: done${where}${accuracy}`);
      } else if (saved.kind === 'stopped' || (saved.kind === 'resumable' && saved.stopped)) {
        stopped++;
        progress.log(`${label}: stopped early and saved${where} (${saved.kind === 'stopped' ? saved.steps : saved.step} steps)`);
      } else {
        const why = saved.kind === 'new' || saved.kind === 'partial' ? 'the trainer exited 0 but saved no run.json'
          : `the trainer exited 0, but its folder is not a finished run of this sweep: ${stateMessage(saved)}`;
        failures.push({ run, why, log: result.log });
        progress.log(`${label}: failed${where}: ${why}`);
      }
    } else {
      const how = result.signal ? `killed by ${result.signal}` : `exit ${result.code ?? 'error'}`;
      const last = result.tail.filter((l) => !l.startsWith('(run with --help')).slice(-1)[0] ?? '';
      failures.push({ run, why: `${how}: ${last}`, log: result.log });
      progress.log(`${label}: failed${where} (${how}): ${last}`);
    }
  };
  const running = new Set<Promise<void>>();
  for (const [index, run] of runs.entries()) {
    // A free slot first: a run's folder is looked at just before it starts.
    while (running.size >= executor.slots) await Promise.race(running);
    if (stopSignal || executor.broken) break;
    const label = `[${index + 1}/${runs.length}] ${run.name}`;
    const state = stateForExecutor(inspectRun(spec, run), executor.resumesCheckpoints === true);
    if (state.kind !== 'new') progress.log(`${label}: ${stateMessage(state)}`);
    if (state.kind === 'finished') skipped++;
    if (state.kind === 'busy') busy.push(run);
    if (state.kind === 'mismatch' || state.kind === 'foreign') failures.push({ run, why: stateMessage(state) });
    if (state.kind === 'stopped' || state.kind === 'partial') clearRunFolder(run.dir);
    if (!isTrainable(state)) {
      progress.advance();
      continue;
    }
    progress.start(index, run);
    const training: Promise<void> = executor.train({ ...run, args: trainerArgs(run, state) },
      { status: (text) => progress.status(run, text) })
      .then((result) => {
        progress.end(run, !result.cancelled);
        if (!result.cancelled) progress.advance();
        settle(run, label, result);
      })
      .finally(() => running.delete(training));
    running.add(training);
  }
  await Promise.all(running);
  await executor.close();
  progress.stop();

  const parts = [`${trained} trained`, `${skipped} finished earlier`];
  if (stopped) parts.push(`${stopped} stopped early`);
  if (failures.length) parts.push(`${failures.length} failed`);
  if (busy.length) parts.push(`${busy.length} being trained elsewhere`);
  const left = runs.length - trained - stopped - skipped - failures.length - busy.length;
  if (left) parts.push(`${left} not started`);
  console.error(`sweep ${spec.root}: ${runs.length} runs: ${parts.join(', ')}; ${formatDuration((Date.now() - started) / 1000)}`);
  for (const f of failures) console.error(`  failed ${f.run.name}: ${f.why}${f.log ? ` (log ${f.log})` : ''}`);
  if (executor.broken) console.error(`stopped: ${executor.broken}; to resume, run it again with --root ${spec.root}`);
  if (stopSignal) {
    console.error(`stopped by ${stopSignal}; to resume, run it again with --root ${spec.root}`);
    exitForSignal(stopSignal);
  }
  if (failures.length || busy.length || executor.broken) process.exit(1);
}

runMain(main);
