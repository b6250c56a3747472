import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib/tf';
import { GraphBuilder, type Signature } from '../lib/graph/def';
import { Ops } from '../lib/graph/ops';
import { gradients } from '../lib/graph/autodiff';
import { inTensorFlowMemory, loadSignatures } from '../lib/graph/session';

const skip = backend.native ? false : 'graphs run on the native backend';

/** Runs a graph's one signature 'run' on float inputs; returns its outputs' values. */
async function run(g: GraphBuilder, signature: Signature, feeds: Record<string, number[]>): Promise<Record<string, number[]>> {
  const loaded = await loadSignatures(g.toSavedModel({ run: signature }), ['run']);
  try {
    return tf.tidy(() => {
      const inputs = Object.fromEntries(Object.entries(feeds).map(([key, values]) => [
        key, inTensorFlowMemory(tf.tensor(values, signature.inputs[key].shape)),
      ]));
      const out = loaded.run.predict(inputs);
      return Object.fromEntries(Object.entries(out).map(([key, t]) => [key, Array.from(t.dataSync())]));
    });
  } finally {
    loaded.run.dispose();
  }
}

test('the sweep sums the gradients of a tensor used twice and gives zeros to a weight no path reaches', { skip }, async () => {
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const x = g.placeholder('x', 'float32', [3]);
  const idle = g.placeholder('idle', 'float32', [2]);
  // y = Σ (x·x + tanh(x)): dy/dx = 2x + 1 − tanh²(x).
  const y = ops.sum(ops.add(ops.mul(x.ref, x.ref), ops.tanh(x.ref)));
  const [dx, dIdle] = gradients(ops, [y], [x.ref, idle.ref]);
  assert.equal(g.producer(dIdle).op, 'ZerosLike');
  const out = await run(g, {
    inputs: { x, idle },
    outputs: { dx: { ref: dx, dtype: 'float32', shape: [3] }, dIdle: { ref: dIdle, dtype: 'float32', shape: [2] } },
  }, { x: [0.5, -1, 2], idle: [7, 8] });
  [0.5, -1, 2].forEach((v, i) => assert.ok(Math.abs(out.dx[i] - (2 * v + 1 - Math.tanh(v) ** 2)) < 1e-6, `dx[${i}] = ${out.dx[i]}`));
  assert.deepEqual(out.dIdle, [0, 0]);
});

test('the sweep refuses an op without a gradient rule on the way, naming it', () => {
  const g = new GraphBuilder();
  const ops = new Ops(g);
  const x = g.placeholder('x', 'float32', [3]);
  const rounded = g.node('Round', [x.ref], { T: { type: 'float32' } });
  g.setShape(rounded, [3]);
  assert.throws(() => gradients(ops, [ops.sum(rounded)], [x.ref]), /no gradient rule for Round \(node Round\)/);
  // Off the way from x to y it does not matter.
  const w = g.placeholder('w', 'float32', [3]);
  const roundedW = g.node('Round', [w.ref], { T: { type: 'float32' } });
  g.setShape(roundedW, [3]);
  assert.doesNotThrow(() => gradients(ops, [ops.sum(ops.add(x.ref, roundedW))], [x.ref]));
});
