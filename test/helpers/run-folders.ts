import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveCrnnConfig, resolveTrainConfig } from '../../lib/config';
import { MODEL_FILE, RUN_FILE, WEIGHTS_FILE, newRunRecord, runRecordJson, type RunRecord } from '../../lib/runs/record';
import type { CrnnConfig, TrainConfig } from '../../lib/types';

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
