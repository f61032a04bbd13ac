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

/** How readNumber reads: preprocessing, and the number of digits when it is known. */
export interface ReadOptions extends PreprocessOptions {
  /** How many digits the number has (a postcode, a code of fixed length): the best reading with exactly that many wins. */
  digits?: number;
}

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
export function readNumber(net: DigitClassifier, image: PixelImage, options: ReadOptions = {}): NumberReading {
  const count = options.digits;
  if (count !== undefined && !(Number.isInteger(count) && count >= 1)) {
    throw new RangeError(`readNumber: digits must be a whole number of at least 1 (got ${count}) for ${options.name ?? 'image'}`);
  }
  const page = findPieces(image, options);
  const digits = net.classes === NOT_A_DIGIT + 1 ? readWindows(net, page, count) : readPieces(net, page, count);
  return { number: digits.map((d) => d.label).join(''), digits };
}

/**
 * Where the digits lie along the windows, as the reader was trained to see them (numberWindows): a
 * window within ON_DIGIT steps of a digit's centre says a digit, one at least OFF_DIGIT steps from
 * every centre says NOT_A_DIGIT, and those in between may say either (steps are the windows' pixel
 * at MNIST's size). Training marks windows 3 pixels off as not a digit, but the network learned a
 * soft edge (windows 2-3 pixels off often still half say a digit): two steps more of slack read
 * the most numbers with the reader preset's network (one step less: 0.7 point fewer). Teaching
 * it instead which side of a centre a window 2-5 pixels off lies on (two more classes), and costing
 * every window by what it should say, read no more numbers exactly (seed 1, both plain sets of
 * bench/handwriting: 93.7 / 93.5% without the length at the best DIGIT_COST, 20, and 95.1 / 95.1%
 * with it, against 93.3 / 93.5% and 95.6 / 95.5%).
 */
const ON_DIGIT = 1;
const OFF_DIGIT = 5;
/**
 * A 1 is a single stroke, narrower than any other digit: windows ONE_OFF_DIGIT steps off its
 * centre say NOT_A_DIGIT, where those off a wider digit still half say the digit. Windows that say
 * 1 over more steps are two 1s side by side (11), which OFF_DIGIT would read as one. Measured on
 * three plain sets of bench/handwriting (seeds 1-3): 0.3 to 0.6 point more numbers read exactly
 * without the length with each of the reader preset's networks of seeds 1, 2 and 3 alone and
 * with those of seeds 1 and 2 together, 0 to 0.3 more told the length (photos: the same with
 * both networks, two of 400 pictures fewer with that of seed 1 alone). The same reach for every
 * digit, or for 1 and 4, 7 or 9, reads fewer.
 */
const ONE = 1;
const ONE_OFF_DIGIT = 3;
/**
 * What a digit costs, in nats, against the windows' evidence for it: without it, every window
 * unsure enough would be a digit of its own. Measured on generated numbers (bench/handwriting),
 * with OFF_DIGIT.
 */
const DIGIT_COST = 8;
/**
 * How much the digit the windows name counts, against whether they name one: a window within
 * ON_DIGIT steps of a centre should say the centre's digit, one nearer than OFF_DIGIT that digit
 * or none, and a window there that names another digit is evidence of a digit the reading left
 * out (a 1 drawn into a 4: windows saying 1 next to windows saying 4). At 0.5, measured on three
 * plain sets of bench/handwriting (seeds 1-3) with the reader preset's network of seed 1 and with
 * those of seeds 1 and 2 together: 0 to 0.9 point more numbers read exactly, 0.3 on average (the
 * network of seed 2 alone: 0.5 and 0.3 on the sets of seeds 1 and 2). At 1, more digits whose
 * strokes look like two (a 4 read as 14) are split than hidden 1s are found: on the set of seed 1,
 * 22 readings gain a digit (6 at 0) and 21 lose one (28 at 0).
 */
const LABEL_EVIDENCE = 0.5;
/** A digit's label sums the digit classes of the windows within this many steps of its centre. */
const LABEL_REACH = 2;
/**
 * How much a digit's own ink, read as a digit classifier reads a piece, weighs against its
 * windows: the windows see the digit among its neighbours' strokes, the piece without them. Ink
 * cut from a piece that holds several digits is less sure (the cut may cross strokes), so it
 * weighs less. Measured on generated numbers (bench/handwriting). Tuning these further fits one
 * trained network: LABEL_REACH 1 with CUT_WEIGHT 0.15 read 0.5-0.6 point more of both plain sets
 * with the reader preset's network of seed 1 and 0.1-0.4 fewer with that of seed 2 (told the
 * length: 0.4-0.6 more, 0-0.6 fewer).
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
function readWindows(net: DigitClassifier, page: InkPage, count?: number): ReadDigit[] {
  const line = inkLine(page);
  const xs: number[] = [];
  for (let x = line.x0 - 4 / line.scale; x <= line.x1 + 4 / line.scale; x += 1 / line.scale) xs.push(x);
  const inputs = lineWindows(line, xs);
  const { probabilities } = net.predict(inputs, xs.length);
  const hiddenPieces = (centres: WindowDigit[]): InkPiece[] =>
    page.pieces.filter((piece) => piece.box.y1 - piece.box.y0 >= LEAST_HEIGHT * page.digitHeight && !centres.some((digit) => covers(piece, digit.x)));
  let centres = windowDigits(xs, probabilities, net.classes);
  if (count !== undefined && centres.length + hiddenPieces(centres).length !== count) {
    // The most digits the windows can place with the hidden pieces making up the count; if no
    // number of them does, exactly `count` placed by the windows alone.
    const byCount = windowReadings(xs, probabilities, net.classes, count);
    centres = [...byCount].reverse().find((candidate) => candidate.length + hiddenPieces(candidate).length === count) ?? byCount[count];
  }
  const views = ownInk(page, centres.map((digit) => digit.x));
  const found = centres.map((digit, k) => ({
    x: digit.x,
    windows: digitShares(digit.sums, 0),
    input: inputs.slice(digit.window * MNIST_SIDE * MNIST_SIDE, (digit.window + 1) * MNIST_SIDE * MNIST_SIDE),
    view: views[k],
    weight: views[k]?.cut ? CUT_WEIGHT : PIECE_WEIGHT,
  }));
  const hidden = (centres.length === count ? [] : hiddenPieces(centres)).map((piece) => {
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
 * (see ON_DIGIT, OFF_DIGIT, ONE_OFF_DIGIT and LABEL_EVIDENCE), each digit costing DIGIT_COST,
 * found by dynamic programming over the window a digit's predecessor is centred on; exactly
 * `count` of them when it is given. Networks trained for a decoder of their own read fewer numbers
 * exactly (five plain sets of bench/handwriting, seeds 1-5): the reader of seed 1 fine-tuned with
 * CTC on 24,000 whole numbers, read by prefix beam search, 89.4% (94.4% told the length) against
 * this program's 94.1% (95.7%); a network over 25 windows' probabilities of the readers of seeds
 * 1 and 2, trained with CTC, 91.7% (95.0%) against 95.0% (96.4%), and as a judge between this
 * program's readings of one digit more or fewer, 95.1%.
 */
export function windowDigits(xs: number[], probabilities: Float32Array, classes: number, count?: number): WindowDigit[] {
  const readings = windowReadings(xs, probabilities, classes, count);
  return readings[readings.length - 1];
}

/**
 * windowDigits's readings: without `count`, one (of any number of digits); with it, the best of
 * each count 0..count, from one dynamic program (a count above the windows' gets one digit a window).
 */
function windowReadings(xs: number[], probabilities: Float32Array, classes: number, count?: number): WindowDigit[][] {
  const n = xs.length;
  const notP = new Float64Array(n);
  const onCost = new Float64Array(n);
  const offCosts = new Float64Array(n + 1); // prefix sums
  for (let j = 0; j < n; j++) {
    const not = Math.min(1 - 1e-6, Math.max(1e-6, probabilities[j * classes + NOT_A_DIGIT]));
    notP[j] = not;
    onCost[j] = -Math.log(1 - not);
    offCosts[j + 1] = offCosts[j] - Math.log(not);
  }
  // The digit a centre on window m says: the largest of its windows' summed digit probabilities.
  const labels = Int32Array.from(xs, (_, m) => {
    const sums = labelSums(probabilities, classes, n, m);
    return sums.indexOf(Math.max(...sums));
  });
  const p = (j: number, d: number): number => probabilities[j * classes + d];
  const off = (a: number, b: number): number => (b < a ? 0 : offCosts[Math.min(n, b + 1)] - offCosts[Math.max(0, a)]);
  // How far a centre's windows may say its digit (k = -1 or n: no centre, no windows).
  const reach = (k: number): number => (labels[k] === ONE ? ONE_OFF_DIGIT : OFF_DIGIT);
  // The cost of window j, sK steps from centre k and sM from centre m (Infinity: no such centre).
  const at = (j: number, k: number, stepsK: number, m: number, stepsM: number): number => {
    const sK = stepsK < reach(k) ? stepsK : Infinity;
    const sM = stepsM < reach(m) ? stepsM : Infinity;
    const steps = Math.min(sK, sM);
    if (steps >= OFF_DIGIT) return off(j, j);
    if (steps <= ON_DIGIT) return onCost[j] - LABEL_EVIDENCE * Math.log(Math.max(1e-6, p(j, labels[sK <= sM ? k : m])) / (1 - notP[j]));
    // Near a centre, a window may say its digit or none, but another digit is evidence of another centre.
    let allowed = notP[j];
    if (sK < OFF_DIGIT) allowed += p(j, labels[k]);
    if (sM < OFF_DIGIT && !(sK < OFF_DIGIT && labels[k] === labels[m])) allowed += p(j, labels[m]);
    return -LABEL_EVIDENCE * Math.log(Math.min(1, Math.max(1e-6, allowed)));
  };
  const centre = (m: number): number => at(m, -1, Infinity, m, 0);
  // The cost of the windows strictly between centres k and m; k = -1: no centre before, m = n: none
  // after. Those OFF_DIGIT or more steps from both say NOT_A_DIGIT (a prefix sum); only the few
  // nearer one of the centres are looked at one by one.
  const between = (k: number, m: number): number => {
    const first = k + 1;
    const last = Math.min(n, m) - 1;
    const nearK = k < 0 ? k : Math.min(last, k + OFF_DIGIT - 1);
    const nearM = m >= n ? n : Math.max(nearK + 1, m - OFF_DIGIT + 1);
    const near = (j: number): number => at(j, k, k < 0 ? Infinity : j - k, m, m >= n ? Infinity : m - j);
    let cost = off(nearK + 1, nearM - 1);
    for (let j = first; j <= nearK; j++) cost += near(j);
    for (let j = nearM; j <= last; j++) cost += near(j);
    return cost;
  };
  if (count === 0 || n === 0) return Array.from({ length: (count ?? 0) + 1 }, () => []);
  // Layer l of best (one layer of any number of digits when count is not given, else layer l for
  // the (l + 1)-th digit): the least cost of the windows up to m with a digit centred on m;
  // previous, the centre before it (-1: none). No more digits than windows.
  const layers = count === undefined ? 1 : Math.min(count, n);
  const best = new Float64Array(layers * n);
  const previous = new Int32Array(layers * n);
  const from = (l: number): number => (count === undefined ? l : l - 1);
  for (let m = 0; m < n; m++) {
    const first = between(-1, m);
    for (let l = 0; l < layers; l++) {
      best[l * n + m] = count === undefined || l === 0 ? first : Infinity;
      previous[l * n + m] = -1;
    }
    for (let k = 0; k < m; k++) {
      const gap = between(k, m);
      for (let l = 0; l < layers; l++) {
        if (from(l) < 0) continue;
        const c = best[from(l) * n + k] + gap;
        if (c < best[l * n + m]) [best[l * n + m], previous[l * n + m]] = [c, k];
      }
    }
    for (let l = 0; l < layers; l++) best[l * n + m] += centre(m) + DIGIT_COST;
  }
  const after = Array.from({ length: n }, (_, k) => between(k, n));
  // The reading that ends with layer `top`'s best last centre.
  const reading = (top: number): WindowDigit[] => {
    let total = count === undefined ? between(-1, n) : Infinity;
    let last = -1;
    for (let k = 0; k < n; k++) {
      const c = best[top * n + k] + after[k];
      if (c < total) [total, last] = [c, k];
    }
    const centres: number[] = [];
    for (let k = last, l = top; k >= 0; k = previous[l * n + k], l = from(l)) centres.unshift(k);
    return centres.map((m) => ({ sums: labelSums(probabilities, classes, n, m), window: m, x: xs[m] }));
  };
  if (count === undefined) return [reading(0)];
  const byLayer = Array.from({ length: layers }, (_, l) => reading(l));
  return Array.from({ length: count + 1 }, (_, c) => (c === 0 ? [] : byLayer[Math.min(c, layers) - 1]));
}

/** The digit classes' probabilities summed over the windows within LABEL_REACH of window m (of n). */
function labelSums(probabilities: Float32Array, classes: number, n: number, m: number): Float64Array {
  const sums = new Float64Array(DIGITS);
  for (let j = Math.max(0, m - LABEL_REACH); j <= Math.min(n - 1, m + LABEL_REACH); j++) {
    for (let d = 0; d < DIGITS; d++) sums[d] += probabilities[j * classes + d];
  }
  return sums;
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

/** A reading of some ink: its digits and the sum of their log-probabilities (less TOO_WIDE for each digit read too wide). */
interface PieceReading {
  score: number;
  digits: ReadDigit[];
}

/**
 * The pieces read with a digit classifier: each piece on its own (readPiece); with `count`, the
 * readings of the pieces whose digits add up to it with the highest total score, or each piece's
 * best reading of at most `count` digits where no choice adds up (more pieces than digits, or too
 * few cuts).
 */
function readPieces(net: DigitClassifier, page: InkPage, count?: number): ReadDigit[] {
  if (count === undefined) return page.pieces.flatMap((piece) => readPiece(net, page, piece)[0].digits);
  const readings = page.pieces.map((piece) => readPiece(net, page, piece, count));
  // total[p][c]: the best score of the first p pieces read as c digits; chosen[p][c], piece p - 1's count in it.
  const total = Array.from({ length: readings.length + 1 }, () => new Float64Array(count + 1).fill(-Infinity));
  const chosen = total.map(() => new Int32Array(count + 1));
  total[0][0] = 0;
  readings.forEach((byCount, p) => {
    for (let c = 1; c <= count; c++) {
      for (let k = 1; k <= Math.min(c, byCount.length); k++) {
        const score = total[p][c - k] + byCount[k - 1].score;
        if (score > total[p + 1][c]) [total[p + 1][c], chosen[p + 1][c]] = [score, k];
      }
    }
  });
  if (total[readings.length][count] === -Infinity) {
    return readings.flatMap((byCount) => byCount.reduce((best, reading) => (reading.score > best.score ? reading : best)).digits);
  }
  const digits: ReadDigit[] = [];
  for (let p = readings.length, c = count; p > 0; c -= chosen[p][c], p--) digits.unshift(...readings[p - 1][chosen[p][c] - 1].digits);
  return digits;
}

/**
 * The best readings of one piece: the whole of it, or the best sequence of stretches between
 * cuts. Without `most`, one reading (the best of any length); with it, the best reading of each
 * length 1..most (score -Infinity where the cuts allow none).
 */
function readPiece(net: DigitClassifier, page: InkPage, piece: InkPiece, most?: number): PieceReading[] {
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
  // best[l][j]: the highest score of a reading up to cut j with l digits (without `most`, row 1
  // holds readings of any length), and the stretch it ends with. Stretches are in order of i, so
  // every best[.][i] is final before a stretch from cut i is tried.
  const rows = (most ?? 1) + 1;
  const best = Array.from({ length: rows }, (_, l) => Array.from({ length: last + 1 }, (_, j) => ({ score: l === 0 && j === 0 ? 0 : -Infinity, stretch: -1 })));
  const before = (l: number, i: number): number => (most === undefined ? Math.max(best[0][i].score, best[1][i].score) : best[l - 1][i].score);
  stretches.forEach(({ i, j, slice }, k) => {
    const wide = slice.box.x1 - slice.box.x0 > WIDEST_DIGIT * height ? TOO_WIDE : 0;
    const score = Math.log(Math.max(digits[k].probability, Number.MIN_VALUE)) - wide;
    for (let l = 1; l < rows; l++) {
      if (before(l, i) + score > best[l][j].score) best[l][j] = { score: before(l, i) + score, stretch: k };
    }
  });
  return best.slice(1).map((row, l) => {
    const reading: ReadDigit[] = [];
    if (row[last].score === -Infinity) return { score: -Infinity, digits: reading };
    for (let j = last, r = l + 1; j > 0; r = most === undefined ? 1 : r - 1) {
      const k = best[r][j].stretch;
      reading.unshift(digits[k]);
      j = stretches[k].i;
    }
    return { score: row[last].score, digits: reading };
  });
}

/** The network's label and its probability for each segment, in one batch. */
function classify(net: DigitClassifier, segments: { box: PixelBox; input: Float32Array }[]): ReadDigit[] {
  const { labels, probabilities } = net.predict(concat(segments.map((s) => s.input)), segments.length);
  return segments.map((s, k) => ({ box: s.box, label: labels[k], probability: probabilities[k * net.classes + labels[k]], input: s.input }));
}
