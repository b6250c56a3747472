export { tf, backend } from './tf';
export type { BackendInfo, Tf } from './tf';
export type * from './types';

export { parseIdx, readIdxFile, isGzip } from './idx';
export type { IdxArray } from './idx';
export {
  loadMnist, loadIdxFolder, loadIdxPair, clearDataCache, checkDigitSet, mnistDataFolder,
  IDX_FILE_NAMES, NUM_DIGIT_CLASSES,
} from './data';
export type { DataSource, LoadMnistOptions, LoadedDigitData } from './data';
export { createRng, shuffleInPlace } from './random';
export type { Rng } from './random';
export {
  differenceTask, sumTask, customTask, getTask, checkTaskLength, checkedClassOf, validateTask,
  targetDistribution, TASK_NAMES, MAX_ENUMERATED_SEQUENCES,
} from './tasks';
export type { TaskName, TaskValues } from './tasks';
export { sampleSequenceBatch, makeSequenceBatch, drawSequenceIndices, createEvalSet, evalBatches } from './sequences';
export type { SampleOptions, EvalSet, EvalSetOptions } from './sequences';
export { drawTransform, transformImage } from './augment';
export type { AugmentOptions, ImageTransform } from './augment';

export * from './config';
export * from './presets';
export {
  buildCrnn, compileCrnn, disposeCrnn, expectedParamCount, TimeStepSlice, MaxPool2x2, FoldTime, UnfoldTime,
} from './model';
export { SeededDropout, setDropoutStep, statelessUniform, dropoutMask } from './dropout';
export {
  trainSteps, createTrainStep, scheduledLearningRate, TrainingDivergedError, DIVERGENCE_PATIENCE, DEFAULT_STEPS_PER_CALL,
  divergenceLossLimit, divergenceWatch,
} from './train';
export type { TrainOptions, TrainCallbacks, TrainStep, StepOptions } from './train';
export { GraphTrainer, graphEngineSupport, crnnStructure, GraphBuilder, samplerSpecFor } from './graph';
export type { CrnnStructure, Attr, ConstValue, GraphDType, Signature, TensorSpec } from './graph';
export {
  confusionMatrix, perClassAccuracy, digitPairAccuracy, digitPairCounts, predictSequences, evaluateModel, wilsonInterval,
  measureLossAccuracy, checkBatchFitsModel,
} from './evaluate';
export type { DigitPairCounts, Evaluation, EvaluateOptions, PredictionRecord, SequencePredictions } from './evaluate';
export {
  stepFeatures, layerActivations, featureMaps, firstLayerFilters, signedImages, matchFilters, pca, symmetricEigen,
  trainDigitProbe, measureDigitProbe, sampleImages, stepsOf, hasSharedCnn, cnnPrefix, CNN_LAYERS,
} from './probe';
export type {
  CnnLayer, ActivationOptions, LayerFilters, FilterMatch, FeatureMaps, PcaResult, ProbeOptions, ProbeResult,
  DigitProbeRecord, MeasureDigitProbeOptions,
} from './probe';
export { saveRun, loadRun, loadModel, historyCsv, recordDigitProbe } from './persist';
export { describeEnvironment } from './environment';
export type { RunEnvironment } from './environment';
export type { RunToSave, RunRecord, LoadedRun, SaveRunOptions } from './persist';

export {
  listRuns, loadRuns, differingSettings, compareRuns, comparisonChartSvg, runsTable, runSettings, settingNames,
  formatSetting, formatDuration, markdownTable, sampleStats, studentTQuantile, meanDifference, varyingOnly,
  differenceLines,
} from './registry';
export type {
  RunSummary, RunDetails, SkippedFolder, RunList, ListRunsOptions, SampleStats, RunGroup, CompareOptions, Comparison,
  MeanDifference,
  RunsTableOptions,
} from './registry';

// What shows results: charts, images, the notebook display, the interactive view (lib/view/).
export * from './view';
