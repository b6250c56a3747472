import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentSummary, tensorCensus } from '../lib/view/machine';
import type { RunEnvironment } from '../lib/runs/environment';
import { tf } from '../lib/tf';
import { buildCrnn, disposeCrnn } from '../lib/model/build';

test('environmentSummary names the CPU, its cores, the versions and the kernel settings only', () => {
  const env: RunEnvironment = {
    node: 'v20.1.0', tfjs: '4.22.0', libtensorflow: '2.9.1', backend: 'tensorflow',
    cpu: { model: 'Some CPU @ 2.0GHz ', flags: ['avx2', 'fma'], cores: 2 },
    tfEnvironment: { TF_ENABLE_ONEDNN_OPTS: '1', TF_CLI_CONFIG_FILE: '/home/me/.terraformrc' },
    gitCommit: null, platform: 'Linux 6.1 x64',
  };
  assert.equal(environmentSummary(env), 'CPU: Some CPU @ 2.0GHz, 2 cores; avx2, fma (Linux 6.1 x64)\n' +
    'software: Node v20.1.0, TensorFlow.js 4.22.0, libtensorflow 2.9.1, tensorflow backend; TF_ENABLE_ONEDNN_OPTS=1');
  const plain = environmentSummary({
    ...env, libtensorflow: null, backend: 'cpu', tfEnvironment: {}, cpu: { model: 'X', flags: [], cores: 1 },
  });
  assert.equal(plain, 'CPU: X, 1 core (Linux 6.1 x64)\nsoftware: Node v20.1.0, TensorFlow.js 4.22.0, cpu backend');
});

test('tensorCensus splits the tensors in memory into weights, optimiser state and the rest', async () => {
  const before = tf.memory().numTensors;
  const model = buildCrnn({ hiddenSize: 8, denseUnits: 8, filters: [2, 2] });
  const stray = tf.scalar(1);
  try {
    const census = tensorCensus(model);
    assert.equal(census.weights, model.weights.length);
    assert.equal(census.optimizer, 2, "Adam's running powers of beta1 and beta2, before any step");
    assert.equal(census.other, before + 1, 'the stray scalar and whatever was there before');
    assert.equal(census.total, census.weights + census.optimizer + census.other);
    assert.equal(census.text, `${census.total} tensors: ${census.weights} weights, 2 optimiser state, ${before + 1} other`);
    const [xs, ys] = [tf.zeros([1, 2, 28, 28, 1]), tf.oneHot([3], 19)];
    await model.trainOnBatch(xs, ys);
    tf.dispose([xs, ys]);
    const trained = tensorCensus(model);
    assert.equal(trained.optimizer, 2 + 2 * model.weights.length, 'and two moments per weight after a step');
    assert.equal(trained.other, before + 1);
    assert.equal(tensorCensus().weights, 0, 'without a model, everything is other');
  } finally {
    stray.dispose();
    disposeCrnn(model);
  }
});
