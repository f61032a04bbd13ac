import type { Pixels } from './pixels';

/** A grey image: row-major lightness, 0 black to 1 white. */
export interface GreyImage {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * Longest side preprocessing works at. The digit ends up 20 pixels tall, so a photo's 4000 pixels
 * carry nothing the next steps need; averaging blocks down to at most this keeps every later
 * array near 4 MB, and is the area averaging the final scaling does anyway.
 */
export const WORK_SIDE = 1024;

/** Rec. 601 luma weights: how bright R, G and B look (what greyscale conversions use for sRGB values). */
const LUMA = [0.299, 0.587, 0.114];

/**
 * The image as lightness on paper, at working size: luma of each pixel, composited over the
 * paper by its alpha, averaged over factor x factor blocks (factor = ceil(longest side /
 * WORK_SIDE); partial blocks at the right and bottom edges average what they hold).
 */
export function greyOnPaper(pixels: Pixels): GreyImage {
  const { width, height, channels, data } = pixels;
  const factor = workFactor(width, height);
  const out = { width: Math.ceil(width / factor), height: Math.ceil(height / factor), data: new Float32Array(0) };
  out.data = new Float32Array(out.width * out.height);
  const counts = new Float32Array(out.width * out.height);
  const paper = channels === 4 ? paperFor(data) : 1;
  const column = Uint32Array.from({ length: width }, (_, x) => Math.floor(x / factor));
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / factor) * out.width;
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const to = row + column[x];
      out.data[to] += channels === 1 ? data[i] / 255 : over(data, 4 * i, paper);
      counts[to]++;
    }
  }
  for (let i = 0; i < out.data.length; i++) out.data[i] /= counts[i];
  return out;
}

/** The block side greyOnPaper averages a width x height image over: picture pixels per working pixel. */
export function workFactor(width: number, height: number): number {
  return Math.ceil(Math.max(width, height) / WORK_SIDE);
}

/** Lightness of the RGBA pixel at `at`, composited over `paper`: what shows where it is partly transparent. */
function over(data: Uint8Array, at: number, paper: number): number {
  const alpha = data[at + 3] / 255;
  return alpha * luma(data, at) + (1 - alpha) * paper;
}

function luma(data: Uint8Array, at: number): number {
  return (LUMA[0] * data[at] + LUMA[1] * data[at + 1] + LUMA[2] * data[at + 2]) / 255;
}

/**
 * The lightness of the paper under transparent pixels. Where most of the image is visible, it is
 * mostly paper and the transparent parts continue it: their mean lightness. Where less than half
 * is, what is visible is the ink (a canvas drawing on a transparent ground), and the paper is
 * the white or black it shows on: white under dark strokes, black under light ones, which white
 * paper would erase.
 */
function paperFor(data: Uint8Array): number {
  let weight = 0;
  let sum = 0;
  for (let at = 0; at < data.length; at += 4) {
    weight += data[at + 3];
    sum += data[at + 3] * luma(data, at);
  }
  // Nothing visible: whatever the paper, the image is blank (preprocessing says so later).
  if (weight === 0) return 1;
  const mean = sum / weight;
  if (weight >= (255 * data.length) / 4 / 2) return mean;
  return mean > 0.5 ? 0 : 1;
}
