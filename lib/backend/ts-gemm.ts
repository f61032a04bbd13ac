/**
 * The TypeScript backend's sgemm without argument checks, on operands that start at an offset
 * into their arrays: the gemm kernel (ts.ts) validates its arguments and calls it at offset 0;
 * the convolutions (ts-conv.ts) call it on one image's slice of a batch tensor and on their
 * im2col scratch. The caller guarantees every size, leading dimension and span.
 */

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
function scaleC(m: number, n: number, beta: number, c: Float32Array, cOff: number, ldc: number): void {
  // n = 0 allows any m (nothing is stored): return before looping over rows of nothing.
  if (beta === 1 || n === 0) return;
  for (let i = 0; i < m; i++) {
    const ci = cOff + i * ldc;
    if (beta === 0) {
      c.fill(0, ci, ci + n);
    } else {
      for (let j = 0; j < n; j++) c[ci + j] *= beta;
    }
  }
}

/** packA[i*kc + p] = A[(pc+p)*lda + ic+i]: the op(A) block when A is stored k x m (transA). */
function packTransposedA(a: Float32Array, aOff: number, lda: number, ic: number, pc: number, mc: number, kc: number): void {
  for (let p = 0; p < kc; p++) {
    const src = aOff + (pc + p) * lda + ic;
    for (let i = 0; i < mc; i++) packA[i * kc + p] = a[src + i];
  }
}

/** packB[p*nc + j] = B[(jc+j)*ldb + pc+p]: the op(B) block when B is stored n x k (transB). */
function packTransposedB(b: Float32Array, bOff: number, ldb: number, pc: number, jc: number, kc: number, nc: number): void {
  for (let j = 0; j < nc; j++) {
    const src = bOff + (jc + j) * ldb + pc;
    for (let p = 0; p < kc; p++) packB[p * nc + j] = b[src + p];
  }
}

/** packB[p*nc + j] = B[(pc+p)*ldb + jc+j]: a block of B stored k x n whose rows are not contiguous. */
function packStridedB(b: Float32Array, bOff: number, ldb: number, pc: number, jc: number, kc: number, nc: number): void {
  for (let p = 0; p < kc; p++) {
    const src = bOff + (pc + p) * ldb + jc;
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

/**
 * `C = alpha * op(A) * op(B) + beta * C` with A, B and C starting at aOff, bOff and cOff
 * (the contract's gemm otherwise, unchecked).
 */
export function sgemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float32Array, aOff: number, lda: number, b: Float32Array, bOff: number, ldb: number,
  beta: number, c: Float32Array, cOff: number, ldc: number,
): void {
  scaleC(m, n, beta, c, cOff, ldc);
  // As in BLAS, alpha = 0 does not read A or B.
  if (m === 0 || n === 0 || k === 0 || alpha === 0) return;

  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      let bb = b;
      let bBlock = bOff + pc * ldb + jc;
      let bStride = ldb;
      if (transB || ldb !== nc) {
        if (transB) packTransposedB(b, bOff, ldb, pc, jc, kc, nc);
        else packStridedB(b, bOff, ldb, pc, jc, kc, nc);
        bb = packB;
        bBlock = 0;
        bStride = nc;
      }
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        const cBlock = cOff + ic * ldc + jc;
        if (transA) {
          packTransposedA(a, aOff, lda, ic, pc, mc, kc);
          gemmBlock(mc, nc, kc, alpha, packA, 0, kc, bb, bBlock, bStride, c, cBlock, ldc);
        } else {
          gemmBlock(mc, nc, kc, alpha, a, aOff + ic * lda + pc, lda, bb, bBlock, bStride, c, cBlock, ldc);
        }
      }
    }
  }
}
