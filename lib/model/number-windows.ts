import { checkDataset, labelArray, typeTag, type Dataset } from '../core/dataset';
import { checkSeed, Random } from '../core/random';
import { inkLine, lineWindows, type InkLine } from '../image/line';
import { DIGIT_BOX, MNIST_SIDE } from '../image/place';
import { findPieces } from '../image/segment';
import { NOT_A_DIGIT } from './read-number';

/** Options of `numberWindows`. */
export interface NumberWindowsOptions {
  /** How many numbers to write (default 10000). */
  numbers?: number;
  /** Seed of the numbers' digits, layout and windows (default 1). */
  seed?: number;
}

/**
 * A window at least this far from every digit's centre (in pixels at MNIST's size) shows no digit
 * (class NOT_A_DIGIT). Windows labelled with a digit lie within 1.5 pixels of its centre (see
 * windowPlaces); those in between are neither and are not used. Measured with the reader preset
 * (seed 1) on the plain sets of bench/handwriting: labelling one window on each digit's edge with
 * the digit or NOT_A_DIGIT at even odds, with one more NOT_A_DIGIT 3-6 pixels off, read fewer
 * numbers exactly (a set of seed 1: at most 93.3%, with DIGIT_COST 4 and ON_DIGIT 0, against
 * 94.1%; 94.6% against 95.6% told the length); the windows 3-6 pixels off alone, as many (94.2%
 * of five sets, against 94.1%).
 */
const GARBAGE_DISTANCE = 3;

/**
 * Training windows for reading numbers: `numbers` numbers of 1 to 5 digits written with the 28x28
 * images of `digits` (white on black, as MNIST), found in the picture as `readNumber` finds them,
 * and cut into the 28x28 windows it slides along a number. A window centred (within 1.5 pixels)
 * on a digit is labelled with the digit; one at least 3 pixels from every digit's centre is
 * labelled NOT_A_DIGIT (10). The digits are moved apart by up to 10 pixels or made to overlap by
 * up to 5, scaled 0.8-1.2, slanted, set on a jittered baseline, and their strokes thinned or
 * thickened on some numbers, so that the network learns to read a digit among the strokes of its
 * neighbours.
 */
export function numberWindows(digits: Dataset, options: NumberWindowsOptions = {}): Dataset {
  checkDataset(digits, 'numberWindows');
  if (digits.shape.join('x') !== '1x28x28' && digits.shape.join('x') !== '784') {
    throw new RangeError(`numberWindows: digits must be 28x28 images, got shape ${JSON.stringify(digits.shape)}`);
  }
  if (digits.count === 0) throw new RangeError('numberWindows: digits holds no images');
  // Class NOT_A_DIGIT (10) is the windows' own: the digits must be 0-9.
  const label = digits.labels.subarray(0, digits.count).findIndex((l) => l >= NOT_A_DIGIT);
  if (label >= 0) throw new RangeError(`numberWindows: label ${label} is ${digits.labels[label]}; digits are labelled 0-9`);
  const numbers = options.numbers ?? 10000;
  if (!Number.isSafeInteger(numbers) || numbers < 1) throw new RangeError(`numberWindows: numbers must be a positive integer, got ${numbers}`);
  const rng = new Random(checkSeed(options.seed ?? 1, 'numberWindows'));
  const windows: Float32Array[] = [];
  const labels: number[] = [];
  for (let n = 0; n < numbers; n++) {
    const picks = Array.from({ length: 1 + int(rng, 5) }, () => int(rng, digits.count));
    const written = writeNumber(digits, picks, rng);
    const line = inkLine(findPieces(written.image, { polarity: 'light-on-dark' }));
    const { xs, classes } = windowPlaces(line, written.centres, picks.map((i) => digits.labels[i]), rng);
    windows.push(lineWindows(line, xs));
    labels.push(...classes);
  }
  const size = MNIST_SIDE * MNIST_SIDE;
  const inputs = new Uint8Array(labels.length * size);
  let at = 0;
  for (const w of windows) {
    for (let i = 0; i < w.length; i++) inputs[at + i] = Math.round(255 * w[i]);
    at += w.length;
  }
  const out = labelArray(NOT_A_DIGIT + 1, labels.length);
  out.set(labels);
  return { inputs, labels: out, count: labels.length, shape: [1, MNIST_SIDE, MNIST_SIDE] };
}

/**
 * Where to cut windows from a number and their classes: three around each digit's centre (a pixel
 * apart, each moved by up to half a pixel: all within 1.5), and some between and around the digits.
 */
function windowPlaces(line: InkLine, centres: number[], digitLabels: number[], rng: Random): { xs: number[]; classes: number[] } {
  const xs: number[] = [];
  const classes: number[] = [];
  centres.forEach((centre, k) => {
    for (const offset of [-1, 0, 1]) {
      xs.push(centre + (offset + rng.uniform() - 0.5) / line.scale);
      classes.push(digitLabels[k]);
    }
  });
  const margin = 8 / line.scale;
  for (let tries = 0, found = 0; tries < 40 && found < 2 * centres.length + 1; tries++) {
    const x = line.x0 - margin + rng.uniform() * (line.x1 - line.x0 + 2 * margin);
    if (centres.every((c) => Math.abs(x - c) * line.scale >= GARBAGE_DISTANCE)) {
      xs.push(x);
      classes.push(NOT_A_DIGIT);
      found++;
    }
  }
  return { xs, classes };
}

/**
 * Writes the digits `picks` of `digits` left to right on a black page, white ink (each pixel the
 * brightest digit over it), magnified 1-2.5 times; returns the page as a grey image and each
 * digit's centre: the middle of its ink's columns, in page pixels.
 */
function writeNumber(digits: Dataset, picks: number[], rng: Random): { image: { width: number; height: number; data: Uint8Array }; centres: number[] } {
  const magnify = 1 + 1.5 * rng.uniform();
  const slant = 16 * rng.uniform() - 8;
  const margin = 6;
  let cursor = margin;
  const placed = picks.map((index, k) => {
    const image = digitImage(digits, index);
    const box = inkColumns(image);
    const scale = 0.8 + 0.4 * rng.uniform();
    // Half the gaps 0-10 pixels, half overlaps of 0-5 (MNIST pixels).
    const gap = k === 0 ? 0 : rng.uniform() < 0.5 ? 10 * rng.uniform() : -5 * rng.uniform();
    const left = cursor + gap;
    cursor = left + (box.x1 - box.x0) * scale;
    // The digit's centre (14, 14) lands at (cx, cy); its box's bottom near a baseline at y = 30.
    return { image, scale, angle: slant + 6 * rng.uniform() - 3, cx: left + (14 - box.x0) * scale, cy: 30 + 6 * rng.uniform() - 3 - (box.y1 - 14) * scale };
  });
  const width = Math.ceil((cursor + margin) * magnify);
  const height = Math.ceil((30 + 2 * margin + 6) * magnify);
  const ink = new Float32Array(width * height);
  const owner = new Int8Array(width * height).fill(-1);
  placed.forEach((p, k) => stamp(ink, owner, width, height, p.image, k, { cx: p.cx * magnify, cy: p.cy * magnify, scale: p.scale * magnify, angle: p.angle }));
  const centres = picks.map((_, k) => {
    let x0 = width;
    let x1 = 0;
    for (let i = 0; i < ink.length; i++) {
      if (owner[i] !== k || ink[i] < 0.3) continue;
      x0 = Math.min(x0, i % width);
      x1 = Math.max(x1, (i % width) + 1);
    }
    return (x0 + x1) / 2;
  });
  // Thicker strokes on 30% of the numbers, thinner on 30% of those magnified enough to keep them.
  const change = rng.uniform();
  const stroked = change < 0.3 ? changeStrokes(ink, width, height, true) : change < 0.6 && magnify >= 1.8 ? changeStrokes(ink, width, height, false) : ink;
  return { image: { width, height, data: Uint8Array.from(stroked, (v) => Math.round(255 * v)) }, centres };
}

/** The image `index` of a 28x28 dataset as floats 0..1 (bytes divided by 255). */
function digitImage(digits: Dataset, index: number): Float32Array {
  const size = MNIST_SIDE * MNIST_SIDE;
  const source = digits.inputs.subarray(index * size, (index + 1) * size);
  const bytes = typeTag(source) === 'Uint8Array';
  return Float32Array.from(source, (v) => (bytes ? v / 255 : v));
}

/** The columns and rows a 28x28 image's ink (above 0.1) spans: x0..x1 - 1, y0..y1 - 1. */
function inkColumns(image: Float32Array): { x0: number; x1: number; y1: number } {
  let x0 = MNIST_SIDE;
  let x1 = 0;
  let y1 = 0;
  for (let i = 0; i < image.length; i++) {
    if (image[i] <= 0.1) continue;
    const x = i % MNIST_SIDE;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x + 1);
    y1 = Math.max(y1, (i - x) / MNIST_SIDE + 1);
  }
  return x1 > x0 ? { x0, x1, y1 } : { x0: 4, x1: 4 + DIGIT_BOX, y1: 4 + DIGIT_BOX };
}

/** Draws a 28x28 image scaled and rotated (degrees) about its centre, put at (cx, cy); where it is brighter than the page, it wins the pixel. */
function stamp(ink: Float32Array, owner: Int8Array, width: number, height: number, image: Float32Array, k: number, p: { cx: number; cy: number; scale: number; angle: number }): void {
  const cos = Math.cos((p.angle * Math.PI) / 180);
  const sin = Math.sin((p.angle * Math.PI) / 180);
  const reach = 20 * p.scale;
  for (let y = Math.max(0, Math.floor(p.cy - reach)); y <= Math.min(height - 1, Math.ceil(p.cy + reach)); y++) {
    for (let x = Math.max(0, Math.floor(p.cx - reach)); x <= Math.min(width - 1, Math.ceil(p.cx + reach)); x++) {
      const dx = (x + 0.5 - p.cx) / p.scale;
      const dy = (y + 0.5 - p.cy) / p.scale;
      const v = bilinear(image, cos * dx + sin * dy + 13.5, -sin * dx + cos * dy + 13.5);
      const i = y * width + x;
      if (v > ink[i]) {
        ink[i] = v;
        owner[i] = k;
      }
    }
  }
}

/** A 28x28 image read between pixel centres (0 outside). */
function bilinear(image: Float32Array, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (c: number, r: number): number => (c >= 0 && c < MNIST_SIDE && r >= 0 && r < MNIST_SIDE ? image[r * MNIST_SIDE + c] : 0);
  return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
}

/** Strokes one pixel thicker (each pixel the brightest of its 3x3 neighbourhood) or thinner (the darkest). */
function changeStrokes(ink: Float32Array, width: number, height: number, thicker: boolean): Float32Array {
  const out = new Float32Array(ink.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = ink[y * width + x];
      for (let j = Math.max(0, y - 1); j <= Math.min(height - 1, y + 1); j++) {
        for (let i = Math.max(0, x - 1); i <= Math.min(width - 1, x + 1); i++) v = thicker ? Math.max(v, ink[j * width + i]) : Math.min(v, ink[j * width + i]);
      }
      out[y * width + x] = v;
    }
  }
  return out;
}

/** A whole number 0..n - 1. */
function int(rng: Random, n: number): number {
  return Math.min(n - 1, Math.floor(rng.uniform() * n));
}
