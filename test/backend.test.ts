import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, backend } from '../lib';

test('reports which TensorFlow.js backend is active', () => {
  console.log(`# backend: ${backend.name} (native: ${backend.native})` +
    (backend.fallbackReason ? `; fallback because ${backend.fallbackReason}` : ''));
  assert.equal(tf.getBackend(), backend.name);
  if (backend.native) assert.equal(backend.name, 'tensorflow');
  else assert.equal(backend.name, 'cpu');
});

test('uses the native backend unless CRNN_BACKEND=js or the CI allows the fallback', () => {
  // CI sets CRNN_REQUIRE_NATIVE=1 so that a broken native install fails loudly.
  if (process.env.CRNN_REQUIRE_NATIVE === '1') assert.equal(backend.name, 'tensorflow');
  else assert.ok(['tensorflow', 'cpu'].includes(backend.name));
});
