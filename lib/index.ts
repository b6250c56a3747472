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
export { sampleSequenceBatch, makeSequenceBatch, createEvalSet, evalBatches } from './sequences';
export type { SampleOptions, EvalSet, EvalSetOptions } from './sequences';
