#!/usr/bin/env node
/**
 * Sweeps: trains every combination of some settings' values with several
 * seeds, one trainer process (bin/train.js) after another, each writing its
 * own run folder under the sweep's root.
 *
 *   npm run sweep -- --grid cell=simple,gru,lstm --grid sharedCnn=false,true --seeds 3
 *   npm run sweep -- --grid cell=gru,lstm --set numSteps=2000 --root runs/cells --print | parallel -j 4
 *
 * Given the same --root again, a sweep skips the runs already finished and
 * trains the rest; the output of each attempt to train a run goes to a log of
 * its own beside the run folder: `<run folder>.log`, then `.attempt-2.log`, …
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { allowedValues, formatSetting } from '../lib/config';
import {
  clearRunFolder, inspectRun, openAttemptLog, parseGridArgument, parseSetArgument, planSweep, shellCommand, sweepableSettings,
  type RunState, type SweepRun, type SweepSpec,
} from '../lib/runs/sweep';
import { TASK_NAMES } from '../lib/data/tasks';
import { PRESET_NAMES } from '../lib/presets';
import { formatDuration } from '../lib/runs/registry';
import { exitForSignal, ignoreClosedOutput, onStopSignals, runMain, timestamp, type StopSignal } from './cli';

const TRAINER = path.join(__dirname, 'train.js');

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
    'finished runs and trains the rest: runs stopped early, and folders a killed run left half-written,\n' +
    'are trained again.\n';
}

function buildProgram(): Command {
  return new Command()
    .name('sweep')
    .description('Train every combination of some settings\' values with several seeds, one run after another.')
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
    .option('--print', 'print the train command of each run not finished yet, one per line, and do nothing else ' +
      '(for GNU parallel, a Slurm array, ...)')
    .addHelpText('after', settingsHelp())
    .allowExcessArguments(false)
    .showHelpAfterError('(run with --help for the list of options)');
}

interface SweepOptions {
  grid?: string[]; set?: string[]; seeds?: number; seedList?: number[]; root?: string; task?: string;
  data?: string; preset?: string; print?: boolean;
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
  private runStarted = 0;
  private readonly durations: number[] = [];

  constructor(private readonly total: number, private toTrain: number) {
    if (process.stderr.isTTY === true) {
      this.bars = new cliProgress.MultiBar({
        // Not {eta} nor {duration}: cli-progress fills those itself, from the bar's value.
        format: 'run {run}/{total} |{bar}| {name} | {status} | elapsed {timeUsed} | ETA {timeLeft}',
        barsize: 20, hideCursor: true, stream: process.stderr,
      }, cliProgress.Presets.shades_classic);
    }
  }

  /** The estimated time left: the mean duration of the runs trained so far, times those left. */
  private eta(): string {
    if (this.durations.length === 0) return '-';
    const mean = this.durations.reduce((a, b) => a + b, 0) / this.durations.length;
    const current = this.runStarted ? Date.now() - this.runStarted : 0;
    return formatDuration(Math.max(0, mean * this.toTrain - current) / 1000);
  }

  private times() {
    return { timeUsed: formatDuration((Date.now() - this.started) / 1000), timeLeft: this.eta() };
  }

  log(line: string): void {
    if (this.bars) this.bars.log(`${line}\n`);
    else console.error(line);
  }

  /** Run `index` (from 0) starts training. */
  start(index: number, run: SweepRun): void {
    this.runStarted = Date.now();
    const payload = { run: index + 1, name: run.name, status: 'starting', ...this.times() };
    if (!this.bars) {
      this.log(`[${index + 1}/${this.total}] ${run.name}: training (elapsed ${payload.timeUsed}, ETA ${payload.timeLeft})`);
      return;
    }
    if (!this.bar) {
      this.bar = this.bars.create(this.total, index, payload);
      this.ticker = setInterval(() => this.bar?.update(this.times()), 1000);
    } else {
      this.bar.update(index, payload);
    }
  }

  /** What the running trainer reported last ("step 300: accuracy 91.20%"). */
  status(text: string): void {
    this.bar?.update({ status: text });
  }

  /** The run that started last has ended (trained or failed). */
  end(): void {
    this.durations.push(Date.now() - this.runStarted);
    this.runStarted = 0;
    this.toTrain = Math.max(0, this.toTrain - 1);
  }

  /** `done` runs of the sweep are dealt with, skipped ones included. */
  advance(done: number): void {
    this.bar?.update(done, this.times());
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.bars?.stop();
  }
}

/** How a trainer process ended, with the last lines it wrote. */
interface TrainResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  tail: string[];
  /** The attempt's log. */
  log: string;
}

/** The running trainer, for the signal handler. */
let current: ReturnType<typeof spawn> | undefined;

/**
 * Trains one run in its own process. Its output goes to the attempt's own log; its
 * evaluation lines update the progress bar (display only: the run's result
 * is read from its run.json afterwards). The trainer runs in its own process
 * group, so that a Ctrl-C on the terminal reaches it once, through the sweep.
 */
function train(run: SweepRun, progress: Progress): Promise<TrainResult> {
  const attemptLog = openAttemptLog(run.dir);
  const log = fs.createWriteStream('', { fd: attemptLog.fd });
  log.write(`$ ${shellCommand(['node', TRAINER, ...run.args])}\n`);
  const tail: string[] = [];
  const child = spawn(process.execPath, [TRAINER, ...run.args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  current = child;
  const scan = (chunk: Buffer) => {
    log.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      const evaluation = /^step (\d+): eval loss [\d.]+, accuracy ([\d.]+%)/.exec(line);
      if (evaluation) progress.status(`step ${evaluation[1]}: eval accuracy ${evaluation[2]}`);
    }
  };
  child.stdout.on('data', scan);
  child.stderr.on('data', scan);
  return new Promise((resolve) => {
    let finished = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      current = undefined;
      log.end(() => resolve({ code, signal, tail, log: attemptLog.file }));
    };
    child.on('error', (err) => {
      tail.push(err.message);
      finish(null, null);
    });
    child.on('close', finish);
  });
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
    if (state.kind === 'new' || empty) console.log(shellCommand(['node', trainer, ...run.args]));
    else if (state.kind !== 'finished') {
      console.error(`left out ${run.name}: ${stateMessage(state).replace(/; training it again$/, '')}` +
        (state.kind === 'stopped' || state.kind === 'partial'
          ? ' (a sweep without --print trains it again; or delete the folder)' : ''));
    }
  }
}

interface Failure { run: SweepRun; why: string; log?: string }

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

  const states = runs.map((run) => inspectRun(spec, run));
  const finishedBefore = states.filter((s) => s.kind === 'finished').length;
  const combos = runs.length / spec.seeds.length;
  console.error(`sweep of ${runs.length} runs (${combos} combination${combos === 1 ? '' : 's'} × ` +
    `${spec.seeds.length} seed${spec.seeds.length === 1 ? '' : 's'}) in ${spec.root}` +
    (finishedBefore ? `, ${finishedBefore} finished earlier` : '') +
    `; to resume, run it again with --root ${spec.root}`);

  const progress = new Progress(runs.length, states.filter((s) => ['new', 'partial', 'stopped'].includes(s.kind)).length);
  let stopSignal: StopSignal | undefined;
  const onSignal = (signal: StopSignal) => {
    progress.log(stopSignal
      ? `${signal} again: the running training quits without saving`
      : `${signal}: stopping the running training (it saves what it trained), then the sweep`);
    stopSignal ??= signal;
    current?.kill(signal);
  };
  // Stop signals are forwarded to the running trainer, which stops after its step and saves.
  onStopSignals(onSignal);

  const started = Date.now();
  const failures: Failure[] = [];
  const busy: SweepRun[] = [];
  let trained = 0;
  let stopped = 0;
  let skipped = 0;
  for (const [index, run] of runs.entries()) {
    if (stopSignal) break;
    const label = `[${index + 1}/${runs.length}] ${run.name}`;
    const state = inspectRun(spec, run);
    if (state.kind !== 'new') progress.log(`${label}: ${stateMessage(state)}`);
    if (state.kind === 'finished') skipped++;
    if (state.kind === 'busy') busy.push(run);
    if (state.kind === 'mismatch' || state.kind === 'foreign') failures.push({ run, why: stateMessage(state) });
    if (state.kind === 'stopped' || state.kind === 'partial') clearRunFolder(run.dir);
    if (!['new', 'stopped', 'partial'].includes(state.kind)) {
      progress.advance(index + 1);
      continue;
    }
    progress.start(index, run);
    const result = await train(run, progress);
    progress.end();
    progress.advance(index + 1);
    if (result.code === 0) {
      // What the trainer saved, from its run.json. Stopped by a signal, it saves
      // what it trained, and a resumed sweep trains it again.
      const saved = inspectRun(spec, run);
      if (saved.kind === 'finished') {
        trained++;
        const accuracy = saved.finalAccuracy === null ? '' : `, final accuracy ${(100 * saved.finalAccuracy).toFixed(2)}%`;
        progress.log(`${label}: done${accuracy}`);
      } else if (saved.kind === 'stopped') {
        stopped++;
        progress.log(`${label}: stopped early and saved (${saved.steps} steps)`);
      } else {
        const why = saved.kind === 'new' || saved.kind === 'partial' ? 'the trainer exited 0 but saved no run.json'
          : `the trainer exited 0, but its folder is not a finished run of this sweep: ${stateMessage(saved)}`;
        failures.push({ run, why, log: result.log });
        progress.log(`${label}: failed: ${why}`);
      }
    } else {
      const how = result.signal ? `killed by ${result.signal}` : `exit ${result.code ?? 'error'}`;
      const last = result.tail.filter((l) => !l.startsWith('(run with --help')).slice(-1)[0] ?? '';
      failures.push({ run, why: `${how}: ${last}`, log: result.log });
      progress.log(`${label}: failed (${how}): ${last}`);
    }
  }
  progress.stop();

  const parts = [`${trained} trained`, `${skipped} finished earlier`];
  if (stopped) parts.push(`${stopped} stopped early`);
  if (failures.length) parts.push(`${failures.length} failed`);
  if (busy.length) parts.push(`${busy.length} being trained elsewhere`);
  const left = runs.length - trained - stopped - skipped - failures.length - busy.length;
  if (left) parts.push(`${left} not started`);
  console.error(`sweep ${spec.root}: ${runs.length} runs: ${parts.join(', ')}; ${formatDuration((Date.now() - started) / 1000)}`);
  for (const f of failures) console.error(`  failed ${f.run.name}: ${f.why}${f.log ? ` (log ${f.log})` : ''}`);
  if (stopSignal) {
    console.error(`stopped by ${stopSignal}; to resume, run it again with --root ${spec.root}`);
    exitForSignal(stopSignal);
  }
  if (failures.length || busy.length) process.exit(1);
}

runMain(main);
