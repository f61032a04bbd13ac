/**
 * The TypeScript backend's augmentation kernel (lib/backend/contract.ts `augment`; native/augment.h
 * defines it operation by operation). It gives the native kernel's bits: every value is a float
 * (Math.fround after each operation; a double sum or product of two floats rounds to the float
 * result, since double has more than twice float's precision), the operations come in the same
 * order, and each blur sum adds its taps in ascending order over the pixels inside the image.
 */
import { checkF32, checkF32Len, checkFiniteFloat, checkInt, checkOutputDisjoint, elementCount } from './check';
import { hashAt, streamSalt } from '../core/random';

const f = Math.fround;

/** Per-call scratch (grown, never shrunk): the row pass and the two fields of one image. */
let scratch = new Float32Array(0);

export function augment(
  n: number, c: number, h: number, w: number, x: Float32Array, y: Float32Array, transforms: Float32Array,
  key: number, alpha: number, blur: Float32Array,
): void {
  const K = 'augment';
  checkInt(K, 'n', n, 0);
  checkInt(K, 'c', c, 0);
  checkInt(K, 'h', h, 0);
  checkInt(K, 'w', w, 0);
  const values = elementCount(n, c, h, w);
  checkF32Len(K, 'x', x, values);
  checkF32Len(K, 'y', y, values);
  checkF32Len(K, 'transforms', transforms, 6 * n);
  checkInt(K, 'key', key, 0, 0xffffffff);
  checkFiniteFloat(K, 'alpha', alpha);
  checkF32(K, 'blur', blur);
  if (blur.length % 2 === 0) throw new RangeError(`${K}: blur must have an odd number of elements (a centre tap), got ${blur.length}`);
  checkOutputDisjoint(K, 'y', y, values, 'x', x, values);
  checkOutputDisjoint(K, 'y', y, values, 'transforms', transforms, 6 * n);
  checkOutputDisjoint(K, 'y', y, values, 'blur', blur, blur.length);
  if (values === 0) return;

  const plane = h * w;
  const a = f(alpha);
  const fields = a !== 0;
  if (fields && scratch.length < 3 * plane) scratch = new Float32Array(3 * plane);
  const tmp = scratch.subarray(0, plane);
  const fx = scratch.subarray(plane, 2 * plane);
  const fy = scratch.subarray(2 * plane, 3 * plane);
  const salt = streamSalt(key);
  for (let i = 0; i < n; i++) {
    if (fields) {
      field(salt, 2 * i * plane, h, w, blur, tmp, fx);
      field(salt, 2 * i * plane + 1, h, w, blur, tmp, fy);
    }
    sample(c, h, w, x, y, i * c * plane, transforms, 6 * i, a, fields ? fx : null, fy);
  }
}

/**
 * One displacement field: noise value p (p = py * w + px) has counter `first + 2p`; smoothed along
 * rows into tmp, then along columns into out, each sum over the taps whose pixel is inside. The
 * loops run tap by tap over a row (each pixel's sum still adds its taps in ascending order), and a
 * Float32Array store rounds each sum of two floats as Math.fround would.
 */
function field(salt: number, first: number, h: number, w: number, blur: Float32Array, tmp: Float32Array, out: Float32Array): void {
  const taps = blur.length;
  const r = (taps - 1) / 2;
  // out holds the raw noise first (read by the row pass only).
  for (let p = 0; p < h * w; p++) out[p] = (hashAt(salt, first + 2 * p) >>> 8) * 2 ** -23 - 1;
  tmp.fill(0, 0, h * w);
  for (let py = 0; py < h; py++) {
    const row = py * w;
    for (let k = Math.max(0, r - w + 1); k < Math.min(taps, r + w); k++) {
      // Pixel px reads px + k - r, inside for px in [r - k, w + r - k).
      const b = blur[k];
      const from = row + k - r;
      const pxEnd = Math.min(w, w + r - k);
      for (let px = Math.max(0, r - k); px < pxEnd; px++) tmp[row + px] += f(b * out[from + px]);
    }
  }
  out.fill(0, 0, h * w);
  for (let py = 0; py < h; py++) {
    const row = py * w;
    const kEnd = Math.min(taps, r - py + h);
    for (let k = Math.max(0, r - py); k < kEnd; k++) {
      const b = blur[k];
      const from = (py + k - r) * w;
      for (let px = 0; px < w; px++) out[row + px] += f(b * tmp[from + px]);
    }
  }
}

/** Image i (at element `at` of x and y) resampled through its map (transforms[t .. t + 6)) and fields (null: none). */
function sample(
  c: number, h: number, w: number, x: Float32Array, y: Float32Array, at: number, transforms: Float32Array, t: number,
  alpha: number, fx: Float32Array | null, fy: Float32Array,
): void {
  const plane = h * w;
  const t0 = transforms[t], t1 = transforms[t + 1], t2 = transforms[t + 2];
  const t3 = transforms[t + 3], t4 = transforms[t + 4], t5 = transforms[t + 5];
  const cx = f(f(w - 1) * 0.5), cy = f(f(h - 1) * 0.5);
  const fw = f(w), fh = f(h);
  for (let py = 0; py < h; py++) {
    const v = f(f(py) - cy);
    const t1v = f(t1 * v), t3v = f(t3 * v);
    for (let px = 0; px < w; px++) {
      const p = py * w + px;
      const u = f(f(px) - cx);
      let sx = f(f(f(f(t0 * u) + t1v) + cx) + t4);
      let sy = f(f(f(f(t2 * u) + t3v) + cy) + t5);
      if (fx !== null) {
        sx = f(sx + f(alpha * fx[p]));
        sy = f(sy + f(alpha * fy[p]));
      }
      if (!(sx > -1 && sx < fw && sy > -1 && sy < fh)) {
        for (let j = 0; j < c; j++) y[at + j * plane + p] = 0;
        continue;
      }
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const ax = f(sx - x0), ay = f(sy - y0);
      const bx = f(1 - ax), by = f(1 - ay);
      const left = x0 >= 0 && x0 < w, right = x0 + 1 >= 0 && x0 + 1 < w;
      const upperIn = y0 >= 0 && y0 < h, lowerIn = y0 + 1 >= 0 && y0 + 1 < h;
      for (let j = 0; j < c; j++) {
        const img = at + j * plane;
        const p00 = upperIn && left ? x[img + y0 * w + x0] : 0;
        const p01 = upperIn && right ? x[img + y0 * w + x0 + 1] : 0;
        const p10 = lowerIn && left ? x[img + (y0 + 1) * w + x0] : 0;
        const p11 = lowerIn && right ? x[img + (y0 + 1) * w + x0 + 1] : 0;
        const upper = f(f(bx * p00) + f(ax * p01));
        const lower = f(f(bx * p10) + f(ax * p11));
        y[img + p] = f(by * upper) + f(ay * lower); // the store rounds the sum of two floats
      }
    }
  }
}
