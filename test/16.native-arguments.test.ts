/**
 * Arguments refused or normalised beyond the size and length checks of test/12: a gemm whose
 * output overlaps an operand and scalars that float cannot hold (both backends), and, in the
 * addon, leading dimensions of one-row matrices (any value is valid there, so the kernel is given
 * the row's width and never steps a huge ld away from the buffer).
 */
import type { Backend } from '../lib/backend/contract';
import { getBackend } from '../lib/backend';
import { describeEachBackend, describeNative } from './backends';
import { randomF32, refGemm, expectClose } from './reference';
import { thrown } from './thrown';

const FLOAT_MAX = 3.4028234663852886e38;
const f = (n: number): Float32Array => new Float32Array(n).fill(0.5);

describeEachBackend('gemm refuses an output that overlaps an operand', (B) => {

  // 2x3 times 3x2 into 2x2, all in views of one buffer of 64 floats.
  const memory = (): Float32Array => randomF32(64, 7);
  const OVERLAP_A = { name: 'RangeError', message: 'gemm: c overlaps a (the product cannot be written over an operand)' };
  const OVERLAP_B = { name: 'RangeError', message: 'gemm: c overlaps b (the product cannot be written over an operand)' };

  test('c on the same memory as a', () => {
    const all = memory();
    const before = all.slice();
    expect(thrown(() => B.gemm(false, false, 2, 2, 3, 1, all.subarray(0, 6), 3, all.subarray(20, 26), 2, 0, all.subarray(0, 4), 2)))
      .toEqual(OVERLAP_A);
    expect(all).toEqual(before);
  });

  test('c starting inside b, and b starting inside c', () => {
    const all = memory();
    expect(thrown(() => B.gemm(false, false, 2, 2, 3, 1, all.subarray(0, 6), 3, all.subarray(20, 26), 2, 0, all.subarray(25, 29), 2)))
      .toEqual(OVERLAP_B);
    expect(thrown(() => B.gemm(false, false, 2, 2, 3, 1, all.subarray(0, 6), 3, all.subarray(20, 26), 2, 0, all.subarray(17, 21), 2)))
      .toEqual(OVERLAP_B);
  });

  test('overlap is judged on the span the leading dimension covers, transposes included', () => {
    const all = memory();
    // a is (k=3, m=2) transposed with lda 10: it spans floats 0..22; c at 22 overlaps its last element.
    expect(thrown(() => B.gemm(true, false, 2, 2, 3, 1, all.subarray(0, 22), 10, all.subarray(40, 46), 2, 0, all.subarray(21, 25), 2)))
      .toEqual(OVERLAP_A);
    // c at 22 does not.
    expect(thrown(() => B.gemm(true, false, 2, 2, 3, 1, all.subarray(0, 22), 10, all.subarray(40, 46), 2, 0, all.subarray(22, 26), 2)))
      .toBeUndefined();
  });

  test('adjacent buffers, and a and b sharing memory, are accepted', () => {
    const all = memory();
    const a = all.subarray(0, 6), b = all.subarray(6, 12), c = all.subarray(12, 16);
    const want = refGemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
    B.gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
    expectClose(c, want, 1e-6, 'adjacent');
    const square = all.subarray(20, 29);
    const out = all.subarray(30, 39);
    const wantSquared = refGemm(false, true, 3, 3, 3, 1, square, 3, square, 3, 0, out, 3);
    B.gemm(false, true, 3, 3, 3, 1, square, 3, square, 3, 0, out, 3);
    expectClose(out, wantSquared, 1e-6, 'A A^T');
  });

  test('empty spans overlap nothing: k = 0 with c over a scales c only', () => {
    const all = memory();
    const c = all.subarray(0, 4);
    const want = Float32Array.from(c, (x) => 2 * x);
    B.gemm(false, false, 2, 2, 0, 1, all.subarray(0, 0), 1, all.subarray(0, 0), 2, 2, c, 2);
    expect(c).toEqual(want);
  });
});

describeEachBackend('scalars beyond the float range are refused', (B) => {
  const message = (kernel: string, arg: string, value: string): { name: string; message: string } => ({
    name: 'RangeError',
    message: `${kernel}: ${arg} must be within float32 range (magnitude <= 3.4028234663852886e+38), got ${value}`,
  });

  /** Each float scalar of each kernel, as a call with that scalar replaced. */
  const CALLS: [kernel: string, arg: string, call: (B: Backend, x: number) => unknown][] = [
    ['gemm', 'alpha', (B, x) => B.gemm(false, false, 2, 2, 2, x, f(4), 2, f(4), 2, 0, f(4), 2)],
    ['gemm', 'beta', (B, x) => B.gemm(false, false, 2, 2, 2, 1, f(4), 2, f(4), 2, x, f(4), 2)],
    ['biasGrad', 'beta', (B, x) => B.biasGrad(2, 2, f(4), f(2), x)],
    ['activation', 'slope', (B, x) => B.activation('leaky-relu', 4, f(4), f(4), x, 1)],
    ['activation', 'factor', (B, x) => B.activation('leaky-relu', 4, f(4), f(4), 0.01, x)],
    ['activationGrad', 'slope', (B, x) => B.activationGrad('leaky-relu', 4, f(4), f(4), f(4), x, 1)],
    ['activationGrad', 'factor', (B, x) => B.activationGrad('leaky-relu', 4, f(4), f(4), f(4), 0.01, x)],
    ['softmaxCrossEntropy', 'scale', (B, x) => B.softmaxCrossEntropy(2, 2, f(4), new Uint8Array(2), f(4), f(4), x)],
    ['sgdStep', 'lr', (B, x) => B.sgdStep(4, x, f(4), f(4))],
    ['momentumStep', 'lr', (B, x) => B.momentumStep(4, x, 0.9, f(4), f(4), f(4))],
    ['momentumStep', 'mu', (B, x) => B.momentumStep(4, 0.1, x, f(4), f(4), f(4))],
    ['adamStep', 'lr', (B, x) => B.adamStep(4, x, 0.9, 0.999, 1e-8, 1, f(4), f(4), f(4), f(4))],
    ['adamStep', 'beta1', (B, x) => B.adamStep(4, 1e-3, x, 0.999, 1e-8, 1, f(4), f(4), f(4), f(4))],
    ['adamStep', 'beta2', (B, x) => B.adamStep(4, 1e-3, 0.9, x, 1e-8, 1, f(4), f(4), f(4), f(4))],
    ['adamStep', 'eps', (B, x) => B.adamStep(4, 1e-3, 0.9, 0.999, x, 1, f(4), f(4), f(4), f(4))],
  ];

  test.each(CALLS)('%s %s = 1e300 and -3.5e38 are RangeErrors', (kernel, arg, call) => {
    expect(thrown(() => call(B, 1e300))).toEqual(message(kernel, arg, '1e+300'));
    expect(thrown(() => call(B, -3.5e38))).toEqual(message(kernel, arg, '-3.5e+38'));
  });

  test.each(CALLS)('%s %s = the largest float, infinities and NaN are accepted', (_kernel, _arg, call) => {
    for (const x of [FLOAT_MAX, -FLOAT_MAX, Infinity, -Infinity, NaN]) expect(thrown(() => call(B, x))).toBeUndefined();
  });

  test('softmaxCrossEntropy scale is checked the same way with Uint16Array labels of 300 classes', () => {
    const call = (x: number): unknown => B.softmaxCrossEntropy(2, 300, f(600), Uint16Array.from([299, 256]), f(600), f(600), x);
    expect(thrown(() => call(1e300))).toEqual(message('softmaxCrossEntropy', 'scale', '1e+300'));
    for (const x of [FLOAT_MAX, -Infinity, NaN]) expect(thrown(() => call(x))).toBeUndefined();
  });
});

describeNative('results beyond the float range round as the TypeScript backend rounds them [native]', () => {
  let B: Backend;
  beforeAll(() => {
    B = getBackend('native');
  });

  test('results beyond the float range round as a Float32Array store rounds them (biasGrad, gatherRows)', () => {
    const ts = getBackend('ts');
    // Column sums: 4.4e38 and 2 x FLOAT_MAX round to Infinity, FLOAT_MAX + 1e31 (less than half a
    // float step above it) to FLOAT_MAX, -4.4e38 to -Infinity.
    const dy = Float32Array.from([FLOAT_MAX, FLOAT_MAX, FLOAT_MAX, -FLOAT_MAX, 1e38, FLOAT_MAX, 1e31, -1e38]);
    const sums = (backend: Backend): number[] => {
      const db = new Float32Array(4);
      backend.biasGrad(2, 4, dy, db, 0);
      return Array.from(db);
    };
    expect(sums(B)).toEqual([Infinity, Infinity, FLOAT_MAX, -Infinity]);
    expect(sums(B)).toEqual(sums(ts));
    const gathered = (backend: Backend, scale: number): Float32Array => {
      const dst = new Float32Array(4);
      backend.gatherRows(Uint8Array.from([0, 1, 200, 255]), 4, Uint32Array.from([0]), 0, 1, scale, dst);
      return dst;
    };
    for (const scale of [1e36, 1.5e36, -1e300, 3.4e38]) expect(gathered(B, scale)).toEqual(gathered(ts, scale));
  });
});

describeNative('one-row matrices take any leading dimension [native]', () => {
  let B: Backend;
  beforeAll(() => {
    B = getBackend('native');
  });

  // A single stored row never steps to a second one, so ld only has to be >= the row's width.
  test.each([[false, false], [true, false], [false, true], [true, true]])(
    'transA=%s transB=%s: m = 1, k = 1 with ld = 2^53 and 1e300 give the product',
    (transA, transB) => {
      for (const ld of [2 ** 53, 1e300]) {
        // m = 1: C and A (stored 1 x 1 either way) are one row, and so is B when not transposed.
        const [m, n, k] = [1, 37, 1];
        const a = randomF32(transA ? m : k, 1), b = randomF32(n, 2), c = randomF32(n, 3);
        const want = refGemm(transA, transB, m, n, k, 1.5, a, transA ? m : k, b, transB ? k : n, 0.5, c, n);
        B.gemm(transA, transB, m, n, k, 1.5, a, ld, b, transB ? k : ld, 0.5, c, ld);  // B^T is 37 rows
        expectClose(c, want, 1e-6, `ld ${ld}`);
        // n = 1 too: every operand is one row or one column.
        const a1 = randomF32(1, 4), b1 = randomF32(1, 5), c1 = randomF32(1, 6);
        const want1 = refGemm(transA, transB, 1, 1, 1, 2, a1, 1, b1, 1, 1, c1, 1);
        B.gemm(transA, transB, 1, 1, 1, 2, a1, ld, b1, ld, 1, c1, ld);
        expectClose(c1, want1, 1e-6, `1x1x1 ld ${ld}`);
      }
    },
  );
});
