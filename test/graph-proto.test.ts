import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protoMessages } from '../lib/graph/proto';

/** The bytes of a message, as a plain array to compare. */
function bytes(message: { serializeBinary(): Uint8Array }): number[] {
  return Array.from(message.serializeBinary());
}

/** The bytes of a UTF-8 string. */
const utf8 = (text: string) => Array.from(new TextEncoder().encode(text));

test('protoMessages gives tfjs-node\'s classes, with the DataType codes of TensorFlow\'s types.proto', () => {
  const m = protoMessages();
  const { DT_FLOAT, DT_INT32, DT_UINT8, DT_BOOL } = m.DataType;
  assert.deepEqual([DT_FLOAT, DT_INT32, DT_UINT8, DT_BOOL], [1, 3, 4, 10]);
  for (const name of ['TensorShape', 'Tensor', 'AttrValue', 'NodeDef', 'VersionDef', 'GraphDef', 'TensorInfo', 'SignatureDef', 'MetaGraphDef', 'SavedModel'] as const) {
    assert.equal(typeof m[name], 'function', name);
  }
});

// Protocol buffers' wire format: each field is its tag, (number << 3) | wire type
// (0 varint, 2 length-delimited, 5 32-bit), then its value; the field numbers
// are those of TensorFlow's attr_value.proto, tensor_shape.proto, tensor.proto,
// node_def.proto and saved_model.proto.
test('the setters that GraphBuilder calls write TensorFlow\'s wire format, byte for byte', () => {
  const m = protoMessages();
  const dim = (size: number) => {
    const d = new m.TensorShape.Dim();
    d.setSize(size);
    return d;
  };
  assert.deepEqual(bytes(dim(3)), [0x08, 3]);
  // int64 −1: ten bytes of varint, two's complement.
  assert.deepEqual(bytes(dim(-1)), [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  const shape = new m.TensorShape();
  shape.addDim(dim(2));
  shape.addDim(dim(5));
  assert.deepEqual(bytes(shape), [0x12, 2, 0x08, 2, 0x12, 2, 0x08, 5]);

  const attr = (set: (a: InstanceType<typeof m.AttrValue>) => void) => {
    const a = new m.AttrValue();
    set(a);
    return bytes(a);
  };
  assert.deepEqual(attr((a) => a.setI(5)), [0x18, 5]);
  assert.deepEqual(attr((a) => a.setF(0.5)), [0x25, 0, 0, 0, 0x3f]);
  assert.deepEqual(attr((a) => a.setB(true)), [0x28, 1]);
  assert.deepEqual(attr((a) => a.setType(m.DataType.DT_INT32)), [0x30, 3]);
  assert.deepEqual(attr((a) => a.setS(new TextEncoder().encode('SAME'))), [0x12, 4, ...utf8('SAME')]);
  assert.deepEqual(attr((a) => a.setShape(shape)), [0x3a, 8, ...bytes(shape)]);
  const list = new m.AttrValue.ListValue();
  list.setIList([1, 2, 2, 1]);
  // A packed list of int64: one length-delimited field.
  assert.deepEqual(attr((a) => a.setList(list)), [0x0a, 6, 0x1a, 4, 1, 2, 2, 1]);

  const tensor = new m.Tensor();
  tensor.setDtype(m.DataType.DT_FLOAT);
  tensor.setTensorShape(shape);
  tensor.setTensorContent(new Uint8Array(Float32Array.from([1]).buffer));
  assert.deepEqual(bytes(tensor), [0x08, 1, 0x12, 8, ...bytes(shape), 0x22, 4, 0, 0, 0x80, 0x3f]);

  const node = new m.NodeDef();
  node.setName('n');
  node.setOp('Identity');
  node.addInput('x');
  node.addInput('^y');
  assert.deepEqual(bytes(node), [0x0a, 1, ...utf8('n'), 0x12, 8, ...utf8('Identity'), 0x1a, 1, ...utf8('x'), 0x1a, 2, ...utf8('^y')]);

  const saved = new m.SavedModel();
  saved.setSavedModelSchemaVersion(1);
  assert.deepEqual(bytes(saved), [0x08, 1]);
});

/** What a read NodeDef gives back: the generated getters, which proto.ts does not declare (GraphBuilder only writes). */
interface NodeDefReader {
  getName(): string;
  getOp(): string;
  getInputList(): string[];
  getAttrMap(): { get(key: string): { getS_asU8(): Uint8Array; getList(): { getIList(): number[] } } };
  serializeBinary(): Uint8Array;
}

test('a NodeDef with attributes reads back as it was written, and writes the same bytes again', () => {
  const m = protoMessages();
  const node = new m.NodeDef();
  node.setName('scope/conv');
  node.setOp('Conv2D');
  node.addInput('x');
  const padding = new m.AttrValue();
  padding.setS(new TextEncoder().encode('VALID'));
  node.getAttrMap().set('padding', padding);
  const strides = new m.AttrValue();
  const list = new m.AttrValue.ListValue();
  list.setIList([1, 2, 2, 1]);
  strides.setList(list);
  node.getAttrMap().set('strides', strides);
  const written = node.serializeBinary();
  const read = (m.NodeDef as unknown as { deserializeBinary(b: Uint8Array): NodeDefReader }).deserializeBinary(written);
  assert.deepEqual([read.getName(), read.getOp(), read.getInputList()], ['scope/conv', 'Conv2D', ['x']]);
  assert.equal(new TextDecoder().decode(read.getAttrMap().get('padding').getS_asU8()), 'VALID');
  assert.deepEqual(read.getAttrMap().get('strides').getList().getIList(), [1, 2, 2, 1]);
  assert.deepEqual(read.serializeBinary(), written);
});
