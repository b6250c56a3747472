import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isProcessRunning, liveLockOwner, lockFileOf, lockOwner, reserveRunFolder } from '../lib/runs/lock';
import { tempFolders } from './helpers/temp';

const tempDir = tempFolders('lock');

/** The id of a process that has ended. */
function endedPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid;
}

test('a run folder\'s lock is .<name>.lock beside it, and names its owner only when it holds a process id', () => {
  const dir = path.join(tempDir(), 'run');
  assert.equal(lockFileOf(dir), path.join(path.dirname(dir), '.run.lock'));
  assert.equal(lockOwner(dir), undefined);
  fs.writeFileSync(lockFileOf(dir), 'not a pid\n');
  assert.equal(lockOwner(dir), undefined);
  fs.writeFileSync(lockFileOf(dir), '0\n');
  assert.equal(lockOwner(dir), undefined);
  fs.writeFileSync(lockFileOf(dir), `${process.pid}\n`);
  assert.equal(lockOwner(dir), process.pid);
  assert.equal(liveLockOwner(dir), process.pid);
  const ended = endedPid();
  fs.writeFileSync(lockFileOf(dir), `${ended}\n`);
  assert.equal(lockOwner(dir), ended);
  assert.equal(liveLockOwner(dir), undefined);
  assert.equal(isProcessRunning(process.pid), true);
  assert.equal(isProcessRunning(ended), false);
});

test('reserving creates the folder and its lock; releasing, even twice, removes both while nothing was saved', () => {
  const dir = path.join(tempDir(), 'nested', 'run');
  const reservation = reserveRunFolder(dir);
  assert.equal(reservation.dir, path.resolve(dir));
  assert.equal(reservation.created, true);
  assert.equal(reservation.lockFile, lockFileOf(reservation.dir));
  assert.equal(fs.readFileSync(reservation.lockFile, 'utf8'), `${process.pid}\n`);
  assert.deepEqual(fs.readdirSync(dir), []);
  reservation.release();
  reservation.release();
  assert.ok(!fs.existsSync(dir) && !fs.existsSync(reservation.lockFile));
});

test('releasing keeps a folder that holds a save, and one the reservation did not create', () => {
  const parent = tempDir();
  const saved = path.join(parent, 'saved');
  const reservation = reserveRunFolder(saved);
  fs.writeFileSync(path.join(saved, 'run.json'), '{}');
  reservation.release();
  assert.deepEqual(fs.readdirSync(saved), ['run.json']);

  const empty = path.join(parent, 'empty');
  fs.mkdirSync(empty);
  const again = reserveRunFolder(empty);
  assert.equal(again.created, false);
  again.release();
  assert.ok(fs.existsSync(empty));
  assert.deepEqual(fs.readdirSync(parent).sort(), ['empty', 'saved'], 'no lock is left');
});

test('reserving refuses a folder that holds something, unless it is to be resumed, and a file', () => {
  const parent = tempDir();
  const dir = path.join(parent, 'run');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'keep me');
  assert.throws(() => reserveRunFolder(dir), /run already exists and is not empty; choose a new folder/);
  const resumed = reserveRunFolder(dir, { existing: true });
  resumed.release();
  assert.equal(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'keep me');
  const file = path.join(parent, 'file');
  fs.writeFileSync(file, 'x');
  assert.throws(() => reserveRunFolder(file), /file exists and is not a folder; choose a new folder/);
  assert.throws(() => reserveRunFolder(path.join(file, 'run')), /a part of its path is a file/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'x');
});

test('a lock held by a running process is refused, one left by an ended process is taken over', () => {
  const dir = path.join(tempDir(), 'run');
  fs.writeFileSync(lockFileOf(dir), `${process.ppid}\n`);
  assert.throws(() => reserveRunFolder(dir), new RegExp(`in use by another training run \\(process ${process.ppid}, lock `));
  assert.ok(!fs.existsSync(dir));
  fs.writeFileSync(lockFileOf(dir), `${endedPid()}\n`);
  const reservation = reserveRunFolder(dir);
  assert.equal(lockOwner(dir), process.pid);
  reservation.release();
});

test('reserving refuses a save larger than the free disk space, and leaves nothing behind', () => {
  const parent = tempDir();
  const dir = path.join(parent, 'run');
  assert.throws(() => reserveRunFolder(dir, { bytesNeeded: Number.MAX_SAFE_INTEGER }),
    /not enough disk space for the run folder .*run: the save needs about [\d.]+ MB, [\d.]+ MB are free/);
  assert.deepEqual(fs.readdirSync(parent), []);
});
