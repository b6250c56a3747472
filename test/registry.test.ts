import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import {
  compareRuns, differingSettings, listRuns, loadRuns, varyingOnly, differenceLines, runSettings,
} from '../lib/runs/registry';
import { comparisonTable, runsTable } from '../lib/view/tables';
import { comparisonCurvesSpec } from '../lib/view/charts';
import { recordDigitProbe } from '../lib/runs/record';
import { age, fakeHistory, makeRunsFolder, testRecord, writeRecord, writeRun, writeTinyModel } from './helpers/run-folders';
import { checkpointRecordJson } from './helpers/checkpoint';
import { tempFolders } from './helpers/temp';
import { close } from './helpers/close';

const runsCli = path.join(__dirname, '..', 'bin', 'runs.js');

const tempDir = tempFolders('registry');

let root: string;
before(() => { root = makeRunsFolder(tempDir()); });


test('listRuns finds the runs of a nested sweep and summarises them from run.json', async () => {
  const { runs } = await listRuns(root);
  assert.deepEqual(runs.map((r) => r.id), [
    'single', 'sweep-a/cell-gru/seed-1', 'sweep-a/cell-gru/seed-2',
    'sweep-a/cell-simple/seed-1', 'sweep-a/cell-simple/seed-2', 'sweep-a/cell-simple/seed-10',
  ]);
  const seed1 = runs.find((r) => r.id === 'sweep-a/cell-simple/seed-1')!;
  assert.equal(seed1.dir, path.join(root, 'sweep-a', 'cell-simple', 'seed-1'));
  assert.equal(seed1.task, 'difference');
  assert.equal(seed1.seqLength, 2);
  assert.equal(seed1.crnnConfig.cell, 'simple');
  assert.equal(seed1.trainConfig.seed, 1);
  assert.equal(seed1.steps, 1000);
  assert.equal(seed1.finalAccuracy, 0.97);
  close(seed1.finalLoss, 0.03);
  assert.equal(seed1.bestAccuracy, 0.975);
  assert.equal(seed1.bestStep, 800);
  assert.equal(seed1.endReason, 'completed');
  assert.equal(seed1.elapsedSeconds, 90);
  assert.equal(seed1.savedAt, '2025-01-01T00:01:31.000Z');
  assert.equal(seed1.engine, 'graph');
  assert.equal(seed1.cpu, 'Test CPU 9000');
  assert.equal(seed1.gitCommit, 'abc123');
  assert.equal(seed1.hasModel, true);
  assert.equal('history' in seed1, false, 'listRuns leaves the histories out');

  const single = runs.find((r) => r.id === 'single')!;
  assert.equal(single.steps, 600);
  assert.equal(single.endReason, 'stopped');
  assert.equal(single.bestAccuracy, 0.95);
  assert.equal(single.bestStep, 600);
});

test('listRuns lists half-written, damaged, foreign, unfinished and in-progress folders with the reason', async () => {
  const { skipped } = await listRuns(root);
  const reasons = Object.fromEntries(skipped.map((s) => [s.id, s.reason]));
  assert.deepEqual(Object.keys(reasons).sort(), [
    '.single.saving-abc123', 'broken', 'notes', 'other', 'reserved', 'sweep-a/cell-gru/seed-3',
  ]);
  assert.match(reasons['sweep-a/cell-gru/seed-3'], /^half-written: no run\.json \(holds model\.json\)$/);
  assert.match(reasons.broken, /^run\.json is not valid JSON \(/);
  assert.match(reasons.other, /^run\.json is not a run record: format "keras-run", expected "crnn-mnist-run"$/);
  assert.match(reasons.notes, /^not a run: no run\.json \(holds README\.txt, results\.csv\)$/);
  assert.match(reasons['.single.saving-abc123'], /^unfinished save of single/);
  assert.match(reasons.reserved, new RegExp(`^training in progress \\(process ${process.pid}\\)`));
  assert.equal(skipped.find((s) => s.id === 'broken')!.dir, path.join(root, 'broken'));
  // The sweep's own folders hold runs: traversed, not skipped; so are the empty and hidden ones.
  for (const id of ['sweep-a', 'sweep-a/cell-gru', 'empty', '.ipynb_checkpoints']) assert.ok(!(id in reasons), id);
});

test('listRuns explains moved-aside copies, stale reservations and invalid configs', async () => {
  const dir = tempDir();
  writeRun(path.join(dir, '.kept.saving-AAAAAA.previous'), { seed: 1, final: 0.9 });
  writeRun(path.join(dir, 'leftover'), { seed: 1, final: 0.9 });
  writeRun(path.join(dir, '.leftover.saving-BBBBBB.previous'), { seed: 1, final: 0.9 });
  fs.mkdirSync(path.join(dir, 'killed'));
  const ended = spawnSync(process.execPath, ['-e', '0']).pid;
  fs.writeFileSync(path.join(dir, '.killed.lock'), `${ended}\n`);
  writeRun(path.join(dir, 'bad-config'), { seed: 1, final: 0.9 });
  const record = JSON.parse(fs.readFileSync(path.join(dir, 'bad-config', 'run.json'), 'utf8'));
  record.crnnConfig.cell = 'transformer';
  fs.writeFileSync(path.join(dir, 'bad-config', 'run.json'), JSON.stringify(record));
  fs.mkdirSync(path.join(dir, 'a', 'b', 'c'), { recursive: true });
  writeRun(path.join(dir, 'a', 'b', 'c', 'deep'), { seed: 1, final: 0.9 });

  const { runs, skipped } = await listRuns(dir, { maxDepth: 3 });
  assert.deepEqual(runs.map((r) => r.id), ['leftover']);
  const reasons = Object.fromEntries(skipped.map((s) => [s.id, s.reason]));
  assert.match(reasons['.kept.saving-AAAAAA.previous'],
    /^kept moved aside by an interrupted save, and incomplete \(no complete model\): not put back; kept is missing$/);
  assert.match(reasons['.leftover.saving-BBBBBB.previous'], /leftover of an interrupted save of leftover/);
  assert.match(reasons.killed, new RegExp(`reserved by a training run \\(process ${ended}\\) that ended without saving`));
  assert.match(reasons['bad-config'], /invalid config: CrnnConfig\.cell must be one of simple, gru, lstm, got "transformer"/);
  assert.match(reasons['a/b/c/deep'], /not searched: more than 3 levels below the root/);
  assert.deepEqual((await listRuns(dir, { maxDepth: 2 })).skipped.filter((s) => s.id.startsWith('a/')), [],
    'what lies deeper than a run folder past the limit is not looked at');
  assert.equal((await listRuns(dir)).runs.length, 2, 'the default depth reaches a/b/c/deep');
});

test('a run.json holding null, of a newer version, or that is a FIFO is listed as skipped with the reason, at once', () => {
  const dir = tempDir();
  writeRecord(path.join(dir, 'null'), 'null');
  writeRecord(path.join(dir, 'newer'), JSON.stringify({ ...testRecord(), version: 99 }));
  fs.mkdirSync(path.join(dir, 'fifo'));
  const mkfifo = spawnSync('mkfifo', [path.join(dir, 'fifo', 'run.json')]);
  assert.equal(mkfifo.status, 0, String(mkfifo.stderr));
  writeRecord(path.join(dir, 'good'));
  // The CLI in a child process: a reader blocked on the FIFO fails by the timeout instead of hanging the tests.
  const { status, stdout, stderr } = runCli([dir, '--json']);
  assert.equal(status, 0, stderr);
  const { runs, skipped } = JSON.parse(stdout) as { runs: { id: string }[]; skipped: { id: string; reason: string }[] };
  assert.deepEqual(runs.map((r) => r.id), ['good']);
  assert.deepEqual(Object.fromEntries(skipped.map((s) => [s.id, s.reason])), {
    fifo: 'run.json is a FIFO, not a regular file',
    newer: 'run.json is version 99 of the run record, newer than this code reads (up to 1): update the project to read it',
    null: 'run.json holds null, not a run record',
  });
});

test('listRuns puts back a run an interrupted save moved aside, and says why it leaves other copies', async () => {
  const dir = tempDir();
  // `kept` moved aside two hours ago by a killed save; its folder is missing.
  const kept = path.join(dir, '.kept.saving-AAAAAA.previous');
  writeTinyModel(kept);
  writeRecord(kept, testRecord({ accuracies: [0.7] }));
  age(kept, 2 * 3600);
  // `reserved`: the same, then a trainer reserved the empty folder and was killed.
  writeTinyModel(path.join(dir, '.reserved.saving-BBBBBB.previous'));
  writeRecord(path.join(dir, '.reserved.saving-BBBBBB.previous'));
  fs.mkdirSync(path.join(dir, 'reserved'));
  // `saving`: a trainer (this process) holds the lock, and may be between its renames.
  writeTinyModel(path.join(dir, '.saving.saving-CCCCCC.previous'));
  writeRecord(path.join(dir, '.saving.saving-CCCCCC.previous'));
  fs.writeFileSync(path.join(dir, '.saving.lock'), `${process.pid}\n`);
  // `partial`: the copy moved aside is incomplete (its weights half deleted).
  writeRecord(path.join(dir, '.partial.saving-DDDDDD.previous'));
  writeTinyModel(path.join(dir, '.partial.saving-DDDDDD.previous'));
  fs.truncateSync(path.join(dir, '.partial.saving-DDDDDD.previous', 'weights.bin'), 4);

  const { runs, skipped, recovered } = await listRuns(dir);
  assert.deepEqual(runs.map((r) => [r.id, r.finalAccuracy]), [['kept', 0.7], ['reserved', 0.5]]);
  assert.deepEqual(recovered.map((r) => [r.id, path.basename(r.from)]),
    [['kept', '.kept.saving-AAAAAA.previous'], ['reserved', '.reserved.saving-BBBBBB.previous']]);
  const reasons = Object.fromEntries(skipped.map((s) => [s.id, s.reason]));
  assert.deepEqual(Object.keys(reasons).sort(), ['.partial.saving-DDDDDD.previous', '.saving.saving-CCCCCC.previous']);
  assert.match(reasons['.saving.saving-CCCCCC.previous'],
    new RegExp(`^saving moved aside by a save in progress \\(process ${process.pid}\\)`));
  assert.match(reasons['.partial.saving-DDDDDD.previous'],
    /^partial moved aside by an interrupted save, and incomplete \(no complete model\): not put back; partial is missing/);

  // The runs CLI says what it put back.
  fs.renameSync(path.join(dir, 'kept'), kept);
  const { status, stdout, stderr } = runCli([dir]);
  assert.equal(status, 0, stderr);
  assert.match(stdout, /^Put back kept from \.kept\.saving-AAAAAA\.previous, where an interrupted save had moved it\.\n/);
  assert.match(stdout, /\| kept +\|/);
});

test('listRuns names a run killed before its save with the step of its checkpoint, and one in progress', async () => {
  const dir = tempDir();
  for (const name of ['killed', 'damaged', 'training']) {
    fs.mkdirSync(path.join(dir, name, 'checkpoint'), { recursive: true });
    fs.writeFileSync(path.join(dir, name, 'checkpoint', 'checkpoint.json'), checkpointRecordJson({}, { numSteps: 30 }));
  }
  fs.writeFileSync(path.join(dir, 'damaged', 'checkpoint', 'checkpoint.json'), '{');
  fs.writeFileSync(path.join(dir, '.training.lock'), `${process.pid}\n`);
  const { runs, skipped } = await listRuns(dir);
  assert.deepEqual(runs, []);
  const reasons = Object.fromEntries(skipped.map((s) => [s.id, s.reason]));
  assert.deepEqual(Object.keys(reasons).sort(), ['damaged', 'killed', 'training']);
  assert.equal(reasons.killed, `killed before its save, with a checkpoint at step 0 of 30: ` +
    `train --resume ${path.join(dir, 'killed')} goes on from there`);
  assert.match(reasons.damaged, /^killed before its save, with a checkpoint that cannot be read \(.*not valid JSON/);
  assert.match(reasons.training, new RegExp(`^training in progress \\(process ${process.pid}\\)`));
});

test('listRuns takes a run folder as its root, and fails clearly for a missing root', async () => {
  const { runs, skipped } = await listRuns(path.join(root, 'single'));
  assert.deepEqual(runs.map((r) => r.id), ['single']);
  assert.deepEqual(skipped, []);
  const missing = path.join(root, 'nope');
  await assert.rejects(listRuns(missing), { message: `runs folder ${missing} does not exist` });
  await assert.rejects(listRuns(path.join(root, 'sweep-a', 'sweep.json')), /sweep\.json is not a folder/);
});

test('loadRuns returns the full records of a root or of given folders', async () => {
  const all = await loadRuns(root);
  assert.equal(all.length, 6);
  assert.equal(all[0].history.evals.length, 7);
  assert.equal(all[0].dataSource, 'test');
  const two = await loadRuns([path.join(root, 'single'), path.join(root, 'sweep-a', 'cell-gru', 'seed-1')]);
  assert.deepEqual(two.map((r) => r.finalAccuracy), [0.95, 0.985]);
  await assert.rejects(loadRuns([path.join(root, 'broken')]), /broken is not a saved run: run\.json is not valid JSON/);
  await assert.rejects(loadRuns([path.join(root, 'notes')]), /notes is not a saved run: no run\.json/);
  await assert.rejects(loadRuns([path.join(root, 'nope')]), /nope does not exist/);
});

test('differingSettings names the settings whose values differ', async () => {
  const { runs } = await listRuns(root);
  assert.deepEqual(differingSettings(runs), ['cell', 'sharedCnn', 'seed']);
  const simple = runs.filter((r) => r.crnnConfig.cell === 'simple');
  assert.deepEqual(differingSettings(simple), ['seed']);
  assert.deepEqual(differingSettings(simple.slice(0, 1)), []);
});

test('compareRuns groups the runs over seeds and computes mean ± std and the 95% interval', async () => {
  const { runs } = await listRuns(root);
  const comparison = compareRuns(runs);
  assert.deepEqual(comparison.settings, ['cell', 'sharedCnn']);
  assert.deepEqual(comparison.groups.map((g) => g.label), [
    'cell=gru, sharedCnn=false', 'cell=simple, sharedCnn=false', 'cell=lstm, sharedCnn=true',
  ]);
  const [gru, simple, lstm] = comparison.groups;
  assert.deepEqual(simple.seeds, [1, 2, 10]);
  assert.deepEqual(simple.differing, { cell: 'simple', sharedCnn: false });
  assert.equal(simple.settings.numSteps, 1000);
  assert.equal('seed' in simple.settings, false);
  const f = simple.finalAccuracy!;
  assert.equal(f.n, 3);
  close(f.mean, 0.98);
  close(f.std, 0.01);
  close(f.ci95![1] - f.mean, 4.3026527 * 0.01 / Math.sqrt(3), 1e-8);
  close(simple.bestAccuracy!.mean, (0.975 + 0.98 + 0.99) / 3);
  assert.equal(simple.meanSteps, 1000);
  assert.equal(simple.meanSeconds, 90);
  close(gru.finalAccuracy!.mean, 0.986);
  close(gru.finalAccuracy!.std, Math.sqrt(2e-6));
  close(gru.finalAccuracy!.ci95![1] - 0.986, 12.7062047 * Math.sqrt(2e-6) / Math.sqrt(2), 1e-8);
  assert.equal(lstm.finalAccuracy!.n, 1);
  assert.equal(lstm.finalAccuracy!.std, null);
  assert.equal(lstm.finalAccuracy!.ci95, null);
  assert.deepEqual(comparison.warnings, ['cell=lstm, sharedCnn=true: single ended stopped at step 600 of 1000']);

  const bySettings = compareRuns(runs, { sort: 'settings' });
  assert.deepEqual(bySettings.groups.map((g) => g.differing.cell), ['gru', 'lstm', 'simple']);
  const byCellOnly = compareRuns(runs, { groupBy: ['sharedCnn'] });
  assert.deepEqual(byCellOnly.groups.map((g) => [g.label, g.runs.length]),
    [['sharedCnn=false', 5], ['sharedCnn=true', 1]]);
  const ignoringCell = compareRuns(runs, { ignore: ['cell'] });
  assert.deepEqual(ignoringCell.groups.map((g) => g.label), ['sharedCnn=false', 'sharedCnn=true']);
  assert.match(ignoringCell.warnings.join('\n'), /sharedCnn=false: seed 1, 2 occurs more than once/);
  assert.throws(() => compareRuns(runs, { groupBy: ['cel'] }), /groupBy: unknown setting 'cel'; known settings: task, /);
  assert.deepEqual(compareRuns(runs.slice(3, 5)).groups.map((g) => g.label), ['all runs']);
});

test('time to accuracy: the first evaluation at 98% and 99%, its step and seconds, and the peak memory, averaged over the runs', async () => {
  const run = (seed: number, evals: [number, number, number][], peakRssMiB?: number): string => {
    const dir = path.join(tempDir(), `seed-${seed}`);
    writeRun(dir, { seed, final: 0.5 });
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    record.history.evals = evals.map(([step, accuracy, elapsedMs]) => ({ step, loss: 1 - accuracy, accuracy, elapsedMs }));
    if (peakRssMiB !== undefined) record.history.peakRssMiB = peakRssMiB;
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(record));
    return dir;
  };
  const runs = await loadRuns([
    run(1, [[400, 0.97, 20_000], [800, 0.981, 41_000], [1000, 0.99, 52_000]], 700),
    run(2, [[400, 0.98, 19_000], [800, 0.985, 40_000], [1000, 0.988, 50_000]], 800),
  ]);
  assert.deepEqual(runs[0].milestones, [{ step: 800, seconds: 41 }, { step: 1000, seconds: 52 }]);
  assert.deepEqual(runs[1].milestones, [{ step: 400, seconds: 19 }, null]);
  const [group] = compareRuns(runs).groups;
  assert.deepEqual(group.milestones, [
    { reached: 2, meanStep: 600, meanSeconds: 30 }, { reached: 1, meanStep: 1000, meanSeconds: 52 },
  ]);
  assert.equal(group.meanPeakRssMiB, 750);
  const [header, , row] = comparisonTable(compareRuns(runs)).split('\n');
  assert.match(header, /\| +to 98% \| +to 99% \| steps \| +time \| peak RSS \|$/);
  assert.match(row, /\| 600 · 30\.0 s \| 1\/2: 1,000 · 52\.0 s \| 1,000 \| 1m 30s \| +750 MiB \|$/);
});

test('the comparison chart spec: means and min–max bands per step, an axis fitted to the late evaluations', () => {
  const evals = (finals: number[]) => finals.map((a, i) => ({ step: (i + 1) * 100, loss: 0, accuracy: a }));
  const spec = comparisonCurvesSpec([
    { label: 'A', runs: [evals([0.5, 0.97, 0.982]), evals([0.6, 0.975, 0.986])] },
    { label: 'B', runs: [evals([0.4, 0.96, 0.979])] },
  ]) as Spec;
  const rows = spec.data.values as { group: string; step: number; y: number; lo: number; hi: number; n: number }[];
  const a300 = rows.find((r) => r.group === 'A' && r.step === 300)!;
  close(a300.y, 1 - 0.984, 1e-12);
  close(a300.lo, 1 - 0.986, 1e-12);
  close(a300.hi, 1 - 0.982, 1e-12);
  assert.equal(a300.n, 2);
  const y = spec.layer[1].encoding.y;
  assert.equal(y.scale.type, 'log');
  // Fitted to steps >= 30% of the last: errors from 1.4% (A's best) to 60% (B at step 100).
  assert.deepEqual(y.scale.domain, [0.01, 1]);
  const late = comparisonCurvesSpec([{ label: 'A', runs: [evals([0.97, 0.98, 0.982])] }], { range: [0.97, 0.99] }) as Spec;
  assert.deepEqual(late.layer[1].encoding.y.scale.domain, [0.01, 0.05]);
  assert.throws(() => comparisonCurvesSpec([]), /at least one group/);
  assert.throws(() => comparisonCurvesSpec([{ label: 'A', runs: [[]] }]), /group A has no evaluations/);
});

// The tests walk the Vega-Lite JSON by path; typed as vega-lite's spec unions, every step would need a cast.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Spec = Record<string, any>;

function runCli(args: string[]) {
  const result = spawnSync(process.execPath, [runsCli, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('a run saved by saveRun is listed with its settings, model and environment', async () => {
  // Loaded here only: the rest of the registry never needs TensorFlow.
  const { buildCrnn } = await import('../lib/model/build');
  const { saveRun } = await import('../lib/runs/persist');
  const dir = tempDir();
  const crnnConfig = resolveCrnnConfig({ filters: [2, 2], denseUnits: 8, hiddenSize: 8, cell: 'gru' });
  const trainConfig = resolveTrainConfig({ numSteps: 2, seed: 5 });
  const model = buildCrnn(crnnConfig, { seed: 5 });
  const history = fakeHistory({ seed: 5, final: 0.5, numSteps: 200 });
  await saveRun(path.join(dir, 'sweep', 'gru', 'seed-5'), { model, crnnConfig, trainConfig, task: 'sum', history });
  model.dispose();
  const { runs, skipped } = await listRuns(dir);
  assert.deepEqual(skipped, []);
  assert.equal(runs.length, 1);
  const [run] = runs;
  assert.equal(run.id, 'sweep/gru/seed-5');
  assert.equal(run.task, 'sum');
  assert.deepEqual(run.crnnConfig, crnnConfig);
  assert.deepEqual(run.trainConfig, trainConfig);
  assert.equal(run.finalAccuracy, 0.5);
  assert.equal(run.hasModel, true);
  assert.equal(typeof run.cpu, 'string');
  assert.ok(!Number.isNaN(Date.parse(run.savedAt)));
});

test('a run\'s digit probe, recorded by saveRun or added later, shows as p and ∏ p columns; runs without it show none', async () => {
  const { buildCrnn } = await import('../lib/model/build');
  const { saveRun } = await import('../lib/runs/persist');
  const dir = tempDir();
  const crnnConfig = resolveCrnnConfig({ filters: [2, 2], denseUnits: 8, hiddenSize: 8 });
  const model = buildCrnn(crnnConfig, { seed: 1 });
  const digitProbe = { accuracy: [0.99, 0.996], trainDigits: 100, testDigits: 50 };
  for (const seed of [1, 2]) {
    await saveRun(path.join(dir, `seed-${seed}`), {
      model, crnnConfig, trainConfig: resolveTrainConfig({ seed }), task: 'difference',
      history: fakeHistory({ seed, final: 0.98 }), ...(seed === 1 ? { digitProbe } : {}),
    });
  }
  model.dispose();
  let { runs } = await listRuns(dir);
  assert.deepEqual(runs.map((r) => r.digitAccuracy), [[0.99, 0.996], null]);
  assert.match(runsTable(runs), /\| 99\.00 \/ 99\.60 \| 98\.60 \|/);
  assert.match(runsTable(runs), /\| seed-2 .*\| +– \| +– \|/);

  const before = JSON.parse(fs.readFileSync(path.join(dir, 'seed-2', 'run.json'), 'utf8'));
  await recordDigitProbe(path.join(dir, 'seed-2'), { accuracy: [0.98, 0.99], trainDigits: 100, testDigits: 50 });
  const after = JSON.parse(fs.readFileSync(path.join(dir, 'seed-2', 'run.json'), 'utf8'));
  assert.deepEqual({ ...after, digitProbe: undefined }, { ...before, digitProbe: undefined }, 'nothing else changes');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'seed-2')).filter((f) => f.endsWith('.tmp')), []);
  ({ runs } = await listRuns(dir));
  const [group] = compareRuns(runs).groups;
  close(group.digitAccuracy?.mean, (0.993 + 0.985) / 2);
  close(group.digitProduct?.mean, (0.99 * 0.996 + 0.98 * 0.99) / 2);
  assert.match(comparisonTable(compareRuns(runs)), /digit p % \| ∏ p %/);
  assert.doesNotMatch(comparisonTable(compareRuns((await listRuns(root)).runs)), /digit p/);
  await assert.rejects(recordDigitProbe(path.join(root, 'other'), digitProbe), /is not a run record/);
});

test('varyingOnly keeps the runs that differ from the baseline in one setting; differenceLines compares them', async () => {
  const { runs } = await listRuns(root);
  const baseline = { ...runSettings({ task: 'difference', crnnConfig: resolveCrnnConfig(),
    trainConfig: resolveTrainConfig({ numSteps: 1000 }) }) };
  const byCell = varyingOnly(runs, 'cell', { baseline });
  // The LSTM run also shares its CNN: two settings away from the baseline.
  assert.deepEqual([...new Set(byCell.map((r) => r.crnnConfig.cell))].sort(), ['gru', 'simple']);
  assert.deepEqual(varyingOnly(runs, 'cell'), [], 'none of these runs has the default 10,000 steps');
  const lines = differenceLines(compareRuns(byCell), 'cell=simple');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^cell=gru vs cell=simple: \+0\.60 points \(95% interval −\d\.\d\d … \+\d\.\d\d\), within the spread between seeds$/);
  assert.throws(() => varyingOnly(runs, 'cells'), /unknown setting 'cells'/);
});

test('the comparison chart leaves out a reference line outside its range, which would crash resvg', () => {
  const evals = (final: number) => [0, 10, 20].map((step) => ({ step, loss: 1, accuracy: final * step / 20 }));
  const groups = [{ label: 'a', runs: [evals(0.05), evals(0.06)] }, { label: 'b', runs: [evals(0.02), evals(0.03)] }];
  const spec = comparisonCurvesSpec(groups) as { layer: { mark: { type: string } }[] };
  assert.ok(spec.layer.every((layer) => layer.mark.type !== 'rule'), 'no rule at 98% on a 94-98% error axis');
  // Rendered in a child process: a resvg panic aborts the process it runs in.
  const script = `const { comparisonCurvesSvg } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'view', 'charts'))});
    const { Resvg } = require('@resvg/resvg-js');
    comparisonCurvesSvg(${JSON.stringify(groups)}).then((svg) => { new Resvg(svg).render(); console.log('rendered'); });`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: path.join(__dirname, '..', '..') });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /rendered/);
});
