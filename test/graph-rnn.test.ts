import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import type * as tfTypes from '@tensorflow/tfjs';
import { GraphBuilder, type TensorSpec } from '../lib/graph/def';
import { Ops } from '../lib/graph/ops';
import { gradients } from '../lib/graph/autodiff';
import { ACTIVATIONS } from '../lib/graph/layers';
import { rnnStates, type RnnCell } from '../lib/graph/rnn';
import { inTensorFlowMemory, loadSignatures } from '../lib/graph/session';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { trainSteps } from '../lib/train/loop';
import { loadMnist } from '../lib/data/data';
import type { DigitData } from '../lib/types';
import { maxAbs, maxAbsDiff } from './helpers/models';

const skip = backend.native ? false : 'the graph engine needs the native backend';
const [batch, steps, inputSize, units] = [4, 3, 5, 6];

/** A recurrent layer of tfjs and the activations it was made with, by their tfjs names. */
interface CellCase {
  cell: RnnCell;
  layer: () => tfTypes.layers.Layer;
  activation: string;
  recurrent: string;
}

const cellCases: CellCase[] = [
  { cell: 'SimpleRNN', layer: () => tf.layers.simpleRNN({ units, returnSequences: true }), activation: 'tanh', recurrent: 'tanh' },
  { cell: 'GRU', layer: () => tf.layers.gru({ units, returnSequences: true }), activation: 'tanh', recurrent: 'hardSigmoid' },
  { cell: 'LSTM', layer: () => tf.layers.lstm({ units, returnSequences: true }), activation: 'tanh', recurrent: 'hardSigmoid' },
  { cell: 'LSTM', layer: () => tf.layers.lstm({ units, returnSequences: true, activation: 'elu' }), activation: 'elu', recurrent: 'hardSigmoid' },
];

/**
 * The graph of one case: the states h_1..h_T of the cell over x [batch, T,
 * inputSize] with the weights fed, stacked along the time axis, and the
 * gradients of ⟨dy, states⟩ with respect to x and the weights.
 */
function writeCell(g: GraphBuilder, ops: Ops, k: number, c: CellCase) {
  return g.inScope(`case${k}`, () => {
    const gates = { SimpleRNN: 1, GRU: 3, LSTM: 4 }[c.cell];
    const x = g.placeholder('x', 'float32', [-1, steps, inputSize]);
    const kernel = g.placeholder('kernel', 'float32', [inputSize, gates * units]);
    const recurrent = g.placeholder('recurrent', 'float32', [units, gates * units]);
    const bias = g.placeholder('bias', 'float32', [gates * units]);
    const dy = g.placeholder('dy', 'float32', [-1, steps, units]);
    const act = (name: string) => (value: string) => ACTIVATIONS[name](ops, value);
    const states = rnnStates(ops, c.cell, { kernel: kernel.ref, recurrent: recurrent.ref, bias: bias.ref }, units,
      ops.unstack(x.ref, steps, 1), { activation: act(c.activation), recurrent: act(c.recurrent) });
    const ys = ops.stack(states, 1);
    const inputs = { x, kernel, recurrent, bias };
    const grads = gradients(ops, [ys], Object.values(inputs).map((input) => input.ref), [dy.ref]);
    // Fetched through an Identity each, as a session cannot fetch a tensor that is also fed.
    const spec = (ref: string, shape: number[]): TensorSpec => ({
      ref: g.node('Identity', [ref], { T: { type: 'float32' } }), dtype: 'float32', shape,
    });
    return {
      inputs: { ...inputs, dy },
      outputs: {
        ys: spec(ys, [-1, steps, units]),
        ...Object.fromEntries(Object.entries(inputs).map(([name, input], i) => [`grad_${name}`, spec(grads[i], input.shape)])),
      },
    };
  });
}

test('each cell\'s states and gradients in the graph are those of the tfjs layer, step by step', { skip }, async () => {
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const signatures = Object.fromEntries(cellCases.map((c, k) => [`case${k}`, writeCell(g, ops, k, c)]));
  const loaded = await loadSignatures(g.toSavedModel(signatures), Object.keys(signatures));
  const before = tf.memory().numTensors;
  try {
    cellCases.forEach((c, k) => {
      const layer = c.layer();
      tf.tidy(() => {
        const x = tf.randomUniform([batch, steps, inputSize], -1, 1, 'float32', k);
        const dy = tf.randomUniform([batch, steps, units], -1, 1, 'float32', 100 + k);
        layer.apply(x);
        // Weights of both signs in every position, the bias too (tfjs starts it at zero).
        layer.setWeights(layer.getWeights().map((w, i) => tf.randomUniform(w.shape, -0.8, 0.8, 'float32', 10 * k + i)));
        const [kernel, recurrent, bias] = layer.getWeights();
        const loss = () => tf.sum<tfTypes.Scalar>(tf.mul(layer.apply(x) as tfTypes.Tensor, dy));
        const reference = tf.variableGrads(loss, layer.trainableWeights.map((w) => w.read() as tfTypes.Variable));
        const referenceX = tf.grad((input: tfTypes.Tensor) => tf.sum(tf.mul(layer.apply(input) as tfTypes.Tensor, dy)))(x);
        const out = loaded[`case${k}`].predict(Object.fromEntries(
          Object.entries({ x, kernel, recurrent, bias, dy }).map(([name, t]) => [name, inTensorFlowMemory(t)])));
        const label = `${c.cell} (${c.activation})`;
        const expected: [string, tfTypes.Tensor][] = [
          ['ys', layer.apply(x) as tfTypes.Tensor],
          ['grad_x', referenceX],
          ...layer.trainableWeights.map((w, i): [string, tfTypes.Tensor] =>
            [`grad_${['kernel', 'recurrent', 'bias'][i]}`, reference.grads[(w.read() as tfTypes.Variable).name]]),
        ];
        for (const [name, value] of expected) {
          assert.deepEqual(out[name].shape, value.shape, `${label} ${name}`);
          // Float32 sums over a few dozen terms, in another order: 1e-5 of the largest value.
          const [error, scale] = [maxAbsDiff(out[name], value), maxAbs(value)];
          assert.ok(scale > 0, `${label} ${name}: the reference is all zero`);
          assert.ok(error <= 1e-5 * scale, `${label} ${name}: off by ${error} (scale ${scale})`);
        }
      });
      layer.dispose();
    });
  } finally {
    for (const signature of Object.values(loaded)) signature.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('GRU and LSTM models train on the graph engine', { skip }, async () => {
  const data: DigitData = loadMnist();
  for (const cell of ['gru', 'lstm'] as const) {
    const model = buildCrnn({ filters: [8, 8], denseUnits: 64, hiddenSize: 64, learningRate: 3e-3, cell });
    const history = await trainSteps(model, data, {
      seqLength: 2, task: 'difference', batchSize: 32, evalSize: 500, seed: 5, numSteps: 100, evalEvery: 50,
    });
    assert.equal(history.engine, 'graph');
    const [first, last] = [history.evals[0].loss, history.evals[1].loss];
    assert.ok(last < first, `${cell}: eval loss went from ${first} to ${last}`);
    disposeCrnn(model);
  }
});
