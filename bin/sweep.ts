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
import * as os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { allowedValues, formatSetting } from '../lib/config';
import {
  parseGridArgument, parseSetArgument, planSweep, shellCommand, sweepableSettings, type SweepRun, type SweepSpec,
} from '../lib/runs/sweep';
import { commandPlan, runSweep, surveyRuns } from '../lib/runs/schedule';
import { TASK_NAMES } from '../lib/data/tasks';
import { PRESET_NAMES } from '../lib/presets';
import { threadsPerJob } from '../lib/runs/cpu';
import { TRAINER, type Executor } from '../lib/runs/executors/executor';
import { LocalExecutor } from '../lib/runs/executors/local';
import { RayExecutor } from '../lib/runs/executors/ray';
import { exitForSignal, ignoreClosedOutput, onStopSignals, runMain, timestamp, type StopSignal } from './cli';
import { headerLine, leftOutLine, stopLine, summaryLines, SweepProgress, sweepConsole } from './sweep-console';

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

/** The sweep the options describe; each argument's error names the argument it is about. */
function sweepSpec(opts: SweepOptions): SweepSpec {
  const each = <T>(flag: string, texts: string[] | undefined, parse: (text: string) => T): T[] =>
    (texts ?? []).map((text) => {
      try {
        return parse(text);
      } catch (err) {
        throw new Error(`${flag} ${text}: ${(err as Error).message}`);
      }
    });
  return {
    grid: each('--grid', opts.grid, parseGridArgument),
    fixed: each('--set', opts.set, parseSetArgument),
    seeds: opts.seedList ?? Array.from({ length: opts.seeds ?? 1 }, (_, i) => i + 1),
    root: opts.root ?? path.join('runs', `sweep-${timestamp()}`),
    task: opts.task,
    data: opts.data,
    preset: opts.preset,
  };
}

/** Prints the commands of the runs to train; notes the others on stderr. */
function printCommands(spec: SweepSpec, runs: SweepRun[]): void {
  const relative = path.relative(process.cwd(), TRAINER);
  const trainer = relative.startsWith('..') ? TRAINER : relative;
  for (const entry of commandPlan(spec, runs)) {
    if ('args' in entry) console.log(shellCommand(['node', trainer, ...entry.args]));
    else console.error(leftOutLine(entry.run, entry.leftOut));
  }
}

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
    spec = sweepSpec(opts);
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

  const { finished, toTrain } = surveyRuns(spec, runs);
  console.error(headerLine(spec, runs.length, finished, executor.describe()));
  const progress = new SweepProgress(runs.length, toTrain, executor.slots, process.stderr.isTTY === true);
  // Stop signals are forwarded to the running trainers, which stop after their step and save.
  const stopping = new AbortController();
  let stopSignal: StopSignal | undefined;
  onStopSignals((signal) => {
    progress.log(stopLine(signal, stopSignal !== undefined, executor.slots));
    stopSignal ??= signal;
    stopping.abort();
    executor.stop(signal);
  });

  const started = Date.now();
  const summary = await runSweep(spec, runs, executor, sweepConsole(progress, runs.length), stopping.signal);
  await executor.close();
  progress.stop();
  const ended = { broken: executor.broken, stopSignal };
  for (const line of summaryLines(spec, summary, (Date.now() - started) / 1000, ended)) console.error(line);
  if (stopSignal) exitForSignal(stopSignal);
  if (summary.failures.length || summary.busy.length || executor.broken) process.exit(1);
}

runMain(main);
