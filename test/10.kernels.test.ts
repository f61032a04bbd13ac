/**
 * Every kernel of the Backend contract (lib/backend/contract.ts), on every backend under test, against the
 * float64 reference in test/reference.ts, on odd shapes that cross the block and tile edges.
 */
import { ACTIVATIONS, type ActivationName, type Backend } from '../lib/backend/contract';
import { describeEachBackend } from './backends';
import { hash32 } from '../lib/core/random';
import {
  expectClose, expectIdentical, expectSame, randomF32, randomU16, randomU8, refActivation, refActivationGrad, refAddBias, refAdamStep,
  refBiasGrad, refDropout, refGatherRows, refGemm, refMomentumStep, refMultiply, refSgdStep, refSoftmax,
  refSoftmaxCrossEntropy,
} from './reference';

type Shape = [m: number, n: number, k: number];

/** Odd sizes around the tile (4), row-block (64), depth-block (256) and column-block (512) edges. */
const GEMM_SHAPES: Shape[] = [
  [1, 1, 1], [2, 7, 17], [7, 2, 33], [17, 33, 7], [33, 65, 2], [65, 17, 130], [130, 33, 65],
  [7, 257, 17], [1, 130, 257], [257, 1, 33], [3, 513, 5], [66, 520, 260],
];
const TRANSPOSES: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

/** Float32 accumulation over k terms: tolerance grows with k, relative to the result's magnitude. */
const gemmTol = (k: number): number => 1e-5 * (k + 1);

interface GemmCase {
  transA: boolean; transB: boolean; m: number; n: number; k: number; alpha: number; beta: number;
  padA?: number; padB?: number; padC?: number; cFill?: number;
}

/** Runs one gemm on random data and compares all of C (padding included) with the reference. */
function checkGemm(B: Backend, t: GemmCase, seed = 1): void {
  const { transA, transB, m, n, k, alpha, beta } = t;
  const lda = Math.max(1, transA ? m : k) + (t.padA ?? 0);
  const ldb = Math.max(1, transB ? k : n) + (t.padB ?? 0);
  const ldc = Math.max(1, n) + (t.padC ?? 0);
  const a = randomF32((transA ? k : m) * lda, seed);
  const b = randomF32((transB ? n : k) * ldb, seed + 1);
  const c = t.cFill === undefined ? randomF32(m * ldc, seed + 2) : new Float32Array(m * ldc).fill(t.cFill);
  const want = refGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  B.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  expectClose(c, want, gemmTol(k), `gemm ${JSON.stringify(t)}`);
}

describeEachBackend('gemm', (B) => {
  describe.each(TRANSPOSES)('transA=%s transB=%s', (transA, transB) => {
    test.each(GEMM_SHAPES)('C = op(A) op(B) for m=%i n=%i k=%i', (m, n, k) => {
      checkGemm(B, { transA, transB, m, n, k, alpha: 1, beta: 0 });
    });

    test.each([
      [1, 1], [0.5, -2], [-1.5, 0.25], [2, 1],
    ])('alpha=%f beta=%f scale the product and accumulate into C', (alpha, beta) => {
      checkGemm(B, { transA, transB, m: 17, n: 33, k: 65, alpha, beta });
    });

    test('beta = 0 overwrites a NaN-filled C', () => {
      checkGemm(B, { transA, transB, m: 33, n: 17, k: 7, alpha: 1.5, beta: 0, cFill: NaN });
    });

    test('leading dimensions larger than the rows leave the padding untouched', () => {
      checkGemm(B, { transA, transB, m: 17, n: 65, k: 33, alpha: 0.75, beta: 0.5, padA: 3, padB: 5, padC: 2 });
      checkGemm(B, { transA, transB, m: 66, n: 7, k: 257, alpha: 1, beta: 0, padA: 1, padB: 11, padC: 7 });
    });
  });

  test('k = 0 gives C = beta * C for every transpose', () => {
    for (const [transA, transB] of TRANSPOSES) checkGemm(B, { transA, transB, m: 7, n: 5, k: 0, alpha: 1, beta: 0.5 });
  });

  test('k = 0 with beta = 0 zeroes a NaN-filled C', () => {
    const c = new Float32Array(6).fill(NaN);
    B.gemm(false, false, 2, 3, 0, 1, new Float32Array(0), 1, new Float32Array(0), 3, 0, c, 3);
    expectSame(c, new Float32Array(6));
  });

  test('m = 0 or n = 0 is a no-op on empty buffers', () => {
    B.gemm(false, false, 0, 4, 3, 1, new Float32Array(0), 3, new Float32Array(12), 4, 0, new Float32Array(0), 4);
    const c = randomF32(0, 1);
    B.gemm(true, true, 3, 0, 2, 1, new Float32Array(6), 3, new Float32Array(0), 2, 0, c, 1);
  });

  test('alpha = 0 gives C = beta * C', () => {
    checkGemm(B, { transA: false, transB: true, m: 9, n: 10, k: 11, alpha: 0, beta: -0.5 });
  });

  test('the network shapes: 256x128x784 forward and its two backward products', () => {
    checkGemm(B, { transA: false, transB: true, m: 64, n: 128, k: 784, alpha: 1, beta: 0 }, 11);
    checkGemm(B, { transA: true, transB: false, m: 128, n: 784, k: 64, alpha: 1, beta: 0 }, 12);
    checkGemm(B, { transA: false, transB: false, m: 64, n: 784, k: 128, alpha: 1, beta: 0 }, 13);
  });

  test('every m and every k from 1 to 9 (the remainders of the 4 x 4 tile) is right', () => {
    for (const [transA, transB] of TRANSPOSES) {
      for (let m = 1; m <= 9; m++) checkGemm(B, { transA, transB, m, n: 5, k: 6, alpha: 1, beta: 0 }, 100 + m);
      for (let k = 1; k <= 9; k++) checkGemm(B, { transA, transB, m: 5, n: 3, k, alpha: 1, beta: 1 }, 200 + k);
    }
  });
});

const ROW_SHAPES: [rows: number, cols: number][] = [[1, 1], [2, 7], [7, 17], [33, 10], [65, 130], [257, 33], [3, 257]];

describeEachBackend('addBias and biasGrad', (B) => {
  test.each(ROW_SHAPES)('addBias adds the bias to every row (%i x %i)', (rows, cols) => {
    const x = randomF32(rows * cols + 3, rows);
    const bias = randomF32(cols, cols + 1);
    const want = refAddBias(rows, cols, x, bias);
    B.addBias(rows, cols, x, bias);
    expectClose(x, want, 1e-6, 'addBias');
  });

  test.each(ROW_SHAPES)('biasGrad with beta = 0 overwrites db with the column sums of dy (%i x %i)', (rows, cols) => {
    const dy = randomF32(rows * cols, rows + 7);
    const db = new Float32Array(cols).fill(NaN);
    B.biasGrad(rows, cols, dy, db, 0);
    expectClose(db, refBiasGrad(rows, cols, dy, db, 0), 1e-6 * (rows + 1), 'biasGrad');
  });

  test.each(ROW_SHAPES)('biasGrad with beta = 1 adds the column sums to db (%i x %i)', (rows, cols) => {
    const dy = randomF32(rows * cols, rows + 8);
    const db = randomF32(cols, cols + 9);
    const want = refBiasGrad(rows, cols, dy, db, 1);
    B.biasGrad(rows, cols, dy, db, 1);
    expectClose(db, want, 1e-6 * (rows + 1), 'biasGrad');
  });

  test('biasGrad accumulated over two chunks equals one pass over the whole batch', () => {
    const dy = randomF32(40 * 9, 3);
    const whole = new Float32Array(9);
    const chunked = new Float32Array(9);
    B.biasGrad(40, 9, dy, whole, 0);
    B.biasGrad(25, 9, dy, chunked, 0);
    B.biasGrad(15, 9, dy.subarray(25 * 9), chunked, 1);
    expectClose(chunked, whole, 1e-6, 'chunked');
  });

  test('biasGrad with zero rows and beta = 0 writes zeros', () => {
    const db = new Float32Array(4).fill(7);
    B.biasGrad(0, 4, new Float32Array(0), db, 0);
    expectSame(db, new Float32Array(4));
  });

  test('biasGrad leaves db past cols untouched', () => {
    const db = new Float32Array(5).fill(3);
    B.biasGrad(2, 3, randomF32(6, 1), db, 0);
    expect(Array.from(db.subarray(3))).toEqual([3, 3]);
  });
});

const SIZES = [1, 2, 7, 17, 33, 65, 130, 257];
const ACTIVATION_CASES: [ActivationName, number, number][] = [];
for (const kind of ACTIVATIONS) {
  ACTIVATION_CASES.push([kind, 0.01, 1], [kind, 0.2, 0.5], [kind, 0.01, 2.5]);
}

describeEachBackend('activation and activationGrad', (B) => {
  test.each(ACTIVATION_CASES)('%s with slope %f and factor %f matches the reference', (kind, slope, factor) => {
    for (const n of SIZES) {
      const x = randomF32(n, n, -4, 4);
      const y = new Float32Array(n);
      B.activation(kind, n, x, y, slope, factor);
      expectClose(y, refActivation(kind, n, x, slope, factor), 2e-6, `${kind} n=${n}`);
    }
  });

  test.each(ACTIVATION_CASES)('%s gradient with slope %f and factor %f matches the reference', (kind, slope, factor) => {
    for (const n of SIZES) {
      const y = new Float32Array(n);
      B.activation(kind, n, randomF32(n, n, -4, 4), y, slope, factor);
      const dy = randomF32(n, n + 1);
      const dx = new Float32Array(n);
      B.activationGrad(kind, n, y, dy, dx, slope, factor);
      expectClose(dx, refActivationGrad(kind, n, y, dy, slope, factor), 2e-6, `${kind}' n=${n}`);
    }
  });

  test.each(ACTIVATIONS.map((k) => [k]))('%s works in place (y = x)', (kind) => {
    const x = randomF32(65, 3, -3, 3);
    const want = refActivation(kind, 65, x, 0.1, 1.5);
    B.activation(kind, 65, x, x, 0.1, 1.5);
    expectClose(x, want, 2e-6, kind);
  });

  test.each(ACTIVATIONS.map((k) => [k]))('%s gradient works in place (dx = dy)', (kind) => {
    const y = new Float32Array(65);
    B.activation(kind, 65, randomF32(65, 4, -3, 3), y, 0.1, 1.5);
    const dy = randomF32(65, 5);
    const want = refActivationGrad(kind, 65, y, dy, 0.1, 1.5);
    B.activationGrad(kind, 65, y, dy, dy, 0.1, 1.5);
    expectClose(dy, want, 2e-6, `${kind}'`);
  });

  test('leaky-relu is x for x >= 0 and slope * x below, after the factor', () => {
    const x = Float32Array.from([-2, -0.5, 0, 0.5, 2]);
    const y = new Float32Array(5);
    B.activation('leaky-relu', 5, x, y, 0.01, 2);
    expect(Array.from(y)).toEqual(Array.from(Float32Array.from([-0.04, -0.01, 0, 1, 4])));
  });

  test('leaky-relu gradient is factor above zero and factor * slope at or below', () => {
    const y = Float32Array.from([-1, 0, 1]);
    const dx = new Float32Array(3);
    B.activationGrad('leaky-relu', 3, y, Float32Array.from([1, 1, 1]), dx, 0.01, 2);
    expect(Array.from(dx)).toEqual(Array.from(Float32Array.from([0.02, 0.02, 2])));
  });

  test('sigmoid and tanh saturate without NaN for large inputs', () => {
    const x = Float32Array.from([-1e4, -100, 100, 1e4]);
    for (const kind of ['sigmoid', 'tanh'] as const) {
      const y = new Float32Array(4);
      B.activation(kind, 4, x, y, 0, 1);
      expectClose(y, refActivation(kind, 4, x, 0, 1), 1e-6, kind);
    }
  });

  test('only the first n elements are written', () => {
    const y = new Float32Array(5).fill(9);
    B.activation('tanh', 3, randomF32(5, 1), y, 0, 1);
    expect(Array.from(y.subarray(3))).toEqual([9, 9]);
  });
});

describeEachBackend('softmax and softmaxCrossEntropy', (B) => {
  test.each(ROW_SHAPES)('softmax matches the reference (%i x %i)', (rows, cols) => {
    const logits = randomF32(rows * cols, rows * 31 + cols, -8, 8);
    const probs = new Float32Array(rows * cols);
    B.softmax(rows, cols, logits, probs);
    expectClose(probs, refSoftmax(rows, cols, logits), 1e-6, 'softmax');
  });

  test('softmax works in place (probs = logits)', () => {
    const logits = randomF32(7 * 10, 2, -5, 5);
    const want = refSoftmax(7, 10, logits);
    B.softmax(7, 10, logits, logits);
    expectClose(logits, want, 1e-6, 'softmax in place');
  });

  test('softmax of huge logits stays finite and sums to 1', () => {
    const logits = Float32Array.from([1e30, -1e30, 0, 3e38, 3e38, -3e38]);
    const probs = new Float32Array(6);
    B.softmax(2, 3, logits, probs);
    expectClose(probs, [1, 0, 0, 0.5, 0.5, 0], 1e-6, 'softmax huge');
  });

  test.each([
    [1, 10, 1, 'u8'], [7, 10, 1, 'u8'], [33, 10, 1 / 33, 'u8'], [65, 17, 0.5, 'u8'], [2, 257, 1, 'u8'], [130, 2, 1, 'u8'],
    [1, 300, 1, 'u16'], [7, 300, 1, 'u16'], [33, 300, 1 / 33, 'u16'], [65, 257, 0.5, 'u16'], [3, 10, 1, 'u16'],
  ] as const)('softmaxCrossEntropy matches the reference (%i x %i, scale %f, %s labels)', (rows, cols, scale, kind) => {
    const logits = randomF32(rows * cols, rows + cols, -6, 6);
    const labels = kind === 'u8' ? randomU8(rows, rows, cols) : randomU16(rows, rows, cols);
    if (kind === 'u16') labels[0] = cols - 1; // the largest class, past a byte's range when cols > 256
    const probs = new Float32Array(rows * cols);
    const dlogits = new Float32Array(rows * cols);
    const want = refSoftmaxCrossEntropy(rows, cols, logits, labels, scale);
    const loss = B.softmaxCrossEntropy(rows, cols, logits, labels, probs, dlogits, scale);
    expect(Math.abs(loss - want.loss)).toBeLessThanOrEqual(1e-5 * (1 + want.loss));
    expectClose(probs, want.probs, 1e-6, 'probs');
    expectClose(dlogits, want.dlogits, 1e-6, 'dlogits');
  });

  test('softmaxCrossEntropy stays finite for extreme logits and confident wrong answers', () => {
    const logits = Float32Array.from([1000, -1000, 0, -100, 100, 5, 88, 89, -200]);
    const labels = Uint8Array.from([1, 0, 2]);
    const probs = new Float32Array(9);
    const dlogits = new Float32Array(9);
    const want = refSoftmaxCrossEntropy(3, 3, logits, labels, 1);
    const loss = B.softmaxCrossEntropy(3, 3, logits, labels, probs, dlogits, 1);
    expect(Number.isFinite(loss)).toBe(true);
    expect(Math.abs(loss - want.loss) / want.loss).toBeLessThan(1e-6);
    expectClose(probs, want.probs, 1e-6, 'probs');
    expectClose(dlogits, want.dlogits, 1e-6, 'dlogits');
  });

  test('softmaxCrossEntropy of a confident right answer is a loss near 0', () => {
    const loss = B.softmaxCrossEntropy(1, 3, Float32Array.from([50, 0, 0]), Uint8Array.from([0]),
      new Float32Array(3), new Float32Array(3), 1);
    expect(loss).toBeGreaterThanOrEqual(0);
    expect(loss).toBeLessThan(1e-20);
  });

  test('softmaxCrossEntropy allows probs = logits', () => {
    const logits = randomF32(50, 8, -4, 4);
    const labels = randomU8(5, 9, 10);
    const want = refSoftmaxCrossEntropy(5, 10, logits, labels, 0.2);
    const dlogits = new Float32Array(50);
    const loss = B.softmaxCrossEntropy(5, 10, logits, labels, logits, dlogits, 0.2);
    expect(loss).toBeCloseTo(want.loss, 4);
    expectClose(logits, want.probs, 1e-6, 'probs');
    expectClose(dlogits, want.dlogits, 1e-6, 'dlogits');
  });

  test('softmaxCrossEntropy allows dlogits = probs with scale != 1 (the buffer then holds dlogits)', () => {
    const logits = randomF32(50, 10, -4, 4);
    const labels = randomU8(5, 11, 10);
    const want = refSoftmaxCrossEntropy(5, 10, logits, labels, 0.25);
    const shared = new Float32Array(50);
    const loss = B.softmaxCrossEntropy(5, 10, logits, labels, shared, shared, 0.25);
    expect(loss).toBeCloseTo(want.loss, 4);
    expectClose(shared, want.dlogits, 1e-6, 'dlogits');
  });

  test('softmaxCrossEntropy allows probs = dlogits = logits', () => {
    const logits = randomF32(50, 12, -4, 4);
    const labels = randomU8(5, 13, 10);
    const want = refSoftmaxCrossEntropy(5, 10, logits, labels, 0.5);
    const loss = B.softmaxCrossEntropy(5, 10, logits, labels, logits, logits, 0.5);
    expect(loss).toBeCloseTo(want.loss, 4);
    expectClose(logits, want.dlogits, 1e-6, 'dlogits');
  });

  test('softmaxCrossEntropy with zero rows returns 0 and writes nothing', () => {
    const probs = new Float32Array(3).fill(5);
    expect(B.softmaxCrossEntropy(0, 3, new Float32Array(0), new Uint8Array(0), probs, probs, 1)).toBe(0);
    expect(Array.from(probs)).toEqual([5, 5, 5]);
  });

  test('softmaxCrossEntropy takes the largest 16-bit label, 65535, when cols = 65536', () => {
    const cols = 65536;
    const logits = randomF32(2 * cols, 21, -3, 3);
    const labels = Uint16Array.from([65535, 256]);
    const probs = new Float32Array(2 * cols);
    const dlogits = new Float32Array(2 * cols);
    const want = refSoftmaxCrossEntropy(2, cols, logits, labels, 1);
    const loss = B.softmaxCrossEntropy(2, cols, logits, labels, probs, dlogits, 1);
    expect(Math.abs(loss - want.loss)).toBeLessThanOrEqual(1e-5 * (1 + want.loss));
    expectClose(dlogits, want.dlogits, 1e-6, 'dlogits');
  });

  test('softmaxCrossEntropy gives identical results for the same labels as Uint8Array and Uint16Array', () => {
    const logits = randomF32(9 * 10, 14, -5, 5);
    const narrow = randomU8(9, 15, 10);
    const run = (labels: Uint8Array | Uint16Array): [number, Float32Array, Float32Array] => {
      const probs = new Float32Array(90);
      const dlogits = new Float32Array(90);
      return [B.softmaxCrossEntropy(9, 10, logits, labels, probs, dlogits, 0.5), probs, dlogits];
    };
    expect(run(Uint16Array.from(narrow))).toEqual(run(narrow));
  });

  test('softmaxCrossEntropy with Uint16Array labels allows probs = dlogits = logits', () => {
    const logits = randomF32(4 * 300, 16, -4, 4);
    const labels = Uint16Array.from([299, 0, 256, 255]);
    const want = refSoftmaxCrossEntropy(4, 300, logits, labels, 0.25);
    const loss = B.softmaxCrossEntropy(4, 300, logits, labels, logits, logits, 0.25);
    expect(loss).toBeCloseTo(want.loss, 4);
    expectClose(logits, want.dlogits, 1e-6, 'dlogits');
  });
});

/** Odd sizes around the vector widths (8, 16) and the blocks the native kernel splits into (8192). */
const DROPOUT_SIZES = [1, 7, 17, 33, 65, 130, 1000, 8193, 100003];
const DROPOUT_KEYS = [0, 1, 0x9e3779b9, 0xffffffff];
const DROPOUT_RATES = [0, 0.1, 0.5, 0.999];

/** Floats that test a product: signs, zeros, infinities, NaN, subnormals, values whose scaling overflows. */
const SPECIAL = [0, -0, 1, -1, 0.1, -2.5, Infinity, -Infinity, NaN, 1e-45, -3e-39, 1.17e-38, 3.4e38, -3e38, 65504, 1 / 3];

/** SPECIAL repeated over n values, each repetition shifted by a random float. */
function specialF32(n: number, seed: number): Float32Array {
  const noise = randomF32(n, seed);
  return Float32Array.from({ length: n }, (_, i) => (i % 32 < SPECIAL.length ? SPECIAL[i % 32] : noise[i]));
}

describeEachBackend('dropout and multiply', (B) => {
  /** Runs dropout out of place on fresh outputs (filled with 9, so that a value not written shows). */
  const run = (n: number, key: number, rate: number, x: Float32Array, pad = 0) => {
    const y = new Float32Array(n + pad).fill(9);
    const mask = new Float32Array(n + pad).fill(9);
    B.dropout(n, key, rate, x, y, mask);
    return { y, mask };
  };

  test.each(DROPOUT_SIZES)('dropout matches the reference bit for bit (n = %i, every key and rate)', (n) => {
    const x = randomF32(n, n, -4, 4);
    for (const key of DROPOUT_KEYS) {
      for (const rate of DROPOUT_RATES) {
        const { y, mask } = run(n, key, rate, x);
        const want = refDropout(n, key, rate, x);
        expectIdentical(mask, Float32Array.from(want.mask), `mask key=${key} rate=${rate}`);
        expectIdentical(y, Float32Array.from(want.y), `y key=${key} rate=${rate}`);
      }
    }
  });

  test('dropout keeps value i when hash32(key, i) of lib/core/random.ts is below (1 - rate) * 2^32', () => {
    const n = 5000;
    for (const [key, rate] of [[12345, 0.3], [0xffffffff, 0.75]]) {
      const { mask } = run(n, key, rate, new Float32Array(n).fill(1));
      const kept = Array.from({ length: n }, (_, i) => hash32(key, i) < (1 - rate) * 2 ** 32);
      expect(Array.from(mask, (m) => m !== 0)).toEqual(kept);
    }
  });

  test('dropout drops about rate of the values and scales the rest by float(1 / (1 - rate))', () => {
    const n = 100003;
    const x = randomF32(n, 3, 0.5, 2);
    for (const rate of [0.1, 0.3, 0.5, 0.9]) {
      const { y, mask } = run(n, 77, rate, x);
      const scale = Math.fround(1 / (1 - rate));
      let dropped = 0;
      const wrong: number[] = [];
      for (let i = 0; i < n; i++) {
        if (mask[i] === 0) dropped++;
        const ok = mask[i] === 0 ? Object.is(y[i], 0) : mask[i] === scale && y[i] === Math.fround(x[i] * scale);
        if (!ok && wrong.length < 5) wrong.push(i);
      }
      expect(wrong.map((i) => [i, x[i], mask[i], y[i]])).toEqual([]);
      expect(Math.abs(dropped / n - rate)).toBeLessThan(0.01);
    }
  });

  test('dropout with rate 0 keeps every value as it is; a rate just below 1 drops nearly all', () => {
    const x = specialF32(1000, 4);
    const { y, mask } = run(1000, 5, 0, x);
    expectIdentical(mask, new Float32Array(1000).fill(1), 'mask');
    expectIdentical(y, x, 'y');
    const { mask: few } = run(1000, 5, 1 - 2 ** -20, x);
    expect(few.filter((m) => m !== 0).length).toBeLessThan(3);
    expect(few.find((m) => m !== 0) ?? 2 ** 20).toBe(2 ** 20);
  });

  test('dropout multiplies as float does: signs of zero, NaN, infinities, subnormals, overflow', () => {
    const n = 1000;
    const x = specialF32(n, 6);
    for (const rate of [0.5, 0.999]) {
      const { y, mask } = run(n, 8, rate, x);
      const want = refDropout(n, 8, rate, x);
      expectIdentical(mask, Float32Array.from(want.mask), `mask rate=${rate}`);
      expectIdentical(y, Float32Array.from(want.y), `y rate=${rate}`);
    }
  });

  test('dropout works in place (y = x) and on views at any offset', () => {
    const n = 1031;
    const x = randomF32(n, 9, -3, 3);
    const want = run(n, 42, 0.4, x);
    const inPlace = x.slice();
    const mask = new Float32Array(n);
    B.dropout(n, 42, 0.4, inPlace, inPlace, mask);
    expect(inPlace).toEqual(want.y.subarray(0, n));
    expect(mask).toEqual(want.mask.subarray(0, n));
    // Odd offsets: the vector loads and stores of the native kernel are unaligned.
    const memory = new Float32Array(3 * n + 10);
    const xv = memory.subarray(1, 1 + n);
    xv.set(x);
    const yv = memory.subarray(n + 4, 2 * n + 4);
    const mv = memory.subarray(2 * n + 7, 3 * n + 7);
    B.dropout(n, 42, 0.4, xv, yv, mv);
    expect(yv).toEqual(want.y.subarray(0, n));
    expect(mv).toEqual(want.mask.subarray(0, n));
  });

  test('dropout writes only the first n values of y and mask; n = 0 writes nothing', () => {
    const x = randomF32(40, 10);
    for (const n of [0, 1, 9, 17, 31]) {
      const { y, mask } = run(n, 3, 0.5, x, 5);
      expect(Array.from(y.subarray(n))).toEqual([9, 9, 9, 9, 9]);
      expect(Array.from(mask.subarray(n))).toEqual([9, 9, 9, 9, 9]);
    }
  });

  test('dropout masks of different keys differ; the same key gives the same mask', () => {
    const x = new Float32Array(1000).fill(1);
    expect(run(1000, 1, 0.5, x).mask).toEqual(run(1000, 1, 0.5, x).mask);
    const a = run(1000, 1, 0.5, x).mask, b = run(1000, 2, 0.5, x).mask;
    expect(a.filter((m, i) => m !== b[i]).length).toBeGreaterThan(300);
  });

  test.each([1, 7, 17, 33, 65, 130, 1000, 100003])('multiply is the float product, bit for bit (n = %i)', (n) => {
    const a = specialF32(n, n);
    const b = randomF32(n, n + 1, -1e3, 1e3);
    const out = new Float32Array(n + 3).fill(9);
    B.multiply(n, a, b, out);
    expectIdentical(out.subarray(0, n), Float32Array.from(refMultiply(n, a, b)), 'out');
    expect(Array.from(out.subarray(n))).toEqual([9, 9, 9]);
  });

  test('multiply works in place (out = a, out = b) and squares (a = b = out)', () => {
    const n = 1031;
    const a = randomF32(n, 11, -3, 3), b = randomF32(n, 12, -3, 3);
    const want = Float32Array.from(refMultiply(n, a, b));
    const outA = a.slice();
    B.multiply(n, outA, b, outA);
    expect(outA).toEqual(want);
    const outB = b.slice();
    B.multiply(n, a, outB, outB);
    expect(outB).toEqual(want);
    const sq = a.slice();
    B.multiply(n, sq, sq, sq);
    expect(sq).toEqual(Float32Array.from(refMultiply(n, a, a)));
  });

  test('multiply by a dropout mask is dropout\'s backward: dx = dy * mask', () => {
    const n = 777;
    const { mask } = run(n, 21, 0.3, randomF32(n, 13));
    const dy = randomF32(n, 14);
    const dx = new Float32Array(n);
    B.multiply(n, dy, mask, dx);
    expect(dx).toEqual(Float32Array.from(dy, (v, i) => Math.fround(v * mask[i])));
  });
});

describeEachBackend('gatherRows', (B) => {
  test.each([
    [1, 1, 0], [7, 3, 2], [784, 17, 5], [33, 65, 0], [2, 257, 1],
  ])('gathers and scales rows of length %i (count %i, offset %i)', (rowLen, count, offset) => {
    const rowsInSrc = 40;
    const src = randomU8(rowsInSrc * rowLen, rowLen);
    const indices = Uint32Array.from(randomU8(offset + count + 2, count, rowsInSrc));
    const dst = new Float32Array(count * rowLen + 5).fill(-1);
    B.gatherRows(src, rowLen, indices, offset, count, 1 / 255, dst);
    const want = refGatherRows(src, rowLen, indices, offset, count, 1 / 255);
    expectClose(dst.subarray(0, count * rowLen), want, 1e-7, 'dst');
    expect(Array.from(dst.subarray(count * rowLen))).toEqual([-1, -1, -1, -1, -1]);
  });

  test('reads from a Node Buffer (the dataset loader hands out Buffers)', () => {
    const src = Buffer.from([0, 255, 128, 64]);
    const dst = new Float32Array(4);
    B.gatherRows(src, 2, Uint32Array.from([1, 0]), 0, 2, 1, dst);
    expect(Array.from(dst)).toEqual([128, 64, 0, 255]);
  });

  test('count = 0 writes nothing', () => {
    const dst = new Float32Array(2).fill(3);
    B.gatherRows(new Uint8Array(4), 2, new Uint32Array(0), 0, 0, 1, dst);
    expect(Array.from(dst)).toEqual([3, 3]);
  });
});

describeEachBackend('optimizer steps', (B) => {
  const STEPS = 6;

  test.each(SIZES)('sgdStep over %i parameters, several steps', (n) => {
    const w = randomF32(n, n);
    const want = Float64Array.from(w);
    for (let s = 0; s < STEPS; s++) {
      const g = randomF32(n, 100 * n + s);
      B.sgdStep(n, 0.1, w, g);
      refSgdStep(n, 0.1, want, g);
    }
    expectClose(w, want, 1e-6, 'w');
  });

  test.each(SIZES)('momentumStep over %i parameters, several steps', (n) => {
    const w = randomF32(n, n);
    const v = new Float32Array(n);
    const wantW = Float64Array.from(w);
    const wantV = new Float64Array(n);
    for (let s = 0; s < STEPS; s++) {
      const g = randomF32(n, 100 * n + s);
      B.momentumStep(n, 0.05, 0.9, w, g, v);
      refMomentumStep(n, 0.05, 0.9, wantW, g, wantV);
    }
    expectClose(w, wantW, 1e-6, 'w');
    expectClose(v, wantV, 1e-6, 'v');
  });

  test.each(SIZES)('adamStep over %i parameters, steps t = 1..6 with bias correction', (n) => {
    const w = randomF32(n, n);
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    const wantW = Float64Array.from(w);
    const wantM = new Float64Array(n);
    const wantV = new Float64Array(n);
    for (let t = 1; t <= STEPS; t++) {
      const g = randomF32(n, 100 * n + t);
      B.adamStep(n, 1e-2, 0.9, 0.999, 1e-8, t, w, g, m, v);
      refAdamStep(n, 1e-2, 0.9, 0.999, 1e-8, t, wantW, g, wantM, wantV);
    }
    expectClose(w, wantW, 1e-6, 'w');
    expectClose(m, wantM, 1e-6, 'm');
    expectClose(v, wantV, 1e-6, 'v');
  });

  test('adamStep moves each weight by about lr on its first step', () => {
    const w = new Float32Array(3);
    B.adamStep(3, 0.01, 0.9, 0.999, 1e-8, 1, w, Float32Array.from([2, -3, 0.5]), new Float32Array(3), new Float32Array(3));
    expectClose(w, [-0.01, 0.01, -0.01], 1e-6, 'w');
  });

  test('optimizer steps leave elements past n untouched', () => {
    const w = Float32Array.from([1, 1, 1]);
    B.sgdStep(2, 1, w, Float32Array.from([1, 1, 1]));
    expect(Array.from(w)).toEqual([0, 0, 1]);
  });
});

describeEachBackend('threads', (B) => {
  test('setThreads(n) is accepted and getThreads reports a positive count', () => {
    const before = B.getThreads();
    B.setThreads(1);
    expect(B.getThreads()).toBe(1);
    B.setThreads(before);
    expect(B.getThreads()).toBeGreaterThanOrEqual(1);
  });

  if (B.name === 'ts') {
    test('the TypeScript backend is single-threaded whatever setThreads asks', () => {
      B.setThreads(4);
      expect(B.getThreads()).toBe(1);
    });
  }
});
