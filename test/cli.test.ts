/**
 * bin/cli.ts, what the command-line programs share: time stamps, percentages,
 * stop signals and the last word on an error. Each behaviour that ends a
 * process is checked in a child process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { percent, STOP_SIGNALS, timestamp } from '../bin/cli';

const CLI = path.join(__dirname, '..', 'bin', 'cli.js');

/** Runs `body` in a child node process that has bin/cli.js loaded as `cli`. */
const childArgs = (body: string) => ['-e', `const cli = require(${JSON.stringify(CLI)});\n${body}`];

test('the programs print an accuracy as a percentage with two decimals', () => {
  assert.deepEqual([0.9123, 0.98, 1, 0, 0.000049].map(percent), ['91.23%', '98.00%', '100.00%', '0.00%', '0.00%']);
});

test('a time stamp is now, to the second, written without colons so that it can name a folder', () => {
  const before = Date.now();
  const stamp = timestamp();
  assert.match(stamp, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d$/);
  const [date, time] = stamp.split('T');
  const parsed = Date.parse(`${date}T${time.replace(/-/g, ':')}Z`);
  assert.ok(parsed <= Date.now() && parsed >= before - 1000, `${stamp} is not now`);
});

test('a stop signal reaches the handler, which exits as a process killed by it would: 128 + its number', async () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const child = spawn(process.execPath, childArgs(
      'cli.onStopSignals((s) => { console.log("got " + s); cli.exitForSignal(s); });\n' +
      'console.log("ready"); setInterval(() => {}, 1000);'), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve) => child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('ready')) resolve();
    }));
    child.kill(signal);
    assert.equal(await exited, 128 + STOP_SIGNALS[signal]);
    assert.match(stdout, new RegExp(`got ${signal}`));
  }
});

test('the first stop signal is announced and recorded, and the work goes on; a second one quits with its exit code', async () => {
  const child = spawn(process.execPath, childArgs(
    'const stop = cli.stopOnFirstSignal((s) => console.log("announced " + s));\n' +
    'setInterval(() => console.log("working, stop=" + stop()), 20);'), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let closed = false;
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { closed = true; resolve(code); }));
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  // Waits for `text` on the child's stdout; fails, instead of waiting for ever, if the child ends first or takes 10 s.
  const seen = (text: string) => new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const check = (): void => {
      if (stdout.includes(text)) resolve();
      else if (closed || Date.now() > deadline) reject(new Error(`no "${text}" from the child; it printed: ${stdout}`));
      else setTimeout(check, 10);
    };
    check();
  });
  try {
    await seen('working, stop=undefined');
    child.kill('SIGINT');
    await seen('working, stop=SIGINT');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 128 + STOP_SIGNALS.SIGTERM);
  assert.equal(stdout.match(/announced/g)?.length, 1, 'only the first signal is announced');
  assert.match(stdout, /working, stop=undefined[\s\S]*announced SIGINT\n[\s\S]*working, stop=SIGINT/);
});

test('an unexpected error in main prints its stack and exits 1', () => {
  const result = spawnSync(process.execPath, childArgs(
    'cli.runMain(async (argv) => { if (argv.length > 0) throw new Error("boom in main"); });'), { encoding: 'utf8' });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /^Error: boom in main\n\s+at /);
});

test('output closed under a program does not stop it', () => {
  // The child writes after its stdout's reader has gone: without the guard, EPIPE kills it.
  const script = 'cli.ignoreClosedOutput();\n' +
    'let n = 0; const t = setInterval(() => { process.stdout.write("x".repeat(65536)); if (++n === 50) { clearInterval(t); ' +
    'require("node:fs").writeSync(2, "finished"); } }, 1);';
  const result = spawnSync('bash', ['-c', `"${process.execPath}" ${childArgs(script).map(shellWord).join(' ')} | head -c 1 >/dev/null`],
    { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /finished/);
});

function shellWord(word: string): string {
  return `'${word.replace(/'/g, "'\\''")}'`;
}
