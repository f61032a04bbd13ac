import type { Ink } from './ink';

/** MNIST's image side in pixels. */
export const MNIST_SIDE = 28;
/** The box MNIST's digits were scaled to fit, aspect ratio kept: their longer side is 20 pixels. */
export const DIGIT_BOX = 20;
/**
 * Where MNIST puts a digit's centre of mass, in index coordinates (pixel i at coordinate i, so the
 * field's geometric centre is 13.5): the 10000 test digits average (14.01, 13.99).
 */
export const MNIST_CENTRE = 14;

/** One output pixel's sources along an axis: source index `first` onward, with these weights. */
interface Taps {
  first: number;
  weights: number[];
}

/**
 * The digit as MNIST presents it: scaled so the longer side of its stroke box is DIGIT_BOX
 * pixels, aspect ratio kept, and placed with its centre of mass at MNIST_CENTRE in a 28x28 field,
 * row-major. The scaling and the placement are one resampling, so the shift is fractional and
 * costs no second interpolation: each output pixel reads the source where it lands. Shrinking
 * averages the source area each output pixel covers (a box filter: no aliasing, thin strokes
 * turn grey as MNIST's did); enlarging interpolates bilinearly (area averaging would show the
 * source's pixels as blocks). Ink that lands outside the field is cut, as in MNIST.
 */
export function placeDigit(ink: Ink, width: number, height: number): Float32Array {
  const { soft, box } = ink;
  const scale = DIGIT_BOX / Math.max(box.x1 - box.x0, box.y1 - box.y0);
  return resampleField(soft, width, height, centreOfMass(soft, width, height), scale);
}

/**
 * The 28x28 field whose pixel (MNIST_CENTRE, MNIST_CENTRE) sits at `centre` of the width x height
 * image `soft`, magnified by `scale`, row-major: box filter when shrinking, bilinear when
 * enlarging (see placeDigit). What lands outside the image reads as paper.
 */
export function resampleField(soft: Float32Array, width: number, height: number, centre: { x: number; y: number }, scale: number): Float32Array {
  const xs = taps(width, centre.x, scale);
  const ys = taps(height, centre.y, scale);
  // Rows first (only the source rows some output row reads, 28 columns), then columns.
  const first = ys.reduce((m, t) => (t.weights.length ? Math.min(m, t.first) : m), height);
  const last = ys.reduce((m, t) => Math.max(m, t.first + t.weights.length), first);
  const across = new Float32Array((last - first) * MNIST_SIDE);
  for (let y = first; y < last; y++) {
    const row = y * width;
    xs.forEach(({ first: from, weights }, X) => {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k] * soft[row + from + k];
      across[(y - first) * MNIST_SIDE + X] = sum;
    });
  }
  const out = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  ys.forEach(({ first: from, weights }, Y) => {
    for (let X = 0; X < MNIST_SIDE; X++) {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k] * across[(from - first + k) * MNIST_SIDE + X];
      out[Y * MNIST_SIDE + X] = Math.min(1, sum);
    }
  });
  return out;
}

/** The ink-weighted mean position, in index coordinates. */
function centreOfMass(soft: Float32Array, width: number, height: number): { x: number; y: number } {
  let mass = 0;
  let x = 0;
  let y = 0;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const v = soft[r * width + c];
      mass += v;
      x += v * c;
      y += v * r;
    }
  }
  return { x: x / mass, y: y / mass };
}

/**
 * For each of the 28 output pixels along an axis of `length` source pixels: the source pixels it
 * reads and their weights, output pixel X sitting at source coordinate centre + (X - MNIST_CENTRE)
 * / scale. Sources outside the image read as paper (0) and are left out.
 */
function taps(length: number, centre: number, scale: number): Taps[] {
  return Array.from({ length: MNIST_SIDE }, (_, X) => {
    const at = centre + (X - MNIST_CENTRE) / scale;
    const pairs: [number, number][] = [];
    if (scale < 1) {
      // The source interval the output pixel covers, [at - half, at + half) in index coordinates,
      // each source pixel j covering [j - 0.5, j + 0.5): weight = overlap x scale, summing to 1.
      const half = 0.5 / scale;
      for (let j = Math.round(at - half); j <= Math.round(at + half); j++) {
        const overlap = Math.min(at + half, j + 0.5) - Math.max(at - half, j - 0.5);
        if (overlap > 0) pairs.push([j, overlap * scale]);
      }
    } else {
      const j = Math.floor(at);
      pairs.push([j, 1 - (at - j)], [j + 1, at - j]);
    }
    const inside = pairs.filter(([j]) => j >= 0 && j < length);
    return { first: inside.length ? inside[0][0] : 0, weights: inside.map(([, weight]) => weight) };
  });
}
