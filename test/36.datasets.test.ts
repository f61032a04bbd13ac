/**
 * Datasets beyond MNIST: `fromArrays` (kinds of input, inferred shapes, refusals), a float dataset
 * no linear model separates (interleaved spirals) learned on both backends, and `validationSplit`.
 */
import { interleaveDatasets } from '../lib/core/dataset';
import { Random } from '../lib/core/random';
import { fromArrays } from '../lib/data/arrays';
import { Network } from '../lib/model/network';
import { describeBackends } from './backends';

/** Three interleaved spirals in the plane, 2 features, 3 classes; the classes take turns. */
function spirals(count: number, seed: number) {
  const rng = new Random(seed);
  const x = new Float32Array(count * 2);
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % 3;
    const radius = 0.1 + 0.9 * rng.uniform();
    const angle = 3 * Math.PI * radius + (2 * Math.PI * c) / 3;
    x[2 * i] = radius * Math.cos(angle) + 0.02 * rng.normal();
    x[2 * i + 1] = radius * Math.sin(angle) + 0.02 * rng.normal();
    y[i] = c;
  }
  return fromArrays(x, y, { shape: [2] });
}

describe('fromArrays', () => {
  test('a Float32Array and byte labels are used as they are, not copied', () => {
    const x = new Float32Array([0.5, 1, 2, 3, 4, 5]);
    const y = Uint8Array.of(1, 0, 1);
    const data = fromArrays(x, y);
    expect(data).toEqual({ inputs: x, labels: y, count: 3, shape: [2] });
    expect(data.inputs).toBe(x);
    expect(data.labels).toBe(y);
  });

  test('a Uint8Array stays bytes (pixels, scaled by 1/255 when read)', () => {
    const x = Uint8Array.of(0, 255, 51, 102);
    const data = fromArrays(x, [0, 1], { shape: 2 });
    expect(data.inputs).toBe(x);
    const net = Network.create({ input: 2, layers: [{ units: 2 }], backend: 'ts' });
    expect(net.predict(x, 2)).toEqual(net.predict(Float32Array.of(0, 1, 0.2, 0.4), 2));
  });

  test('plain numbers become float32; labels become bytes, or 16-bit above 255', () => {
    const data = fromArrays([1.5, -2, 3, 4], [2, 7]);
    expect(data.inputs).toEqual(Float32Array.of(1.5, -2, 3, 4));
    expect(data.labels).toEqual(Uint8Array.of(2, 7));
    expect(fromArrays([1, 2], [0, 300]).labels).toEqual(Uint16Array.of(0, 300));
  });

  test('nested samples give their shape: [features], [1, rows, cols], [channels, rows, cols]', () => {
    expect(fromArrays([[1, 2, 3], [4, 5, 6]], [0, 1]).shape).toEqual([3]);
    const image = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]];
    const data = fromArrays([image, image], [1, 1]);
    expect(data.shape).toEqual([1, 3, 2]);
    expect(Array.from(data.inputs.subarray(0, 6))).toEqual(Array.from(Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)));
    expect(fromArrays([[image, image]], [0]).shape).toEqual([2, 3, 2]);
    expect(fromArrays([[1, 2, 3, 4]], [0], { shape: [1, 2, 2] }).shape).toEqual([1, 2, 2]);
  });

  const bad: [string, () => unknown, string][] = [
    ['a NaN value', () => fromArrays([1, NaN, 3, 4], [0, 1]), 'fromArrays: x[1] is NaN; inputs must be finite numbers'],
    ['a NaN in a float array', () => fromArrays(Float32Array.of(1, 2, Infinity, 4), [0, 1]), 'fromArrays: inputs[2] (sample 1, value 0) is Infinity; inputs must be finite'],
    ['a nested non-number', () => fromArrays([[1, 2], [3, 'x' as never]], [0, 1]), 'fromArrays: x[1] value 1 is "x"; inputs must be finite numbers'],
    ['a fractional label', () => fromArrays([1, 2], [0, 1.5]), 'fromArrays: y[1] is 1.5; labels must be integers in [0, 65535]'],
    ['a negative label', () => fromArrays([1, 2], [-1, 0]), 'fromArrays: y[0] is -1; labels must be integers in [0, 65535]'],
    ['a label past 16 bits', () => fromArrays([1, 2], [0, 65536]), 'fromArrays: y[1] is 65536; labels must be integers in [0, 65535]'],
    ['no labels', () => fromArrays([1, 2], []), 'fromArrays: y must be a non-empty array of labels'],
    ['values that do not divide', () => fromArrays([1, 2, 3], [0, 1]), 'fromArrays: x has 3 values for 2 labels, not a whole number per sample'],
    ['a shape that does not fit', () => fromArrays([1, 2, 3, 4], [0, 1], { shape: 3 }), 'fromArrays: x has 4 values, 2 samples of [3] need 6'],
    ['samples and labels of other counts', () => fromArrays([[1], [2], [3]], [0, 1]), 'fromArrays: x has 3 samples, y has 2 labels'],
    ['ragged samples', () => fromArrays([[1, 2], [3]], [0, 1]), 'fromArrays: x[1] has 1 values, sample 0 has 2'],
    ['a bad shape', () => fromArrays([1, 2], [0, 1], { shape: [1, 1] }), 'fromArrays: shape must be a positive integer (features) or [channels, height, width]'],
  ];
  test.each(bad)('refuses %s, naming it', (_, make, message) => {
    expect(make).toThrow(message);
  });
});

describeBackends('float datasets [%s]', (backend) => {
  test('interleaved spirals, which no linear model separates, are learned: >= 97% on held-back points', async () => {
    const data = spirals(2400, 1);
    const heldBack = spirals(600, 2);
    const fitOptions = { epochs: 30, batchSize: 32, optimizer: { name: 'adam' as const, lr: 0.01 }, schedule: { name: 'cosine' as const } };
    const linear = Network.create({ input: 2, layers: [{ units: 3 }], backend });
    await linear.fit(data, fitOptions);
    expect(linear.evaluate(heldBack).accuracy).toBeLessThan(0.7);
    const net = Network.create({ input: 2, layers: [{ units: 64, activation: 'relu' }, { units: 64, activation: 'relu' }, { units: 3 }], seed: 1, backend });
    const history = await net.fit(data, { ...fitOptions, validationSplit: 0.2 });
    expect(history.epochs.at(-1)!.valAccuracy).toBeGreaterThanOrEqual(0.97);
    expect(net.evaluate(heldBack).accuracy).toBeGreaterThanOrEqual(0.97);
  });

  test('validationSplit holds back the last samples as stored and validates on them', async () => {
    const data = spirals(100, 3);
    const net = Network.create({ input: 2, layers: [{ units: 8 }, { units: 3 }], backend });
    const history = await net.fit(data, { epochs: 1, batchSize: 10, validationSplit: 0.25 });
    const last = { ...data, inputs: data.inputs.subarray(150), labels: data.labels.subarray(75), count: 25 };
    expect(history.epochs[0].valAccuracy).toBe(net.evaluate(last).accuracy);
    expect(history.epochs[0].valLoss).toBeCloseTo(net.evaluate(last).loss, 6);
    // 75 samples train: 8 batches of 10 (the last one 5).
    expect(history.steps).toBe(8);
  });
});

describe('validationSplit refusals', () => {
  const data = spirals(10, 4);
  const net = Network.create({ input: 2, layers: [{ units: 3 }], backend: 'ts' });
  test.each([
    [{ validationSplit: 0 }, 'fit: validationSplit must be a number in (0, 1), got 0'],
    [{ validationSplit: 1 }, 'fit: validationSplit must be a number in (0, 1), got 1'],
    [{ validationSplit: 0.01 }, 'fit: validationSplit 0.01 of 10 samples holds back 0; it must leave at least one sample on each side'],
    [{ validationSplit: 0.5, validation: data }, 'fit: give validation or validationSplit, not both'],
    [{ targetAccuracy: 0.9 }, 'fit: targetAccuracy needs a validation set (validation or validationSplit)'],
  ])('%j', async (options, message) => {
    await expect(net.fit(data, { epochs: 1, ...options })).rejects.toThrow(message);
  });
});

describe('interleaveDatasets', () => {
  /** `count` samples of 2 values each: [tag, index], labelled `label`. */
  const samples = (tag: number, count: number, label: number) => ({
    inputs: Uint8Array.from({ length: 2 * count }, (_, i) => (i % 2 ? i >> 1 : tag)),
    labels: new Uint8Array(count).fill(label),
    count,
    shape: [2],
  });

  test("every sample once, each source in order, b's spread so every prefix holds both in proportion", () => {
    const mixed = interleaveDatasets(samples(1, 30, 10), samples(2, 9, 3), 'here');
    expect(mixed.count).toBe(39);
    const tags = Array.from({ length: 39 }, (_, k) => mixed.inputs[2 * k]);
    for (const tag of [1, 2]) {
      const indices = tags.flatMap((t, k) => (t === tag ? [mixed.inputs[2 * k + 1]] : []));
      expect(indices).toEqual([...Array(tag === 1 ? 30 : 9).keys()]);
    }
    tags.forEach((tag, k) => expect(mixed.labels[k]).toBe(tag === 1 ? 10 : 3));
    for (let prefix = 1; prefix <= 39; prefix++) {
      const fromB = tags.slice(0, prefix).filter((t) => t === 2).length;
      expect(Math.abs(fromB - (prefix * 9) / 39)).toBeLessThanOrEqual(1);
    }
  });

  test('refuses samples of another shape or input kind, naming the caller', () => {
    expect(() => interleaveDatasets(samples(1, 3, 0), { ...samples(2, 3, 0), shape: [1, 2] }, 'here')).toThrow(/^here: cannot interleave samples of \[2\] Uint8Array with \[1, ?2\] Uint8Array$/);
    const floats = { inputs: new Float32Array(6), labels: new Uint8Array(3), count: 3, shape: [2] };
    expect(() => interleaveDatasets(samples(1, 3, 0), floats, 'here')).toThrow(/^here: cannot interleave .* Uint8Array with \[2\] Float32Array$/);
  });
});
