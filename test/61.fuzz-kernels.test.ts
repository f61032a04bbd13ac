/**
 * Kernel fuzzing: every function of the native addon and of the TypeScript backend, called with
 * random argument lists (wrong types, negative / fractional / huge / NaN sizes, short or detached
 * buffers, labels and indices out of range, missing and extra arguments). The only acceptable
 * failures are a TypeError or RangeError that names the kernel; nothing may be written outside
 * the buffers passed in (each buffer sits between guard bytes that are checked after the call).
 * Under the sanitizer build (.ci/run) a read or write past a buffer aborts the run instead.
 *
 * Seeded and bounded: the same cases run every time.
 */
import fc from 'fast-check';
import { getBackend } from '../lib/backend';
import { nativeBinding } from '../lib/backend/native';
import { describeNative } from './backends';
import { SIGNATURES, type Kind } from './kernel-signatures';
import { thrown } from './thrown';
import { rng } from './reference';

const SEED = 20261125;
const RUNS_PER_FUNCTION = 1000;
/** Bytes of guard before and after every buffer: enough for a few elements of any type. */
const GUARD = 64;
const GUARD_BYTE = 0xa5;

type TypedArrayName = 'Float32Array' | 'Uint8Array' | 'Uint32Array' | 'Float64Array' | 'Int32Array' | 'Uint8ClampedArray';
const TYPED_ARRAYS = { Float32Array, Uint8Array, Uint32Array, Float64Array, Int32Array, Uint8ClampedArray };

/**
 * A typed array to build fresh for each call (fast-check may replay a case while shrinking);
 * a detached one (its buffer transferred away) has length 0 and no data.
 */
class BufferSpec {
  constructor(
    readonly type: TypedArrayName,
    readonly values: number[],
    readonly detached = false,
  ) {}
}

/** A buffer as a view between guard bytes, and a check that the guards are intact. */
function guarded(spec: BufferSpec): { view: ArrayBufferView; intact: () => boolean } {
  const Type = TYPED_ARRAYS[spec.type];
  const bytes = new Uint8Array(2 * GUARD + spec.values.length * Type.BYTES_PER_ELEMENT).fill(GUARD_BYTE);
  const view = new Type(bytes.buffer, GUARD, spec.values.length);
  view.set(spec.values);
  if (spec.detached) {
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
    return { view, intact: () => true };
  }
  const end = GUARD + view.byteLength;
  const intact = (): boolean => bytes.subarray(0, GUARD).every((b) => b === GUARD_BYTE) && bytes.subarray(end).every((b) => b === GUARD_BYTE);
  return { view, intact };
}

/** Values of the wrong type for any parameter. */
const junk = fc.constantFrom<unknown>(undefined, null, '3', 3n, {}, [1, 2], Symbol('s'), () => 1, true, new DataView(new ArrayBuffer(8)));

/** Sizes: mostly small valid ones (so that kernels run), sometimes invalid or extreme. */
const size = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 1, arbitrary: fc.integer({ min: 7, max: 80 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(-1, -7, -0, 0.5, 2.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 52, 2 ** 53, 1e300, Number.MAX_VALUE, Number.MIN_VALUE),
  },
  { weight: 1, arbitrary: junk },
);

const scalar = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1, NaN, Infinity, -Infinity, 1e38, -1e-45) },
  { weight: 1, arbitrary: junk },
);

const flag = fc.oneof({ weight: 8, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom<unknown>(0, 1, 'true', null) });

const activationName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('identity', 'relu', 'leaky-relu', 'sigmoid', 'tanh') },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('softmax', '', 'RELU', 'leaky-relu\0', 0) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** Element values per type: floats with NaN and infinities; bytes and indices mostly small, so labels and row indices are sometimes valid. */
const ELEMENT: Record<'f32' | 'u8' | 'u32', fc.Arbitrary<number>> = {
  f32: fc.oneof({ weight: 8, arbitrary: fc.double({ min: -8, max: 8, noNaN: true }) }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) }),
  u8: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
  u32: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 12 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 31, 2 ** 32 - 1) }),
};
const TYPE_OF: Record<'f32' | 'u8' | 'u32', TypedArrayName> = { f32: 'Float32Array', u8: 'Uint8Array', u32: 'Uint32Array' };

/** A buffer of the right type (usually) with 0..48 elements; sometimes detached, or of another typed-array type. */
function buffer(kind: 'f32' | 'u8' | 'u32'): fc.Arbitrary<unknown> {
  const values = fc.array(ELEMENT[kind], { maxLength: 48 });
  return fc.oneof(
    { weight: 10, arbitrary: values.map((v) => new BufferSpec(TYPE_OF[kind], v)) },
    { weight: 1, arbitrary: values.map((v) => new BufferSpec(TYPE_OF[kind], v, true)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom<TypedArrayName>(...(Object.keys(TYPED_ARRAYS) as TypedArrayName[])), fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 16 }))
        .map(([type, v]) => new BufferSpec(type, v)),
    },
    { weight: 1, arbitrary: junk },
  );
}

const ARGUMENT: Record<Kind, fc.Arbitrary<unknown>> = {
  bool: flag,
  size,
  num: scalar,
  str: activationName,
  f32: buffer('f32'),
  u8: buffer('u8'),
  u32: buffer('u32'),
};

/** An argument list for `kinds`: usually complete, sometimes cut short or with an extra argument. */
function argumentList(kinds: Kind[]): fc.Arbitrary<unknown[]> {
  return fc.tuple(fc.tuple(...kinds.map((kind) => ARGUMENT[kind])), fc.integer({ min: 0, max: 9 }), fc.nat()).map(([args, shape, cut]) => {
    if (shape === 0) return args.slice(0, cut % (args.length + 1));
    if (shape === 1) return [...args, 1];
    return args;
  });
}

/** Calls `fn` with the materialised arguments; fails the case unless it returns or throws a clean TypeError / RangeError naming `name`. */
function callCleanly(name: string, fn: (...args: unknown[]) => unknown, args: unknown[]): void {
  const buffers = args.map((arg) => (arg instanceof BufferSpec ? guarded(arg) : undefined));
  const materialised = args.map((arg, i) => buffers[i]?.view ?? arg);
  try {
    fn(...materialised);
  } catch (error) {
    // Compared by name: errors thrown by the addon come from Node's main realm, not jest's.
    const { name: kind, message } = error as Error;
    if ((kind !== 'TypeError' && kind !== 'RangeError') || !String(message).startsWith(`${name}: `)) {
      throw new Error(`${name} threw ${kind}: ${message}`);
    }
  }
  buffers.forEach((b, i) => {
    if (b && !b.intact()) throw new Error(`${name} wrote outside argument ${i}`);
  });
}

/** One seeded property per function of `functions()` (called in the tests, not at collection). */
function fuzzEach(functions: () => Record<string, unknown>, signatures: Record<string, Kind[]>): void {
  test('every function has a signature to fuzz', () => {
    const all = functions();
    const names = Object.keys(all).filter((name) => typeof all[name] === 'function');
    expect(names.sort()).toEqual(Object.keys(signatures).sort());
  });
  for (const [name, kinds] of Object.entries(signatures)) {
    test(`${name}: ${RUNS_PER_FUNCTION} random argument lists give a result or a clean TypeError / RangeError`, () => {
      const fn = functions()[name] as (...args: unknown[]) => unknown;
      fc.assert(
        fc.property(argumentList(kinds), (args) => callCleanly(name, fn, args)),
        { seed: SEED, numRuns: RUNS_PER_FUNCTION },
      );
    });
  }
}

const backendSignatures: Record<string, Kind[]> = Object.fromEntries(
  Object.entries(SIGNATURES).map(([name, params]) => [name, params.map(([, kind]) => kind)]),
);

describe('fuzz: TypeScript backend kernels', () => {
  const ts = getBackend('ts');
  fuzzEach(() => ts as unknown as Record<string, unknown>, backendSignatures);
});

// ---------------------------------------------------------------------------------------------
// The convolution, pooling and batch-norm kernels take a dozen sizes, so random argument lists
// rarely pass validation. Here every call does: sizes small, zero or huge (a huge one only beside
// a zero partner, where every buffer stays short), strides and paddings anywhere up to 2^53,
// buffers exactly as long as the sizes need. The kernel must return (or refuse an argmax value)
// promptly, without writing outside its buffers.

type Sizes = Record<string, number>;

/** Elements of a tensor: 0 when any size is 0, whatever the others. */
const count = (...sizes: number[]): number => (sizes.includes(0) ? 0 : sizes.reduce((a, b) => a * b, 1));
const X = (s: Sizes) => count(s.n, s.c, s.h, s.w);
const Y = (s: Sizes) => count(s.n, s.f, s.oh, s.ow);
const W = (s: Sizes) => count(s.f, s.c, s.kh, s.kw);
const POOLED = (s: Sizes) => count(s.n, s.c, s.oh, s.ow);
const BN = (s: Sizes) => count(s.n, s.c, s.s);
const C = (s: Sizes) => s.c;

/** What each buffer of a geometry kernel needs, by name. */
const NEEDS: Partial<Record<string, Record<string, (s: Sizes) => number>>> = {
  conv2d: { x: X, weight: W, bias: (s) => s.f, y: Y },
  conv2dBackwardData: { dy: Y, weight: W, dx: X },
  conv2dBackwardFilter: { x: X, dy: Y, dWeight: W, dBias: (s) => s.f },
  maxPool2d: { x: X, y: POOLED, argmax: POOLED },
  maxPool2dBackward: { dy: POOLED, argmax: POOLED, dx: X },
  batchNormTrain: { x: BN, weight: C, bias: C, runningMean: C, runningVar: C, y: BN, saved: (s) => 2 * s.c },
  batchNormInfer: { x: BN, weight: C, bias: C, runningMean: C, runningVar: C, y: BN },
  batchNormBackward: { x: BN, dy: BN, weight: C, saved: (s) => 2 * s.c, dx: BN, dWeight: C, dBias: C },
  // One map per image; blur of 1, 3 or 5 taps (its values may be NaN: the definition's path).
  augment: { x: X, y: X, transforms: (s) => 6 * s.n, blur: (s) => 2 * (s.h % 3) + 1 },
};

const HUGE = fc.constantFrom(2 ** 31, 2 ** 50, 2 ** 53, Number.MAX_VALUE);
const geometrySize = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 5 }) }, { weight: 1, arbitrary: HUGE });
const step = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 31, 2 ** 53) });
const padding = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 31, 2 ** 53) });
const SIZE_OF: Record<string, fc.Arbitrary<number>> = { stride: step, size: step, padTop: padding, padLeft: padding };

/** Longest buffer a case may need; longer cases are skipped. */
const MAX_ELEMENTS = 4096;

/** A valid argument list of a geometry kernel, buffers as BufferSpecs (argmax values sometimes one past the plane). */
function validGeometryCall(kernel: string): fc.Arbitrary<unknown[]> {
  const params = SIGNATURES[kernel as keyof typeof SIGNATURES];
  const needs = NEEDS[kernel]!;
  const sizeNames = params.filter(([, kind]) => kind === 'size').map(([name]) => name);
  return fc.tuple(fc.tuple(...sizeNames.map((name) => SIZE_OF[name] ?? geometrySize)), fc.constantFrom(0, 0.1, 1), fc.nat())
    .map(([values, scalar, seed]) => {
      const sizes: Sizes = Object.fromEntries(sizeNames.map((name, i) => [name, values[i]]));
      if (kernel === 'maxPool2d') {
        sizes.oh = Math.min(sizes.oh, sizes.h === 0 ? 0 : Math.floor((sizes.h - 1) / sizes.stride) + 1);
        sizes.ow = Math.min(sizes.ow, sizes.w === 0 ? 0 : Math.floor((sizes.w - 1) / sizes.stride) + 1);
      }
      return { sizes, scalar, seed };
    })
    .filter(({ sizes }) => Object.values(needs).every((need) => need(sizes) <= MAX_ELEMENTS))
    .map(({ sizes, scalar, seed }) => {
      const next = rng(seed);
      return params.map(([name, kind]) => {
        if (kind === 'size') return sizes[name];
        if (kind === 'num') return scalar;
        const length = needs[name](sizes);
        if (kind === 'u32') {
          const plane = count(sizes.h, sizes.w);
          return new BufferSpec('Uint32Array', Array.from({ length }, () => Math.floor(next() * (plane + 0.01))));
        }
        return new BufferSpec('Float32Array', Array.from({ length }, () => (next() < 0.02 ? NaN : 8 * next() - 4)));
      });
    });
}

/** One seeded property per geometry kernel of `backend()`. */
function fuzzGeometry(backend: () => Record<string, unknown>): void {
  for (const kernel of Object.keys(NEEDS)) {
    test(`${kernel}: ${RUNS_PER_FUNCTION} valid calls with zero, huge and extreme sizes return promptly within their buffers`, () => {
      const fn = backend()[kernel] as (...args: unknown[]) => unknown;
      fc.assert(fc.property(validGeometryCall(kernel), (args) => callCleanly(kernel, fn, args)), { seed: SEED, numRuns: RUNS_PER_FUNCTION });
    });
  }
}

describe('fuzz: TypeScript geometry kernels, valid sizes', () => {
  fuzzGeometry(() => getBackend('ts') as unknown as Record<string, unknown>);
});

describeNative('fuzz: native geometry kernels, valid sizes', () => {
  fuzzGeometry(() => nativeBinding() as unknown as Record<string, unknown>);
});

describeNative('fuzz: native addon functions', () => {
  // The raw addon exports two functions the Backend does not: the reference gemm and build info.
  const signatures = { ...backendSignatures, gemmReference: backendSignatures.gemm, nativeInfo: [] };
  let threads = 1;
  beforeAll(() => {
    threads = nativeBinding().getThreads();
  });
  afterAll(() => {
    nativeBinding().setThreads(threads);
  });
  // fmaPeak(seconds) runs for the seconds it is given (up to 10): fuzzed, it would run for minutes.
  // Its argument check is tested below instead.
  fuzzEach(() => {
    const { fmaPeak: _timed, ...rest } = nativeBinding();
    return rest as unknown as Record<string, unknown>;
  }, signatures);

  test('fmaPeak measures for a moment and refuses a duration outside (0, 10] by name', () => {
    const { fmaPeak } = nativeBinding();
    expect(fmaPeak(0.01)).toBeGreaterThan(0);
    for (const bad of [0, -1, 11, NaN]) expect(thrown(() => fmaPeak(bad))).toEqual({ name: 'RangeError', message: `fmaPeak: seconds must be in (0, 10], got ${bad}` });
    expect(thrown(() => fmaPeak('1' as never))).toEqual({ name: 'TypeError', message: 'fmaPeak: seconds must be a number' });
  });
});
