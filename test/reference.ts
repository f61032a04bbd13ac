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

// ---------------------------------------------------------------------------------------------
// Convolution, pooling and batch normalization

/** The geometry every convolution kernel takes after n: x (n, c, h, w), weight (f, c, kh, kw), y (n, f, oh, ow). */
export interface ConvGeometry {
  n: number; c: number; h: number; w: number; f: number; kh: number; kw: number; stride: number;
  padTop: number; padLeft: number; oh: number; ow: number;
}

/** A result and, per element, the sum of |terms| it adds up: the scale its float32 error is relative to. */
export interface Terms {
  value: Float64Array;
  scale: Float64Array;
}

/** Fails unless every |got[i] - want.value[i]| <= tol * want.scale[i] (NaN matches NaN); the message gives the worst. */
export function expectWithinTerms(got: ArrayLike<number>, want: Terms, tol: number, what = 'result'): void {
  if (got.length !== want.value.length) throw new Error(`${what}: length ${got.length}, want ${want.value.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want.value[i];
    if (Number.isNaN(g) && Number.isNaN(w)) continue;
    const excess = Math.abs(g - w) - tol * want.scale[i];
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(`${what}: at [${worst}] got ${got[worst]}, want ${want.value[worst]} ` +
      `(difference ${Math.abs(got[worst] - want.value[worst])}, allowed ${tol * want.scale[worst]})`);
  }
}

/** x[i, j, iy, ix], or undefined outside the image (zero padding). */
function pixel(g: ConvGeometry, x: ArrayLike<number>, i: number, j: number, iy: number, ix: number): number | undefined {
  if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) return undefined;
  return x[((i * g.c + j) * g.h + iy) * g.w + ix];
}

/** y[i, o, oy, ox] = bias[o] + sum_{j, ky, kx} weight[o, j, ky, kx] * x[i, j, oy*stride - padTop + ky, ox*stride - padLeft + kx]. */
export function refConv2d(g: ConvGeometry, x: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>): Terms {
  const { n, c, f, kh, kw, stride, padTop, padLeft, oh, ow } = g;
  const value = new Float64Array(n * f * oh * ow);
  const scale = new Float64Array(value.length);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < f; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let sum = bias[o];
          let abs = Math.abs(bias[o]);
          for (let j = 0; j < c; j++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const v = pixel(g, x, i, j, oy * stride - padTop + ky, ox * stride - padLeft + kx);
                if (v === undefined) continue;
                const term = weight[((o * c + j) * kh + ky) * kw + kx] * v;
                sum += term;
                abs += Math.abs(term);
              }
            }
          }
          const at = ((i * f + o) * oh + oy) * ow + ox;
          value[at] = sum;
          scale[at] = abs;
        }
      }
    }
  }
  return { value, scale };
}

/** dx = dE/dx of conv2d: each weight[o, j, ky, kx] * dy[i, o, oy, ox] added at the input position it multiplied. */
export function refConv2dBackwardData(g: ConvGeometry, dy: ArrayLike<number>, weight: ArrayLike<number>): Terms {
  const { n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow } = g;
  const value = new Float64Array(n * c * h * w);
  const scale = new Float64Array(value.length);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < f; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          for (let j = 0; j < c; j++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * stride - padTop + ky;
                const ix = ox * stride - padLeft + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                const term = weight[((o * c + j) * kh + ky) * kw + kx] * dy[((i * f + o) * oh + oy) * ow + ox];
                const at = ((i * c + j) * h + iy) * w + ix;
                value[at] += term;
                scale[at] += Math.abs(term);
              }
            }
          }
        }
      }
    }
  }
  return { value, scale };
}

/**
 * dWeight = beta * dWeight + sum_{i, oy, ox} dy[i, o, oy, ox] * x[i, j, iy, ix] and dBias = beta * dBias + sum dy;
 * beta = 0 ignores the old values.
 */
export function refConv2dBackwardFilter(
  g: ConvGeometry, x: ArrayLike<number>, dy: ArrayLike<number>, dWeight: ArrayLike<number>, dBias: ArrayLike<number>, beta: number,
): { dWeight: Terms; dBias: Terms } {
  const { n, c, f, kh, kw, stride, padTop, padLeft, oh, ow } = g;
  const start = (old: ArrayLike<number>, length: number): Terms => {
    const value = new Float64Array(length);
    const scale = new Float64Array(length);
    for (let k = 0; k < length; k++) {
      value[k] = beta === 0 ? 0 : beta * old[k];
      scale[k] = Math.abs(value[k]);
    }
    return { value, scale };
  };
  const dW = start(dWeight, f * c * kh * kw);
  const dB = start(dBias, f);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < f; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const d = dy[((i * f + o) * oh + oy) * ow + ox];
          dB.value[o] += d;
          dB.scale[o] += Math.abs(d);
          for (let j = 0; j < c; j++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const v = pixel(g, x, i, j, oy * stride - padTop + ky, ox * stride - padLeft + kx);
                if (v === undefined) continue;
                const at = ((o * c + j) * kh + ky) * kw + kx;
                dW.value[at] += d * v;
                dW.scale[at] += Math.abs(d * v);
              }
            }
          }
        }
      }
    }
  }
  return { dWeight: dW, dBias: dB };
}

/**
 * Max pooling over size x size windows cut at the edge: y and argmax (row * w + col in the plane).
 * A NaN beats every number and the first NaN every later one; among equal maxima the first wins.
 */
export function refMaxPool2d(
  n: number, c: number, h: number, w: number, size: number, stride: number, oh: number, ow: number, x: ArrayLike<number>,
): { y: Float64Array; argmax: Float64Array } {
  const y = new Float64Array(n * c * oh * ow);
  const argmax = new Float64Array(y.length);
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = NaN;
        let at = -1;
        for (let iy = oy * stride; iy < Math.min(h, oy * stride + size); iy++) {
          for (let ix = ox * stride; ix < Math.min(w, ox * stride + size); ix++) {
            const v = x[p * h * w + iy * w + ix];
            const wins = at < 0 || (Number.isNaN(v) ? !Number.isNaN(best) : v > best);
            if (wins) {
              best = v;
              at = iy * w + ix;
            }
          }
        }
        y[(p * oh + oy) * ow + ox] = best;
        argmax[(p * oh + oy) * ow + ox] = at;
      }
    }
  }
  return { y, argmax };
}

/** dx[p, argmax[p, q]] += dy[p, q] over every plane p, from zero. */
export function refMaxPool2dBackward(
  n: number, c: number, h: number, w: number, oh: number, ow: number, dy: ArrayLike<number>, argmax: ArrayLike<number>,
): Float64Array {
  const dx = new Float64Array(n * c * h * w);
  for (let p = 0; p < n * c; p++) {
    for (let q = 0; q < oh * ow; q++) dx[p * h * w + argmax[p * oh * ow + q]] += dy[p * oh * ow + q];
  }
  return dx;
}

/** The values of channel j of x (n, c, s), as positions into x. */
function channel(n: number, c: number, s: number, j: number): number[] {
  const at: number[] = [];
  for (let i = 0; i < n; i++) for (let k = 0; k < s; k++) at.push((i * c + j) * s + k);
  return at;
}

/**
 * Batch normalization in training (PyTorch's rules): per channel the mean and biased variance of
 * its n * s values, y = (x - mean) / sqrt(var + eps) * weight + bias, saved = [mean..., invstd...],
 * running = (1 - momentum) * running + momentum * batch with the unbiased variance (biased when
 * n * s = 1); n * s = 0 leaves saved and the running statistics as they were.
 */
export function refBatchNormTrain(
  n: number, c: number, s: number, momentum: number, eps: number, x: ArrayLike<number>, weight: ArrayLike<number>,
  bias: ArrayLike<number>, runningMean: ArrayLike<number>, runningVar: ArrayLike<number>, saved: ArrayLike<number>,
): { y: Float64Array; saved: Float64Array; runningMean: Float64Array; runningVar: Float64Array } {
  const m = n * s;
  const out = {
    y: new Float64Array(n * c * s), saved: Float64Array.from(saved),
    runningMean: Float64Array.from(runningMean), runningVar: Float64Array.from(runningVar),
  };
  if (m === 0) return out;
  for (let j = 0; j < c; j++) {
    const at = channel(n, c, s, j);
    const mean = at.reduce((sum, k) => sum + x[k], 0) / m;
    const variance = at.reduce((sum, k) => sum + (x[k] - mean) ** 2, 0) / m;
    const invstd = 1 / Math.sqrt(variance + eps);
    for (const k of at) out.y[k] = (x[k] - mean) * invstd * weight[j] + bias[j];
    out.saved[j] = mean;
    out.saved[c + j] = invstd;
    const unbiased = m > 1 ? (variance * m) / (m - 1) : variance;
    out.runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mean;
    out.runningVar[j] = (1 - momentum) * runningVar[j] + momentum * unbiased;
  }
  return out;
}

/** y = (x - runningMean[j]) / sqrt(runningVar[j] + eps) * weight[j] + bias[j]. */
export function refBatchNormInfer(
  n: number, c: number, s: number, eps: number, x: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>,
  runningMean: ArrayLike<number>, runningVar: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(n * c * s);
  for (let j = 0; j < c; j++) {
    for (const k of channel(n, c, s, j)) {
      y[k] = (x[k] - runningMean[j]) / Math.sqrt(runningVar[j] + eps) * weight[j] + bias[j];
    }
  }
  return y;
}

/**
 * Backward of batch normalization in training from x and saved (mean, invstd): xhat = (x - mean) * invstd,
 * dWeight = beta dWeight + sum dy xhat, dBias = beta dBias + sum dy,
 * dx = weight * invstd * (dy - mean(dy) - xhat * mean(dy xhat)); beta = 0 ignores the old values.
 */
export function refBatchNormBackward(
  n: number, c: number, s: number, x: ArrayLike<number>, dy: ArrayLike<number>, weight: ArrayLike<number>,
  saved: ArrayLike<number>, dWeight: ArrayLike<number>, dBias: ArrayLike<number>, beta: number,
): { dx: Float64Array; dWeight: Float64Array; dBias: Float64Array } {
  const m = n * s;
  const out = { dx: new Float64Array(n * c * s), dWeight: new Float64Array(c), dBias: new Float64Array(c) };
  for (let j = 0; j < c; j++) {
    const at = channel(n, c, s, j);
    const xhat = (k: number): number => (x[k] - saved[j]) * saved[c + j];
    const sumDy = at.reduce((sum, k) => sum + dy[k], 0);
    const sumDyXhat = at.reduce((sum, k) => sum + dy[k] * xhat(k), 0);
    out.dWeight[j] = (beta === 0 ? 0 : beta * dWeight[j]) + sumDyXhat;
    out.dBias[j] = (beta === 0 ? 0 : beta * dBias[j]) + sumDy;
    for (const k of at) out.dx[k] = weight[j] * saved[c + j] * (dy[k] - sumDy / m - xhat(k) * (sumDyXhat / m));
  }
  return out;
}
