/**
 * The TensorFlow.js engine used by the whole library.
 *
 * `@tensorflow/tfjs-node` binds the native TensorFlow C library and is the
 * engine this project is built for. If its native addon cannot be loaded
 * (for example the install could not fetch libtensorflow), the library falls
 * back to the pure-JavaScript CPU backend of `@tensorflow/tfjs`, with one
 * warning: everything still runs, roughly 500 times slower for training.
 *
 * Set `CRNN_BACKEND=js` to force the pure-JavaScript backend. oneDNN's CPU
 * kernels are on unless `TF_ENABLE_ONEDNN_OPTS=0` is set.
 *
 * The model code (lib/model/) imports '@tensorflow/tfjs' itself, so that it
 * also runs in a browser: tfjs-node must extend that very copy (npm installs
 * one), or the model's layers would live in another engine. Checked here.
 */
import type * as tfTypes from '@tensorflow/tfjs';

export type Tf = typeof tfTypes;

export interface BackendInfo {
  /** The tfjs backend name: 'tensorflow' (native) or 'cpu' (pure JS). */
  name: string;
  /** True when the native TensorFlow library is in use. */
  native: boolean;
  /** Why the native backend is not in use, when it is not. */
  fallbackReason?: string;
}

/** @throws Error when tfjs-node runs on another copy of '@tensorflow/tfjs' than the one lib/model/ imports. */
function checkOneEngine(native: Tf): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const shared = require('@tensorflow/tfjs') as Tf;
  if (shared.engine() !== native.engine()) {
    throw new Error('@tensorflow/tfjs-node uses its own copy of @tensorflow/tfjs, not the one the model code ' +
      'imports; reinstall so that npm keeps one (both must be the same version)');
  }
}

/** tfjs-node, or why it cannot be loaded. */
function requireNative(): Tf | string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@tensorflow/tfjs-node') as Tf;
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return `@tensorflow/tfjs-node could not be loaded (${message}); run \`npm run install-libtensorflow\` to build it`;
  }
}

function loadEngine(): { tf: Tf; info: BackendInfo } {
  // TensorFlow's C++ info lines (CPU features, every SavedModel load of the
  // graph engine) go to stderr; keep warnings and errors unless the user chose.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  // TensorFlow turns its oneDNN kernels on by default only on CPUs with
  // AVX-512; on AVX2-only CPUs (AMD EPYC, older Intel) they make a training
  // step about 2× faster. On unless the user chose: TF_ENABLE_ONEDNN_OPTS=0
  // turns them off. Read by libtensorflow, so it must be set before loading it.
  process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
  let reason: string;
  if (process.env.CRNN_BACKEND === 'js') {
    reason = 'CRNN_BACKEND=js was set';
  } else {
    const native = requireNative();
    // A second copy of tfjs is an install to fix, not a reason to fall back.
    if (typeof native !== 'string') {
      checkOneEngine(native);
      return { tf: native, info: { name: native.getBackend(), native: true } };
    }
    reason = native;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tf = require('@tensorflow/tfjs') as Tf;
  // The cpu backend is registered synchronously, so the promise resolves at once.
  void tf.setBackend('cpu');
  process.emitWarning(
    `Using the pure-JavaScript TensorFlow.js backend: ${reason}. ` +
      'Training will be several hundred times slower than on the native backend.',
    { code: 'CRNN_JS_BACKEND' },
  );
  return { tf, info: { name: tf.getBackend(), native: false, fallbackReason: reason } };
}

const engine = loadEngine();

/**
 * The tfjs namespace, native when possible. Node code imports `tf` from here;
 * only the model code (lib/model/), which also runs in a browser, imports
 * '@tensorflow/tfjs' itself (the same engine, see the top of this file).
 */
export const tf: Tf = engine.tf;

/** Which backend is active, and why, if it is not the native one. */
export const backend: BackendInfo = engine.info;
