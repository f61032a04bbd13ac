import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vm from 'node:vm';
import { Network } from '../lib/model/network';
import type { Dataset } from '../lib/core/dataset';
import { Random } from '../lib/core/random';
import { backendNames, describeBackends } from './backends';
import { largestDifference } from './weights';

/** A random labelled dataset of `count` samples with `pixels` bytes each. */
function randomDataset(count: number, pixels: number, classes: number, seed: number): Dataset & { inputs: Uint8Array; labels: Uint8Array } {
  const rng = new Random(seed);
  const inputs = new Uint8Array(count * pixels).map(() => rng.nextU32() & 255);
  const labels = new Uint8Array(count).map(() => rng.nextU32() % classes);
  return { inputs, labels, count, shape: [pixels] };
}

/** smallNet's first weights and their sum at seed 7, as this generator and initialiser give them. */
const SEED_7_FIRST_WEIGHTS = ['-0.420141', '0.294170', '-0.735344', '-0.430878'];
const SEED_7_WEIGHT_SUM = '-8.09387';

function smallNet(backend: 'ts' | 'native', factor = 1): Network {
  return Network.create({
    input: 6,
    seed: 7,
    backend,
    layers: [
      { units: 5, activation: 'leaky-relu', factor },
      { units: 4, activation: 'tanh' },
      { units: 3, activation: 'softmax', factor },
    ],
  });
}

/** Summed loss of the whole dataset in one forward pass. */
function totalLoss(net: Network, data: Dataset): number {
  const order = Uint32Array.from({ length: data.count }, (_, i) => i);
  const ws = net.loadBatch(data, order, 0, data.count);
  net.forward(data.count, ws.acts[0]);
  return net.loss(data.count, 1);
}

describe('Network.create', () => {
  test('a seed gives the weights it always gave (initialisation is part of reproducing a run)', () => {
    // Recorded from this generator; a change to the PRNG or the initialisers changes every
    // seeded result (the paper preset's steps to 95%, the default's accuracy) and must be deliberate.
    const params = smallNet('ts').params;
    expect(Array.from(params.subarray(0, 4), (v) => v.toFixed(6))).toEqual(SEED_7_FIRST_WEIGHTS);
    expect(params.reduce((sum, v) => sum + v, 0).toFixed(5)).toBe(SEED_7_WEIGHT_SUM);
  });

  test('the same seed gives the same outputs on every backend', () => {
    const data = randomDataset(7, 6, 3, 2);
    const [first, ...rest] = backendNames.map((name) => smallNet(name).predict(data.inputs, data.count).probabilities);
    for (const probabilities of rest) expect(largestDifference(probabilities, first)).toBeLessThan(1e-6);
  });

  test.each([1.5, -1, 2 ** 32, NaN])('rejects seed %p', (seed) => {
    expect(() => Network.create({ input: 4, seed, backend: 'ts', layers: [{ units: 3 }] })).toThrow(`Network.create: seed must be an integer in [0, 2^32), got ${seed}`);
  });

  test('different seeds give different weights', () => {
    const a = Network.create({ input: 6, seed: 1, backend: 'ts', layers: [{ units: 3, activation: 'softmax' }] });
    const b = Network.create({ input: 6, seed: 2, backend: 'ts', layers: [{ units: 3, activation: 'softmax' }] });
    expect(a.params).not.toEqual(b.params);
  });

  test.each([
    [{ input: 0, layers: [{ units: 3 }] }, /input must be a positive integer/],
    [{ input: 4, layers: [] }, /layers must be a non-empty array/],
    [{ input: 4, layers: [{ units: 0 }] }, /layers\[0\] \(dense\): units must be a positive integer/],
    [{ input: 4, layers: [{ units: 3, activation: 'softmax' }, { units: 2 }] }, /layers\[0\] \(dense\): softmax must be the output/],
    [{ input: 4, layers: [{ units: 3, activation: 'relu' }] }, /layers\[0\] \(dense\): softmax must be the output/],
    [{ input: 4, layers: [{ units: 3, activation: 'swish' }] }, /unknown activation 'swish'/],
    [{ input: 4, layers: [{ units: 3, activation: 'leaky-relu', factor: 0 }, { units: 2 }] }, /factor must be a finite number > 0/],
  ])('rejects a bad architecture %#', (options, message) => {
    expect(() => Network.create({ ...(options as object), backend: 'ts' } as never)).toThrow(message);
  });
});

describeBackends('Network on the %s backend', (backend) => {
  test('backward matches finite differences of the summed loss, with factors', () => {
    const net = smallNet(backend, 0.5);
    const data = randomDataset(4, 6, 3, 3);
    totalLoss(net, data);
    net.backward(data.count, false);
    const analytic = Float32Array.from(net.grads);
    const eps = 1e-2;
    let worst = 0;
    for (let i = 0; i < net.params.length; i += 3) {
      const saved = net.params[i];
      net.params[i] = saved + eps;
      const up = totalLoss(net, data);
      net.params[i] = saved - eps;
      const down = totalLoss(net, data);
      net.params[i] = saved;
      const numeric = (up - down) / (2 * eps);
      worst = Math.max(worst, Math.abs(numeric - analytic[i]) / Math.max(1, Math.abs(numeric)));
    }
    expect(worst).toBeLessThan(2e-2);
  });

  test('accumulated chunk gradients equal the whole-batch gradient', () => {
    const net = smallNet(backend);
    const data = randomDataset(10, 6, 3, 4);
    const order = Uint32Array.from({ length: 10 }, (_, i) => i);
    net.loadBatch(data, order, 0, 10);
    net.forward(10, net.loadBatch(data, order, 0, 10).acts[0]);
    net.loss(10, 1);
    net.backward(10, false);
    const whole = Float32Array.from(net.grads);
    for (const [start, rows] of [[0, 4], [4, 6]]) {
      const ws = net.loadBatch(data, order, start, rows);
      net.forward(rows, ws.acts[0]);
      net.loss(rows, 1);
      net.backward(rows, start > 0);
    }
    for (let i = 0; i < whole.length; i++) expect(net.grads[i]).toBeCloseTo(whole[i], 4);
  });

  test('predict gives probabilities that sum to 1 and labels that are their argmax', () => {
    const net = smallNet(backend);
    const data = randomDataset(9, 6, 3, 5);
    const { labels, probabilities } = net.predict(data.inputs, data.count);
    for (let r = 0; r < data.count; r++) {
      const row = Array.from(probabilities.subarray(r * 3, r * 3 + 3));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(labels[r]).toBe(row.indexOf(Math.max(...row)));
    }
  });

  test('predict on bytes equals predict on floats scaled by 1/255', () => {
    const net = smallNet(backend);
    const data = randomDataset(5, 6, 3, 6);
    const floats = Float32Array.from(data.inputs, (v) => v / 255);
    expect(net.predict(floats, 5).probabilities).toEqual(net.predict(data.inputs, 5).probabilities);
  });

  test('evaluate counts every sample once in the confusion matrix, rows = true label', () => {
    const net = smallNet(backend);
    const data = randomDataset(50, 6, 3, 8);
    const { accuracy, loss, confusion } = net.evaluate(data);
    expect(confusion.flat().reduce((a, b) => a + b, 0)).toBe(50);
    for (let c = 0; c < 3; c++) expect(confusion[c].reduce((a, b) => a + b, 0)).toBe(data.labels.filter((l) => l === c).length);
    expect(accuracy).toBeCloseTo((confusion[0][0] + confusion[1][1] + confusion[2][2]) / 50, 10);
    expect(loss).toBeGreaterThan(0);
  });

  test('predict reads a canvas Uint8ClampedArray and another realm\'s arrays by content', () => {
    const net = smallNet(backend);
    const data = randomDataset(4, 6, 3, 9);
    const want = net.predict(data.inputs, 4).probabilities;
    const otherRealm = vm.runInNewContext('(bytes) => new Uint8Array(bytes)')(Array.from(data.inputs));
    expect(otherRealm instanceof Uint8Array).toBe(false);
    expect(net.predict(new Uint8ClampedArray(data.inputs), 4).probabilities).toEqual(want);
    expect(net.predict(otherRealm, 4).probabilities).toEqual(want);
    const floats = vm.runInNewContext('(values) => new Float32Array(values)')(Array.from(data.inputs, (v) => v / 255));
    expect(net.predict(floats, 4).probabilities).toEqual(net.predict(Float32Array.from(data.inputs, (v) => v / 255), 4).probabilities);
    expect(() => net.predict(new Int8Array(24) as never, 4)).toThrow('predict: images must be a Uint8Array, Uint8ClampedArray or Float32Array, got Int8Array');
  });

  test.each([-1, 1.5, NaN])('evaluate rejects limit %p', (limit) => {
    expect(() => smallNet(backend).evaluate(randomDataset(3, 6, 3, 1), { limit })).toThrow(`evaluate: limit must be an integer >= 0, got ${limit}`);
  });

  test('evaluate rejects a dataset whose images do not fit the input', () => {
    const net = smallNet(backend);
    expect(() => net.evaluate(randomDataset(3, 5, 3, 1))).toThrow(/evaluate: samples are \[5\] = 5 values, the network takes \[6\] = 6/);
  });
});

describe('model files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'digitnet-model-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('save then load gives bit-identical weights and the same architecture', async () => {
    const net = smallNet('ts', 0.25);
    const path = join(dir, 'round.safetensors');
    await net.save(path);
    const again = await Network.load(path, { backend: 'ts' });
    expect(again.config).toEqual(net.config);
    expect(again.params).toEqual(net.params);
  });

  test('loading a file that is not a digitnet model says so', async () => {
    const path = join(dir, 'garbage.safetensors');
    writeFileSync(path, Buffer.from('definitely not a model'));
    await expect(Network.load(path)).rejects.toThrow(/garbage\.safetensors/);
  });

  test('loading a model whose tensors disagree with its architecture names the tensor', async () => {
    const net = smallNet('ts');
    const path = join(dir, 'mismatch.safetensors');
    await net.save(path);
    const bytes = require('node:fs').readFileSync(path) as Buffer;
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = bytes.subarray(8, 8 + headerLength).toString('utf8').replace('\\"units\\":5', '\\"units\\":6');
    expect(header.length).toBe(headerLength);
    writeFileSync(path, Buffer.concat([bytes.subarray(0, 8), Buffer.from(header), bytes.subarray(8 + headerLength)]));
    await expect(Network.load(path, { backend: 'ts' })).rejects.toThrow(/tensor layers\.0\.weight has shape \[5,6\], the architecture needs \[6,6\]/);
  });
});
