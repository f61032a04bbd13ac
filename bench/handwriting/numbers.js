#!/usr/bin/env node
'use strict';
// The whole-number set: --count 5-digit numbers, each written left to right on one page with
// MNIST test digits of the right labels (mildly rescaled, irregular gaps, about one gap in five
// touching or overlapping, baseline jitter, a small slant), then given the paper, ink, light and
// noise of digits.js. Saved as PNG and JPEG, with labels.json giving each picture's number.
// --plain: the same numbers as MNIST draws digits (white on black, MNIST size), PNG only.
// --paper ruled or squared prints lined or squared paper under the same photos.
//
//   node bench/handwriting/numbers.js --out /tmp/hw/numbers [--count 200] [--seed 1] [--plain] [--paper blank|ruled|squared]

const path = require('path');
const { loadMnist } = require('../../dist');
const c = require('./common');

const USAGE = 'usage: node bench/handwriting/numbers.js --out DIR [--count N (200)] [--seed S (1)] [--plain] [--paper blank|ruled|squared (blank)]';
/** Output pixels per MNIST pixel at size 1, as in digits.js. */
const BASE_SCALE = 3;
const DIGITS = 5;

/**
 * Lays out the digits in MNIST pixels: each digit's ink box follows the previous one's after a
 * gap (80%: 0 to 8 pixels apart; 20%: 1 to 4 pixels of overlap), scaled 0.85 to 1.15, its bottom
 * on the baseline give or take 3 pixels, slanted like the number give or take 3 degrees.
 */
function layout(images, rng) {
  const slant = rng.range(-6, 6);
  const placed = [];
  let cursor = 0;
  for (let k = 0; k < images.length; k++) {
    const box = c.box28(images[k]);
    const scale = rng.range(0.85, 1.15);
    const gap = k === 0 ? 0 : rng.chance(0.8) ? rng.range(0, 8) : -rng.range(1, 4);
    const jitter = rng.range(-3, 3);
    const angle = slant + rng.range(-3, 3);
    const left = cursor + gap;
    // Source x (pixel edges) maps to cx + (x - 14) * scale; the box's left edge to `left`.
    const cx = left - (box.x0 - 14) * scale;
    const cy = jitter - (box.y1 + 1 - 14) * scale; // the box's bottom edge on the baseline (y = 0)
    cursor = left + (box.x1 + 1 - box.x0) * scale;
    placed.push({ cx, cy, scale, angle, gap: c.round(gap, 2), jitter: c.round(jitter, 2) });
  }
  return { placed, slant, width: cursor };
}

function render(images, rng, plain, paper, rulesRng) {
  const size = rng.range(0.5, 1.5);
  const scale = BASE_SCALE * size;
  const stroke = c.strokeParams(rng);
  const { placed, slant, width } = layout(images, rng);
  if (plain) return renderPlain(images, placed, slant, width);
  // The canvas (output pixels) with room around the layout for rotation and thickening.
  const margin = 24;
  const top = -30 - margin; // baseline-relative MNIST pixels: digits are up to ~23 tall plus jitter
  const cw = Math.ceil((width + 2 * margin) * scale);
  const ch = Math.ceil((40 + 2 * margin) * scale);
  const canvas = new Float32Array(cw * ch);
  for (let k = 0; k < images.length; k++) {
    const p = placed[k];
    c.stamp(canvas, cw, ch, images[k], { cx: (p.cx + margin) * scale, cy: (p.cy - top) * scale, scale: p.scale * scale, angle: p.angle });
  }
  const drawn = c.applyStroke(canvas, cw, ch, stroke, scale);
  // A page 1.15 to 1.6 times the number's width and 1.6 to 3 times its height.
  const page = c.placeOnPage(drawn.canvas, cw, ch, rng, { refWidth: (bw) => bw, refHeight: (bw, bh) => bh, across: [1.15, 1.6], down: [1.6, 3] });
  const look = c.lookParams(rng);
  const quality = rng.int(70, 92);
  const rules = paper ? c.rulesParams(paper, rulesRng, page.inkBox) : null;
  const data = c.paint(page.coverage, page.width, page.height, look, rng, rules);
  const params = {
    size: c.round(size),
    scale: c.round(scale),
    slant: c.round(slant, 1),
    digits: placed.map((p) => ({ scale: c.round(p.scale), gap: p.gap, jitter: p.jitter, angle: c.round(p.angle, 1) })),
    stroke: { kind: stroke.kind, grow: c.round(stroke.grow), radius: c.round(drawn.radius, 2), threshold: c.round(stroke.threshold) },
    numberBox: page.inkBox,
    page: { width: page.width, height: page.height },
    ...c.lookRecord(look),
    ...(rules ? { rules: c.rulesRecord(rules) } : {}),
    jpegQuality: quality,
  };
  return { data, width: page.width, height: page.height, params };
}

/**
 * The layout alone, as MNIST draws digits: white ink on black at MNIST's own size (20-pixel
 * digits), cut to the number's ink with 4 pixels of black around it; no stroke change, page,
 * paper, light or noise.
 */
function renderPlain(images, placed, slant, width) {
  const top = -30;
  const cw = Math.ceil(width + 48);
  const ch = 40;
  const canvas = new Float32Array(cw * ch);
  for (let k = 0; k < images.length; k++) c.stamp(canvas, cw, ch, images[k], { cx: placed[k].cx + 24, cy: placed[k].cy - top, scale: placed[k].scale, angle: placed[k].angle });
  const box = c.inkBox(canvas, cw, ch, 0.01);
  const w = box.x1 - box.x0 + 9;
  const h = box.y1 - box.y0 + 9;
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = box.x0 - 4 + x;
      const sy = box.y0 - 4 + y;
      const v = sx >= 0 && sy >= 0 && sx < cw && sy < ch ? Math.round(255 * canvas[sy * cw + sx]) : 0;
      data.fill(v, (y * w + x) * 4, (y * w + x) * 4 + 3);
      data[(y * w + x) * 4 + 3] = 255;
    }
  }
  const params = {
    slant: c.round(slant, 1),
    digits: placed.map((p) => ({ scale: c.round(p.scale), gap: p.gap, jitter: p.jitter, angle: c.round(p.angle, 1) })),
  };
  return { data, width: w, height: h, params };
}

async function main() {
  const args = c.parseArgs(process.argv.slice(2), { out: '', count: '200', seed: '1', paper: 'blank' }, ['help', 'plain']);
  if (args.help) return void console.log(USAGE);
  if (!args.out) throw new Error(`--out DIR is required\n${USAGE}`);
  const count = c.intOption(args.count, 'count', 1, 100000);
  const seed = c.intOption(args.seed, 'seed', 0, 0xffffffff);
  const paper = c.paperOption(args.paper);
  if (paper && args.plain) throw new Error(`--plain draws no paper: --paper ${args.paper} does not go with it`);
  const out = c.prepareOut(args.out);
  const { test } = await loadMnist();
  const byLabel = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < test.count; i++) byLabel[test.labels[i]].push(i);
  const started = Date.now();
  const items = [];
  for (let i = 0; i < count; i++) {
    // Seeds of their own (not digits.js's): the number set is not the digit set's pictures.
    const rng = c.makeRng(c.pictureSeed(seed ^ 0x6e756d62, i));
    const number = Array.from({ length: DIGITS }, () => rng.int(0, 9)).join('');
    const sources = [...number].map((d) => rng.pick(byLabel[Number(d)]));
    const images = sources.map((s) => test.inputs.subarray(s * 784, (s + 1) * 784));
    const picture = render(images, rng, args.plain, paper, c.makeRng(c.pictureSeed(seed ^ c.RULES_SEED, i)));
    const name = `${String(i).padStart(5, '0')}-${number}`;
    c.writePng(path.join(out, `${name}.png`), picture.data, picture.width, picture.height);
    if (!args.plain) c.writeJpeg(path.join(out, `${name}.jpg`), picture.data, picture.width, picture.height, picture.params.jpegQuality);
    items.push({ png: `${name}.png`, ...(args.plain ? {} : { jpg: `${name}.jpg` }), number, mnistIndices: sources, pixels: c.pixelHash(picture.data), params: picture.params });
  }
  const print = c.fingerprint(items.map((item) => item.pixels));
  const fields = { kind: 'numbers', fingerprint: print, generator: 'bench/handwriting/numbers.js', style: args.plain ? 'plain' : 'photo', paper: args.paper, seed, count, source: 'MNIST test set, random images of each digit' };
  c.writeLabels(out, fields, items);
  console.log(`wrote ${count} numbers (${args.plain ? count : 2 * count} pictures) to ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s; fingerprint ${print}`);
}

c.run(main);
