/**
 * Model files written by PyTorch (test/fixtures/pytorch/make_fixture.py: nn.Sequential models
 * saved with safetensors.torch) load into digitnet, which then computes what PyTorch computed: the
 * file format is PyTorch's layout, layer for layer. `sequential` is dense (Flatten, Dense,
 * Dropout, Dense, Dense); `cnn` has Conv2d ('same' and explicit padding, a 3x2 kernel with stride
 * 2), BatchNorm2d, MaxPool2d, BatchNorm1d, and its expectations include one training-mode pass:
 * the probabilities under batch statistics and the running statistics after it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Network } from '../lib/model/network';
import { describeBackends } from './backends';

const DIR = join(__dirname, 'fixtures', 'pytorch');

interface Expected {
  inputShape: number[];
  count: number;
  labels: number[];
  probabilities: number[];
  inputs: number[];
  trainingProbabilities?: number[];
  runningAfterTraining?: Record<string, number[]>;
}

const FIXTURES = {
  sequential: ['flatten', 'dense', 'dropout', 'dense', 'dense'],
  cnn: ['conv2d', 'batchnorm', 'maxpool2d', 'conv2d', 'flatten', 'dense', 'batchnorm', 'dense'],
};

/** The file's `__metadata__`, read straight from its header (u64 length, then JSON), not through lib. */
function metadata(path: string): Record<string, string> {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')).__metadata__;
}

/** PyTorch computes in float32 too; the sums run in another order, so allow a little. */
const TOLERANCE = 1e-5;

function largestDifference(actual: ArrayLike<number>, expected: number[]): number {
  expect(actual).toHaveLength(expected.length);
  return Math.max(...Array.from(actual, (v, i) => Math.abs(v - expected[i])));
}

/** Row-wise softmax in double. */
function softmaxRows(logits: Float32Array, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < logits.length / cols; r++) {
    const row = Array.from(logits.subarray(r * cols, (r + 1) * cols));
    const max = Math.max(...row);
    const sum = row.reduce((a, v) => a + Math.exp(v - max), 0);
    out.push(...row.map((v) => Math.exp(v - max) / sum));
  }
  return out;
}

describe.each(Object.entries(FIXTURES))('the %s fixture', (name, types) => {
  const model = join(DIR, `${name}.safetensors`);
  const expected = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as Expected;

  test('is what make_fixture.py describes', () => {
    const meta = metadata(model);
    expect(meta.format).toBe('digitnet/1');
    const config = JSON.parse(meta.digitnet);
    expect(config.input).toEqual(expected.inputShape);
    expect(config.layers.map((layer: { type: string }) => layer.type)).toEqual(types);
    const size = expected.inputShape.reduce((a, b) => a * b, 1);
    expect(expected.inputs).toHaveLength(expected.count * size);
    expect(expected.labels).toHaveLength(expected.count);
    expect(expected.probabilities).toHaveLength(expected.count * 3);
    expect(new Set(expected.labels).size).toBe(3);
  });

  describeBackends(`on the %s backend`, (backend) => {
    test('loads with the architecture of its metadata', async () => {
      const net = await Network.load(model, { backend });
      expect(net.config).toEqual(JSON.parse(metadata(model).digitnet));
    });

    test("predicts PyTorch's labels and probabilities", async () => {
      const net = await Network.load(model, { backend });
      const { labels, probabilities } = net.predict(new Float32Array(expected.inputs), expected.count);
      expect(Array.from(labels)).toEqual(expected.labels);
      expect(largestDifference(probabilities, expected.probabilities)).toBeLessThanOrEqual(TOLERANCE);
    });

    if (expected.runningAfterTraining) {
      test("a training-mode pass gives PyTorch's probabilities and moves the running statistics as PyTorch's did", async () => {
        const net = await Network.load(model, { backend });
        net.forward(expected.count, new Float32Array(expected.inputs), { training: true, noise: 0 });
        const probabilities = softmaxRows(net.logits(expected.count), 3);
        expect(largestDifference(probabilities, expected.trainingProbabilities!)).toBeLessThanOrEqual(TOLERANCE);
        const tensors = net.tensors();
        for (const [key, values] of Object.entries(expected.runningAfterTraining!)) {
          expect(largestDifference(tensors[key].data, values)).toBeLessThanOrEqual(TOLERANCE);
        }
      });
    }
  });
});
