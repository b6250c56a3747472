import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tf, backend } from '../lib/tf';
import { GraphBuilder } from '../lib/graph/def';
import { Ops } from '../lib/graph/ops';
import { inTensorFlowMemory, loadSignatures } from '../lib/graph/session';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { trainSteps } from '../lib/train/loop';
import { loadMnist } from '../lib/data/data';
import type { DigitData } from '../lib/types';

const skip = backend.native ? false : 'the graph engine needs the native backend';

/** The number of sessions tfjs-node holds open. */
function openSessions(): number {
  return (tf as unknown as { node: { getNumOfSavedModels(): number } }).node.getNumOfSavedModels();
}

/**
 * A graph of one float32 variable [2] and three signatures: `assign` sets it
 * to the fed x (and gives x back), `read` reads it, `scaled` gives 3·x.
 */
function variableGraph(): Uint8Array {
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const float = { type: 'float32' } as const;
  const handle = g.node('VarHandleOp', [], { dtype: float, shape: { shape: [2] }, container: { s: '' }, shared_name: { s: 'v' } }, 'v');
  const x = g.placeholder('x', 'float32', [2]);
  const assign = g.node('AssignVariableOp', [handle, x.ref], { dtype: float });
  const assigned = g.node('Identity', [x.ref, `^${assign}`], { T: float });
  const read = g.node('ReadVariableOp', [handle], { dtype: float });
  const scaled = ops.mul(x.ref, g.scalar(3));
  return g.toSavedModel({
    assign: { inputs: { x }, outputs: { x: { ref: assigned, dtype: 'float32', shape: [2] } } },
    read: { inputs: {}, outputs: { v: { ref: read, dtype: 'float32', shape: [2] } } },
    scaled: { inputs: { x }, outputs: { y: { ref: scaled, dtype: 'float32', shape: [2] } } },
  });
}

test('inTensorFlowMemory gives a copy of the tensor, its values, type and shape, and leaves nothing else behind', () => {
  for (const x of [tf.tensor2d([[1.5, -2], [0, 3e-8]]), tf.tensor1d(Int32Array.from([7, -1, 2 ** 30]), 'int32')]) {
    const before = tf.memory().numTensors;
    const copy = inTensorFlowMemory(x);
    assert.equal(tf.memory().numTensors, before + 1);
    assert.notEqual(copy, x);
    assert.deepEqual([copy.dtype, copy.shape], [x.dtype, x.shape]);
    assert.deepEqual(copy.dataSync(), x.dataSync());
    copy.dispose();
    // The original stays usable.
    assert.equal(x.isDisposed, false);
    x.dispose();
  }
});

test('loadSignatures loads the signatures asked for into one session: what one assigns, another reads', { skip }, async () => {
  const sessions = openSessions();
  const loaded = await loadSignatures(variableGraph(), ['assign', 'read']);
  assert.deepEqual(Object.keys(loaded).sort(), ['assign', 'read']);
  assert.equal(openSessions(), sessions + 1);
  const before = tf.memory().numTensors;
  const x = tf.tidy(() => inTensorFlowMemory(tf.tensor1d([1.5, -2])));
  tf.dispose(Object.values(loaded.assign.predict({ x })));
  const out = loaded.read.predict({});
  assert.deepEqual(Array.from(out.v.dataSync()), [1.5, -2]);
  tf.dispose([x, ...Object.values(out)]);
  assert.equal(tf.memory().numTensors, before);
  for (const signature of Object.values(loaded)) signature.dispose();
  assert.equal(openSessions(), sessions);
});

test('loadSignatures removes the file it loaded, and on a signature the file lacks disposes what it loaded and rejects', { skip }, async (t) => {
  const made = t.mock.method(fs, 'mkdtempSync');
  const sessions = openSessions();
  const loaded = await loadSignatures(variableGraph(), ['scaled']);
  const x = tf.tidy(() => inTensorFlowMemory(tf.tensor1d([1, -0.5])));
  const { y } = loaded.scaled.predict({ x });
  assert.deepEqual(Array.from(y.dataSync()), [3, -1.5]);
  tf.dispose([x, y]);
  loaded.scaled.dispose();
  await assert.rejects(loadSignatures(variableGraph(), ['read', 'missing']), /missing/);
  assert.equal(openSessions(), sessions);
  const folders = made.mock.calls.map((call) => call.result as string);
  assert.equal(folders.length, 2);
  for (const folder of folders) assert.equal(fs.existsSync(folder), false, `${folder} is left behind`);
});

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
