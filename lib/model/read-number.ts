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

/**
 * Where the digits lie along the windows, as the reader was trained to see them (numberWindows): a
 * window within ON_DIGIT steps of a digit's centre says a digit, one at least OFF_DIGIT steps from
 * every centre says NOT_A_DIGIT, and those in between may say either (steps are the windows' pixel
 * at MNIST's size). Training marks windows 3 pixels off as not a digit, but the network learned a
 * soft edge (windows 2-3 pixels off often still half say a digit): a step more of slack reads the
 * most numbers.
 */
const ON_DIGIT = 1;
const OFF_DIGIT = 4;
/**
 * What a digit costs, in nats, against the windows' evidence for it: without it, every window
 * unsure enough would be a digit of its own. Measured on generated numbers (bench/handwriting),
 * with OFF_DIGIT.
 */
const DIGIT_COST = 8;
/** A digit's label sums the digit classes of the windows within this many steps of its centre. */
const LABEL_REACH = 2;
/**
 * How much a digit's own ink, read as a digit classifier reads a piece, weighs against its
 * windows: the windows see the digit among its neighbours' strokes, the piece without them. Ink
 * cut from a piece that holds several digits is less sure (the cut may cross strokes), so it
 * weighs less. Measured on generated numbers (bench/handwriting).
 */
const PIECE_WEIGHT = 0.5;
const CUT_WEIGHT = 0.3;

/** A digit the windows found: their summed digit probabilities around it, the window centred on it, and where that lies (working pixels). */
export interface WindowDigit {
  sums: Float64Array;
  window: number;
  x: number;
}

/**
 * Reads a number with a window reader: 28x28 windows a pixel apart (at MNIST's size) along the
 * line of ink, each classified as a digit centred in it or NOT_A_DIGIT. The digits are centred
 * where the windows say so best (windowDigits). Each is labelled by the class its windows give the
 * most probability in all, together with the network's reading of the digit's own ink: the piece
 * it lies on when it is the piece's only digit, else the part of the piece cut out between its
 * neighbours along the least ink. A piece as tall as a digit on which no digit is centred is a
 * digit too (its neighbours' strokes hid it from the windows), read from its own ink alone.
 */
function readWindows(net: DigitClassifier, page: InkPage): ReadDigit[] {
  const line = inkLine(page);
  const xs: number[] = [];
  for (let x = line.x0 - 4 / line.scale; x <= line.x1 + 4 / line.scale; x += 1 / line.scale) xs.push(x);
  const inputs = lineWindows(line, xs);
  const { probabilities } = net.predict(inputs, xs.length);
  const centres = windowDigits(xs, probabilities, net.classes);
  const views = ownInk(page, centres.map((digit) => digit.x));
  const found = centres.map((digit, k) => ({
    x: digit.x,
    windows: digitShares(digit.sums, 0),
    input: inputs.slice(digit.window * MNIST_SIDE * MNIST_SIDE, (digit.window + 1) * MNIST_SIDE * MNIST_SIDE),
    view: views[k],
    weight: views[k]?.cut ? CUT_WEIGHT : PIECE_WEIGHT,
  }));
  const hidden = page.pieces
    .filter((piece) => piece.box.y1 - piece.box.y0 >= LEAST_HEIGHT * page.digitHeight && !centres.some((digit) => covers(piece, digit.x)))
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

/**
 * The digits along windows `xs`: the centres whose windows best explain what every window says
 * (see ON_DIGIT and OFF_DIGIT), each digit costing DIGIT_COST, found by dynamic programming over
 * the window a digit's predecessor is centred on.
 */
export function windowDigits(xs: number[], probabilities: Float32Array, classes: number): WindowDigit[] {
  const n = xs.length;
  const onCost = new Float64Array(n);
  const offCosts = new Float64Array(n + 1); // prefix sums
  for (let j = 0; j < n; j++) {
    const not = Math.min(1 - 1e-6, Math.max(1e-6, probabilities[j * classes + NOT_A_DIGIT]));
    onCost[j] = -Math.log(1 - not);
    offCosts[j + 1] = offCosts[j] - Math.log(not);
  }
  const off = (a: number, b: number): number => (b < a ? 0 : offCosts[Math.min(n, b + 1)] - offCosts[Math.max(0, a)]);
  // The cost of window j at `steps` from the nearest centre.
  const at = (j: number, steps: number): number => (steps <= ON_DIGIT ? onCost[j] : steps >= OFF_DIGIT ? off(j, j) : 0);
  // The cost of the windows strictly between centres k and m; k = -1: no centre before, m = n: none
  // after. Those OFF_DIGIT or more steps from both say NOT_A_DIGIT (a prefix sum); only the few
  // nearer one of the centres are looked at one by one.
  const between = (k: number, m: number): number => {
    const first = k + 1;
    const last = Math.min(n, m) - 1;
    const nearK = k < 0 ? k : Math.min(last, k + OFF_DIGIT - 1);
    const nearM = m >= n ? n : Math.max(nearK + 1, m - OFF_DIGIT + 1);
    const steps = (j: number): number => Math.min(k < 0 ? Infinity : j - k, m >= n ? Infinity : m - j);
    let cost = off(nearK + 1, nearM - 1);
    for (let j = first; j <= nearK; j++) cost += at(j, steps(j));
    for (let j = nearM; j <= last; j++) cost += at(j, steps(j));
    return cost;
  };
  // best[m]: the least cost of the windows up to m with a digit centred on m; previous[m], the centre before it (-1: none).
  const best = new Float64Array(n);
  const previous = new Int32Array(n);
  for (let m = 0; m < n; m++) {
    let cost = between(-1, m);
    let from = -1;
    for (let k = 0; k < m; k++) {
      const c = best[k] + between(k, m);
      if (c < cost) [cost, from] = [c, k];
    }
    best[m] = cost + onCost[m] + DIGIT_COST;
    previous[m] = from;
  }
  let total = between(-1, n);
  let last = -1;
  for (let k = 0; k < n; k++) {
    const c = best[k] + between(k, n);
    if (c < total) [total, last] = [c, k];
  }
  const centres: number[] = [];
  for (let k = last; k >= 0; k = previous[k]) centres.unshift(k);
  return centres.map((m) => {
    const sums = new Float64Array(DIGITS);
    for (let j = Math.max(0, m - LABEL_REACH); j <= Math.min(n - 1, m + LABEL_REACH); j++) {
      for (let d = 0; d < DIGITS; d++) sums[d] += probabilities[j * classes + d];
    }
    return { sums, window: m, x: xs[m] };
  });
}

/** A digit's own ink, as a digit classifier sees it, and whether it was cut from a piece holding other digits. */
interface OwnInk {
  segment: DigitSegment;
  cut: boolean;
}

/**
 * Each digit's own ink, from its centre `xs` (working pixels, left to right): the piece under it
 * when no other digit is centred on that piece, else the part between least-ink cuts halfway to
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

/** Whether column `x` (working pixels) lies within the piece's columns: a digit centred there is on the piece. */
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
