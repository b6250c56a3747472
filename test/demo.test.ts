/**
 * The browser page of a trained run (demo/, bin/demo.ts): what can be
 * checked without a browser. The page itself is tested in Chromium by
 * e2e/demo.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as esbuild from 'esbuild';

const REPO = path.join(__dirname, '..', '..');

/** The files esbuild takes into a browser bundle of `entry`, relative to the repository. */
async function browserBundleInputs(entry: string): Promise<string[]> {
  const result = await esbuild.build({
    entryPoints: [path.join(REPO, entry)], bundle: true, platform: 'browser', format: 'esm', write: false,
    metafile: true, logLevel: 'silent', absWorkingDir: REPO,
  });
  return Object.keys(result.metafile.inputs);
}

test('the model code bundles for the browser without lib/tf.ts, tfjs-node or any Node module', async () => {
  const inputs = await browserBundleInputs('lib/model/build.ts');
  assert.ok(inputs.includes('lib/model/layers.ts'), inputs.join('\n'));
  assert.ok(inputs.some((file) => file.startsWith('node_modules/@tensorflow/tfjs-layers/')));
  const nodeOnly = inputs.filter((file) => file === 'lib/tf.ts' || file.includes('tfjs-node') || file.startsWith('node:'));
  assert.deepEqual(nodeOnly, []);
});
