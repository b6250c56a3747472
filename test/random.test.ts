import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, deriveSeed, shuffleInPlace } from '../lib/random';

test('createRng gives the same sequence for the same seed and another for another seed', () => {
  const draw = (seed: number | string) => {
    const rng = createRng(seed);
    return Array.from({ length: 20 }, () => rng.next());
  };
  assert.deepEqual(draw(42), draw(42));
  assert.deepEqual(draw('abc'), draw('abc'));
  assert.notDeepEqual(draw(42), draw(43));
  for (const x of draw(7)) assert.ok(x >= 0 && x < 1);
});

test('nextInt draws every integer 0..n-1 and only those', () => {
  const rng = createRng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) seen.add(rng.nextInt(7));
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5, 6]);
  assert.throws(() => rng.nextInt(0), /nextInt\(n\) needs a positive integer n, got 0/);
  assert.throws(() => rng.nextInt(2.5), /got 2.5/);
  assert.throws(() => createRng(NaN), /seed must be a finite number or a string, got NaN/);
});

test('shuffleInPlace permutes the items reproducibly', () => {
  const a = shuffleInPlace(Array.from({ length: 30 }, (_, i) => i), createRng(3));
  const b = shuffleInPlace(Array.from({ length: 30 }, (_, i) => i), createRng(3));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, Array.from({ length: 30 }, (_, i) => i));
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i));
});

test('a random stream goes on from its state, and a state that is not one is refused', () => {
  const rng = createRng(9);
  for (let i = 0; i < 5; i++) rng.next();
  const state = rng.state();
  const expected = Array.from({ length: 5 }, () => rng.next());
  const resumed = createRng(9, JSON.parse(JSON.stringify(state)));
  assert.deepEqual(Array.from({ length: 5 }, () => resumed.next()), expected);
  assert.throws(() => createRng(9, { ...state, S: state.S.slice(1) }), /a permutation of 0\.\.255/);
  assert.throws(() => createRng(9, { ...state, i: 256 }), /indices i and j in 0\.\.255/);
});

test('deriveSeed gives each name its own unsigned 32-bit seed, the same on every call', () => {
  const seeds = ['conv1', 'conv2', 'augment'].map((name) => deriveSeed(9, name));
  assert.deepEqual(seeds, ['conv1', 'conv2', 'augment'].map((name) => deriveSeed(9, name)));
  assert.equal(new Set(seeds).size, 3);
  assert.notEqual(deriveSeed(10, 'conv1'), seeds[0]);
  assert.equal(deriveSeed('9', 'conv1'), seeds[0]);
  for (const seed of seeds) assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32);
});
