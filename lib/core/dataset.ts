import { formatShape, shapeSize, type Shape } from './shape';

/**
 * Labelled samples: what every loader produces (MNIST, `fromArrays`) and what training and
 * evaluation take. Sample i is `inputs[i * size, (i + 1) * size)` with size the product of `shape`.
 */
export interface Dataset {
  /** Bytes 0..255 (pixels, scaled by 1/255 when read) or floats (used as they are). */
  inputs: Uint8Array | Float32Array;
  /** The class of each sample, 0-based. */
  labels: Uint8Array | Uint16Array;
  /** Number of samples. */
  count: number;
  /** One sample's shape: `[features]` or `[channels, height, width]`. */
  shape: Shape;
}

/** Pixels are bytes 0..255; the network sees them scaled to [0, 1]. */
export const PIXEL_SCALE = 1 / 255;

/** Most classes a label array can name: labels are at most 16-bit. */
export const MAX_CLASSES = 65536;

/** A label array for `count` samples of `classes` classes: bytes when they suffice, else 16-bit. */
export function labelArray(classes: number, count: number): Uint8Array | Uint16Array {
  return classes <= 256 ? new Uint8Array(count) : new Uint16Array(count);
}

/** The Object.prototype.toString tag of a value ('Uint8Array', ...): typed arrays from any realm. */
export function typeTag(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

/**
 * Throws unless `data` is a well-formed dataset (array kinds, lengths, shape; float inputs
 * finite); `where` starts the message. Labels are checked against a class count by the network.
 */
export function checkDataset(data: Dataset, where: string): void {
  if (typeof data !== 'object' || data === null) throw new TypeError(`${where}: expected a dataset ({ inputs, labels, count, shape }), got ${String(data)}`);
  const inputs = typeTag(data.inputs);
  const labels = typeTag(data.labels);
  if (inputs !== 'Uint8Array' && inputs !== 'Float32Array') throw new TypeError(`${where}: inputs must be a Uint8Array or Float32Array, got ${inputs}`);
  if (labels !== 'Uint8Array' && labels !== 'Uint16Array') throw new TypeError(`${where}: labels must be a Uint8Array or Uint16Array, got ${labels}`);
  if (!Number.isSafeInteger(data.count) || data.count < 0) throw new RangeError(`${where}: count must be an integer >= 0, got ${data.count}`);
  const valid = Array.isArray(data.shape) && data.shape.length > 0 && data.shape.every((n) => Number.isSafeInteger(n) && n > 0);
  if (!valid) throw new RangeError(`${where}: shape must be a list of positive integers, got ${JSON.stringify(data.shape)}`);
  const size = shapeSize(data.shape);
  if (data.inputs.length < data.count * size || data.labels.length < data.count) {
    throw new RangeError(
      `${where}: dataset says ${data.count} samples of ${formatShape(data.shape)} but holds ${data.inputs.length} input values and ${data.labels.length} labels`,
    );
  }
  if (inputs === 'Float32Array') {
    const values = data.inputs.subarray(0, data.count * size);
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new RangeError(`${where}: inputs[${i}] (sample ${Math.floor(i / size)}, value ${i % size}) is ${values[i]}; inputs must be finite`);
    }
  }
}

/** Samples [start, end) of `data`, sharing its memory. */
function sliceDataset(data: Dataset, start: number, end: number): Dataset {
  const size = shapeSize(data.shape);
  return { inputs: data.inputs.subarray(start * size, end * size), labels: data.labels.subarray(start, end), count: end - start, shape: data.shape };
}

/**
 * `data` with its last `fraction` (0 < fraction < 1) of samples, as stored, held back: both parts
 * share its memory. Throws a RangeError starting with `where` unless each part keeps a sample.
 */
export function splitDataset(data: Dataset, fraction: number, where: string): { train: Dataset; validation: Dataset } {
  const held = Math.round(data.count * fraction);
  if (held < 1 || held >= data.count) {
    throw new RangeError(`${where}: validationSplit ${fraction} of ${data.count} samples holds back ${held}; it must leave at least one sample on each side`);
  }
  return { train: sliceDataset(data, 0, data.count - held), validation: sliceDataset(data, data.count - held, data.count) };
}

/** One more than the largest of the first `count` labels (a loop: spreading 700K labels into Math.max overflows the stack). */
export function classCount(labels: ArrayLike<number>, count = labels.length): number {
  let largest = -1;
  for (let i = 0; i < count; i++) if (labels[i] > largest) largest = labels[i];
  return largest + 1;
}

/**
 * The samples of `a` and `b` (same shape and input kind) in one dataset, `b`'s spread evenly
 * among `a`'s, so that every prefix (a `limit`) holds both in proportion.
 */
export function interleaveDatasets(a: Dataset, b: Dataset, where: string): Dataset {
  checkDataset(a, where);
  checkDataset(b, where);
  if (formatShape(a.shape) !== formatShape(b.shape) || typeTag(a.inputs) !== typeTag(b.inputs)) {
    throw new RangeError(`${where}: cannot interleave samples of ${formatShape(a.shape)} ${typeTag(a.inputs)} with ${formatShape(b.shape)} ${typeTag(b.inputs)}`);
  }
  const size = shapeSize(a.shape);
  const count = a.count + b.count;
  const inputs = typeTag(a.inputs) === 'Uint8Array' ? new Uint8Array(count * size) : new Float32Array(count * size);
  const labels = labelArray(Math.max(classCount(a.labels, a.count), classCount(b.labels, b.count)), count);
  let i = 0;
  let j = 0;
  for (let k = 0; k < count; k++) {
    // Take from b while it is behind a in its share of the samples given.
    const fromB = j < b.count && (i === a.count || (j + 1) * a.count <= (i + 1) * b.count);
    const [source, index] = fromB ? [b, j++] : [a, i++];
    inputs.set(source.inputs.subarray(index * size, (index + 1) * size), k * size);
    labels[k] = source.labels[index];
  }
  return { inputs, labels, count, shape: a.shape };
}
