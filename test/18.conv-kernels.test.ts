/**
 * The convolution, max-pooling and batch-norm kernels of the Backend contract, on every backend
 * under test, against the float64 references in test/reference.ts: odd shapes, kernels 1 to 7 and
 * non-square, strides 1 and 2, no / 'same' / explicit / asymmetric padding, sizes that leave edges.
 * Convolution results are compared relative to the sum of |terms| of each output (float32 sums
 * lose a little of that per term); pooling is exact.
 */
import type { Backend } from '../lib/backend/contract';
import { describeEachBackend } from './backends';
import {
  type ConvGeometry, expectClose, expectSame, expectWithinTerms, randomF32, refBatchNormBackward, refBatchNormInfer,
  refBatchNormTrain, refConv2d, refConv2dBackwardData, refConv2dBackwardFilter, refMaxPool2d, refMaxPool2dBackward,
} from './reference';
import { thrown } from './thrown';

/** Worst-case error of a float32 sum of `terms` terms, relative to the sum of their magnitudes, with a factor 2 to spare. */
const sumTol = (terms: number): number => 2 ** -23 * (terms + 2);

/**
 * A geometry from its padding on all four sides: oh = floor((h + top + bottom - kh) / stride) + 1
 * (a negative bottom or right drops input rows or columns, as PyTorch's floor does).
 */
function geometry(
  n: number, c: number, [h, w]: [number, number], f: number, [kh, kw]: [number, number], stride: number,
  [padTop, padBottom]: [number, number], [padLeft, padRight]: [number, number],
): ConvGeometry {
  const oh = Math.floor((h + padTop + padBottom - kh) / stride) + 1;
  const ow = Math.floor((w + padLeft + padRight - kw) / stride) + 1;
  return { n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow };
}

/** PyTorch's padding='same' at stride 1: floor((k - 1) / 2) above and left, the rest below and right. */
const same = (k: number): [number, number] => [(k - 1) >> 1, k - 1 - ((k - 1) >> 1)];

const CONV_CASES: [string, ConvGeometry][] = [
  ['1x1, stride 1, no padding, c=3 f=5 n=3', geometry(3, 3, [7, 9], 5, [1, 1], 1, [0, 0], [0, 0])],
  ['1x1, stride 2 on 9x7 (edges left), c=17 f=1', geometry(1, 17, [9, 7], 1, [1, 1], 2, [0, 0], [0, 0])],
  ['3x3 valid, c=1 f=16 n=3', geometry(3, 1, [9, 7], 16, [3, 3], 1, [0, 0], [0, 0])],
  ["3x3 'same', c=3 f=5", geometry(2, 3, [9, 7], 5, [3, 3], 1, same(3), same(3))],
  ['3x3, stride 2, padding 1, c=17 f=16 n=3', geometry(3, 17, [9, 7], 16, [3, 3], 2, [1, 1], [1, 1])],
  ['3x3, stride 2 on 8x8 (last row and column unused)', geometry(1, 3, [8, 8], 5, [3, 3], 2, [0, -1], [0, -1])],
  ["5x5 'same', c=3 f=5", geometry(1, 3, [12, 11], 5, [5, 5], 1, same(5), same(5))],
  ['5x5, stride 2, padding 2, c=1 f=16 n=3', geometry(3, 1, [13, 10], 16, [5, 5], 2, [2, 2], [2, 1])],
  ['7x7, stride 2, padding 3, c=3 f=5', geometry(1, 3, [15, 14], 5, [7, 7], 2, [3, 3], [3, 2])],
  ['7x7 valid on 7x7 (one output), c=17 f=5', geometry(2, 17, [7, 7], 5, [7, 7], 1, [0, 0], [0, 0])],
  ['3x5, padding 1 and 2 (kh != kw)', geometry(2, 3, [9, 7], 5, [3, 5], 1, [1, 1], [2, 2])],
  ['5x2, stride 2, asymmetric padding', geometry(3, 3, [9, 7], 5, [5, 2], 2, [2, 0], [1, 1])],
  ['3x3, padding 2 above and 0 below, 0 left and 1 right', geometry(2, 3, [6, 5], 5, [3, 3], 1, [2, 0], [0, 1])],
  ['5x5 over a 3x3 input, padding 2', geometry(1, 3, [3, 3], 5, [5, 5], 1, [2, 2], [2, 2])],
  ['2x2, padding 3 (windows of padding only give the bias)', geometry(1, 3, [4, 4], 5, [2, 2], 1, [3, 3], [3, 3])],
  ['the reference net, first layer: 5x5, 24 filters on 1x28x28', geometry(2, 1, [28, 28], 24, [5, 5], 1, [0, 0], [0, 0])],
  ['the reference net, second layer: 3x3, 32 filters on 24x12x12', geometry(2, 24, [12, 12], 32, [3, 3], 1, [0, 0], [0, 0])],
  ['3x3 valid, c=2 f=5 n=70 (the filter gradient sums blocks of up to 32 images)', geometry(70, 2, [12, 12], 5, [3, 3], 1, [0, 0], [0, 0])],
  // Forward tiles with the filters as lanes (native AVX-512 and AVX2): output rows in runs of
  // pixels, a padded copy of the image; and a part vector of filters.
  ["3x3 'same', c=24 f=48 on 20x20", geometry(1, 24, [20, 20], 48, [3, 3], 1, same(3), same(3))],
  ['3x3 valid, c=20 f=40 on 9x9', geometry(2, 20, [9, 9], 40, [3, 3], 1, [0, 0], [0, 0])],
];

const sizes = (g: ConvGeometry) => ({
  x: g.n * g.c * g.h * g.w, weight: g.f * g.c * g.kh * g.kw, y: g.n * g.f * g.oh * g.ow,
});

/** The positional geometry arguments after n. */
const args = (g: ConvGeometry) =>
  [g.n, g.c, g.h, g.w, g.f, g.kh, g.kw, g.stride, g.padTop, g.padLeft, g.oh, g.ow] as const;

describeEachBackend('conv2d', (B) => {
  test.each(CONV_CASES)('%s: y matches the reference', (_, g) => {
    const { x: xLen, weight: wLen, y: yLen } = sizes(g);
    const x = randomF32(xLen, 1);
    const weight = randomF32(wLen, 2);
    const bias = randomF32(g.f, 3);
    const y = new Float32Array(yLen + 3).fill(NaN);
    B.conv2d(...args(g), x, weight, bias, y);
    expectWithinTerms(y.subarray(0, yLen), refConv2d(g, x, weight, bias), sumTol(g.c * g.kh * g.kw + 1), 'y');
    expectSame(y.subarray(yLen), [NaN, NaN, NaN], 'past y');
  });

  test.each(CONV_CASES)('%s: dx matches the reference', (_, g) => {
    const { x: xLen, weight: wLen, y: yLen } = sizes(g);
    const dy = randomF32(yLen, 4);
    const weight = randomF32(wLen, 5);
    const dx = new Float32Array(xLen + 3).fill(NaN);
    B.conv2dBackwardData(...args(g), dy, weight, dx);
    expectWithinTerms(dx.subarray(0, xLen), refConv2dBackwardData(g, dy, weight), sumTol(g.f * g.kh * g.kw), 'dx');
    expectSame(dx.subarray(xLen), [NaN, NaN, NaN], 'past dx');
  });

  test.each(CONV_CASES)('%s: dWeight and dBias match the reference, beta 0 over NaN and beta 1', (_, g) => {
    const { x: xLen, weight: wLen, y: yLen } = sizes(g);
    const x = randomF32(xLen, 6);
    const dy = randomF32(yLen, 7);
    const tol = sumTol(g.n * g.oh * g.ow + 1);
    for (const beta of [0, 1]) {
      const dWeight = beta === 0 ? new Float32Array(wLen).fill(NaN) : randomF32(wLen, 8);
      const dBias = beta === 0 ? new Float32Array(g.f).fill(NaN) : randomF32(g.f, 9);
      const want = refConv2dBackwardFilter(g, x, dy, dWeight, dBias, beta);
      B.conv2dBackwardFilter(...args(g), x, dy, dWeight, dBias, beta);
      expectWithinTerms(dWeight, want.dWeight, tol, `dWeight (beta ${beta})`);
      expectWithinTerms(dBias, want.dBias, tol, `dBias (beta ${beta})`);
    }
  });

  test('the filter gradient accumulated over two chunks of a batch (beta 0, then 1) equals one pass', () => {
    const g = geometry(5, 3, [9, 7], 4, [3, 3], 2, [1, 1], [1, 1]);
    const { x: xLen, weight: wLen, y: yLen } = sizes(g);
    const x = randomF32(xLen, 10);
    const dy = randomF32(yLen, 11);
    const whole = { dWeight: new Float32Array(wLen), dBias: new Float32Array(g.f) };
    B.conv2dBackwardFilter(...args(g), x, dy, whole.dWeight, whole.dBias, 0);
    const chunked = { dWeight: new Float32Array(wLen), dBias: new Float32Array(g.f) };
    const first = { ...g, n: 2 };
    const second = { ...g, n: 3 };
    B.conv2dBackwardFilter(...args(first), x, dy, chunked.dWeight, chunked.dBias, 0);
    B.conv2dBackwardFilter(...args(second), x.subarray(2 * xLen / 5), dy.subarray(2 * yLen / 5), chunked.dWeight, chunked.dBias, 1);
    expectClose(chunked.dWeight, whole.dWeight, 1e-5, 'dWeight');
    expectClose(chunked.dBias, whole.dBias, 1e-5, 'dBias');
  });

  test('no input channels (c = 0): y is the bias, dx is empty, dWeight empty and dBias the sums of dy', () => {
    const g = geometry(2, 0, [3, 3], 2, [3, 3], 1, [1, 1], [1, 1]);
    const y = new Float32Array(2 * 2 * 9).fill(NaN);
    B.conv2d(...args(g), new Float32Array(0), new Float32Array(0), Float32Array.from([1.5, -2]), y);
    expect(Array.from(y)).toEqual([...Array(9).fill(1.5), ...Array(9).fill(-2), ...Array(9).fill(1.5), ...Array(9).fill(-2)]);
    const dBias = new Float32Array(2).fill(NaN);
    B.conv2dBackwardFilter(...args(g), new Float32Array(0), new Float32Array(36).fill(0.5), new Float32Array(0), dBias, 0);
    expect(Array.from(dBias)).toEqual([9, 9]);
  });

  test('n = 0 writes no y or dx; the filter gradient keeps dWeight and dBias with beta 1 and zeroes them with beta 0', () => {
    const g = geometry(0, 3, [5, 5], 2, [3, 3], 1, [0, 0], [0, 0]);
    const y = Float32Array.from([7]);
    B.conv2d(...args(g), new Float32Array(0), randomF32(54, 1), randomF32(2, 2), y);
    B.conv2dBackwardData(...args(g), new Float32Array(0), randomF32(54, 1), y);
    expect(Array.from(y)).toEqual([7]);
    const dWeight = new Float32Array(54).fill(4);
    const dBias = Float32Array.from([NaN, 2]);
    B.conv2dBackwardFilter(...args(g), new Float32Array(0), new Float32Array(0), dWeight, dBias, 1);
    expectSame(dWeight, new Float32Array(54).fill(4));
    expectSame(dBias, [NaN, 2]);
    B.conv2dBackwardFilter(...args(g), new Float32Array(0), new Float32Array(0), dWeight, dBias, 0);
    expectSame(dWeight, new Float32Array(54));
    expectSame(dBias, [0, 0]);
  });

  test('no filters (f = 0) gives dx = 0', () => {
    const g = geometry(2, 3, [4, 4], 0, [3, 3], 1, [1, 1], [1, 1]);
    const dx = new Float32Array(96).fill(NaN);
    B.conv2dBackwardData(...args(g), new Float32Array(0), new Float32Array(0), dx);
    expectSame(dx, new Float32Array(96));
  });
});

// ---------------------------------------------------------------------------------------------

interface PoolCase {
  n: number; c: number; h: number; w: number; size: number; stride: number; oh: number; ow: number;
}

/** oh and ow as PyTorch's floor mode gives them (windows wholly inside), or the largest the contract allows (cut at the edge). */
function pool(n: number, c: number, h: number, w: number, size: number, stride: number, cut = false): PoolCase {
  const out = (d: number) => (cut ? Math.floor((d - 1) / stride) + 1 : Math.floor((d - size) / stride) + 1);
  return { n, c, h, w, size, stride, oh: out(h), ow: out(w) };
}

const POOL_CASES: [string, PoolCase][] = [
  ['2x2, stride 2 on 28x28 (the reference net)', pool(2, 3, 28, 28, 2, 2)],
  ['2x2, stride 2 on 9x7, the odd edge dropped', pool(3, 17, 9, 7, 2, 2)],
  ['2x2, stride 2 on 9x7, windows cut at the edge', pool(3, 17, 9, 7, 2, 2, true)],
  ['2x2, stride 2 on 6x70 (rows of 35 windows)', pool(2, 3, 6, 70, 2, 2)],
  ['2x2, stride 2 on 5x65, windows cut at the edge', pool(1, 2, 5, 65, 2, 2, true)],
  ['3x3, stride 2 (overlapping windows)', pool(2, 3, 9, 8, 3, 2)],
  ['3x3, stride 1 (overlapping windows)', pool(1, 3, 7, 6, 3, 1)],
  ['3x3, stride 1, windows cut at the edge', pool(1, 3, 5, 6, 3, 1, true)],
  ['2x2, stride 3 (gaps between windows)', pool(3, 1, 11, 8, 2, 3)],
  ['3x3, stride 3 on 10x10, windows cut at the edge', pool(1, 17, 10, 10, 3, 3, true)],
  ['1x1, stride 1 (a copy)', pool(1, 3, 5, 4, 1, 1)],
];

// The rule tests' planes repeated `times` side by side, so that rows hold 18 windows: the native
// kernel runs 2x2 windows sixteen at a time (AVX-512, the last ones of a row masked) or four at a
// time (SSE2, the rest of a row one at a time).

/** `times` copies of a rows x width plane side by side: rows x (width * times). */
function sideBySide(x: Float32Array, rows: number, width: number, times: number): Float32Array {
  const out = new Float32Array(rows * width * times);
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < times; t++) out.set(x.subarray(r * width, (r + 1) * width), (r * times + t) * width);
  }
  return out;
}

/** One plane's pooled row of outputs, repeated `times` (the inputs hold one row of windows). */
function sideBySideOutputs(outputs: number[], times: number): number[] {
  return Array.from({ length: times }, () => outputs).flat();
}

/** One plane's argmax positions (in a rows x width plane), as positions in `sideBySide`'s wider plane. */
function sideBySideArgmax(argmax: number[], rows: number, width: number, times: number): number[] {
  return Array.from({ length: times }, (_, t) => argmax.map((at) => Math.floor(at / width) * width * times + t * width + (at % width))).flat();
}

/** Runs maxPool2d; returns y and argmax, with guards past their ends that must stay. */
function runPool(B: Backend, p: PoolCase, x: Float32Array): { y: Float32Array; argmax: Uint32Array } {
  const len = p.n * p.c * p.oh * p.ow;
  const y = new Float32Array(len + 2).fill(-7);
  const argmax = new Uint32Array(len + 2).fill(77);
  B.maxPool2d(p.n, p.c, p.h, p.w, p.size, p.stride, p.oh, p.ow, x, y, argmax);
  expect(Array.from(y.subarray(len))).toEqual([-7, -7]);
  expect(Array.from(argmax.subarray(len))).toEqual([77, 77]);
  return { y: y.subarray(0, len), argmax: argmax.subarray(0, len) };
}

describeEachBackend('maxPool2d and maxPool2dBackward', (B) => {
  test.each(POOL_CASES)('%s: y and argmax match the reference', (_, p) => {
    const x = randomF32(p.n * p.c * p.h * p.w, p.h * p.w);
    const { y, argmax } = runPool(B, p, x);
    const want = refMaxPool2d(p.n, p.c, p.h, p.w, p.size, p.stride, p.oh, p.ow, x);
    expectSame(y, want.y, 'y');
    expectSame(argmax, want.argmax, 'argmax');
  });

  test.each(POOL_CASES)('%s: dx matches the reference (zeroed first, overlapping windows add)', (_, p) => {
    const x = randomF32(p.n * p.c * p.h * p.w, p.h + p.w);
    const { argmax } = runPool(B, p, x);
    const dy = randomF32(argmax.length, 3);
    const xLen = p.n * p.c * p.h * p.w;
    const dx = new Float32Array(xLen + 2).fill(NaN);
    B.maxPool2dBackward(p.n, p.c, p.h, p.w, p.oh, p.ow, dy, argmax, dx);
    expectClose(dx.subarray(0, xLen), refMaxPool2dBackward(p.n, p.c, p.h, p.w, p.oh, p.ow, dy, argmax), 1e-6, 'dx');
    expectSame(dx.subarray(xLen), [NaN, NaN], 'past dx');
  });

  test('ties go to the first position in the window, row by row', () => {
    const x = Float32Array.from([
      1, 5, 0, 3,
      5, 2, 3, 3,
    ]);
    const { y, argmax } = runPool(B, pool(1, 1, 2, 4 * 9, 2, 2), sideBySide(x, 2, 4, 9));
    expect(Array.from(y)).toEqual(sideBySideOutputs([5, 3], 9));
    expect(Array.from(argmax)).toEqual(sideBySideArgmax([1, 3], 2, 4, 9));
    const flat = runPool(B, pool(1, 1, 3, 3, 3, 1), new Float32Array(9).fill(-2));
    expect(Array.from(flat.argmax)).toEqual([0]);
  });

  test('a NaN wins over every number, the first NaN over later ones', () => {
    const x = Float32Array.from([
      9, NaN, 1, 2, Infinity, 0,
      NaN, 3, NaN, NaN, 4, NaN,
    ]);
    const { y, argmax } = runPool(B, pool(1, 1, 2, 6 * 6, 2, 2), sideBySide(x, 2, 6, 6));
    expectSame(y, sideBySideOutputs([NaN, NaN, NaN], 6));
    expect(Array.from(argmax)).toEqual(sideBySideArgmax([1, 8, 11], 2, 6, 6));
  });

  test('infinities compare as numbers: -Infinity everywhere keeps the first, +Infinity wins', () => {
    const x = Float32Array.from([
      -Infinity, -Infinity, 1, 3e38,
      -Infinity, -Infinity, Infinity, -0,
    ]);
    const { y, argmax } = runPool(B, pool(1, 1, 2, 4 * 9, 2, 2), sideBySide(x, 2, 4, 9));
    expect(Array.from(y)).toEqual(sideBySideOutputs([-Infinity, Infinity], 9));
    expect(Array.from(argmax)).toEqual(sideBySideArgmax([0, 6], 2, 4, 9));
  });

  test('an argmax value of h * w or more is a RangeError naming its position', () => {
    const argmax = Uint32Array.from([0, 3, 5, 1, 4, 2, 0, 6]);
    expect(thrown(() => B.maxPool2dBackward(2, 1, 2, 3, 2, 2, randomF32(8, 1), argmax, new Float32Array(12))))
      .toEqual({ name: 'RangeError', message: 'maxPool2dBackward: argmax[7] is 6, must be < h * w (6)' });
  });
});

// ---------------------------------------------------------------------------------------------

const BN_CASES: [string, number, number, number][] = [
  ['after a dense layer (s = 1)', 7, 5, 1],
  ['after a convolution (s = 5 x 6)', 3, 4, 30],
  ['one sample of 17 channels (s = 3 x 3)', 1, 17, 9],
  ['one value per channel (n * s = 1: the biased variance, 0, in the running variance)', 1, 3, 1],
];

/** Fresh inputs of a batch-norm case: running variance positive, weight away from 0. */
function bnInputs(n: number, c: number, s: number, seed: number) {
  return {
    x: randomF32(n * c * s, seed, -3, 5), weight: randomF32(c, seed + 1, 0.5, 2), bias: randomF32(c, seed + 2),
    runningMean: randomF32(c, seed + 3), runningVar: randomF32(c, seed + 4, 0.5, 2),
  };
}

describeEachBackend('batchNormTrain, batchNormInfer and batchNormBackward', (B) => {
  const momentum = 0.1;
  const eps = 1e-5;

  test.each(BN_CASES)('training, %s: y, saved and the running statistics match the reference', (_, n, c, s) => {
    const { x, weight, bias, runningMean, runningVar } = bnInputs(n, c, s, n + c + s);
    const y = new Float32Array(n * c * s);
    const saved = new Float32Array(2 * c).fill(NaN);
    const want = refBatchNormTrain(n, c, s, momentum, eps, x, weight, bias, runningMean, runningVar, saved);
    B.batchNormTrain(n, c, s, momentum, eps, x, weight, bias, runningMean, runningVar, y, saved);
    expectClose(y, want.y, 1e-5, 'y');
    expectClose(saved, want.saved, 1e-5, 'saved');
    expectClose(runningMean, want.runningMean, 1e-6, 'runningMean');
    expectClose(runningVar, want.runningVar, 1e-6, 'runningVar');
  });

  test("the running statistics follow PyTorch's rule: running = (1 - m) running + m batch, unbiased variance", () => {
    // One channel of n = 2 samples, s = 2: values 1, 2, 3, 4; mean 2.5, biased variance 1.25, unbiased 5/3.
    const runningMean = Float32Array.from([1]);
    const runningVar = Float32Array.from([2]);
    const saved = new Float32Array(2);
    const y = new Float32Array(4);
    B.batchNormTrain(2, 1, 2, 0.25, 0, Float32Array.from([1, 2, 3, 4]), Float32Array.from([1]), Float32Array.from([0]),
      runningMean, runningVar, y, saved);
    expectClose(runningMean, [0.75 * 1 + 0.25 * 2.5], 1e-7, 'runningMean');
    expectClose(runningVar, [0.75 * 2 + 0.25 * (5 / 3)], 1e-7, 'runningVar');
    expectClose(saved, [2.5, 1 / Math.sqrt(1.25)], 1e-7, 'saved');
    expectClose(y, [-1.5, -0.5, 0.5, 1.5].map((d) => d / Math.sqrt(1.25)), 1e-6, 'y');
  });

  test('a channel far from zero keeps its small variance (double sums, mean subtracted first)', () => {
    const n = 64;
    const x = randomF32(n, 5, 1000 - 0.01, 1000 + 0.01);
    const y = new Float32Array(n);
    const saved = new Float32Array(2);
    const rm = Float32Array.from([0]);
    const rv = Float32Array.from([1]);
    const want = refBatchNormTrain(n, 1, 1, momentum, 0, x, [1], [0], rm, rv, saved);
    B.batchNormTrain(n, 1, 1, momentum, 0, x, Float32Array.from([1]), Float32Array.from([0]), rm, rv, y, saved);
    expectClose(y, want.y, 1e-4, 'y');
    expectClose(rv, want.runningVar, 1e-6, 'runningVar');
  });

  test('n * s = 0 changes nothing: no running statistics, no saved', () => {
    const rm = Float32Array.from([0.5, 1]);
    const rv = Float32Array.from([2, 3]);
    const saved = Float32Array.from([7, 7, 7, 7]);
    for (const [n, s] of [[0, 4], [3, 0]]) {
      B.batchNormTrain(n, 2, s, momentum, eps, new Float32Array(0), randomF32(2, 1), randomF32(2, 2), rm, rv, new Float32Array(0), saved);
    }
    expect(Array.from(rm)).toEqual([0.5, 1]);
    expect(Array.from(rv)).toEqual([2, 3]);
    expect(Array.from(saved)).toEqual([7, 7, 7, 7]);
  });

  test.each(BN_CASES)('inference, %s: y matches the reference, out of place and in place', (_, n, c, s) => {
    const { x, weight, bias, runningMean, runningVar } = bnInputs(n, c, s, 2 * (n + c + s));
    const want = refBatchNormInfer(n, c, s, eps, x, weight, bias, runningMean, runningVar);
    const y = new Float32Array(n * c * s);
    B.batchNormInfer(n, c, s, eps, x, weight, bias, runningMean, runningVar, y);
    expectClose(y, want, 1e-6, 'y');
    B.batchNormInfer(n, c, s, eps, x, weight, bias, runningMean, runningVar, x);
    expectClose(x, want, 1e-6, 'y = x');
  });

  test.each(BN_CASES)('backward, %s: dx, dWeight and dBias match the reference, beta 0 over NaN and beta 1', (_, n, c, s) => {
    const { x, weight, bias, runningMean, runningVar } = bnInputs(n, c, s, 3 * (n + c + s));
    const saved = new Float32Array(2 * c);
    B.batchNormTrain(n, c, s, momentum, eps, x, weight, bias, runningMean, runningVar, new Float32Array(n * c * s), saved);
    const dy = randomF32(n * c * s, 4);
    for (const beta of [0, 1]) {
      const dWeight = beta === 0 ? new Float32Array(c).fill(NaN) : randomF32(c, 5);
      const dBias = beta === 0 ? new Float32Array(c).fill(NaN) : randomF32(c, 6);
      const want = refBatchNormBackward(n, c, s, x, dy, weight, saved, dWeight, dBias, beta);
      const dx = new Float32Array(n * c * s);
      B.batchNormBackward(n, c, s, x, dy, weight, saved, dx, dWeight, dBias, beta);
      expectClose(dx, want.dx, 1e-5, `dx (beta ${beta})`);
      expectClose(dWeight, want.dWeight, 1e-5, `dWeight (beta ${beta})`);
      expectClose(dBias, want.dBias, 1e-5, `dBias (beta ${beta})`);
    }
  });

  test('backward works in place (dx = dy)', () => {
    const [n, c, s] = [3, 4, 30];
    const { x, weight, bias, runningMean, runningVar } = bnInputs(n, c, s, 9);
    const saved = new Float32Array(2 * c);
    B.batchNormTrain(n, c, s, momentum, eps, x, weight, bias, runningMean, runningVar, new Float32Array(n * c * s), saved);
    const dy = randomF32(n * c * s, 10);
    const want = refBatchNormBackward(n, c, s, x, dy, weight, saved, new Float32Array(c), new Float32Array(c), 0);
    B.batchNormBackward(n, c, s, x, dy, weight, saved, dy, new Float32Array(c), new Float32Array(c), 0);
    expectClose(dy, want.dx, 1e-5, 'dx = dy');
  });
});
