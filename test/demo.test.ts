/**
 * bin/demo.ts, the demo command: how it fails before any page is served.
 * What it builds and serves is lib/demo/site.ts's (demo-site.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { tempFolders } from './helpers/temp';

const REPO = path.join(__dirname, '..', '..');
const DEMO = path.join(REPO, 'dist', 'bin', 'demo.js');
const tempDir = tempFolders('demo');

const runDemo = (args: string[], cwd: string) =>
  spawnSync(process.execPath, [DEMO, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });

test('the demo command without a saved run says how to train one with the fastest preset', () => {
  const cwd = tempDir();
  const result = runDemo([], cwd);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /no saved run under runs\/ to show/);
  assert.match(result.stderr, /npm run train -- --preset fast/);
  assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
});

test('a port outside 0..65535 is refused, naming the range', () => {
  const result = runDemo(['serve', 'runs/a', '--port', '70000'], tempDir());
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /a port is an integer 0\.\.65535/);
});

test('building from a folder that is not a run fails with a message and no stack, and writes no site', () => {
  const cwd = tempDir();
  fs.mkdirSync(path.join(cwd, 'not-a-run'));
  const result = runDemo(['build', 'not-a-run', '--out', 'site'], cwd);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /^demo: .*not-a-run/);
  assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
  assert.ok(!fs.existsSync(path.join(cwd, 'site')), 'no site folder');
});

test('build needs --out', () => {
  const result = runDemo(['build', 'runs/a'], tempDir());
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /--out <dir>/);
});
