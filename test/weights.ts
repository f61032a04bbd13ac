/** Comparing weight vectors in tests, with failure messages that stay short (jest's diff of a 100k-element array takes minutes). */

/** How many entries of two weight vectors differ, and the first that does (-1: none). */
export function differences(a: Float32Array, b: Float32Array): { count: number; first: number } {
  let count = 0;
  let first = -1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      count++;
      if (first < 0) first = i;
    }
  }
  return { count, first };
}

/** The largest absolute difference between two weight vectors of the same length. */
export function largestDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
