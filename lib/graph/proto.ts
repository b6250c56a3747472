/**
 * The typed view of the protobuf classes that tfjs-node ships for TensorFlow's
 * GraphDef and SavedModel (`dist/proto/api_pb.js`, generated JavaScript with
 * no declarations). Only the setters that `GraphBuilder.toSavedModel` calls are
 * declared; the compiler then checks every use against them.
 */

/** A message with a map field (`getAttrMap()`, `getInputsMap()`): a jspb Map. */
interface ProtoMap<V> {
  set(key: string, value: V): void;
}

interface Message {
  serializeBinary(): Uint8Array;
}

export interface TensorShapeDim extends Message { setSize(size: number): void }
export interface TensorShape extends Message { addDim(dim: TensorShapeDim): void }

export interface TensorProto extends Message {
  setDtype(dtype: number): void;
  setTensorShape(shape: TensorShape): void;
  setTensorContent(bytes: Uint8Array): void;
}

export interface ListValue extends Message { setIList(values: number[]): void }

export interface AttrValue extends Message {
  setType(dtype: number): void;
  setShape(shape: TensorShape): void;
  setI(value: number): void;
  setF(value: number): void;
  setB(value: boolean): void;
  setS(value: Uint8Array): void;
  setList(list: ListValue): void;
  setTensor(tensor: TensorProto): void;
}

export interface NodeDef extends Message {
  setName(name: string): void;
  setOp(op: string): void;
  addInput(input: string): void;
  getAttrMap(): ProtoMap<AttrValue>;
}

export interface VersionDef extends Message { setProducer(version: number): void }

export interface GraphDef extends Message {
  addNode(node: NodeDef): void;
  setVersions(versions: VersionDef): void;
}

export interface TensorInfo extends Message {
  setName(name: string): void;
  setDtype(dtype: number): void;
  setTensorShape(shape: TensorShape): void;
}

export interface SignatureDef extends Message {
  setMethodName(name: string): void;
  getInputsMap(): ProtoMap<TensorInfo>;
  getOutputsMap(): ProtoMap<TensorInfo>;
}

export interface MetaInfoDef extends Message { addTags(tag: string): void }

export interface MetaGraphDef extends Message {
  setMetaInfoDef(info: MetaInfoDef): void;
  setGraphDef(graph: GraphDef): void;
  getSignatureDefMap(): ProtoMap<SignatureDef>;
}

export interface SavedModel extends Message {
  setSavedModelSchemaVersion(version: number): void;
  addMetaGraphs(metaGraph: MetaGraphDef): void;
}

type Constructor<T> = new () => T;

/** The classes of `api_pb.js` used to write a SavedModel, and TensorFlow's DataType enum. */
export interface ProtoMessages {
  DataType: Record<string, number>;
  TensorShape: Constructor<TensorShape> & { Dim: Constructor<TensorShapeDim> };
  Tensor: Constructor<TensorProto>;
  AttrValue: Constructor<AttrValue> & { ListValue: Constructor<ListValue> };
  NodeDef: Constructor<NodeDef>;
  VersionDef: Constructor<VersionDef>;
  GraphDef: Constructor<GraphDef>;
  TensorInfo: Constructor<TensorInfo>;
  SignatureDef: Constructor<SignatureDef>;
  MetaGraphDef: Constructor<MetaGraphDef> & { MetaInfoDef: Constructor<MetaInfoDef> };
  SavedModel: Constructor<SavedModel>;
}

/** tfjs-node's generated classes, loaded on first use. */
export function protoMessages(): ProtoMessages {
  // The file is plain CommonJS without declarations: required, then typed by the interface above.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@tensorflow/tfjs-node/dist/proto/api_pb.js') as ProtoMessages;
}
