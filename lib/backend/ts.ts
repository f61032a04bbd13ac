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
import { hashAt, streamSalt } from '../core/random';

// ---------------------------------------------------------------------------------------------
// gemm: C = alpha * op(A) * op(B) + beta * C
//
// Loop order i-k-j: for each row i of C and each p, C[i, :] += alpha * op(A)[i, p] * op(B)[p, :],
// so the innermost loop is a contiguous saxpy over a row of C and a row of op(B). The saxpy is
// register-tiled 4 x 8: four rows of C are updated in one pass over eight rows of op(B), with the
// 4 x 8 values of op(A) held in locals across the j loop. JavaScript has no SIMD, so the limit is
// instructions per multiply-add: every typed-array access costs an index add, an overflow check
// and a bounds check, and a C element costs a load and a store. Eight rows of op(B) per pass
// halve the C traffic per multiply-add of a 4 x 4 tile (locals V8 cannot keep in the 16 xmm
// registers become stack operands, which need no checks). Measured (CPU time, 7 shapes of
// 784-128-10 and 784-256-128-10): 4 x 8 is 10-15% faster than 4 x 4, on par with 8 x 4 and 8 x 8,
// ahead of 2 x 8, 4 x 12, 4 x 16 and of 4 x 4 register-accumulator micro-kernels over float64
// packed panels.
// Blocking: a KC x NC block of op(B) (512 KiB) stays in L2 while the rows of C sweep over it;
// a C row segment of NC floats stays in L1 across the KC updates.
// op(B) is packed into a contiguous scratch block when it is a transpose or its rows are not
// contiguous (n > NC): rows of B a power-of-two stride apart (1024^3) alias in the cache and
// halve the speed. A transposed op(A) block is packed the same way, so one kernel serves all
// four transpose combinations.

const MC = 64;
const KC = 256;
const NC = 512;
const packA = new Float32Array(MC * KC); // op(A) block (alpha not applied), mc x kc, row stride kc
const packB = new Float32Array(KC * NC); // op(B) block, kc x nc, row stride nc

/** C[0:m, 0:n] *= beta; beta = 0 overwrites (NaNs in C do not survive), as in BLAS. */
function scaleC(m: number, n: number, beta: number, c: Float32Array, ldc: number): void {
  // n = 0 allows any m (nothing is stored): return before looping over rows of nothing.
  if (beta === 1 || n === 0) return;
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    if (beta === 0) {
      c.fill(0, ci, ci + n);
    } else {
      for (let j = 0; j < n; j++) c[ci + j] *= beta;
    }
  }
}

/** packA[i*kc + p] = A[(pc+p)*lda + ic+i]: the op(A) block when A is stored k x m (transA). */
function packTransposedA(a: Float32Array, lda: number, ic: number, pc: number, mc: number, kc: number): void {
  for (let p = 0; p < kc; p++) {
    const src = (pc + p) * lda + ic;
    for (let i = 0; i < mc; i++) packA[i * kc + p] = a[src + i];
  }
}

/** packB[p*nc + j] = B[(jc+j)*ldb + pc+p]: the op(B) block when B is stored n x k (transB). */
function packTransposedB(b: Float32Array, ldb: number, pc: number, jc: number, kc: number, nc: number): void {
  for (let j = 0; j < nc; j++) {
    const src = (jc + j) * ldb + pc;
    for (let p = 0; p < kc; p++) packB[p * nc + j] = b[src + p];
  }
}

/** packB[p*nc + j] = B[(pc+p)*ldb + jc+j]: a block of B stored k x n whose rows are not contiguous. */
function packStridedB(b: Float32Array, ldb: number, pc: number, jc: number, kc: number, nc: number): void {
  for (let p = 0; p < kc; p++) {
    const src = (pc + p) * ldb + jc;
    const dst = p * nc;
    for (let j = 0; j < nc; j++) packB[dst + j] = b[src + j];
  }
}

/**
 * C block (mc x nc at cOff, stride ldc) += alpha * Ablock (mc x kc at aOff, row stride aStride)
 * * Bblock (kc x nc at bOff, row stride bStride). All operands row-major and contiguous in rows.
 */
function gemmBlock(
  mc: number, nc: number, kc: number, alpha: number,
  a: Float32Array, aOff: number, aStride: number,
  b: Float32Array, bOff: number, bStride: number,
  c: Float32Array, cOff: number, ldc: number,
): void {
  const kc8 = kc - (kc % 8);
  const mc4 = mc - (mc % 4);
  let i = 0;
  // Four rows of C at a time, each updated with eight rows of op(B): 32 multiply-adds per
  // element loaded from B, 8 per element of C loaded and stored.
  for (; i < mc4; i += 4) {
    const c0 = cOff + i * ldc;
    const c1 = c0 + ldc;
    const c2 = c1 + ldc;
    const c3 = c2 + ldc;
    const x0 = aOff + i * aStride;
    const x1 = x0 + aStride;
    const x2 = x1 + aStride;
    const x3 = x2 + aStride;
    let p = 0;
    for (; p < kc8; p += 8) {
      const a00 = alpha * a[x0 + p], a01 = alpha * a[x0 + p + 1], a02 = alpha * a[x0 + p + 2], a03 = alpha * a[x0 + p + 3];
      const a04 = alpha * a[x0 + p + 4], a05 = alpha * a[x0 + p + 5], a06 = alpha * a[x0 + p + 6], a07 = alpha * a[x0 + p + 7];
      const a10 = alpha * a[x1 + p], a11 = alpha * a[x1 + p + 1], a12 = alpha * a[x1 + p + 2], a13 = alpha * a[x1 + p + 3];
      const a14 = alpha * a[x1 + p + 4], a15 = alpha * a[x1 + p + 5], a16 = alpha * a[x1 + p + 6], a17 = alpha * a[x1 + p + 7];
      const a20 = alpha * a[x2 + p], a21 = alpha * a[x2 + p + 1], a22 = alpha * a[x2 + p + 2], a23 = alpha * a[x2 + p + 3];
      const a24 = alpha * a[x2 + p + 4], a25 = alpha * a[x2 + p + 5], a26 = alpha * a[x2 + p + 6], a27 = alpha * a[x2 + p + 7];
      const a30 = alpha * a[x3 + p], a31 = alpha * a[x3 + p + 1], a32 = alpha * a[x3 + p + 2], a33 = alpha * a[x3 + p + 3];
      const a34 = alpha * a[x3 + p + 4], a35 = alpha * a[x3 + p + 5], a36 = alpha * a[x3 + p + 6], a37 = alpha * a[x3 + p + 7];
      const b0 = bOff + p * bStride;
      const b1 = b0 + bStride;
      const b2 = b1 + bStride;
      const b3 = b2 + bStride;
      const b4 = b3 + bStride;
      const b5 = b4 + bStride;
      const b6 = b5 + bStride;
      const b7 = b6 + bStride;
      for (let j = 0; j < nc; j++) {
        const v0 = b[b0 + j], v1 = b[b1 + j], v2 = b[b2 + j], v3 = b[b3 + j];
        const v4 = b[b4 + j], v5 = b[b5 + j], v6 = b[b6 + j], v7 = b[b7 + j];
        c[c0 + j] += a00 * v0 + a01 * v1 + a02 * v2 + a03 * v3 + a04 * v4 + a05 * v5 + a06 * v6 + a07 * v7;
        c[c1 + j] += a10 * v0 + a11 * v1 + a12 * v2 + a13 * v3 + a14 * v4 + a15 * v5 + a16 * v6 + a17 * v7;
        c[c2 + j] += a20 * v0 + a21 * v1 + a22 * v2 + a23 * v3 + a24 * v4 + a25 * v5 + a26 * v6 + a27 * v7;
        c[c3 + j] += a30 * v0 + a31 * v1 + a32 * v2 + a33 * v3 + a34 * v4 + a35 * v5 + a36 * v6 + a37 * v7;
      }
    }
    for (; p < kc; p++) {
      const a0 = alpha * a[x0 + p], a1 = alpha * a[x1 + p], a2 = alpha * a[x2 + p], a3 = alpha * a[x3 + p];
      const b0 = bOff + p * bStride;
      for (let j = 0; j < nc; j++) {
        const v = b[b0 + j];
        c[c0 + j] += a0 * v;
        c[c1 + j] += a1 * v;
        c[c2 + j] += a2 * v;
        c[c3 + j] += a3 * v;
      }
    }
  }
  // The last mc % 4 rows, one at a time.
  for (; i < mc; i++) {
    const ci = cOff + i * ldc;
    const ai = aOff + i * aStride;
    let p = 0;
    for (; p < kc8; p += 8) {
      const a0 = alpha * a[ai + p], a1 = alpha * a[ai + p + 1], a2 = alpha * a[ai + p + 2], a3 = alpha * a[ai + p + 3];
      const a4 = alpha * a[ai + p + 4], a5 = alpha * a[ai + p + 5], a6 = alpha * a[ai + p + 6], a7 = alpha * a[ai + p + 7];
      const b0 = bOff + p * bStride;
      const b1 = b0 + bStride;
      const b2 = b1 + bStride;
      const b3 = b2 + bStride;
      const b4 = b3 + bStride;
      const b5 = b4 + bStride;
      const b6 = b5 + bStride;
      const b7 = b6 + bStride;
      for (let j = 0; j < nc; j++) {
        c[ci + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j] +
          a4 * b[b4 + j] + a5 * b[b5 + j] + a6 * b[b6 + j] + a7 * b[b7 + j];
      }
    }
    for (; p < kc; p++) {
      const a0 = alpha * a[ai + p];
      const b0 = bOff + p * bStride;
      for (let j = 0; j < nc; j++) c[ci + j] += a0 * b[b0 + j];
    }
  }
}

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

  scaleC(m, n, beta, c, ldc);
  // As in BLAS, alpha = 0 does not read A or B.
  if (m === 0 || n === 0 || k === 0 || alpha === 0) return;

  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      let bb = b;
      let bOff = pc * ldb + jc;
      let bStride = ldb;
      if (transB || ldb !== nc) {
        if (transB) packTransposedB(b, ldb, pc, jc, kc, nc);
        else packStridedB(b, ldb, pc, jc, kc, nc);
        bb = packB;
        bOff = 0;
        bStride = nc;
      }
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        if (transA) {
          packTransposedA(a, lda, ic, pc, mc, kc);
          gemmBlock(mc, nc, kc, alpha, packA, 0, kc, bb, bOff, bStride, c, ic * ldc + jc, ldc);
        } else {
          gemmBlock(mc, nc, kc, alpha, a, ic * lda + pc, lda, bb, bOff, bStride, c, ic * ldc + jc, ldc);
        }
      }
    }
  }
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
  if (beta === 0) {
    db.fill(0, 0, cols);
  } else if (beta !== 1) {
    for (let j = 0; j < cols; j++) db[j] *= beta;
  }
  if (cols === 0) return; // any rows pass with 0 cols: do not loop over rows of nothing
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
  gatherRows,
  sgdStep,
  momentumStep,
  adamStep,
  setThreads,
  getThreads,
};
