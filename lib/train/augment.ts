/**
 * Data augmentation in training (`fit({ augment })`): each training image of each step is drawn
 * afresh through a random affine map (shift, rotation, scale, shear) and an elastic distortion
 * (Simard, Steinkraus and Platt 2003), computed by the backend's `augment` kernel in the training
 * worker, on the fly. The random parameters of a chunk come from a generator seeded with the
 * chunk's key, a function of the fit's seed, the step and the chunk's offset alone (as dropout's
 * noise), so a resumed run augments exactly as an uninterrupted one, and both backends see the
 * same maps (the sines, cosines and Gaussian taps are computed here, once, in JavaScript).
 */
import { getBackend } from '../backend';
import type { Backend, BackendName } from '../backend/contract';
import { checkSeed, hash32, Random } from '../core/random';
import { formatShape, type Shape } from '../core/shape';
import { MAX_CHUNK_ROWS } from '../model/network';
import type { AugmentOptions, AugmentPlan } from './types';

/** The defaults, chosen on MNIST: digits stay recognisable and mostly inside the 28 x 28 frame. */
export const AUGMENT_DEFAULTS: Readonly<AugmentPlan> = Object.freeze({
  shift: 2,
  rotate: 12,
  scale: [0.9, 1.1] as [number, number],
  shear: 0.15,
  elastic: { alpha: 34, sigma: 4 },
});

/** The largest sigma accepted: its filter has 2 ceil(3 sigma) + 1 taps. */
const MAX_SIGMA = 32;

const KEYS = ['shift', 'rotate', 'scale', 'shear', 'elastic'];

/**
 * `fit`'s `augment` option as a plan: undefined for `undefined` or `false`, the defaults for
 * `true`, an object's fields over the defaults. Throws a TypeError or RangeError that names the field.
 */
export function resolveAugment(value: unknown, where = 'fit'): AugmentPlan | undefined {
  if (value === undefined || value === false) return undefined;
  const defaults = (): AugmentPlan => ({ ...AUGMENT_DEFAULTS, scale: [...AUGMENT_DEFAULTS.scale], elastic: { alpha: 34, sigma: 4 } });
  if (value === true) return defaults();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${where}: augment must be true, false or an options object, got ${describe(value)}`);
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KEYS.includes(key)) throw new RangeError(`${where}: augment has no option '${key}' (options: ${KEYS.join(', ')})`);
  }
  const plan = defaults();
  const number = (key: string, v: unknown, max = Infinity): number => {
    if (typeof v !== 'number' || !(v >= 0 && v <= max)) {
      throw new RangeError(`${where}: augment.${key} must be a number in [0, ${max}], got ${describe(v)}`);
    }
    return v;
  };
  if (o.shift !== undefined) plan.shift = number('shift', o.shift, 1e6);
  if (o.rotate !== undefined) plan.rotate = number('rotate', o.rotate, 180);
  if (o.shear !== undefined) plan.shear = number('shear', o.shear, 10);
  if (o.scale !== undefined) plan.scale = scaleRange(o.scale, where);
  if (o.elastic !== undefined) {
    if (o.elastic === false) {
      plan.elastic = false;
    } else if (typeof o.elastic === 'object' && o.elastic !== null && !Array.isArray(o.elastic)) {
      const e = o.elastic as Record<string, unknown>;
      for (const key of Object.keys(e)) {
        if (key !== 'alpha' && key !== 'sigma') throw new RangeError(`${where}: augment.elastic has no option '${key}' (options: alpha, sigma)`);
      }
      plan.elastic = {
        alpha: e.alpha === undefined ? 34 : number('elastic.alpha', e.alpha, 1e6),
        sigma: e.sigma === undefined ? 4 : number('elastic.sigma', e.sigma, MAX_SIGMA),
      };
    } else {
      throw new TypeError(`${where}: augment.elastic must be false or { alpha, sigma }, got ${describe(o.elastic)}`);
    }
  }
  return plan;
}

function scaleRange(v: unknown, where: string): [number, number] {
  if (typeof v === 'number') {
    if (!(v >= 0 && v < 1)) throw new RangeError(`${where}: augment.scale as a number is the largest relative change, in [0, 1), got ${v}`);
    return [1 - v, 1 + v];
  }
  if (Array.isArray(v) && v.length === 2 && v.every((s) => typeof s === 'number' && s > 0 && s <= 100) && v[0] <= v[1]) {
    return [v[0], v[1]];
  }
  throw new RangeError(`${where}: augment.scale must be [min, max] with 0 < min <= max <= 100, or a number in [0, 1), got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * The image shape augmentation works on: the network's input when it is [c, h, w], else the
 * dataset's samples when they are; throws a RangeError when neither is an image.
 */
export function augmentShape(networkInput: Shape, samples: Shape, where = 'fit'): [number, number, number] {
  for (const shape of [networkInput, samples]) if (shape.length === 3) return [shape[0], shape[1], shape[2]];
  throw new RangeError(
    `${where}: augment needs image-shaped samples ([channels, height, width]); the network takes ${formatShape(networkInput)} ` +
      `and the dataset's samples are ${formatShape(samples)} (create the network with input [c, h, w], or give the dataset a shape)`,
  );
}

/** Normalized Gaussian taps of standard deviation sigma, radius ceil(3 sigma): [1] for sigma 0. */
export function gaussianTaps(sigma: number): Float32Array {
  const radius = Math.ceil(3 * sigma);
  if (radius === 0) return Float32Array.of(1);
  const taps = Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)));
  const sum = taps.reduce((a, b) => a + b, 0);
  return Float32Array.from(taps, (t) => t / sum);
}

/** The stream of augmentation keys, apart from dropout's (which uses the chunk's noise itself). */
const AUGMENT_STREAM = 0x61756721;

/** The key of a chunk's augmentation from its dropout noise (a function of seed, step and offset). */
export function augmentKey(noise: number): number {
  return hash32(noise, AUGMENT_STREAM);
}

/**
 * Each image's inverse map for `rows` images from the generator of `key`: the forward map moves a
 * digit about the image's centre by A = rotation(theta) * shear(k) * scale(s), then by (tx, ty);
 * the kernel needs the way back, source = A^-1 (out - centre - t) + centre. Five uniforms per
 * image in that order (theta, s, k, tx, ty), drawn whatever the ranges (a range of 0 draws 0).
 * Returns the field's key, the generator's next word.
 */
export function drawMaps(plan: AugmentPlan, key: number, rows: number, out: Float32Array): number {
  const rng = new Random(key);
  const radians = (plan.rotate * Math.PI) / 180;
  const [lo, hi] = plan.scale;
  const between = (a: number) => (2 * rng.uniform() - 1) * a;
  for (let r = 0; r < rows; r++) {
    const theta = between(radians);
    const s = lo + rng.uniform() * (hi - lo);
    const k = between(plan.shear);
    const tx = between(plan.shift);
    const ty = between(plan.shift);
    const cos = Math.cos(theta), sin = Math.sin(theta);
    // A = [[cos, -sin], [sin, cos]] [[1, k], [0, 1]] [[s, 0], [0, s]]; det A = s^2.
    const a00 = cos * s, a01 = (cos * k - sin) * s, a10 = sin * s, a11 = (sin * k + cos) * s;
    const det = s * s;
    const m00 = a11 / det, m01 = -a01 / det, m10 = -a10 / det, m11 = a00 / det;
    const at = 6 * r;
    out[at] = m00;
    out[at + 1] = m01;
    out[at + 2] = m10;
    out[at + 3] = m11;
    out[at + 4] = -(m00 * tx + m01 * ty);
    out[at + 5] = -(m10 * tx + m11 * ty);
  }
  return rng.nextU32();
}

/**
 * Augments chunks of images in place: draws the maps, runs the backend's kernel into its own
 * buffer and copies the result back. Holds buffers for up to `maxRows` images.
 */
export class Augmenter {
  private readonly maps: Float32Array;
  private readonly out: Float32Array;
  private readonly blur: Float32Array;
  private readonly alpha: number;
  private readonly size: number;
  /** Seconds spent in `apply` since the last `takeSeconds`. */
  private seconds = 0;

  constructor(readonly plan: AugmentPlan, readonly shape: readonly [number, number, number], maxRows: number) {
    this.size = shape[0] * shape[1] * shape[2];
    this.maps = new Float32Array(6 * maxRows);
    this.out = new Float32Array(this.size * maxRows);
    this.alpha = plan.elastic ? plan.elastic.alpha : 0;
    this.blur = plan.elastic && this.alpha !== 0 ? gaussianTaps(plan.elastic.sigma) : Float32Array.of(1);
  }

  /** Replaces the first `rows` images of x (rows <= maxRows) by their augmented versions for `key`. */
  apply(backend: Backend, rows: number, x: Float32Array, key: number): void {
    const started = performance.now();
    const [c, h, w] = this.shape;
    const fieldKey = drawMaps(this.plan, key, rows, this.maps);
    const values = rows * this.size;
    backend.augment(rows, c, h, w, x, this.out, this.maps, fieldKey, this.alpha, this.blur);
    x.set(this.out.subarray(0, values));
    this.seconds += (performance.now() - started) / 1000;
  }

  /** The seconds spent augmenting since the last call, and a fresh count. */
  takeSeconds(): number {
    const s = this.seconds;
    this.seconds = 0;
    return s;
  }
}

/** Options of `augmentImages`. */
export interface AugmentImagesOptions {
  /** The augmentation (default `true`: `AUGMENT_DEFAULTS`). */
  augment?: true | AugmentOptions;
  /** As fit's seed (default 1): the images come out as the first chunk of fit's first step would draw them. */
  seed?: number;
  /** The backend that runs the kernel (default: the default backend); both give the same bits. */
  backend?: Backend | BackendName;
}

/**
 * Augmented copies of the first `count` images of `shape` ([c, h, w]) in `images` (floats, scaled
 * as the network's input), drawn as `fit({ augment, seed })` draws the first chunk of its first
 * step: for looking at what a setting does to the data. Returns a new Float32Array.
 */
export function augmentImages(images: Float32Array, count: number, shape: Shape, options: AugmentImagesOptions = {}): Float32Array {
  const where = 'augmentImages';
  const plan = resolveAugment(options.augment ?? true, where) as AugmentPlan;
  const [c, h, w] = augmentShape(shape, shape, where);
  const size = c * h * w;
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`${where}: count must be an integer >= 0, got ${count}`);
  if (!(images instanceof Float32Array) || images.length < count * size) {
    throw new RangeError(`${where}: images must be a Float32Array of at least count x ${size} = ${count * size} values`);
  }
  const seed = checkSeed(options.seed ?? 1, where);
  const backend = typeof options.backend === 'object' ? options.backend : getBackend(options.backend);
  const x = images.slice(0, count * size);
  for (let offset = 0; offset < count; offset += MAX_CHUNK_ROWS) {
    // Chunks of fit's size, keyed as fit keys them (step 0).
    const rows = Math.min(MAX_CHUNK_ROWS, count - offset);
    new Augmenter(plan, [c, h, w], rows).apply(backend, rows, x.subarray(offset * size), augmentKey(hash32(hash32(seed, 0), offset)));
  }
  return x;
}
