import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backend } from '../lib/tf';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { trainSteps } from '../lib/train/loop';
import { loadMnist } from '../lib/data/data';
import type { DigitData } from '../lib/types';

const skip = backend.native ? false : 'the graph engine needs the native backend';

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
