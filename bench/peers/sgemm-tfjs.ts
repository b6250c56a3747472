/**
 * The sgemm probe of the benchmark where numpy is not at hand: `tf.matMul` of
 * two n × n float32 matrices on the library's backend (lib/tf.ts, so with the
 * oneDNN setting and threads the tfjs-node peer has), the product read back
 * each time. Prints the same JSON object as sgemm_numpy.py.
 *
 *   node dist/bench/peers/sgemm-tfjs.js [--n 2048] [--repeats 5]
 */
import { Command, InvalidArgumentError } from 'commander';
import type { SgemmReport } from '../protocol';

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected an integer >= 1, got "${value}"`);
  return n;
}

export function runTfjsSgemm(n: number, repeats: number): SgemmReport {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { tf, backend } = require('../../lib/tf') as typeof import('../../lib/tf');
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const product = () => {
    const c = tf.matMul(a, b);
    // Reading one value waits for the product without copying n² floats to JavaScript.
    const first = c.slice([0, 0], [1, 1]);
    first.dataSync();
    tf.dispose([c, first]);
  };
  try {
    product();
    const seconds: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const start = performance.now();
      product();
      seconds.push((performance.now() - start) / 1000);
    }
    const best = Math.min(...seconds);
    const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
    const threads = Number(process.env.TF_NUM_INTRAOP_THREADS);
    return {
      probe: 'tfjs',
      library: `tfjs ${tf.version['tfjs-core']} (${backend.name} backend` +
        `${binding?.TF_Version ? `, libtensorflow ${binding.TF_Version}` : ''})`,
      n, repeats, seconds, bestSeconds: best,
      gflops: (2 * n ** 3) / best / 1e9,
      threads: Number.isInteger(threads) && threads > 0 ? threads : null,
    };
  } finally {
    tf.dispose([a, b]);
  }
}

if (require.main === module) {
  const o = new Command()
    .description('sgemm probe: tf.matMul of two n × n float32 matrices')
    .option('--n <n>', 'matrix size', integer, 2048)
    .option('--repeats <n>', 'timed products (the best counts)', integer, 5)
    .parse(process.argv)
    .opts<{ n: number; repeats: number }>();
  process.stdout.write(`${JSON.stringify(runTfjsSgemm(o.n, o.repeats))}\n`);
}
