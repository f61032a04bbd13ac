/**
 * Native vs TypeScript: every kernel run on both backends with the same random inputs gives the
 * same outputs within float tolerance (skipped, with the reason, when the addon is not built).
 */
import { ACTIVATIONS, type Backend } from '../lib/backend/contract';
import { describeNativeVsTs } from './backends';
import { expectClose, expectIdentical, expectSame, randomF32, randomU16, randomU8 } from './reference';

/** One run of a kernel on fresh copies of fixed inputs; returns every output it wrote. */
interface Scenario {
  title: string;
  run: (B: Backend) => (Float32Array | Uint32Array | number)[];
  /** Relative to the largest output (expectClose); 0 asks for identical values, NaNs in the same places. */
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
  list.push(...convScenarios(), ...poolScenarios(), ...batchNormScenarios());
  return list;
}

/** conv2d and its gradients on the reference net's two layers (batch 8) and on odd geometries. */
function convScenarios(): Scenario[] {
  const list: Scenario[] = [];
  const cases: [title: string, geometry: number[]][] = [
    // n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow
    ['reference net conv 5x5 24 filters on 1x28x28', [8, 1, 28, 28, 24, 5, 5, 1, 0, 0, 24, 24]],
    ['reference net conv 3x3 32 filters on 24x12x12', [8, 24, 12, 12, 32, 3, 3, 1, 0, 0, 10, 10]],
    ['3x5 stride 2 padding 2/1, 17 channels on 9x7', [3, 17, 9, 7, 5, 3, 5, 2, 2, 1, 6, 3]],
    ["5x5 'same' 16 filters on 3x12x11", [2, 3, 12, 11, 16, 5, 5, 1, 2, 2, 12, 11]],
  ];
  for (const [title, geometry] of cases) {
    const [n, c, h, w, f, kh, kw, , , , oh, ow] = geometry;
    const g = geometry as [number, number, number, number, number, number, number, number, number, number, number, number];
    const x = randomF32(n * c * h * w, n + c);
    const weight = randomF32(f * c * kh * kw, f + kh);
    const bias = randomF32(f, f);
    const dy = randomF32(n * f * oh * ow, oh + ow);
    list.push({ title: `conv2d ${title}`, tol: 1e-5 * (c * kh * kw + 1), run: (B) => {
      const y = new Float32Array(dy.length);
      B.conv2d(...g, x, weight, bias, y);
      return [y];
    } });
    list.push({ title: `conv2dBackwardData ${title}`, tol: 1e-5 * (f * kh * kw + 1), run: (B) => {
      const dx = new Float32Array(x.length);
      B.conv2dBackwardData(...g, dy, weight, dx);
      return [dx];
    } });
    for (const beta of [0, 1]) {
      list.push({ title: `conv2dBackwardFilter ${title} beta=${beta}`, tol: 1e-5 * (n * oh * ow + 1), run: (B) => {
        const dWeight = weight.slice();
        const dBias = bias.slice();
        B.conv2dBackwardFilter(...g, x, dy, dWeight, dBias, beta);
        return [dWeight, dBias];
      } });
    }
  }
  return list;
}

/** maxPool2d and its backward on the reference net's pools (batch 8) and on overlapping windows cut at the edge, with ties and NaNs. */
function poolScenarios(): Scenario[] {
  const list: Scenario[] = [];
  const cases: [title: string, n: number, c: number, h: number, w: number, size: number, stride: number, oh: number, ow: number][] = [
    ['reference net pool 2 on 24x24x24', 8, 24, 24, 24, 2, 2, 12, 12],
    ['reference net pool 2 on 32x10x10', 8, 32, 10, 10, 2, 2, 5, 5],
    ['3x3 stride 2 on 5x9x7, windows cut at the edge', 3, 5, 9, 7, 3, 2, 5, 4],
  ];
  for (const [title, n, c, h, w, size, stride, oh, ow] of cases) {
    // Values on a coarse grid (ties) with a NaN now and then.
    const x = randomF32(n * c * h * w, h * w, 0, 8).map((v, i) => (i % 97 === 5 ? NaN : Math.floor(v)));
    const dy = randomF32(n * c * oh * ow, oh);
    const forward = (B: Backend) => {
      const y = new Float32Array(dy.length);
      const argmax = new Uint32Array(dy.length);
      B.maxPool2d(n, c, h, w, size, stride, oh, ow, x, y, argmax);
      return { y, argmax };
    };
    list.push({ title: `maxPool2d ${title} (identical)`, tol: 0, run: (B) => {
      const { y, argmax } = forward(B);
      return [y, argmax];
    } });
    list.push({ title: `maxPool2dBackward ${title}`, tol: 1e-6, run: (B) => {
      const dx = new Float32Array(x.length);
      B.maxPool2dBackward(n, c, h, w, oh, ow, dy, forward(B).argmax, dx);
      return [dx];
    } });
  }
  return list;
}

/** Batch normalization after the reference net's second convolution, after a dense layer, and on an odd shape. */
function batchNormScenarios(): Scenario[] {
  const list: Scenario[] = [];
  for (const [n, c, s] of [[8, 32, 100], [8, 256, 1], [3, 5, 7]]) {
    const x = randomF32(n * c * s, c + s, -2, 3);
    const weight = randomF32(c, c, 0.5, 2);
    const bias = randomF32(c, c + 1);
    const runningMean = randomF32(c, c + 2);
    const runningVar = randomF32(c, c + 3, 0.5, 2);
    const dy = randomF32(n * c * s, c + 4);
    const train = (B: Backend) => {
      const y = new Float32Array(x.length);
      const saved = new Float32Array(2 * c);
      const rm = runningMean.slice();
      const rv = runningVar.slice();
      B.batchNormTrain(n, c, s, 0.1, 1e-5, x, weight, bias, rm, rv, y, saved);
      return { y, saved, rm, rv };
    };
    list.push({ title: `batchNormTrain n=${n} c=${c} s=${s}`, tol: 1e-5, run: (B) => {
      const { y, saved, rm, rv } = train(B);
      return [y, saved, rm, rv];
    } });
    list.push({ title: `batchNormInfer n=${n} c=${c} s=${s}`, tol: 1e-5, run: (B) => {
      const y = new Float32Array(x.length);
      B.batchNormInfer(n, c, s, 1e-5, x, weight, bias, runningMean, runningVar, y);
      return [y];
    } });
    for (const beta of [0, 1]) {
      list.push({ title: `batchNormBackward n=${n} c=${c} s=${s} beta=${beta}`, tol: 1e-5, run: (B) => {
        const { saved } = train(B);
        const dx = new Float32Array(x.length);
        const dWeight = weight.slice();
        const dBias = bias.slice();
        B.batchNormBackward(n, c, s, x, dy, weight, saved, dx, dWeight, dBias, beta);
        return [dx, dWeight, dBias];
      } });
    }
  }
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
      } else if (s.tol === 0) {
        expectSame(g, w, `${s.title} output ${i}`);
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

/** Floats whose products are edge cases: signs of zero, NaN, infinities, subnormals, overflow. */
const SPECIAL = [0, -0, -1, Infinity, -Infinity, NaN, 1e-45, -3e-39, 3.4e38, -3e38];

/** x for dropout and multiply: random values of every magnitude, SPECIAL sprinkled in. */
function edgyF32(n: number, seed: number): Float32Array {
  const x = randomF32(n, seed, -1, 1);
  const scale = randomF32(n, seed + 1, -40, 40);
  for (let i = 0; i < n; i++) x[i] = i % 13 < SPECIAL.length && i % 3 === 0 ? SPECIAL[i % 13] : x[i] * 10 ** Math.round(scale[i]);
  return x;
}

describeNativeVsTs('native vs TypeScript: dropout and multiply give identical bits', (native, ts) => {
  const SIZES = [1, 7, 17, 33, 65, 130, 1000, 100003];
  const KEYS = [0, 1, 0x9e3779b9, 0xffffffff];
  const RATES = [0, 0.1, 0.5, 0.999, 1 - 2 ** -53];

  const dropout = (B: Backend, n: number, key: number, rate: number, x: Float32Array) => {
    const y = new Float32Array(n);
    const mask = new Float32Array(n);
    B.dropout(n, key, rate, x, y, mask);
    return { y, mask };
  };

  let threads = 1;
  beforeAll(() => {
    threads = native.getThreads();
  });
  afterAll(() => {
    native.setThreads(threads);
  });

  test.each(SIZES)('dropout, n = %i, every key and rate: the same masks and outputs', (n) => {
    const x = edgyF32(n, n);
    for (const key of KEYS) {
      for (const rate of RATES) {
        const want = dropout(ts, n, key, rate, x);
        const got = dropout(native, n, key, rate, x);
        expectIdentical(got.mask, want.mask, `mask key=${key} rate=${rate}`);
        expectIdentical(got.y, want.y, `y key=${key} rate=${rate}`);
      }
    }
    // toEqual as well, on a smaller case (the helper above is the fast path for the long arrays).
    const small = Math.min(n, 1000);
    expect(dropout(native, small, 5, 0.3, x)).toEqual(dropout(ts, small, 5, 0.3, x));
  });

  test('dropout in place (y = x) gives what it gives out of place, on both', () => {
    const n = 4099;
    const x = edgyF32(n, 3);
    const want = dropout(ts, n, 99, 0.25, x);
    for (const B of [ts, native]) {
      const y = x.slice();
      const mask = new Float32Array(n);
      B.dropout(n, 99, 0.25, y, y, mask);
      expectIdentical(y, want.y, `${B.name} y`);
      expectIdentical(mask, want.mask, `${B.name} mask`);
    }
  });

  test('native dropout and multiply give the same bits on 1, 2, 3 and 4 threads (split or not)', () => {
    const n = (1 << 18) + 13; // large enough for both kernels to split it over the pool
    const x = edgyF32(n, 7);
    const b = randomF32(n, 8, -2, 2);
    const want = dropout(ts, n, 31337, 0.4, x);
    const wantProduct = new Float32Array(n);
    ts.multiply(n, x, b, wantProduct);
    for (const t of [1, 2, 3, 4]) {
      native.setThreads(t);
      const got = dropout(native, n, 31337, 0.4, x);
      expectIdentical(got.mask, want.mask, `mask on ${t} threads`);
      expectIdentical(got.y, want.y, `y on ${t} threads`);
      const product = new Float32Array(n);
      native.multiply(n, x, b, product);
      expectIdentical(product, wantProduct, `product on ${t} threads`);
    }
  });

  test.each(SIZES)('multiply, n = %i: the same products', (n) => {
    const a = edgyF32(n, n + 5);
    const b = edgyF32(n, n + 6);
    const run = (B: Backend): Float32Array[] => {
      const out = new Float32Array(n);
      B.multiply(n, a, b, out);
      const inPlace = a.slice();
      B.multiply(n, inPlace, b, inPlace);
      return [out, inPlace];
    };
    const [want, wantInPlace] = run(ts);
    const [got, gotInPlace] = run(native);
    expectIdentical(got, want, 'out');
    expectIdentical(gotInPlace, wantInPlace, 'out = a');
  });
});
