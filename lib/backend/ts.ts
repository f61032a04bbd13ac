/**
 * The pure-TypeScript backend: the same kernel contract as the native addon (lib/backend/contract.ts),
 * used where the addon is not built and as the other half of the native-vs-TypeScript benchmark.
 *
 * Single-threaded: JavaScript kernels run on the calling thread, so setThreads only validates
 * its argument and getThreads is always 1.
 *
 * Written for V8: Float32Array storage (arithmetic happens in float64 registers and rounds on
 * store), one monomorphic function per loop shape, no allocation inside kernels. Loss sums are
 * float64 (JavaScript numbers).
 */
import type { ActivationName, Backend } from './contract';
import {
  checkActivation, checkBool, checkDisjoint, checkF32, checkF32Len, checkFloat, checkFraction, checkIndices, checkInt,
  checkLabelArray, checkLabels, checkLen, checkMatrixLen, checkNum, checkU32, checkU8, indexError, labelError, matrixSpan,
} from './check';
import { sgemm } from './ts-gemm';
import {
  batchNormBackward, batchNormInfer, batchNormTrain, conv2d, conv2dBackwardData, conv2dBackwardFilter, maxPool2d,
  maxPool2dBackward,
} from './ts-conv';
import { augment } from './ts-augment';
import { hashAt, streamSalt } from '../core/random';

// ---------------------------------------------------------------------------------------------
// gemm: C = alpha * op(A) * op(B) + beta * C, the blocked product of ts-gemm.ts behind the checks.

function gemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
  beta: number, c: Float32Array, ldc: number,
): void {
  const K = 'gemm';
  checkBool(K, 'transA', transA);
  checkBool(K, 'transB', transB);
  checkInt(K, 'm', m, 0);
  checkInt(K, 'n', n, 0);
  checkInt(K, 'k', k, 0);
  checkFloat(K, 'alpha', alpha);
  checkF32(K, 'a', a);
  // A is stored m x k, or k x m when transA; B is k x n, or n x k when transB.
  checkInt(K, 'lda', lda, Math.max(1, transA ? m : k));
  checkMatrixLen(K, 'a', a, transA ? k : m, transA ? m : k, lda);
  checkF32(K, 'b', b);
  checkInt(K, 'ldb', ldb, Math.max(1, transB ? k : n));
  checkMatrixLen(K, 'b', b, transB ? n : k, transB ? k : n, ldb);
  checkFloat(K, 'beta', beta);
  checkF32(K, 'c', c);
  checkInt(K, 'ldc', ldc, Math.max(1, n));
  checkMatrixLen(K, 'c', c, m, n, ldc);
  const cSpan = matrixSpan(m, n, ldc);
  const why = 'the product cannot be written over an operand';
  checkDisjoint(K, 'c', c, cSpan, 'a', a, matrixSpan(transA ? k : m, transA ? m : k, lda), why);
  checkDisjoint(K, 'c', c, cSpan, 'b', b, matrixSpan(transB ? n : k, transB ? k : n, ldb), why);

  sgemm(transA, transB, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
}

// ---------------------------------------------------------------------------------------------
// Bias: forward adds a row vector to every row, backward sums the columns.

/** x (rows, cols) += bias (cols) broadcast over rows. */
function addBias(rows: number, cols: number, x: Float32Array, bias: Float32Array): void {
  const K = 'addBias';
  checkInt(K, 'rows', rows, 0);
  checkInt(K, 'cols', cols, 0);
  checkF32Len(K, 'x', x, rows * cols);
  checkF32Len(K, 'bias', bias, cols);
  if (cols === 0) return; // any rows pass with 0 cols: do not loop over rows of nothing
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) x[o + j] += bias[j];
  }
}

/**
 * db (cols) = beta * db + column sums of dy (rows, cols); beta = 0 overwrites db (NaNs do not
 * survive), beta = 1 accumulates over the chunks of a large batch. Row by row, so that dy is
 * read contiguously.
 */
function biasGrad(rows: number, cols: number, dy: Float32Array, db: Float32Array, beta: number): void {
  const K = 'biasGrad';
  checkInt(K, 'rows', rows, 0);
  checkInt(K, 'cols', cols, 0);
  checkF32Len(K, 'dy', dy, rows * cols);
  checkF32Len(K, 'db', db, cols);
  checkFloat(K, 'beta', beta);
  if (cols === 0) return; // any rows pass with 0 cols: touch nothing (db may even be detached)
  if (beta === 0) {
    db.fill(0, 0, cols);
  } else if (beta !== 1) {
    for (let j = 0; j < cols; j++) db[j] *= beta;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) db[j] += dy[o + j];
  }
}

// ---------------------------------------------------------------------------------------------
// Activations: forward y = h(factor * x), backward dx = factor * h'(factor * x) * dy from y.
// One loop per activation keeps every loop monomorphic (no per-element dispatch).

function activation(
  kind: ActivationName, n: number, x: Float32Array, y: Float32Array, slope: number, factor: number,
): void {
  const K = 'activation';
  checkActivation(K, 'kind', kind);
  checkInt(K, 'n', n, 0);
  checkF32Len(K, 'x', x, n);
  checkF32Len(K, 'y', y, n);
  checkFloat(K, 'slope', slope);
  checkFloat(K, 'factor', factor);
  switch (kind) {
    case 'identity':
      for (let i = 0; i < n; i++) y[i] = factor * x[i];
      break;
    case 'relu':
      for (let i = 0; i < n; i++) {
        const z = factor * x[i];
        y[i] = z > 0 ? z : 0;
      }
      break;
    case 'leaky-relu':
      for (let i = 0; i < n; i++) {
        const z = factor * x[i];
        y[i] = z >= 0 ? z : slope * z;
      }
      break;
    case 'sigmoid':
      for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-factor * x[i]));
      break;
    case 'tanh':
      for (let i = 0; i < n; i++) y[i] = Math.tanh(factor * x[i]);
      break;
  }
}

function activationGrad(
  kind: ActivationName, n: number, y: Float32Array, dy: Float32Array, dx: Float32Array,
  slope: number, factor: number,
): void {
  const K = 'activationGrad';
  checkActivation(K, 'kind', kind);
  checkInt(K, 'n', n, 0);
  checkF32Len(K, 'y', y, n);
  checkF32Len(K, 'dy', dy, n);
  checkF32Len(K, 'dx', dx, n);
  checkFloat(K, 'slope', slope);
  checkFloat(K, 'factor', factor);
  switch (kind) {
    case 'identity':
      for (let i = 0; i < n; i++) dx[i] = factor * dy[i];
      break;
    case 'relu':
      for (let i = 0; i < n; i++) dx[i] = y[i] > 0 ? factor * dy[i] : 0;
      break;
    case 'leaky-relu': {
      const neg = factor * slope;
      for (let i = 0; i < n; i++) dx[i] = (y[i] > 0 ? factor : neg) * dy[i];
      break;
    }
    case 'sigmoid':
      for (let i = 0; i < n; i++) {
        const s = y[i];
        dx[i] = factor * s * (1 - s) * dy[i];
      }
      break;
    case 'tanh':
      for (let i = 0; i < n; i++) {
        const t = y[i];
        dx[i] = factor * (1 - t * t) * dy[i];
      }
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax and softmax + cross-entropy, row by row. Each row: max, then exp(x - max) into probs
// with a float64 sum, then normalise. Each element of logits is read before the same element
// of probs / dlogits is written, which is what makes the documented aliasing safe.

/** probs (rows, cols) = row-wise softmax of logits (rows, cols). */
function softmax(rows: number, cols: number, logits: Float32Array, probs: Float32Array): void {
  const K = 'softmax';
  checkInt(K, 'rows', rows, 0);
  checkInt(K, 'cols', cols, 0);
  checkF32Len(K, 'logits', logits, rows * cols);
  checkF32Len(K, 'probs', probs, rows * cols);
  if (cols === 0) return; // any rows pass with 0 cols: do not loop over rows of nothing
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (logits[o + j] > max) max = logits[o + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(logits[o + j] - max);
      probs[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < cols; j++) probs[o + j] *= inv;
  }
}

/**
 * logits (rows, cols), labels (rows, u8 or u16) -> probs, dlogits = scale * (probs - onehot) (rows, cols);
 * returns sum_r (logsumexp(logits[r]) - logits[r, labels[r]]), finite for any finite logits.
 */
function softmaxCrossEntropy(
  rows: number, cols: number, logits: Float32Array, labels: Uint8Array | Uint16Array,
  probs: Float32Array, dlogits: Float32Array, scale: number,
): number {
  const K = 'softmaxCrossEntropy';
  checkInt(K, 'rows', rows, 0);
  checkInt(K, 'cols', cols, 0);
  checkF32Len(K, 'logits', logits, rows * cols);
  checkLabelArray(K, 'labels', labels);
  checkLen(K, 'labels', labels, rows);
  checkF32Len(K, 'probs', probs, rows * cols);
  checkF32Len(K, 'dlogits', dlogits, rows * cols);
  checkFloat(K, 'scale', scale);
  checkLabels(K, rows, cols, labels);

  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const label = labels[r];
    if (label >= cols) throw labelError(K, r, label, cols);
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (logits[o + j] > max) max = logits[o + j];
    const target = logits[o + label]; // read before probs (which may be logits) is written
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(logits[o + j] - max);
      probs[o + j] = e;
      sum += e;
    }
    loss += max + Math.log(sum) - target;
    const inv = 1 / sum;
    for (let j = 0; j < cols; j++) {
      const p = probs[o + j] * inv;
      probs[o + j] = p;
      dlogits[o + j] = scale * (j === label ? p - 1 : p); // written last: dlogits may be probs
    }
  }
  return loss;
}

// ---------------------------------------------------------------------------------------------
// Inverted dropout and the elementwise product (its backward). A Float32Array store rounds the
// double product of two floats, which is exact, once: the float product the native kernels
// compute, so both backends give identical bits.

function dropout(n: number, key: number, rate: number, x: Float32Array, y: Float32Array, mask: Float32Array): void {
  const K = 'dropout';
  checkInt(K, 'n', n, 0);
  checkInt(K, 'key', key, 0, 0xffffffff);
  checkFraction(K, 'rate', rate);
  checkF32Len(K, 'x', x, n);
  checkF32Len(K, 'y', y, n);
  checkF32Len(K, 'mask', mask, n);
  const why = 'the mask needs memory of its own';
  checkDisjoint(K, 'mask', mask, n, 'x', x, n, why);
  checkDisjoint(K, 'mask', mask, n, 'y', y, n, why);
  const keep = 1 - rate;
  // Keep value i when its u32 falls below keep * 2^32.
  const threshold = keep * 4294967296;
  const scale = Math.fround(1 / keep); // the mask's value, as stored (and read back) in float
  const salt = streamSalt(key);
  for (let i = 0; i < n; i++) {
    const m = hashAt(salt, i) < threshold ? scale : 0;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

function multiply(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const K = 'multiply';
  checkInt(K, 'n', n, 0);
  checkF32Len(K, 'a', a, n);
  checkF32Len(K, 'b', b, n);
  checkF32Len(K, 'out', out, n);
  for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
}

// ---------------------------------------------------------------------------------------------
// Batch gather: u8 rows of the dataset -> f32 rows of the batch, scaled on the fly.

function gatherRows(
  src: Uint8Array, rowLen: number, indices: Uint32Array, offset: number, count: number,
  scale: number, dst: Float32Array,
): void {
  const K = 'gatherRows';
  checkU8(K, 'src', src);
  checkInt(K, 'rowLen', rowLen, 0);
  checkU32(K, 'indices', indices);
  checkInt(K, 'offset', offset, 0);
  checkInt(K, 'count', count, 0);
  checkLen(K, 'indices', indices, offset + count);
  checkNum(K, 'scale', scale);
  checkF32Len(K, 'dst', dst, count * rowLen);
  checkIndices(K, src, rowLen, indices, offset, count);
  const rowsInSrc = rowLen === 0 ? Infinity : Math.floor(src.length / rowLen);
  for (let r = 0; r < count; r++) {
    const index = indices[offset + r];
    if (index >= rowsInSrc) throw indexError(K, offset + r, index, rowsInSrc);
    const s = index * rowLen;
    const d = r * rowLen;
    for (let j = 0; j < rowLen; j++) dst[d + j] = scale * src[s + j];
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizer steps over n parameters; w, g and the state vectors are length >= n.

function sgdStep(n: number, lr: number, w: Float32Array, g: Float32Array): void {
  const K = 'sgdStep';
  checkInt(K, 'n', n, 0);
  checkFloat(K, 'lr', lr);
  checkF32Len(K, 'w', w, n);
  checkF32Len(K, 'g', g, n);
  for (let i = 0; i < n; i++) w[i] -= lr * g[i];
}

function momentumStep(n: number, lr: number, mu: number, w: Float32Array, g: Float32Array, v: Float32Array): void {
  const K = 'momentumStep';
  checkInt(K, 'n', n, 0);
  checkFloat(K, 'lr', lr);
  checkFloat(K, 'mu', mu);
  checkF32Len(K, 'w', w, n);
  checkF32Len(K, 'g', g, n);
  checkF32Len(K, 'v', v, n);
  for (let i = 0; i < n; i++) {
    const vi = mu * v[i] + g[i];
    v[i] = vi;
    w[i] -= lr * vi;
  }
}

function adamStep(
  n: number, lr: number, beta1: number, beta2: number, eps: number, t: number,
  w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
): void {
  const K = 'adamStep';
  checkInt(K, 'n', n, 0);
  checkFloat(K, 'lr', lr);
  checkFloat(K, 'beta1', beta1);
  checkFloat(K, 'beta2', beta2);
  checkFloat(K, 'eps', eps);
  checkInt(K, 't', t, 1);
  checkF32Len(K, 'w', w, n);
  checkF32Len(K, 'g', g, n);
  checkF32Len(K, 'm', m, n);
  checkF32Len(K, 'v', v, n);
  const c1 = 1 / (1 - Math.pow(beta1, t)); // bias corrections, once per step
  const c2 = 1 / (1 - Math.pow(beta2, t));
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = beta1 * m[i] + (1 - beta1) * gi;
    const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= (lr * (mi * c1)) / (Math.sqrt(vi * c2) + eps);
  }
}

// ---------------------------------------------------------------------------------------------

function setThreads(n: number): void {
  checkInt('setThreads', 'n', n, 1);
  // Single-threaded by design: the value is accepted and ignored.
}

function getThreads(): number {
  return 1;
}

/** The pure-TypeScript backend (single-threaded). */
export const tsBackend: Backend = {
  name: 'ts',
  gemm,
  addBias,
  biasGrad,
  activation,
  activationGrad,
  softmax,
  softmaxCrossEntropy,
  dropout,
  multiply,
  conv2d,
  conv2dBackwardData,
  conv2dBackwardFilter,
  maxPool2d,
  maxPool2dBackward,
  batchNormTrain,
  batchNormInfer,
  batchNormBackward,
  augment,
  gatherRows,
  sgdStep,
  momentumStep,
  adamStep,
  setThreads,
  getThreads,
};
