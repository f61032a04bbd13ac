#!/usr/bin/env node
'use strict';
// The robustness set: the first --count MNIST test digits, each drawn as a photo of one digit
// written on paper (enlarged, rotated, thinner or thicker strokes, off centre on a page, dark ink
// on light tinted paper, uneven light, noise), saved as PNG and as JPEG, with labels.json.
// --paper ruled or squared prints lined or squared paper under the same pictures.
//
//   node bench/handwriting/digits.js --out /tmp/hw/digits [--count 2000] [--seed 1] [--paper blank|ruled|squared]

const path = require('path');
const { loadMnist } = require('../../dist');
const c = require('./common');

const USAGE = 'usage: node bench/handwriting/digits.js --out DIR [--count N (2000)] [--seed S (1)] [--paper blank|ruled|squared (blank)]';
/** Output pixels per MNIST pixel at size 1: a 20-pixel MNIST digit becomes 60 pixels tall. */
const BASE_SCALE = 3;

/** Renders one MNIST image (28x28 bytes) as a photo of it on paper (`paper`: null, or ruled or squared with `rulesRng`): the RGBA page, its size, the parameters used. */
function render(img, rng, paper, rulesRng) {
  const size = rng.range(0.5, 1.5); // relative to BASE_SCALE: digits about 30 to 90 pixels tall
  const scale = BASE_SCALE * size;
  const angle = rng.range(-20, 20);
  const stroke = c.strokeParams(rng);
  // The rotated 28x28 square plus room for thickening, drawn centred.
  const side = Math.ceil((40 + 2 * Math.max(0, stroke.grow)) * scale);
  const canvas = new Float32Array(side * side);
  c.stamp(canvas, side, side, img, { cx: side / 2, cy: side / 2, scale, angle });
  const drawn = c.applyStroke(canvas, side, side, stroke, scale);
  // A page 1.6 to 3 times the digit's size (its box's longer side) each way.
  const digit = (bw, bh) => Math.max(bw, bh);
  const page = c.placeOnPage(drawn.canvas, side, side, rng, { refWidth: digit, refHeight: digit, across: [1.6, 3], down: [1.6, 3] });
  const look = c.lookParams(rng);
  const quality = rng.int(70, 92);
  const { width, height } = page;
  const rules = paper ? c.rulesParams(paper, rulesRng, page.inkBox) : null;
  const data = c.paint(page.coverage, width, height, look, rng, rules);
  const params = {
    size: c.round(size),
    scale: c.round(scale),
    angle: c.round(angle, 1),
    stroke: { kind: stroke.kind, grow: c.round(stroke.grow), radius: c.round(drawn.radius, 2), threshold: c.round(stroke.threshold) },
    digitBox: page.inkBox,
    page: { width, height },
    ...c.lookRecord(look),
    ...(rules ? { rules: c.rulesRecord(rules) } : {}),
    jpegQuality: quality,
  };
  return { data, width, height, params };
}

async function main() {
  const args = c.parseArgs(process.argv.slice(2), { out: '', count: '2000', seed: '1', paper: 'blank' }, ['help']);
  if (args.help) return void console.log(USAGE);
  if (!args.out) throw new Error(`--out DIR is required\n${USAGE}`);
  const count = c.intOption(args.count, 'count', 1, 10000);
  const seed = c.intOption(args.seed, 'seed', 0, 0xffffffff);
  const paper = c.paperOption(args.paper);
  const out = c.prepareOut(args.out);
  const { test } = await loadMnist();
  const started = Date.now();
  const items = [];
  for (let i = 0; i < count; i++) {
    const rng = c.makeRng(c.pictureSeed(seed, i));
    const label = test.labels[i];
    const picture = render(test.inputs.subarray(i * 784, (i + 1) * 784), rng, paper, c.makeRng(c.pictureSeed(seed ^ c.RULES_SEED, i)));
    const name = `${String(i).padStart(5, '0')}-${label}`;
    c.writePng(path.join(out, `${name}.png`), picture.data, picture.width, picture.height);
    c.writeJpeg(path.join(out, `${name}.jpg`), picture.data, picture.width, picture.height, picture.params.jpegQuality);
    items.push({ png: `${name}.png`, jpg: `${name}.jpg`, label, mnistIndex: i, pixels: c.pixelHash(picture.data), params: picture.params });
  }
  const print = c.fingerprint(items.map((item) => item.pixels));
  const fields = { kind: 'digits', fingerprint: print, generator: 'bench/handwriting/digits.js', seed, count, paper: args.paper, source: 'MNIST test set, images 0..count-1' };
  c.writeLabels(out, fields, items);
  console.log(`wrote ${count} digits (${2 * count} pictures) to ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s; fingerprint ${print}`);
}

c.run(main);
