/**
 * Argument validation for the TypeScript backend. The native addon throws the same messages
 * (test/12.validation.test.ts compares them), so the wording here is part of the contract:
 *
 *   TypeError  `${kernel}: ${arg} must be a Float32Array` (a Uint8Array, a Uint32Array, a boolean,
 *              a number, a string)
 *   TypeError  `${kernel}: ${arg} must be an integer`            (sizes, leading dimensions, offsets,
 *                                                                counts, Adam's t, thread counts)
 *   RangeError `${kernel}: ${arg} must be >= ${min}, got ${value}`
 *   RangeError `${kernel}: ${arg} has ${length} elements, needs at least ${needed}`
 *   RangeError `${kernel}: unknown activation '${name}'`
 *   RangeError `softmaxCrossEntropy: labels[${r}] is ${v}, must be < cols (${cols})`
 *   RangeError `gatherRows: indices[${i}] is ${v}, src has ${rowsInSrc} rows`
 *
 * The minimum of a size is 0; of a leading dimension max(1, row length of the stored matrix);
 * of Adam's t and of a thread count 1.
 * Kernels check every argument before doing any work, in argument order; a buffer's length is
 * checked as soon as every size it depends on has been checked (for gemm: right after its
 * leading dimension). The checks run on every call in hot loops, so they are plain comparisons;
 * a message is only built when a check fails.
 */
import { types } from 'node:util';
import { ACTIVATIONS } from '../backend';

// `instanceof` is the fast path; `util.types` recognises typed arrays made in another realm
// (Node's own Buffers seen from a jest sandbox, a vm context), which the addon also accepts.

export function checkF32(kernel: string, arg: string, x: unknown): void {
  if (!(x instanceof Float32Array) && !types.isFloat32Array(x)) {
    throw new TypeError(`${kernel}: ${arg} must be a Float32Array`);
  }
}

export function checkU8(kernel: string, arg: string, x: unknown): void {
  if (!(x instanceof Uint8Array) && !types.isUint8Array(x)) {
    throw new TypeError(`${kernel}: ${arg} must be a Uint8Array`);
  }
}

export function checkU32(kernel: string, arg: string, x: unknown): void {
  if (!(x instanceof Uint32Array) && !types.isUint32Array(x)) {
    throw new TypeError(`${kernel}: ${arg} must be a Uint32Array`);
  }
}

export function checkBool(kernel: string, arg: string, x: unknown): void {
  if (typeof x !== 'boolean') throw new TypeError(`${kernel}: ${arg} must be a boolean`);
}

/** A scalar (alpha, beta, lr, scale, slope, factor, ...): any number, NaN included. */
export function checkNum(kernel: string, arg: string, x: unknown): void {
  if (typeof x !== 'number') throw new TypeError(`${kernel}: ${arg} must be a number`);
}

/** A size, leading dimension, offset, count, step or thread count: a finite integer >= min. */
export function checkInt(kernel: string, arg: string, x: unknown, min: number): void {
  if (!Number.isInteger(x)) throw new TypeError(`${kernel}: ${arg} must be an integer`);
  if ((x as number) < min) throw new RangeError(`${kernel}: ${arg} must be >= ${min}, got ${x as number}`);
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

/** A stored rows x cols matrix with leading dimension ld: the last row ends at (rows-1)*ld + cols. */
export function checkMatrixLen(
  kernel: string, arg: string, x: ArrayLike<number>, rows: number, cols: number, ld: number,
): void {
  checkLen(kernel, arg, x, rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
}

export function checkActivation(kernel: string, arg: string, x: unknown): void {
  if (typeof x !== 'string') throw new TypeError(`${kernel}: ${arg} must be a string`);
  if (!(ACTIVATIONS as readonly string[]).includes(x)) {
    throw new RangeError(`${kernel}: unknown activation '${x}'`);
  }
}

/** Every label of the first `rows` is a class index < cols. */
export function checkLabels(kernel: string, rows: number, cols: number, labels: Uint8Array): void {
  for (let r = 0; r < rows; r++) {
    const v = labels[r];
    if (v >= cols) throw new RangeError(`${kernel}: labels[${r}] is ${v}, must be < cols (${cols})`);
  }
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
    if (v >= rowsInSrc) throw new RangeError(`${kernel}: indices[${i}] is ${v}, src has ${rowsInSrc} rows`);
  }
}
