import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { expectedParamCount } from '../lib/model/build';
import { EVAL_BATCH_SIZE } from '../lib/data/sequences';
import { checkTrainingMemory, estimateTrainingMemory, MEMORY_SHARE } from '../lib/train/limits';

const crnn = resolveCrnnConfig({ filters: [4, 4], denseUnits: 16, hiddenSize: 16 });
const train = resolveTrainConfig({ batchSize: 8, evalSize: 2 * EVAL_BATCH_SIZE });

test('the memory estimate adds up its parts: weights with Adam state, a training batch, the evaluation set', () => {
  const estimate = estimateTrainingMemory(crnn, train);
  assert.equal(estimate.weights, 6 * 4 * expectedParamCount(crnn));
  assert.equal(estimate.total, estimate.weights + estimate.training + estimate.evaluation);
  assert.ok(estimate.training > 0 && estimate.evaluation > 0);
});

test('the training part grows in proportion to batchSize, the evaluation part with evalSize, the weights with neither', () => {
  const estimate = estimateTrainingMemory(crnn, train);
  const doubleBatch = estimateTrainingMemory(crnn, { ...train, batchSize: 2 * train.batchSize });
  assert.equal(doubleBatch.training, 2 * estimate.training);
  assert.equal(doubleBatch.weights, estimate.weights);
  assert.equal(doubleBatch.evaluation, estimate.evaluation);
  // Past one evaluation batch, each more sequence adds its indices and its target: seqLength + 1 floats.
  const moreEval = estimateTrainingMemory(crnn, { ...train, evalSize: train.evalSize + 1000 });
  assert.equal(moreEval.evaluation - estimate.evaluation, 4 * 1000 * (crnn.seqLength + 1));
  assert.equal(moreEval.training, estimate.training);
  assert.equal(moreEval.weights, estimate.weights);
});

test('a run is refused just past its share of the memory, naming the parts and the settings to lower', () => {
  const { total } = estimateTrainingMemory(crnn, train);
  const fits = total / MEMORY_SHARE;
  assert.doesNotThrow(() => checkTrainingMemory(crnn, train, fits * (1 + 1e-9)));
  assert.throws(() => checkTrainingMemory(crnn, train, fits * (1 - 1e-9)), new RegExp(
    '^Error: this run would need about [\\d.]+ GB of memory \\(weights and Adam state [\\d.]+ GB, ' +
    'training batch [\\d.]+ GB, evaluation [\\d.]+ GB\\), more than 80% of the [\\d.]+ GB available; ' +
    `lower seqLength \\(${crnn.seqLength}\\), batchSize \\(8\\) or evalSize \\(${train.evalSize}\\)` +
    (crnn.sharedCnn ? '$' : ', or share one CNN over the steps \\(sharedCnn\\)$')));
  const shared = { ...crnn, sharedCnn: true };
  assert.throws(() => checkTrainingMemory(shared, train, 1), /or evalSize \(\d+\)$/);
});

test('a run that fits this machine passes without an explicit memory size', () => {
  assert.doesNotThrow(() => checkTrainingMemory(crnn, train));
});
