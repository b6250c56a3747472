/**
 * Runs on a Ray cluster: each run is a Ray task that runs the trainer on
 * whichever node Ray picks, with the CPUs it declares (one per TensorFlow
 * thread). The Ray side is cluster/ray_sweep.py, run by the Python of
 * `.venv-ray` (`npm run ray:setup`) and spoken to in JSON lines; a run's
 * folder comes back through Ray, not through a shared disk, and is moved
 * into the sweep's root here.
 *
 * While a run trains in the cluster its folder under the root is reserved
 * by this process (lib/runs/lock.ts), so that a second sweep of the same
 * root skips it, and a sweep killed meanwhile leaves an empty folder that
 * the next one trains again.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import * as readline from 'node:readline';
import { spawn, type ChildProcess } from 'node:child_process';
import { reserveRunFolder, type RunFolderReservation } from '../lock';
import { openAttemptLog, type SweepRun } from '../sweep';
import {
  logHeader, PROJECT_ROOT, TrainerOutput, type Executor, type TrainEvents, type TrainResult,
} from './executor';

/** The Python with Ray that `npm run ray:setup` installs. */
export const RAY_PYTHON = path.join(PROJECT_ROOT, '.venv-ray', 'bin', 'python');

/** The Ray side of the sweep. */
export const RAY_DRIVER = path.join(PROJECT_ROOT, 'cluster', 'ray_sweep.py');

/** Lines of the driver's standard error kept for a failure's report. */
const DRIVER_TAIL = 30;

/** A node as cluster/ray_sweep.py reports it. */
interface ReportedNode { id: string; ip: string; hostname: string }

/** What cluster/ray_sweep.py writes, one JSON object a line. */
type DriverEvent =
  | { event: 'ready'; nodes: number; nodeCpus: number[] }
  | { event: 'error'; message: string }
  | { event: 'started'; id: number; node: ReportedNode }
  | { event: 'line'; id: number; line: string }
  | {
    event: 'ended'; id: number; code: number | null; signal: NodeJS.Signals | null; node: ReportedNode | null;
    command: string[]; log: string; folder: boolean;
  }
  | { event: 'cancelled'; id: number };

/** A run in the cluster. */
interface Pending {
  run: SweepRun;
  events: TrainEvents;
  output: TrainerOutput;
  reservation: RunFolderReservation;
  staging: string;
  resolve(result: TrainResult): void;
}

export interface RayOptions {
  /** The cluster's address as `ray.init` takes it: HOST:PORT of the head's GCS, or `auto`. */
  address: string;
  /** CPUs each run's task declares, and TensorFlow threads of its trainer. */
  threads: number;
  /** Runs in the cluster at once; by default as many as its CPUs hold. */
  jobs?: number;
  /** The Python with Ray (default RAY_PYTHON). */
  python?: string;
}

/** "node 10.0.0.5 (3a30a0df)": a node as messages name it. */
function nodeName(node: ReportedNode): string {
  return `node ${node.ip} (${node.id.slice(0, 8)})`;
}

/** The trainer's arguments without `--out DIR`, which the task sets to a folder of its node. */
function withoutOut(args: string[]): string[] {
  const at = args.lastIndexOf('--out');
  return at < 0 ? args : [...args.slice(0, at), ...args.slice(at + 2)];
}

export class RayExecutor implements Executor {
  readonly slots: number;
  readonly threads: number;
  broken?: string;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private stops = 0;
  private exited: Promise<void>;

  private constructor(
    private readonly driver: ChildProcess, private readonly address: string, private readonly nodeCpus: number[],
    options: RayOptions, lines: readline.Interface, private readonly driverTail: string[],
  ) {
    this.threads = options.threads;
    this.slots = options.jobs ?? Math.max(1, nodeCpus.reduce((n, c) => n + Math.floor(c / options.threads), 0));
    if (!nodeCpus.some((c) => c >= options.threads)) {
      this.broken = `no node of the cluster has ${options.threads} CPUs (they have ${nodeCpus.join(', ')}); ` +
        'give fewer --threads';
    }
    lines.on('line', (line) => this.onLine(line));
    this.exited = new Promise((resolve) => driver.on('close', (code, signal) => {
      this.onDriverEnd(signal ? `killed by ${signal}` : `exit ${code}`);
      resolve();
    }));
  }

  /**
   * Starts cluster/ray_sweep.py and waits until it has joined the cluster.
   * @throws Error when Ray is not installed here, or the cluster cannot be reached.
   */
  static async connect(options: RayOptions): Promise<RayExecutor> {
    const python = options.python ?? RAY_PYTHON;
    if (!fs.existsSync(python)) {
      throw new Error(`no Python with Ray at ${python}; run \`npm run ray:setup\` (it installs Ray into .venv-ray)`);
    }
    // In its own process group: a Ctrl-C on the terminal reaches it through the sweep (`stop`), not directly.
    const driver = spawn(python, [RAY_DRIVER, '--address', options.address, '--project', PROJECT_ROOT,
      '--node-binary', process.execPath], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    // Ray's own messages: kept for the report of a failure.
    const stderr: string[] = [];
    driver.stderr.on('data', (chunk: Buffer) => {
      stderr.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim()));
      stderr.splice(0, Math.max(0, stderr.length - DRIVER_TAIL));
    });
    const lines = readline.createInterface({ input: driver.stdout });
    const first = await new Promise<DriverEvent | string>((resolve) => {
      lines.once('line', (line) => {
        try {
          resolve(JSON.parse(line) as DriverEvent);
        } catch {
          resolve(`it wrote ${JSON.stringify(line)}`);
        }
      });
      driver.once('close', (code) => resolve(`it ended (exit ${code}) before joining the cluster`));
      driver.once('error', (err) => resolve(err.message));
    });
    if (typeof first === 'string' || first.event !== 'ready') {
      driver.kill('SIGKILL');
      const why = typeof first === 'string' ? first : first.event === 'error' ? first.message : `unexpected ${first.event}`;
      const tail = stderr.length ? `\n${stderr.join('\n')}` : '';
      throw new Error(`the Ray driver (${RAY_DRIVER}) could not start: ${why}${tail}`);
    }
    return new RayExecutor(driver, options.address, first.nodeCpus, options, lines, stderr);
  }

  describe(): string {
    const cpus = this.nodeCpus.reduce((a, b) => a + b, 0);
    const each = this.threads === 1 ? '1 CPU and TensorFlow thread' : `${this.threads} CPUs and TensorFlow threads`;
    return `on the Ray cluster at ${this.address} (${this.nodeCpus.length} node${this.nodeCpus.length === 1 ? '' : 's'}, ` +
      `${cpus} CPUs): up to ${this.slots} run${this.slots === 1 ? '' : 's'} at once, ${each} per run`;
  }

  train(run: SweepRun, events: TrainEvents): Promise<TrainResult> {
    if (this.broken) return Promise.resolve({ code: null, signal: null, tail: [this.broken] });
    let reservation: RunFolderReservation;
    try {
      reservation = reserveRunFolder(run.dir);
    } catch (err) {
      return Promise.resolve({ code: null, signal: null, tail: [(err as Error).message] });
    }
    const staging = path.join(path.dirname(run.dir), `.${path.basename(run.dir)}.arriving`);
    fs.rmSync(staging, { recursive: true, force: true });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, {
        run, events, reservation, staging, resolve, output: new TrainerOutput((text) => events.status(text)),
      });
      this.send({ op: 'train', id, args: withoutOut(run.args), threads: this.threads, staging });
    });
  }

  stop(): void {
    this.stops++;
    this.send({ op: this.stops === 1 ? 'stop' : 'kill' });
  }

  async close(): Promise<void> {
    this.driver.stdin!.end();
    await this.exited;
  }

  private send(message: object): void {
    if (this.driver.stdin!.writable) this.driver.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  private onLine(line: string): void {
    let event: DriverEvent;
    try {
      event = JSON.parse(line) as DriverEvent;
    } catch {
      this.driverTail.push(line);
      return;
    }
    if (event.event === 'ready' || event.event === 'error') return;
    const pending = this.pending.get(event.id);
    if (!pending) return;
    switch (event.event) {
      case 'started':
        pending.events.status(`started on ${nodeName(event.node)}`);
        break;
      case 'line':
        pending.output.line(event.line);
        break;
      case 'cancelled':
        this.settle(event.id, { code: null, signal: null, tail: [], cancelled: true });
        break;
      case 'ended':
        this.settle(event.id, this.arrived(pending, event));
        break;
    }
  }

  /**
   * Writes the log of a run that ended (an attempt's log, opened now: a run
   * whose sweep was killed meanwhile has none), and moves its folder, if it
   * came back, into the root.
   */
  private arrived(pending: Pending, ended: Extract<DriverEvent, { event: 'ended' }>): TrainResult {
    const { run, reservation, staging } = pending;
    const where = ended.node ? `${nodeName(ended.node)}, host ${ended.node.hostname}` : undefined;
    const header = ended.command.length ? logHeader(ended.command) : '';
    const attemptLog = openAttemptLog(run.dir);
    try {
      fs.writeFileSync(attemptLog.fd, `${header}${where ? `# on Ray ${where}\n` : ''}${ended.log}`);
    } finally {
      fs.closeSync(attemptLog.fd);
    }
    const output = new TrainerOutput();
    output.write(ended.log);
    output.end();
    const result: TrainResult = {
      code: ended.code, signal: ended.signal, tail: output.tail, log: attemptLog.file,
      ...(ended.node ? { where: nodeName(ended.node) } : {}),
    };
    try {
      if (ended.folder) {
        // The reserved folder is empty; the lock beside it stays until the run is in place.
        fs.rmdirSync(run.dir);
        fs.renameSync(staging, run.dir);
      }
    } catch (err) {
      return { ...result, code: null, tail: [...result.tail, `its folder could not be moved into place: ${(err as Error).message}`] };
    } finally {
      reservation.release();
    }
    return result;
  }

  private settle(id: number, result: TrainResult): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (result.cancelled) pending.reservation.release();
    pending.resolve(result);
  }

  /** The driver has ended: every run still in the cluster is lost, and no more can start. */
  private onDriverEnd(how: string): void {
    if (this.pending.size === 0 && this.driver.stdin!.writableEnded) return; // closed by `close`
    this.broken ??= `the Ray driver ended (${how})${this.driverTail.length ? `: ${this.driverTail.slice(-5).join(' | ')}` : ''}`;
    for (const [id, pending] of this.pending) {
      pending.reservation.release();
      this.settle(id, { code: null, signal: null, tail: [this.broken] });
    }
  }
}
