/**
 * A small builder for TensorFlow graphs (GraphDef) and the SavedModel file
 * that carries them, written with the protobuf classes tfjs-node itself uses
 * to read SavedModels back.
 *
 * Why: tfjs-node runs a model op by op, one native call per op, and a CRNN
 * training step is hundreds of small ops, so most of its time goes to
 * per-op overhead. A SavedModel's graph instead runs in one TensorFlow
 * session call, with TensorFlow's graph optimisations (see trainer.ts).
 *
 * Besides the nodes, the builder keeps what the gradient sweep (autodiff.ts)
 * needs to know about them: each node's definition, looked up by name, and
 * the static shape of each output that ops.ts could infer.
 */
import { protoMessages, type ProtoMessages } from './proto';
import type * as proto from './proto';

/** Element types the graphs here use. */
export type GraphDType = 'float32' | 'int32' | 'uint8' | 'bool';

/** A node attribute value, tagged by kind as in TensorFlow's AttrValue. */
export type Attr =
  | { type: GraphDType }
  | { shape: number[] }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { s: string }
  | { ints: number[] }
  | { tensor: ConstValue };

/** The value of a Const node. */
export interface ConstValue {
  dtype: 'float32' | 'int32';
  shape: number[];
  values: ArrayLike<number>;
}

/** A tensor a signature exposes: the graph tensor, its type and shape (-1: any size). */
export interface TensorSpec {
  ref: string;
  dtype: 'float32' | 'int32';
  shape: number[];
}

/** Named inputs and outputs of one signature, the unit tfjs-node loads and runs. */
export interface Signature {
  inputs: Record<string, TensorSpec>;
  outputs: Record<string, TensorSpec>;
}

/** One node of the graph. */
export interface NodeSpec {
  name: string;
  op: string;
  /** Its inputs: outputs of other nodes ('name' or 'name:k'), control inputs as '^name'. */
  inputs: string[];
  attrs: Record<string, Attr>;
}

/**
 * A static shape: one size per dimension, -1 where the size is known only
 * when the graph runs (the batch).
 */
export type Shape = number[];

/** The node and output index a reference 'name' or 'name:k' points to. */
export function parseRef(ref: string): { node: string; index: number } {
  const colon = ref.lastIndexOf(':');
  if (colon < 0) return { node: ref, index: 0 };
  return { node: ref.slice(0, colon), index: Number(ref.slice(colon + 1)) };
}

/** The reference to output `index` of node `node`: 'name' for the first output, else 'name:k'. */
export function outputRef(node: string, index: number): string {
  return index === 0 ? node : `${node}:${index}`;
}

/** The same reference written as `outputRef` writes it ('name:0' becomes 'name'). */
function canonical(ref: string): string {
  const { node, index } = parseRef(ref);
  return outputRef(node, index);
}

const DT: Record<GraphDType, string> = {
  float32: 'DT_FLOAT', int32: 'DT_INT32', uint8: 'DT_UINT8', bool: 'DT_BOOL',
};

/**
 * TensorFlow's graph version the graphs are written for. Producer versions are
 * forward compatible; this one is old enough for every libtensorflow that
 * tfjs-node 4 may load (2.9 and later).
 */
const GRAPH_PRODUCER_VERSION = 1000;

/** The SavedModel tag the graphs are saved and loaded under. */
export const SERVE_TAG = 'serve';

/** Builds a graph node by node; node outputs are referred to as 'name' or 'name:k'. */
export class GraphBuilder {
  private readonly nodeList: NodeSpec[] = [];
  private readonly byName = new Map<string, NodeSpec>();
  private readonly shapes = new Map<string, Shape>();
  private scope = '';

  /** Runs `build` with node names prefixed by `scope/`. */
  inScope<T>(scope: string, build: () => T): T {
    const outer = this.scope;
    this.scope = `${outer}${scope}/`;
    try {
      return build();
    } finally {
      this.scope = outer;
    }
  }

  private uniqueName(base: string): string {
    const wanted = `${this.scope}${base}`;
    let name = wanted;
    for (let k = 1; this.byName.has(name); k++) name = `${wanted}_${k}`;
    return name;
  }

  /**
   * Adds a node and returns its name, which is also the reference to its first
   * output. Control inputs are written '^name'.
   */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, name = op): string {
    const unique = this.uniqueName(name);
    const spec = { name: unique, op, inputs, attrs };
    this.nodeList.push(spec);
    this.byName.set(unique, spec);
    return unique;
  }

  /** The node called `name`. */
  nodeSpec(name: string): NodeSpec {
    const spec = this.byName.get(name);
    if (spec === undefined) throw new Error(`the graph has no node '${name}'`);
    return spec;
  }

  /** The node whose output `ref` is. */
  producer(ref: string): NodeSpec {
    return this.nodeSpec(parseRef(ref).node);
  }

  /** Every node, in the order they were added. */
  get nodes(): readonly NodeSpec[] {
    return this.nodeList;
  }

  /** Records the static shape of output `ref`. */
  setShape(ref: string, shape: Shape): void {
    this.shapes.set(canonical(ref), [...shape]);
  }

  /** The static shape of output `ref`, if recorded. */
  shapeOf(ref: string): Shape | undefined {
    return this.shapes.get(canonical(ref));
  }

  /** The values of `ref` when it is a Const node's output, else undefined. */
  constValues(ref: string): number[] | undefined {
    const spec = this.byName.get(parseRef(ref).node);
    const value = spec?.op === 'Const' ? spec.attrs.value : undefined;
    return value !== undefined && 'tensor' in value ? Array.from(value.tensor.values) : undefined;
  }

  /** A Const node. */
  constant(value: ConstValue, name = 'Const'): string {
    const size = value.shape.reduce((a, b) => a * b, 1);
    if (value.values.length !== size) {
      throw new Error(`constant ${name}: ${value.values.length} values for shape [${value.shape.join(', ')}]`);
    }
    const ref = this.node('Const', [], { dtype: { type: value.dtype }, value: { tensor: value } }, name);
    this.setShape(ref, value.shape);
    return ref;
  }

  /** An int32 vector constant, as shapes and axes are given to ops. */
  ints(values: number[], name = 'Const'): string {
    return this.constant({ dtype: 'int32', shape: [values.length], values }, name);
  }

  /** A float32 scalar constant. */
  scalar(value: number, name = 'Const'): string {
    return this.constant({ dtype: 'float32', shape: [], values: [value] }, name);
  }

  /** A Placeholder: an input fed when the graph runs. */
  placeholder(name: string, dtype: 'float32' | 'int32', shape: number[]): TensorSpec {
    const ref = this.node('Placeholder', [], { dtype: { type: dtype }, shape: { shape } }, name);
    this.setShape(ref, shape);
    return { ref, dtype, shape };
  }

  /** The SavedModel file (saved_model.pb) holding this graph and its signatures. */
  toSavedModel(signatures: Record<string, Signature>): Uint8Array {
    const m = protoMessages();
    const graph = new m.GraphDef();
    for (const spec of this.nodeList) graph.addNode(nodeDef(m, spec));
    const versions = new m.VersionDef();
    versions.setProducer(GRAPH_PRODUCER_VERSION);
    graph.setVersions(versions);

    const info = new m.MetaGraphDef.MetaInfoDef();
    info.addTags(SERVE_TAG);
    const metaGraph = new m.MetaGraphDef();
    metaGraph.setMetaInfoDef(info);
    metaGraph.setGraphDef(graph);
    for (const [key, signature] of Object.entries(signatures)) {
      metaGraph.getSignatureDefMap().set(key, signatureDef(m, signature));
    }
    const savedModel = new m.SavedModel();
    savedModel.setSavedModelSchemaVersion(1);
    savedModel.addMetaGraphs(metaGraph);
    return savedModel.serializeBinary();
  }
}

function tensorShape(m: ProtoMessages, shape: number[]): proto.TensorShape {
  const proto = new m.TensorShape();
  for (const size of shape) {
    const dim = new m.TensorShape.Dim();
    dim.setSize(size);
    proto.addDim(dim);
  }
  return proto;
}

function tensorProto(m: ProtoMessages, value: ConstValue): proto.TensorProto {
  const proto = new m.Tensor();
  proto.setDtype(m.DataType[DT[value.dtype]]);
  proto.setTensorShape(tensorShape(m, value.shape));
  const bytes = value.dtype === 'float32' ? Float32Array.from(value.values) : Int32Array.from(value.values);
  // TensorFlow reads tensor_content as little-endian bytes, as x86 and ARM store them.
  proto.setTensorContent(new Uint8Array(bytes.buffer));
  return proto;
}

function attrValue(m: ProtoMessages, attr: Attr): proto.AttrValue {
  const proto = new m.AttrValue();
  if ('type' in attr) proto.setType(m.DataType[DT[attr.type]]);
  else if ('shape' in attr) proto.setShape(tensorShape(m, attr.shape));
  else if ('i' in attr) proto.setI(attr.i);
  else if ('f' in attr) proto.setF(attr.f);
  else if ('b' in attr) proto.setB(attr.b);
  else if ('s' in attr) proto.setS(new TextEncoder().encode(attr.s));
  else if ('ints' in attr) {
    const list = new m.AttrValue.ListValue();
    list.setIList(attr.ints);
    proto.setList(list);
  } else proto.setTensor(tensorProto(m, attr.tensor));
  return proto;
}

function nodeDef(m: ProtoMessages, spec: NodeSpec): proto.NodeDef {
  const proto = new m.NodeDef();
  proto.setName(spec.name);
  proto.setOp(spec.op);
  for (const input of spec.inputs) proto.addInput(input);
  for (const [key, attr] of Object.entries(spec.attrs)) proto.getAttrMap().set(key, attrValue(m, attr));
  return proto;
}

function signatureDef(m: ProtoMessages, signature: Signature): proto.SignatureDef {
  const proto = new m.SignatureDef();
  proto.setMethodName('tensorflow/serving/predict');
  const tensorInfo = (spec: TensorSpec) => {
    const info = new m.TensorInfo();
    info.setName(spec.ref.includes(':') ? spec.ref : `${spec.ref}:0`);
    info.setDtype(m.DataType[DT[spec.dtype]]);
    info.setTensorShape(tensorShape(m, spec.shape));
    return info;
  };
  for (const [key, spec] of Object.entries(signature.inputs)) proto.getInputsMap().set(key, tensorInfo(spec));
  for (const [key, spec] of Object.entries(signature.outputs)) proto.getOutputsMap().set(key, tensorInfo(spec));
  return proto;
}

