/**
 * lib/demo/site.ts: the site of a trained run (demo/), built, found and
 * served: what can be checked without a browser. The demo command on top of
 * it is tested in demo.test.ts, the page itself in Chromium by e2e/demo.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import path from 'node:path';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { saveRun } from '../lib/runs/persist';
import { loadMnist } from '../lib/data/data';
import { sampleImages } from '../lib/evaluate/probe';
import { buildSite, newestRun, SAMPLE_DIGITS, serveSite } from '../lib/demo/site';
import { checkSiteData, decodeDigits } from '../lib/demo/site-data';
import type { History } from '../lib/types';
import { tempFolders } from './helpers/temp';

const crnnConfig = resolveCrnnConfig({ filters: [2, 3], denseUnits: 8, hiddenSize: 4, sharedCnn: true });
const trainConfig = resolveTrainConfig({ numSteps: 1, batchSize: 8, evalSize: 16 });
const history: History = {
  steps: [{ step: 1, loss: 2.9, accuracy: 0.125 }], evals: [{ step: 1, loss: 2.85, accuracy: 0.1875 }],
  endReason: 'completed', elapsedMs: 12.5,
};

const tempDir = tempFolders('demo-site');

/** Saves an untrained tiny run, with a digit probe record on few digits, into `dir`. */
async function saveTinyRun(dir: string, withProbe = true): Promise<void> {
  const model = buildCrnn(crnnConfig, { seed: 1 });
  try {
    await saveRun(dir, {
      model, crnnConfig, trainConfig, task: 'difference', history, dataSource: loadMnist().source,
      ...(withProbe ? { digitProbe: { accuracy: [0.5, 0.5], trainDigits: 200, testDigits: 100 } } : {}),
    });
  } finally {
    disposeCrnn(model);
  }
}

test('a site holds the run\'s model byte for byte, a sample of test digits, the digit probes and the bundled page', async () => {
  const root = tempDir();
  const runDir = path.join(root, 'run');
  await saveTinyRun(runDir);
  const out = path.join(root, 'site');
  const lines: string[] = [];
  const built = await buildSite(runDir, out, { log: (line) => lines.push(line) });
  assert.deepEqual(built.files.map((f) => f.path).filter((f) => !f.startsWith('wasm/')),
    ['app.js', 'digits.bin', 'index.html', 'model/model.json', 'model/weights.bin', 'site.json', 'style.css']);
  assert.ok(built.files.some((f) => f.path === 'wasm/tfjs-backend-wasm.wasm'));
  for (const file of ['model.json', 'weights.bin']) {
    assert.ok(fs.readFileSync(path.join(runDir, file)).equals(fs.readFileSync(path.join(out, 'model', file))), file);
  }
  const site = checkSiteData(JSON.parse(fs.readFileSync(path.join(out, 'site.json'), 'utf8')));
  assert.deepEqual(site.run.crnnConfig, crnnConfig);
  assert.equal(site.run.name, 'run');
  assert.equal(site.run.finalAccuracy, 0.1875);
  // The probes fitted again on the recorded numbers of digits, one per step, reading the shared CNN's features.
  assert.deepEqual(site.probe!.featureLayers, ['shared_dense', 'shared_dense']);
  assert.equal(site.probe!.readouts[0].mean.length, 8);
  assert.match(lines.join('\n'), /200 training digits, measured on 100 test digits/);
  // The digits are the seeded sample of the test split, as they are.
  const test = loadMnist().test;
  const { labels, images } = decodeDigits(fs.readFileSync(path.join(out, 'digits.bin')), site.digits);
  const sample = sampleImages(test, SAMPLE_DIGITS, 'demo-digits');
  assert.deepEqual(Array.from(labels), Array.from(sample.labels));
  const last = sample.indices[SAMPLE_DIGITS - 1];
  assert.deepEqual(images.subarray((SAMPLE_DIGITS - 1) * 784), test.images.subarray(last * 784, (last + 1) * 784));
  assert.ok(built.bundleBytes > 100_000, `app.js holds TensorFlow.js: ${built.bundleBytes} bytes`);
  assert.ok(!fs.readFileSync(path.join(out, 'app.js'), 'utf8').includes('tfjs_binding.node'), 'no tfjs-node in the bundle');

  // Built again, the site replaces itself; without a probe record the page gets none.
  const plain = path.join(root, 'plain');
  await saveTinyRun(plain, false);
  await buildSite(plain, out);
  assert.equal(checkSiteData(JSON.parse(fs.readFileSync(path.join(out, 'site.json'), 'utf8'))).probe, null);
  assert.equal(fs.readdirSync(root).filter((name) => name.includes('.building-')).length, 0, 'no staging folder left');
});

test('a site is not built over a folder that is not one, nor from a folder that is not a run', async () => {
  const root = tempDir();
  const runDir = path.join(root, 'run');
  await saveTinyRun(runDir, false);
  const notes = path.join(root, 'notes');
  fs.mkdirSync(notes);
  fs.writeFileSync(path.join(notes, 'keep.txt'), 'mine');
  await assert.rejects(buildSite(runDir, notes), /notes is not empty and holds no site.json: not a site built here/);
  assert.equal(fs.readFileSync(path.join(notes, 'keep.txt'), 'utf8'), 'mine');
  await assert.rejects(buildSite(path.join(root, 'missing'), path.join(root, 'out')), /missing does not exist/);
  await assert.rejects(buildSite(notes, path.join(root, 'out')), /notes is not a saved run: no run.json/);
  fs.rmSync(path.join(runDir, 'model.json'));
  await assert.rejects(buildSite(runDir, path.join(root, 'out')), /holds no model.json/);
});

test('the newest run that still has its model is the default; none in an empty or missing folder', async () => {
  const root = tempDir();
  assert.equal(await newestRun(path.join(root, 'missing')), null);
  assert.equal(await newestRun(root), null);
  for (const name of ['a', 'b', 'c']) await saveTinyRun(path.join(root, 'sweep', name), false);
  const setSavedAt = (name: string, savedAt: string) => {
    const file = path.join(root, 'sweep', name, 'run.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), savedAt }));
  };
  setSavedAt('a', '2026-01-02T00:00:00.000Z');
  setSavedAt('b', '2026-01-03T00:00:00.000Z');
  setSavedAt('c', '2026-01-04T00:00:00.000Z');
  fs.rmSync(path.join(root, 'sweep', 'c', 'model.json'));
  assert.equal((await newestRun(root))?.id, 'sweep/b');
});

test('the server gives the site\'s files with their types, and nothing outside the site', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'index.html'), '<p>page</p>');
  fs.mkdirSync(path.join(dir, 'wasm'));
  fs.writeFileSync(path.join(dir, 'wasm', 'a.wasm'), Buffer.from([0, 97, 115, 109]));
  const { server, url } = await serveSite(dir, 0);
  try {
    const index = await fetch(url);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await index.text(), '<p>page</p>');
    const wasm = await fetch(new URL('wasm/a.wasm', url));
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.equal((await fetch(new URL('missing.json', url))).status, 404);
    assert.equal((await fetch(`${url}..%2f..%2fetc%2fpasswd`)).status, 404);
    await assert.rejects(serveSite(dir, Number(new URL(url).port)), /port \d+ is in use: choose another with --port/);
  } finally {
    server.close();
  }
});
