/**
 * lib/view/model-summary.ts: the compact layer table of a CRNN, its rows
 * checked against the built model and the hand formula of lib/model/build.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../lib/tf';
import { buildCrnn, disposeCrnn, expectedParamCount } from '../lib/model/build';
import { layerRows, layerTable } from '../lib/view/model-summary';
import type { CrnnConfig } from '../lib/types';

test('layerTable gives one row per layer kind, the repeated per-step layers counted, and the true total', () => {
  const model = buildCrnn({ seqLength: 3 });
  const rows = layerRows(model);
  const conv1 = rows.find((r) => r.name === 'step*_conv1')!;
  assert.deepEqual(conv1, { name: 'step*_conv1', type: 'Conv2D', outputShape: [null, 28, 28, 16], params: 160, count: 3 });
  assert.equal(rows.reduce((n, r) => n + r.params * r.count, 0), model.countParams());
  assert.ok(rows.length < model.layers.length);
  const table = layerTable(model);
  assert.match(table, /^step\*_dense ×3 +Dense +\[·, 256\] +200,960 each$/m);
  // One more CNN than the article's model: 543,091 + 160 + 2,320 + 200,960.
  assert.match(table, /^total: 746,531 parameters$/m);
  assert.equal(expectedParamCount({ seqLength: 3 }), 746_531);
  for (const line of table.split('\n')) assert.ok(line.length <= 80, `too wide: ${line}`);
  disposeCrnn(model);
});

test('a batch-normalised model\'s table counts its trained parameters apart; a shared CNN has no repeated rows', () => {
  const before = tf.memory().numTensors;
  const config: Partial<CrnnConfig> = { filters: [4, 5], denseUnits: 16, hiddenSize: 12, batchNorm: true };
  const model = buildCrnn(config);
  const rows = layerRows(model);
  // With batch normalisation a convolution has no bias: 3·3·1·4 weights; its normalisation γ, β, mean, variance per channel.
  assert.deepEqual(rows.find((r) => r.name === 'step*_conv1'),
    { name: 'step*_conv1', type: 'Conv2D', outputShape: [null, 28, 28, 4], params: 36, count: 2 });
  assert.deepEqual(rows.find((r) => r.name === 'step*_conv1_bn'),
    { name: 'step*_conv1_bn', type: 'BatchNormalization', outputShape: [null, 28, 28, 4], params: 16, count: 2 });
  assert.deepEqual(rows.find((r) => r.name === 'class_probabilities'),
    { name: 'class_probabilities', type: 'Dense', outputShape: [null, 19], params: 12 * 19 + 19, count: 1 });
  assert.equal(rows.reduce((n, r) => n + r.params * r.count, 0), expectedParamCount(config));
  // Two CNNs of 36 + 180 + 3,920 weights and 2·(4 + 5 + 16) channels of 4; the RNN 16·12 + 12·12 + 12; the head 247.
  assert.equal(expectedParamCount(config), 9_067);
  assert.equal(expectedParamCount(config, 'trainable'), 8_967);
  const table = layerTable(model);
  assert.match(table, /^step\*_conv1 ×2 +Conv2D +\[·, 28, 28, 4\] +36 each$/m);
  assert.equal(table.split('\n').at(-1), 'total: 9,067 parameters (8,967 trainable)');
  disposeCrnn(model);

  const shared = buildCrnn({ ...config, sharedCnn: true });
  const sharedRows = layerRows(shared);
  assert.ok(sharedRows.every((r) => r.count === 1 && !r.name.includes('*')), 'one CNN: each layer its own row');
  assert.deepEqual(sharedRows.map((r) => r.name), shared.layers.map((l) => l.name));
  assert.doesNotMatch(layerTable(shared), / each$/m);
  disposeCrnn(shared);
  assert.equal(tf.memory().numTensors, before);
});
