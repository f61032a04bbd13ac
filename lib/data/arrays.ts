import { checkDataset, labelArray, MAX_CLASSES, typeTag, type Dataset } from '../core/dataset';
import { formatShape, shapeSize, toShape, type Shape } from '../core/shape';

/** Options of `fromArrays`. */
export interface FromArraysOptions {
  /** One sample's shape: features, or [channels, height, width]. Default: inferred from nested samples, else [values per sample]. */
  shape?: number | number[];
}

/** A sample as nested arrays: [features], [rows][cols] (one channel) or [channels][rows][cols]. */
type Nested = number[] | number[][] | number[][][];

/**
 * A dataset from plain arrays, for any data that is not MNIST. `x` holds every sample's values:
 * one flat array (a `Float32Array` and a `Uint8Array` are used as they are, without a copy; a
 * `Uint8Array` holds pixels 0..255, scaled by 1/255 when read, as MNIST's; other numbers become
 * float32), or an array of samples, each flat or nested. `y` holds one integer class per sample,
 * 0-based, below 65536 (stored in bytes when every label fits). Throws a RangeError naming the
 * first bad value.
 */
export function fromArrays(x: ArrayLike<number> | readonly Nested[], y: ArrayLike<number>, options: FromArraysOptions = {}): Dataset {
  const count = y?.length;
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`fromArrays: y must be a non-empty array of labels, got ${describe(y)}`);
  const labels = toLabels(y, count);
  const nested = Array.isArray(x) && x.length > 0 && Array.isArray(x[0]);
  let shape: Shape | undefined = options.shape === undefined ? undefined : toShape(options.shape, 'fromArrays: shape');
  let inputs: Uint8Array | Float32Array;
  if (nested) {
    const samples = x as readonly Nested[];
    if (samples.length !== count) throw new RangeError(`fromArrays: x has ${samples.length} samples, y has ${count} labels`);
    const inferred = nestedShape(samples[0]);
    shape ??= inferred;
    if (shapeSize(shape) !== shapeSize(inferred)) throw new RangeError(`fromArrays: shape ${formatShape(shape)} does not fit sample 0, which is ${formatShape(inferred)}`);
    const size = shapeSize(shape);
    inputs = new Float32Array(count * size);
    samples.forEach((sample, i) => {
      const flat = (sample as unknown[]).flat(2) as unknown[];
      if (flat.length !== size) throw new RangeError(`fromArrays: x[${i}] has ${flat.length} values, sample 0 has ${size}`);
      flat.forEach((value, j) => (inputs[i * size + j] = finite(value, `x[${i}] value ${j}`)));
    });
  } else {
    const flat = x as ArrayLike<number>;
    if (typeof flat !== 'object' || flat === null || !Number.isSafeInteger(flat.length)) throw new TypeError(`fromArrays: x must be an array or typed array of numbers, got ${describe(x)}`);
    if (shape === undefined) {
      if (flat.length === 0 || flat.length % count !== 0) throw new RangeError(`fromArrays: x has ${flat.length} values for ${count} labels, not a whole number per sample`);
      shape = [flat.length / count];
    }
    const size = shapeSize(shape);
    if (flat.length !== count * size) {
      throw new RangeError(`fromArrays: x has ${flat.length} values, ${count} samples of ${formatShape(shape)} need ${count * size}`);
    }
    const tag = typeTag(flat);
    inputs = tag === 'Uint8Array' || tag === 'Float32Array' ? (flat as Uint8Array | Float32Array) : Float32Array.from(flat, (value, i) => finite(value, `x[${i}]`));
  }
  const data = { inputs, labels, count, shape };
  checkDataset(data, 'fromArrays');
  return data;
}

/** `y` as a label array: shared when it already is one, else converted after every label is checked. */
function toLabels(y: ArrayLike<number>, count: number): Uint8Array | Uint16Array {
  const tag = typeTag(y);
  if (tag === 'Uint8Array' || tag === 'Uint16Array') return y as Uint8Array | Uint16Array;
  let largest = 0;
  for (let i = 0; i < count; i++) {
    const label = y[i];
    if (!Number.isInteger(label) || label < 0 || label >= MAX_CLASSES) {
      throw new RangeError(`fromArrays: y[${i}] is ${describe(label)}; labels must be integers in [0, ${MAX_CLASSES - 1}]`);
    }
    if (label > largest) largest = label;
  }
  const labels = labelArray(largest + 1, count);
  for (let i = 0; i < count; i++) labels[i] = y[i];
  return labels;
}

/** The shape of a nested sample: [n] for a flat one, [1, rows, cols] for rows of values, [c, rows, cols] for channels of rows. */
function nestedShape(sample: Nested): Shape {
  const dims: number[] = [];
  for (let level: unknown = sample; Array.isArray(level); level = level[0]) dims.push(level.length);
  if (dims.length === 2) dims.unshift(1);
  return toShape(dims, 'fromArrays: the shape of x[0]');
}

/** `value` if it is a finite number, else a RangeError naming where it is. */
function finite(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`fromArrays: ${where} is ${describe(value)}; inputs must be finite numbers`);
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null) return typeTag(value);
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
