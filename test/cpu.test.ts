import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpuFlagsFrom, cpuUnits, tensorflowOnednn, tensorflowOnednnDefault, tensorflowThreadEnvironment, tensorflowThreads,
  threadsPerJob,
} from '../lib/runs/cpu';

test('CPU features, and oneDNN in TensorFlow as its setting and the CPU decide it', () => {
  const cpuinfo = 'processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx fma avx2 bmi2\n\nprocessor\t: 1\nflags\t: avx512f\n';
  const epyc = cpuFlagsFrom(cpuinfo);
  assert.deepEqual(epyc, ['sse4_2', 'avx', 'avx2', 'fma']);
  assert.deepEqual(cpuUnits(epyc), { avx2: true, avx512: false, amx: false });
  assert.deepEqual(cpuFlagsFrom('no flags here'), []);
  const sapphire = cpuFlagsFrom('flags : avx2 avx512f avx512_vnni amx_tile amx_bf16');
  assert.deepEqual(cpuUnits(sapphire), { avx2: true, avx512: true, amx: true });

  // TensorFlow's default: on only with neural-network features; AVX-512 alone is not enough.
  assert.equal(tensorflowOnednnDefault(epyc), false);
  assert.equal(tensorflowOnednnDefault(['avx2', 'avx512f']), false);
  assert.equal(tensorflowOnednnDefault(['avx512f', 'avx512_vnni']), true);
  assert.equal(tensorflowOnednnDefault(['avx_vnni']), true);
  assert.deepEqual(tensorflowOnednn(undefined, epyc), { on: false, source: 'default' });
  assert.deepEqual(tensorflowOnednn('1', epyc), { on: true, source: 'set' });
  assert.deepEqual(tensorflowOnednn('TRUE', epyc), { on: true, source: 'set' });
  assert.deepEqual(tensorflowOnednn('false', sapphire), { on: false, source: 'set' });
  // TensorFlow warns and keeps its default for anything else.
  assert.deepEqual(tensorflowOnednn('yes', sapphire), { on: true, source: 'default' });
  assert.deepEqual(tensorflowOnednn('', epyc), { on: false, source: 'default' });
});

test('TensorFlow\'s thread pools come from TF_NUM_INTRAOP_THREADS and TF_NUM_INTEROP_THREADS, else the schedulable CPUs', () => {
  assert.deepEqual(tensorflowThreads({}, 2), { intraOp: 2, interOp: 2, source: 'TensorFlow\'s default: the 2 schedulable CPUs' });
  const pinned = tensorflowThreads({ TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' }, 8);
  assert.deepEqual([pinned.intraOp, pinned.interOp], [1, 1]);
  assert.match(pinned.source, /TF_NUM_INTRAOP_THREADS=1/);
  const half = tensorflowThreads({ TF_NUM_INTRAOP_THREADS: '3', TF_NUM_INTEROP_THREADS: 'x' }, 8);
  assert.deepEqual([half.intraOp, half.interOp], [3, 8]);
  assert.match(half.source, /otherwise the 8 schedulable CPUs/);
});

test('runs at once share the cores, at least one TensorFlow thread each, set in both pools', () => {
  assert.deepEqual([threadsPerJob(2, 1), threadsPerJob(2, 2), threadsPerJob(2, 3), threadsPerJob(16, 3)], [2, 1, 1, 5]);
  const env = tensorflowThreadEnvironment(3);
  assert.deepEqual(env, { TF_NUM_INTRAOP_THREADS: '3', TF_NUM_INTEROP_THREADS: '3' });
  const read = tensorflowThreads(env, 16);
  assert.deepEqual([read.intraOp, read.interOp], [3, 3]);
});
