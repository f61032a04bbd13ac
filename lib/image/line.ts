import { DIGIT_BOX, MNIST_SIDE, resampleField } from './place';
import type { InkPage } from './segment';

/** A written number's strokes as one line of ink, for windows slid along it. */
export interface InkLine {
  width: number;
  height: number;
  /** The soft ink of the page's pieces (fragments dropped), working pixels. */
  ink: Float32Array;
  /** Magnification that makes the page's digits DIGIT_BOX pixels tall. */
  scale: number;
  /** The columns the pieces span: x0..x1 - 1. */
  x0: number;
  x1: number;
  /** Ink per column and ink-weighted row sum per column: each window's vertical centre of mass. */
  columnInk: Float64Array;
  columnRows: Float64Array;
}

/** The ink of a page's pieces as a line whose digits windows see at MNIST's size. */
export function inkLine(page: InkPage): InkLine {
  const { width, height } = page;
  const kept = new Set(page.pieces.flatMap((p) => p.components));
  const ink = new Float32Array(width * height);
  const columnInk = new Float64Array(width);
  const columnRows = new Float64Array(width);
  for (let p = 0; p < ink.length; p++) {
    if (!kept.has(page.owner[p])) continue;
    const v = page.soft[p];
    const x = p % width;
    ink[p] = v;
    columnInk[x] += v;
    columnRows[x] += v * ((p - x) / width);
  }
  const x0 = Math.min(...page.pieces.map((p) => p.box.x0));
  const x1 = Math.max(...page.pieces.map((p) => p.box.x1));
  return { width, height, ink, scale: DIGIT_BOX / page.digitHeight, x0, x1, columnInk, columnRows };
}

/** The box of the ink within a digit's width (DIGIT_BOX at MNIST's size) around column `x`, working pixels. */
export function inkSpan(line: InkLine, x: number): { x0: number; y0: number; x1: number; y1: number } {
  const half = DIGIT_BOX / 2 / line.scale;
  const span = { x0: line.width, y0: line.height, x1: 0, y1: 0 };
  for (let c = Math.max(0, Math.floor(x - half)); c < Math.min(line.width, Math.ceil(x + half)); c++) {
    if (line.columnInk[c] === 0) continue;
    span.x0 = Math.min(span.x0, c);
    span.x1 = c + 1;
    for (let y = 0; y < line.height; y++) {
      if (line.ink[y * line.width + c] === 0) continue;
      span.y0 = Math.min(span.y0, y);
      span.y1 = Math.max(span.y1, y + 1);
    }
  }
  return span.x1 > span.x0 ? span : { x0: Math.max(0, Math.floor(x)), y0: 0, x1: Math.max(1, Math.floor(x) + 1), y1: line.height };
}

/**
 * The 28x28 windows centred on columns `xs` of the line (fractional, working pixels), one after
 * the other: the line magnified to MNIST's digit size, each window's centre row the centre of mass
 * of the ink in the DIGIT_BOX columns around it (so lines that slope or wander stay centred).
 */
export function lineWindows(line: InkLine, xs: readonly number[]): Float32Array {
  const size = MNIST_SIDE * MNIST_SIDE;
  const out = new Float32Array(xs.length * size);
  const half = DIGIT_BOX / 2 / line.scale;
  xs.forEach((x, k) => {
    let mass = 0;
    let rows = 0;
    for (let c = Math.max(0, Math.floor(x - half)); c <= Math.min(line.width - 1, Math.ceil(x + half)); c++) {
      mass += line.columnInk[c];
      rows += line.columnRows[c];
    }
    const y = mass > 0 ? rows / mass : line.height / 2;
    out.set(resampleField(line.ink, line.width, line.height, { x, y }, line.scale), k * size);
  });
  return out;
}
