/**
 * The TypeScript backend's convolution, max-pooling and batch-norm kernels (lib/backend/contract.ts
 * says what each computes; check.ts lists its errors). Tensors are row-major, batch first.
 *
 * A convolution is im2col + sgemm, one image at a time: the patches of x under a band of output
 * rows are copied into the scratch `col` (c*kh*kw, rows*ow), and y's band is weight (f, c*kh*kw)
 * times col. The input gradient is weight^T times dy's band, scattered back onto dx (col2im);
 * the filter gradient is dy's band times col^T, summed over the images.
 *
 * Sizes are checked but not small: when one size is 0 the lengths bound none of its partners
 * (n = 0 lets c be 2^50), so a kernel returns before any loop whose output is empty, and loops
 * only over dimensions that a non-empty buffer bounds.
 */
import {
  argmaxError, checkF32Len, checkFloat, checkInt, checkLen, checkOutputDisjoint, checkU32, elementCount,
} from './check';
import { sgemm } from './ts-gemm';

// ---------------------------------------------------------------------------------------------
// im2col / col2im over a band of output rows [oy0, oy1) of one image.

/** Floats of col a band aims at (256 KiB): a band's columns stay in L2 while sgemm sweeps them. */
const BAND_FLOATS = 1 << 16;
let col = new Float32Array(0);

/** The im2col scratch, at least `size` floats (grown, never shrunk). */
function colScratch(size: number): Float32Array {
  if (col.length < size) col = new Float32Array(size);
  return col;
}

/** Output rows per band for patches of `patch` = c*kh*kw values: at least one. */
function bandRows(patch: number, oh: number, ow: number): number {
  return Math.max(1, Math.min(oh, Math.floor(BAND_FLOATS / (patch * ow))));
}

/** The first output index o whose input index o*stride - pad + k is >= 0, within [0, out]. */
function firstInside(pad: number, k: number, stride: number, out: number): number {
  return Math.min(out, Math.max(0, Math.ceil((pad - k) / stride)));
}

/** One past the last output index o whose input index o*stride - pad + k is < size, within [first, out]. */
function endInside(pad: number, k: number, stride: number, size: number, first: number, out: number): number {
  return Math.max(first, Math.min(out, Math.floor((size - 1 + pad - k) / stride) + 1));
}

/**
 * col ((j*kh + ky)*kw + kx, (oy - oy0)*ow + ox) = x[j, oy*stride - padTop + ky, ox*stride - padLeft + kx]
 * (0 outside the image) for the image of x (c, h, w) at xOff and output rows oy0 <= oy < oy1.
 */
function im2col(
  x: Float32Array, xOff: number, c: number, h: number, w: number, kh: number, kw: number, stride: number,
  padTop: number, padLeft: number, ow: number, oy0: number, oy1: number, out: Float32Array,
): void {
  let o = 0;
  for (let j = 0; j < c; j++) {
    const plane = xOff + j * h * w;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const ox0 = firstInside(padLeft, kx, stride, ow);
        const ox1 = endInside(padLeft, kx, stride, w, ox0, ow);
        for (let oy = oy0; oy < oy1; oy++, o += ow) {
          const iy = oy * stride - padTop + ky;
          if (iy < 0 || iy >= h) {
            out.fill(0, o, o + ow);
            continue;
          }
          const src = plane + iy * w - padLeft + kx;
          for (let ox = 0; ox < ox0; ox++) out[o + ox] = 0;
          for (let ox = ox0; ox < ox1; ox++) out[o + ox] = x[src + ox * stride];
          for (let ox = ox1; ox < ow; ox++) out[o + ox] = 0;
        }
      }
    }
  }
}

/** The adjoint of im2col: dx (c, h, w) at dxOff += every value of the band's col at the input position it was copied from. */
function col2im(
  cols: Float32Array, c: number, h: number, w: number, kh: number, kw: number, stride: number,
  padTop: number, padLeft: number, ow: number, oy0: number, oy1: number, dx: Float32Array, dxOff: number,
): void {
  let o = 0;
  for (let j = 0; j < c; j++) {
    const plane = dxOff + j * h * w;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const ox0 = firstInside(padLeft, kx, stride, ow);
        const ox1 = endInside(padLeft, kx, stride, w, ox0, ow);
        for (let oy = oy0; oy < oy1; oy++, o += ow) {
          const iy = oy * stride - padTop + ky;
          if (iy < 0 || iy >= h) continue;
          const dst = plane + iy * w - padLeft + kx;
          for (let ox = ox0; ox < ox1; ox++) dx[dst + ox * stride] += cols[o + ox];
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution: x (n, c, h, w), weight (f, c, kh, kw), bias (f), y (n, f, oh, ow).

/** The twelve geometry sizes every convolution kernel takes, checked in argument order. */
function checkGeometry(
  kernel: string, n: number, c: number, h: number, w: number, f: number, kh: number, kw: number, stride: number,
  padTop: number, padLeft: number, oh: number, ow: number,
): void {
  checkInt(kernel, 'n', n, 0);
  checkInt(kernel, 'c', c, 0);
  checkInt(kernel, 'h', h, 0);
  checkInt(kernel, 'w', w, 0);
  checkInt(kernel, 'f', f, 0);
  checkInt(kernel, 'kh', kh, 0);
  checkInt(kernel, 'kw', kw, 0);
  checkInt(kernel, 'stride', stride, 1);
  checkInt(kernel, 'padTop', padTop, 0);
  checkInt(kernel, 'padLeft', padLeft, 0);
  checkInt(kernel, 'oh', oh, 0);
  checkInt(kernel, 'ow', ow, 0);
}

/** y = conv2d(x, weight) + bias, im2col + sgemm per image and band of output rows. */
export function conv2d(
  n: number, c: number, h: number, w: number, f: number, kh: number, kw: number, stride: number,
  padTop: number, padLeft: number, oh: number, ow: number,
  x: Float32Array, weight: Float32Array, bias: Float32Array, y: Float32Array,
): void {
  const K = 'conv2d';
  checkGeometry(K, n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow);
  const xLen = elementCount(n, c, h, w);
  const wLen = elementCount(f, c, kh, kw);
  const yLen = elementCount(n, f, oh, ow);
  checkF32Len(K, 'x', x, xLen);
  checkF32Len(K, 'weight', weight, wLen);
  checkF32Len(K, 'bias', bias, f);
  checkF32Len(K, 'y', y, yLen);
  checkOutputDisjoint(K, 'y', y, yLen, 'x', x, xLen);
  checkOutputDisjoint(K, 'y', y, yLen, 'weight', weight, wLen);
  checkOutputDisjoint(K, 'y', y, yLen, 'bias', bias, f);
  if (yLen === 0) return;

  // y bounds n, f, oh and ow; weight then bounds a non-empty patch, and x the image.
  const outPlane = oh * ow;
  const patch = elementCount(c, kh, kw);
  const rows = bandRows(patch, oh, ow);
  const scratch = colScratch(patch * rows * ow);
  for (let i = 0; i < n; i++) {
    const yOff = i * f * outPlane;
    for (let o = 0; o < f; o++) y.fill(bias[o], yOff + o * outPlane, yOff + (o + 1) * outPlane);
    if (patch === 0) continue; // y = bias; c may be any size here
    for (let oy0 = 0; oy0 < oh; oy0 += rows) {
      const oy1 = Math.min(oh, oy0 + rows);
      const cols = (oy1 - oy0) * ow;
      im2col(x, i * c * h * w, c, h, w, kh, kw, stride, padTop, padLeft, ow, oy0, oy1, scratch);
      sgemm(false, false, f, cols, patch, 1, weight, 0, patch, scratch, 0, cols, 1, y, yOff + oy0 * ow, outPlane);
    }
  }
}

/** dx = weight^T dy scattered back onto the input positions (col2im), per image and band. */
export function conv2dBackwardData(
  n: number, c: number, h: number, w: number, f: number, kh: number, kw: number, stride: number,
  padTop: number, padLeft: number, oh: number, ow: number,
  dy: Float32Array, weight: Float32Array, dx: Float32Array,
): void {
  const K = 'conv2dBackwardData';
  checkGeometry(K, n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow);
  const yLen = elementCount(n, f, oh, ow);
  const wLen = elementCount(f, c, kh, kw);
  const xLen = elementCount(n, c, h, w);
  checkF32Len(K, 'dy', dy, yLen);
  checkF32Len(K, 'weight', weight, wLen);
  checkF32Len(K, 'dx', dx, xLen);
  checkOutputDisjoint(K, 'dx', dx, xLen, 'dy', dy, yLen);
  checkOutputDisjoint(K, 'dx', dx, xLen, 'weight', weight, wLen);
  if (xLen === 0) return;
  dx.fill(0, 0, xLen);
  // With n and c > 0, an empty dy or weight means f, oh, ow, kh or kw is 0: no term reaches dx.
  if (yLen === 0 || wLen === 0) return;

  const outPlane = oh * ow;
  const patch = c * kh * kw;
  const rows = bandRows(patch, oh, ow);
  const scratch = colScratch(patch * rows * ow);
  for (let i = 0; i < n; i++) {
    const yOff = i * f * outPlane;
    for (let oy0 = 0; oy0 < oh; oy0 += rows) {
      const oy1 = Math.min(oh, oy0 + rows);
      const cols = (oy1 - oy0) * ow;
      sgemm(true, false, patch, cols, f, 1, weight, 0, patch, dy, yOff + oy0 * ow, outPlane, 0, scratch, 0, cols);
      col2im(scratch, c, h, w, kh, kw, stride, padTop, padLeft, ow, oy0, oy1, dx, i * c * h * w);
    }
  }
}

/** dWeight = beta dWeight + sum over images of dy col^T; dBias = beta dBias + sums of dy per filter. */
export function conv2dBackwardFilter(
  n: number, c: number, h: number, w: number, f: number, kh: number, kw: number, stride: number,
  padTop: number, padLeft: number, oh: number, ow: number,
  x: Float32Array, dy: Float32Array, dWeight: Float32Array, dBias: Float32Array, beta: number,
): void {
  const K = 'conv2dBackwardFilter';
  checkGeometry(K, n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow);
  const xLen = elementCount(n, c, h, w);
  const yLen = elementCount(n, f, oh, ow);
  const wLen = elementCount(f, c, kh, kw);
  checkF32Len(K, 'x', x, xLen);
  checkF32Len(K, 'dy', dy, yLen);
  checkF32Len(K, 'dWeight', dWeight, wLen);
  checkF32Len(K, 'dBias', dBias, f);
  checkFloat(K, 'beta', beta);
  checkOutputDisjoint(K, 'dWeight', dWeight, wLen, 'x', x, xLen);
  checkOutputDisjoint(K, 'dWeight', dWeight, wLen, 'dy', dy, yLen);
  checkOutputDisjoint(K, 'dBias', dBias, f, 'x', x, xLen);
  checkOutputDisjoint(K, 'dBias', dBias, f, 'dy', dy, yLen);
  scaleBy(beta, dWeight, wLen);
  scaleBy(beta, dBias, f);
  if (yLen === 0) return;

  // dy bounds n, f, oh and ow; dWeight then bounds the patch.
  const outPlane = oh * ow;
  for (let o = 0; o < f; o++) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const start = (i * f + o) * outPlane;
      const end = start + outPlane;
      for (let q = start; q < end; q++) sum += dy[q];
    }
    dBias[o] += sum;
  }
  if (wLen === 0) return;
  const patch = c * kh * kw;
  const rows = bandRows(patch, oh, ow);
  const scratch = colScratch(patch * rows * ow);
  for (let i = 0; i < n; i++) {
    const yOff = i * f * outPlane;
    for (let oy0 = 0; oy0 < oh; oy0 += rows) {
      const oy1 = Math.min(oh, oy0 + rows);
      const cols = (oy1 - oy0) * ow;
      im2col(x, i * c * h * w, c, h, w, kh, kw, stride, padTop, padLeft, ow, oy0, oy1, scratch);
      sgemm(false, true, f, patch, cols, 1, dy, yOff + oy0 * ow, outPlane, scratch, 0, cols, 1, dWeight, 0, patch);
    }
  }
}

/** v[0:len] *= beta; beta = 0 overwrites (NaNs do not survive), 1 leaves v as it is. */
function scaleBy(beta: number, v: Float32Array, len: number): void {
  if (len === 0) return; // v may be detached, and fill throws on a detached buffer
  if (beta === 0) v.fill(0, 0, len);
  else if (beta !== 1) for (let i = 0; i < len; i++) v[i] *= beta;
}

// ---------------------------------------------------------------------------------------------
// Max pooling: x (n, c, h, w), y and argmax (n, c, oh, ow); windows size x size, cut at the edge.

/** y, argmax = the maximum of each window and its position in the input plane (NaN wins, first on ties). */
export function maxPool2d(
  n: number, c: number, h: number, w: number, size: number, stride: number, oh: number, ow: number,
  x: Float32Array, y: Float32Array, argmax: Uint32Array,
): void {
  const K = 'maxPool2d';
  checkInt(K, 'n', n, 0);
  checkInt(K, 'c', c, 0);
  checkInt(K, 'h', h, 0);
  checkInt(K, 'w', w, 0);
  checkInt(K, 'size', size, 1);
  checkInt(K, 'stride', stride, 1);
  // Every window starts inside the input, so none is empty.
  checkInt(K, 'oh', oh, 0, h === 0 ? 0 : Math.floor((h - 1) / stride) + 1);
  checkInt(K, 'ow', ow, 0, w === 0 ? 0 : Math.floor((w - 1) / stride) + 1);
  const xLen = elementCount(n, c, h, w);
  const yLen = elementCount(n, c, oh, ow);
  checkF32Len(K, 'x', x, xLen);
  checkF32Len(K, 'y', y, yLen);
  checkU32(K, 'argmax', argmax);
  checkLen(K, 'argmax', argmax, yLen);
  checkOutputDisjoint(K, 'y', y, yLen, 'x', x, xLen);
  if (yLen === 0) return;

  // y bounds n, c, oh and ow; oh, ow >= 1 make h, w >= 1, so x bounds the plane.
  const inPlane = h * w;
  const planes = n * c;
  let q = 0;
  for (let p = 0; p < planes; p++) {
    const xOff = p * inPlane;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * stride;
      const y1 = Math.min(h, y0 + size);
      for (let ox = 0; ox < ow; ox++, q++) {
        const x0 = ox * stride;
        const x1 = Math.min(w, x0 + size);
        let at = y0 * w + x0;
        let best = x[xOff + at];
        // The first NaN wins at once; otherwise only a strictly larger value replaces the first maximum.
        if (best === best) {
          window: for (let iy = y0; iy < y1; iy++) {
            const row = iy * w;
            for (let ix = x0; ix < x1; ix++) {
              const v = x[xOff + row + ix];
              if (v > best) {
                best = v;
                at = row + ix;
              } else if (v !== v) {
                best = v;
                at = row + ix;
                break window;
              }
            }
          }
        }
        y[q] = best;
        argmax[q] = at;
      }
    }
  }
}

/** dx = 0, then each dy added at the position its argmax names. */
export function maxPool2dBackward(
  n: number, c: number, h: number, w: number, oh: number, ow: number,
  dy: Float32Array, argmax: Uint32Array, dx: Float32Array,
): void {
  const K = 'maxPool2dBackward';
  checkInt(K, 'n', n, 0);
  checkInt(K, 'c', c, 0);
  checkInt(K, 'h', h, 0);
  checkInt(K, 'w', w, 0);
  checkInt(K, 'oh', oh, 0);
  checkInt(K, 'ow', ow, 0);
  const yLen = elementCount(n, c, oh, ow);
  const xLen = elementCount(n, c, h, w);
  checkF32Len(K, 'dy', dy, yLen);
  checkU32(K, 'argmax', argmax);
  checkLen(K, 'argmax', argmax, yLen);
  checkF32Len(K, 'dx', dx, xLen);
  checkOutputDisjoint(K, 'dx', dx, xLen, 'dy', dy, yLen);
  if (xLen > 0) dx.fill(0, 0, xLen); // fill throws on a detached buffer, even for no elements
  if (yLen === 0) return;

  // dy bounds n, c, oh and ow; each index is read once, so the one checked is the one used.
  const inPlane = h * w;
  const outPlane = oh * ow;
  const planes = n * c;
  for (let p = 0; p < planes; p++) {
    const xOff = p * inPlane;
    const end = (p + 1) * outPlane;
    for (let q = p * outPlane; q < end; q++) {
      const at = argmax[q];
      if (at >= inPlane) throw argmaxError(K, q, at, inPlane);
      dx[xOff + at] += dy[q];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Batch normalization: x, y, dy, dx (n, c, s); channel j is x[i, j, k] for i < n, k < s;
// weight, bias, running statistics (c); saved (2c) = [mean..., invstd...].

/** y = batch-normalized x with the batch's statistics (double sums); saved and running statistics updated. */
export function batchNormTrain(
  n: number, c: number, s: number, momentum: number, eps: number,
  x: Float32Array, weight: Float32Array, bias: Float32Array,
  runningMean: Float32Array, runningVar: Float32Array, y: Float32Array, saved: Float32Array,
): void {
  const K = 'batchNormTrain';
  checkInt(K, 'n', n, 0);
  checkInt(K, 'c', c, 0);
  checkInt(K, 's', s, 0);
  checkFloat(K, 'momentum', momentum);
  checkFloat(K, 'eps', eps);
  const len = elementCount(n, c, s);
  checkF32Len(K, 'x', x, len);
  checkF32Len(K, 'weight', weight, c);
  checkF32Len(K, 'bias', bias, c);
  checkF32Len(K, 'runningMean', runningMean, c);
  checkF32Len(K, 'runningVar', runningVar, c);
  checkF32Len(K, 'y', y, len);
  checkF32Len(K, 'saved', saved, 2 * c);
  checkOutputDisjoint(K, 'y', y, len, 'x', x, len);
  checkOutputDisjoint(K, 'saved', saved, 2 * c, 'x', x, len);
  checkOutputDisjoint(K, 'saved', saved, 2 * c, 'y', y, len);
  // weight bounds c; with c > 0, x bounds n * s.
  const m = n * s;
  if (m === 0) return;

  const stride = c * s; // from one sample's channel j to the next's
  for (let j = 0; j < c; j++) {
    // Two passes in double: the mean, then the squared deviations from it.
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const start = i * stride + j * s;
      for (let k = start, end = start + s; k < end; k++) sum += x[k];
    }
    const mean = sum / m;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const start = i * stride + j * s;
      for (let k = start, end = start + s; k < end; k++) {
        const d = x[k] - mean;
        squares += d * d;
      }
    }
    const variance = squares / m;
    const invstd = 1 / Math.sqrt(variance + eps);
    const scale = invstd * weight[j];
    const shift = bias[j];
    for (let i = 0; i < n; i++) {
      const start = i * stride + j * s;
      for (let k = start, end = start + s; k < end; k++) y[k] = (x[k] - mean) * scale + shift;
    }
    saved[j] = mean;
    saved[c + j] = invstd;
    runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mean;
    runningVar[j] = (1 - momentum) * runningVar[j] + momentum * (m > 1 ? (variance * m) / (m - 1) : variance);
  }
}

/** y = x normalized with the running statistics, then scaled and shifted. */
export function batchNormInfer(
  n: number, c: number, s: number, eps: number,
  x: Float32Array, weight: Float32Array, bias: Float32Array,
  runningMean: Float32Array, runningVar: Float32Array, y: Float32Array,
): void {
  const K = 'batchNormInfer';
  checkInt(K, 'n', n, 0);
  checkInt(K, 'c', c, 0);
  checkInt(K, 's', s, 0);
  checkFloat(K, 'eps', eps);
  const len = elementCount(n, c, s);
  checkF32Len(K, 'x', x, len);
  checkF32Len(K, 'weight', weight, c);
  checkF32Len(K, 'bias', bias, c);
  checkF32Len(K, 'runningMean', runningMean, c);
  checkF32Len(K, 'runningVar', runningVar, c);
  checkF32Len(K, 'y', y, len);
  if (len === 0) return;

  const stride = c * s;
  for (let j = 0; j < c; j++) {
    const mean = runningMean[j];
    const scale = weight[j] / Math.sqrt(runningVar[j] + eps);
    const shift = bias[j];
    for (let i = 0; i < n; i++) {
      const start = i * stride + j * s;
      for (let k = start, end = start + s; k < end; k++) y[k] = (x[k] - mean) * scale + shift;
    }
  }
}

/** dx, dWeight, dBias of batchNormTrain from x, dy and the saved mean and invstd. */
export function batchNormBackward(
  n: number, c: number, s: number, x: Float32Array, dy: Float32Array, weight: Float32Array,
  saved: Float32Array, dx: Float32Array, dWeight: Float32Array, dBias: Float32Array, beta: number,
): void {
  const K = 'batchNormBackward';
  checkInt(K, 'n', n, 0);
  checkInt(K, 'c', c, 0);
  checkInt(K, 's', s, 0);
  const len = elementCount(n, c, s);
  checkF32Len(K, 'x', x, len);
  checkF32Len(K, 'dy', dy, len);
  checkF32Len(K, 'weight', weight, c);
  checkF32Len(K, 'saved', saved, 2 * c);
  checkF32Len(K, 'dx', dx, len);
  checkF32Len(K, 'dWeight', dWeight, c);
  checkF32Len(K, 'dBias', dBias, c);
  checkFloat(K, 'beta', beta);
  scaleBy(beta, dWeight, c);
  scaleBy(beta, dBias, c);
  const m = n * s;
  if (m === 0) return;

  const stride = c * s;
  for (let j = 0; j < c; j++) {
    const mean = saved[j];
    const invstd = saved[c + j];
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let i = 0; i < n; i++) {
      const start = i * stride + j * s;
      for (let k = start, end = start + s; k < end; k++) {
        sumDy += dy[k];
        sumDyXhat += dy[k] * (x[k] - mean) * invstd;
      }
    }
    dWeight[j] += sumDyXhat;
    dBias[j] += sumDy;
    const meanDy = sumDy / m;
    const meanDyXhat = sumDyXhat / m;
    const scale = weight[j] * invstd;
    // Each dy[k] is read before dx[k] is written: dx may be dy.
    for (let i = 0; i < n; i++) {
      const start = i * stride + j * s;
      for (let k = start, end = start + s; k < end; k++) {
        dx[k] = scale * (dy[k] - meanDy - (x[k] - mean) * invstd * meanDyXhat);
      }
    }
  }
}
