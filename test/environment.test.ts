import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { backend } from '../lib/tf';
import { describeEnvironment } from '../lib/runs/environment';

const environmentModule = path.join(__dirname, '..', 'lib', 'runs', 'environment');

/** `describeNativeLibrary()` in a fresh process with these environment variables. */
function nativeLibraryWith(variables: Record<string, string>): string {
  const script = `console.log(require(${JSON.stringify(environmentModule)}).describeNativeLibrary())`;
  const child = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...variables },
  });
  assert.equal(child.status, 0, child.stderr);
  return child.stdout.trim();
}

test('the native library is named by its libtensorflow version, with oneDNN as TF_ENABLE_ONEDNN_OPTS sets it',
  { skip: !backend.native && 'needs the native backend' }, () => {
    const version = describeEnvironment().libtensorflow;
    assert.match(version ?? '', /^\d+\.\d+\.\d+/);
    assert.equal(nativeLibraryWith({ TF_ENABLE_ONEDNN_OPTS: '0' }), `libtensorflow ${version}, oneDNN off`);
    assert.equal(nativeLibraryWith({ TF_ENABLE_ONEDNN_OPTS: 'true' }), `libtensorflow ${version}, oneDNN on`);
  });

test('on the pure-JavaScript backend the native library\'s place says why it is not in use', () => {
  assert.equal(nativeLibraryWith({ CRNN_BACKEND: 'js' }), 'CRNN_BACKEND=js was set');
});
