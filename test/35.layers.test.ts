/**
 * Typed layers: shape inference and its errors, dropout (masks, scaling, inference, gradients,
 * both backends, resume), model files and checkpoints for every layer type, files written before
 * typed layers, and more than 256 classes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBackend } from '../lib/backend';
import { hash32, Random } from '../lib/core/random';
import { fromArrays } from '../lib/data/arrays';
import { Dropout } from '../lib/layers/dropout';
import { Network, type NetworkOptions } from '../lib/model/network';
import { backendNames, describeBackends } from './backends';
import { gradientFailures, randomData } from './network-gradients';
import { differences, largestDifference } from './weights';

const FIXTURES = join(__dirname, 'fixtures');

const WITH_EVERY_LAYER: NetworkOptions = {
  input: [1, 6, 6],
  layers: [
    { type: 'conv2d', filters: 2, kernel: 3, padding: 'same' }, { type: 'batchnorm' }, { type: 'maxpool2d' }, { type: 'flatten' },
    { units: 5, activation: 'tanh' }, { type: 'dropout', rate: 0.5 }, { type: 'dense', units: 3, activation: 'softmax' },
  ],
  seed: 2,
};

describe('shape inference', () => {
  test('each layer takes the previous output shape; configs get their defaults', () => {
    const net = Network.create({ ...WITH_EVERY_LAYER, backend: 'ts' });
    expect(net.layers.map((layer) => [layer.inputShape, layer.outputShape])).toEqual([
      [[1, 6, 6], [2, 6, 6]],
      [[2, 6, 6], [2, 6, 6]],
      [[2, 6, 6], [2, 3, 3]],
      [[2, 3, 3], [18]],
      [[18], [5]],
      [[5], [5]],
      [[5], [3]],
    ]);
    expect(net.config).toEqual({
      input: [1, 6, 6],
      layers: [
        { type: 'conv2d', filters: 2, kernel: [3, 3], stride: 1, padding: 'same', activation: 'relu', slope: 0.01 },
        { type: 'batchnorm', momentum: 0.1, eps: 1e-5 },
        { type: 'maxpool2d', size: 2, stride: 2 },
        { type: 'flatten' },
        { type: 'dense', units: 5, activation: 'tanh', slope: 0.01, factor: 1 },
        { type: 'dropout', rate: 0.5 },
        { type: 'dense', units: 3, activation: 'softmax', slope: 0.01, factor: 1 },
      ],
    });
    expect(net.architecture).toBe('1x6x6-conv2k3-bn-pool2-5-dropout0.5-3');
    expect(net.params.length).toBe(2 * 9 + 2 + 2 + 2 + 18 * 5 + 5 + 5 * 3 + 3);
    expect(net.buffers.length).toBe(2 + 2);
  });

  test('a dense layer after [c, h, w] flattens implicitly; a number input stays a number', () => {
    const net = Network.create({ input: [2, 3, 3], layers: [{ units: 4 }, { units: 2 }], backend: 'ts' });
    expect(net.layers[0].params).toEqual([
      { name: 'weight', shape: [4, 18] },
      { name: 'bias', shape: [4] },
    ]);
    expect(Network.create({ input: 18, layers: [{ units: 2 }], backend: 'ts' }).config.input).toBe(18);
  });

  const bad: [string, Partial<NetworkOptions>, string][] = [
    ['unknown type', { layers: [{ type: 'conv' } as never, { units: 3 }] }, 'Network.create: layers[0]: unknown layer type "conv" (one of dense, conv2d, maxpool2d, batchnorm, dropout, flatten)'],
    ['unknown field', { layers: [{ type: 'dropout', rate: 0.1, units: 3 } as never, { units: 3 }] }, "Network.create: layers[0] (dropout): unknown field 'units' (it takes rate)"],
    ['field of flatten', { layers: [{ type: 'flatten', size: 2 } as never, { units: 3 }] }, "Network.create: layers[0] (flatten): unknown field 'size' (it takes no options)"],
    ['missing units', { layers: [{ activation: 'relu' } as never, { units: 3 }] }, 'Network.create: layers[0] (dense): units must be a positive integer, got undefined'],
    ['rate 1', { layers: [{ type: 'dropout', rate: 1 }, { units: 3 }] }, 'Network.create: layers[0] (dropout): rate must be a number in [0, 1), got 1'],
    ['rate as text', { layers: [{ type: 'dropout', rate: '0.5' } as never, { units: 3 }] }, 'Network.create: layers[0] (dropout): rate must be a number in [0, 1), got "0.5"'],
    ['dropout last', { layers: [{ units: 3 }, { type: 'dropout', rate: 0.1 }] }, "Network.create: layers[1] (dropout): the last layer must be dense with activation 'softmax'"],
    ['softmax inside', { layers: [{ units: 3, activation: 'softmax' }, { units: 3 }] }, "Network.create: layers[0] (dense): softmax must be the output layer's activation"],
    ['unknown activation', { layers: [{ units: 3, activation: 'gelu' } as never, { units: 3 }] }, "Network.create: layers[0] (dense): unknown activation 'gelu'"],
    ['null layer', { layers: [null as never, { units: 3 }] }, 'Network.create: layers[0] must be an object'],
    ['no layers', { layers: [] }, 'Network.create: layers must be a non-empty array'],
    ['input of two dims', { input: [28, 28] }, 'Network.create: input must be a positive integer (features) or [channels, height, width] of positive integers, got [28,28]'],
    ['input 0', { input: 0 }, 'Network.create: input must be a positive integer'],
  ];
  test.each(bad)('%s is refused, naming the layer and field', (_, change, message) => {
    const options = { input: 4, layers: [{ units: 3 }], backend: 'ts' as const, ...change };
    expect(() => Network.create(options as NetworkOptions)).toThrow(message);
  });
});

test('summary lists each layer, its output shape and parameters, and the total', () => {
  const net = Network.create({ ...WITH_EVERY_LAYER, backend: 'ts' });
  expect(net.summary()).toBe(
    [
      '#  layer      output shape  parameters',
      '   input      [1, 6, 6]',
      '0  conv2d     [2, 6, 6]             20',
      '1  batchnorm  [2, 6, 6]              4',
      '2  maxpool2d  [2, 3, 3]              0',
      '3  flatten    [18]                   0',
      '4  dense      [5]                   95',
      '5  dropout    [5]                    0',
      '6  dense      [3]                   18',
      'parameters: 137 trainable; 4 values in buffers (saved, not trained)',
    ].join('\n'),
  );
});

describe('dropout', () => {
  const layer = new Dropout({ type: 'dropout', rate: 0.25 }, [1000], 1);
  const rows = 4;
  const x = Float32Array.from({ length: rows * 1000 }, (_, i) => 1 + (i % 7));
  const run = (noise: number, training = true) => {
    const y = new Float32Array(x.length);
    const mask = new Float32Array(layer.scratchSize(rows));
    layer.forward(getBackend('ts'), rows, x, y, mask, { training, noise });
    return { y, mask };
  };

  test('drops about rate of the values and scales the rest by 1 / (1 - rate)', () => {
    const { y } = run(7);
    const dropped = y.filter((v) => v === 0).length / y.length;
    expect(dropped).toBeGreaterThan(0.22);
    expect(dropped).toBeLessThan(0.28);
    y.forEach((v, i) => expect(v === 0 || Math.abs(v - x[i] / 0.75) < 1e-6).toBe(true));
  });

  test('is the identity in inference', () => {
    expect(run(7, false).y).toEqual(x);
  });

  test('the mask is a function of the noise alone: same noise, same mask; other noise, other mask', () => {
    expect(run(7).mask).toEqual(run(7).mask);
    expect(differences(run(7).mask, run(8).mask).count).toBeGreaterThan(100);
  });

  test('backward passes the gradient through the same mask', () => {
    const { mask } = run(3);
    const dy = Float32Array.from({ length: x.length }, (_, i) => i);
    const dx = new Float32Array(x.length);
    layer.backward(getBackend('ts'), rows, x, new Float32Array(x.length), dy, dx, mask);
    dx.forEach((v, i) => expect(v).toBe(Math.fround(dy[i] * mask[i])));
  });
});

describeBackends('dropout in a network [%s]', (backend) => {
  test('gradients through a fixed mask match finite differences', () => {
    const data = randomData(6, [4], 3, 11);
    const net = Network.create({ input: 4, layers: [{ units: 6, activation: 'tanh' }, { type: 'dropout', rate: 0.4 }, { units: 3 }], seed: 5, backend });
    const order = Uint32Array.from({ length: 6 }, (_, i) => i);
    const pass = { training: true, noise: hash32(1, 2) };
    const failures = gradientFailures(net, data, pass, 1e-2, 1e-3, 1e-2);
    expect(failures).toEqual([]);
    // The check went through a mask that dropped values: the dropout layer's output has zeros its input lacks.
    const ws = net.loadBatch(data, order, 0, 6);
    net.forward(6, ws.acts[0], pass);
    const dropped = ws.acts[2].subarray(0, 36).filter((v, i) => v === 0 && ws.acts[1][i] !== 0).length;
    expect(dropped).toBeGreaterThan(5);
  });

  test('a resumed run with dropout ends on the same weights, bit for bit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'digitnet-dropout-'));
    try {
      const data = randomData(200, [1, 3, 3], 4, 12);
      const options: NetworkOptions = { input: [1, 3, 3], layers: [{ units: 16 }, { type: 'dropout', rate: 0.3 }, { units: 4 }], seed: 3, backend };
      const fitOptions = { batchSize: 32, seed: 9 };
      const straight = Network.create(options);
      await straight.fit(data, { ...fitOptions, epochs: 3 });
      const first = Network.create(options);
      await first.fit(data, { ...fitOptions, epochs: 2, checkpoint: join(dir, 'ckpt.safetensors') });
      const resumed = Network.create({ ...options, seed: 99 });
      await resumed.fit(data, { ...fitOptions, epochs: 3, resume: join(dir, 'ckpt.safetensors') });
      expect(differences(resumed.params, straight.params)).toEqual({ count: 0, first: -1 });
      // Training with dropout differs from training without it (the masks are applied).
      const plain = Network.create({ ...options, layers: [{ units: 16 }, { type: 'dropout', rate: 0 }, { units: 4 }] });
      await plain.fit(data, { ...fitOptions, epochs: 3 });
      expect(largestDifference(plain.params, straight.params)).toBeGreaterThan(1e-3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a file with every layer type saves and loads: same architecture, tensors and predictions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'digitnet-layers-'));
    try {
      const net = Network.create({ ...WITH_EVERY_LAYER, backend });
      const data = randomData(40, [1, 6, 6], 3, 13);
      await net.fit(data, { epochs: 2, batchSize: 8 });
      await net.save(join(dir, 'm.safetensors'));
      const again = await Network.load(join(dir, 'm.safetensors'), { backend });
      expect(again.config).toEqual(net.config);
      expect(Object.keys(again.tensors())).toEqual([
        'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'layers.1.running_mean', 'layers.1.running_var',
        'layers.4.weight', 'layers.4.bias', 'layers.6.weight', 'layers.6.bias',
      ]);
      expect(again.tensors()).toEqual(net.tensors());
      expect(again.predict(data.inputs as Float32Array, 40)).toEqual(net.predict(data.inputs as Float32Array, 40));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a model file written by digitnet 0.1.0 (dense only, input 784) still loads and predicts the same', async () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'dense-0.1.json'), 'utf8'));
    const net = await Network.load(join(FIXTURES, 'dense-0.1.safetensors'), { backend });
    expect(net.config.input).toBe(784);
    expect(net.architecture).toBe('784-16-10');
    const rng = new Random(expected.inputSeed);
    const x = Float32Array.from({ length: expected.count * 784 }, () => rng.uniform());
    const { labels, probabilities } = net.predict(x, expected.count);
    expect(Array.from(labels)).toEqual(expected.labels);
    expect(largestDifference(probabilities, Float32Array.from(expected.probabilities))).toBeLessThan(1e-6);
  });

  test('more than 256 classes: 16-bit labels train, evaluate and predict', async () => {
    const classes = 300;
    const count = 600;
    const x = new Float32Array(count * classes);
    const y = new Uint16Array(count);
    for (let i = 0; i < count; i++) {
      y[i] = (i * 7) % classes;
      x[i * classes + y[i]] = 1;
    }
    const data = fromArrays(x, y);
    expect(data.labels).toBeInstanceOf(Uint16Array);
    const net = Network.create({ input: classes, layers: [{ units: classes }], backend });
    await net.fit(data, { epochs: 5, batchSize: 50, optimizer: { name: 'adam', lr: 0.1 } });
    const { labels } = net.predict(x, count);
    expect(labels).toBeInstanceOf(Uint16Array);
    expect(Array.from(labels)).toEqual(Array.from(y));
    const { accuracy, confusion } = net.evaluate(data);
    expect(accuracy).toBe(1);
    expect(confusion[299][299]).toBe(2);
  });
});

test('networks on both backends draw the same dropout masks: a fit ends on the same weights', async () => {
  if (backendNames.length < 2) return; // needs both (describeBackends reports a missing native backend)
  const data = randomData(300, [8], 3, 14);
  const train = async (backend: 'ts' | 'native') => {
    const net = Network.create({ input: 8, layers: [{ units: 32 }, { type: 'dropout', rate: 0.5 }, { units: 3 }], seed: 4, backend });
    await net.fit(data, { epochs: 3, batchSize: 30, seed: 2 });
    return net.params;
  };
  const [ts, native] = [await train('ts'), await train('native')];
  // Float sums differ in their last bits between the backends; a different mask would move weights by far more.
  expect(largestDifference(ts, native)).toBeLessThan(1e-4);
});
