/**
 * The runs CLI (bin/runs.ts) as a user runs it: listing, comparing and
 * charting a folder of runs, its errors, and adding the digit probe to runs
 * saved without one. What it lists and computes is lib/runs/registry.ts's,
 * tested in registry.test.ts.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { presetConfigs } from '../lib/presets';
import { fakeHistory, makeRunsFolder, writeRun } from './helpers/run-folders';
import { makeDigitSet, writeDigitSet } from './helpers/idx-fixtures';
import { tempFolders } from './helpers/temp';

const runsCli = path.join(__dirname, '..', 'bin', 'runs.js');

const tempDir = tempFolders('runs');

let root: string;
before(() => { root = makeRunsFolder(tempDir()); });

function runCli(args: string[]) {
  const result = spawnSync(process.execPath, [runsCli, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('the runs CLI lists the runs, then the skipped folders with their reasons', () => {
  const { status, stdout, stderr } = runCli([root]);
  assert.equal(status, 0, stderr);
  assert.match(stdout, new RegExp(`^6 runs under ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; settings that differ: cell, sharedCnn, seed`));
  assert.match(stdout, /\| sweep-a\/cell-simple\/seed-10 \| simple \| false +\| 10 +\| +99\.00 \|/);
  assert.match(stdout, /Skipped 6 folders:\n/);
  assert.match(stdout, /\n {2}sweep-a\/cell-gru\/seed-3 +half-written: no run\.json/);
  assert.match(stdout, /\n {2}broken +run\.json is not valid JSON/);
  assert.match(stdout, /\n {2}\.single\.saving-abc123 +unfinished save of single/);
  assert.match(stdout, /\n {2}notes +not a run: no run\.json/);

  const sorted = runCli([root, '--sort', 'accuracy']);
  const order = [...sorted.stdout.matchAll(/^\| (\S+) +\| (?:simple|gru|lstm)/gm)].map((m) => m[1]);
  assert.deepEqual(order.slice(0, 2), ['sweep-a/cell-simple/seed-10', 'sweep-a/cell-gru/seed-2']);

  const json = JSON.parse(runCli([root, '--json']).stdout);
  assert.equal(json.runs.length, 6);
  assert.equal(json.skipped.length, 6);
});

test('the runs CLI compares groups and writes the chart', () => {
  const chart = path.join(tempDir(), 'compare.svg');
  const { status, stdout, stderr } = runCli([path.join(root, 'sweep-a'), '--compare', '--chart', chart]);
  assert.equal(status, 0, stderr);
  assert.match(stdout, /^5 runs in 2 groups under .*sweep-a, grouped by every setting but seed\n/);
  assert.match(stdout, /\| cell +\| +n \| seeds +\| final acc\. % \|/);
  assert.match(stdout, /\| gru +\| +2 \| 1,2 +\| +98\.60 \|/);
  assert.match(stdout, /\| simple \| +3 \| 1,2,10 \| +98\.00 \| +1\.00 \|/);
  assert.match(stdout, /chart written to /);
  assert.match(stdout, /Skipped 1 folder:\n {2}cell-gru\/seed-3 +half-written/);
  const svg = fs.readFileSync(chart, 'utf8');
  assert.match(svg, /^<svg/);
  assert.ok(svg.includes('cell=simple (n=3)') && svg.includes('cell=gru (n=2)'));
});

test('the runs CLI compares the runs of several folders grouped by the preset they were trained with', () => {
  const presetRuns = tempDir();
  const others = tempDir();
  const fast = presetConfigs('fast');
  for (const seed of [1, 2]) {
    writeRun(path.join(presetRuns, 'preset=fast', `seed-${seed}`),
      { seed, final: 0.98 + seed / 1000, numSteps: 800, config: fast });
    writeRun(path.join(others, 'default', `seed-${seed}`), { seed, final: 0.984, numSteps: 10_000 });
  }
  writeRun(path.join(others, 'gru'), { seed: 1, cell: 'gru', final: 0.97 });
  const { status, stdout, stderr } = runCli([presetRuns, others, '--compare', '--group-by', 'preset']);
  assert.equal(status, 0, stderr);
  assert.match(stdout, /^5 runs in 3 groups under .+, .+, grouped by preset\n/);
  assert.match(stdout, /\| preset +\| +n \| seeds \| final acc\. % \|/);
  assert.match(stdout, /\| article \| +2 \| 1,2 +\| +98\.40 \|/);
  assert.match(stdout, /\| fast +\| +2 \| 1,2 +\| +98\.15 \|/);
  assert.match(stdout, /\| none +\| +1 \| 1 +\| +97\.00 \|/);
  assert.match(runCli([presetRuns, '--compare', '--group-by', 'presets']).stderr, /Unknown setting 'presets'; known: .*, preset\./);
});

test('the runs CLI fails clearly for a missing folder, bad settings and nothing to compare', () => {
  const missing = path.join(root, 'nope');
  const result = runCli([missing]);
  assert.equal(result.status, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, new RegExp(`^error: runs folder ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist`));
  const bad = runCli([root, '--compare', '--group-by', 'cel']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /Unknown setting 'cel'/);
  const empty = runCli([path.join(root, 'notes'), '--compare']);
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /nothing to compare: no runs under/);
  const none = runCli([path.join(root, 'empty')]);
  assert.equal(none.status, 0);
  assert.match(none.stdout, /^No runs under /);
});

/** A saved run of a tiny 12×12 model without a digit probe, its data in `dataLocation`, and the folder of both. */
async function runWithoutProbe(dataLocation?: string): Promise<{ parent: string; dir: string; data: string }> {
  const { buildCrnn, disposeCrnn } = await import('../lib/model/build');
  const { saveRun } = await import('../lib/runs/persist');
  const parent = tempDir();
  const data = path.join(parent, 'digits');
  fs.mkdirSync(data);
  writeDigitSet(data, makeDigitSet(40, 12, 12), 'train');
  writeDigitSet(data, makeDigitSet(20, 12, 12), 't10k');
  const crnnConfig = resolveCrnnConfig({ height: 12, width: 12, filters: [2, 2], denseUnits: 8, hiddenSize: 8 });
  const model = buildCrnn(crnnConfig, { seed: 1 });
  const dir = path.join(parent, 'runs', 'run');
  await saveRun(dir, {
    model, crnnConfig, trainConfig: resolveTrainConfig({ seed: 1 }), task: 'difference',
    history: fakeHistory({ seed: 1, final: 0.5, numSteps: 100 }), dataSource: 'twelve-pixel digits',
    ...(dataLocation === undefined ? {} : { dataLocation: dataLocation === 'data' ? data : dataLocation }),
  });
  disposeCrnn(model);
  return { parent, dir, data };
}

test('runs --digit-probe loads each run\'s digits from where its record says, and skips a run that does not say', async () => {
  const { parent, dir } = await runWithoutProbe('data');
  const { status, stdout, stderr } = runCli([path.join(parent, 'runs'), '--digit-probe']);
  assert.equal(status, 0, stderr);
  assert.match(stdout, /^digit probe: run: p = [\d.]+%, [\d.]+%\n/);
  const { digitProbe } = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  assert.equal(digitProbe.accuracy.length, 2);
  assert.deepEqual([digitProbe.trainDigits, digitProbe.testDigits], [40, 20]);

  const unknown = await runWithoutProbe();
  const skipped = runCli([path.join(unknown.parent, 'runs'), '--digit-probe']);
  assert.equal(skipped.status, 0, skipped.stderr);
  assert.match(skipped.stdout, /^digit probe: run skipped, its run\.json does not say where its digits came from \(dataLocation\)\n/);
});

test('runs --digit-probe on a full disk says so and leaves run.json as it was, without a stack trace', async () => {
  const { parent, dir } = await runWithoutProbe('data');
  const before = fs.readFileSync(path.join(dir, 'run.json'), 'utf8');
  // A full disk, injected: the record's temporary copy is half written, then the write fails.
  const fullDisk = path.join(parent, 'full-disk.js');
  fs.writeFileSync(fullDisk, `
    const fs = require('node:fs');
    const writeFile = fs.promises.writeFile;
    fs.promises.writeFile = async (file, data, ...rest) => {
      if (!String(file).endsWith('.tmp')) return writeFile(file, data, ...rest);
      await writeFile(file, String(data).slice(0, 10));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
    };`);
  const result = spawnSync(process.execPath, ['--require', fullDisk, runsCli, path.join(parent, 'runs'), '--digit-probe'],
    { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 1, result.stderr);
  assert.equal(result.stderr, `error: --digit-probe: run: cannot write it into ${path.join(dir, 'run.json')}, ` +
    'which is unchanged: ENOSPC: no space left on device, write\n');
  assert.equal(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'), before);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'run.json', 'weights.bin']);
});
