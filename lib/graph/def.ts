/**
 * A small builder for TensorFlow graphs (GraphDef) and the SavedModel file
 * that carries them, written with the protobuf classes tfjs-node itself uses
 * to read SavedModels back.
 *
 * Why: tfjs-node runs a model op by op, one native call per op, and a CRNN
 * training step is hundreds of small ops, so most of its time goes to
 * per-op overhead. A SavedModel's graph instead runs in one TensorFlow
 * session call, with TensorFlow's graph optimisations (see graph-train.ts).
 */
/** Element types the graphs here use. */
export type GraphDType = 'float32' | 'int32' | 'bool' | 'resource';

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

interface NodeSpec {
  name: string;
  op: string;
  inputs: string[];
  attrs: Record<string, Attr>;
}

// The generated classes are untyped JavaScript; this is the part used here.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Messages = Record<string, any>;

function protoMessages(): Messages {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@tensorflow/tfjs-node/dist/proto/api_pb.js');
}

const DT: Record<GraphDType, string> = {
  float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL', resource: 'DT_RESOURCE',
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
  private readonly nodes: NodeSpec[] = [];
  private readonly names = new Set<string>();
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
    for (let k = 1; this.names.has(name); k++) name = `${wanted}_${k}`;
    this.names.add(name);
    return name;
  }

  /**
   * Adds a node and returns its name, which is also the reference to its first
   * output. Control inputs are written '^name'.
   */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, name = op): string {
    const unique = this.uniqueName(name);
    this.nodes.push({ name: unique, op, inputs, attrs });
    return unique;
  }

  /** A Const node. */
  constant(value: ConstValue, name = 'Const'): string {
    const size = value.shape.reduce((a, b) => a * b, 1);
    if (value.values.length !== size) {
      throw new Error(`constant ${name}: ${value.values.length} values for shape [${value.shape.join(', ')}]`);
    }
    return this.node('Const', [], { dtype: { type: value.dtype }, value: { tensor: value } }, name);
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
    return { ref, dtype, shape };
  }

  /** The SavedModel file (saved_model.pb) holding this graph and its signatures. */
  toSavedModel(signatures: Record<string, Signature>): Uint8Array {
    const m = protoMessages();
    const graph = new m.GraphDef();
    for (const spec of this.nodes) graph.addNode(nodeDef(m, spec));
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

function tensorShape(m: Messages, shape: number[]): any {
  const proto = new m.TensorShape();
  for (const size of shape) {
    const dim = new m.TensorShape.Dim();
    dim.setSize(size);
    proto.addDim(dim);
  }
  return proto;
}

function tensorProto(m: Messages, value: ConstValue): any {
  const proto = new m.Tensor();
  proto.setDtype(m.DataType[DT[value.dtype]]);
  proto.setTensorShape(tensorShape(m, value.shape));
  const bytes = value.dtype === 'float32' ? Float32Array.from(value.values) : Int32Array.from(value.values);
  // TensorFlow reads tensor_content as little-endian bytes, as x86 and ARM store them.
  proto.setTensorContent(new Uint8Array(bytes.buffer));
  return proto;
}

function attrValue(m: Messages, attr: Attr): any {
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

function nodeDef(m: Messages, spec: NodeSpec): any {
  const proto = new m.NodeDef();
  proto.setName(spec.name);
  proto.setOp(spec.op);
  for (const input of spec.inputs) proto.addInput(input);
  for (const [key, attr] of Object.entries(spec.attrs)) proto.getAttrMap().set(key, attrValue(m, attr));
  return proto;
}

function signatureDef(m: Messages, signature: Signature): any {
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
/* eslint-enable @typescript-eslint/no-explicit-any */

