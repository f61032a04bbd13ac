import { inkLine, inkSpan, lineWindows } from '../image/line';
import { MNIST_SIDE } from '../image/place';
import type { PixelImage } from '../image/pixels';
import type { PreprocessOptions } from '../image/preprocess';
import { findPieces, leastInkPath, pieceDigit, slicePiece, type InkPage, type InkPiece, type PixelBox } from '../image/segment';

/** One digit of a number read from a picture. */
export interface ReadDigit {
  /** Where the digit's strokes lie, in the picture's pixels. */
  box: PixelBox;
  label: number;
  /** The network's probability for `label` (a reader's: its mean over the windows on the digit). */
  probability: number;
  /** The 28x28 input the network saw. */
  input: Float32Array;
}

/** A number read from a picture: its digits left to right, and as a string. */
export interface NumberReading {
  number: string;
  digits: ReadDigit[];
}

/**
 * The class a number reader gives a window that is not centred on a digit. A network with this
 * extra class (11 classes, trained on `numberWindows`) reads numbers by sliding a window along
 * them; a digit classifier (10 classes) reads the pieces the ink falls into.
 */
export const NOT_A_DIGIT = 10;
/** Classes 0..DIGITS - 1 are the digits. */
const DIGITS = 10;

/** What readNumber needs of a network: class probabilities for preprocessed 28x28 inputs. */
export interface DigitClassifier {
  classes: number;
  predict(inputs: Float32Array, count: number): { labels: Uint8Array | Uint16Array; probabilities: Float32Array };
}

/**
 * Candidate cuts in a piece start this share of a digit's height apart, and each follows the
 * least ink within CUT_REACH of its start either way: slanted digits touch along slanted gaps.
 */
const CUT_STEP = 0.15;
const CUT_REACH = 0.25;
/** A piece narrower than this share of a digit's height is read whole: two digits side by side are wider (two 1s aside). */
const LEAST_PAIR_WIDTH = 0.6;
/** A stretch between two cuts shorter than this share of a digit's height is not a digit (a sliver a cut left). */
const LEAST_HEIGHT = 0.6;
/** The widest stretch between two cuts read as one digit, in digit heights. */
const WIDEST_DIGIT = 1.3;
/**
 * The log-probability a piece wider than WIDEST_DIGIT loses when read whole: it is most likely
 * several digits, which the network may still read as one confident glyph. Measured on generated
 * numbers (bench/handwriting), this and the constants above read the most numbers exactly.
 */
const TOO_WIDE = 5;

/**
 * Reads a number written left to right in `image`: the ink is split into pieces (connected strokes,
 * broken digits merged, see findPieces); a piece wider than a digit may hold touching digits, so
 * every way to cut it along paths of least ink is scored by the network, and the reading with the
 * highest product of the digits' probabilities wins (two digits cut apart read as two confident
 * digits, where the two together read as one unsure glyph).
 */
export function readNumber(net: DigitClassifier, image: PixelImage, options: PreprocessOptions = {}): NumberReading {
  const page = findPieces(image, options);
  const digits = net.classes === NOT_A_DIGIT + 1 ? readWindows(net, page) : page.pieces.flatMap((piece) => readPiece(net, page, piece));
  return { number: digits.map((d) => d.label).join(''), digits };
}

/** A window is on a digit when the reader gives NOT_A_DIGIT less than this. */
const ON_DIGIT = 0.6;
/**
 * A run of windows on a digit is a digit when the sum of their 1 - p(NOT_A_DIGIT) reaches this:
 * a digit holds it over about three windows a pixel apart, a stray mark for one or two. Measured
 * on generated numbers (bench/handwriting), with ON_DIGIT.
 */
const DIGIT_MASS = 2.5;

/**
 * Reads a number with a window reader: 28x28 windows a pixel apart (at MNIST's size) along the
 * line of ink, each classified as a digit centred in it or NOT_A_DIGIT; each run of windows on a
 * digit, if it holds enough of them, is one digit, labelled by the class its windows give the most
 * probability in all.
 */
function readWindows(net: DigitClassifier, page: InkPage): ReadDigit[] {
  const line = inkLine(page);
  const xs: number[] = [];
  for (let x = line.x0 - 4 / line.scale; x <= line.x1 + 4 / line.scale; x += 1 / line.scale) xs.push(x);
  const inputs = lineWindows(line, xs);
  const { probabilities } = net.predict(inputs, xs.length);
  const classes = net.classes;
  const onDigit = xs.map((_, k) => 1 - probabilities[k * classes + NOT_A_DIGIT]);
  const digits: ReadDigit[] = [];
  for (let start = 0; start < xs.length; ) {
    if (onDigit[start] <= 1 - ON_DIGIT) {
      start++;
      continue;
    }
    let end = start;
    let mass = 0;
    let peak = start;
    const sums = new Float64Array(DIGITS);
    for (; end < xs.length && onDigit[end] > 1 - ON_DIGIT; end++) {
      mass += onDigit[end];
      if (onDigit[end] > onDigit[peak]) peak = end;
      for (let d = 0; d < DIGITS; d++) sums[d] += probabilities[end * classes + d];
    }
    if (mass >= DIGIT_MASS) {
      const label = sums.indexOf(Math.max(...sums));
      const span = inkSpan(line, (xs[start] + xs[end - 1]) / 2);
      const f = page.factor;
      digits.push({
        box: { x: span.x0 * f, y: span.y0 * f, width: Math.min(page.pictureWidth, span.x1 * f) - span.x0 * f, height: Math.min(page.pictureHeight, span.y1 * f) - span.y0 * f },
        label,
        probability: sums[label] / (end - start),
        input: inputs.slice(peak * MNIST_SIDE * MNIST_SIDE, (peak + 1) * MNIST_SIDE * MNIST_SIDE),
      });
    }
    start = end;
  }
  return digits;
}

/** The best reading of one piece: the whole of it, or the best sequence of stretches between cuts. */
function readPiece(net: DigitClassifier, page: InkPage, piece: InkPiece): ReadDigit[] {
  const height = page.digitHeight;
  const { x0, x1 } = piece.box;
  const paths: (Int32Array | null)[] = [null];
  const at: number[] = [x0];
  if (x1 - x0 >= LEAST_PAIR_WIDTH * height) {
    const step = Math.max(1, Math.round(CUT_STEP * height));
    const reach = Math.round(CUT_REACH * height);
    for (let x = x0 + step; x <= x1 - step; x += step) {
      paths.push(leastInkPath(page, piece, Math.max(x0, x - reach), Math.min(x1 - 1, x + reach)));
      at.push(x);
    }
  }
  paths.push(null);
  at.push(x1);
  // The whole piece, and every stretch between two cuts that could be a digit.
  const last = paths.length - 1;
  const stretches: { i: number; j: number; slice: InkPiece }[] = [{ i: 0, j: last, slice: piece }];
  for (let i = 0; i < last; i++) {
    for (let j = i + 1; j <= last && at[j] - at[i] <= WIDEST_DIGIT * height; j++) {
      const slice = i === 0 && j === last ? null : slicePiece(page, piece, paths[i], paths[j]);
      if (slice && slice.box.y1 - slice.box.y0 >= LEAST_HEIGHT * height) stretches.push({ i, j, slice });
    }
  }
  const digits = classify(net, stretches.map((s) => pieceDigit(page, s.slice)));
  // best[j]: the highest score of a reading up to cut j, and the stretch it ends with. Stretches
  // are in order of i, so every best[i] is final before a stretch from cut i is tried.
  const best = Array.from({ length: last + 1 }, (_, j) => ({ score: j === 0 ? 0 : -Infinity, stretch: -1 }));
  stretches.forEach(({ i, j, slice }, k) => {
    const wide = slice.box.x1 - slice.box.x0 > WIDEST_DIGIT * height ? TOO_WIDE : 0;
    const score = best[i].score + Math.log(Math.max(digits[k].probability, Number.MIN_VALUE)) - wide;
    if (score > best[j].score) best[j] = { score, stretch: k };
  });
  const reading: ReadDigit[] = [];
  for (let j = last; j > 0; j = stretches[best[j].stretch].i) reading.unshift(digits[best[j].stretch]);
  return reading;
}

/** The network's label and its probability for each segment, in one batch. */
function classify(net: DigitClassifier, segments: { box: PixelBox; input: Float32Array }[]): ReadDigit[] {
  const size = segments[0].input.length;
  const inputs = new Float32Array(segments.length * size);
  segments.forEach((s, k) => inputs.set(s.input, k * size));
  const { labels, probabilities } = net.predict(inputs, segments.length);
  return segments.map((s, k) => ({ box: s.box, label: labels[k], probability: probabilities[k * net.classes + labels[k]], input: s.input }));
}
