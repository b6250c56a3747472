import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backend } from '../lib/tf';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { trainSteps } from '../lib/train/loop';
import { loadMnist } from '../lib/data/data';
import type { DigitData } from '../lib/types';

const skip = backend.native ? false : 'the graph engine needs the native backend';

test('thousands of graph steps on freshly sampled batches run cleanly', { skip }, async () => {
  // Batches made from JavaScript arrays, fed to the session straight, once
  // crashed the process within a few hundred runs; see inTensorFlowMemory.
  const data: DigitData = loadMnist();
  const model = buildCrnn({ filters: [2, 2], denseUnits: 8, hiddenSize: 8 });
  const history = await trainSteps(model, data, {
    seqLength: 2, task: 'difference', batchSize: 4, numSteps: 2000, evalEvery: 100, evalSize: 16,
  });
  assert.equal(history.engine, 'graph');
  assert.equal(history.steps.length, 2000);
  assert.ok(history.steps.every((r) => Number.isFinite(r.loss)));
  disposeCrnn(model);
});
