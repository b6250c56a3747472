/**
 * Writes the graph engine's training step for the benchmark's model as a
 * SavedModel folder, for `bench/peers/profile_step.py` to trace beside the
 * TF1 peer's step: the graph is the one `trainSteps` runs (lib/graph/build.ts,
 * max-pool first), so its op times are the project's own.
 *
 *   node dist/bench/step-graph.js <dir> [--shared] [--seq-length 2]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildCrnn } from '../lib/model/build';
import { buildTrainingGraph } from '../lib/graph/build';

/** What profile_step.py needs besides the SavedModel: the signatures' tensors. */
export interface StepGraphInfo {
  seqLength: number;
  shared: boolean;
  /** Signature name → input or output name → its tensor's name in the graph. */
  signatures: Record<string, { inputs: Record<string, string>; outputs: Record<string, string> }>;
  /** The `assign` signature's inputs with their shapes: every variable's initial value. */
  assign: Record<string, number[]>;
}

/** Writes `saved_model.pb` and `step-graph.json` (a `StepGraphInfo`) into `dir`. */
export function writeStepGraph(dir: string, options: { seqLength: number; shared: boolean }): StepGraphInfo {
  const model = buildCrnn({ seqLength: options.seqLength, sharedCnn: options.shared });
  try {
    const graph = buildTrainingGraph(model);
    const names = (specs: Record<string, { ref: string }>) =>
      Object.fromEntries(Object.entries(specs).map(([key, spec]) => [key, spec.ref]));
    const info: StepGraphInfo = {
      ...options,
      signatures: Object.fromEntries(Object.entries(graph.signatures).map(([name, signature]) =>
        [name, { inputs: names(signature.inputs), outputs: names(signature.outputs) }])),
      assign: Object.fromEntries(Object.entries(graph.signatures.assign.inputs).map(([key, spec]) => [key, spec.shape])),
    };
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'saved_model.pb'), graph.savedModel);
    fs.writeFileSync(path.join(dir, 'step-graph.json'), `${JSON.stringify(info, null, 2)}\n`);
    return info;
  } finally {
    model.dispose();
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith('--'));
  const at = args.indexOf('--seq-length');
  const seqLength = at < 0 ? 2 : Number(args[at + 1]);
  if (dir === undefined || !Number.isInteger(seqLength) || seqLength < 1) {
    console.error('usage: node dist/bench/step-graph.js <dir> [--shared] [--seq-length T]');
    process.exit(2);
  }
  writeStepGraph(dir, { seqLength, shared: args.includes('--shared') });
  console.log(`wrote the graph engine's training step to ${dir}`);
}
