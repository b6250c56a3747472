import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanDifference, sampleStats, studentTQuantile } from '../lib/evaluate/stats';
import { close } from './helpers/close';

test('studentTQuantile gives the t factors of 95% intervals', () => {
  close(studentTQuantile(0.975, 1), 12.7062047, 1e-6);
  close(studentTQuantile(0.975, 2), 4.3026527, 1e-6);
  close(studentTQuantile(0.975, 4), 2.7764451, 1e-6);
  close(studentTQuantile(0.975, 29), 2.0452296, 1e-6);
  close(studentTQuantile(0.975, 1e6), 1.959966, 1e-5);
  close(studentTQuantile(0.025, 2), -4.3026527, 1e-6);
  assert.throws(() => studentTQuantile(1, 2), /p must be in \(0, 1\)/);
});

test('sampleStats: mean, sample std and a t interval; none for one value', () => {
  const stats = sampleStats([0.97, 0.98, 0.99])!;
  close(stats.mean, 0.98);
  close(stats.std, 0.01);
  const half = 4.3026527 * 0.01 / Math.sqrt(3);
  close(stats.ci95![0], 0.98 - half, 1e-8);
  close(stats.ci95![1], 0.98 + half, 1e-8);
  assert.deepEqual(sampleStats([0.5]), { n: 1, mean: 0.5, std: null, ci95: null, min: 0.5, max: 0.5 });
  assert.equal(sampleStats([]), null);
});

test('meanDifference gives the Welch interval of a difference and says whether the seeds explain it', () => {
  const a = sampleStats([0.980, 0.982, 0.984])!;
  const b = sampleStats([0.986, 0.988, 0.990])!;
  // Equal variances and sizes: df = 2(n − 1) = 4, t = 2.776, se = √(2 · 0.002² / 3) = 0.001633.
  const apart = meanDifference(a, b);
  assert.ok(Math.abs(apart.difference - 0.006) < 1e-12);
  assert.ok(Math.abs(apart.ci95![0] - (0.006 - 2.7764 * 0.0016330)) < 1e-5, `${apart.ci95!.join(', ')}`);
  assert.equal(apart.beyondSeedSpread, true);
  const noisy = meanDifference(a, sampleStats([0.980, 0.984, 0.988])!);
  assert.ok(noisy.ci95![0] < 0 && noisy.ci95![1] > 0);
  assert.equal(noisy.beyondSeedSpread, false);
  assert.deepEqual(meanDifference(sampleStats([0.98])!, b), { difference: b.mean - 0.98, ci95: null, beyondSeedSpread: false });
});
