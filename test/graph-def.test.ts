import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, outputRef, parseRef, SERVE_TAG } from '../lib/graph/def';

/** tfjs-node's generated protobuf classes, whose readers (deserializeBinary, the getters) proto.ts leaves undeclared. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const api = require('@tensorflow/tfjs-node/dist/proto/api_pb.js');

test('parseRef and outputRef read and write \'name\' and \'name:k\', the first output without its index', () => {
  assert.deepEqual(parseRef('scope/node'), { node: 'scope/node', index: 0 });
  assert.deepEqual(parseRef('scope/node:2'), { node: 'scope/node', index: 2 });
  assert.equal(outputRef('scope/node', 0), 'scope/node');
  assert.equal(outputRef('scope/node', 3), 'scope/node:3');
  for (const ref of ['a', 'a/b:1', 'c:12']) {
    const { node, index } = parseRef(ref);
    assert.equal(outputRef(node, index), ref);
  }
});

test('node names are unique, prefixed by the scopes they are written in, and a scope ends even when its building throws', () => {
  const g = new GraphBuilder();
  assert.equal(g.node('NoOp', []), 'NoOp');
  assert.equal(g.node('NoOp', []), 'NoOp_1');
  assert.equal(g.node('NoOp', [], {}, 'step'), 'step');
  assert.equal(g.inScope('layer', () => g.node('NoOp', [])), 'layer/NoOp');
  assert.equal(g.inScope('layer', () => g.inScope('cell', () => g.node('NoOp', []))), 'layer/cell/NoOp');
  assert.equal(g.inScope('layer', () => g.node('NoOp', [])), 'layer/NoOp_1');
  assert.throws(() => g.inScope('broken', () => {
    throw new Error('no such layer');
  }), /no such layer/);
  assert.equal(g.node('NoOp', []), 'NoOp_2');
  assert.deepEqual(g.nodes.map((n) => n.name), ['NoOp', 'NoOp_1', 'step', 'layer/NoOp', 'layer/cell/NoOp', 'layer/NoOp_1', 'NoOp_2']);
});

test('the builder keeps each node\'s definition and each output\'s static shape, under either spelling of the reference', () => {
  const g = new GraphBuilder();
  const x = g.placeholder('x', 'float32', [-1, 3]);
  assert.deepEqual(x, { ref: 'x', dtype: 'float32', shape: [-1, 3] });
  assert.deepEqual(g.shapeOf('x:0'), [-1, 3]);
  const split = g.node('Split', [x.ref, '^x'], { num_split: { i: 2 } });
  assert.deepEqual(g.nodeSpec(split), { name: 'Split', op: 'Split', inputs: ['x', '^x'], attrs: { num_split: { i: 2 } } });
  assert.equal(g.producer(`${split}:1`), g.nodeSpec(split));
  const shape = [-1, 2];
  g.setShape(`${split}:1`, shape);
  shape[1] = 5; // the builder keeps its own copy
  assert.deepEqual(g.shapeOf('Split:1'), [-1, 2]);
  g.setShape('Split:0', [7]);
  assert.deepEqual(g.shapeOf('Split'), [7]);
  assert.equal(g.shapeOf('Split:2'), undefined);
  assert.throws(() => g.nodeSpec('nothing'), /the graph has no node 'nothing'/);
  assert.throws(() => g.producer('nothing:1'), /the graph has no node 'nothing'/);
});

test('constants keep their values and shapes, which constValues reads back, and refuse a wrong count of values', () => {
  const g = new GraphBuilder();
  const axes = g.ints([0, 2], 'axes');
  assert.deepEqual([g.constValues(axes), g.shapeOf(axes)], [[0, 2], [2]]);
  const half = g.scalar(0.5);
  assert.deepEqual([g.constValues(half), g.shapeOf(half)], [[0.5], []]);
  assert.deepEqual(g.nodeSpec(half).attrs.dtype, { type: 'float32' });
  const matrix = g.constant({ dtype: 'float32', shape: [2, 2], values: Float32Array.from([1, 2, 3, 4]) });
  assert.deepEqual(g.constValues(matrix), [1, 2, 3, 4]);
  assert.equal(g.constValues(g.placeholder('x', 'float32', [2]).ref), undefined);
  assert.equal(g.constValues('absent'), undefined);
  assert.throws(() => g.constant({ dtype: 'int32', shape: [2, 2], values: [1, 2, 3] }, 'bad'), /constant bad: 3 values for shape \[2, 2\]/);
});

test('toSavedModel writes the nodes, their attributes and the signatures as TensorFlow reads them back', () => {
  const g = new GraphBuilder();
  const x = g.placeholder('x', 'float32', [-1, 3]);
  const w = g.constant({ dtype: 'float32', shape: [3], values: [0.5, -1, 2] }, 'w');
  const node = g.node('Custom', [x.ref, w, `^${w}`], {
    i: { i: -7 }, f: { f: 0.25 }, b: { b: true }, s: { s: 'SAME' }, ints: { ints: [1, 2, 2, 1] }, type: { type: 'int32' },
    shape: { shape: [2, -1] }, bool: { type: 'bool' }, bytes: { type: 'uint8' },
  }, 'custom');
  const saved = api.SavedModel.deserializeBinary(g.toSavedModel({
    run: {
      inputs: { x },
      outputs: { y: { ref: node, dtype: 'float32', shape: [-1, 3] }, count: { ref: `${node}:1`, dtype: 'int32', shape: [] } },
    },
  }));
  const { DataType } = api;
  const dims = (shape: { getDimList(): { getSize(): number }[] }) => shape.getDimList().map((d) => d.getSize());
  assert.equal(saved.getSavedModelSchemaVersion(), 1);
  assert.equal(saved.getMetaGraphsList().length, 1);
  const [meta] = saved.getMetaGraphsList();
  assert.deepEqual(meta.getMetaInfoDef().getTagsList(), [SERVE_TAG]);
  const graph = meta.getGraphDef();
  assert.equal(graph.getVersions().getProducer(), 1000);
  const nodes = graph.getNodeList();
  assert.deepEqual(nodes.map((n: { getName(): string; getOp(): string }) => [n.getName(), n.getOp()]),
    [['x', 'Placeholder'], ['w', 'Const'], ['custom', 'Custom']]);
  const attr = (k: number, key: string) => nodes[k].getAttrMap().get(key);
  assert.equal(attr(0, 'dtype').getType(), DataType.DT_FLOAT);
  assert.deepEqual(dims(attr(0, 'shape').getShape()), [-1, 3]);
  const tensor = attr(1, 'value').getTensor();
  assert.equal(tensor.getDtype(), DataType.DT_FLOAT);
  assert.deepEqual(dims(tensor.getTensorShape()), [3]);
  // The values as little-endian float32 bytes.
  assert.deepEqual(Array.from(new Float32Array(Uint8Array.from(tensor.getTensorContent_asU8()).buffer)), [0.5, -1, 2]);
  assert.deepEqual(nodes[2].getInputList(), ['x', 'w', '^w']);
  assert.equal(attr(2, 'i').getI(), -7);
  assert.equal(attr(2, 'f').getF(), 0.25);
  assert.equal(attr(2, 'b').getB(), true);
  assert.equal(new TextDecoder().decode(attr(2, 's').getS_asU8()), 'SAME');
  assert.deepEqual(attr(2, 'ints').getList().getIList(), [1, 2, 2, 1]);
  assert.deepEqual(dims(attr(2, 'shape').getShape()), [2, -1]);
  assert.deepEqual(['type', 'bool', 'bytes'].map((key) => attr(2, key).getType()), [DataType.DT_INT32, DataType.DT_BOOL, DataType.DT_UINT8]);
  const signature = meta.getSignatureDefMap().get('run');
  assert.equal(signature.getMethodName(), 'tensorflow/serving/predict');
  const info = (t: { getName(): string; getDtype(): number; getTensorShape(): { getDimList(): { getSize(): number }[] } }) =>
    [t.getName(), t.getDtype(), dims(t.getTensorShape())];
  assert.deepEqual(info(signature.getInputsMap().get('x')), ['x:0', DataType.DT_FLOAT, [-1, 3]]);
  assert.deepEqual(info(signature.getOutputsMap().get('y')), ['custom:0', DataType.DT_FLOAT, [-1, 3]]);
  assert.deepEqual(info(signature.getOutputsMap().get('count')), ['custom:1', DataType.DT_INT32, []]);
});
