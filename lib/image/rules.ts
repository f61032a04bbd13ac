/**
 * The printed lines of lined, squared and margin-ruled paper, found among a picture's strokes so
 * that they can be taken out before the digits are read: a network trained on MNIST reads a 1
 * crossed by three rules as an 8.
 *
 * A rule is a thin, straight band of ink, within MAX_TILT of horizontal or vertical, that covers
 * nearly all the picture's width (or height), is slender and unbroken, runs on past the rest of
 * the ink at both ends, and is long beside it. Where a digit's stroke crosses a rule, the
 * crossing stays: ink just outside the band on both sides marks it.
 */
import { boxOf, forEachPiece, type Box } from './pieces';

/** The most a rule may lean, in degrees: a photo held a little askew. */
const MAX_TILT = 5;
/** Tilts are tried a degree apart, then FINE_STEP apart around the best, on at most TILT_SAMPLE pixels. */
const FINE_STEP = 0.1;
const TILT_SAMPLE = 20000;
/**
 * A rule's ink covers at least this share of the picture's side along it: printed across the
 * page, it leaves it only where the paper ends (a photo of paper on a table keeps its rules). A
 * digit's stroke spans that much of a picture only when the picture is cut through the digit.
 */
const RULE_COVER = 0.8;
/** Each row of a rule's band holds ink along at least this share of the side (a thin line a little off the tilt found spreads over two rows). */
const ROW_COVER = 0.4;
/** The thickest rule, as a share of the picture's side across it, and at least MIN_THICKEST pixels (a rule is a few pixels on a photo). */
const MAX_THICKNESS = 0.02;
const MIN_THICKEST = 4;
/** A rule is at least this many times as long as it is thick: a digit's stroke is stouter. */
const SLENDER = 10;
/** A rule's ink is unbroken along it but for this share (a faint stretch): a row through the bottoms of several digits is not. */
const SOLID = 0.9;
/**
 * A rule runs on past the rest of the ink (the writing) at both ends, by this share of the
 * writing's span and at least LEAST_OVERHANG pixels: a 7's bar or a 2's base ends where the
 * digit's other strokes do, at one end at least.
 */
const OVERHANG = 0.05;
const LEAST_OVERHANG = 3;
/**
 * And it is long: LONG_ALONG times the writing's span along it (a margin line beside a digit), or
 * LONG_ACROSS times its span across (a rule under a number): a digit's stroke is neither (a tall 1
 * among shorter digits is not much longer than they are tall, and short beside the number's width).
 */
const LONG_ALONG = 1.3;
const LONG_ACROSS = 2;
/** The share of the ink at each end that the span of the ink beside the rules leaves out. */
const SPAN_TAIL = 0.01;
/**
 * A piece of ink within BORDER of an edge (a share of the side, at least LEAST_BORDER pixels)
 * along at least SLIVER of it is a rule that the crop cut, once the picture is known to be ruled.
 */
const BORDER = 0.03;
const LEAST_BORDER = 4;
const SLIVER = 0.25;
/** Rows either side of a rule's band that go with it (anti-aliasing, and the faint ink that strokes keep at their edges). */
const FRINGE = 1;
/** How far outside a rule and its fringe (pixels) a crossing stroke's ink is looked for. */
const CROSSING_REACH = 2;

/** A picture's ink seen along one orientation: `along` the rules, `across` them, and each ink pixel's two coordinates. */
interface Frame {
  length: number;
  depth: number;
  along: Int32Array;
  across: Int32Array;
  /** The ink, by picture pixel. */
  ink: Uint8Array;
  /** The picture pixel at (along, across). */
  at: (along: number, across: number) => number;
}

/** A band of the frame sheared by `slope`: rows r0..r1, which may be a rule; its ink spans a0..a1 - 1 along. */
interface Band {
  slope: number;
  r0: number;
  r1: number;
  a0: number;
  a1: number;
}

/**
 * The pixels of `strokes` (1 = ink, width x height) that are ruled lines and not a stroke
 * crossing them: 1 in the returned mask. The rules are looked for in `faint` (1 = any ink, down
 * to the faintest the strokes keep): printed lines are lighter than most pens, so only their
 * stretches near the writing may be strokes.
 */
export function ruledLines(strokes: Uint8Array, faint: Uint8Array, width: number, height: number): Uint8Array {
  const frames = [true, false].map((horizontal) => frameOf(faint, width, height, horizontal));
  const candidates = frames.map(bandsOf);
  const lines = new Uint8Array(strokes.length);
  if (candidates.every((bands) => bands.length === 0)) return lines;
  // Each candidate is judged beside the writing: the pieces of the strokes off every candidate
  // and its fringe (`rest`, which also tells a stroke crossing a rule) that reach away from the
  // candidates (a rule's fringe does not) and stay off the picture's edges. A margin line is long
  // beside the digits, not beside the rules that cross it.
  const rest = strokes.slice();
  const nearCandidate = new Uint8Array(strokes.length);
  frames.forEach((frame, i) => {
    for (const band of candidates[i]) {
      forEachPixel(frame, fringed(band), (p) => (rest[p] = 0));
      forEachPixel(frame, widen(band), (p) => (nearCandidate[p] = 1));
    }
  });
  const writing = new Uint8Array(strokes.length);
  const slivers: Int32Array[] = [];
  forEachPiece(rest, width, height, (piece) => {
    const box = boxOf(piece, width);
    const onEdge = box.x0 === 0 || box.y0 === 0 || box.x1 === width || box.y1 === height;
    if (isSliver(box, width, height)) slivers.push(piece);
    // Ink the crop cut (a rule's end, the paper's edge) says nothing of where the writing lies.
    else if (!onEdge && piece.some((p) => !nearCandidate[p])) for (const p of piece) writing[p] = 1;
  });
  const near = new Uint8Array(strokes.length);
  // The writing's span along each orientation (x for horizontal rules, y for vertical ones).
  const spans = frames.map((frame) => inkSpan(frame, writing));
  frames.forEach((frame, i) => {
    const [e0, e1] = spans[i];
    const across = spans[1 - i][1] - spans[1 - i][0];
    const reach = Math.max(LEAST_OVERHANG, OVERHANG * (e1 - e0));
    for (const band of candidates[i]) {
      const length = band.a1 - band.a0;
      const overhangs = e1 > e0 && band.a0 <= e0 - reach && band.a1 >= e1 + reach;
      if (!overhangs || (length < LONG_ALONG * (e1 - e0) && length < LONG_ACROSS * across)) continue;
      markRule(frame, band, strokes, rest, lines);
      forEachPixel(frame, widen(band), (p) => (near[p] = 1));
    }
  });
  if (lines.some((v) => v === 1)) for (const sliver of slivers) for (const p of sliver) lines[p] = 1;
  dropRemnants(strokes, lines, near, width, height);
  return lines;
}

/**
 * Whether a piece in `box` is a sliver along an edge of the picture: within BORDER of one edge and
 * along a good part of it, as a rule the crop cut through lies (it covers too little of the
 * side to be found as a rule).
 */
function isSliver(box: Box, width: number, height: number): boolean {
  const [bx, by] = [Math.max(LEAST_BORDER, BORDER * width), Math.max(LEAST_BORDER, BORDER * height)];
  const alongTop = (box.y1 <= by || box.y0 >= height - by) && box.x1 - box.x0 >= SLIVER * width;
  const alongSide = (box.x1 <= bx || box.x0 >= width - bx) && box.y1 - box.y0 >= SLIVER * height;
  return alongTop || alongSide;
}

/**
 * Marks in `lines` the strokes left whose every pixel lies near a rule (`near`): the fringe of a
 * rule that its band missed, or a bit of one between two strokes that cross it.
 */
function dropRemnants(strokes: Uint8Array, lines: Uint8Array, near: Uint8Array, width: number, height: number): void {
  const left = new Uint8Array(strokes.length);
  for (let p = 0; p < strokes.length; p++) left[p] = strokes[p] & (1 - lines[p]);
  forEachPiece(left, width, height, (piece) => {
    if (piece.every((p) => near[p])) for (const p of piece) lines[p] = 1;
  });
}

/** `band` and FRINGE rows either side: the rule with the faint edge that its rows' coverage leaves out. */
function fringed(band: Band): Band {
  return { ...band, r0: band.r0 - FRINGE, r1: band.r1 + FRINGE };
}

/** `band`, its fringe, and CROSSING_REACH rows more either side: where the pieces a rule leaves lie. */
function widen(band: Band): Band {
  return { ...band, r0: band.r0 - FRINGE - CROSSING_REACH, r1: band.r1 + FRINGE + CROSSING_REACH };
}

/** Where the ink of `ink` lies along the frame, leaving out SPAN_TAIL of it at each end (a speck of dust far off). */
function inkSpan(frame: Frame, ink: Uint8Array): [number, number] {
  const columns = new Int32Array(frame.length);
  let total = 0;
  for (let k = 0; k < frame.along.length; k++) {
    if (!ink[frame.at(frame.along[k], frame.across[k])]) continue;
    columns[frame.along[k]]++;
    total++;
  }
  if (total === 0) return [0, 0];
  let a0 = 0;
  for (let seen = columns[0]; seen <= SPAN_TAIL * total; seen += columns[++a0]);
  let a1 = frame.length - 1;
  for (let seen = columns[a1]; seen <= SPAN_TAIL * total; seen += columns[--a1]);
  return [a0, a1 + 1];
}

/** The ink pixels of `ink` in the frame of one orientation. */
function frameOf(ink: Uint8Array, width: number, height: number, horizontal: boolean): Frame {
  let count = 0;
  for (let p = 0; p < ink.length; p++) count += ink[p];
  const along = new Int32Array(count);
  const across = new Int32Array(count);
  let k = 0;
  for (let p = 0; p < ink.length; p++) {
    if (!ink[p]) continue;
    const x = p % width;
    const y = (p - x) / width;
    along[k] = horizontal ? x : y;
    across[k++] = horizontal ? y : x;
  }
  return horizontal
    ? { length: width, depth: height, along, across, ink, at: (a, c) => c * width + a }
    : { length: height, depth: width, along, across, ink, at: (a, c) => a * width + c };
}

/** The thin bands of one orientation whose ink covers most of the side, at the tilt that lines the ink up best. */
function bandsOf(frame: Frame): Band[] {
  const { length, depth } = frame;
  const least = RULE_COVER * length;
  if (frame.along.length < least) return [];
  // The tilt that gathers the ink into the fewest rows: the largest sum of squared row counts (a
  // row's count alone stops growing once a thick rule fills it).
  let best = { slope: 0, energy: -1 };
  // Every pixel of a large, noisy picture is more than the tilt needs: a rule stays dense in a sample.
  const step = Math.ceil(frame.along.length / TILT_SAMPLE);
  const tryTilt = (degrees: number) => {
    const slope = Math.tan((degrees * Math.PI) / 180);
    const energy = shearedRows(frame, slope, step).reduce((sum, n) => sum + n * n, 0);
    if (energy > best.energy) best = { slope, energy };
  };
  for (let d = -MAX_TILT; d <= MAX_TILT; d++) tryTilt(d);
  const coarse = (Math.atan(best.slope) * 180) / Math.PI;
  for (let d = coarse - 1 + FINE_STEP; d < coarse + 1; d += FINE_STEP) tryTilt(d);
  const rows = shearedRows(frame, best.slope);
  const offset = shearOffset(frame, best.slope);
  const thickest = Math.max(MIN_THICKEST, Math.round(MAX_THICKNESS * depth));
  const bands: Band[] = [];
  // A band is a run of rows that each hold a good part of a line (a thin line a little off the
  // tilt found falls into two rows); together they must cover nearly the whole side.
  for (let r = 0; r < rows.length; r++) {
    if (rows[r] < ROW_COVER * length) continue;
    const r0 = r;
    while (r + 1 < rows.length && rows[r + 1] >= ROW_COVER * length) r++;
    if (r - r0 + 1 > thickest) continue;
    const band = { slope: best.slope, r0: r0 - offset, r1: r - offset, a0: length, a1: 0 };
    let covered = 0;
    forEachInk(frame, band, frame.ink, (_, a) => {
      if (a >= band.a1) covered++;
      [band.a0, band.a1] = [Math.min(band.a0, a), a + 1];
    });
    const span = band.a1 - band.a0;
    if (covered >= least && span >= SLENDER * (r - r0 + 1) && covered >= SOLID * span) bands.push(band);
  }
  return bands;
}

/** Calls `visit` with each pixel in `band` (its picture pixel and where it lies along). */
function forEachPixel(frame: Frame, band: Band, visit: (p: number, along: number) => void): void {
  for (let a = 0; a < frame.length; a++) {
    const move = shear(band.slope, a, frame.length);
    for (let c = Math.max(0, band.r0 + move); c <= Math.min(frame.depth - 1, band.r1 + move); c++) visit(frame.at(a, c), a);
  }
}

/** Calls `visit` with each ink pixel of `ink` in `band`. */
function forEachInk(frame: Frame, band: Band, ink: Uint8Array, visit: (p: number, along: number) => void): void {
  forEachPixel(frame, band, (p, a) => {
    if (ink[p]) visit(p, a);
  });
}

/** How far row r of the frame moves at `along` when sheared by `slope` about the middle. */
function shear(slope: number, along: number, length: number): number {
  return Math.round(slope * (along - length / 2));
}

/** What keeps sheared rows at 0 or above. */
function shearOffset(frame: Frame, slope: number): number {
  return Math.ceil((Math.abs(slope) * frame.length) / 2) + 1;
}

/** Ink per row of the frame sheared by `slope` (every `step`-th pixel): each pixel counts once, so a row's count is how much of the side it covers. */
function shearedRows(frame: Frame, slope: number, step = 1): Int32Array {
  const offset = shearOffset(frame, slope);
  const rows = new Int32Array(frame.depth + 2 * offset);
  for (let k = 0; k < frame.along.length; k += step) rows[frame.across[k] - shear(slope, frame.along[k], frame.length) + offset]++;
  return rows;
}

/**
 * Marks the ink of `band` in `lines`, except where the ink of no rule (`rest`) lies just outside
 * it on both sides: a stroke crossing the rule.
 */
function markRule(frame: Frame, band: Band, strokes: Uint8Array, rest: Uint8Array, lines: Uint8Array): void {
  const restAt = (a: number, c: number) => a >= 0 && a < frame.length && c >= 0 && c < frame.depth && rest[frame.at(a, c)] === 1;
  // Ink within CROSSING_REACH rows past edge row `c` (going `step`), at along a - 1..a + 1.
  const beyond = (a: number, c: number, step: number) => {
    for (let d = 1; d <= CROSSING_REACH; d++) {
      for (let da = -1; da <= 1; da++) if (restAt(a + da, c + step * d)) return true;
    }
    return false;
  };
  const edged = fringed(band);
  forEachInk(frame, edged, strokes, (p, a) => {
    const move = shear(band.slope, a, frame.length);
    if (!(beyond(a, edged.r0 + move, -1) && beyond(a, edged.r1 + move, 1))) lines[p] = 1;
  });
}
