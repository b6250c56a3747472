/**
 * lib/view/model-summary.ts: the compact layer table of a CRNN, its rows
 * checked against the built model and the hand formula of lib/model/build.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCrnn, disposeCrnn, expectedParamCount } from '../lib/model/build';
import { layerRows, layerTable } from '../lib/view/model-summary';

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
