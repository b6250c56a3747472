/**
 * lib/view/interactive.ts: the Plotly traces of the training curves, and what
 * openInteractive hands nodeplotlib (replaced here by a stand-in, which opens
 * no browser).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interactiveTraces, openInteractive } from '../lib/view/interactive';
import { fakeTrainingHistory } from './helpers/histories';

test('the interactive traces carry the same data as the SVG chart', () => {
  const history = fakeTrainingHistory(400, 100);
  const traces = interactiveTraces(history, { maxPoints: 50 });
  const evalLoss = traces.find((t) => t.name === 'loss: fixed evaluation set')!;
  assert.deepEqual(evalLoss.y, history.evals.map((e) => e.loss));
  assert.equal(traces.find((t) => t.name === 'loss: training batches')!.x.length, 50);
  const evalError = traces.find((t) => t.name === 'error rate: fixed evaluation set')!;
  assert.equal(evalError.xaxis, 'x2');
  assert.deepEqual(evalError.y, history.evals.map((e) => 1 - e.accuracy));
  const rule = traces.find((t) => t.name === 'article: 98%')!;
  assert.deepEqual(rule.y, [1 - 0.98, 1 - 0.98]);
  assert.deepEqual(rule.x, [0, 400]);
});

test('on the accuracy axis the traces carry the accuracies; no reference, or no record yet, draws no article line', () => {
  const history = fakeTrainingHistory(400, 100);
  const traces = interactiveTraces(history, { accuracyAxis: 'accuracy', referenceAccuracy: 0.5 });
  const evalAccuracy = traces.find((t) => t.name === 'accuracy: fixed evaluation set')!;
  assert.deepEqual(evalAccuracy.y, history.evals.map((e) => e.accuracy));
  assert.deepEqual([evalAccuracy.xaxis, evalAccuracy.yaxis], ['x2', 'y2']);
  assert.ok(!traces.some((t) => t.name.startsWith('error rate')));
  assert.deepEqual(traces.find((t) => t.name === 'article: 50%')!.y, [0.5, 0.5]);
  const names = interactiveTraces(history, { referenceAccuracy: null }).map((t) => t.name);
  assert.deepEqual(names, ['loss: training batches', 'loss: fixed evaluation set',
    'error rate: training batches', 'error rate: fixed evaluation set']);
  assert.deepEqual(interactiveTraces({ steps: [], evals: [], endReason: 'completed', elapsedMs: 0 }), []);
});

test('openInteractive hands nodeplotlib the traces and two independent panels, the loss on a log axis', () => {
  const plots: { data: object[]; layout: unknown }[] = [];
  // nodeplotlib would start a web server and open a browser: a stand-in in
  // the module cache takes the call (openInteractive requires it lazily).
  const id = require.resolve('nodeplotlib');
  const standIn = { plot: (data: object[], layout: unknown) => plots.push({ data, layout }) };
  require.cache[id] = { id, filename: id, loaded: true, exports: standIn } as unknown as NodeModule;
  try {
    const history = fakeTrainingHistory(400, 100);
    const options = { title: 'Run A', accuracyAxis: 'accuracy' } as const;
    openInteractive(history, options);
    assert.equal(plots.length, 1);
    assert.deepEqual(plots[0].data, interactiveTraces(history, options));
    const layout = plots[0].layout as { title: string; grid: object; yaxis: object; yaxis2: object };
    assert.equal(layout.title, 'Run A');
    assert.deepEqual(layout.grid, { rows: 1, columns: 2, pattern: 'independent' });
    assert.deepEqual(layout.yaxis, { title: 'loss', type: 'log' });
    assert.deepEqual(layout.yaxis2, { title: 'accuracy', range: [0, 1], tickformat: '.0%' });
  } finally {
    delete require.cache[id];
  }
});
