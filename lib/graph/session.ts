/**
 * Running graphs written with GraphBuilder: the SavedModel file is loaded
 * through tfjs-node, one signature at a time; signatures loaded from one
 * folder share one session, hence its variables.
 */
import { tf } from '../tf';
import type * as tfTypes from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SERVE_TAG } from './def';

/**
 * A copy of `x` in TensorFlow's own memory, for feeding a session.
 *
 * tfjs-node hands TensorFlow the JavaScript memory of a tensor made from
 * JavaScript data (`tf.tensor(array)`) without copying it. Eager ops cope,
 * but fed to a session run such tensors crashed the process within a few
 * hundred runs (unaligned buffers in oneDNN kernels, corrupted V8 memory).
 * The output of a TensorFlow op is allocated by TensorFlow, aligned and
 * owned by it; an addition of 0 is the cheapest such op.
 */
export function inTensorFlowMemory(x: tfTypes.Tensor): tfTypes.Tensor {
  return tf.tidy(() => tf.add(x, tf.scalar(0, x.dtype)));
}

/** The tensors a loaded signature takes and gives, by signature key. */
export type NamedTensors = Record<string, tfTypes.Tensor>;

/** A signature of a loaded SavedModel (tfjs-node's TFSavedModel, the part used here). */
export interface LoadedSignature {
  predict(inputs: NamedTensors): NamedTensors;
  dispose(): void;
}

type LoadSavedModel = (dir: string, tags: string[], signature: string) => Promise<LoadedSignature>;

/**
 * Loads the signatures `names` of a SavedModel file (GraphBuilder.toSavedModel)
 * into one session; the caller disposes them.
 */
export async function loadSignatures<Name extends string>(
  savedModel: Uint8Array, names: readonly Name[],
): Promise<Record<Name, LoadedSignature>> {
  const loadSavedModel = (tf as unknown as { node: { loadSavedModel: LoadSavedModel } }).node.loadSavedModel;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-graph-'));
  const loaded: Partial<Record<Name, LoadedSignature>> = {};
  try {
    fs.writeFileSync(path.join(dir, 'saved_model.pb'), savedModel);
    for (const name of names) loaded[name] = await loadSavedModel(dir, [SERVE_TAG], name);
  } catch (err) {
    for (const signature of Object.values<LoadedSignature | undefined>(loaded)) signature?.dispose();
    throw err;
  } finally {
    // The session holds the graph; the file is no longer needed.
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return loaded as Record<Name, LoadedSignature>;
}
