import type { History } from '../../lib/types';

/**
 * A made-up training history for the chart tests: the loss falls and the
 * accuracy rises with the step, an evaluation every `evalEvery` steps.
 */
export function fakeTrainingHistory(numSteps: number, evalEvery: number): History {
  const steps = [];
  const evals = [];
  for (let step = 1; step <= numSteps; step++) {
    const loss = 3 * Math.exp(-step / 200) + 0.05;
    steps.push({ step, loss, accuracy: 1 - loss / 3.05 });
    if (step % evalEvery === 0) evals.push({ step, loss: loss * 1.1, accuracy: 0.97 * (1 - loss / 3.05) });
  }
  return { steps, evals, endReason: 'completed', elapsedMs: 1234 };
}
