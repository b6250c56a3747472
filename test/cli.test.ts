import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const trainer = path.join(__dirname, '..', 'bin', 'train.js');

function runTrainer(args: string[]) {
  const result = spawnSync(process.execPath, [trainer, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const tempDirs: string[] = [];
after(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-cli-'));
  tempDirs.push(dir);
  return dir;
}

test('a tiny training run writes the model, run record, history and charts', () => {
  const out = path.join(tempDir(), 'run');
  const { status, stdout, stderr } = runTrainer([
    '--steps', '3', '--batch-size', '16', '--eval-size', '64', '--eval-every', '2',
    '--filters', '4,4', '--dense-units', '16', '--hidden-size', '16', '--cell', 'gru', '--seed', '7',
    '--out', out,
  ]);
  assert.equal(status, 0, stderr);
  assert.deepEqual(fs.readdirSync(out).sort(),
    ['history.csv', 'history.json', 'model.json', 'run.json', 'training-curves.svg', 'weights.bin']);
  assert.match(stdout, /3 steps in [\d.]+ s \(completed\); saved to /);
  assert.match(stdout, /final accuracy [\d.]+% on 64 test sequences \(the article reports about 98\.00%/);

  const record = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
  assert.equal(record.crnnConfig.cell, 'gru');
  assert.deepEqual(record.crnnConfig.filters, [4, 4]);
  assert.equal(record.trainConfig.numSteps, 3);
  assert.equal(record.trainConfig.seed, 7);
  assert.equal(record.task, 'difference');
  const history = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8'));
  assert.deepEqual(history.evals.map((e: { step: number }) => e.step), [2, 3]);
  const csv = fs.readFileSync(path.join(out, 'history.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 4);
  assert.match(fs.readFileSync(path.join(out, 'training-curves.svg'), 'utf8'), /<svg/);
});

test('--help lists every option and exits 0', () => {
  const { status, stdout } = runTrainer(['--help']);
  assert.equal(status, 0);
  for (const flag of ['--steps', '--batch-size', '--seq-length', '--task', '--cell', '--hidden-size', '--filters',
    '--dense-units', '--shared-cnn', '--learning-rate', '--eval-every', '--eval-size', '--seed',
    '--target-accuracy', '--lr-schedule', '--engine', '--data', '--out', '--plot']) {
    assert.ok(stdout.includes(flag), `--help does not mention ${flag}`);
  }
});

test('bad flags exit non-zero with a message and create nothing', () => {
  const parent = tempDir();
  const out = path.join(parent, 'run');
  const cases: [string[], RegExp][] = [
    [['--batch-size', '0'], /--batch-size \(batchSize\) must be an integer >= 1, got 0/],
    [['--batch-size', 'abc'], /'--batch-size <n>' argument 'abc' is invalid/],
    [['--steps', '-1'], /--steps \(numSteps\) must be an integer >= 0, got -1/],
    [['--cell', 'transformer'], /Allowed choices are simple, gru, lstm/],
    [['--task', 'product'], /Allowed choices are difference, sum/],
    [['--filters', '16'], /Expected two counts like 16,16/],
    [['--learning-rate', 'fast'], /'--learning-rate <x>' argument 'fast' is invalid/],
    [['--target-accuracy', '98'], /--target-accuracy \(targetAccuracy\) must be a number in \(0, 1\], got 98/],
    [['--seq-length', '1'], /needs sequences of at least 2 digits, got seqLength 1/],
    [['--engine', 'turbo'], /Allowed choices are auto, graph, eager/],
    [['--data', path.join(parent, 'missing')], /error: .*missing/],
    [['--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const { status, stderr } = runTrainer([...args, '--out', out]);
    assert.notEqual(status, 0, args.join(' '));
    assert.match(stderr, message, args.join(' '));
  }
  assert.deepEqual(fs.readdirSync(parent), []);
});

test('an existing run folder is never replaced', () => {
  const out = tempDir();
  fs.writeFileSync(path.join(out, 'model.json'), '{"keep": true}');
  const { status, stderr } = runTrainer(['--steps', '1', '--out', out]);
  assert.notEqual(status, 0);
  assert.match(stderr, /already exists and is not empty; choose a new folder/);
  assert.equal(fs.readFileSync(path.join(out, 'model.json'), 'utf8'), '{"keep": true}');
});
