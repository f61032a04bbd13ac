/**
 * Augmentation: the `augment` kernel (native/augment.h defines it operation by operation) on both
 * backends, bit for bit; what its maps do to pixels (identity, integer shifts, quarter turns,
 * bilinear values within the input's range); the displacement fields' noise as documented; and
 * in training, `fit({ augment })`: it changes the trajectory, never evaluation or prediction,
 * resumes bit for bit, and `digitnet train --augment` runs end to end.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getBackend } from '../lib/backend';
import type { Backend } from '../lib/backend/contract';
import { hash32 } from '../lib/core/random';
import { Network, type NetworkOptions } from '../lib/model/network';
import { AUGMENT_DEFAULTS, augmentImages, gaussianTaps, resolveAugment } from '../lib/train/augment';
import type { EpochRecord } from '../lib/train/types';
import { describeBackends, describeEachBackend, describeNativeVsTs } from './backends';
import { randomData } from './network-gradients';
import { expectIdentical, randomF32, rng } from './reference';
import { differences } from './weights';

const gaussian = gaussianTaps;

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

describe('augment options', () => {
  test('true is the MNIST defaults; an object replaces the fields it names; false and undefined are off', () => {
    expect(resolveAugment(true)).toEqual({ shift: 2, rotate: 12, scale: [0.9, 1.1], shear: 0.15, elastic: { alpha: 34, sigma: 4 } });
    expect(resolveAugment(true)).toEqual(AUGMENT_DEFAULTS);
    expect(resolveAugment({ rotate: 5, scale: 0.2, elastic: false })).toEqual({ shift: 2, rotate: 5, scale: [0.8, 1.2], shear: 0.15, elastic: false });
    expect(resolveAugment({ scale: [1, 1.3], elastic: { sigma: 3 } })).toEqual({ ...AUGMENT_DEFAULTS, scale: [1, 1.3], elastic: { alpha: 34, sigma: 3 } });
    expect(resolveAugment(false)).toBeUndefined();
    expect(resolveAugment(undefined)).toBeUndefined();
  });

  test('Gaussian taps: radius ceil(3 sigma), normalized, symmetric; sigma 0 is one tap', () => {
    const taps = gaussianTaps(4);
    expect(taps.length).toBe(25);
    expect(taps.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(taps[0]).toBe(taps[24]);
    expect(Array.from(gaussianTaps(0))).toEqual([1]);
  });

  const bad: [string, unknown, string, string][] = [
    ['a string', 'yes', 'TypeError', 'fit: augment must be true, false or an options object, got "yes"'],
    ['an unknown field', { rotation: 5 }, 'RangeError', "fit: augment has no option 'rotation' (options: shift, rotate, scale, shear, elastic)"],
    ['a negative shift', { shift: -1 }, 'RangeError', 'fit: augment.shift must be a number in [0, 1000000], got -1'],
    ['rotate beyond 180', { rotate: 200 }, 'RangeError', 'fit: augment.rotate must be a number in [0, 180], got 200'],
    ['shear NaN', { shear: NaN }, 'RangeError', 'fit: augment.shear must be a number in [0, 10], got NaN'],
    ['a scale range upside down', { scale: [1.2, 0.8] }, 'RangeError', 'fit: augment.scale must be [min, max] with 0 < min <= max <= 100, or a number in [0, 1), got [1.2,0.8]'],
    ['a relative scale of 1', { scale: 1 }, 'RangeError', 'fit: augment.scale as a number is the largest relative change, in [0, 1), got 1'],
    ['elastic true', { elastic: true }, 'TypeError', 'fit: augment.elastic must be false or { alpha, sigma }, got true'],
    ['an elastic field it lacks', { elastic: { alpha: 3, size: 2 } }, 'RangeError', "fit: augment.elastic has no option 'size' (options: alpha, sigma)"],
    ['sigma 40', { elastic: { sigma: 40 } }, 'RangeError', 'fit: augment.elastic.sigma must be a number in [0, 32], got 40'],
  ];
  test.each(bad)('%s is refused by fit, naming the field', async (_, augment, name, message) => {
    const net = Network.create({ input: [1, 6, 6], layers: [{ units: 3 }], backend: 'ts' });
    await expect(net.fit(randomData(8, [1, 6, 6], 3, 1), { epochs: 1, augment: augment as never })).rejects.toMatchObject({ name, message });
  });

  test('a custom backend without the augment kernel is refused before training', async () => {
    const { augment: _kernel, ...rest } = getBackend('ts');
    const net = Network.create({ input: [1, 6, 6], layers: [{ units: 3 }], backend: rest as Backend });
    await expect(net.fit(randomData(8, [1, 6, 6], 3, 1), { epochs: 1, augment: true }))
      .rejects.toThrow("fit: augment needs the backend's augment kernel, which this custom backend object lacks");
  });

  test('training on the calling thread (a custom backend object) augments as the worker does', async () => {
    const options: NetworkOptions = { input: [1, 8, 8], seed: 2, layers: [{ units: 6, activation: 'tanh' }, { units: 3 }] };
    const data = randomData(48, [1, 8, 8], 3, 4);
    const fitOptions = { epochs: 2, batchSize: 12, seed: 3, augment: true };
    const inWorker = Network.create({ ...options, backend: 'ts' });
    await inWorker.fit(data, fitOptions);
    const onThisThread = Network.create({ ...options, backend: { ...getBackend('ts') } });
    await onThisThread.fit(data, fitOptions);
    expect(differences(onThisThread.params, inWorker.params)).toEqual({ count: 0, first: -1 });
  });

  test('samples without an image shape are refused before training', async () => {
    const net = Network.create({ input: 12, layers: [{ units: 3 }], backend: 'ts' });
    const before = net.params.slice();
    await expect(net.fit(randomData(8, [12], 3, 1), { epochs: 1, augment: true })).rejects.toThrow(
      "fit: augment needs image-shaped samples ([channels, height, width]); the network takes [12] and the dataset's samples are [12]",
    );
    expect(differences(net.params, before).count).toBe(0);
  });
});

describeNativeVsTs('augmentImages: the same augmented digits on both backends', (native, ts) => {
  test('defaults, a seed: identical bits; another seed: other images', () => {
    const x = randomF32(16 * 784, 3, 0, 1);
    const a = augmentImages(x, 16, [1, 28, 28], { backend: native, seed: 5 });
    expectIdentical(a, augmentImages(x, 16, [1, 28, 28], { backend: ts, seed: 5 }));
    expect(differences(a, augmentImages(x, 16, [1, 28, 28], { backend: native, seed: 6 })).count).toBeGreaterThan(1000);
    expect(differences(augmentImages(x, 16, [1, 28, 28], { backend: ts, seed: 5, augment: { elastic: false } }), a).count).toBeGreaterThan(1000);
  });
});

describeBackends('fit with augment on the %s backend', (backend) => {
  const options: NetworkOptions = {
    input: [1, 10, 10],
    seed: 3,
    backend,
    layers: [
      { type: 'conv2d', filters: 3, kernel: 3, activation: 'relu' },
      { type: 'maxpool2d', size: 2 },
      { type: 'dropout', rate: 0.2 },
      { units: 3 },
    ],
  };
  const data = randomData(96, [1, 10, 10], 3, 8);
  const validation = randomData(40, [1, 10, 10], 3, 9);
  const fitOptions = { batchSize: 16, seed: 7, epochs: 2 };

  test('changes the training trajectory, reports its time, and leaves validation, evaluate and predict unaugmented', async () => {
    const plain = Network.create(options);
    const plainHistory = await plain.fit(data, { ...fitOptions, validation });
    const augmented = Network.create(options);
    const history = await augmented.fit(data, { ...fitOptions, validation, augment: { shift: 1, rotate: 20, elastic: { alpha: 8, sigma: 2 } } });
    expect(differences(augmented.params, plain.params).count).toBeGreaterThan(augmented.params.length / 2);
    expect(history.epochs[0].loss).not.toBe(plainHistory.epochs[0].loss);
    for (const record of history.epochs) expect(record.augmentSeconds).toBeGreaterThanOrEqual(0);
    expect(history.epochs[0].augmentSeconds!).toBeLessThanOrEqual(history.epochs[0].seconds);
    expect(plainHistory.epochs.every((record: EpochRecord) => record.augmentSeconds === undefined)).toBe(true);
    // Validation in fit saw the images as they are: evaluate (which never augments) agrees exactly.
    const last = history.epochs[history.epochs.length - 1];
    const evaluation = augmented.evaluate(validation);
    expect([evaluation.loss, evaluation.accuracy]).toEqual([last.valLoss, last.valAccuracy]);
    // And a copy of the weights, never trained with augment, evaluates and predicts the same.
    const copy = Network.create(options);
    copy.assign(new Map(Object.entries(augmented.tensors())));
    expect(copy.evaluate(validation)).toEqual(evaluation);
    const inputs = validation.inputs as Float32Array;
    expect(Array.from(copy.predict(inputs, 40).probabilities)).toEqual(Array.from(augmented.predict(inputs, 40).probabilities));
  });

  test('a resumed run augments as an uninterrupted one: the same weights, bit for bit; a changed setting is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'digitnet-augment-'));
    try {
      const augment = { rotate: 15, elastic: { alpha: 10, sigma: 1.5 } };
      const straight = Network.create(options);
      await straight.fit(data, { ...fitOptions, epochs: 3, augment });
      const first = Network.create(options);
      await first.fit(data, { ...fitOptions, epochs: 2, augment, checkpoint: join(dir, 'ckpt.safetensors') });
      const resumed = Network.create({ ...options, seed: 99 });
      await resumed.fit(data, { ...fitOptions, epochs: 3, augment, resume: join(dir, 'ckpt.safetensors') });
      expect(differences(resumed.params, straight.params)).toEqual({ count: 0, first: -1 });

      const other = Network.create(options);
      await expect(other.fit(data, { ...fitOptions, epochs: 3, augment: { ...augment, rotate: 10 }, resume: join(dir, 'ckpt.safetensors') }))
        .rejects.toThrow(/cannot resume: the checkpoint was trained with augment \{.*"rotate":15.*\}, this fit has \{.*"rotate":10.*\}/);
      await expect(other.fit(data, { ...fitOptions, epochs: 3, resume: join(dir, 'ckpt.safetensors') }))
        .rejects.toThrow(/cannot resume: the checkpoint was trained with augment \{.*\}, this fit has unset/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('digitnet train --augment', () => {
  const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
  const digitnet = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DIGITNET_DEBUG: '' } });

  test('trains on augmented MNIST and reports the augmentation\'s time per epoch and in all', () => {
    const run = digitnet('train', '--augment', '--limit', '2000', '--epochs', '2', '--layers', '32', '--json');
    expect(run.stderr).toMatch(/augmenting the training images/);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/epoch 1\/2: loss .*, \d+\.\d\d s \(augment \d+\.\d\d s\)/);
    const result = JSON.parse(run.stdout);
    expect(result.augment).toEqual({ shift: 2, rotate: 12, scale: [0.9, 1.1], shear: 0.15, elastic: { alpha: 34, sigma: 4 } });
    expect(result.history[1].augmentSeconds).toBeGreaterThan(0);
    expect(result.augmentSeconds).toBeCloseTo(result.history[0].augmentSeconds + result.history[1].augmentSeconds, 9);
    expect(result.testAccuracy).toBeGreaterThan(0.6);
  });

  test('--help describes it', () => {
    const run = digitnet('train', '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/--augment +augment the training images, drawn afresh every step from the seed: the\n +preset's augmentation \(robust has its own\), else random shift \(2 px\),\n +rotation \(12 degrees\)/);
  });
});
