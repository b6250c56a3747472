import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveCrnnConfig, resolveTrainConfig } from '../../lib/config';
import { MODEL_FILE, RUN_FILE, WEIGHTS_FILE, newRunRecord, runRecordJson, type RunRecord } from '../../lib/runs/record';
import type { CrnnConfig, EvalRecord, History, TrainConfig } from '../../lib/types';

/** What a test's run record differs in from a small completed run. */
export interface RecordFields {
  crnnConfig?: Partial<CrnnConfig>;
  trainConfig?: Partial<TrainConfig>;
  task?: string;
  endReason?: RunRecord['history']['endReason'];
  /** Evaluation accuracies, one per 100 steps from step 100. */
  accuracies?: number[];
}

/** A valid run record, as saveRun writes it, of a run with `fields`. */
export function testRecord(fields: RecordFields = {}): RunRecord {
  const accuracies = fields.accuracies ?? [0.5];
  const numSteps = 100 * accuracies.length;
  return newRunRecord({
    crnnConfig: resolveCrnnConfig(fields.crnnConfig),
    trainConfig: resolveTrainConfig({ numSteps, ...fields.trainConfig }),
    task: fields.task ?? 'difference',
    history: {
      steps: Array.from({ length: numSteps }, (_, i) => ({ step: i + 1, loss: 1, accuracy: 0.5 })),
      evals: accuracies.map((accuracy, i) => ({ step: 100 * (i + 1), loss: 1 - accuracy, accuracy })),
      endReason: fields.endReason ?? 'completed',
      elapsedMs: 1000,
    },
    backend: 'tensorflow',
  });
}

/** Writes `dir`/run.json (creating `dir`): `record`, or the text given. */
export function writeRecord(dir: string, record: RunRecord | string = testRecord()): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, RUN_FILE), typeof record === 'string' ? record : runRecordJson(record));
}

/**
 * Writes a model.json and weights.bin that agree (one float32 weight of two
 * values), what a complete saved model holds, without TensorFlow.
 */
export function writeTinyModel(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, MODEL_FILE), JSON.stringify({
    modelTopology: {},
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: [{ name: 'w', shape: [2], dtype: 'float32' }] }],
  }));
  fs.writeFileSync(path.join(dir, WEIGHTS_FILE), Buffer.from(new Float32Array([1, 2]).buffer));
}

/** Sets the modification time of `file` to `seconds` ago. */
export function age(file: string, seconds: number): void {
  const then = Date.now() / 1000 - seconds;
  fs.utimesSync(file, then, then);
}

/** The files of a folder and their bytes, recursively. */
export function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const file = path.join(entry.parentPath ?? entry.path, entry.name);
      files[path.relative(dir, file)] = fs.readFileSync(file).toString('base64');
    }
  }
  return files;
}

export interface FakeRun {
  seed: number;
  cell?: CrnnConfig['cell'];
  sharedCnn?: boolean;
  /** Accuracy at the last evaluation. */
  final: number;
  /** A higher accuracy reached at step 800, if any. */
  peak?: number;
  numSteps?: number;
  /** Steps done, when training stopped early. */
  stoppedAt?: number;
  elapsedMs?: number;
  /** Settings over the defaults (a preset's). */
  config?: { model?: Partial<CrnnConfig>; train?: Partial<TrainConfig> };
}

/** A history that rises from 10% to `final` with an evaluation every 100 steps. */
export function fakeHistory(run: FakeRun): History {
  const numSteps = run.stoppedAt ?? run.numSteps ?? 1000;
  const steps = Array.from({ length: numSteps }, (_, i) => ({ step: i + 1, loss: 2 / (i + 1), accuracy: 0.5 }));
  const evals: EvalRecord[] = [];
  for (let step = 0; step <= numSteps; step += 100) {
    const accuracy = step === numSteps ? run.final
      : step === 800 && run.peak !== undefined ? run.peak
        : 0.1 + (run.final - 0.1) * (1 - Math.exp(-step / 150)) - 0.002;
    evals.push({ step, loss: 1 - accuracy, accuracy });
  }
  return {
    steps, evals, endReason: run.stoppedAt ? 'stopped' : 'completed', elapsedMs: run.elapsedMs ?? 90_000,
    startedAt: '2025-01-01T00:00:00.000Z', endedAt: '2025-01-01T00:01:30.000Z', engine: 'graph',
  };
}

/** Writes `dir`/run.json as saveRun would, without a model. */
export function writeRun(dir: string, run: FakeRun): void {
  fs.mkdirSync(dir, { recursive: true });
  const record = {
    format: 'crnn-mnist-run',
    version: 1,
    crnnConfig: resolveCrnnConfig({ cell: run.cell ?? 'simple', sharedCnn: run.sharedCnn ?? false, ...run.config?.model }),
    trainConfig: resolveTrainConfig({ ...run.config?.train, seed: run.seed, numSteps: run.numSteps ?? 1000 }),
    task: 'difference',
    history: fakeHistory(run),
    dataSource: 'test',
    backend: 'tensorflow',
    savedAt: '2025-01-01T00:01:31.000Z',
    environment: { node: 'v20', cpu: { model: 'Test CPU 9000', flags: [], cores: 2 }, gitCommit: 'abc123' },
  };
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(record, null, 1));
  fs.writeFileSync(path.join(dir, 'model.json'), '{}');
}

/**
 * Fills `root` as a sweep leaves a runs folder, with the things a registry
 * must not take for runs, and returns it.
 */
export function makeRunsFolder(root: string): string {
  const sweep = path.join(root, 'sweep-a');
  writeRun(path.join(sweep, 'cell-simple', 'seed-1'), { seed: 1, final: 0.97, peak: 0.975 });
  writeRun(path.join(sweep, 'cell-simple', 'seed-2'), { seed: 2, final: 0.98 });
  writeRun(path.join(sweep, 'cell-simple', 'seed-10'), { seed: 10, final: 0.99 });
  writeRun(path.join(sweep, 'cell-gru', 'seed-1'), { seed: 1, cell: 'gru', final: 0.985 });
  writeRun(path.join(sweep, 'cell-gru', 'seed-2'), { seed: 2, cell: 'gru', final: 0.987 });
  fs.writeFileSync(path.join(sweep, 'sweep.json'), '{}');
  // Half-written: a model without its run.json.
  fs.mkdirSync(path.join(sweep, 'cell-gru', 'seed-3'));
  fs.writeFileSync(path.join(sweep, 'cell-gru', 'seed-3', 'model.json'), '{}');
  writeRun(path.join(root, 'single'), {
    seed: 42, cell: 'lstm', sharedCnn: true, final: 0.95, stoppedAt: 600, elapsedMs: 4_000_000,
  });
  fs.mkdirSync(path.join(root, 'broken'));
  fs.writeFileSync(path.join(root, 'broken', 'run.json'), '{"format": "crnn-mnist-run", "crnnCo');
  fs.mkdirSync(path.join(root, 'other'));
  fs.writeFileSync(path.join(root, 'other', 'run.json'), '{"format": "keras-run"}');
  fs.mkdirSync(path.join(root, 'notes'));
  fs.writeFileSync(path.join(root, 'notes', 'README.txt'), 'ideas');
  fs.writeFileSync(path.join(root, 'notes', 'results.csv'), 'a,b');
  fs.mkdirSync(path.join(root, '.single.saving-abc123'));
  fs.writeFileSync(path.join(root, '.single.saving-abc123', 'model.json'), '{}');
  fs.mkdirSync(path.join(root, 'empty'));
  fs.mkdirSync(path.join(root, '.ipynb_checkpoints'));
  fs.writeFileSync(path.join(root, '.ipynb_checkpoints', 'x.txt'), '');
  // A run still training: its reserved, empty folder and the lock of this (running) process.
  fs.mkdirSync(path.join(root, 'reserved'));
  fs.writeFileSync(path.join(root, '.reserved.lock'), `${process.pid}\n`);
  return root;
}
