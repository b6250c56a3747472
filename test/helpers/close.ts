import assert from 'node:assert/strict';

/**
 * Float32 kernels round differently from one CPU, batching or engine to the
 * next (oneDNN's AVX-512 and AVX2 paths differ in the last bits), so results
 * that are the same in exact arithmetic are compared with a stated tolerance.
 */
export const FLOAT32_TOLERANCE = 1e-6;

/**
 * Asserts that two equally shaped (nested) arrays of numbers differ by at
 * most `tolerance` element by element, naming the first element that does not.
 */
export function assertAllClose(
  actual: unknown, expected: unknown, tolerance = FLOAT32_TOLERANCE, path = '',
): void {
  if (Array.isArray(expected) || ArrayBuffer.isView(expected)) {
    const want = Array.from(expected as ArrayLike<unknown>);
    assert.ok(Array.isArray(actual) || ArrayBuffer.isView(actual), `${path || 'value'} is not an array`);
    const got = Array.from(actual as ArrayLike<unknown>);
    assert.equal(got.length, want.length, `${path || 'value'}: length ${got.length}, expected ${want.length}`);
    want.forEach((w, i) => assertAllClose(got[i], w, tolerance, `${path}[${i}]`));
    return;
  }
  assert.equal(typeof actual, 'number', `${path || 'value'} is not a number`);
  const gap = Math.abs((actual as number) - (expected as number));
  assert.ok(gap <= tolerance, `${path || 'value'}: ${String(actual)} vs ${String(expected)}, off by ${gap} (tolerance ${tolerance})`);
}

/** Asserts that `actual` is a number within `tolerance` of `expected` (statistics computed in doubles). */
export function close(actual: number | null | undefined, expected: number, tolerance = 1e-9): void {
  assert.ok(actual != null && Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected} ± ${tolerance}`);
}
