/**
 * Runs on this machine: one trainer process per run, up to `jobs` at once,
 * the cores split between them through TensorFlow's thread pools.
 */
import * as fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tensorflowThreadEnvironment } from '../cpu';
import { openAttemptLog, type SweepRun } from '../sweep';
import { logHeader, TRAINER, TrainerOutput, type Executor, type TrainEvents, type TrainResult } from './executor';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export class LocalExecutor implements Executor {
  private readonly running = new Set<ChildProcess>();
  /** Its trainers run here, beside the runs' checkpoints. */
  readonly resumesCheckpoints = true;

  /**
   * @param slots trainer processes at once.
   * @param threads TensorFlow threads of each (see `threadsPerJob`).
   * @param cores the cores of this machine, for the description.
   */
  constructor(readonly slots: number, readonly threads: number, private readonly cores: number) {}

  describe(): string {
    const each = `${plural(this.threads, 'TensorFlow thread')}${this.slots === 1 ? '' : ' each'}`;
    return `${this.slots === 1 ? 'one run at a time' : `${this.slots} runs at once`}, ${each} ` +
      `(${plural(this.cores, 'core')} here)`;
  }

  /**
   * Trains one run in its own process. Its output goes to the attempt's own
   * log; its evaluations to `events`. The trainer runs in its own process group,
   * so that a Ctrl-C on the terminal reaches it once, through the sweep.
   */
  train(run: SweepRun, events: TrainEvents): Promise<TrainResult> {
    const attemptLog = openAttemptLog(run.dir);
    const log = fs.createWriteStream('', { fd: attemptLog.fd });
    log.write(logHeader(['node', TRAINER, ...run.args]));
    const output = new TrainerOutput((text) => events.status(text));
    const child = spawn(process.execPath, [TRAINER, ...run.args], {
      stdio: ['ignore', 'pipe', 'pipe'], detached: true,
      env: { ...process.env, ...tensorflowThreadEnvironment(this.threads) },
    });
    this.running.add(child);
    const scan = (stream: string) => (chunk: Buffer) => {
      log.write(chunk);
      output.write(chunk.toString('utf8'), stream);
    };
    child.stdout.on('data', scan('stdout'));
    child.stderr.on('data', scan('stderr'));
    return new Promise((resolve) => {
      let finished = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (finished) return;
        finished = true;
        this.running.delete(child);
        output.end();
        log.end(() => resolve({ code, signal, tail: output.tail, log: attemptLog.file }));
      };
      child.on('error', (err) => {
        output.line(err.message);
        finish(null, null);
      });
      child.on('close', finish);
    });
  }

  stop(signal: NodeJS.Signals): void {
    for (const child of this.running) child.kill(signal);
  }

  async close(): Promise<void> {}
}
