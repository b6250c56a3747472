/**
 * The library's public surface: what the notebooks import (in one statement,
 * from '../dist/lib'), and what the command-line tools (bin/), the demo and
 * the docs use or name, each name once, by folder. Everything else a module
 * exports is its folder's own business, or its tests'. The command-line tools
 * import the files themselves, so that they do not load the notebook display.
 */

// The ground floor: TensorFlow, the shared types, seeded randomness, the settings table and its presets.
export { tf, backend } from './tf';
export type { CrnnConfig, DigitData, DigitProbeRecord, DigitReadout, EvalRecord, Task, TrainConfig } from './types';
export { createRng } from './random';
export {
  settings, allowedValues, settingFromText, formatSetting, splitSettings, resolveCrnnConfig, resolveTrainConfig,
  defaultCrnnConfig,
} from './config';
export type { Settings, SettingType } from './config';
export { presets, PRESET_NAMES, presetConfigs, changedFromPreset } from './presets';
export type { PresetName } from './presets';

// data/: the digits, the tasks over sequences of them, and the batches.
export { loadMnist, dataLocation } from './data/data';
export {
  getTask, differenceTask, sumTask, customTask, classTable, targetDistribution, TASK_NAMES, DEFAULT_TASK,
} from './data/tasks';
export { sampleSequenceBatch, createEvalSet, evalBatches } from './data/sequences';
export type { EvalSet } from './data/sequences';

// model/: the CRNN and its custom layers.
export { buildCrnn, disposeCrnn, expectedParamCount } from './model/build';
export { TimeStepSlice, FoldTime, UnfoldTime } from './model/layers';

// train/: the training loop, and a whole run (build → train → probe → save) for the trainer and notebook 3.
export { trainSteps, TrainingDivergedError, GraphEngineUnsupportedError } from './train/loop';
export type { TrainCallbacks } from './train/loop';
export { resolveRun, resolveResume, loadResumeData, trainRun, resumeFrom, RunFolderError } from './train/run';
export type { ResolvedRun, ResumedRun, BuiltRun, TrainedRun, RunResult } from './train/run';

// runs/: run folders saved and read back, listed and compared, the machine they ran on, and sweeps of them.
export { saveRun, loadRun } from './runs/persist';
export type { LoadedRun } from './runs/persist';
export { runFile, recordDigitProbe, MODEL_FILE } from './runs/record';
export { describeEnvironment, describeNativeLibrary } from './runs/environment';
export { threadsPerJob } from './runs/cpu';
export {
  listRuns, loadRuns, runSettings, settingNames, differingSettings, varyingOnly, compareRuns, differenceLines,
  PRESET_GROUP,
} from './runs/registry';
export type { RunList, RunSummary, RunDetails, SkippedFolder } from './runs/registry';
export {
  sweepableSettings, parseGridArgument, parseSetArgument, planSweep, inspectRun, isTrainable, stateForExecutor,
  trainerArgs, shellCommand, clearRunFolder,
} from './runs/sweep';
export type { SweepSpec, SweepRun, RunState } from './runs/sweep';
export { runSweep, surveyRuns, commandPlan, stateMessage } from './runs/schedule';
export type { SweepEvents, SweepSummary, SweepFailure, RunOutcome } from './runs/schedule';
export { TRAINER } from './runs/executors/executor';
export type { Executor, TrainResult } from './runs/executors/executor';
export { LocalExecutor } from './runs/executors/local';
export { RayExecutor } from './runs/executors/ray';

// evaluate/: accuracy and its intervals, statistics over seeds, and what the CNNs learned.
export { evaluateModel, measureLossAccuracy, confusionMatrix, wilsonInterval } from './evaluate/metrics';
export type { Evaluation } from './evaluate/metrics';
export { sampleStats, meanDifference, studentTQuantile } from './evaluate/stats';
export {
  sampleImages, stepFeatures, layerActivations, featureMaps, firstLayerFilters, signedImages, matchFilters, pca,
  hasSharedCnn, trainDigitProbe, measureDigitProbe, fitDigitProbes,
} from './evaluate/probe';
export type { ProbeResult } from './evaluate/probe';

// view/: what shows results (charts, digits, tables, the notebook display), never what computes them.
export {
  trainingCurvesSvg, barChartSvg, heatmapSvg, comparisonCurvesSvg, scatterChartSvg, ARTICLE_ACCURACY,
} from './view/charts';
export { comparisonChartSvg } from './view/compare';
export { runsTable, comparisonTable, markdownTable } from './view/tables';
export { digitImage } from './view/images';
export { formatSigned, formatDuration } from './view/text';
export { notebookDisplay, showSvg, showImages, showDigits, showSequences } from './view/notebook';
export { LiveTrainingChart, summaryLine } from './view/live-chart';
export { openInteractive } from './view/interactive';
export { environmentSummary, tensorCensus } from './view/machine';
export type { TensorCensus } from './view/machine';
export { layerTable } from './view/model-summary';
