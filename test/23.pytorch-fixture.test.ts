/**
 * A model file written by PyTorch (test/fixtures/pytorch/make_fixture.py: an nn.Sequential of
 * Flatten, Dense, Dropout, Dense, Dense saved with safetensors.torch) loads into digitnet, which
 * then predicts what PyTorch predicted: the file format is PyTorch's layout, layer for layer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Network } from '../lib/model/network';
import { describeBackends } from './backends';

const DIR = join(__dirname, 'fixtures', 'pytorch');
const MODEL = join(DIR, 'sequential.safetensors');

interface Expected {
  inputShape: number[];
  count: number;
  labels: number[];
  probabilities: number[];
  inputs: number[];
}

const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;

/** The file's `__metadata__`, read straight from its header (u64 length, then JSON), not through lib. */
function metadata(path: string): Record<string, string> {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')).__metadata__;
}

/** PyTorch computes in float32 too; the sums run in another order, so allow a little. */
const TOLERANCE = 1e-5;

test('the fixture is what make_fixture.py describes', () => {
  const meta = metadata(MODEL);
  expect(meta.format).toBe('digitnet/1');
  const config = JSON.parse(meta.digitnet);
  expect(config.input).toEqual(expected.inputShape);
  expect(config.layers.map((layer: { type: string }) => layer.type)).toEqual(['flatten', 'dense', 'dropout', 'dense', 'dense']);
  const size = expected.inputShape.reduce((a, b) => a * b, 1);
  expect(expected.inputs).toHaveLength(expected.count * size);
  expect(expected.labels).toHaveLength(expected.count);
  expect(expected.probabilities).toHaveLength(expected.count * 3);
  expect(new Set(expected.labels).size).toBe(3);
});

describeBackends('a PyTorch nn.Sequential saved with safetensors, on the %s backend', (backend) => {
  test('loads with the architecture of its metadata', async () => {
    const net = await Network.load(MODEL, { backend });
    expect(net.config).toEqual(JSON.parse(metadata(MODEL).digitnet));
  });

  test("predicts PyTorch's labels and probabilities", async () => {
    const net = await Network.load(MODEL, { backend });
    const { labels, probabilities } = net.predict(new Float32Array(expected.inputs), expected.count);
    expect(Array.from(labels)).toEqual(expected.labels);
    expect(probabilities).toHaveLength(expected.probabilities.length);
    const worst = Math.max(...Array.from(probabilities, (p, i) => Math.abs(p - expected.probabilities[i])));
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });
});
