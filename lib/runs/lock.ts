/**
 * Reserving a run folder before training: a folder that cannot be written, or
 * that another run is writing, must be found before the first step, not after
 * an hour of training when the model is saved.
 *
 * The lock is a file next to the folder, `.<name>.lock`, created exclusively
 * and holding the owner's process id. It sits beside the folder, not inside
 * it, because `saveRun` replaces the folder as a whole. A lock left by a
 * process that no longer runs (killed with SIGKILL, a crash) is taken over.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { recoverMovedAside } from './record';

/** A reserved run folder; `release` gives it up (also at process exit). */
export interface RunFolderReservation {
  /** The folder, resolved to an absolute path. */
  dir: string;
  /** The lock file beside it. */
  lockFile: string;
  /** True when the reservation created the (empty) folder. */
  created: boolean;
  /**
   * Removes the lock, and the folder too when the reservation created it and
   * it is still empty (nothing was saved). Safe to call more than once.
   */
  release(): void;
}

/** Whether a process with this id runs (EPERM: it does, as another user). */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock file of a run folder: `.<name>.lock` beside it. */
export function lockFileOf(dir: string): string {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.lock`);
}

/** The process id a run folder's lock names, or undefined without a readable lock. */
export function lockOwner(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(lockFileOf(dir), 'utf8'), 10);
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '')}` : String(err);
}

/** Creates the lock file exclusively, taking over one whose owner is gone. */
function acquireLock(lockFile: string, dir: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new Error(`cannot write next to the run folder ${dir} (${reason(err)}); choose a writable folder`);
      }
    }
    const owner = Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isProcessRunning(owner)) {
      throw new Error(`${dir} is in use by another training run (process ${owner}, lock ${lockFile}); ` +
        'choose another folder');
    }
    fs.rmSync(lockFile, { force: true }); // stale: its owner has ended
  }
  throw new Error(`cannot lock the run folder ${dir}: ${lockFile} keeps reappearing`);
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

/** Options of {@link reserveRunFolder}. */
export interface ReserveOptions {
  /** Bytes the save will write; the disk must have at least this much free. */
  bytesNeeded?: number;
}

/** The running process whose lock holds the run folder `dir`, if any. */
export function liveLockOwner(dir: string): number | undefined {
  const pid = lockOwner(dir);
  return pid !== undefined && isProcessRunning(pid) ? pid : undefined;
}

/**
 * Puts back the run that an interrupted save of `dir` moved aside (see
 * `recoverMovedAside`), unless a running trainer holds the folder's lock:
 * that one may be between the two renames of its save.
 * @returns the copy put back, or undefined.
 */
export function recoverUnlessLocked(dir: string): string | undefined {
  return liveLockOwner(path.resolve(dir)) === undefined ? recoverMovedAside(dir) : undefined;
}

/**
 * Reserves `dir` for a new run: checks that it is a new or empty folder whose
 * parent can be written and has room for the save, locks it against other
 * runs, and creates it. A run an interrupted save moved aside is put back
 * first, so that it is found, not trained over.
 * @throws Error naming the folder when it exists and is not an empty folder,
 *   cannot be created or written, lacks disk space, or is locked by a
 *   running process.
 */
export function reserveRunFolder(dir: string, options: ReserveOptions = {}): RunFolderReservation {
  const target = path.resolve(dir);
  try {
    recoverUnlessLocked(target);
  } catch (err) {
    throw new Error(`cannot use the run folder ${dir}: ${(err as Error).message}`);
  }
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new Error(`cannot create the run folder ${dir}: a part of its path is a file`);
    if (code !== 'ENOENT') throw new Error(`cannot use the run folder ${dir} (${reason(err)})`);
  }
  if (stat && !stat.isDirectory()) throw new Error(`${dir} exists and is not a folder; choose a new folder`);
  if (stat && fs.readdirSync(target).length > 0) {
    throw new Error(`${dir} already exists and is not empty; choose a new folder`);
  }
  const parent = path.dirname(target);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw new Error(`cannot create the run folder ${dir} (${reason(err)})`);
  }
  const lockFile = lockFileOf(target);
  acquireLock(lockFile, dir);
  let created = false;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (created) {
      try {
        fs.rmdirSync(target); // only if still empty: a saved run stays
      } catch {
        // not empty, or gone: nothing to undo
      }
    }
    fs.rmSync(lockFile, { force: true });
  };
  try {
    if (!stat) {
      fs.mkdirSync(target);
      created = true;
    }
    // The save writes a staging folder beside the run folder, then renames it.
    fs.accessSync(parent, fs.constants.W_OK);
    fs.accessSync(target, fs.constants.W_OK);
  } catch (err) {
    release();
    throw new Error(`cannot create the run folder ${dir} (${reason(err)})`);
  }
  const { bytesNeeded = 0 } = options;
  const disk = fs.statfsSync(parent);
  const free = disk.bavail * disk.bsize;
  if (free < bytesNeeded) {
    release();
    throw new Error(`not enough disk space for the run folder ${dir}: the save needs about ` +
      `${megabytes(bytesNeeded)}, ${megabytes(free)} are free`);
  }
  process.on('exit', release);
  return { dir: target, lockFile, created, release };
}
