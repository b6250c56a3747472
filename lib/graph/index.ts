/**
 * The graph engine: a training step (forward pass, gradients, Adam) written as
 * one TensorFlow graph and run by one session call. `GraphTrainer` trains a
 * model with it; `graphEngineSupport` says why a model cannot be (or null).
 */
export { GraphTrainer } from './trainer';
export type { AdamInternals } from './trainer';
export { graphEngineSupport, labelSmoothingOf } from './build';
export { GraphBuilder } from './def';
export { samplerSpecFor } from './sampler';
export type { SamplerSpec } from './sampler';
export type { Attr, ConstValue, GraphDType, Signature, TensorSpec } from './def';
