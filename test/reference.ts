/**
 * Float64 reference implementations of every kernel in lib/backend/contract.ts: naive loops, written for
 * obviousness rather than speed, independent of both backends. Inputs are the same Float32Arrays
 * the backends get; outputs are fresh Float64Arrays (or float64 state updated in place for the
 * optimizer steps), so a test compares a backend's float32 result with the exact-ish answer.
 *
 * Plus the small helpers the kernel tests share: a seeded random filler and a comparison that
 * reports the largest difference.
 */
import type { ActivationName } from '../lib/backend/contract';

// ---------------------------------------------------------------------------------------------
// Helpers

/** A deterministic generator of floats in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Float32Array of `length` values uniform in [lo, hi), the same for the same seed. */
export function randomF32(length: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/** A Uint8Array of `length` values uniform in [0, bound). */
export function randomU8(length: number, seed: number, bound = 256): Uint8Array {
  const next = rng(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * bound);
  return out;
}

/** A Uint16Array of `length` values uniform in [0, bound): labels of more than 256 classes. */
export function randomU16(length: number, seed: number, bound = 65536): Uint16Array {
  const next = rng(seed);
  const out = new Uint16Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * bound);
  return out;
}

/** The largest |got[i] - want[i]| and where it is; a NaN on one side only counts as Infinity. */
export function maxAbsDiff(got: ArrayLike<number>, want: ArrayLike<number>): { diff: number; index: number } {
  if (got.length !== want.length) throw new Error(`length mismatch: got ${got.length}, want ${want.length}`);
  let diff = 0;
  let index = -1;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    let d = Math.abs(g - w);
    if (Number.isNaN(d)) d = Number.isNaN(g) && Number.isNaN(w) ? 0 : Infinity;
    if (g === w) d = 0; // equal infinities
    if (d > diff || index < 0) {
      diff = d;
      index = i;
    }
  }
  return { diff, index };
}

/** The largest |x[i]|. */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/**
 * Fails unless every |got[i] - want[i]| <= tol * (1 + max |want|); the message gives the largest
 * difference, where it is, and both values there.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what = 'result'): void {
  const bound = tol * (1 + maxAbs(want));
  const { diff, index } = maxAbsDiff(got, want);
  if (!(diff <= bound)) {
    throw new Error(
      `${what}: largest difference ${diff} at [${index}] (got ${got[index]}, want ${want[index]}) exceeds ${bound}`,
    );
  }
}

/**
 * Fails unless got and want have the same length and identical elements as Object.is sees them
 * (NaN matches NaN, -0 does not match 0); one check for the whole array, fast for long ones.
 */
export function expectIdentical(got: ArrayLike<number>, want: ArrayLike<number>, what = 'result'): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, want ${want.length}`);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${what}: differs at [${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/** Fails unless got and want are identical element by element (NaN matches NaN). */
export function expectSame(got: ArrayLike<number>, want: ArrayLike<number>, what = 'result'): void {
  const { diff, index } = maxAbsDiff(got, want);
  if (diff !== 0) throw new Error(`${what}: differs at [${index}]: got ${got[index]}, want ${want[index]}`);
}

// ---------------------------------------------------------------------------------------------
// Kernels

/** C = alpha op(A) op(B) + beta C; returns all of C (elements outside the m x n block copied). */
export function refGemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: ArrayLike<number>, lda: number, b: ArrayLike<number>, ldb: number,
  beta: number, c: ArrayLike<number>, ldc: number,
): Float64Array {
  const out = Float64Array.from(c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) {
        const aip = transA ? a[p * lda + i] : a[i * lda + p];
        const bpj = transB ? b[j * ldb + p] : b[p * ldb + j];
        sum += aip * bpj;
      }
      out[i * ldc + j] = alpha * sum + (beta === 0 ? 0 : beta * c[i * ldc + j]);
    }
  }
  return out;
}

/** x (rows, cols) + bias broadcast over rows; the rest of x copied. */
export function refAddBias(rows: number, cols: number, x: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(x);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] += bias[c];
  return out;
}

/** beta * db + column sums of dy (rows, cols); beta = 0 ignores db. */
export function refBiasGrad(
  rows: number, cols: number, dy: ArrayLike<number>, db: ArrayLike<number>, beta: number,
): Float64Array {
  const out = new Float64Array(cols);
  for (let c = 0; c < cols; c++) out[c] = beta === 0 ? 0 : beta * db[c];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += dy[r * cols + c];
  return out;
}

function h(kind: ActivationName, z: number, slope: number): number {
  switch (kind) {
    case 'identity': return z;
    case 'relu': return z > 0 ? z : 0;
    case 'leaky-relu': return z >= 0 ? z : slope * z;
    case 'sigmoid': return 1 / (1 + Math.exp(-z));
    case 'tanh': return Math.tanh(z);
  }
}

/** h'(z) written from y = h(z), as the contract states it. */
function hPrimeFromY(kind: ActivationName, y: number, slope: number): number {
  switch (kind) {
    case 'identity': return 1;
    case 'relu': return y > 0 ? 1 : 0;
    case 'leaky-relu': return y > 0 ? 1 : slope;
    case 'sigmoid': return y * (1 - y);
    case 'tanh': return 1 - y * y;
  }
}

/** y[i] = h(factor * x[i]) for i < n. */
export function refActivation(
  kind: ActivationName, n: number, x: ArrayLike<number>, slope: number, factor: number,
): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = h(kind, factor * x[i], slope);
  return out;
}

/** dx[i] = factor * h'(factor * x[i]) * dy[i], h' from y. */
export function refActivationGrad(
  kind: ActivationName, n: number, y: ArrayLike<number>, dy: ArrayLike<number>, slope: number, factor: number,
): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = factor * hPrimeFromY(kind, y[i], slope) * dy[i];
  return out;
}

/** Row-wise softmax (max subtracted, so that large logits do not overflow). */
export function refSoftmax(rows: number, cols: number, logits: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, logits[r * cols + c]);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(logits[r * cols + c] - max);
    for (let c = 0; c < cols; c++) out[r * cols + c] = Math.exp(logits[r * cols + c] - max) / sum;
  }
  return out;
}

/** probs, dlogits = scale * (probs - onehot) and loss = sum_r (logsumexp(row r) - logits[r, label]). */
export function refSoftmaxCrossEntropy(
  rows: number, cols: number, logits: ArrayLike<number>, labels: ArrayLike<number>, scale: number,
): { probs: Float64Array; dlogits: Float64Array; loss: number } {
  const probs = refSoftmax(rows, cols, logits);
  const dlogits = new Float64Array(rows * cols);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, logits[r * cols + c]);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(logits[r * cols + c] - max);
    loss += max + Math.log(sum) - logits[r * cols + labels[r]];
    for (let c = 0; c < cols; c++) {
      dlogits[r * cols + c] = scale * (probs[r * cols + c] - (c === labels[r] ? 1 : 0));
    }
  }
  return { probs, dlogits, loss };
}

/** dst[r, j] = scale * src[indices[offset + r] * rowLen + j]. */
export function refGatherRows(
  src: ArrayLike<number>, rowLen: number, indices: ArrayLike<number>, offset: number, count: number, scale: number,
): Float64Array {
  const out = new Float64Array(count * rowLen);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < rowLen; j++) out[r * rowLen + j] = scale * src[indices[offset + r] * rowLen + j];
  }
  return out;
}

/** w -= lr g, in place on float64 state. */
export function refSgdStep(n: number, lr: number, w: Float64Array, g: ArrayLike<number>): void {
  for (let i = 0; i < n; i++) w[i] -= lr * g[i];
}

/** v = mu v + g; w -= lr v, in place on float64 state. */
export function refMomentumStep(
  n: number, lr: number, mu: number, w: Float64Array, g: ArrayLike<number>, v: Float64Array,
): void {
  for (let i = 0; i < n; i++) {
    v[i] = mu * v[i] + g[i];
    w[i] -= lr * v[i];
  }
}

/** Adam with bias correction at step t, in place on float64 state. */
export function refAdamStep(
  n: number, lr: number, beta1: number, beta2: number, eps: number, t: number,
  w: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array,
): void {
  for (let i = 0; i < n; i++) {
    m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    const mHat = m[i] / (1 - Math.pow(beta1, t));
    const vHat = v[i] / (1 - Math.pow(beta2, t));
    w[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
  }
}

/**
 * a * b mod 2^32 for u32 a, b, without Math.imul: from 16-bit halves, a b = aL bL + 2^16 (aH bL + aL bH)
 * mod 2^32, every partial product exact in float64.
 */
function mulU32(a: number, b: number): number {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const cross = (aH * bL + aL * bH) & 0xffff; // only its low 16 bits survive the shift by 16
  return (aL * bL + cross * 65536) >>> 0;
}

/** Wellons' lowbias32 on a u32 (the products without Math.imul, see mulU32). */
function lowbias32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = mulU32(x, 0x7feb352d);
  x = (x ^ (x >>> 15)) >>> 0;
  x = mulU32(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The u32 that decides dropout's value i for `key` (lib/core/random.ts hashAt(streamSalt(key), i)),
 * from its definition: lowbias32(u32(i) * 0x9e3779b9 + lowbias32(key)), all mod 2^32.
 */
export function refDropoutHash(key: number, i: number): number {
  return lowbias32((mulU32(i >>> 0, 0x9e3779b9) + lowbias32(key)) >>> 0);
}

/** refDropoutHash(key, i) for i < n, remembered per key (the bitwise reference is slow). */
const hashesOfKey = new Map<number, Float64Array>();
function dropoutHashes(key: number, n: number): Float64Array {
  const known = hashesOfKey.get(key) ?? new Float64Array(0);
  if (known.length >= n) return known;
  const more = new Float64Array(n);
  more.set(known);
  for (let i = known.length; i < n; i++) more[i] = refDropoutHash(key, i);
  hashesOfKey.set(key, more);
  return more;
}

/**
 * Inverted dropout: mask[i] = float(1 / (1 - rate)) when refDropoutHash(key, i) < (1 - rate) * 2^32,
 * else 0; y[i] = x[i] * mask[i] exactly (float64 holds the product of two floats; a backend's
 * float32 result is this rounded once).
 */
export function refDropout(
  n: number, key: number, rate: number, x: ArrayLike<number>,
): { y: Float64Array; mask: Float64Array } {
  const hashes = dropoutHashes(key, n);
  const scale = Math.fround(1 / (1 - rate));
  const y = new Float64Array(n);
  const mask = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    mask[i] = hashes[i] < (1 - rate) * 4294967296 ? scale : 0;
    y[i] = x[i] * mask[i];
  }
  return { y, mask };
}

/** out[i] = a[i] * b[i], exact in float64. */
export function refMultiply(n: number, a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
  return out;
}
