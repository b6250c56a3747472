/** The GraphDef builder of the graph engine (lib/graph/def.ts), for the library's exports. */
export { GraphBuilder } from './graph/def';
export type { Attr, ConstValue, GraphDType, Signature, TensorSpec } from './graph/def';
