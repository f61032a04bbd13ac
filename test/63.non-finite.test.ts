/**
 * Numbers that go bad: NaN or infinite inputs and weights are errors that say where they are,
 * never silent NaN results, and a diverged network never replaces a good model file.
 */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { modelMetadata } from '../lib/io/model';
import { writeSafetensors } from '../lib/io/safetensors-file';
import type { Dense } from '../lib/layers/dense';
import { Network } from '../lib/model/network';

const layers = [{ units: 6, activation: 'relu' as const }, { units: 3, activation: 'softmax' as const }];
const small = (): Network => Network.create({ input: 4, seed: 1, backend: 'ts', layers });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'digitnet-nonfinite-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('predict', () => {
  test.each([NaN, Infinity, -Infinity])('rejects a float input of %s, naming the image and the value', (bad) => {
    const images = new Float32Array(3 * 4).fill(0.5);
    images[2 * 4 + 1] = bad;
    expect(() => small().predict(images, 3)).toThrow(`predict: images[9] (image 2, value 1) is ${bad}; inputs must be finite`);
  });

  test('ignores values past the images it was asked for', () => {
    const images = Float32Array.of(0.1, 0.2, 0.3, 0.4, NaN);
    expect(small().predict(images, 1).labels).toHaveLength(1);
  });
});

describe('model files', () => {
  test('loading a NaN weight names the file, the tensor and its row and column', async () => {
    const file = join(dir, 'nan.safetensors');
    const net = small();
    (net.layers[0] as Dense).weight[1 * 4 + 2] = NaN;
    await writeSafetensors(file, net.tensors(), modelMetadata(net.config));
    await expect(Network.load(file)).rejects.toThrow(`${file}: tensor layers.0.weight holds NaN at [1, 2]`);
  });

  test('loading an infinite bias names the element', async () => {
    const file = join(dir, 'inf.safetensors');
    const net = small();
    (net.layers[1] as Dense).bias[2] = -Infinity;
    await writeSafetensors(file, net.tensors(), modelMetadata(net.config));
    await expect(Network.load(file)).rejects.toThrow(`${file}: tensor layers.1.bias holds -Infinity at [2]`);
  });

  test('saving a network with a NaN weight fails and leaves the old model file as it was', async () => {
    const file = join(dir, 'keep.safetensors');
    await small().save(file);
    const before = readFileSync(file);
    const diverged = small();
    (diverged.layers[1] as Dense).weight[0] = NaN;
    await expect(diverged.save(file)).rejects.toThrow(`${file}: tensor layers.1.weight holds NaN at [0, 0]`);
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});
