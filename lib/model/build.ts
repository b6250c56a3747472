/**
 * The CRNN: a small CNN reads each image of a sequence, a recurrent layer reads
 * the CNN features in order, and a softmax layer classifies the last output.
 *
 *   xs [batch, seqLength, height, width, 1]
 *   → per time step t: conv 3×3 ELU → max-pool 2 → conv 3×3 ELU → max-pool 2
 *                      → flatten → dense ELU                [batch, denseUnits]
 *   → stacked over time                          [batch, seqLength, denseUnits]
 *   → RNN (tanh SimpleRNN, GRU or LSTM), last output        [batch, hiddenSize]
 *   → dense softmax                                         [batch, numClasses]
 *
 * Options beyond the article, all off by default (see CrnnConfig):
 * `kernelSize` 5 or 7 for wider convolutions; `batchNorm`, which puts a batch
 * normalisation between each convolution (and the dense layer) and its ELU,
 * as separate layers `…_conv1_bn`, `…_conv1_elu`; and `dropout`, a
 * SeededDropout (lib/model/dropout.ts) after each CNN's dense ELU (`…_dropout`) and
 * after the RNN (`rnn_dropout`).
 */
import * as tf from '@tensorflow/tfjs';
import type * as tfTypes from '@tensorflow/tfjs';
import type { CrnnConfig } from '../types';
import { defaultTrainConfig, resolveCrnnConfig } from '../config';
import { deriveSeed } from '../random';
import { registerGradients } from './gradients';
import { SeededDropout } from './dropout';
import { FoldTime, MaxPool2x2, TimeStepSlice, UnfoldTime } from './layers';

type SymbolicTensor = tfTypes.SymbolicTensor;

/** The initialiser seed of a weight, by its layer (and weight) name. */
type LayerSeeds = (name: string) => number;

/**
 * The L2 penalty of `weightDecay` as layer arguments: `kernelRegularizer`
 * (and `recurrentRegularizer` with `recurrent`) tf.regularizers.l2 of λ; no
 * arguments at all for λ = 0, so that such a model is the article's, layer
 * config for layer config.
 */
type L2 = ReturnType<typeof tf.regularizers.l2>;
function weightDecayArgs(config: CrnnConfig, recurrent = false): { kernelRegularizer?: L2; recurrentRegularizer?: L2 } {
  if (config.weightDecay === 0) return {};
  const l2 = () => tf.regularizers.l2({ l2: config.weightDecay });
  return recurrent ? { kernelRegularizer: l2(), recurrentRegularizer: l2() } : { kernelRegularizer: l2() };
}

/**
 * The layer `layer` followed by its ELU: in the layer itself, or, with
 * batch normalisation, as `${name}_bn` (tfjs's BatchNormalization: momentum
 * 0.99 and epsilon 1e-3, its defaults) and `${name}_elu` after a linear layer
 * without bias (the normalisation's β takes the bias's place).
 */
function withElu(
  batchNorm: boolean, name: string, layer: (args: { activation: 'elu' | 'linear'; useBias: boolean }) => tfTypes.layers.Layer,
): tfTypes.layers.Layer[] {
  if (!batchNorm) return [layer({ activation: 'elu', useBias: true })];
  return [
    layer({ activation: 'linear', useBias: false }),
    tf.layers.batchNormalization({ name: `${name}_bn` }),
    tf.layers.activation({ name: `${name}_elu`, activation: 'elu' }),
  ];
}

/** A SeededDropout layer named `name`, its seed derived from the run's, or nothing without dropout. */
function dropoutLayers(config: CrnnConfig, name: string, seeds: LayerSeeds): tfTypes.layers.Layer[] {
  // StatelessRandomUniform takes int32 seeds.
  return config.dropout > 0 ? [new SeededDropout({ name, rate: config.dropout, seed: seeds(name) | 0 })] : [];
}

/**
 * The per-image CNN as a list of layers, named `${prefix}_conv1` … `${prefix}_dense`
 * (with batch normalisation and dropout, more layers between and after: see
 * the top of this file). Initialisers follow the article's TF1 code:
 * Glorot-uniform convolutions, and a dense layer with TF1's
 * `variance_scaling_initializer()` (truncated normal, stddev √(1.3·2 / fanIn),
 * which tfjs writes as scale 2.6).
 */
function cnnLayers(config: CrnnConfig, prefix: string, seeds: LayerSeeds): tfTypes.layers.Layer[] {
  const conv = (filters: number, name: string) => withElu(config.batchNorm, name, (args) => tf.layers.conv2d({
    name, filters, kernelSize: config.kernelSize, strides: 1, padding: 'same', ...args,
    kernelInitializer: tf.initializers.glorotUniform({ seed: seeds(name) }),
    ...weightDecayArgs(config),
  }));
  return [
    ...conv(config.filters[0], `${prefix}_conv1`),
    new MaxPool2x2({ name: `${prefix}_pool1` }),
    ...conv(config.filters[1], `${prefix}_conv2`),
    new MaxPool2x2({ name: `${prefix}_pool2` }),
    tf.layers.flatten({ name: `${prefix}_flatten` }),
    ...withElu(config.batchNorm, `${prefix}_dense`, (args) => tf.layers.dense({
      name: `${prefix}_dense`,
      units: config.denseUnits,
      ...args,
      kernelInitializer: tf.initializers.varianceScaling({
        scale: 2.6, mode: 'fanIn', distribution: 'normal', seed: seeds(`${prefix}_dense`),
      }),
      ...weightDecayArgs(config),
    })),
    ...dropoutLayers(config, `${prefix}_dropout`, seeds),
  ];
}

function applyLayers(layers: tfTypes.layers.Layer[], input: SymbolicTensor): SymbolicTensor {
  return layers.reduce((x, layer) => layer.apply(x) as SymbolicTensor, input);
}

/** [batch, seqLength, h, w, 1] → [batch, seqLength, denseUnits] with one CNN per time step. */
function perStepFeatures(config: CrnnConfig, input: SymbolicTensor, seeds: LayerSeeds): SymbolicTensor {
  const { seqLength, denseUnits } = config;
  const steps = Array.from({ length: seqLength }, (_, t) => {
    const image = new TimeStepSlice({ name: `step${t}_slice`, step: t }).apply(input) as SymbolicTensor;
    const features = applyLayers(cnnLayers(config, `step${t}`, seeds), image);
    return tf.layers.reshape({ name: `step${t}_expand`, targetShape: [1, denseUnits] })
      .apply(features) as SymbolicTensor;
  });
  if (steps.length === 1) return steps[0];
  return tf.layers.concatenate({ name: 'stack_steps', axis: 1 }).apply(steps) as SymbolicTensor;
}

/**
 * [batch, seqLength, h, w, 1] → [batch, seqLength, denseUnits] with one CNN for all steps:
 * time folded into the batch ([batch·seqLength, h, w, 1]), the CNN, then unfolded.
 */
function sharedFeatures(config: CrnnConfig, input: SymbolicTensor, seeds: LayerSeeds): SymbolicTensor {
  const images = new FoldTime({ name: 'fold_time' }).apply(input) as SymbolicTensor;
  const features = applyLayers(cnnLayers(config, 'shared', seeds), images);
  return new UnfoldTime({ name: 'unfold_time', seqLength: config.seqLength }).apply(features) as SymbolicTensor;
}

function recurrentLayer(config: CrnnConfig, seeds: LayerSeeds): tfTypes.layers.Layer {
  // TF1's RNN cells initialise [input; state] → state with one Glorot-uniform
  // matrix; Glorot for the recurrent kernel too stays close to that and avoids
  // tfjs's slow orthogonal initialiser.
  const name = `rnn_${config.cell}`;
  const args = {
    name,
    units: config.hiddenSize,
    kernelInitializer: tf.initializers.glorotUniform({ seed: seeds(`${name}/kernel`) }),
    recurrentInitializer: tf.initializers.glorotUniform({ seed: seeds(`${name}/recurrent_kernel`) }),
    ...weightDecayArgs(config, true),
    returnSequences: false,
  };
  switch (config.cell) {
    case 'simple': return tf.layers.simpleRNN({ ...args, activation: 'tanh' });
    case 'gru': return tf.layers.gru(args);
    case 'lstm': return tf.layers.lstm(args);
  }
}

/**
 * Compiles a CRNN for training: Adam (β1 0.9, β2 0.999, ε 1e-8 as in TF1),
 * categorical cross-entropy on the softmax output, accuracy metric; and
 * registers the project's tfjs gradients (lib/model/gradients.ts) for its eager steps.
 */
export function compileCrnn(model: tfTypes.LayersModel, learningRate: number): void {
  registerGradients();
  model.compile({
    optimizer: tf.train.adam(learningRate, 0.9, 0.999, 1e-8),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
}

/**
 * Frees a CRNN's weights and its optimiser's state (Adam's two moment tensors
 * per weight). `model.dispose()` alone leaves the optimiser alive, because
 * `compileCrnn` hands the model an optimiser object, which the model then does
 * not own. Safe on `undefined` (nothing built yet) and on a model already
 * disposed, so a notebook cell can call it before rebuilding.
 */
export function disposeCrnn(model: tfTypes.LayersModel | undefined | null): void {
  if (model == null) return;
  // Disposing Adam twice is harmless: its tensors are already gone.
  model.optimizer?.dispose();
  try {
    model.dispose();
  } catch (err) {
    // tfjs refuses to dispose a model twice; here that is a no-op.
    if (!(err instanceof Error && /already disposed/.test(err.message))) throw err;
  }
}

/** Options of {@link buildCrnn}. */
export interface BuildOptions {
  /**
   * The run's seed (default `defaultTrainConfig.seed`, 42). Each layer's
   * initialiser gets its own seed derived from it and the layer's name, so
   * the same seed builds the same weights, whatever else changes.
   */
  seed?: number;
}

/**
 * Builds and compiles the CRNN. Missing config fields take the article's values
 * (see `defaultCrnnConfig`); the initial weights are decided by `options.seed`.
 *
 * Input `digit_sequence`: [batch, seqLength, height, width, 1] float32.
 * Output `class_probabilities`: [batch, numClasses] softmax probabilities.
 *
 * With `sharedCnn: false` (the article) each time step has its own CNN, with
 * layers named `step0_conv1`, `step1_conv1`, …; with `sharedCnn: true` one CNN
 * (`shared_conv1`, …) reads all steps at once, time folded into the batch.
 * With `weightDecay` λ > 0 every kernel (not the biases) carries an L2
 * regulariser of λ, whose penalty both training engines add to the loss.
 * @throws Error naming the field of an invalid config.
 */
export function buildCrnn(config: Partial<CrnnConfig> = {}, options: BuildOptions = {}): tfTypes.LayersModel {
  const c = resolveCrnnConfig(config);
  const seed = options.seed ?? defaultTrainConfig.seed;
  if (!Number.isSafeInteger(seed)) throw new Error(`buildCrnn: seed must be an integer, got ${String(seed)}`);
  const seeds: LayerSeeds = (name) => deriveSeed(seed, name);
  const input = tf.input({ name: 'digit_sequence', shape: [c.seqLength, c.height, c.width, 1] });
  const features = c.sharedCnn ? sharedFeatures(c, input, seeds) : perStepFeatures(c, input, seeds);
  const lastOutput = applyLayers([recurrentLayer(c, seeds), ...dropoutLayers(c, 'rnn_dropout', seeds)], features);
  const output = tf.layers.dense({
    name: 'class_probabilities', units: c.numClasses, activation: 'softmax',
    kernelInitializer: tf.initializers.glorotUniform({ seed: seeds('class_probabilities') }),
    ...weightDecayArgs(c),
  }).apply(lastOutput) as SymbolicTensor;
  const model = tf.model({
    name: `crnn_${c.cell}_${c.sharedCnn ? 'shared' : 'per_step'}_cnn`,
    inputs: input,
    outputs: output,
  });
  compileCrnn(model, c.learningRate);
  return model;
}

/**
 * Number of parameters a config gives, computed by hand from the architecture
 * (used to check the built model and to show the arithmetic): all of them, as
 * tfjs's `countParams()` counts them (the default), or only the trainable or
 * the non-trainable ones. Only batch normalisation has non-trainable ones,
 * its moving mean and variance: with `batchNorm` each convolution and dense
 * layer of a CNN trades its bias for β and γ (trained) and the two moving
 * statistics (not trained), per channel. Dropout has no parameters.
 */
export function expectedParamCount(
  config: Partial<CrnnConfig> = {}, which: 'all' | 'trainable' | 'nonTrainable' = 'all',
): number {
  const c = resolveCrnnConfig(config);
  const [f1, f2] = c.filters;
  const k2 = c.kernelSize * c.kernelSize;
  const pooledH = Math.floor(Math.floor(c.height / 2) / 2);
  const pooledW = Math.floor(Math.floor(c.width / 2) / 2);
  const cnnChannels = f1 + f2 + c.denseUnits;
  const cnnWeights = k2 * 1 * f1 + k2 * f1 * f2 + pooledH * pooledW * f2 * c.denseUnits;
  // Per channel: a bias, or β and γ with the batch normalisation.
  const cnnTrainable = cnnWeights + (c.batchNorm ? 2 : 1) * cnnChannels;
  const cnnNonTrainable = c.batchNorm ? 2 * cnnChannels : 0;
  const gates = { simple: 1, gru: 3, lstm: 4 }[c.cell];
  const rnn = gates * (c.denseUnits * c.hiddenSize + c.hiddenSize * c.hiddenSize + c.hiddenSize);
  const head = c.hiddenSize * c.numClasses + c.numClasses;
  const cnns = c.sharedCnn ? 1 : c.seqLength;
  const trainable = cnns * cnnTrainable + rnn + head;
  const nonTrainable = cnns * cnnNonTrainable;
  return { all: trainable + nonTrainable, trainable, nonTrainable }[which];
}
