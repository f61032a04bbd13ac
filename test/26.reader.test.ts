/**
 * Number readers: the training windows numberWindows writes (deterministic, centred digits
 * labelled, off-centre windows NOT_A_DIGIT), readNumber's window path on a stub reader whose
 * answers are known, and `digitnet train --preset reader` then `digitnet read` in a spawned CLI.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import type { Dataset } from '../lib/core/dataset';
import { loadMnist } from '../lib/data/mnist';
import { numberWindows } from '../lib/model/number-windows';
import { NOT_A_DIGIT, readNumber, windowDigits, type DigitClassifier } from '../lib/model/read-number';

const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');

function digitnet(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DIGITNET_DEBUG: '' } });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The ink-weighted mean column of 28x28 window k, and its ink. */
function inkColumn(inputs: Uint8Array | Float32Array, k: number): { x: number; ink: number } {
  let ink = 0;
  let x = 0;
  for (let i = 0; i < 784; i++) {
    ink += inputs[k * 784 + i];
    x += inputs[k * 784 + i] * (i % 28);
  }
  return { x: x / ink, ink };
}

let digits: Dataset;
beforeAll(async () => {
  digits = (await loadMnist()).test;
});

describe('numberWindows', () => {
  test('the same seed writes the same windows; another seed other ones', () => {
    const a = numberWindows(digits, { numbers: 20, seed: 5 });
    const b = numberWindows(digits, { numbers: 20, seed: 5 });
    const c = numberWindows(digits, { numbers: 20, seed: 6 });
    expect(a.count).toBeGreaterThan(20 * 4);
    expect(Buffer.from(a.inputs).equals(Buffer.from(b.inputs))).toBe(true);
    expect(Buffer.from(a.labels).equals(Buffer.from(b.labels))).toBe(true);
    expect(Buffer.from(a.inputs.subarray(0, 784 * 4)).equals(Buffer.from(c.inputs.subarray(0, 784 * 4)))).toBe(false);
    expect(a.shape).toEqual([1, 28, 28]);
    expect(a.inputs).toBeInstanceOf(Uint8Array);
  });

  test('windows on a digit carry its label and have their ink centred; the others are NOT_A_DIGIT', () => {
    // Only 3s and 7s to write with: every digit window is a 3 or a 7.
    const picks = [...Array(digits.count).keys()].filter((i) => digits.labels[i] === 3 || digits.labels[i] === 7).slice(0, 300);
    const inputs = new Uint8Array(picks.length * 784);
    picks.forEach((p, k) => inputs.set(digits.inputs.subarray(p * 784, (p + 1) * 784), k * 784));
    const threesAndSevens: Dataset = { inputs, labels: Uint8Array.from(picks, (p) => digits.labels[p]), count: picks.length, shape: [1, 28, 28] };
    const windows = numberWindows(threesAndSevens, { numbers: 60, seed: 2 });
    const classes = new Set(windows.labels);
    expect([...classes].sort((x, y) => x - y)).toEqual([3, 7, NOT_A_DIGIT]);
    const offCentre = (label: (l: number) => boolean) => {
      const ks = [...Array(windows.count).keys()].filter((k) => label(windows.labels[k]));
      const inked = ks.map((k) => inkColumn(windows.inputs, k)).filter((c) => c.ink > 0);
      return inked.reduce((sum, c) => sum + Math.abs(c.x - 13.5), 0) / inked.length;
    };
    // A window centred on a digit has its ink near the middle column (its neighbours' strokes at
    // the edges pull it about 3 pixels off on average: 2.8 here); a window between two digits or
    // beside the number has it to one side (5.6).
    expect(offCentre((l) => l !== NOT_A_DIGIT)).toBeLessThan(3.2);
    expect(offCentre((l) => l === NOT_A_DIGIT)).toBeGreaterThan(4.8);
  });

  test('refuses digits that are not 28x28 images or not labelled 0-9, and a count of numbers below 1', () => {
    const flat: Dataset = { inputs: new Uint8Array(10 * 100), labels: new Uint8Array(10), count: 10, shape: [100] };
    expect(() => numberWindows(flat)).toThrow('numberWindows: digits must be 28x28 images, got shape [100]');
    expect(() => numberWindows(digits, { numbers: 0 })).toThrow('numberWindows: numbers must be a positive integer, got 0');
    const eleven: Dataset = { inputs: digits.inputs.subarray(0, 3 * 784), labels: Uint8Array.of(1, 10, 2), count: 3, shape: [1, 28, 28] };
    expect(() => numberWindows(eleven)).toThrow('numberWindows: label 1 is 10; digits are labelled 0-9');
  });
});

/** A grey picture (white paper, black ink) of vertical bars 30 px tall, 6 wide, starting at columns `lefts`. */
function bars(lefts: number[]): { width: number; height: number; data: Uint8Array } {
  const width = Math.max(...lefts) + 40;
  const height = 60;
  const data = new Uint8Array(width * height).fill(240);
  for (const left of lefts) for (let y = 15; y < 45; y++) for (let x = left; x < left + 6; x++) data[y * width + x] = 20;
  return { width, height, data };
}

/**
 * A reader that knows one thing: an input whose ink's mean column is within 1.5 pixels of the
 * middle is on a digit, any other NOT_A_DIGIT. `onDigit` gives the probabilities of a digit, by
 * call: readNumber's first call reads the windows, its second the digits' own ink.
 */
function stubReader(...onDigit: Record<number, number>[]): DigitClassifier {
  let call = 0;
  return {
    classes: NOT_A_DIGIT + 1,
    predict(inputs: Float32Array, count: number) {
      const answer = onDigit[Math.min(call++, onDigit.length - 1)];
      const probabilities = new Float32Array(count * 11);
      const labels = new Uint8Array(count);
      for (let k = 0; k < count; k++) {
        const { x, ink } = inkColumn(inputs, k);
        const centred = ink > 0 && Math.abs(x - 13.5) < 1.5;
        for (const [label, p] of Object.entries(centred ? answer : { [NOT_A_DIGIT]: 1 })) probabilities[k * 11 + Number(label)] = p;
        labels[k] = centred ? Number(Object.keys(answer)[0]) : NOT_A_DIGIT;
      }
      return { labels, probabilities };
    },
  };
}

/** What a reader says of 40 windows a step apart: stretches [from, to) sure of a digit (p 0.95), NOT_A_DIGIT elsewhere (0.99). */
function windowProfile(...stretches: [number, number, number][]): { xs: number[]; probabilities: Float32Array } {
  const xs = [...Array(40).keys()];
  const probabilities = new Float32Array(40 * 11);
  for (const k of xs) {
    const stretch = stretches.find(([from, to]) => k >= from && k < to);
    probabilities[k * 11 + (stretch ? stretch[2] : 0)] = stretch ? 0.95 : 0.01;
    probabilities[k * 11 + NOT_A_DIGIT] = stretch ? 0.05 : 0.99;
  }
  return { xs, probabilities };
}

describe('windowDigits: where the windows say digits are centred', () => {
  test('a digit for a stretch of windows on one, two where a stretch is too long for one, none where every window says no digit', () => {
    const found = (...stretches: [number, number, number][]) => {
      const { xs, probabilities } = windowProfile(...stretches);
      return windowDigits(xs, probabilities, 11).map((digit) => ({ x: digit.x, label: digit.sums.indexOf(Math.max(...digit.sums)) }));
    };
    // Nine windows: one digit centred among them costs less than a second digit.
    const [one, ...more] = found([10, 19, 7]);
    expect(more).toEqual([]);
    expect(one.label).toBe(7);
    expect(one.x).toBeGreaterThanOrEqual(13);
    expect(one.x).toBeLessThanOrEqual(15);
    // Twelve windows, two crossing digits: one centre would leave three windows at 5 steps or more saying a digit.
    const two = found([10, 16, 1], [16, 22, 4]);
    expect(two.map((digit) => digit.label)).toEqual([1, 4]);
    expect(two[0].x).toBeLessThan(16);
    expect(two[1].x).toBeGreaterThanOrEqual(16);
    expect(found()).toEqual([]);
  });

  test('windows near a centre that name another digit are a digit of their own: a 1 drawn into a 4', () => {
    const { xs, probabilities } = windowProfile([10, 15, 1], [15, 20, 4]);
    // One centre would explain all ten windows as digit (they lie within 5 steps of it), but five
    // of them name a 1 and five a 4.
    expect(windowDigits(xs, probabilities, 11).map((digit) => digit.sums.indexOf(Math.max(...digit.sums)))).toEqual([1, 4]);
    // Ten windows that all name a 4 are one digit.
    expect(windowDigits(xs, windowProfile([10, 20, 4]).probabilities, 11)).toHaveLength(1);
  });

  test('a 1 is narrow: windows that say 1 over more steps than one 1 covers are two 1s side by side', () => {
    const labels = (...stretches: [number, number, number][]) => {
      const { xs, probabilities } = windowProfile(...stretches);
      return windowDigits(xs, probabilities, 11).map((digit) => digit.sums.indexOf(Math.max(...digit.sums)));
    };
    // Five windows (a centre and two steps either side) are one 1; nine are 11, where nine that
    // say 7 are one 7 (a wider digit's windows say it further off its centre).
    expect(labels([10, 15, 1])).toEqual([1]);
    expect(labels([10, 19, 1])).toEqual([1, 1]);
    expect(labels([10, 19, 7])).toEqual([7]);
  });

  test('with a count, exactly that many: the best placing of each count, the free reading where its count is given', () => {
    const found = (count: number | undefined, ...stretches: [number, number, number][]) => {
      const { xs, probabilities } = windowProfile(...stretches);
      return windowDigits(xs, probabilities, 11, count).map((digit) => ({ x: digit.x, label: digit.sums.indexOf(Math.max(...digit.sums)) }));
    };
    const crossing: [number, number, number][] = [
      [10, 16, 1],
      [16, 22, 4],
    ];
    expect(found(2, ...crossing)).toEqual(found(undefined, ...crossing));
    // One centre for both: in the middle of the twelve windows.
    const [one, ...none] = found(1, ...crossing);
    expect(none).toEqual([]);
    expect(one.x).toBeGreaterThanOrEqual(14);
    expect(one.x).toBeLessThanOrEqual(17);
    // Nine windows on one digit, read as two: both centres among them, apart.
    const two = found(2, [10, 19, 7]);
    expect(two).toHaveLength(2);
    for (const digit of two) expect(digit).toEqual({ x: expect.any(Number), label: 7 });
    expect(two[0].x).toBeGreaterThanOrEqual(9);
    expect(two[1].x).toBeLessThanOrEqual(19);
    expect(two[1].x).toBeGreaterThan(two[0].x);
    expect(found(3, ...crossing)).toHaveLength(3);
    expect(found(0, ...crossing)).toEqual([]);
    // More digits than windows: one on every window.
    expect(found(50, ...crossing)).toHaveLength(40);
  });
});

describe('readNumber with a window reader (11 classes)', () => {
  test('one digit for each bar its windows find centred, boxes around the bars', () => {
    const lefts = [30, 70, 130];
    const reading = readNumber(stubReader({ 1: 1 }), bars(lefts));
    expect(reading.number).toBe('111');
    reading.digits.forEach((digit, k) => {
      expect(digit.box.x).toBe(lefts[k]);
      expect(digit.box.width).toBe(6);
      expect(digit.box.y).toBe(15);
      expect(digit.box.height).toBe(30);
      expect(digit.probability).toBe(1);
      expect(digit.input).toHaveLength(784);
    });
  });

  test("a digit's label weighs its windows and its own ink: windows unsure between 1 and 2, ink sure of 2", () => {
    const reading = readNumber(stubReader({ 1: 0.55, 2: 0.45 }, { 2: 1 }), bars([30, 70]));
    expect(reading.number).toBe('22');
    // Half the windows' shares (0.45) and half the ink's (1).
    for (const digit of reading.digits) expect(digit.probability).toBeCloseTo(0.725, 5);
  });

  test('digits: N counts the pieces no window finds; where they cannot make up N, N digits placed by the windows alone', () => {
    // Windows find no digit: the two bars are read as hidden pieces.
    expect(readNumber(stubReader({ [NOT_A_DIGIT]: 1 }, { 7: 1 }), bars([30, 70]), { digits: 2 }).number).toBe('77');
    // Windows find both bars; three digits: a third centre beside one of them.
    expect(readNumber(stubReader({ 1: 1 }), bars([30, 70]), { digits: 3 }).digits).toHaveLength(3);
    // One digit on two separate bars: one centre leaves the other bar hidden (two in all), so one
    // centre alone.
    const one = readNumber(stubReader({ 1: 1 }), bars([30, 70]), { digits: 1 });
    expect(one.digits).toHaveLength(1);
  });

  test('a piece as tall as a digit that no window finds is still a digit, read from its own ink', () => {
    const reading = readNumber(stubReader({ [NOT_A_DIGIT]: 1 }, { 7: 1 }), bars([30, 70]));
    expect(reading.number).toBe('77');
    expect(reading.digits.map((d) => [d.box.x, d.box.width, d.probability])).toEqual([
      [30, 6, 1],
      [70, 6, 1],
    ]);
  });

  test('digits joined into one piece are each read from their own ink, cut apart along the least ink between them', () => {
    const image = bars([30, 70]);
    for (let x = 36; x < 70; x++) image.data[30 * image.width + x] = 20; // a one-pixel bridge
    const reading = readNumber(stubReader({ 1: 1 }, { 2: 1 }), image);
    expect(reading.number).toBe('11');
    // Each cut-out bar is centred, so read as a 2; a cut weighs 0.3 against the windows' 1.
    for (const digit of reading.digits) expect(digit.probability).toBeCloseTo(0.7, 5);
    // Boxes are the ink within a digit's width (20 px) of each: its bar and the bridge beside it.
    const [left, right] = reading.digits;
    expect(left.box.x).toBe(30);
    expect(right.box.x + right.box.width).toBe(76);
    for (const digit of reading.digits) expect(digit.box.width).toBeLessThan(25);
  });
});

describe('digitnet train --preset reader, then digitnet read', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'digitnet-reader-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('--limit writes only the numbers its windows need; the model has 11 classes and reads through the CLI', () => {
    const model = join(dir, 'reader.safetensors');
    const train = digitnet('train', '--preset', 'reader', '--limit', '2000', '--epochs', '1', '--out', model, '--json');
    expect(train.stderr).toContain('digitnet: writing 667 numbers with the training digits and 1000 with the test digits, cut into windows to read\n');
    expect(train.stderr).toMatch(/\(reader preset\)/);
    expect(train.status).toBe(0);
    const summary = JSON.parse(train.stdout);
    expect(summary.network).toMatch(/-11$/);
    // Windows of test numbers: far above the 1 in 11 of guessing after one short epoch.
    expect(summary.testAccuracy).toBeGreaterThan(0.5);
    const picture = join(dir, 'bars.png');
    const image = bars([30, 70, 130]);
    const png = new PNG({ width: image.width, height: image.height });
    for (let p = 0; p < image.width * image.height; p++) png.data.set([image.data[p], image.data[p], image.data[p], 255], 4 * p);
    writeFileSync(picture, PNG.sync.write(png));
    const read = digitnet('read', '--model', model, picture, '--json');
    expect(read.status).toBe(0);
    const [reading] = JSON.parse(read.stdout).readings;
    expect(reading.input).toBe(picture);
    expect(reading.digits.length).toBe(String(reading.number).length);
    // The same model twice is an ensemble that reads as the model alone.
    const twice = digitnet('read', '--model', model, '--model', model, picture, '--json');
    expect(twice.status).toBe(0);
    const both = JSON.parse(twice.stdout);
    expect(both.model).toEqual([model, model]);
    expect(both.readings[0].number).toBe(reading.number);
  }, 300_000);
});
