/**
 * lib/view/live-chart.ts: the live training chart, driven by a fake clock and
 * drawn into a recording Display, and the line on how training ended.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveTrainingChart, summaryLine } from '../lib/view/live-chart';
import { pngSize } from '../lib/view/png';
import { recorder } from './helpers/display-recorder';
import { fakeTrainingHistory } from './helpers/histories';

test('the live chart redraws at most once per interval and ends with the summary line', async () => {
  let clock = 0;
  const display = recorder();
  const live = new LiveTrainingChart({ numSteps: 300, minIntervalMs: 1000, display, now: () => clock });
  const { steps, evals } = fakeTrainingHistory(300, 100);
  for (const record of steps) {
    clock += 10; // 10 ms per step: 3 s of training in all
    live.onStep(record);
    const evalRecord = evals.find((e) => e.step === record.step);
    if (evalRecord) live.onEval(evalRecord);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await live.finish({ ...live.history, elapsedMs: 3000 });
  assert.equal(live.history.steps.length, 300);
  assert.equal(live.history.evals.length, 3);
  // Draws at ~0 s, 1 s, 2 s, 3 s (each may slip while one renders), plus the final one.
  assert.ok(live.drawCount >= 2 && live.drawCount <= 5, `drew ${live.drawCount} times`);
  assert.equal(display.outputs.length, live.drawCount);
  const last = display.outputs[display.outputs.length - 1];
  assert.ok(display.outputs.every((o) => o.type === 'png'));
  assert.equal(last.options?.width, Number(/width="(\d+)"/.exec(live.lastSvg ?? '')?.[1]), 'shown at the chart\'s size');
  assert.match(last.options?.alt ?? '', /^Training: completed after 300 steps · final evaluation accuracy/);
  assert.ok(live.lastSvg?.includes('>completed after 300 steps'), 'the final drawing has the summary line');
});

test('the progress and summary lines report step, loss, accuracy and the article\'s 98%', () => {
  const history = fakeTrainingHistory(200, 100);
  const live = new LiveTrainingChart({ numSteps: 1000, display: recorder(), now: () => 0 });
  const line = live.progressText(history, 4200);
  // Step 200: loss 3/e + 0.05 = 1.154; evaluation accuracy 0.97 · (1 − 1.154 / 3.05) = 60.3%.
  assert.equal(line, 'step 200 / 1000 · batch loss 1.154 · evaluation accuracy 60.3% (step 200) · 4.2 s');
  assert.equal(summaryLine({ steps: [], evals: [], endReason: 'stopped', elapsedMs: 0 }),
    'stopped after 0 steps · no evaluation yet · 0.0 s');
  assert.match(summaryLine(history), /final evaluation accuracy \d+\.\d\d% \(article: 98%\)/);
  assert.match(summaryLine(history, null), /final evaluation accuracy \d+\.\d\d% · /);
  // Times of a minute and over as the tables and the trainer write them.
  assert.match(live.progressText(history, 370_800), / · 6m 11s$/);
  assert.match(summaryLine({ ...history, elapsedMs: 3_725_000 }), / · 1h 02m$/);
});

test('the live chart times its progress line from training\'s start, as the history does, not from its own creation', () => {
  let clock = 0;
  const live = new LiveTrainingChart({ numSteps: 10, display: recorder(), now: () => clock });
  clock = 5000; // the engine's set-up: a graph built, the evaluation set drawn
  live.onStart();
  clock = 7500;
  assert.match(live.progressText(), / · 2\.5 s$/);
});

test('the live chart rejects a negative interval and a fractional step count', () => {
  assert.throws(() => new LiveTrainingChart({ minIntervalMs: -1, display: recorder() }), /minIntervalMs must be >= 0, got -1/);
  assert.throws(() => new LiveTrainingChart({ numSteps: 2.5, display: recorder() }), /numSteps must be an integer >= 0, got 2.5/);
});

test('the live chart draws its PNG at the scale asked, and rejects a scale outside (0, 8]', async () => {
  const display = recorder();
  const live = new LiveTrainingChart({ scale: 1, display, now: () => 0 });
  await live.finish(fakeTrainingHistory(20, 10));
  assert.equal(display.outputs.length, 1);
  const [output] = display.outputs;
  assert.equal(pngSize(output.value as Uint8Array).width, output.options?.width, 'one PNG pixel per chart pixel');
  for (const scale of [0, 9]) {
    assert.throws(() => new LiveTrainingChart({ scale, display }), new RegExp(`scale must be a number in \\(0, 8\\], got ${scale}`));
  }
});
