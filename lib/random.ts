/**
 * Seeded random numbers, so that sampled batches and evaluation sets can be
 * reproduced exactly from a seed.
 */
import seedrandom from 'seedrandom';

/** A seeded pseudo-random number generator. */
export interface Rng {
  /** The seed it was created with. */
  readonly seed: number | string;
  /** A float uniformly drawn from [0, 1). */
  next(): number;
  /** An integer uniformly drawn from 0..n-1; `n` must be a positive integer. */
  nextInt(n: number): number;
}

/**
 * Creates a generator whose sequence depends only on `seed`: the same seed
 * gives the same numbers, on every run and machine (seedrandom's ARC4).
 * @throws Error when the seed is neither a finite number nor a string.
 */
export function createRng(seed: number | string): Rng {
  if (!(typeof seed === 'string' || (typeof seed === 'number' && Number.isFinite(seed)))) {
    throw new Error(`seed must be a finite number or a string, got ${String(seed)}`);
  }
  const prng = seedrandom(String(seed));
  return {
    seed,
    next: () => prng(),
    nextInt(n: number): number {
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(`nextInt(n) needs a positive integer n, got ${n}`);
      }
      return Math.floor(prng() * n);
    },
  };
}

/** Shuffles `items` in place (Fisher–Yates) with `rng`, and returns it. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(items: T, rng: Rng): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/**
 * A seed for one consumer of randomness (a layer's initialiser, say), derived
 * from the run's seed and the consumer's name: each gets its own stream, and
 * the same run seed gives the same seeds on every run and machine.
 */
export function deriveSeed(seed: number | string, name: string): number {
  return seedrandom(`${seed}/${name}`).int32() >>> 0;
}
