import { inkLine, inkSpan, lineWindows, type InkLine } from '../image/line';
import { MNIST_SIDE } from '../image/place';
import type { PixelImage } from '../image/pixels';
import type { PreprocessOptions } from '../image/preprocess';
import { findPieces, leastInkPath, pieceDigit, slicePiece, type DigitSegment, type InkPage, type InkPiece, type PixelBox } from '../image/segment';

/** One digit of a number read from a picture. */
export interface ReadDigit {
  /** Where the digit's strokes lie, in the picture's pixels. */
  box: PixelBox;
  label: number;
  /** The network's probability for `label` (a reader's: its share among the digits, windows and own ink together). */
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
 * broken digits merged, see findPieces). A digit classifier (10 classes) reads each piece; one
 * wider than a digit may hold touching digits, so every way to cut it along paths of least ink is
 * scored, and the reading with the highest product of the digits' probabilities wins (two digits
 * cut apart read as two confident digits, where the two together read as one unsure glyph). A
 * number reader (11 classes) finds the digits by sliding windows along the ink (readWindows).
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
 * How much a digit's own ink, read as a digit classifier reads a piece, weighs against its
 * windows: the windows see the digit among its neighbours' strokes, the piece without them. Ink
 * cut from a piece that holds several digits is less sure (the cut may cross strokes), so it
 * weighs less. Measured on generated numbers (bench/handwriting).
 */
const PIECE_WEIGHT = 0.5;
const CUT_WEIGHT = 0.3;

/** A run of windows on one digit: their summed digit probabilities, the window most on the digit, and the run's middle (working pixels). */
interface WindowRun {
  sums: Float64Array;
  peak: number;
  x: number;
}

/**
 * Reads a number with a window reader: 28x28 windows a pixel apart (at MNIST's size) along the
 * line of ink, each classified as a digit centred in it or NOT_A_DIGIT. Each run of windows on a
 * digit, if it holds enough of them, is one digit. It is labelled by the class its windows give
 * the most probability in all, together with the network's reading of the digit's own ink: the
 * piece it lies on when it is the piece's only digit, else the part of the piece cut out between
 * its neighbours along the least ink. A piece as tall as a digit on which no run lies is a digit
 * too (its neighbours' strokes hid it from the windows), read from its own ink alone.
 */
function readWindows(net: DigitClassifier, page: InkPage): ReadDigit[] {
  const line = inkLine(page);
  const xs: number[] = [];
  for (let x = line.x0 - 4 / line.scale; x <= line.x1 + 4 / line.scale; x += 1 / line.scale) xs.push(x);
  const inputs = lineWindows(line, xs);
  const { probabilities } = net.predict(inputs, xs.length);
  const runs = windowRuns(xs, probabilities, net.classes);
  const views = ownInk(page, runs.map((run) => run.x));
  const found = runs.map((run, k) => ({
    x: run.x,
    windows: digitShares(run.sums, 0),
    input: inputs.slice(run.peak * MNIST_SIDE * MNIST_SIDE, (run.peak + 1) * MNIST_SIDE * MNIST_SIDE),
    view: views[k],
    weight: views[k]?.cut ? CUT_WEIGHT : PIECE_WEIGHT,
  }));
  const hidden = page.pieces
    .filter((piece) => piece.box.y1 - piece.box.y0 >= LEAST_HEIGHT * page.digitHeight && !runs.some((run) => covers(piece, run.x)))
    .map((piece) => {
      const segment = pieceDigit(page, piece);
      return { x: (piece.box.x0 + piece.box.x1) / 2, windows: EVEN, input: segment.input, view: { segment, cut: false }, weight: 1 };
    });
  const places = [...found, ...hidden].sort((a, b) => a.x - b.x);
  const seen = places.flatMap((place) => (place.view ? [place.view.segment.input] : []));
  const read = seen.length ? net.predict(concat(seen), seen.length).probabilities : new Float32Array(0);
  let next = 0;
  return places.map(({ x, windows, input, view, weight }) => {
    const own = view ? digitShares(read, net.classes * next++) : null;
    const shares = own ? windows.map((p, d) => (1 - weight) * p + weight * own[d]) : windows;
    const label = shares.indexOf(Math.max(...shares));
    // A cut may cross the digit's strokes: its box is the ink within a digit's width instead.
    return { box: view && !view.cut ? view.segment.box : spanBox(page, line, x), label, probability: shares[label], input };
  });
}

/** The runs of windows on a digit (NOT_A_DIGIT below ON_DIGIT) that hold DIGIT_MASS. */
function windowRuns(xs: number[], probabilities: Float32Array, classes: number): WindowRun[] {
  const onDigit = xs.map((_, k) => 1 - probabilities[k * classes + NOT_A_DIGIT]);
  const runs: WindowRun[] = [];
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
    if (mass >= DIGIT_MASS) runs.push({ sums, peak, x: (xs[start] + xs[end - 1]) / 2 });
    start = end;
  }
  return runs;
}

/** A digit's own ink, as a digit classifier sees it, and whether it was cut from a piece holding other digits. */
interface OwnInk {
  segment: DigitSegment;
  cut: boolean;
}

/**
 * Each run's own ink as a digit, from its middle `xs` (working pixels, left to right): the piece
 * under it when no other run lies on that piece, else the part between least-ink cuts halfway to
 * its neighbours on the piece (`cut`); null where no piece lies under it or the cut leaves no ink.
 */
function ownInk(page: InkPage, xs: number[]): (OwnInk | null)[] {
  const views: (OwnInk | null)[] = xs.map(() => null);
  for (const piece of page.pieces) {
    const on = xs.flatMap((x, k) => (covers(piece, x) ? [k] : []));
    if (on.length === 1) views[on[0]] = { segment: pieceDigit(page, piece), cut: false };
    if (on.length < 2) continue;
    const cuts = on.slice(1).map((k) => {
      const middle = Math.round((xs[k - 1] + xs[k]) / 2);
      const reach = Math.max(1, Math.round(Math.min(CUT_REACH * page.digitHeight, (xs[k] - xs[k - 1]) / 2 - 1)));
      return leastInkPath(page, piece, Math.max(piece.box.x0, middle - reach), Math.min(piece.box.x1 - 1, middle + reach));
    });
    on.forEach((k, i) => {
      const slice = slicePiece(page, piece, i > 0 ? cuts[i - 1] : null, i < cuts.length ? cuts[i] : null);
      if (slice) views[k] = { segment: pieceDigit(page, slice), cut: true };
    });
  }
  return views;
}

/** Whether column `x` (working pixels) lies within the piece's columns: a run there is on the piece. */
function covers(piece: InkPiece, x: number): boolean {
  return x >= piece.box.x0 && x < piece.box.x1;
}

/** The digit classes' probabilities from `at` in `probabilities`, scaled to sum to 1 (NOT_A_DIGIT left out). */
function digitShares(probabilities: ArrayLike<number>, at: number): number[] {
  const shares = Array.from({ length: DIGITS }, (_, d) => probabilities[at + d]);
  const total = shares.reduce((sum, p) => sum + p, 0);
  return total > 0 ? shares.map((p) => p / total) : EVEN;
}

/** Every digit equally likely: the windows' shares for a digit they missed. */
const EVEN: number[] = Array.from({ length: DIGITS }, () => 1 / DIGITS);

/** The box, in picture pixels, of the ink within a digit's width around column `x` (working pixels). */
function spanBox(page: InkPage, line: InkLine, x: number): PixelBox {
  const span = inkSpan(line, x);
  const f = page.factor;
  return { x: span.x0 * f, y: span.y0 * f, width: Math.min(page.pictureWidth, span.x1 * f) - span.x0 * f, height: Math.min(page.pictureHeight, span.y1 * f) - span.y0 * f };
}

/** Equal-length arrays one after the other. */
function concat(arrays: Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.length * arrays[0].length);
  arrays.forEach((a, k) => out.set(a, k * a.length));
  return out;
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
  const { labels, probabilities } = net.predict(concat(segments.map((s) => s.input)), segments.length);
  return segments.map((s, k) => ({ box: s.box, label: labels[k], probability: probabilities[k * net.classes + labels[k]], input: s.input }));
}
