import { inkMap } from './background';
import { greyOnPaper, workFactor } from './grey';
import { findStrokes } from './ink';
import type { Box } from './pieces';
import { placeDigit } from './place';
import { checkPixels, type PixelImage } from './pixels';
import { checkedPolarity, type PreprocessOptions } from './preprocess';
import { thickenStrokes } from './stroke';

/** A rectangle of a picture, in its pixels. */
export interface PixelBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One digit cut from a picture: where it lies and the 28x28 input it makes (as `preprocessImage` makes it). */
export interface DigitSegment {
  box: PixelBox;
  input: Float32Array;
}

/**
 * Part of a picture's ink that may be one digit: the strokes of some components, between a left
 * and a right bound on each row (x >= from[y], x < to[y]) where a cut has separated touching digits.
 */
export interface InkPiece {
  components: readonly number[];
  from: Int32Array;
  to: Int32Array;
  /** The box of its stroke pixels. */
  box: Box;
}

/** A picture of digits written left to right, as strokes at working size, split into pieces. */
export interface InkPage {
  width: number;
  height: number;
  /** Picture pixels per working pixel along each axis. */
  factor: number;
  pictureWidth: number;
  pictureHeight: number;
  soft: Float32Array;
  /** Each stroke pixel's component; -1 for paper and halo. */
  component: Int32Array;
  /** Each stroke or halo pixel's component (a halo pixel takes a neighbouring stroke's); -1 for paper. */
  owner: Int32Array;
  /** Pieces of strokes, left to right: each a whole digit, broken ones merged, or several touching. */
  pieces: InkPiece[];
  /** The pieces' median height: the height of one digit. */
  digitHeight: number;
}

/**
 * Two strokes overlapping along x by at least this share of the narrower one's width are parts of
 * one digit (the bar of a 5, the two strokes of a 4), when one is also shorter than
 * BROKEN_PART_HEIGHT of the other: neighbours in a number stand side by side at the same height.
 */
const BROKEN_PART_OVERLAP = 0.5;
const BROKEN_PART_HEIGHT = 0.8;
/**
 * A piece shorter than this share of a digit is a fragment (a stroke the threshold broke off, a
 * dot, a dash): it joins the nearest piece if that lies within FRAGMENT_REACH digit heights, and
 * is dropped otherwise (it is not a digit to read).
 */
const FRAGMENT_HEIGHT = 0.45;
const FRAGMENT_REACH = 0.3;

/**
 * The strokes of a picture of a number, as pieces to read left to right: connected strokes,
 * with the parts of a broken digit merged and fragments joined or dropped. Steps 1-3 of
 * `preprocessImage` find the strokes. Throws an ImageError when there is no ink.
 */
export function findPieces(input: PixelImage, options: PreprocessOptions = {}): InkPage {
  const source = options.name ?? 'image';
  const pixels = checkPixels(input, source);
  const grey = greyOnPaper(pixels);
  const { width, height } = grey;
  const { soft, component } = findStrokes(inkMap(grey, checkedPolarity(options.polarity, 'readNumber')), width, height, source);
  const owner = haloOwners(soft, component, width, height);
  const whole = (components: number[], box: Box): InkPiece => ({ components, box, from: new Int32Array(height), to: new Int32Array(height).fill(width) });
  let pieces = componentBoxes(component, width).map(([id, box]) => whole([id], box));
  pieces = mergeWhile(pieces, (a, b) => brokenParts(a.box, b.box), whole);
  const digitHeight = median(pieces.map((p) => p.box.y1 - p.box.y0));
  pieces = joinFragments(pieces, digitHeight, whole);
  pieces.sort((a, b) => a.box.x0 + a.box.x1 - (b.box.x0 + b.box.x1));
  return { width, height, factor: workFactor(pixels.width, pixels.height), pictureWidth: pixels.width, pictureHeight: pixels.height, soft, component, owner, pieces, digitHeight };
}

/**
 * The path of least ink from the top of `piece` to its bottom, moving at most one column a row,
 * within columns lo..hi: where touching digits meet, little ink joins them. Returns the path's
 * column on every row of the page (above and below the piece, its end columns).
 */
export function leastInkPath(page: InkPage, piece: InkPiece, lo: number, hi: number): Int32Array {
  const { box } = piece;
  const columns = hi - lo + 1;
  const rows = box.y1 - box.y0;
  // cost[r][c]: the least ink on a path from the top row to column lo + c of row r.
  const cost = new Float64Array(rows * columns);
  const came = new Int8Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const ink = pieceInk(page, piece, lo + c, box.y0 + r);
      if (r === 0) {
        cost[c] = ink;
        continue;
      }
      let best = cost[(r - 1) * columns + c];
      let step = 0;
      for (const d of [-1, 1]) {
        const k = c + d;
        if (k >= 0 && k < columns && cost[(r - 1) * columns + k] < best) [best, step] = [cost[(r - 1) * columns + k], d];
      }
      cost[r * columns + c] = best + ink;
      came[r * columns + c] = step;
    }
  }
  let c = 0;
  for (let k = 1; k < columns; k++) if (cost[(rows - 1) * columns + k] < cost[(rows - 1) * columns + c]) c = k;
  const path = new Int32Array(page.height).fill(lo + c);
  for (let r = rows - 1; r >= 0; r--) {
    path[box.y0 + r] = lo + c;
    c += came[r * columns + c];
  }
  path.fill(path[box.y0], 0, box.y0);
  return path;
}

/** The part of `piece` right of path `left` and left of path `right` (null: the piece's own edge); null when it holds no stroke. */
export function slicePiece(page: InkPage, piece: InkPiece, left: Int32Array | null, right: Int32Array | null): InkPiece | null {
  const from = left ? piece.from.map((x, y) => Math.max(x, left[y])) : piece.from;
  const to = right ? piece.to.map((x, y) => Math.min(x, right[y])) : piece.to;
  const box = strokeBox(page, { ...piece, from, to });
  return box && { components: piece.components, from, to, box };
}

/** The piece as a digit: its box in picture pixels and its 28x28 input, placed as `preprocessImage` places a digit. */
export function pieceDigit(page: InkPage, piece: InkPiece): DigitSegment {
  const { box } = piece;
  // Room for thickenStrokes to widen thin strokes (by at most 6.2% of the longer side, stroke.ts).
  const pad = 2 + Math.ceil(0.07 * Math.max(box.x1 - box.x0, box.y1 - box.y0));
  const x0 = Math.max(0, box.x0 - pad);
  const y0 = Math.max(0, box.y0 - pad);
  const width = Math.min(page.width, box.x1 + pad) - x0;
  const height = Math.min(page.height, box.y1 + pad) - y0;
  const soft = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) soft[y * width + x] = pieceInk(page, piece, x0 + x, y0 + y);
  const local = { x0: box.x0 - x0, y0: box.y0 - y0, x1: box.x1 - x0, y1: box.y1 - y0 };
  const input = placeDigit(thickenStrokes({ soft, box: local }, width, height), width, height);
  const f = page.factor;
  const x = box.x0 * f;
  const y = box.y0 * f;
  return { box: { x, y, width: Math.min(page.pictureWidth, box.x1 * f) - x, height: Math.min(page.pictureHeight, box.y1 * f) - y }, input };
}

/** The soft ink at (x, y) that belongs to `piece` (0 for paper and other pieces' ink). */
function pieceInk(page: InkPage, piece: InkPiece, x: number, y: number): number {
  if (x < piece.from[y] || x >= piece.to[y]) return 0;
  const p = y * page.width + x;
  return piece.components.includes(page.owner[p]) ? page.soft[p] : 0;
}

/** The box of the piece's stroke pixels (its components' within its bounds, halo left out as findInk leaves it), null if none. */
function strokeBox(page: InkPage, piece: InkPiece): Box | null {
  const box = { x0: page.width, y0: page.height, x1: 0, y1: 0 };
  for (let y = piece.box.y0; y < piece.box.y1; y++) {
    for (let x = Math.max(piece.box.x0, piece.from[y]); x < Math.min(piece.box.x1, piece.to[y]); x++) {
      const p = y * page.width + x;
      if (!piece.components.includes(page.component[p])) continue;
      box.x0 = Math.min(box.x0, x);
      box.x1 = Math.max(box.x1, x + 1);
      box.y0 = Math.min(box.y0, y);
      box.y1 = Math.max(box.y1, y + 1);
    }
  }
  return box.x1 > box.x0 ? box : null;
}

/** Stroke pixels keep their component; a halo pixel (soft ink next to a stroke) takes a neighbouring stroke's. */
function haloOwners(soft: Float32Array, component: Int32Array, width: number, height: number): Int32Array {
  const owner = component.slice();
  for (let p = 0; p < owner.length; p++) {
    if (owner[p] >= 0 || soft[p] === 0) continue;
    const px = p % width;
    const py = (p - px) / width;
    for (let y = Math.max(0, py - 1); y <= Math.min(height - 1, py + 1) && owner[p] < 0; y++) {
      for (let x = Math.max(0, px - 1); x <= Math.min(width - 1, px + 1); x++) {
        if (component[y * width + x] >= 0) {
          owner[p] = component[y * width + x];
          break;
        }
      }
    }
  }
  return owner;
}

/** Each component's id and the box of its pixels. */
function componentBoxes(component: Int32Array, width: number): [number, Box][] {
  const boxes = new Map<number, Box>();
  for (let p = 0; p < component.length; p++) {
    const id = component[p];
    if (id < 0) continue;
    const x = p % width;
    const y = (p - x) / width;
    const box = boxes.get(id);
    if (!box) boxes.set(id, { x0: x, y0: y, x1: x + 1, y1: y + 1 });
    else Object.assign(box, { x0: Math.min(box.x0, x), x1: Math.max(box.x1, x + 1), y0: Math.min(box.y0, y), y1: Math.max(box.y1, y + 1) });
  }
  return [...boxes];
}

/** Whether two strokes' boxes look like parts of one digit (see BROKEN_PART_OVERLAP). */
function brokenParts(a: Box, b: Box): boolean {
  const overlap = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const [ha, hb] = [a.y1 - a.y0, b.y1 - b.y0];
  return overlap >= BROKEN_PART_OVERLAP * Math.min(a.x1 - a.x0, b.x1 - b.x0) && Math.min(ha, hb) < BROKEN_PART_HEIGHT * Math.max(ha, hb);
}

/** Merges pairs of pieces for which `join` holds until no pair does. */
function mergeWhile(pieces: InkPiece[], join: (a: InkPiece, b: InkPiece) => boolean, whole: (components: number[], box: Box) => InkPiece): InkPiece[] {
  const out = pieces.slice();
  for (let merged = true; merged; ) {
    merged = false;
    for (let i = 0; i < out.length && !merged; i++) {
      for (let j = i + 1; j < out.length && !merged; j++) {
        if (!join(out[i], out[j])) continue;
        out[i] = whole([...out[i].components, ...out[j].components], union(out[i].box, out[j].box));
        out.splice(j, 1);
        merged = true;
      }
    }
  }
  return out;
}

/** Fragments (see FRAGMENT_HEIGHT) joined to their nearest piece within reach, or dropped. */
function joinFragments(pieces: InkPiece[], digitHeight: number, whole: (components: number[], box: Box) => InkPiece): InkPiece[] {
  const isFragment = (p: InkPiece) => p.box.y1 - p.box.y0 < FRAGMENT_HEIGHT * digitHeight;
  let out = pieces.filter((p) => !isFragment(p));
  for (const fragment of pieces.filter(isFragment)) {
    let nearest = -1;
    let distance = FRAGMENT_REACH * digitHeight;
    out.forEach((p, i) => {
      const d = Math.hypot(Math.max(0, p.box.x0 - fragment.box.x1, fragment.box.x0 - p.box.x1), Math.max(0, p.box.y0 - fragment.box.y1, fragment.box.y0 - p.box.y1));
      if (d <= distance) [nearest, distance] = [i, d];
    });
    if (nearest >= 0) out = out.map((p, i) => (i === nearest ? whole([...p.components, ...fragment.components], union(p.box, fragment.box)) : p));
  }
  return out;
}

function union(a: Box, b: Box): Box {
  return { x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) };
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
