/**
 * Seeded random numbers, so that sampled batches and evaluation sets can be
 * reproduced exactly from a seed.
 */
import seedrandom from 'seedrandom';

/**
 * Where a generator is in its stream: seedrandom's ARC4 state, two indices
 * 0..255 and a permutation S of 0..255. Plain numbers, so that it can be
 * written as JSON (a training checkpoint) and read back.
 */
export interface RngState {
  i: number;
  j: number;
  S: number[];
}

/** A seeded pseudo-random number generator. */
export interface Rng {
  /** The seed it was created with. */
  readonly seed: number | string;
  /** A float uniformly drawn from [0, 1). */
  next(): number;
  /** An integer uniformly drawn from 0..n-1; `n` must be a positive integer. */
  nextInt(n: number): number;
}

/** A generator whose place in its stream can be kept and taken up again (`createRng`'s). */
export interface ResumableRng extends Rng {
  /** A copy of where the stream is: `createRng(seed, state)` goes on from here with the same numbers. */
  state(): RngState;
}

/**
 * Checks that `state` is an ARC4 state (see RngState).
 * @throws Error naming what is wrong.
 */
export function checkRngState(state: unknown): asserts state is RngState {
  const s = state as Partial<RngState> | null;
  const byte = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255;
  if (s === null || typeof s !== 'object' || !byte(s.i) || !byte(s.j)) {
    throw new Error('a random state needs indices i and j in 0..255');
  }
  if (!Array.isArray(s.S) || s.S.length !== 256 || !s.S.every(byte) || new Set(s.S).size !== 256) {
    throw new Error('a random state needs S, a permutation of 0..255');
  }
}

/**
 * Creates a generator whose sequence depends only on `seed`: the same seed
 * gives the same numbers, on every run and machine (seedrandom's ARC4).
 * Given a `state` (from `Rng.state()`), it goes on from there instead of
 * from the seed's start.
 * @throws Error when the seed is neither a finite number nor a string, or
 *   the state is not one `state()` gives.
 */
export function createRng(seed: number | string, state?: RngState): ResumableRng {
  if (!(typeof seed === 'string' || (typeof seed === 'number' && Number.isFinite(seed)))) {
    throw new Error(`seed must be a finite number or a string, got ${String(seed)}`);
  }
  if (state !== undefined) checkRngState(state);
  const prng = seedrandom(String(seed), { state: state === undefined ? true : { i: state.i, j: state.j, S: [...state.S] } });
  return {
    seed,
    state: () => {
      const { i, j, S } = prng.state();
      return { i, j, S: Array.from(S) };
    },
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
