/**
 * Argument validation for the TypeScript backend. The native addon throws the same messages
 * (test/12.validation.test.ts compares them), so the wording here is part of the contract:
 *
 *   TypeError  `${kernel}: ${arg} must be a Float32Array` (a Uint8Array, a Uint32Array, a boolean,
 *              a number, a string)
 *   TypeError  `softmaxCrossEntropy: labels must be a Uint8Array or Uint16Array`
 *   TypeError  `${kernel}: ${arg} must be an integer`            (sizes, leading dimensions, offsets,
 *                                                                counts, Adam's t, thread counts,
 *                                                                dropout's key)
 *   RangeError `${kernel}: ${arg} must be >= ${min}, got ${value}`
 *   RangeError `dropout: key must be <= 4294967295, got ${value}`
 *   RangeError `dropout: rate must be in [0, 1), got ${value}`   (NaN too; not a number: a TypeError)
 *   RangeError `${kernel}: ${arg} has ${length} elements, needs at least ${needed}`
 *   RangeError `${kernel}: unknown activation '${name}'`
 *   RangeError `${kernel}: ${arg} must be within float32 range (magnitude <= 3.4028234663852886e+38), got ${value}`
 *   RangeError `augment: alpha must be finite, within float32 range (magnitude <= 3.4028234663852886e+38), got ${value}`
 *   RangeError `augment: blur must have an odd number of elements (a centre tap), got ${length}`
 *   RangeError `gemm: c overlaps a (the product cannot be written over an operand)` (or b)
 *   RangeError `dropout: mask overlaps x (the mask needs memory of its own)` (or y)
 *   RangeError `${kernel}: ${output} overlaps ${input} (the output cannot be written over an input)`,
 *              checked in this order and for these pairs only:
 *                conv2d                y over x, y over weight, y over bias
 *                conv2dBackwardData    dx over dy, dx over weight
 *                conv2dBackwardFilter  dWeight over x, dWeight over dy, dBias over x, dBias over dy
 *                maxPool2d             y over x
 *                maxPool2dBackward     dx over dy
 *                batchNormTrain        y over x, saved over x, saved over y
 *                augment               y over x, y over transforms, y over blur
 *   RangeError `${kernel}: ${arg} must be <= ${max}, got ${value}`  (maxPool2d's oh and ow: no window
 *                                                                may be empty, so oh <= floor((h - 1) /
 *                                                                stride) + 1, 0 when h is 0; ow with w)
 *   RangeError `softmaxCrossEntropy: labels[${r}] is ${v}, must be < cols (${cols})`
 *   RangeError `gatherRows: indices[${i}] is ${v}, src has ${rowsInSrc} rows`
 *   RangeError `maxPool2dBackward: argmax[${i}] is ${v}, must be < h * w (${h * w})` (found as the
 *                                                                kernel reads it: dx may be partly written)
 *
 * The minimum of a size is 0; of a leading dimension max(1, row length of the stored matrix);
 * of Adam's t, a thread count, a convolution's or pool's stride and a pool's size 1.
 * Kernels check every argument before doing any work, in argument order; a buffer's length is
 * checked as soon as every size it depends on has been checked (for gemm: right after its
 * leading dimension). The checks run on every call in hot loops, so they are plain comparisons;
 * a message is only built when a check fails.
 */
import { ACTIVATIONS } from './contract';

// `instanceof` is the fast path; `arrayKind` recognises typed arrays made in another realm
// (Node's own Buffers seen from a jest sandbox, a vm context), which the addon also accepts.
// It is the typed arrays' own Symbol.toStringTag getter, which reads the internal slot (so no
// object can fake it) and works in browsers too.
const kindGetter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;
const arrayKind = (x: unknown): string | undefined => kindGetter.call(x);

export function checkF32(kernel: string, arg: string, x: unknown): void {
  if (!(x instanceof Float32Array) && arrayKind(x) !== 'Float32Array') {
    throw new TypeError(`${kernel}: ${arg} must be a Float32Array`);
  }
}

export function checkU8(kernel: string, arg: string, x: unknown): void {
  if (!(x instanceof Uint8Array) && arrayKind(x) !== 'Uint8Array') {
    throw new TypeError(`${kernel}: ${arg} must be a Uint8Array`);
  }
}

/** Class labels: bytes, or 16-bit when there are more than 256 classes. */
export function checkLabelArray(kernel: string, arg: string, x: unknown): void {
  if (!(x instanceof Uint8Array) && !(x instanceof Uint16Array) && arrayKind(x) !== 'Uint8Array' && arrayKind(x) !== 'Uint16Array') {
    throw new TypeError(`${kernel}: ${arg} must be a Uint8Array or Uint16Array`);
  }
}

export function checkU32(kernel: string, arg: string, x: unknown): void {
  if (!(x instanceof Uint32Array) && arrayKind(x) !== 'Uint32Array') {
    throw new TypeError(`${kernel}: ${arg} must be a Uint32Array`);
  }
}

export function checkBool(kernel: string, arg: string, x: unknown): void {
  if (typeof x !== 'boolean') throw new TypeError(`${kernel}: ${arg} must be a boolean`);
}

/** A scalar the kernel uses in double (gatherRows' scale): any number, NaN included. */
export function checkNum(kernel: string, arg: string, x: unknown): void {
  if (typeof x !== 'number') throw new TypeError(`${kernel}: ${arg} must be a number`);
}

/** Largest finite float32. */
const F32_MAX = 3.4028234663852886e38;

/**
 * A scalar the native kernel uses as a float (alpha, beta, lr, slope, ...): any number float
 * holds, NaN and the infinities included; a finite value beyond float's range is refused.
 */
export function checkFloat(kernel: string, arg: string, x: unknown): void {
  checkNum(kernel, arg, x);
  if (Math.abs(x as number) > F32_MAX && Number.isFinite(x)) {
    throw new RangeError(`${kernel}: ${arg} must be within float32 range (magnitude <= ${F32_MAX}), got ${x as number}`);
  }
}

/** A scalar that must be a finite float (augment's alpha): NaN, the infinities and values beyond float's range are refused. */
export function checkFiniteFloat(kernel: string, arg: string, x: unknown): void {
  checkNum(kernel, arg, x);
  if (!(Math.abs(x as number) <= F32_MAX)) {
    throw new RangeError(`${kernel}: ${arg} must be finite, within float32 range (magnitude <= ${F32_MAX}), got ${x as number}`);
  }
}

/** A size, leading dimension, offset, count, step, thread count or key: a finite integer in [min, max]. */
export function checkInt(kernel: string, arg: string, x: unknown, min: number, max = Infinity): void {
  if (!Number.isInteger(x)) throw new TypeError(`${kernel}: ${arg} must be an integer`);
  if ((x as number) < min) throw new RangeError(`${kernel}: ${arg} must be >= ${min}, got ${x as number}`);
  if ((x as number) > max) throw new RangeError(`${kernel}: ${arg} must be <= ${max}, got ${x as number}`);
}

/** A fraction in [0, 1) (dropout's rate): a number, NaN refused. */
export function checkFraction(kernel: string, arg: string, x: unknown): void {
  checkNum(kernel, arg, x);
  if (!((x as number) >= 0 && (x as number) < 1)) throw new RangeError(`${kernel}: ${arg} must be in [0, 1), got ${x as number}`);
}

/** A buffer (already type-checked) holds at least `needed` elements. */
export function checkLen(kernel: string, arg: string, x: ArrayLike<number>, needed: number): void {
  if (x.length < needed) {
    throw new RangeError(`${kernel}: ${arg} has ${x.length} elements, needs at least ${needed}`);
  }
}

/** A Float32Array of at least `needed` elements (the type is checked first). */
export function checkF32Len(kernel: string, arg: string, x: unknown, needed: number): void {
  checkF32(kernel, arg, x);
  checkLen(kernel, arg, x as Float32Array, needed);
}

/**
 * Elements of a tensor of sizes a x b x c x d: 0 when any size is 0, even where the others
 * overflow to Infinity (a plain product would give 0 * Infinity = NaN, which every length passes).
 */
export function elementCount(a: number, b: number, c: number, d = 1): number {
  return a === 0 || b === 0 || c === 0 || d === 0 ? 0 : a * b * c * d;
}

/** Elements a stored rows x cols matrix with leading dimension ld spans: its last row ends at (rows-1)*ld + cols. */
export function matrixSpan(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/** A stored rows x cols matrix with leading dimension ld fits in x. */
export function checkMatrixLen(
  kernel: string, arg: string, x: ArrayLike<number>, rows: number, cols: number, ld: number,
): void {
  checkLen(kernel, arg, x, matrixSpan(rows, cols, ld));
}

/**
 * `out` (written, `outElements` from its start) shares no memory with `input` (read, or also
 * written): the kernel would read or keep what it has already overwritten; `why` says so in the
 * message. Empty spans overlap nothing.
 */
export function checkDisjoint(
  kernel: string, out: string, outArray: Float32Array, outElements: number, input: string, inArray: Float32Array, inElements: number,
  why: string,
): void {
  if (outElements === 0 || inElements === 0 || outArray.buffer !== inArray.buffer) return;
  const outStart = outArray.byteOffset;
  const inStart = inArray.byteOffset;
  if (outStart < inStart + inElements * 4 && inStart < outStart + outElements * 4) {
    throw new RangeError(`${kernel}: ${out} overlaps ${input} (${why})`);
  }
}

/** An output that must not overlap `input` (the convolution, pooling and batch-norm kernels' refusal). */
export function checkOutputDisjoint(
  kernel: string, out: string, outArray: Float32Array, outElements: number, input: string, inArray: Float32Array, inElements: number,
): void {
  checkDisjoint(kernel, out, outArray, outElements, input, inArray, inElements, 'the output cannot be written over an input');
}

export function checkActivation(kernel: string, arg: string, x: unknown): void {
  if (typeof x !== 'string') throw new TypeError(`${kernel}: ${arg} must be a string`);
  if (!(ACTIVATIONS as readonly string[]).includes(x)) {
    throw new RangeError(`${kernel}: unknown activation '${x}'`);
  }
}

/** Every label of the first `rows` is a class index < cols. */
export function checkLabels(kernel: string, rows: number, cols: number, labels: Uint8Array | Uint16Array): void {
  for (let r = 0; r < rows; r++) {
    const v = labels[r];
    if (v >= cols) throw labelError(kernel, r, v, cols);
  }
}

/**
 * The error for labels[r] = v >= cols. The kernels also check the label they use, since a
 * SharedArrayBuffer may change between checkLabels and the kernel's own read.
 */
export function labelError(kernel: string, r: number, v: number, cols: number): RangeError {
  return new RangeError(`${kernel}: labels[${r}] is ${v}, must be < cols (${cols})`);
}

/** The error for indices[i] = v naming no row of src (checked again where used, like labels). */
export function indexError(kernel: string, i: number, v: number, rowsInSrc: number): RangeError {
  return new RangeError(`${kernel}: indices[${i}] is ${v}, src has ${rowsInSrc} rows`);
}

/**
 * Every index in indices[offset, offset + count) names a whole row of src. The message gives
 * the position in `indices` itself (offset included), the index found, and src's row count.
 */
export function checkIndices(
  kernel: string, src: Uint8Array, rowLen: number, indices: Uint32Array, offset: number, count: number,
): void {
  if (rowLen === 0) return; // zero-length rows: nothing is read, any index is harmless
  const rowsInSrc = Math.floor(src.length / rowLen);
  const end = offset + count;
  for (let i = offset; i < end; i++) {
    const v = indices[i];
    if (v >= rowsInSrc) throw indexError(kernel, i, v, rowsInSrc);
  }
}

/**
 * The error for argmax[i] = v naming no position of an input plane of h * w = planeSize values;
 * maxPool2dBackward checks each value as it reads it (argmax may be shared memory).
 */
export function argmaxError(kernel: string, i: number, v: number, planeSize: number): RangeError {
  return new RangeError(`${kernel}: argmax[${i}] is ${v}, must be < h * w (${planeSize})`);
}
