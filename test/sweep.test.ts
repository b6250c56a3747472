import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  clearRunFolder, inspectRun, isTrainable, openAttemptLog, parseGridArgument, parseSetArgument, planSweep, runName,
  shellCommand, stateForExecutor, trainerArgs,
  type RunState, type SweepSpec,
} from '../lib/runs/sweep';
import { presetConfigs } from '../lib/presets';
import { age, testRecord, writeRecord, writeTinyModel } from './helpers/run-folders';
import { threadsPerJob } from '../lib/runs/cpu';
import { checkpointRecordJson } from './helpers/checkpoint';
import type { History } from '../lib/types';
import { tempFolders } from './helpers/temp';

const sweeper = path.join(__dirname, '..', 'bin', 'sweep.js');
const trainer = path.join(__dirname, '..', 'bin', 'train.js');

const tempDir = tempFolders('sweep');

function runSweep(args: string[]) {
  const result = spawnSync(process.execPath, [sweeper, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A model and batches small enough that a step takes milliseconds. */
const tinyModel = ['batchSize=8', 'evalSize=16', 'filters=2,2', 'denseUnits=8', 'hiddenSize=8'];
const asSets = (settings: string[]) => settings.flatMap((s) => ['--set', s]);
/** Three steps of the tiny model: a run takes a second or two. */
const tinySettings = asSets([...tinyModel, 'numSteps=3']);

function spec(grid: string[], fixed: string[] = [], seeds = [1], root = '/sweep'): SweepSpec {
  return { grid: grid.map(parseGridArgument), fixed: fixed.map(parseSetArgument), seeds, root };
}

test('a grid expands to every combination, seed after seed, named by its non-default settings in table order', () => {
  // Given in another order than the table's, the keys are named in the table's.
  const runs = planSweep(spec(['sharedCnn=false,true', 'cell=simple,gru,lstm'], ['numSteps=2000'], [1, 2]));
  assert.equal(runs.length, 12);
  assert.deepEqual(runs.slice(0, 6).map((r) => r.name), [
    'default/seed-1', 'sharedCnn=true/seed-1',
    'cell=gru/seed-1', 'cell=gru,sharedCnn=true/seed-1',
    'cell=lstm/seed-1', 'cell=lstm,sharedCnn=true/seed-1',
  ]);
  assert.ok(runs.slice(6).every((r) => r.seed === 2 && r.name.endsWith('/seed-2')));
  assert.equal(new Set(runs.map((r) => r.dir)).size, 12);
  const gru = runs[3];
  assert.equal(gru.dir, path.join('/sweep', 'cell=gru,sharedCnn=true', 'seed-1'));
  assert.deepEqual(gru.point, { cell: 'gru', sharedCnn: true });
  assert.deepEqual(gru.args, ['--cell', 'gru', '--shared-cnn', 'true', '--steps', '2000', '--seed', '1',
    '--out', gru.dir]);
});

test('values with a comma and numbers are named so that the names stay readable and distinct', () => {
  const runs = planSweep(spec(['filters=8,8;16,16', 'learningRate=1e-3,3e-4'], [], [7]));
  assert.deepEqual(runs.map((r) => r.name), [
    'filters=8x8/seed-7', 'filters=8x8,learningRate=0.0003/seed-7',
    'default/seed-7', 'learningRate=0.0003/seed-7',
  ]);
  assert.deepEqual(runs[0].args.slice(0, 4), ['--filters', '8,8', '--learning-rate', '0.001']);
  assert.equal(runName({}, 3), 'default/seed-3');
  assert.equal(runName({ cell: 'simple', hiddenSize: 64 }, 3), 'hiddenSize=64/seed-3');
  assert.deepEqual(planSweep(spec([], [], [1, 2])).map((r) => r.name), ['default/seed-1', 'default/seed-2']);
});

test('unknown keys, settings a sweep cannot set and values not allowed are refused with what is allowed', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => parseGridArgument('cel=gru'), /unknown setting 'cel'; the settings are seqLength, .*cell, .*engine/],
    [() => parseGridArgument('cell=gru,rnn'), /cell must be one of simple, gru, lstm, got "rnn"/],
    [() => parseGridArgument('sharedCnn=yes'), /sharedCnn must be true or false, got "yes"/],
    [() => parseGridArgument('batchSize=8,0'), /batchSize must be an integer >= 1, got 0/],
    [() => parseGridArgument('filters=8,8,16,16'), /filters must be two filter counts like 16,16/],
    [() => parseGridArgument('height=28'), /height cannot be set by a sweep: .*derived from the data/],
    [() => parseGridArgument('seed=1,2'), /the seeds are given by --seeds or --seed-list/],
    [() => parseGridArgument('cell'), /expected key=value like cell=simple,gru/],
    [() => parseGridArgument('cell=gru,gru'), /cell=gru is given twice/],
    [() => parseSetArgument('numSteps=-1'), /numSteps must be an integer >= 0, got -1/],
    [() => planSweep(spec(['cell=gru'], ['cell=lstm'])), /cell is given more than once/],
    [() => planSweep(spec([], [], [1, 1])), /a seed is given twice/],
  ];
  for (const [parse, message] of cases) assert.throws(parse, message);
});

test('shell commands quote only what a shell would split or expand', () => {
  assert.equal(shellCommand(['node', 'dist/bin/train.js', '--out', 'runs/s/cell=gru,sharedCnn=true/seed-1']),
    'node dist/bin/train.js --out runs/s/cell=gru,sharedCnn=true/seed-1');
  assert.equal(shellCommand(['--out', 'my runs/it\'s']), `--out 'my runs/it'\\''s'`);
});

test('a run folder is new, half-written, finished, stopped, of other settings, busy or not the sweep\'s', () => {
  const root = tempDir();
  const s = spec(['cell=gru'], ['numSteps=3'], [1], root);
  const [run] = planSweep(s);
  assert.equal(inspectRun(s, run).kind, 'new');
  fs.mkdirSync(run.dir, { recursive: true });
  assert.equal(inspectRun(s, run).kind, 'partial');
  fs.writeFileSync(path.join(run.dir, 'model.json'), '{}');
  assert.equal(inspectRun(s, run).kind, 'partial');
  const record = (numSteps: number, endReason: 'completed' | 'stopped') => testRecord({
    crnnConfig: { cell: 'gru' }, trainConfig: { numSteps, seed: 1 }, endReason,
  });
  writeRecord(run.dir, record(3, 'completed'));
  assert.deepEqual(inspectRun(s, run), { kind: 'finished', endReason: 'completed', finalAccuracy: 0.5 });
  writeRecord(run.dir, record(3, 'stopped'));
  assert.deepEqual(inspectRun(s, run), { kind: 'stopped', steps: 100 });
  writeRecord(run.dir, record(5, 'completed'));
  assert.deepEqual(inspectRun(s, run), { kind: 'mismatch', differences: ['numSteps 5, this sweep 3'] });
  const lock = path.join(path.dirname(run.dir), '.seed-1.lock');
  fs.writeFileSync(lock, `${process.pid}\n`);
  assert.deepEqual(inspectRun(s, run), { kind: 'busy', pid: process.pid });
  fs.rmSync(lock);
  fs.writeFileSync(path.join(run.dir, 'notes.txt'), 'mine');
  assert.deepEqual(inspectRun(s, run), { kind: 'foreign', reason: 'it holds notes.txt, which no run writes' });
  fs.rmSync(path.join(run.dir, 'notes.txt'));
  fs.rmSync(path.join(run.dir, 'run.json'));
  clearRunFolder(run.dir);
  assert.equal(inspectRun(s, run).kind, 'new');
});

test('the sweep trains new, half-written, stopped and resumable runs; elsewhere a resumable one is trained again', () => {
  const states: RunState[] = [
    { kind: 'new' }, { kind: 'partial' }, { kind: 'stopped', steps: 40 }, { kind: 'resumable', step: 20, stopped: true },
    { kind: 'finished', endReason: 'completed', finalAccuracy: 0.9 }, { kind: 'busy', pid: 7 },
    { kind: 'mismatch', differences: ['numSteps 5, this sweep 3'] }, { kind: 'foreign', reason: 'it is not a folder' },
  ];
  assert.deepEqual(states.filter(isTrainable).map((state) => state.kind), ['new', 'partial', 'stopped', 'resumable']);
  // An executor that resumes checkpoints keeps every state; one that trains elsewhere cannot resume.
  for (const state of states) assert.deepEqual(stateForExecutor(state, true), state);
  assert.deepEqual(stateForExecutor({ kind: 'resumable', step: 20, stopped: true }, false), { kind: 'stopped', steps: 20 });
  assert.deepEqual(stateForExecutor({ kind: 'resumable', step: 20, stopped: false }, false), { kind: 'partial' });
  for (const state of states.filter((s) => s.kind !== 'resumable')) assert.deepEqual(stateForExecutor(state, false), state);
});

test('a run.json holding null, of another format or of a newer version is reported, never taken for a finished run', () => {
  const root = tempDir();
  const s = spec(['cell=gru'], ['numSteps=3'], [1], root);
  const [run] = planSweep(s);
  const cases: [string, string][] = [
    ['null', 'its run.json holds null, not a run record'],
    ['{"format": "keras-run"}', 'its run.json is not a run record: format "keras-run", expected "crnn-mnist-run"'],
    [JSON.stringify({ ...testRecord({ crnnConfig: { cell: 'gru' }, trainConfig: { numSteps: 3, seed: 1 } }), version: 99 }),
      'its run.json is version 99 of the run record, newer than this code reads (up to 1): update the project to read it'],
  ];
  for (const [text, reason] of cases) {
    writeRecord(run.dir, text);
    assert.deepEqual(inspectRun(s, run), { kind: 'foreign', reason });
  }
  fs.rmSync(path.join(run.dir, 'run.json'));
  fs.mkdirSync(path.join(run.dir, 'run.json'));
  assert.deepEqual(inspectRun(s, run), { kind: 'foreign', reason: 'its run.json is not a regular file' });
  fs.rmdirSync(path.join(run.dir, 'run.json'));
  clearRunFolder(run.dir);
  assert.equal(inspectRun(s, run).kind, 'new');
});

test('a run moved aside by a killed save is put back and found finished, not trained again over it', () => {
  const root = tempDir();
  const s = spec(['cell=gru'], ['numSteps=3'], [1], root);
  const [run] = planSweep(s);
  const movedAside = path.join(path.dirname(run.dir), '.seed-1.saving-Abc123.previous');
  writeTinyModel(movedAside);
  writeRecord(movedAside, testRecord({ crnnConfig: { cell: 'gru' }, trainConfig: { numSteps: 3, seed: 1 } }));
  age(movedAside, 2 * 3600);
  assert.deepEqual(inspectRun(s, run), { kind: 'finished', endReason: 'completed', finalAccuracy: 0.5 });
  assert.deepEqual(fs.readdirSync(path.dirname(run.dir)), ['seed-1']);
  // Not while a trainer holds the folder's lock: it may be between its two renames.
  fs.renameSync(run.dir, movedAside);
  fs.writeFileSync(path.join(path.dirname(run.dir), '.seed-1.lock'), `${process.pid}\n`);
  assert.deepEqual(inspectRun(s, run), { kind: 'busy', pid: process.pid });
  assert.ok(fs.existsSync(movedAside));
});

test('a sweep over a preset names its runs after it, passes it to the trainer, and checks finished runs against it', () => {
  const root = tempDir();
  const s: SweepSpec = { ...spec(['learningRate=0.005,0.007'], ['numSteps=3'], [1], root), preset: 'fast' };
  const runs = planSweep(s);
  assert.deepEqual(runs.map((r) => r.name), ['preset=fast,learningRate=0.005/seed-1', 'preset=fast,learningRate=0.007/seed-1']);
  assert.deepEqual(runs[0].args.slice(0, 4), ['--preset', 'fast', '--learning-rate', '0.005']);
  assert.equal(runName({}, 2, 'article'), 'default/seed-2');
  // A finished run of the preset's settings is the sweep's; one of the defaults' is not.
  const [run] = runs;
  fs.mkdirSync(run.dir, { recursive: true });
  const configs = presetConfigs('fast', { model: { learningRate: 0.005 }, train: { numSteps: 3, seed: 1 } });
  const record = (model: object, train: object) => testRecord({ crnnConfig: model, trainConfig: train, accuracies: [0.4, 0.6] });
  writeRecord(run.dir, record(configs.model, configs.train));
  assert.deepEqual(inspectRun(s, run), { kind: 'finished', endReason: 'completed', finalAccuracy: 0.6 });
  writeRecord(run.dir, record({ learningRate: 0.005 }, { numSteps: 3, seed: 1 }));
  const state = inspectRun(s, run);
  assert.equal(state.kind, 'mismatch');
  assert.ok(state.kind === 'mismatch' && state.differences.some((d) => d.startsWith('sharedCnn false')), JSON.stringify(state));
});

test('--print writes one train command per run and creates nothing', () => {
  const root = path.join(tempDir(), 'sweep');
  const { status, stdout, stderr } = runSweep(['--grid', 'cell=simple,gru,lstm', '--grid', 'sharedCnn=false,true',
    '--seeds', '2', '--set', 'numSteps=2000', '--root', root, '--print']);
  assert.equal(status, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 12);
  const script = path.relative(process.cwd(), trainer);
  assert.equal(lines[3], `node ${script} --cell gru --shared-cnn true --steps 2000 --seed 1 ` +
    `--out ${path.join(root, 'cell=gru,sharedCnn=true', 'seed-1')}`);
  assert.equal(fs.existsSync(root), false);
});

test('the sweep refuses an unknown key or value before running anything', () => {
  const root = path.join(tempDir(), 'sweep');
  for (const [args, message] of [
    [['--grid', 'cells=gru'], /--grid cells=gru: unknown setting 'cells'; the settings are/],
    [['--grid', 'cell=gru,rnn'], /--grid cell=gru,rnn: cell must be one of simple, gru, lstm, got "rnn"/],
    [['--set', 'batchSize=0'], /--set batchSize=0: batchSize must be an integer >= 1, got 0/],
  ] as [string[], RegExp][]) {
    const { status, stderr } = runSweep([...args, '--root', root]);
    assert.notEqual(status, 0, args.join(' '));
    assert.match(stderr, message, args.join(' '));
  }
  assert.equal(fs.existsSync(root), false);
});

test('--print takes no --jobs, --threads or --ray, and --jobs and --threads take whole numbers from 1', () => {
  const root = path.join(tempDir(), 'sweep');
  for (const [args, message] of [
    [['--print', '--jobs', '2'], /option '--print' cannot be used with option '--jobs <n>'/],
    [['--print', '--ray', 'auto'], /option '--print' cannot be used with option '--ray <address>'/],
    [['--jobs', '0'], /--jobs <n>' argument '0' is invalid. Expected an integer >= 1/],
    [['--threads', 'two'], /--threads <n>' argument 'two' is invalid. Expected an integer >= 1/],
  ] as [string[], RegExp][]) {
    const { status, stderr } = runSweep([...args, '--root', root]);
    assert.notEqual(status, 0, args.join(' '));
    assert.match(stderr, message, args.join(' '));
  }
  assert.equal(fs.existsSync(root), false);
});

test('--jobs 2 trains two runs at once, each with its share of the cores, recorded in its run.json', () => {
  const root = path.join(tempDir(), 'sweep');
  const { status, stderr } = runSweep(['--grid', 'cell=simple,gru', ...tinySettings, '--root', root, '--jobs', '2']);
  assert.equal(status, 0, stderr);
  const threads = threadsPerJob(os.availableParallelism(), 2);
  assert.match(stderr, new RegExp(`2 runs at once, ${threads} TensorFlow threads? each`));
  // Both started before either ended.
  const lines = stderr.split('\n');
  const firstDone = lines.findIndex((l) => /: done/.test(l));
  assert.ok(lines.findIndex((l) => /\[2\/2\] cell=gru\/seed-1: training/.test(l)) < firstDone, stderr);
  assert.match(stderr, /2 runs: 2 trained, 0 finished earlier/);
  for (const config of ['default', 'cell=gru']) {
    const record = JSON.parse(fs.readFileSync(path.join(root, config, 'seed-1', 'run.json'), 'utf8'));
    assert.equal(record.environment.threads.intraOp, threads);
    assert.equal(record.environment.threads.interOp, threads);
    assert.equal(record.environment.tfEnvironment.TF_NUM_INTRAOP_THREADS, String(threads));
    assert.equal(record.environment.hostname, os.hostname());
  }
});

test('a tiny sweep trains each run once: printed commands and the sweep fill the same folders, and it resumes', () => {
  const root = path.join(tempDir(), 'sweep');
  const args = ['--grid', 'cell=simple,gru', ...tinySettings, '--root', root];
  const [simple, gru] = ['default', 'cell=gru'].map((c) => path.join(root, c, 'seed-1'));

  // One run trained by its printed command, as a scheduler would, the other by the sweep.
  const printed = runSweep([...args, '--print']).stdout.trim().split('\n');
  assert.equal(printed.length, 2);
  const first = spawnSync('bash', ['-c', printed[0]], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(first.status, 0, first.stderr);
  const sweep = runSweep(args);
  assert.equal(sweep.status, 0, sweep.stderr);
  assert.match(sweep.stderr, /\[1\/2\] default\/seed-1: finished earlier \(completed\), skipped/);
  assert.match(sweep.stderr, /2 runs: 1 trained, 1 finished earlier/);
  const record = JSON.parse(fs.readFileSync(path.join(gru, 'run.json'), 'utf8'));
  // The result as the run's record holds it.
  const final = (100 * record.history.evals[record.history.evals.length - 1].accuracy).toFixed(2);
  assert.ok(sweep.stderr.includes(`[2/2] cell=gru/seed-1: done, final accuracy ${final}%\n`), sweep.stderr);
  assert.equal(record.crnnConfig.cell, 'gru');
  assert.deepEqual(record.crnnConfig.filters, [2, 2]);
  assert.equal(record.trainConfig.numSteps, 3);
  assert.equal(record.trainConfig.seed, 1);
  assert.match(fs.readFileSync(`${gru}.log`, 'utf8'), /saved to /);

  // Again: nothing left to train, nothing to print.
  const savedAt = fs.statSync(path.join(simple, 'run.json')).mtimeMs;
  const again = runSweep(args);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /2 runs: 0 trained, 2 finished earlier/);
  assert.equal(fs.statSync(path.join(simple, 'run.json')).mtimeMs, savedAt);
  assert.equal(runSweep([...args, '--print']).stdout, '');

  // What a killed trainer leaves: its folder without run.json, and its lock.
  fs.rmSync(gru, { recursive: true });
  fs.mkdirSync(gru);
  const ended = spawnSync(process.execPath, ['-e', '']).pid;
  fs.writeFileSync(path.join(path.dirname(gru), '.seed-1.lock'), `${ended}\n`);
  const resumed = runSweep(args);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /cell=gru\/seed-1: was left half-written by a killed run; training it again/);
  assert.match(resumed.stderr, /2 runs: 1 trained, 1 finished earlier/);
  assert.ok(fs.existsSync(path.join(gru, 'run.json')));
  // Each attempt kept its own log.
  assert.deepEqual(fs.readdirSync(path.dirname(gru)).sort(), ['seed-1', 'seed-1.attempt-2.log', 'seed-1.log']);

  // A run stopped early (Ctrl-C) is trained again in full.
  const recordFile = path.join(simple, 'run.json');
  const stopped = JSON.parse(fs.readFileSync(recordFile, 'utf8'));
  fs.writeFileSync(recordFile, JSON.stringify({ ...stopped, history: { ...stopped.history, endReason: 'stopped' } }));
  const retrained = runSweep(args);
  assert.equal(retrained.status, 0, retrained.stderr);
  assert.match(retrained.stderr, /default\/seed-1: was stopped early \(3 steps\); training it again/);
  assert.match(retrained.stderr, /2 runs: 1 trained, 1 finished earlier/);
  assert.equal(JSON.parse(fs.readFileSync(recordFile, 'utf8')).history.endReason, 'completed');
});

const parallel = spawnSync('parallel', ['--version'], { encoding: 'utf8' });
const noParallel = parallel.status === 0 ? undefined : 'GNU parallel is not installed (apt-get install parallel)';
if (noParallel) console.log(`# skipping the GNU parallel test: ${noParallel}`);

test('the printed commands run by GNU parallel, two at once, fill the folders the sweep then finds finished',
  { skip: noParallel }, () => {
    const root = path.join(tempDir(), 'sweep');
    const args = ['--grid', 'cell=simple,gru', ...tinySettings, '--root', root];
    // As the README has it: npm run --silent sweep -- ... --print | parallel -j 2
    const printed = runSweep([...args, '--print']).stdout;
    const run = spawnSync('parallel', ['-j', '2'], { input: printed, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    const sweep = runSweep(args);
    assert.equal(sweep.status, 0, sweep.stderr);
    assert.match(sweep.stderr, /2 runs: 0 trained, 2 finished earlier/);
  });

test('a failed run is reported with its own log, the sweep goes on, and it exits non-zero with a summary', () => {
  const parent = tempDir();
  const root = path.join(parent, 'sweep');
  // The log of another sweep's attempt at the first run, on the same root: not this sweep's to write or show.
  const othersLog = path.join(root, 'default', 'seed-1.log');
  fs.mkdirSync(path.dirname(othersLog), { recursive: true });
  fs.writeFileSync(othersLog, 'the other sweep\'s training\n');
  const { status, stderr } = runSweep(['--grid', 'cell=simple,gru', ...tinySettings,
    '--data', path.join(parent, 'missing'), '--root', root]);
  assert.equal(status, 1);
  assert.match(stderr, /\[1\/2\] default\/seed-1: failed \(exit 1\): error: .*missing/);
  assert.match(stderr, /\[2\/2\] cell=gru\/seed-1: failed \(exit 1\)/);
  assert.match(stderr, /2 runs: 0 trained, 0 finished earlier, 2 failed/);
  assert.match(stderr, /failed cell=gru\/seed-1: exit 1: .*\(log .*cell=gru\/seed-1\.log\)/);
  const ownLog = path.join(root, 'default', 'seed-1.attempt-2.log');
  assert.ok(stderr.includes(`failed default/seed-1: exit 1: error: `) && stderr.includes(`(log ${ownLog})`), stderr);
  assert.match(fs.readFileSync(ownLog, 'utf8'), /error: .*missing/);
  assert.equal(fs.readFileSync(othersLog, 'utf8'), 'the other sweep\'s training\n');
});

test('each attempt at a run gets a log of its own, created exclusively', () => {
  const dir = path.join(tempDir(), 'cell=gru', 'seed-1');
  const logs = [openAttemptLog(dir), openAttemptLog(dir), openAttemptLog(dir)];
  logs.forEach(({ fd }) => fs.closeSync(fd));
  assert.deepEqual(logs.map((l) => path.basename(l.file)), ['seed-1.log', 'seed-1.attempt-2.log', 'seed-1.attempt-3.log']);
  fs.rmSync(logs[1].file);
  const again = openAttemptLog(dir);
  fs.closeSync(again.fd);
  assert.equal(again.file, logs[1].file, 'the first free name');
});

test('SIGTERM stops the running training, which saves with its checkpoint, and then the sweep; a resumed sweep resumes it', async () => {
  const root = path.join(tempDir(), 'sweep');
  const long = [...tinyModel, 'numSteps=100000', 'evalEvery=1'];
  const args = ['--grid', 'cell=simple,gru', ...asSets(long), '--root', root];
  const child = spawn(process.execPath, [sweeper, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const log = path.join(root, 'default', 'seed-1.log');
  // Training is under way once the trainer reports an evaluation.
  while (!(fs.existsSync(log) && /step \d+: eval loss/.test(fs.readFileSync(log, 'utf8')))) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGTERM');
  assert.equal(await exited, 143, stderr);
  assert.match(stderr, /SIGTERM: stopping the running training \(it saves what it trained\), then the sweep/);
  assert.match(stderr, /default\/seed-1: stopped early and saved \(\d+ steps\)/);
  assert.match(stderr, /2 runs: 0 trained, 0 finished earlier, 1 stopped early, 1 not started/);
  assert.match(fs.readFileSync(log, 'utf8'), /SIGTERM: stopping after this step and saving/);
  const dir = path.join(root, 'default', 'seed-1');
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')).history.endReason, 'stopped');
  assert.equal(fs.existsSync(path.join(root, 'cell=gru')), false);
  const s = spec(['cell=simple,gru'], long, [1], root);
  // The stopped run kept its checkpoint: a resumed sweep goes on from there.
  assert.deepEqual(planSweep(s).map((run) => inspectRun(s, run).kind), ['resumable', 'new']);
});

const checkpointRecord = (numSteps: number) => checkpointRecordJson({ cell: 'gru' }, { numSteps, seed: 1 });

test('a run killed or stopped with a checkpoint of the sweep\'s settings is resumed; one of other settings or damaged is not touched', () => {
  const root = tempDir();
  const s = spec(['cell=gru'], ['numSteps=3'], [1], root);
  const [run] = planSweep(s);
  const checkpoint = path.join(run.dir, 'checkpoint');
  fs.mkdirSync(checkpoint, { recursive: true });
  fs.writeFileSync(path.join(checkpoint, 'checkpoint.json'), checkpointRecord(3));
  // What a killed checkpoint write leaves beside it is no stranger.
  fs.mkdirSync(path.join(run.dir, '.checkpoint.saving-Ab12Cd'));
  assert.deepEqual(inspectRun(s, run), { kind: 'resumable', step: 0, stopped: false });
  const args = trainerArgs(run, inspectRun(s, run));
  assert.deepEqual(args.slice(-2), ['--resume', run.dir]);
  assert.ok(!args.includes('--out'));
  assert.deepEqual(trainerArgs(run, { kind: 'new' }), run.args);

  writeRecord(run.dir, testRecord({ crnnConfig: { cell: 'gru' }, trainConfig: { numSteps: 3, seed: 1 }, endReason: 'stopped' }));
  assert.deepEqual(inspectRun(s, run), { kind: 'resumable', step: 0, stopped: true });
  fs.rmSync(path.join(run.dir, 'run.json'));

  fs.writeFileSync(path.join(checkpoint, 'checkpoint.json'), checkpointRecord(5));
  assert.deepEqual(inspectRun(s, run), { kind: 'mismatch', differences: ['checkpoint: numSteps 5, this sweep 3'] });
  fs.writeFileSync(path.join(checkpoint, 'checkpoint.json'), '{"format": "crnn-mnist-chec');
  const damaged = inspectRun(s, run);
  assert.equal(damaged.kind, 'foreign');
  assert.match(damaged.kind === 'foreign' ? damaged.reason : '', /checkpoint\.json is damaged: not valid JSON .*: delete the folder/);
  assert.ok(fs.existsSync(path.join(checkpoint, 'checkpoint.json')), 'left as it was');

  // Leftovers of a checkpoint write without a checkpoint: a half-written run, cleared whole.
  fs.rmSync(checkpoint, { recursive: true });
  assert.equal(inspectRun(s, run).kind, 'partial');
  clearRunFolder(run.dir);
  assert.equal(inspectRun(s, run).kind, 'new');
});

test('a sweep resumes a run killed with SIGKILL from its checkpoint instead of training it again', async () => {
  const root = path.join(tempDir(), 'sweep');
  const settings = [...tinyModel, 'numSteps=600', 'evalEvery=100', 'checkpointEvery=20'];
  const s = spec([], settings, [1], root);
  const [run] = planSweep(s);
  fs.mkdirSync(path.dirname(run.dir), { recursive: true });
  const child = spawn(process.execPath, [trainer, ...run.args], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('close', resolve));
  const checkpointFile = path.join(run.dir, 'checkpoint', 'checkpoint.json');
  while (!fs.existsSync(checkpointFile)) await new Promise((resolve) => setTimeout(resolve, 5));
  child.kill('SIGKILL');
  await exited;
  const checkpoint = JSON.parse(fs.readFileSync(checkpointFile, 'utf8'));
  const step: number = checkpoint.state.step;
  assert.ok(!fs.existsSync(path.join(run.dir, 'run.json')), 'killed before its end');

  const sweep = runSweep([...asSets(settings), '--root', root]);
  assert.equal(sweep.status, 0, sweep.stderr);
  assert.match(sweep.stderr, new RegExp(`default/seed-1: was killed after step ${step}; resuming it from its checkpoint`));
  assert.match(sweep.stderr, /1 runs: 1 trained, 0 finished earlier/);
  const history: History = JSON.parse(fs.readFileSync(path.join(run.dir, 'history.json'), 'utf8'));
  assert.equal(history.steps.length, 600);
  assert.deepEqual(history.resumes?.map((r) => r.step), [step]);
  // The steps before the checkpoint were not trained again: they are the checkpoint's records.
  assert.deepEqual(history.steps.slice(0, step), checkpoint.state.history.steps);
  assert.match(fs.readFileSync(`${run.dir}.log`, 'utf8'), /--resume .*resumed from the checkpoint at step/s);
});
