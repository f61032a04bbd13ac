/**
 * Augmentation: the `augment` kernel (native/augment.h defines it operation by operation) on both
 * backends, bit for bit; what its maps do to pixels (identity, integer shifts, quarter turns,
 * bilinear values within the input's range); the displacement fields' noise as documented; and
 * in training, `fit({ augment })`: it changes the trajectory, never evaluation or prediction,
 * resumes bit for bit, and `digitnet train --augment` runs end to end.
 */
import type { Backend } from '../lib/backend/contract';
import { getBackend } from '../lib/backend';
import { hash32 } from '../lib/core/random';
import { describeEachBackend, describeNativeVsTs } from './backends';
import { expectIdentical, randomF32, rng } from './reference';

/** Normalized Gaussian taps of radius ceil(3 sigma), as lib/train/augment.ts makes them. */
function gaussian(sigma: number): Float32Array {
  const radius = Math.ceil(3 * sigma);
  const taps = Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)));
  const sum = taps.reduce((a, b) => a + b, 0);
  return Float32Array.from(taps, (t) => t / sum);
}

const IDENTITY = [1, 0, 0, 1, 0, 0];

/** n random inverse maps: rotations up to ~0.5 rad, scales 0.8-1.2, shears, shifts up to `shift` pixels. */
function randomMaps(n: number, seed: number, shift = 3): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(6 * n);
  for (let i = 0; i < n; i++) {
    const theta = next() - 0.5, s = 0.8 + 0.4 * next(), k = 0.3 * (next() - 0.5);
    const c = Math.cos(theta) / s, sn = Math.sin(theta) / s;
    out.set([c, -sn + k, sn, c, shift * (2 * next() - 1), shift * (2 * next() - 1)], 6 * i);
  }
  return out;
}

function run(B: Backend, n: number, c: number, h: number, w: number, x: Float32Array, maps: Float32Array, key: number, alpha: number, blur: Float32Array): Float32Array {
  const y = new Float32Array(n * c * h * w).fill(7); // a value not written would show
  B.augment(n, c, h, w, x, y, maps, key, alpha, blur);
  return y;
}

/** Shapes (n, c, h, w) and field settings (alpha, blur) the parity tests cover. */
const SHAPES: [n: number, c: number, h: number, w: number][] = [[6, 1, 28, 28], [3, 3, 13, 17], [5, 1, 1, 1], [2, 2, 5, 1], [9, 1, 16, 16], [2, 3, 31, 7], [2, 1, 40, 45]];
const FIELDS: [title: string, alpha: number, blur: Float32Array][] = [
  ['affine only', 0, Float32Array.of(1)],
  ['elastic alpha 34, sigma 4 (25 taps)', 34, gaussian(4)],
  ['elastic alpha 3, sigma 1', 3, gaussian(1)],
  ['elastic alpha 2, unsmoothed noise (one tap)', 2, Float32Array.of(1)],
  ['elastic alpha -5, 41 uneven taps (longer than the image)', -5, randomF32(41, 3, 0, 0.1)],
];

describeNativeVsTs('augment: native and TypeScript give identical bits', (native, ts) => {
  const cases = SHAPES.flatMap((shape) => FIELDS.map(([title, alpha, blur]) => [`${shape.join('x')}, ${title}`, shape, alpha, blur] as const));
  test.each(cases)('%s, on 1 and 2 native threads', (_, [n, c, h, w], alpha, blur) => {
    const x = randomF32(n * c * h * w, n + h, 0, 1);
    const maps = randomMaps(n, h * w);
    const want = run(ts, n, c, h, w, x, maps, 12345, alpha, blur);
    const threads = native.getThreads();
    try {
      for (const t of [1, 2]) {
        native.setThreads(t);
        expectIdentical(run(native, n, c, h, w, x, maps, 12345, alpha, blur), want, `${t} thread(s)`);
      }
    } finally {
      native.setThreads(threads);
    }
  });

  test('a batch of 300 MNIST-sized images with Simard\'s field, on the pool', () => {
    const n = 300;
    const x = randomF32(n * 784, 5, 0, 1);
    const maps = randomMaps(n, 6);
    expectIdentical(run(native, n, 1, 28, 28, x, maps, 0xdeadbeef, 34, gaussian(4)), run(ts, n, 1, 28, 28, x, maps, 0xdeadbeef, 34, gaussian(4)));
  });

  test('non-finite taps (the definition\'s path) and non-finite maps give the same values', () => {
    const x = randomF32(2 * 49, 8, 0, 1);
    const maps = Float32Array.of(...IDENTITY, NaN, 0, 0, 1, Infinity, 0);
    for (const blur of [Float32Array.of(0.2, NaN, 0.2), Float32Array.of(Infinity, 1, 0), Float32Array.of(1, 2, 1e38, 1e38, 3)]) {
      expectIdentical(run(native, 2, 1, 7, 7, x, maps, 3, 1, blur), run(ts, 2, 1, 7, 7, x, maps, 3, 1, blur), `blur ${blur}`);
    }
  });
});

describeEachBackend('augment: what the maps do', (B) => {
  test('the identity map without a field returns the input exactly, every channel', () => {
    const x = randomF32(2 * 3 * 13 * 17, 1, -2, 2);
    const maps = Float32Array.of(...IDENTITY, ...IDENTITY);
    expectIdentical(run(B, 2, 3, 13, 17, x, maps, 1, 0, Float32Array.of(1)), x);
  });

  test('an integer translation shifts pixels exactly, zeros coming in', () => {
    const [h, w] = [9, 11];
    const x = randomF32(h * w, 2, 0.1, 1);
    // Output (px, py) samples (px + 2, py - 3): the picture moves 2 left and 3 down.
    const y = run(B, 1, 1, h, w, x, Float32Array.of(1, 0, 0, 1, 2, -3), 1, 0, Float32Array.of(1));
    for (let py = 0; py < h; py++) {
      for (let px = 0; px < w; px++) {
        const sx = px + 2, sy = py - 3;
        const want = sx < w && sy >= 0 ? x[sy * w + sx] : 0;
        expect(y[py * w + px]).toBe(want);
      }
    }
  });

  test('a quarter turn of a square image is its transpose flipped (odd and even sides)', () => {
    for (const side of [7, 8]) {
      const x = randomF32(side * side, side, 0, 1);
      // Source point (u, v) -> (-v, u) about the centre: y[py, px] = x[side - 1 - px, py] ... as the map says.
      const y = run(B, 1, 1, side, side, x, Float32Array.of(0, -1, 1, 0, 0, 0), 1, 0, Float32Array.of(1));
      for (let py = 0; py < side; py++) {
        for (let px = 0; px < side; px++) {
          // sx = -(py - c) + c = side - 1 - py, sy = px.
          expect(y[py * side + px]).toBe(x[px * side + (side - 1 - py)]);
        }
      }
      // The same turn from a rotation matrix of cos(pi/2) = 6e-17: equal within float rounding.
      const turned = run(B, 1, 1, side, side, x, Float32Array.of(Math.cos(Math.PI / 2), -1, 1, Math.cos(Math.PI / 2), 0, 0), 1, 0, Float32Array.of(1));
      for (let i = 0; i < y.length; i++) expect(Math.abs(turned[i] - y[i])).toBeLessThan(1e-6);
    }
  });

  test('bilinear values stay finite and within the input\'s range (and 0, from outside)', () => {
    const n = 20;
    const x = randomF32(n * 3 * 15 * 12, 4, 0.25, 0.75);
    const y = run(B, n, 3, 15, 12, x, randomMaps(n, 9, 6), 77, 34, gaussian(4));
    const bad = y.findIndex((v) => !(v >= 0 && v <= 0.75 * (1 + 2 ** -22)));
    expect(bad < 0 ? 'all in [0, 0.75]' : `y[${bad}] = ${y[bad]}`).toBe('all in [0, 0.75]');
    expect(y.filter((v) => v > 0.25 && v < 0.75).length).toBeGreaterThan(y.length / 2);
  });

  test('the fields are the documented noise: value p of image i, field d is hash32(key, 2 (i h w + p) + d) mapped to [-1, 1)', () => {
    // Channel 0 is the ramp x = px, channel 1 the ramp y = py: bilinear sampling of a ramp gives
    // the source coordinate back, so with the identity map, unsmoothed noise and a small alpha,
    // (y - x) / alpha is the noise itself, wherever the source point is inside.
    const [n, h, w, alpha, key] = [3, 6, 5, 0.25, 99];
    const x = new Float32Array(n * 2 * h * w);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < h * w; p++) {
        x[(2 * i) * h * w + p] = p % w;
        x[(2 * i + 1) * h * w + p] = Math.floor(p / w);
      }
    }
    const maps = Float32Array.of(...IDENTITY, ...IDENTITY, ...IDENTITY);
    const y = run(B, n, 2, h, w, x, maps, key, alpha, Float32Array.of(1));
    let checked = 0;
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < h * w; p++) {
        const noise = [0, 1].map((d) => (hash32(key, 2 * (i * h * w + p) + d) >>> 8) * 2 ** -23 - 1);
        const [px, py] = [p % w, Math.floor(p / w)];
        const [sx, sy] = [px + alpha * noise[0], py + alpha * noise[1]];
        if (sx < 0 || sx > w - 1 || sy < 0 || sy > h - 1) continue; // a neighbour outside: not a ramp there
        expect(y[(2 * i) * h * w + p]).toBeCloseTo(sx, 5);
        expect(y[(2 * i + 1) * h * w + p]).toBeCloseTo(sy, 5);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(n * h * w * 0.4);
  });

  test('the field depends on the key and the image, not on the batch around it', () => {
    const x = randomF32(4 * 100, 5, 0, 1);
    const maps = randomMaps(4, 5);
    const all = run(B, 4, 1, 10, 10, x, maps, 5, 10, gaussian(1));
    // Image 0 alone gives the same; the counters of image i depend on i, so image 2 alone does not.
    expectIdentical(run(B, 1, 1, 10, 10, x.subarray(0, 100), maps.subarray(0, 6), 5, 10, gaussian(1)), all.subarray(0, 100));
    expect(Array.from(run(B, 4, 1, 10, 10, x, maps, 6, 10, gaussian(1)))).not.toEqual(Array.from(all));
  });
});
