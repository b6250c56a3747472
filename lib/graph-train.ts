/**
 * The graph engine's public entry point; the engine itself is in lib/graph/.
 */
export { GraphTrainer, graphEngineSupport, crnnStructure } from './graph/build';
export type { CrnnStructure } from './graph/build';
