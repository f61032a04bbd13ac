/**
 * Whole numbers and pictures through the CLI: Network.readNumber on pictures written here from
 * MNIST test digits (left to right on light paper, with gaps, a broken digit, a picture larger
 * than the working size, touching digits), and `digitnet predict` / `digitnet read` on PNG and
 * JPEG files in a spawned CLI, checked against the library's own answers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { Dataset } from '../lib/core/dataset';
import { loadMnist } from '../lib/data/mnist';
import { decodeImage } from '../lib/image/decode';
import type { RgbaImage } from '../lib/image/pixels';
import { Ensemble } from '../lib/model/ensemble';
import { Network } from '../lib/model/network';
import { PRESETS } from '../lib/train/presets';

const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');

function digitnet(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DIGITNET_DEBUG: '' } });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Where a digit's ink was put on a page, in page pixels (columns x0..x1 - 1). */
interface Placed {
  x0: number;
  x1: number;
}

/**
 * MNIST test digits `indices` written left to right, each enlarged `scale` times (bilinear),
 * `gaps[k]` pixels between the ink of digit k and k + 1 (negative: they overlap), dark ink on
 * light paper, as RGBA. `erase` blanks rows of a digit (in its own 28x28 rows) to break it.
 */
function writeNumber(source: Dataset, indices: number[], options: { scale: number; gaps: number[]; erase?: [number, number, number] }): { image: RgbaImage; placed: Placed[] } {
  const { scale, gaps } = options;
  const side = Math.round(28 * scale);
  const digits = indices.map((index, k) => {
    const pixels = Float32Array.from(source.inputs.subarray(index * 784, (index + 1) * 784) as Uint8Array, (v) => v / 255);
    if (options.erase && options.erase[0] === k) pixels.fill(0, options.erase[1] * 28, options.erase[2] * 28);
    const at = (x: number, y: number) => (x < 0 || y < 0 || x > 27 || y > 27 ? 0 : pixels[y * 28 + x]);
    const big = new Float32Array(side * side);
    let [x0, x1] = [side, 0];
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const [u, v] = [(x + 0.5) / scale - 0.5, (y + 0.5) / scale - 0.5];
        const [i, j] = [Math.floor(u), Math.floor(v)];
        const [fu, fv] = [u - i, v - j];
        const value = (1 - fu) * (1 - fv) * at(i, j) + fu * (1 - fv) * at(i + 1, j) + (1 - fu) * fv * at(i, j + 1) + fu * fv * at(i + 1, j + 1);
        big[y * side + x] = value;
        if (value >= 0.5) [x0, x1] = [Math.min(x0, x), Math.max(x1, x + 1)];
      }
    }
    return { big, x0, x1 };
  });
  const margin = side;
  const width = 2 * margin + digits.reduce((sum, d, k) => sum + d.x1 - d.x0 + (k > 0 ? gaps[k - 1] : 0), 0);
  const height = 2 * side;
  const ink = new Float32Array(width * height);
  const placed: Placed[] = [];
  let left = margin;
  digits.forEach((d, k) => {
    if (k > 0) left += gaps[k - 1];
    const shift = left - d.x0;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const to = (y + side / 2) * width + x + shift;
        if (x + shift >= 0 && x + shift < width) ink[to] = Math.max(ink[to], d.big[y * side + x]);
      }
    }
    placed.push({ x0: left, x1: left + d.x1 - d.x0 });
    left += d.x1 - d.x0;
  });
  const data = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const grey = Math.round(235 - 200 * ink[p]);
    data.set([grey, grey, grey + 6, 255], 4 * p);
  }
  return { image: { width, height, data }, placed };
}

function pngBytes(image: RgbaImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data);
  return PNG.sync.write(png);
}

function jpegBytes(image: RgbaImage): Buffer {
  return jpeg.encode({ width: image.width, height: image.height, data: Buffer.from(image.data) }, 85).data;
}

let digits: Dataset;
let net: Network;
let dir: string;
let model: string;

beforeAll(async () => {
  const mnist = await loadMnist();
  digits = mnist.test;
  // The cnn preset's network, one epoch: about 98.5%, in a few seconds on the native backend.
  const { hidden, output, fit } = PRESETS.cnn;
  net = Network.create({ input: [1, 28, 28], layers: [...hidden, output], seed: 1 });
  await net.fit(mnist.train, { ...fit, epochs: 1 });
  dir = mkdtempSync(join(tmpdir(), 'digitnet-read-'));
  model = join(dir, 'model.safetensors');
  await net.save(model);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the network reads in each digit written on its own: what readNumber must find digit by digit. */
function aloneLabels(indices: number[], scale: number): string {
  return indices.map((index) => net.predictImage(writeNumber(digits, [index], { scale, gaps: [] }).image).label).join('');
}

describe('Network.readNumber', () => {
  test('digits written apart are found left to right, each read as it is read alone, boxes where they were put', () => {
    const indices = [3, 2, 1, 18, 4];
    const { image, placed } = writeNumber(digits, indices, { scale: 3, gaps: [20, 9, 30, 14] });
    const reading = net.readNumber(image);
    expect(reading.digits).toHaveLength(5);
    expect(reading.number).toBe(aloneLabels(indices, 3));
    reading.digits.forEach((digit, k) => {
      expect(Math.abs(digit.box.x - placed[k].x0)).toBeLessThanOrEqual(3);
      expect(Math.abs(digit.box.x + digit.box.width - placed[k].x1)).toBeLessThanOrEqual(3);
      expect(digit.input).toHaveLength(784);
      expect(digit.probability).toBeGreaterThan(0);
      expect(digit.probability).toBeLessThanOrEqual(1);
    });
  });

  test('a digit broken in two (a band of its rows erased) is read as one digit', () => {
    // Test image 3 is a 0: erasing its rows 13-15 leaves a top and a bottom arc, one above the other.
    expect(digits.labels[3]).toBe(0);
    const { image } = writeNumber(digits, [2, 3, 2], { scale: 3, gaps: [25, 25], erase: [1, 13, 16] });
    const reading = net.readNumber(image);
    expect(reading.digits).toHaveLength(3);
    expect(reading.digits[0].box.x + reading.digits[0].box.width).toBeLessThan(reading.digits[1].box.x);
  });

  test('boxes are in the picture pixels of a picture larger than the working size', () => {
    const indices = [7, 0, 2];
    const small = writeNumber(digits, indices, { scale: 3, gaps: [30, 30] });
    const large = writeNumber(digits, indices, { scale: 15, gaps: [150, 150] });
    expect(large.image.width).toBeGreaterThan(1024); // worked on at half size
    const reading = net.readNumber(large.image);
    expect(reading.digits).toHaveLength(3);
    expect(reading.number).toBe(net.readNumber(small.image).number);
    reading.digits.forEach((digit, k) => {
      expect(Math.abs(digit.box.x - large.placed[k].x0)).toBeLessThanOrEqual(15);
      expect(Math.abs(digit.box.x + digit.box.width - large.placed[k].x1)).toBeLessThanOrEqual(15);
      expect(digit.box.y + digit.box.height).toBeLessThanOrEqual(large.image.height);
    });
  });

  test('two digits written touching are cut apart where they meet', () => {
    // A 7 (test image 0) and a 4 (test image 4), their ink overlapping by 2 pixels of 84.
    const { image, placed } = writeNumber(digits, [0, 4], { scale: 3, gaps: [-2] });
    const reading = net.readNumber(image);
    expect(reading.digits).toHaveLength(2);
    const [seven, four] = reading.digits.map((d) => d.box);
    expect(Math.abs(seven.x - placed[0].x0)).toBeLessThanOrEqual(3);
    expect(Math.abs(seven.x + seven.width - placed[0].x1)).toBeLessThanOrEqual(6);
    expect(Math.abs(four.x - placed[1].x0)).toBeLessThanOrEqual(6);
    expect(Math.abs(four.x + four.width - placed[1].x1)).toBeLessThanOrEqual(3);
  });

  test('with digits: N, the best reading of exactly N digits; N below the number of pieces keeps every piece', () => {
    const indices = [3, 2, 1];
    const { image } = writeNumber(digits, indices, { scale: 3, gaps: [20, 9, 30] });
    const free = net.readNumber(image);
    expect(net.readNumber(image, { digits: 3 }).number).toBe(free.number);
    expect(net.readNumber(image, { digits: 2 }).number).toBe(free.number);
    // Two touching digits as one piece: read whole for one digit, cut for two.
    const touching = writeNumber(digits, [0, 4], { scale: 3, gaps: [-2] }).image;
    expect(net.readNumber(touching, { digits: 1 }).digits).toHaveLength(1);
    expect(net.readNumber(touching, { digits: 2 }).digits).toHaveLength(2);
    for (const bad of [0, 2.5, -1, NaN]) expect(() => net.readNumber(image, { digits: bad, name: 'n.png' })).toThrow(/^readNumber: digits must be a whole number of at least 1 \(got .*\) for n\.png$/);
  });

  test('a blank page and a network that does not take 28x28 images are refused', () => {
    const blank = { width: 200, height: 80, data: new Uint8Array(200 * 80 * 4).fill(230) };
    expect(() => net.readNumber(blank, { name: 'blank.png' })).toThrow(/^blank\.png: no ink found/);
    const other = Network.create({ input: 10, layers: [{ units: 3, activation: 'softmax' }] });
    expect(() => other.readNumber(writeNumber(digits, [0], { scale: 2, gaps: [] }).image)).toThrow(/readNumber: the network takes \[10\]/);
  });
});

describe('Ensemble: networks that read as one', () => {
  test('its probabilities are the mean of the networks\', its labels their most probable class', () => {
    const { hidden, output } = PRESETS.cnn;
    const other = Network.create({ input: [1, 28, 28], layers: [...hidden, output], seed: 2 });
    const inputs = Float32Array.from(digits.inputs.subarray(0, 3 * 784), (v) => v / 255);
    const mean = new Ensemble([net, other]).predict(inputs, 3);
    const a = net.predict(inputs, 3).probabilities;
    const b = other.predict(inputs, 3).probabilities;
    for (let i = 0; i < a.length; i++) expect(mean.probabilities[i]).toBeCloseTo((a[i] + b[i]) / 2, 6);
    for (let r = 0; r < 3; r++) {
      const row = Array.from(mean.probabilities.subarray(r * 10, r * 10 + 10));
      expect(mean.labels[r]).toBe(row.indexOf(Math.max(...row)));
    }
  });

  test('a network twice reads a number as the network alone', () => {
    const { image } = writeNumber(digits, [3, 5, 8], { scale: 2, gaps: [4, -2] });
    const alone = net.readNumber(image, { digits: 3 });
    const twice = new Ensemble([net, net]).readNumber(image, { digits: 3 });
    expect(twice.number).toBe(alone.number);
    twice.digits.forEach((digit, k) => {
      expect(digit.box).toEqual(alone.digits[k].box);
      expect(digit.probability).toBeCloseTo(alone.digits[k].probability, 5);
    });
  });

  test('no networks, networks of different class counts or inputs, and networks that do not take images are refused', () => {
    expect(() => new Ensemble([])).toThrow('Ensemble: give at least one network');
    const three = Network.create({ input: [1, 28, 28], layers: [{ type: 'flatten' }, { units: 3, activation: 'softmax' }] });
    expect(() => new Ensemble([net, three])).toThrow('Ensemble: network 2 has 3 classes, network 1 has 10');
    const flat = Network.create({ input: 10, layers: [{ units: 10, activation: 'softmax' }] });
    expect(() => new Ensemble([net, flat])).toThrow('Ensemble: network 2 takes 10 inputs, network 1 takes 784');
    const image = writeNumber(digits, [0], { scale: 2, gaps: [] }).image;
    expect(() => new Ensemble([flat]).readNumber(image)).toThrow(/^Ensemble\.readNumber: the network takes \[10\]/);
  });
});

describe('digitnet predict and read on pictures', () => {
  const indices = [1, 2, 3];
  let pictures: string[];

  beforeAll(() => {
    pictures = indices.flatMap((index, k) => {
      const { image } = writeNumber(digits, [index], { scale: 3, gaps: [] });
      const png = join(dir, `digit-${k}.png`);
      const jpg = join(dir, `digit-${k}.jpg`);
      writeFileSync(png, pngBytes(image));
      writeFileSync(jpg, jpegBytes(image));
      return [png, jpg];
    });
  });

  test('predict --json gives each picture the label and probabilities the library gives it', () => {
    const run = digitnet('predict', '--model', model, '--json', ...pictures);
    expect(run.status).toBe(0);
    const { predictions } = JSON.parse(run.stdout);
    expect(predictions.map((p: { input: string }) => p.input)).toEqual(pictures);
    for (const p of predictions) {
      const expected = net.predictImage(decodeImage(readFileSync(p.input), p.input));
      expect(p.label).toBe(expected.label);
      p.probabilities.forEach((q: number, c: number) => expect(q).toBeCloseTo(expected.probabilities[c], 4));
    }
  });

  test('predict --save-input writes the 28x28 each picture became, and the text names it', () => {
    const seen = join(dir, 'seen');
    const run = digitnet('predict', '--model', model, '--save-input', seen, pictures[0], pictures[1]);
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    // digit-0.png and digit-0.jpg share a name: the second is saved as digit-0-2.png.
    expect(lines[0]).toBe(`${pictures[0]}: ${net.predictImage(decodeImage(readFileSync(pictures[0]), '')).label} (${lines[0].match(/\(([\d.]+)%\)/)![1]}%), saw ${join(seen, 'digit-0.png')}`);
    expect(lines[1]).toMatch(new RegExp(`, saw ${join(seen, 'digit-0-2.png').replace(/[.\\/]/g, '\\$&')}$`));
    const saved = decodeImage(readFileSync(join(seen, 'digit-0.png')), 'saved');
    const input = net.predictImage(decodeImage(readFileSync(pictures[0]), '')).input;
    expect([saved.width, saved.height]).toEqual([28, 28]);
    input.forEach((v, i) => expect(saved.data[4 * i]).toBe(Math.round(v * 255)));
  });

  test('a corrupt and a blank picture are named on stderr with exit 1; the others are still classified', () => {
    const corrupt = join(dir, 'corrupt.png');
    writeFileSync(corrupt, readFileSync(pictures[0]).subarray(0, 100));
    const blank = join(dir, 'blank.png');
    writeFileSync(blank, pngBytes({ width: 60, height: 60, data: new Uint8Array(60 * 60 * 4).fill(240) }));
    const run = digitnet('predict', '--model', model, '--json', pictures[0], corrupt, blank, pictures[2]);
    expect(run.status).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.predictions.map((p: { input: string }) => p.input)).toEqual([pictures[0], pictures[2]]);
    expect(result.failures.map((f: { input: string }) => f.input)).toEqual([corrupt, blank]);
    const errors = run.stderr.trim().split('\n');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(new RegExp(`^digitnet: predict: ${corrupt.replace(/[.\\/]/g, '\\$&')}: `));
    expect(errors[1]).toMatch(/blank\.png: no ink found/);
  });

  test('read --json gives the number, boxes, labels and probabilities the library gives', () => {
    const { image } = writeNumber(digits, [5, 6, 7, 8], { scale: 3, gaps: [12, 20, 8] });
    const file = join(dir, 'number.png');
    writeFileSync(file, pngBytes(image));
    const run = digitnet('read', '--model', model, '--json', '--save-input', join(dir, 'digits'), file);
    expect(run.status).toBe(0);
    const [reading] = JSON.parse(run.stdout).readings;
    const expected = net.readNumber(image);
    expect(reading.number).toBe(expected.number);
    expect(reading.digits.map((d: { box: unknown }) => d.box)).toEqual(expected.digits.map((d) => d.box));
    expect(reading.digits.map((d: { label: number }) => d.label)).toEqual(expected.digits.map((d) => d.label));
    expect(reading.digits[0].seen).toBe(join(dir, 'digits', 'number-1.png'));
    const text = digitnet('read', '--model', model, file);
    expect(text.stdout).toMatch(new RegExp(`^${file.replace(/[.\\/]/g, '\\$&')}: ${expected.number} \\(${expected.digits.length} digits, least sure [\\d.]+%\\)\\n$`));
  });

  test('read --digits N reads exactly N digits as the library does; a count that is not a whole number >= 1 is refused', () => {
    const file = join(dir, 'touching.png');
    const image = writeNumber(digits, [0, 4], { scale: 3, gaps: [-2] }).image;
    writeFileSync(file, pngBytes(image));
    for (const count of [1, 2]) {
      const run = digitnet('read', '--model', model, '--json', '--digits', String(count), file);
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout).readings[0].number).toBe(net.readNumber(image, { digits: count }).number);
    }
    const bad = digitnet('read', '--model', model, '--digits', '0', file);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--digits must be an integer in \[1, 1000\], got '0'/);
  });
});
