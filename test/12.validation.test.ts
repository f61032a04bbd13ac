/**
 * Argument validation: every kernel rejects every bad argument with the exact error class and
 * message of the contract (lib/backend/check.ts lists the wording), before touching any buffer,
 * and the native addon says exactly what the TypeScript backend says.
 *
 * Errors are compared by name and message rather than with instanceof: an error thrown by the
 * addon comes from Node's main realm, not from jest's sandbox.
 */
import { runInNewContext } from 'node:vm';
import type { Backend } from '../lib/backend/contract';
import { describeEachBackend, describeNativeVsTs } from './backends';
import { SIGNATURES, type Kernel, type Kind } from './kernel-signatures';
import { randomF32 } from './reference';
import { thrown } from './thrown';

const f32 = (n: number, seed = n): Float32Array => randomF32(n, seed);

/**
 * The convolutions' valid geometry: 3x2 filters at stride 2 on 2 images of 3x5x4, padding 1 above
 * (and 1 below, as oh = 3 implies), none left or right: y (2, 2, 3, 2).
 */
const CONV = { n: 2, c: 3, h: 5, w: 4, f: 2, kh: 3, kw: 2, stride: 2, padTop: 1, padLeft: 0, oh: 3, ow: 2 };

/** A valid call of each kernel, with fresh buffers each time (non-zero, so a write shows). */
const VALID: Record<Kernel, () => Record<string, unknown>> = {
  gemm: () => ({ transA: false, transB: false, m: 3, n: 4, k: 5, alpha: 1, a: f32(15), lda: 5, b: f32(20), ldb: 4,
    beta: 0, c: f32(12), ldc: 4 }),
  addBias: () => ({ rows: 3, cols: 4, x: f32(12), bias: f32(4) }),
  biasGrad: () => ({ rows: 3, cols: 4, dy: f32(12), db: f32(4), beta: 0 }),
  activation: () => ({ kind: 'relu', n: 5, x: f32(5), y: f32(5, 6), slope: 0.01, factor: 1 }),
  activationGrad: () => ({ kind: 'relu', n: 5, y: f32(5), dy: f32(5, 6), dx: f32(5, 7), slope: 0.01, factor: 1 }),
  softmax: () => ({ rows: 2, cols: 3, logits: f32(6), probs: f32(6, 7) }),
  softmaxCrossEntropy: () => ({ rows: 2, cols: 3, logits: f32(6), labels: Uint8Array.from([0, 2]), probs: f32(6, 7),
    dlogits: f32(6, 8), scale: 1 }),
  dropout: () => ({ n: 5, key: 7, rate: 0.5, x: f32(5), y: f32(5, 6), mask: f32(5, 7) }),
  multiply: () => ({ n: 4, a: f32(4), b: f32(4, 5), out: f32(4, 6) }),
  conv2d: () => ({ ...CONV, x: f32(120), weight: f32(36), bias: f32(2), y: f32(24) }),
  conv2dBackwardData: () => ({ ...CONV, dy: f32(24), weight: f32(36), dx: f32(120) }),
  conv2dBackwardFilter: () => ({ ...CONV, x: f32(120), dy: f32(24), dWeight: f32(36, 37), dBias: f32(2), beta: 0 }),
  // Windows 2x2 at stride 2 on 5x4: the third row of windows is cut at the bottom edge (oh = 3, its maximum).
  maxPool2d: () => ({ n: 2, c: 3, h: 5, w: 4, size: 2, stride: 2, oh: 3, ow: 2, x: f32(120), y: f32(36),
    argmax: new Uint32Array(36) }),
  maxPool2dBackward: () => ({ n: 2, c: 3, h: 5, w: 4, oh: 3, ow: 2, dy: f32(36),
    argmax: Uint32Array.from({ length: 36 }, (_, i) => (7 * i) % 20), dx: f32(120) }),
  batchNormTrain: () => ({ n: 2, c: 3, s: 4, momentum: 0.1, eps: 1e-5, x: f32(24), weight: f32(3), bias: f32(3, 4),
    runningMean: f32(3, 5), runningVar: randomF32(3, 6, 0.5, 2), y: f32(24, 7), saved: f32(6) }),
  batchNormInfer: () => ({ n: 2, c: 3, s: 4, eps: 1e-5, x: f32(24), weight: f32(3), bias: f32(3, 4),
    runningMean: f32(3, 5), runningVar: randomF32(3, 6, 0.5, 2), y: f32(24, 7) }),
  batchNormBackward: () => ({ n: 2, c: 3, s: 4, x: f32(24), dy: f32(24, 5), weight: f32(3), saved: f32(6),
    dx: f32(24, 7), dWeight: f32(3, 4), dBias: f32(3, 5), beta: 1 }),
  // 2 images of 2 channels of 3x4; a 3-tap blur.
  augment: () => ({ n: 2, c: 2, h: 3, w: 4, x: f32(48), y: f32(48, 49), transforms: f32(12, 13), key: 7, alpha: 2,
    blur: Float32Array.of(0.25, 0.5, 0.25) }),
  // src: 14 bytes of rows of 3 = 4 whole rows (the last 2 bytes are not a row).
  gatherRows: () => ({ src: Uint8Array.from({ length: 14 }, (_, i) => i + 1), rowLen: 3,
    indices: Uint32Array.from([0, 1, 2, 3]), offset: 1, count: 2, scale: 1 / 255, dst: f32(6) }),
  sgdStep: () => ({ n: 4, lr: 0.1, w: f32(4), g: f32(4, 5) }),
  momentumStep: () => ({ n: 4, lr: 0.1, mu: 0.9, w: f32(4), g: f32(4, 5), v: f32(4, 6) }),
  adamStep: () => ({ n: 4, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 1, w: f32(4), g: f32(4, 5), m: f32(4, 6),
    v: f32(4, 7) }),
  setThreads: () => ({ n: 1 }),
  getThreads: () => ({}),
};

interface BadCall {
  title: string;
  kernel: Kernel;
  args: () => unknown[];
  error: 'TypeError' | 'RangeError';
  message: string;
}

/** The valid call of `kernel` with some arguments replaced, as a positional argument list. */
function call(kernel: Kernel, overrides: Record<string, unknown>): () => unknown[] {
  return () => {
    const named = { ...VALID[kernel](), ...overrides };
    return SIGNATURES[kernel].map(([name]) => named[name]);
  };
}

const WRONG_TYPE: Record<Kind, [value: unknown, what: string, message: string][]> = {
  bool: [[1, '1', 'must be a boolean'], ['true', "'true'", 'must be a boolean']],
  size: [[2.5, '2.5', 'must be an integer'], [NaN, 'NaN', 'must be an integer'],
    [Infinity, 'Infinity', 'must be an integer'], ['3', "'3'", 'must be an integer']],
  num: [['1', "'1'", 'must be a number'], [undefined, 'undefined', 'must be a number']],
  str: [[3, '3', 'must be a string']],
  f32: [[new Float64Array(64), 'a Float64Array', 'must be a Float32Array'],
    [new Array(64).fill(0), 'a plain Array', 'must be a Float32Array']],
  u8: [[new Int8Array(64), 'an Int8Array', 'must be a Uint8Array'],
    [new Uint8ClampedArray(64), 'a Uint8ClampedArray', 'must be a Uint8Array']],
  u32: [[new Int32Array(64), 'an Int32Array', 'must be a Uint32Array']],
};

/** softmaxCrossEntropy's labels take a Uint16Array too, so they have their own wrong types. */
const WRONG_LABELS: [value: unknown, what: string, message: string][] = [
  [new Int32Array(64), 'an Int32Array', 'must be a Uint8Array or Uint16Array'],
  [new Float32Array(64), 'a Float32Array', 'must be a Uint8Array or Uint16Array'],
  [new Int16Array(64), 'an Int16Array', 'must be a Uint8Array or Uint16Array'],
  [new Uint32Array(64), 'a Uint32Array', 'must be a Uint8Array or Uint16Array'],
  [new Int8Array(64), 'an Int8Array', 'must be a Uint8Array or Uint16Array'],
  [new Uint8ClampedArray(64), 'a Uint8ClampedArray', 'must be a Uint8Array or Uint16Array'],
  [new Array(64).fill(0), 'a plain Array', 'must be a Uint8Array or Uint16Array'],
];

/** The wrong-type values of one argument: by its kind, except for labels. */
function wrongTypes(kernel: Kernel, name: string, kind: Kind): [value: unknown, what: string, message: string][] {
  return kernel === 'softmaxCrossEntropy' && name === 'labels' ? WRONG_LABELS : WRONG_TYPE[kind];
}

/** Every argument of every kernel given a value of the wrong type. */
function wrongTypeCases(): BadCall[] {
  const cases: BadCall[] = [];
  for (const kernel of Object.keys(SIGNATURES) as Kernel[]) {
    for (const [name, kind] of SIGNATURES[kernel]) {
      for (const [value, what, tail] of wrongTypes(kernel, name, kind)) {
        cases.push({
          title: `${kernel} ${name} = ${what}`, kernel, args: call(kernel, { [name]: value }),
          error: 'TypeError', message: `${kernel}: ${name} ${tail}`,
        });
      }
    }
  }
  return cases;
}

const range = (title: string, kernel: Kernel, overrides: Record<string, unknown>, message: string): BadCall =>
  ({ title: `${kernel} ${title}`, kernel, args: call(kernel, overrides), error: 'RangeError', message });

/**
 * dropout's mask sharing memory with x or y: views of one buffer (made afresh for each call), in
 * every arrangement: the same view, the mask starting inside x or y, x or y starting inside it.
 */
function dropoutOverlaps(): BadCall[] {
  const overlapsX = 'dropout: mask overlaps x (the mask needs memory of its own)';
  const overlapsY = 'dropout: mask overlaps y (the mask needs memory of its own)';
  const views = (place: (all: Float32Array) => Record<string, Float32Array>) => (): unknown[] => {
    const named: Record<string, unknown> = { ...VALID.dropout(), ...place(f32(32)) };
    return SIGNATURES.dropout.map(([name]) => named[name]);
  };
  const overlap = (title: string, message: string, place: (all: Float32Array) => Record<string, Float32Array>): BadCall =>
    ({ title: `dropout ${title}`, kernel: 'dropout', args: views(place), error: 'RangeError', message });
  return [
    overlap('mask = x', overlapsX, (all) => ({ x: all.subarray(0, 5), mask: all.subarray(0, 5) })),
    overlap('mask starting inside x', overlapsX, (all) => ({ x: all.subarray(0, 5), mask: all.subarray(4, 9) })),
    overlap('x starting inside mask', overlapsX, (all) => ({ x: all.subarray(4, 9), mask: all.subarray(0, 5) })),
    overlap('mask = y', overlapsY, (all) => ({ y: all.subarray(10, 15), mask: all.subarray(10, 15) })),
    overlap('mask starting inside y', overlapsY, (all) => ({ y: all.subarray(10, 15), mask: all.subarray(14, 19) })),
    overlap('y starting inside mask', overlapsY, (all) => ({ y: all.subarray(12, 17), mask: all.subarray(8, 13) })),
    overlap('mask = x = y (x reported first)', overlapsX, (all) => {
      const one = all.subarray(0, 5);
      return { x: one, y: one, mask: one };
    }),
  ];
}

const INPUT_OVERLAP = 'the output cannot be written over an input';

/**
 * The valid call of `kernel` with `output` and `input` as views of one buffer: starting together,
 * the output starting at the input's last element, or the input starting at the output's last.
 */
function sharing(kernel: Kernel, output: string, input: string, arrangement: 'together' | 'output inside' | 'input inside') {
  return (): unknown[] => {
    const named = VALID[kernel]();
    const outLen = (named[output] as Float32Array).length;
    const inLen = (named[input] as Float32Array).length;
    const all = f32(outLen + inLen);
    const outStart = arrangement === 'output inside' ? inLen - 1 : 0;
    const inStart = arrangement === 'input inside' ? outLen - 1 : 0;
    named[output] = all.subarray(outStart, outStart + outLen);
    named[input] = all.subarray(inStart, inStart + inLen);
    return SIGNATURES[kernel].map(([name]) => named[name]);
  };
}

/** Every output / input pair a geometry kernel refuses to share memory, in each arrangement. */
function geometryOverlaps(): BadCall[] {
  const pairs: [Kernel, string, string][] = [
    ['conv2d', 'y', 'x'], ['conv2d', 'y', 'weight'], ['conv2d', 'y', 'bias'],
    ['conv2dBackwardData', 'dx', 'dy'], ['conv2dBackwardData', 'dx', 'weight'],
    ['conv2dBackwardFilter', 'dWeight', 'x'], ['conv2dBackwardFilter', 'dWeight', 'dy'],
    ['conv2dBackwardFilter', 'dBias', 'x'], ['conv2dBackwardFilter', 'dBias', 'dy'],
    ['maxPool2d', 'y', 'x'], ['maxPool2dBackward', 'dx', 'dy'],
    ['batchNormTrain', 'y', 'x'], ['batchNormTrain', 'saved', 'x'], ['batchNormTrain', 'saved', 'y'],
    ['augment', 'y', 'x'], ['augment', 'y', 'transforms'], ['augment', 'y', 'blur'],
  ];
  return pairs.flatMap(([kernel, output, input]) => (['together', 'output inside', 'input inside'] as const).map((how) => ({
    title: `${kernel} ${output} and ${input} in one buffer (${how})`, kernel, args: sharing(kernel, output, input, how),
    error: 'RangeError' as const, message: `${kernel}: ${output} overlaps ${input} (${INPUT_OVERLAP})`,
  })));
}

/** Out-of-range values: negative sizes, short leading dimensions, short buffers, bad contents. */
const RANGE_CASES: BadCall[] = [
  range('m = -1', 'gemm', { m: -1 }, 'gemm: m must be >= 0, got -1'),
  range('n = -1', 'gemm', { n: -1 }, 'gemm: n must be >= 0, got -1'),
  range('k = -3', 'gemm', { k: -3 }, 'gemm: k must be >= 0, got -3'),
  range('lda shorter than k', 'gemm', { lda: 4 }, 'gemm: lda must be >= 5, got 4'),
  range('lda shorter than m when transA', 'gemm', { transA: true, lda: 2 }, 'gemm: lda must be >= 3, got 2'),
  range('lda = 0 when k = 0 (minimum 1)', 'gemm', { k: 0, lda: 0 }, 'gemm: lda must be >= 1, got 0'),
  range('ldb shorter than n', 'gemm', { ldb: 3 }, 'gemm: ldb must be >= 4, got 3'),
  range('ldb shorter than k when transB', 'gemm', { transB: true, ldb: 4 }, 'gemm: ldb must be >= 5, got 4'),
  range('ldc shorter than n', 'gemm', { ldc: 3 }, 'gemm: ldc must be >= 4, got 3'),
  range('ldc = 0 when n = 0 (minimum 1)', 'gemm', { n: 0, ldb: 1, ldc: 0 }, 'gemm: ldc must be >= 1, got 0'),
  range('a shorter than m x k', 'gemm', { a: f32(14) }, 'gemm: a has 14 elements, needs at least 15'),
  range('a shorter than (m-1)*lda + k', 'gemm', { lda: 7 }, 'gemm: a has 15 elements, needs at least 19'),
  range('a shorter than (k-1)*lda + m when transA', 'gemm', { transA: true, lda: 3, a: f32(14) },
    'gemm: a has 14 elements, needs at least 15'),
  range('b shorter than k x n', 'gemm', { b: f32(19) }, 'gemm: b has 19 elements, needs at least 20'),
  range('b shorter than (n-1)*ldb + k when transB', 'gemm', { transB: true, ldb: 6 },
    'gemm: b has 20 elements, needs at least 23'),
  range('c shorter than m x n', 'gemm', { c: f32(11) }, 'gemm: c has 11 elements, needs at least 12'),
  range('c shorter than (m-1)*ldc + n', 'gemm', { ldc: 6 }, 'gemm: c has 12 elements, needs at least 16'),

  range('rows = -1', 'addBias', { rows: -1 }, 'addBias: rows must be >= 0, got -1'),
  range('cols = -2', 'addBias', { cols: -2 }, 'addBias: cols must be >= 0, got -2'),
  range('x shorter than rows x cols', 'addBias', { x: f32(11) }, 'addBias: x has 11 elements, needs at least 12'),
  range('bias shorter than cols', 'addBias', { bias: f32(3) }, 'addBias: bias has 3 elements, needs at least 4'),

  range('rows = -1', 'biasGrad', { rows: -1 }, 'biasGrad: rows must be >= 0, got -1'),
  range('dy shorter than rows x cols', 'biasGrad', { dy: f32(11) }, 'biasGrad: dy has 11 elements, needs at least 12'),
  range('db shorter than cols', 'biasGrad', { db: f32(3) }, 'biasGrad: db has 3 elements, needs at least 4'),

  range("kind = 'softmax'", 'activation', { kind: 'softmax' }, "activation: unknown activation 'softmax'"),
  range("kind = 'ReLU' (names are case-sensitive)", 'activation', { kind: 'ReLU' },
    "activation: unknown activation 'ReLU'"),
  range('n = -1', 'activation', { n: -1 }, 'activation: n must be >= 0, got -1'),
  range('x shorter than n', 'activation', { x: f32(4) }, 'activation: x has 4 elements, needs at least 5'),
  range('y shorter than n', 'activation', { y: f32(4) }, 'activation: y has 4 elements, needs at least 5'),

  range("kind = ''", 'activationGrad', { kind: '' }, "activationGrad: unknown activation ''"),
  range('n = -1', 'activationGrad', { n: -1 }, 'activationGrad: n must be >= 0, got -1'),
  range('y shorter than n', 'activationGrad', { y: f32(4) }, 'activationGrad: y has 4 elements, needs at least 5'),
  range('dy shorter than n', 'activationGrad', { dy: f32(4) }, 'activationGrad: dy has 4 elements, needs at least 5'),
  range('dx shorter than n', 'activationGrad', { dx: f32(4) }, 'activationGrad: dx has 4 elements, needs at least 5'),

  range('cols = -1', 'softmax', { cols: -1 }, 'softmax: cols must be >= 0, got -1'),
  range('logits shorter than rows x cols', 'softmax', { logits: f32(5) },
    'softmax: logits has 5 elements, needs at least 6'),
  range('probs shorter than rows x cols', 'softmax', { probs: f32(5) }, 'softmax: probs has 5 elements, needs at least 6'),

  range('rows = -1', 'softmaxCrossEntropy', { rows: -1 }, 'softmaxCrossEntropy: rows must be >= 0, got -1'),
  range('logits shorter than rows x cols', 'softmaxCrossEntropy', { logits: f32(5) },
    'softmaxCrossEntropy: logits has 5 elements, needs at least 6'),
  range('labels shorter than rows', 'softmaxCrossEntropy', { labels: Uint8Array.from([0]) },
    'softmaxCrossEntropy: labels has 1 elements, needs at least 2'),
  range('probs shorter than rows x cols', 'softmaxCrossEntropy', { probs: f32(5) },
    'softmaxCrossEntropy: probs has 5 elements, needs at least 6'),
  range('dlogits shorter than rows x cols', 'softmaxCrossEntropy', { dlogits: f32(5) },
    'softmaxCrossEntropy: dlogits has 5 elements, needs at least 6'),
  range('a label equal to cols', 'softmaxCrossEntropy', { labels: Uint8Array.from([0, 3]) },
    'softmaxCrossEntropy: labels[1] is 3, must be < cols (3)'),
  range('a label far out of range', 'softmaxCrossEntropy', { labels: Uint8Array.from([255, 0]) },
    'softmaxCrossEntropy: labels[0] is 255, must be < cols (3)'),
  range('Uint16Array labels shorter than rows', 'softmaxCrossEntropy', { labels: Uint16Array.from([0]) },
    'softmaxCrossEntropy: labels has 1 elements, needs at least 2'),
  range('a Uint16Array label equal to cols', 'softmaxCrossEntropy', { labels: Uint16Array.from([0, 3]) },
    'softmaxCrossEntropy: labels[1] is 3, must be < cols (3)'),
  range('a Uint16Array label of 65535', 'softmaxCrossEntropy', { labels: Uint16Array.from([65535, 0]) },
    'softmaxCrossEntropy: labels[0] is 65535, must be < cols (3)'),
  range('a Uint16Array label equal to cols = 300', 'softmaxCrossEntropy',
    { cols: 300, logits: f32(600), labels: Uint16Array.from([299, 300]), probs: f32(600, 7), dlogits: f32(600, 8) },
    'softmaxCrossEntropy: labels[1] is 300, must be < cols (300)'),

  range('n = -1', 'dropout', { n: -1 }, 'dropout: n must be >= 0, got -1'),
  range('key = -1', 'dropout', { key: -1 }, 'dropout: key must be >= 0, got -1'),
  range('key = 2^32', 'dropout', { key: 2 ** 32 }, 'dropout: key must be <= 4294967295, got 4294967296'),
  range('key = 2^53', 'dropout', { key: 2 ** 53 }, 'dropout: key must be <= 4294967295, got 9007199254740992'),
  range('rate = -0.1', 'dropout', { rate: -0.1 }, 'dropout: rate must be in [0, 1), got -0.1'),
  range('rate = 1', 'dropout', { rate: 1 }, 'dropout: rate must be in [0, 1), got 1'),
  range('rate = 1.5', 'dropout', { rate: 1.5 }, 'dropout: rate must be in [0, 1), got 1.5'),
  range('rate = NaN', 'dropout', { rate: NaN }, 'dropout: rate must be in [0, 1), got NaN'),
  range('rate = Infinity', 'dropout', { rate: Infinity }, 'dropout: rate must be in [0, 1), got Infinity'),
  range('rate = -Infinity', 'dropout', { rate: -Infinity }, 'dropout: rate must be in [0, 1), got -Infinity'),
  range('x shorter than n', 'dropout', { x: f32(4) }, 'dropout: x has 4 elements, needs at least 5'),
  range('y shorter than n', 'dropout', { y: f32(4) }, 'dropout: y has 4 elements, needs at least 5'),
  range('mask shorter than n', 'dropout', { mask: f32(0) }, 'dropout: mask has 0 elements, needs at least 5'),
  ...dropoutOverlaps(),

  range('n = -1', 'multiply', { n: -1 }, 'multiply: n must be >= 0, got -1'),
  range('a shorter than n', 'multiply', { a: f32(3) }, 'multiply: a has 3 elements, needs at least 4'),
  range('b shorter than n', 'multiply', { b: f32(3) }, 'multiply: b has 3 elements, needs at least 4'),
  range('out shorter than n', 'multiply', { out: f32(0) }, 'multiply: out has 0 elements, needs at least 4'),

  range('n = -1', 'augment', { n: -1 }, 'augment: n must be >= 0, got -1'),
  range('c = -1', 'augment', { c: -1 }, 'augment: c must be >= 0, got -1'),
  range('h = -2', 'augment', { h: -2 }, 'augment: h must be >= 0, got -2'),
  range('w = -1', 'augment', { w: -1 }, 'augment: w must be >= 0, got -1'),
  range('x shorter than n x c x h x w', 'augment', { x: f32(47) }, 'augment: x has 47 elements, needs at least 48'),
  range('y shorter than n x c x h x w', 'augment', { y: f32(0) }, 'augment: y has 0 elements, needs at least 48'),
  range('transforms shorter than 6 n', 'augment', { transforms: f32(11) }, 'augment: transforms has 11 elements, needs at least 12'),
  range('transforms shorter than 6 n when c = 0 (one map per image, channels or not)', 'augment',
    { c: 0, transforms: f32(6) }, 'augment: transforms has 6 elements, needs at least 12'),
  range('key = -1', 'augment', { key: -1 }, 'augment: key must be >= 0, got -1'),
  range('key = 2^32', 'augment', { key: 2 ** 32 }, 'augment: key must be <= 4294967295, got 4294967296'),
  range('alpha = NaN', 'augment', { alpha: NaN }, 'augment: alpha must be finite, within float32 range (magnitude <= 3.4028234663852886e+38), got NaN'),
  range('alpha = Infinity', 'augment', { alpha: Infinity }, 'augment: alpha must be finite, within float32 range (magnitude <= 3.4028234663852886e+38), got Infinity'),
  range('alpha = -Infinity', 'augment', { alpha: -Infinity }, 'augment: alpha must be finite, within float32 range (magnitude <= 3.4028234663852886e+38), got -Infinity'),
  range('alpha = -1e39 (beyond float)', 'augment', { alpha: -1e39 }, 'augment: alpha must be finite, within float32 range (magnitude <= 3.4028234663852886e+38), got -1e+39'),
  range('blur of 4 taps', 'augment', { blur: f32(4) }, 'augment: blur must have an odd number of elements (a centre tap), got 4'),
  range('blur of no taps', 'augment', { blur: f32(0) }, 'augment: blur must have an odd number of elements (a centre tap), got 0'),

  range('rowLen = -1', 'gatherRows', { rowLen: -1 }, 'gatherRows: rowLen must be >= 0, got -1'),
  range('offset = -1', 'gatherRows', { offset: -1 }, 'gatherRows: offset must be >= 0, got -1'),
  range('count = -1', 'gatherRows', { count: -1 }, 'gatherRows: count must be >= 0, got -1'),
  range('indices shorter than offset + count', 'gatherRows', { offset: 3 },
    'gatherRows: indices has 4 elements, needs at least 5'),
  range('dst shorter than count x rowLen', 'gatherRows', { dst: f32(5) },
    'gatherRows: dst has 5 elements, needs at least 6'),
  range('an index past the last whole row of src', 'gatherRows', { indices: Uint32Array.from([0, 1, 4, 3]) },
    'gatherRows: indices[2] is 4, src has 4 rows'),
  range('a huge index', 'gatherRows', { indices: Uint32Array.from([0, 0xffffffff, 0, 0]) },
    'gatherRows: indices[1] is 4294967295, src has 4 rows'),

  range('n = -1', 'sgdStep', { n: -1 }, 'sgdStep: n must be >= 0, got -1'),
  range('w shorter than n', 'sgdStep', { w: f32(3) }, 'sgdStep: w has 3 elements, needs at least 4'),
  range('g shorter than n', 'sgdStep', { g: f32(3) }, 'sgdStep: g has 3 elements, needs at least 4'),

  range('n = -1', 'momentumStep', { n: -1 }, 'momentumStep: n must be >= 0, got -1'),
  range('w shorter than n', 'momentumStep', { w: f32(3) }, 'momentumStep: w has 3 elements, needs at least 4'),
  range('g shorter than n', 'momentumStep', { g: f32(3) }, 'momentumStep: g has 3 elements, needs at least 4'),
  range('v shorter than n', 'momentumStep', { v: f32(0) }, 'momentumStep: v has 0 elements, needs at least 4'),

  range('n = -1', 'adamStep', { n: -1 }, 'adamStep: n must be >= 0, got -1'),
  range('t = 0 (steps count from 1)', 'adamStep', { t: 0 }, 'adamStep: t must be >= 1, got 0'),
  range('w shorter than n', 'adamStep', { w: f32(3) }, 'adamStep: w has 3 elements, needs at least 4'),
  range('g shorter than n', 'adamStep', { g: f32(3) }, 'adamStep: g has 3 elements, needs at least 4'),
  range('m shorter than n', 'adamStep', { m: f32(3) }, 'adamStep: m has 3 elements, needs at least 4'),
  range('v shorter than n', 'adamStep', { v: f32(3) }, 'adamStep: v has 3 elements, needs at least 4'),

  range('n = -1', 'conv2d', { n: -1 }, 'conv2d: n must be >= 0, got -1'),
  range('kw = -2', 'conv2d', { kw: -2 }, 'conv2d: kw must be >= 0, got -2'),
  range('stride = 0', 'conv2d', { stride: 0 }, 'conv2d: stride must be >= 1, got 0'),
  range('padLeft = -1', 'conv2d', { padLeft: -1 }, 'conv2d: padLeft must be >= 0, got -1'),
  range('ow = -1', 'conv2d', { ow: -1 }, 'conv2d: ow must be >= 0, got -1'),
  range('x shorter than n*c*h*w', 'conv2d', { x: f32(119) }, 'conv2d: x has 119 elements, needs at least 120'),
  range('weight shorter than f*c*kh*kw', 'conv2d', { weight: f32(35) }, 'conv2d: weight has 35 elements, needs at least 36'),
  range('bias shorter than f', 'conv2d', { bias: f32(1) }, 'conv2d: bias has 1 elements, needs at least 2'),
  range('y shorter than n*f*oh*ow', 'conv2d', { y: f32(23) }, 'conv2d: y has 23 elements, needs at least 24'),

  range('stride = 0', 'conv2dBackwardData', { stride: 0 }, 'conv2dBackwardData: stride must be >= 1, got 0'),
  range('padTop = -3', 'conv2dBackwardData', { padTop: -3 }, 'conv2dBackwardData: padTop must be >= 0, got -3'),
  range('dy shorter than n*f*oh*ow', 'conv2dBackwardData', { dy: f32(23) },
    'conv2dBackwardData: dy has 23 elements, needs at least 24'),
  range('weight shorter than f*c*kh*kw', 'conv2dBackwardData', { weight: f32(35) },
    'conv2dBackwardData: weight has 35 elements, needs at least 36'),
  range('dx shorter than n*c*h*w', 'conv2dBackwardData', { dx: f32(119) },
    'conv2dBackwardData: dx has 119 elements, needs at least 120'),

  range('stride = 0', 'conv2dBackwardFilter', { stride: 0 }, 'conv2dBackwardFilter: stride must be >= 1, got 0'),
  range('f = -1', 'conv2dBackwardFilter', { f: -1 }, 'conv2dBackwardFilter: f must be >= 0, got -1'),
  range('x shorter than n*c*h*w', 'conv2dBackwardFilter', { x: f32(119) },
    'conv2dBackwardFilter: x has 119 elements, needs at least 120'),
  range('dy shorter than n*f*oh*ow', 'conv2dBackwardFilter', { dy: f32(23) },
    'conv2dBackwardFilter: dy has 23 elements, needs at least 24'),
  range('dWeight shorter than f*c*kh*kw', 'conv2dBackwardFilter', { dWeight: f32(35) },
    'conv2dBackwardFilter: dWeight has 35 elements, needs at least 36'),
  range('dBias shorter than f', 'conv2dBackwardFilter', { dBias: f32(1) },
    'conv2dBackwardFilter: dBias has 1 elements, needs at least 2'),
  range('beta = 1e39', 'conv2dBackwardFilter', { beta: 1e39 },
    'conv2dBackwardFilter: beta must be within float32 range (magnitude <= 3.4028234663852886e+38), got 1e+39'),

  range('size = 0', 'maxPool2d', { size: 0 }, 'maxPool2d: size must be >= 1, got 0'),
  range('stride = 0', 'maxPool2d', { stride: 0 }, 'maxPool2d: stride must be >= 1, got 0'),
  range('c = -1', 'maxPool2d', { c: -1 }, 'maxPool2d: c must be >= 0, got -1'),
  range('oh = -1', 'maxPool2d', { oh: -1 }, 'maxPool2d: oh must be >= 0, got -1'),
  range('oh one past its maximum (a window starting below the input)', 'maxPool2d', { oh: 4 },
    'maxPool2d: oh must be <= 3, got 4'),
  range('ow one past its maximum', 'maxPool2d', { ow: 3 }, 'maxPool2d: ow must be <= 2, got 3'),
  range('oh past its maximum at stride 3', 'maxPool2d', { stride: 3 }, 'maxPool2d: oh must be <= 2, got 3'),
  range('oh > 0 when h = 0 (maximum 0)', 'maxPool2d', { h: 0 }, 'maxPool2d: oh must be <= 0, got 3'),
  range('ow > 0 when w = 0 (maximum 0)', 'maxPool2d', { w: 0 }, 'maxPool2d: ow must be <= 0, got 2'),
  range('x shorter than n*c*h*w', 'maxPool2d', { x: f32(119) }, 'maxPool2d: x has 119 elements, needs at least 120'),
  range('y shorter than n*c*oh*ow', 'maxPool2d', { y: f32(35) }, 'maxPool2d: y has 35 elements, needs at least 36'),
  range('argmax shorter than n*c*oh*ow', 'maxPool2d', { argmax: new Uint32Array(35) },
    'maxPool2d: argmax has 35 elements, needs at least 36'),

  range('oh = -1', 'maxPool2dBackward', { oh: -1 }, 'maxPool2dBackward: oh must be >= 0, got -1'),
  range('dy shorter than n*c*oh*ow', 'maxPool2dBackward', { dy: f32(35) },
    'maxPool2dBackward: dy has 35 elements, needs at least 36'),
  range('argmax shorter than n*c*oh*ow', 'maxPool2dBackward', { argmax: new Uint32Array(35) },
    'maxPool2dBackward: argmax has 35 elements, needs at least 36'),
  range('dx shorter than n*c*h*w', 'maxPool2dBackward', { dx: f32(119) },
    'maxPool2dBackward: dx has 119 elements, needs at least 120'),

  range('c = -1', 'batchNormTrain', { c: -1 }, 'batchNormTrain: c must be >= 0, got -1'),
  range('momentum = 1e39', 'batchNormTrain', { momentum: 1e39 },
    'batchNormTrain: momentum must be within float32 range (magnitude <= 3.4028234663852886e+38), got 1e+39'),
  range('x shorter than n*c*s', 'batchNormTrain', { x: f32(23) }, 'batchNormTrain: x has 23 elements, needs at least 24'),
  range('weight shorter than c', 'batchNormTrain', { weight: f32(2) }, 'batchNormTrain: weight has 2 elements, needs at least 3'),
  range('bias shorter than c', 'batchNormTrain', { bias: f32(2) }, 'batchNormTrain: bias has 2 elements, needs at least 3'),
  range('runningMean shorter than c', 'batchNormTrain', { runningMean: f32(0) },
    'batchNormTrain: runningMean has 0 elements, needs at least 3'),
  range('runningVar shorter than c', 'batchNormTrain', { runningVar: f32(2) },
    'batchNormTrain: runningVar has 2 elements, needs at least 3'),
  range('y shorter than n*c*s', 'batchNormTrain', { y: f32(23) }, 'batchNormTrain: y has 23 elements, needs at least 24'),
  range('saved shorter than 2c', 'batchNormTrain', { saved: f32(5) }, 'batchNormTrain: saved has 5 elements, needs at least 6'),

  range('s = -1', 'batchNormInfer', { s: -1 }, 'batchNormInfer: s must be >= 0, got -1'),
  range('eps = -1e39', 'batchNormInfer', { eps: -1e39 },
    'batchNormInfer: eps must be within float32 range (magnitude <= 3.4028234663852886e+38), got -1e+39'),
  range('x shorter than n*c*s', 'batchNormInfer', { x: f32(23) }, 'batchNormInfer: x has 23 elements, needs at least 24'),
  range('runningVar shorter than c', 'batchNormInfer', { runningVar: f32(2) },
    'batchNormInfer: runningVar has 2 elements, needs at least 3'),
  range('y shorter than n*c*s', 'batchNormInfer', { y: f32(23) }, 'batchNormInfer: y has 23 elements, needs at least 24'),

  range('n = -1', 'batchNormBackward', { n: -1 }, 'batchNormBackward: n must be >= 0, got -1'),
  range('x shorter than n*c*s', 'batchNormBackward', { x: f32(23) }, 'batchNormBackward: x has 23 elements, needs at least 24'),
  range('dy shorter than n*c*s', 'batchNormBackward', { dy: f32(23) }, 'batchNormBackward: dy has 23 elements, needs at least 24'),
  range('weight shorter than c', 'batchNormBackward', { weight: f32(2) },
    'batchNormBackward: weight has 2 elements, needs at least 3'),
  range('saved shorter than 2c', 'batchNormBackward', { saved: f32(5) },
    'batchNormBackward: saved has 5 elements, needs at least 6'),
  range('dx shorter than n*c*s', 'batchNormBackward', { dx: f32(23) }, 'batchNormBackward: dx has 23 elements, needs at least 24'),
  range('dWeight shorter than c', 'batchNormBackward', { dWeight: f32(2) },
    'batchNormBackward: dWeight has 2 elements, needs at least 3'),
  range('dBias shorter than c', 'batchNormBackward', { dBias: f32(2) },
    'batchNormBackward: dBias has 2 elements, needs at least 3'),
  range('beta = 1e39', 'batchNormBackward', { beta: 1e39 },
    'batchNormBackward: beta must be within float32 range (magnitude <= 3.4028234663852886e+38), got 1e+39'),
  ...geometryOverlaps(),

  range('n = 0', 'setThreads', { n: 0 }, 'setThreads: n must be >= 1, got 0'),
  range('n = -4', 'setThreads', { n: -4 }, 'setThreads: n must be >= 1, got -4'),
];

/** Several bad arguments at once: the first in argument order is the one reported. */
const ORDER_CASES: BadCall[] = [
  { title: 'gemm reports m before a bad a', kernel: 'gemm', args: call('gemm', { m: -1, a: null }),
    error: 'RangeError', message: 'gemm: m must be >= 0, got -1' },
  { title: "gemm reports a's length (checked right after lda) before a bad b", kernel: 'gemm',
    args: call('gemm', { a: f32(2), b: null }), error: 'RangeError', message: 'gemm: a has 2 elements, needs at least 15' },
  { title: "gemm reports a's length before a short ldb", kernel: 'gemm', args: call('gemm', { a: f32(2), ldb: 1 }),
    error: 'RangeError', message: 'gemm: a has 2 elements, needs at least 15' },
  { title: 'gemm reports a bad lda before a too short a', kernel: 'gemm', args: call('gemm', { lda: 1, a: f32(2) }),
    error: 'RangeError', message: 'gemm: lda must be >= 5, got 1' },
  { title: 'addBias reports a short x before a wrongly typed bias', kernel: 'addBias',
    args: call('addBias', { x: f32(1), bias: 'no' }), error: 'RangeError', message: 'addBias: x has 1 elements, needs at least 12' },
  { title: 'activation reports the kind before anything else', kernel: 'activation',
    args: call('activation', { kind: 'gelu', n: -1 }), error: 'RangeError', message: "activation: unknown activation 'gelu'" },
  { title: 'softmaxCrossEntropy reports a short dlogits before a bad label', kernel: 'softmaxCrossEntropy',
    args: call('softmaxCrossEntropy', { labels: Uint8Array.from([9, 9]), dlogits: f32(1) }), error: 'RangeError',
    message: 'softmaxCrossEntropy: dlogits has 1 elements, needs at least 6' },
  { title: 'softmaxCrossEntropy reports a bad scale before a bad label', kernel: 'softmaxCrossEntropy',
    args: call('softmaxCrossEntropy', { labels: Uint8Array.from([9, 9]), scale: '1' }), error: 'TypeError',
    message: 'softmaxCrossEntropy: scale must be a number' },
  { title: 'softmaxCrossEntropy reports a short dlogits before a bad Uint16Array label', kernel: 'softmaxCrossEntropy',
    args: call('softmaxCrossEntropy', { labels: Uint16Array.from([999, 999]), dlogits: f32(1) }), error: 'RangeError',
    message: 'softmaxCrossEntropy: dlogits has 1 elements, needs at least 6' },
  { title: 'softmaxCrossEntropy reports wrongly typed labels before a short probs', kernel: 'softmaxCrossEntropy',
    args: call('softmaxCrossEntropy', { labels: new Int32Array(2), probs: f32(1) }), error: 'TypeError',
    message: 'softmaxCrossEntropy: labels must be a Uint8Array or Uint16Array' },
  { title: 'gatherRows reports a short dst before a bad index', kernel: 'gatherRows',
    args: call('gatherRows', { indices: Uint32Array.from([9, 9, 9, 9]), dst: f32(1) }), error: 'RangeError',
    message: 'gatherRows: dst has 1 elements, needs at least 6' },
  { title: 'gatherRows reports a short indices (checked after count) before a bad scale', kernel: 'gatherRows',
    args: call('gatherRows', { count: 9, scale: null }), error: 'RangeError',
    message: 'gatherRows: indices has 4 elements, needs at least 10' },
  { title: 'dropout reports n before a bad key', kernel: 'dropout', args: call('dropout', { n: -2, key: -1 }),
    error: 'RangeError', message: 'dropout: n must be >= 0, got -2' },
  { title: 'dropout reports the key before a bad rate', kernel: 'dropout', args: call('dropout', { key: 2 ** 32, rate: 1 }),
    error: 'RangeError', message: 'dropout: key must be <= 4294967295, got 4294967296' },
  { title: 'dropout reports the rate before a wrongly typed x', kernel: 'dropout', args: call('dropout', { rate: 1, x: null }),
    error: 'RangeError', message: 'dropout: rate must be in [0, 1), got 1' },
  { title: 'dropout reports a short mask before an overlap', kernel: 'dropout',
    args: () => {
      const all = f32(16);
      return call('dropout', { x: all.subarray(0, 5), mask: all.subarray(2, 6) })();
    },
    error: 'RangeError', message: 'dropout: mask has 4 elements, needs at least 5' },
  { title: 'augment reports a short transforms before a bad key', kernel: 'augment',
    args: call('augment', { transforms: f32(1), key: -1 }), error: 'RangeError',
    message: 'augment: transforms has 1 elements, needs at least 12' },
  { title: 'augment reports the key before a bad alpha', kernel: 'augment', args: call('augment', { key: 0.5, alpha: NaN }),
    error: 'TypeError', message: 'augment: key must be an integer' },
  { title: 'augment reports alpha before an even blur', kernel: 'augment', args: call('augment', { alpha: NaN, blur: f32(2) }),
    error: 'RangeError', message: 'augment: alpha must be finite, within float32 range (magnitude <= 3.4028234663852886e+38), got NaN' },
  { title: 'augment reports an even blur before y over x', kernel: 'augment',
    args: () => {
      const all = f32(100);
      return call('augment', { x: all.subarray(0, 48), y: all.subarray(40, 88), blur: f32(2) })();
    },
    error: 'RangeError', message: 'augment: blur must have an odd number of elements (a centre tap), got 2' },
  { title: 'augment reports y over x before y over blur', kernel: 'augment',
    args: () => {
      const all = f32(120);
      return call('augment', { x: all.subarray(0, 48), y: all.subarray(47, 95), blur: all.subarray(94, 97) })();
    },
    error: 'RangeError', message: `augment: y overlaps x (${INPUT_OVERLAP})` },
  { title: 'conv2d reports stride 0 before a short x', kernel: 'conv2d', args: call('conv2d', { stride: 0, x: f32(1) }),
    error: 'RangeError', message: 'conv2d: stride must be >= 1, got 0' },
  { title: 'conv2d reports a short bias before y overlapping x', kernel: 'conv2d',
    args: () => {
      const all = f32(200);
      return call('conv2d', { x: all.subarray(0, 120), y: all.subarray(100, 124), bias: f32(1) })();
    },
    error: 'RangeError', message: 'conv2d: bias has 1 elements, needs at least 2' },
  { title: 'conv2d reports y over x before y over weight', kernel: 'conv2d',
    args: () => {
      const all = f32(200);
      return call('conv2d', { x: all.subarray(0, 120), weight: all.subarray(120, 156), y: all.subarray(110, 134) })();
    },
    error: 'RangeError', message: `conv2d: y overlaps x (${INPUT_OVERLAP})` },
  { title: 'conv2dBackwardFilter reports dWeight over dy before dBias over x', kernel: 'conv2dBackwardFilter',
    args: () => {
      const all = f32(200);
      return call('conv2dBackwardFilter', { x: all.subarray(0, 120), dBias: all.subarray(119, 121),
        dy: all.subarray(150, 174), dWeight: all.subarray(160, 196) })();
    },
    error: 'RangeError', message: `conv2dBackwardFilter: dWeight overlaps dy (${INPUT_OVERLAP})` },
  { title: "maxPool2d reports oh's maximum before a short x", kernel: 'maxPool2d', args: call('maxPool2d', { oh: 9, x: f32(1) }),
    error: 'RangeError', message: 'maxPool2d: oh must be <= 3, got 9' },
  { title: 'maxPool2dBackward reports a wrongly typed argmax before a short dx', kernel: 'maxPool2dBackward',
    args: call('maxPool2dBackward', { argmax: new Int32Array(36), dx: f32(1) }),
    error: 'TypeError', message: 'maxPool2dBackward: argmax must be a Uint32Array' },
  { title: 'batchNormTrain reports y over x before saved over y', kernel: 'batchNormTrain',
    args: () => {
      const all = f32(60);
      return call('batchNormTrain', { x: all.subarray(0, 24), y: all.subarray(20, 44), saved: all.subarray(40, 46) })();
    },
    error: 'RangeError', message: `batchNormTrain: y overlaps x (${INPUT_OVERLAP})` },
  { title: 'batchNormTrain reports saved over x before saved over y', kernel: 'batchNormTrain',
    args: () => {
      const all = f32(60);
      return call('batchNormTrain', { x: all.subarray(0, 24), saved: all.subarray(21, 27), y: all.subarray(26, 50) })();
    },
    error: 'RangeError', message: `batchNormTrain: saved overlaps x (${INPUT_OVERLAP})` },
  { title: 'multiply reports a short a before a wrongly typed b', kernel: 'multiply', args: call('multiply', { a: f32(1), b: 'no' }),
    error: 'RangeError', message: 'multiply: a has 1 elements, needs at least 4' },
];

const ALL_CASES = [...wrongTypeCases(), ...RANGE_CASES, ...ORDER_CASES];

/**
 * Bad values found in the data as the kernel reads it (argmax may be shared memory, so each value
 * is checked where it is used): the error is the contract's, but outputs may be partly written.
 */
const READ_CASES: BadCall[] = [
  range('an argmax value equal to h * w', 'maxPool2dBackward',
    { argmax: Uint32Array.from({ length: 36 }, (_, i) => (i === 29 ? 20 : i % 20)) },
    'maxPool2dBackward: argmax[29] is 20, must be < h * w (20)'),
  range('an argmax value of 2^32 - 1', 'maxPool2dBackward',
    { argmax: Uint32Array.from({ length: 36 }, (_, i) => (i === 0 ? 0xffffffff : 3)) },
    'maxPool2dBackward: argmax[0] is 4294967295, must be < h * w (20)'),
  range('any argmax value when h * w = 0', 'maxPool2dBackward', { w: 0, dx: f32(0) },
    'maxPool2dBackward: argmax[0] is 0, must be < h * w (0)'),
];

function invoke(B: Backend, kernel: Kernel, args: unknown[]): unknown {
  return (B[kernel] as (...a: unknown[]) => unknown)(...args);
}

/** Copies of the typed-array arguments, to show that nothing was written. */
function snapshot(args: unknown[]): (number[] | undefined)[] {
  return args.map((a) => (ArrayBuffer.isView(a) ? Array.from(a as unknown as ArrayLike<number>) : undefined));
}

function expectUnchanged(args: unknown[], before: (number[] | undefined)[]): void {
  args.forEach((a, i) => {
    const was = before[i];
    if (was !== undefined) expect(Array.from(a as unknown as ArrayLike<number>)).toEqual(was);
  });
}

describeEachBackend('validation', (B) => {
  test.each(Object.keys(VALID) as Kernel[])('the valid %s call used as the base of every case is accepted', (kernel) => {
    const args = call(kernel, {})();
    expect(thrown(() => invoke(B, kernel, args))).toBeUndefined();
  });

  test.each(ALL_CASES.map((c) => [c.title, c] as const))('%s is rejected with the contract message', (_, c) => {
    const args = c.args();
    expect(thrown(() => invoke(B, c.kernel, args))).toEqual({ name: c.error, message: c.message });
  });

  test.each(ALL_CASES.map((c) => [c.title, c] as const))('%s leaves every buffer unmodified', (_, c) => {
    const args = c.args();
    const before = snapshot(args);
    thrown(() => invoke(B, c.kernel, args));
    expectUnchanged(args, before);
  });

  test('softmaxCrossEntropy rejects a bad label in the last row before writing probs or dlogits', () => {
    const logits = f32(300);
    const labels = new Uint8Array(100);
    labels[99] = 3;
    const probs = f32(300, 1);
    const dlogits = f32(300, 2);
    const before = snapshot([logits, probs, dlogits]);
    expect(thrown(() => B.softmaxCrossEntropy(100, 3, logits, labels, probs, dlogits, 1)))
      .toEqual({ name: 'RangeError', message: 'softmaxCrossEntropy: labels[99] is 3, must be < cols (3)' });
    expectUnchanged([logits, probs, dlogits], before);
  });

  test('softmaxCrossEntropy rejects a bad Uint16Array label in the last row before writing probs or dlogits', () => {
    const logits = f32(3000);
    const labels = new Uint16Array(10).fill(299);
    labels[9] = 300;
    const probs = f32(3000, 1);
    const dlogits = f32(3000, 2);
    const before = snapshot([logits, probs, dlogits]);
    expect(thrown(() => B.softmaxCrossEntropy(10, 300, logits, labels, probs, dlogits, 1)))
      .toEqual({ name: 'RangeError', message: 'softmaxCrossEntropy: labels[9] is 300, must be < cols (300)' });
    expectUnchanged([logits, probs, dlogits], before);
  });

  test('softmaxCrossEntropy accepts Uint16Array labels, and labels made in another realm', () => {
    const run = (labels: unknown): unknown => invoke(B, 'softmaxCrossEntropy', call('softmaxCrossEntropy', { labels })());
    expect(thrown(() => run(Uint16Array.from([0, 2])))).toBeUndefined();
    expect(thrown(() => run(Buffer.from([0, 2])))).toBeUndefined();  // a Uint8Array of Node's own realm
    expect(thrown(() => run(runInNewContext('new Uint16Array([2, 1])')))).toBeUndefined();
    expect(thrown(() => run(runInNewContext('new Int16Array([2, 1])'))))
      .toEqual({ name: 'TypeError', message: 'softmaxCrossEntropy: labels must be a Uint8Array or Uint16Array' });
  });

  test('gatherRows rejects a bad index in the last position before writing dst', () => {
    const indices = new Uint32Array(50);
    indices[49] = 10;
    const dst = f32(50 * 4);
    const before = snapshot([dst]);
    expect(thrown(() => B.gatherRows(new Uint8Array(40), 4, indices, 0, 50, 1, dst)))
      .toEqual({ name: 'RangeError', message: 'gatherRows: indices[49] is 10, src has 10 rows' });
    expectUnchanged([dst], before);
  });

  test('gatherRows names the position in indices itself, offset included', () => {
    expect(thrown(() => B.gatherRows(new Uint8Array(8), 2, Uint32Array.from([7, 7, 0, 5]), 2, 2, 1, new Float32Array(4))))
      .toEqual({ name: 'RangeError', message: 'gatherRows: indices[3] is 5, src has 4 rows' });
  });

  test('gatherRows with rowLen = 0 accepts any index (nothing is read)', () => {
    expect(thrown(() => B.gatherRows(new Uint8Array(0), 0, Uint32Array.from([99]), 0, 1, 1, new Float32Array(0))))
      .toBeUndefined();
  });

  test.each(READ_CASES.map((c) => [c.title, c] as const))('%s is rejected with the contract message', (_, c) => {
    expect(thrown(() => invoke(B, c.kernel, c.args()))).toEqual({ name: c.error, message: c.message });
  });

  test('the geometry kernels accept any size beside a zero, and return at once (nothing to loop over)', () => {
    const empty = new Float32Array(0);
    const huge = 2 ** 50;
    expect(thrown(() => B.conv2d(0, huge, huge, huge, 0, huge, huge, huge, huge, huge, huge, huge, empty, empty, empty, empty)))
      .toBeUndefined();
    expect(thrown(() => B.conv2dBackwardData(huge, huge, 0, huge, 0, huge, huge, 1, 0, 0, huge, huge, empty, empty, empty)))
      .toBeUndefined();
    expect(thrown(() => B.conv2dBackwardFilter(0, huge, huge, huge, 0, huge, huge, 1, huge, huge, huge, huge, empty, empty,
      empty, empty, 0))).toBeUndefined();
    expect(thrown(() => B.maxPool2d(huge, 0, huge, huge, huge, 1, huge, huge, empty, empty, new Uint32Array(0)))).toBeUndefined();
    expect(thrown(() => B.maxPool2dBackward(huge, 0, huge, huge, huge, huge, empty, new Uint32Array(0), empty))).toBeUndefined();
    // n * c * s: Number.MAX_VALUE * 2 overflows to Infinity, and Infinity * 0 is NaN, which a plain product would pass on.
    const three = f32(3);
    expect(thrown(() => B.batchNormInfer(Number.MAX_VALUE, 3, 0, 1e-5, empty, three, three, three, three, empty))).toBeUndefined();
    expect(thrown(() => B.batchNormTrain(Number.MAX_VALUE, 3, 0, 0.1, 1e-5, empty, three, three, three, three, empty, f32(6))))
      .toBeUndefined();
    expect(thrown(() => B.batchNormBackward(Number.MAX_VALUE, 3, 0, empty, empty, three, f32(6), empty, three, three, 1)))
      .toBeUndefined();
  });

  test('outputs may share memory with inputs where the contract names no overlap', () => {
    const run = (kernel: Kernel, overrides: Record<string, unknown>): unknown => invoke(B, kernel, call(kernel, overrides)());
    const x = f32(24);
    expect(thrown(() => run('batchNormInfer', { x, y: x }))).toBeUndefined();
    const dy = f32(24);
    expect(thrown(() => run('batchNormBackward', { dy, dx: dy }))).toBeUndefined();
    // Side by side in one buffer is no overlap.
    const all = f32(144);
    expect(thrown(() => run('conv2d', { x: all.subarray(0, 120), y: all.subarray(120, 144) }))).toBeUndefined();
    expect(thrown(() => run('conv2d', { y: all.subarray(0, 24), x: all.subarray(24, 144) }))).toBeUndefined();
  });

  test('zero sizes accept empty buffers', () => {
    expect(thrown(() => B.gemm(false, false, 0, 0, 0, 1, new Float32Array(0), 1, new Float32Array(0), 1, 0,
      new Float32Array(0), 1))).toBeUndefined();
    expect(thrown(() => B.softmax(0, 0, new Float32Array(0), new Float32Array(0)))).toBeUndefined();
    expect(thrown(() => B.adamStep(0, 1, 0.9, 0.999, 1e-8, 1, new Float32Array(0), new Float32Array(0),
      new Float32Array(0), new Float32Array(0)))).toBeUndefined();
  });

  test('dropout accepts the ends of the key and rate ranges, y = x, and x and y beside the mask in one buffer', () => {
    const run = (overrides: Record<string, unknown>): unknown => invoke(B, 'dropout', call('dropout', overrides)());
    for (const key of [0, 4294967295]) expect(thrown(() => run({ key }))).toBeUndefined();
    for (const rate of [0, -0, 0.999, 1 - 2 ** -53]) expect(thrown(() => run({ rate }))).toBeUndefined();
    const x = f32(5);
    expect(thrown(() => run({ x, y: x }))).toBeUndefined();
    const all = f32(15);
    expect(thrown(() => run({ x: all.subarray(0, 5), mask: all.subarray(5, 10), y: all.subarray(10, 15) }))).toBeUndefined();
    // Views that merely share a buffer, and x and y overlapping each other, are not the mask's business.
    expect(thrown(() => run({ x: all.subarray(0, 5), y: all.subarray(2, 7), mask: all.subarray(7, 12) }))).toBeUndefined();
  });

  test('dropout with n = 0 accepts empty buffers, even the same one for all three (empty spans overlap nothing)', () => {
    const empty = new Float32Array(0);
    expect(thrown(() => B.dropout(0, 1, 0.5, empty, empty, empty))).toBeUndefined();
    const some = f32(4);
    expect(thrown(() => B.dropout(0, 1, 0.5, some, some, some))).toBeUndefined();
    expect(Array.from(some)).toEqual(Array.from(f32(4)));
  });

  test('augment accepts the ends of the key range, alpha 0 and +-FLT_MAX, one tap, and x, transforms and blur sharing memory', () => {
    const run = (overrides: Record<string, unknown>): unknown => invoke(B, 'augment', call('augment', overrides)());
    for (const key of [0, 4294967295]) expect(thrown(() => run({ key }))).toBeUndefined();
    for (const alpha of [0, -0, 3.4028234663852886e38, -3.4028234663852886e38]) expect(thrown(() => run({ alpha }))).toBeUndefined();
    expect(thrown(() => run({ blur: Float32Array.of(1) }))).toBeUndefined();
    // Inputs may share memory with each other; only y must have its own.
    const all = f32(64);
    expect(thrown(() => run({ x: all.subarray(0, 48), transforms: all.subarray(40, 52), blur: all.subarray(50, 53) }))).toBeUndefined();
    // Any size beside a zero: nothing is read or written (transforms still holds 6 n values).
    const empty = new Float32Array(0);
    expect(thrown(() => B.augment(0, 2 ** 50, 2 ** 50, 2 ** 50, empty, empty, empty, 1, 1, Float32Array.of(1)))).toBeUndefined();
    expect(thrown(() => B.augment(1, 0, 2 ** 50, 2 ** 50, empty, empty, f32(6), 1, 1, Float32Array.of(1)))).toBeUndefined();
  });

  test('multiply accepts out = a, out = b and a = b', () => {
    const a = f32(4), b = f32(4, 5);
    expect(thrown(() => B.multiply(4, a, b, a))).toBeUndefined();
    expect(thrown(() => B.multiply(4, a, b, b))).toBeUndefined();
    expect(thrown(() => B.multiply(4, a, a, a))).toBeUndefined();
  });

  test('a buffer longer than needed is accepted (views into larger arrays are normal)', () => {
    expect(thrown(() => B.sgdStep(2, 0.1, f32(10), f32(10)))).toBeUndefined();
  });

  test('NaN and infinite scalars are numbers, not errors', () => {
    expect(thrown(() => B.sgdStep(2, NaN, f32(2), f32(2)))).toBeUndefined();
    expect(thrown(() => B.activation('identity', 2, f32(2), f32(2), Infinity, 1))).toBeUndefined();
  });
});

describeNativeVsTs('validation: native and TypeScript messages are identical', (native, ts) => {
  test.each([...ALL_CASES, ...READ_CASES].map((c) => [c.title, c] as const))('%s', (_, c) => {
    expect(thrown(() => invoke(native, c.kernel, c.args()))).toEqual(thrown(() => invoke(ts, c.kernel, c.args())));
  });
});
