/**
 * Native vs TypeScript: every kernel run on both backends with the same random inputs gives the
 * same outputs within float tolerance (skipped, with the reason, when the addon is not built).
 */
import { ACTIVATIONS, type Backend } from '../lib/backend/contract';
import { describeNativeVsTs } from './backends';
import { expectClose, randomF32, randomU16, randomU8 } from './reference';

/** One run of a kernel on fresh copies of fixed inputs; returns every output it wrote. */
interface Scenario {
  title: string;
  run: (B: Backend) => (Float32Array | number)[];
  tol: number;
}

const TRANSPOSES: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

function gemmScenario(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, beta: number,
  pad = 0): Scenario {
  const lda = Math.max(1, transA ? m : k) + pad;
  const ldb = Math.max(1, transB ? k : n) + pad;
  const ldc = Math.max(1, n) + pad;
  const a = randomF32((transA ? k : m) * lda, m + 3 * n + 7 * k);
  const b = randomF32((transB ? n : k) * ldb, m + 5 * n + 11 * k);
  const c = randomF32(m * ldc, 17 * m + n + k);
  return {
    title: `gemm transA=${transA} transB=${transB} ${m}x${n}x${k} alpha=${alpha} beta=${beta}${pad ? ` ld+${pad}` : ''}`,
    tol: 1e-5 * (k + 1),
    run: (B) => {
      const out = c.slice();
      B.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, out, ldc);
      return [out];
    },
  };
}

function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  for (const [tA, tB] of TRANSPOSES) {
    for (const [m, n, k] of [[1, 1, 1], [7, 17, 33], [65, 130, 257], [257, 33, 7], [64, 128, 784], [3, 600, 300]]) {
      list.push(gemmScenario(tA, tB, m, n, k, 1, 0));
    }
    list.push(gemmScenario(tA, tB, 33, 65, 17, -0.5, 1.5, 3));
    list.push(gemmScenario(tA, tB, 17, 9, 0, 1, 0.25));
  }

  const rows = 37;
  const cols = 23;
  const x = randomF32(rows * cols, 1, -3, 3);
  const bias = randomF32(cols, 2);
  list.push({ title: `addBias ${rows}x${cols}`, tol: 1e-6, run: (B) => {
    const out = x.slice();
    B.addBias(rows, cols, out, bias);
    return [out];
  } });
  for (const beta of [0, 1]) {
    list.push({ title: `biasGrad ${rows}x${cols} beta=${beta}`, tol: 1e-6 * rows, run: (B) => {
      const db = bias.slice();
      B.biasGrad(rows, cols, x, db, beta);
      return [db];
    } });
  }

  const n = 1031;
  const z = randomF32(n, 3, -5, 5);
  const dy = randomF32(n, 4);
  for (const kind of ACTIVATIONS) {
    for (const [slope, factor] of [[0.01, 1], [0.1, 0.6]]) {
      list.push({ title: `activation + activationGrad ${kind} slope=${slope} factor=${factor} n=${n}`, tol: 2e-6,
        run: (B) => {
          const y = new Float32Array(n);
          B.activation(kind, n, z, y, slope, factor);
          const dx = new Float32Array(n);
          B.activationGrad(kind, n, y, dy, dx, slope, factor);
          return [y, dx];
        } });
    }
  }

  list.push({ title: `softmax ${rows}x${cols}`, tol: 1e-6, run: (B) => {
    const probs = new Float32Array(rows * cols);
    B.softmax(rows, cols, x, probs);
    return [probs];
  } });
  const logits = randomF32(64 * 10, 5, -20, 20);
  const labels = randomU8(64, 6, 10);
  list.push({ title: 'softmaxCrossEntropy 64x10 (loss, probs, dlogits)', tol: 1e-5, run: (B) => {
    const probs = new Float32Array(640);
    const dlogits = new Float32Array(640);
    const loss = B.softmaxCrossEntropy(64, 10, logits, labels, probs, dlogits, 1 / 64);
    return [loss, probs, dlogits];
  } });
  const wideLogits = randomF32(64 * 300, 9, -20, 20);
  const wideLabels = randomU16(64, 10, 300);
  list.push({ title: 'softmaxCrossEntropy 64x300, Uint16Array labels (loss, probs, dlogits)', tol: 1e-5, run: (B) => {
    const probs = new Float32Array(64 * 300);
    const dlogits = new Float32Array(64 * 300);
    const loss = B.softmaxCrossEntropy(64, 300, wideLogits, wideLabels, probs, dlogits, 1 / 64);
    return [loss, probs, dlogits];
  } });

  const src = randomU8(100 * 784, 7);
  const indices = Uint32Array.from(randomU8(80, 8, 100));
  list.push({ title: 'gatherRows 64 rows of 784 from offset 9', tol: 1e-7, run: (B) => {
    const dst = new Float32Array(64 * 784);
    B.gatherRows(src, 784, indices, 9, 64, 1 / 255, dst);
    return [dst];
  } });

  const w0 = randomF32(n, 9);
  const grads = [0, 1, 2, 3, 4].map((s) => randomF32(n, 10 + s));
  list.push({ title: `sgdStep x5 n=${n}`, tol: 1e-6, run: (B) => {
    const w = w0.slice();
    for (const g of grads) B.sgdStep(n, 0.1, w, g);
    return [w];
  } });
  list.push({ title: `momentumStep x5 n=${n}`, tol: 1e-6, run: (B) => {
    const w = w0.slice();
    const v = new Float32Array(n);
    for (const g of grads) B.momentumStep(n, 0.05, 0.9, w, g, v);
    return [w, v];
  } });
  list.push({ title: `adamStep t=1..5 n=${n}`, tol: 1e-6, run: (B) => {
    const w = w0.slice();
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    grads.forEach((g, i) => B.adamStep(n, 1e-2, 0.9, 0.999, 1e-8, i + 1, w, g, m, v));
    return [w, m, v];
  } });
  return list;
}

describeNativeVsTs('native vs TypeScript parity', (native, ts) => {
  test.each(scenarios().map((s) => [s.title, s] as const))('%s', (_, s) => {
    const want = s.run(ts);
    const got = s.run(native);
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => {
      const w = want[i];
      if (typeof g === 'number' || typeof w === 'number') {
        expectClose([g as number], [w as number], s.tol, `${s.title} output ${i}`);
      } else {
        expectClose(g, w, s.tol, `${s.title} output ${i}`);
      }
    });
  });

  test('both report their own name', () => {
    expect(native.name).toBe('native');
    expect(ts.name).toBe('ts');
  });
});
