export { tf, backend } from './tf';
export type { BackendInfo, Tf } from './tf';
export type * from './types';

export { parseIdx, readIdxFile, isGzip } from './data/idx';
export type { IdxArray } from './data/idx';
export {
  loadMnist, loadIdxFolder, loadIdxPair, clearDataCache, checkDigitSet, mnistDataFolder,
  IDX_FILE_NAMES, NUM_DIGIT_CLASSES,
} from './data/data';
export type { DataSource, LoadMnistOptions, LoadedDigitData } from './data/data';
export { createRng, shuffleInPlace, checkRngState } from './random';
export type { Rng, ResumableRng, RngState } from './random';
export {
  differenceTask, sumTask, customTask, getTask, checkTaskLength, checkedClassOf, validateTask,
  targetDistribution, TASK_NAMES, DEFAULT_TASK, MAX_ENUMERATED_SEQUENCES,
} from './data/tasks';
export type { TaskName, TaskValues } from './data/tasks';
export { sampleSequenceBatch, makeSequenceBatch, drawSequenceIndices, createEvalSet, evalBatches } from './data/sequences';
export type { SampleOptions, EvalSet, EvalSetOptions } from './data/sequences';
export { drawTransform, transformImage } from './data/augment';
export type { AugmentOptions, ImageTransform } from './data/augment';

export * from './config';
export * from './presets';
export { buildCrnn, compileCrnn, disposeCrnn, expectedParamCount } from './model/build';
export { TimeStepSlice, MaxPool2x2, FoldTime, UnfoldTime } from './model/layers';
export { SeededDropout, setDropoutStep, statelessUniform, dropoutMask } from './model/dropout';
export {
  trainSteps, createTrainStep, scheduledLearningRate, TrainingDivergedError, DIVERGENCE_PATIENCE, DEFAULT_STEPS_PER_CALL,
  divergenceLossLimit, divergenceWatch, trainingEngine, GraphEngineUnsupportedError, CHECKPOINT_TIME_SHARE,
} from './train/loop';
export type { TrainOptions, TrainCallbacks, TrainStep, StepOptions, TrainingState } from './train/loop';
export { resolveRun, resolveResume, trainRun, resumeFrom, RunFolderError } from './train/run';
export type { ResolvedRun, ResumedRun, BuiltRun, TrainedRun, RunResult, TrainRunOptions } from './train/run';
export {
  writeCheckpoint, loadCheckpoint, readCheckpointRecord, planResume, removeCheckpoint, hasCheckpoint, checkpointDir,
} from './train/checkpoint';
export type {
  CheckpointRecord, CheckpointRun, CheckpointData, LoadedCheckpoint, ResumeRequest, ResumePlan,
} from './train/checkpoint';
export { GraphTrainer, graphEngineSupport, GraphBuilder, samplerSpecFor } from './graph';
export type { Attr, ConstValue, GraphDType, Signature, TensorSpec } from './graph';
export {
  confusionMatrix, perClassAccuracy, digitPairAccuracy, digitPairCounts, predictSequences, evaluateModel, wilsonInterval,
  measureLossAccuracy, checkBatchFitsModel,
} from './evaluate/metrics';
export type { DigitPairCounts, Evaluation, EvaluateOptions, PredictionRecord, SequencePredictions } from './evaluate/metrics';
export {
  stepFeatures, layerActivations, featureMaps, firstLayerFilters, signedImages, matchFilters, pca, symmetricEigen,
  trainDigitProbe, measureDigitProbe, sampleImages, stepsOf, hasSharedCnn, cnnPrefix, CNN_LAYERS,
} from './evaluate/probe';
export type {
  CnnLayer, ActivationOptions, LayerFilters, FilterMatch, FeatureMaps, PcaResult, ProbeOptions, ProbeResult,
  MeasureDigitProbeOptions,
} from './evaluate/probe';
export { saveRun, loadRun, loadModel, historyCsv, writeFolderAtomically, checkRunFolder } from './runs/persist';
export { readRunRecord, recordDigitProbe, RunRecordError, CHECKPOINT_FOLDER } from './runs/record';
export type { RunRecord, RunRecordProblem } from './runs/record';
export { describeEnvironment } from './runs/environment';
export type { RunEnvironment } from './runs/environment';
export type { RunToSave, LoadedRun, SaveRunOptions } from './runs/persist';

export {
  listRuns, loadRuns, differingSettings, compareRuns, runSettings, settingNames, varyingOnly, differenceLines,
} from './runs/registry';
export type {
  RunSummary, RunDetails, SkippedFolder, RunList, ListRunsOptions, RunGroup, CompareOptions, Comparison,
} from './runs/registry';
export { sampleStats, studentTQuantile, meanDifference } from './evaluate/stats';
export type { SampleStats, MeanDifference } from './evaluate/stats';

// What shows results: charts, images, the notebook display, the interactive view (lib/view/).
export * from './view';
