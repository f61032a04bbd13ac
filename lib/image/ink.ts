import { ImageError } from '../core/errors';
import { boxOf, forEachPiece } from './pieces';
import { ruledLines } from './rules';

/** The digit found in an ink map: soft ink values (0 everywhere else) and the box around its strokes. */
export interface Ink {
  soft: Float32Array;
  /** The strokes' bounding box in pixels: columns x0..x1 - 1, rows y0..y1 - 1. */
  box: { x0: number; y0: number; x1: number; y1: number };
}

/** Histogram bins for the threshold (ink values are read to 1/256). */
const BINS = 256;
/**
 * Least difference between the mean ink of the two classes the threshold splits for there to be
 * a digit: paper texture, JPEG noise and an unevenly lit blank page stay well below it (the ink
 * map is relative to the paper), a light pencil stroke above it.
 */
const MIN_CONTRAST = 0.15;
/**
 * Strokes smaller than this fraction of the largest one (in pixels) are specks: dust, a JPEG
 * artefact, a dot of texture darker than the threshold. They would stretch the digit's box. A
 * digit's own separate strokes (the bar of a 5 written in two) are far larger.
 */
const SPECK = 0.05;
/**
 * ... unless their box's longer side reaches this fraction of the largest one's: a thin digit
 * written next to heavy ones has little ink but is as tall as they are.
 */
const SPECK_SIDE = 0.3;

/** The strokes of an ink map: soft ink values near them (0 elsewhere) and their 8-connected components. */
export interface Strokes {
  soft: Float32Array;
  /** Each stroke pixel's component, 0, 1, ...; -1 for paper, halo and the specks dropped. */
  component: Int32Array;
}

/**
 * Finds the digit in `ink` (0 paper .. 1 ink, width x height): its strokes (see findStrokes) and
 * their box. Throws an ImageError naming `source` when there is no ink.
 */
export function findInk(ink: Float32Array, width: number, height: number, source: string): Ink {
  const { soft, component } = findStrokes(ink, width, height, source);
  const box = { x0: width, y0: height, x1: 0, y1: 0 };
  for (let p = 0; p < component.length; p++) {
    if (component[p] < 0) continue;
    const x = p % width;
    const y = (p - x) / width;
    box.x0 = Math.min(box.x0, x);
    box.x1 = Math.max(box.x1, x + 1);
    box.y0 = Math.min(box.y0, y);
    box.y1 = Math.max(box.y1, y + 1);
  }
  return { soft, box };
}

/**
 * The strokes in `ink`: Otsu's threshold on the ink values separates strokes from paper (it
 * adapts to how dark the strokes are, and the paper's texture and noise sit below it), extended
 * along the strokes down to halfway to the paper (see extendStrokes); the printed lines of ruled
 * or squared paper are taken out (see ruledLines, which looks for them in all the ink down to that
 * halfway point); specks are dropped; the strokes' pixels and their 8 neighbours keep soft values,
 * so anti-aliased edges stay grey. Throws an ImageError naming `source` when there is no ink.
 */
export function findStrokes(ink: Float32Array, width: number, height: number, source: string): Strokes {
  const split = otsu(ink);
  if (!split) throw new ImageError(source, 'no ink found: the image is one uniform tone');
  if (split.inkMean - split.paperMean < MIN_CONTRAST) {
    throw new ImageError(source, `no ink found: the image looks blank (its marks differ from the paper by ${formatShare(split.inkMean - split.paperMean)} of its lightness; a digit's strokes need ${formatShare(MIN_CONTRAST)})`);
  }
  // Paper maps to 0 and the stroke's core (the ink class's median) to 1, as MNIST's saturated
  // strokes; between them, from halfway between paper and threshold, values stay proportional.
  const low = (split.paperMean + split.threshold) / 2;
  const strokes = extendStrokes(ink, split.threshold, low, width, height);
  const faint = new Uint8Array(ink.length);
  for (let i = 0; i < ink.length; i++) faint[i] = ink[i] >= low ? 1 : 0;
  const lines = ruledLines(strokes, faint, width, height);
  for (let i = 0; i < strokes.length; i++) if (lines[i]) strokes[i] = 0;
  const component = keepStrokes(strokes, width, height);
  const range = Math.max(split.inkMedian - low, 1 / BINS);
  const near = dilate(strokes, width, height);
  const soft = new Float32Array(ink.length);
  for (let i = 0; i < ink.length; i++) if (near[i] && !lines[i]) soft[i] = Math.min(1, Math.max(0, (ink[i] - low) / range));
  return { soft, component };
}

const formatShare = (v: number): string => `${Math.round(v * 100)}%`;

/**
 * Otsu's threshold (the split of the histogram that maximises the between-class variance), with
 * each class's mean and the ink class's median; null when all values fall in one bin.
 */
function otsu(values: Float32Array): { threshold: number; paperMean: number; inkMean: number; inkMedian: number } | null {
  const histogram = new Float64Array(BINS);
  for (let i = 0; i < values.length; i++) histogram[Math.min(BINS - 1, Math.floor(values[i] * BINS))]++;
  const centre = (bin: number) => (bin + 0.5) / BINS;
  let total = 0;
  let sum = 0;
  for (let b = 0; b < BINS; b++) {
    total += histogram[b];
    sum += histogram[b] * centre(b);
  }
  let best = { split: BINS - 1, variance: -1 };
  let count = 0;
  let below = 0;
  for (let b = 0; b < BINS - 1; b++) {
    count += histogram[b];
    below += histogram[b] * centre(b);
    if (count === 0 || count === total) continue;
    const difference = below / count - (sum - below) / (total - count);
    const variance = count * (total - count) * difference * difference;
    if (variance > best.variance) best = { split: b + 1, variance };
  }
  if (best.variance < 0) return null;
  let paperCount = 0;
  let paperSum = 0;
  for (let b = 0; b < best.split; b++) {
    paperCount += histogram[b];
    paperSum += histogram[b] * centre(b);
  }
  const inkCount = total - paperCount;
  let inkMedian = centre(BINS - 1);
  for (let b = best.split, seen = 0; b < BINS; b++) {
    seen += histogram[b];
    if (seen >= inkCount / 2) {
      inkMedian = centre(b);
      break;
    }
  }
  return {
    threshold: best.split / BINS,
    paperMean: paperSum / paperCount,
    inkMean: (sum - paperSum) / inkCount,
    inkMedian,
  };
}

/**
 * The pixels at or above `threshold`, and those at or above `low` connected to them: a faint or
 * thin stretch of a stroke (a pen running dry, a light line next to heavy ones that set the
 * threshold) stays joined to its stroke instead of breaking it in two, while faint marks on
 * their own stay paper.
 */
function extendStrokes(ink: Float32Array, threshold: number, low: number, width: number, height: number): Uint8Array {
  const strokes = new Uint8Array(ink.length);
  const stack = new Int32Array(ink.length);
  let top = 0;
  for (let p = 0; p < ink.length; p++) {
    if (ink[p] >= threshold) {
      strokes[p] = 1;
      stack[top++] = p;
    }
  }
  while (top > 0) {
    const p = stack[--top];
    const px = p % width;
    const py = (p - px) / width;
    for (let y = Math.max(0, py - 1); y <= Math.min(height - 1, py + 1); y++) {
      for (let x = Math.max(0, px - 1); x <= Math.min(width - 1, px + 1); x++) {
        const q = y * width + x;
        if (!strokes[q] && ink[q] >= low) {
          strokes[q] = 1;
          stack[top++] = q;
        }
      }
    }
  }
  return strokes;
}

/**
 * Labels the 8-connected strokes of `strokes` (1 = ink), clears the specks (see SPECK) and
 * returns each pixel's component (-1 for paper and specks).
 */
function keepStrokes(strokes: Uint8Array, width: number, height: number): Int32Array {
  const label = new Int32Array(strokes.length).fill(-1);
  const areas: number[] = [];
  const sides: number[] = [];
  forEachPiece(strokes, width, height, (piece) => {
    for (const p of piece) label[p] = areas.length;
    const box = boxOf(piece, width);
    areas.push(piece.length);
    sides.push(Math.max(box.x1 - box.x0, box.y1 - box.y0));
  });
  const least = SPECK * areas.reduce((a, b) => Math.max(a, b), 0);
  const shortest = SPECK_SIDE * sides.reduce((a, b) => Math.max(a, b), 0);
  for (let p = 0; p < strokes.length; p++) {
    if (strokes[p] && areas[label[p]] < least && sides[label[p]] < shortest) {
      strokes[p] = 0;
      label[p] = -1;
    }
  }
  return label;
}

/** The pixels within one pixel (8-neighbourhood) of a set pixel of `mask`: where a stroke's anti-aliased edge lies. */
function dilate(mask: Uint8Array, width: number, height: number): Uint8Array {
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      rows[i] = mask[i] | (x > 0 ? mask[i - 1] : 0) | (x < width - 1 ? mask[i + 1] : 0);
    }
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = rows[i] | (i >= width ? rows[i - width] : 0) | (i + width < mask.length ? rows[i + width] : 0);
  return out;
}
