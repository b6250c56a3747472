/**
 * Statistics over seeds: the mean, sample standard deviation and Student t
 * interval of a few runs' results, and Welch's interval of the difference of
 * two groups' means. The t distribution comes from the regularised incomplete
 * beta function (a continued fraction) over a Lanczos ln Γ: no dependency for
 * two formulas.
 */

/** ln Γ(x) for x > 0 (Lanczos approximation, about 15 digits). */
function logGamma(x: number): number {
  const c = [676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = 0.99999999999980993;
  const t = x + 7.5;
  c.forEach((ci, i) => { a += ci / (x + i + 1); });
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized incomplete beta function I_x(a, b) (continued fraction, Numerical Recipes' betacf). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let f = d;
  for (let m = 1; m <= 300; m++) {
    for (const numerator of [
      (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)),
      -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1)),
    ]) {
      d = 1 + numerator * d;
      d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + numerator / c;
      if (Math.abs(c) < tiny) c = tiny;
      f *= c * d;
    }
    if (Math.abs(c * d - 1) < 1e-15) break;
  }
  return front * f;
}

/** P(T ≤ t) for Student's t distribution with `df` degrees of freedom. */
function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * The `p` quantile of Student's t distribution with `df` degrees of freedom
 * (p = 0.975 gives the factor of a two-sided 95% interval: 12.706 for df 1,
 * 4.303 for df 2, 1.96 as df grows).
 * @throws Error when p is not in (0, 1) or df is not positive.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`studentTQuantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new Error(`studentTQuantile: df must be positive, got ${df}`);
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Mean, spread and 95% interval of the mean of a sample. */
export interface SampleStats {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); null for n = 1. */
  std: number | null;
  /** Two-sided 95% Student t interval of the mean; null for n = 1. */
  ci95: [number, number] | null;
  min: number;
  max: number;
}

/** Statistics of `values`, or null when there are none. */
export function sampleStats(values: readonly number[]): SampleStats | null {
  const n = values.length;
  if (n === 0) return null;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const min = Math.min(...values);
  const max = Math.max(...values);
  if (n === 1) return { n, mean, std: null, ci95: null, min, max };
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const half = studentTQuantile(0.975, n - 1) * std / Math.sqrt(n);
  return { n, mean, std, ci95: [mean - half, mean + half], min, max };
}

/** The difference of two groups' means with its 95% interval (see `meanDifference`). */
export interface MeanDifference {
  /** mean of `b` − mean of `a`. */
  difference: number;
  /** Two-sided 95% Welch interval of the difference; null when a group has one run. */
  ci95: [number, number] | null;
  /** True when that interval excludes 0: the difference is larger than the seeds' spread explains. */
  beyondSeedSpread: boolean;
}

/**
 * How far group `b`'s mean lies from group `a`'s, and whether the seeds'
 * spread explains it: Welch's interval of the difference of two means (each
 * group its own variance, Welch–Satterthwaite degrees of freedom). With three
 * seeds a group's mean is uncertain, and a difference within that is noise.
 */
export function meanDifference(a: SampleStats, b: SampleStats): MeanDifference {
  const difference = b.mean - a.mean;
  if (a.std === null || b.std === null) return { difference, ci95: null, beyondSeedSpread: false };
  const va = a.std ** 2 / a.n;
  const vb = b.std ** 2 / b.n;
  const se = Math.sqrt(va + vb);
  if (se === 0) return { difference, ci95: [difference, difference], beyondSeedSpread: difference !== 0 };
  const df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
  const half = studentTQuantile(0.975, df) * se;
  const ci95: [number, number] = [difference - half, difference + half];
  return { difference, ci95, beyondSeedSpread: ci95[0] > 0 || ci95[1] < 0 };
}
