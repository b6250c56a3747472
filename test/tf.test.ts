import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { tf, backend } from '../lib';

const libDir = path.join(__dirname, '..', 'lib');

test('reports which TensorFlow.js backend is active', () => {
  // The line below lands in the CI log, so a run on the slow fallback is visible.
  console.log(`# backend: ${backend.name} (native: ${backend.native})` +
    (backend.fallbackReason ? `; fallback because ${backend.fallbackReason}` : ''));
  assert.equal(tf.getBackend(), backend.name);
  assert.equal(backend.native, backend.name === 'tensorflow');
});

test('runs on the native backend where the install is required to provide it',
  { skip: process.env.CRNN_REQUIRE_NATIVE === '1' ? false : 'set CRNN_REQUIRE_NATIVE=1 to require it' },
  () => {
    assert.equal(backend.name, 'tensorflow', backend.fallbackReason);
  });

test('falls back to the pure-JavaScript backend with one warning naming the cause', () => {
  const script = `const { tf, backend } = require(${JSON.stringify(libDir)});
    // 3×3 box sum over a 4×4 image of ones, zero-padded: 4 corners·4 + 8 edges·6 + 4 inner·9 = 100.
    const y = tf.tidy(() => tf.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 1]), 1, 'same').sum());
    console.log(JSON.stringify({ name: backend.name, native: backend.native, sum: y.dataSync()[0] }));`;
  const result = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, CRNN_BACKEND: 'js' },
  });
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout.trim().split('\n').pop()!);
  assert.deepEqual(report, { name: 'cpu', native: false, sum: 100 });
  const warnings = result.stderr.split('\n').filter((line) => line.includes('CRNN_JS_BACKEND'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /CRNN_BACKEND=js was set/);
  assert.match(warnings[0], /slower/);
});

test('oneDNN kernels are on unless the user turned them off', () => {
  const script = `const { tf } = require(${JSON.stringify(libDir)});
    tf.tidy(() => tf.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 1]), 1, 'same').dataSync());
    console.log(process.env.TF_ENABLE_ONEDNN_OPTS);`;
  const run = (setting?: string) => {
    const env: NodeJS.ProcessEnv = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '0' };
    delete env.TF_ENABLE_ONEDNN_OPTS;
    if (setting !== undefined) env.TF_ENABLE_ONEDNN_OPTS = setting;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
    assert.equal(result.status, 0, result.stderr);
    return { value: result.stdout.trim().split('\n').pop(), on: /oneDNN custom operations are on/.test(result.stderr) };
  };
  const byDefault = run();
  const off = run('0');
  assert.equal(byDefault.value, '1');
  assert.equal(off.value, '0');
  if (backend.native) {
    // libtensorflow itself says which it used, at log level 0.
    assert.equal(byDefault.on, true);
    assert.equal(off.on, false);
  }
});
