/**
 * The graph engine's public entry point; the engine itself is in lib/graph/.
 */
export { GraphTrainer } from './graph/trainer';
export { graphEngineSupport, crnnStructure } from './graph/build';
export type { CrnnStructure } from './graph/build';
