/**
 * Convolutional networks: conv2d, maxpool2d and batchnorm configs and their errors, gradients of
 * a whole network through all three in training mode, batch-norm's whole-batch rule, resume bit
 * for bit, and on real MNIST a small CNN that beats a dense net of the same budget.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTIVATIONS, type ActivationName } from '../lib/backend/contract';
import type { Dataset } from '../lib/core/dataset';
import { loadMnist } from '../lib/data/mnist';
import type { Layer } from '../lib/layers/layer';
import type { LayerSpec } from '../lib/layers/registry';
import { Network, type NetworkOptions } from '../lib/model/network';
import { describeBackends } from './backends';
import { gradientFailures, randomData } from './network-gradients';
import { differences, largestDifference } from './weights';

describe('conv2d, maxpool2d and batchnorm configs', () => {
  test('output shapes follow PyTorch: valid, same (odd zero below and right), explicit padding, stride, floor pooling', () => {
    const net = Network.create({
      input: [3, 11, 10],
      backend: 'ts',
      layers: [
        { type: 'conv2d', filters: 4, kernel: [4, 2], padding: 'same' },
        { type: 'conv2d', filters: 5, kernel: 3, stride: 2, padding: 1 },
        { type: 'maxpool2d', size: 3, stride: 2 },
        { type: 'batchnorm' },
        { type: 'conv2d', filters: 2, kernel: 1 },
        { units: 7 },
        { type: 'batchnorm', momentum: 0.2, eps: 1e-3 },
        { units: 2 },
      ],
    });
    expect(net.layers.map((layer) => layer.outputShape)).toEqual([[4, 11, 10], [5, 6, 5], [5, 2, 2], [5, 2, 2], [2, 2, 2], [7], [7], [2]]);
    expect(net.layers[0].params).toEqual([{ name: 'weight', shape: [4, 3, 4, 2] }, { name: 'bias', shape: [4] }]);
    expect(net.layers[3].buffers).toEqual([{ name: 'running_mean', shape: [5] }, { name: 'running_var', shape: [5] }]);
    expect(net.layers[6].config).toEqual({ type: 'batchnorm', momentum: 0.2, eps: 1e-3 });
    expect(net.architecture).toBe('3x11x10-conv4k4x2-conv5k3s2-pool3s2-bn-conv2k1-7-bn-2');
  });

  test('batch-norm starts as the identity (weight 1, bias 0, running mean 0, variance 1), as in PyTorch', () => {
    const net = Network.create({ input: [2, 3, 3], backend: 'ts', layers: [{ type: 'batchnorm' }, { units: 2 }] });
    const t = net.tensors();
    expect([t['layers.0.weight'].data, t['layers.0.bias'].data, t['layers.0.running_mean'].data, t['layers.0.running_var'].data].map((a) => Array.from(a)))
      .toEqual([[1, 1], [0, 0], [0, 0], [1, 1]]);
  });

  const bad: [string, NetworkOptions['layers'], string][] = [
    ['conv2d after a dense layer', [{ units: 4 }, { type: 'conv2d', filters: 2, kernel: 3 }, { units: 2 }], 'layers[1] (conv2d): needs a [channels, height, width] input, got [4]'],
    ['a kernel larger than the input', [{ type: 'conv2d', filters: 2, kernel: 7 }, { units: 2 }], "layers[0] (conv2d): a 7x7 kernel with padding \"valid\" does not fit the input [1, 6, 6]"],
    ['no filters', [{ type: 'conv2d', kernel: 3 } as never, { units: 2 }], 'layers[0] (conv2d): filters must be a positive integer, got undefined'],
    ['a kernel of three sizes', [{ type: 'conv2d', filters: 2, kernel: [3, 3, 3] } as never, { units: 2 }], 'layers[0] (conv2d): kernel must be a positive integer or [height, width], got [3,3,3]'],
    ['same padding with a stride', [{ type: 'conv2d', filters: 2, kernel: 3, stride: 2, padding: 'same' }, { units: 2 }], "layers[0] (conv2d): padding 'same' needs stride 1 (as in PyTorch)"],
    ['padding -1', [{ type: 'conv2d', filters: 2, kernel: 3, padding: -1 }, { units: 2 }], "layers[0] (conv2d): padding must be 'valid', 'same' or an integer >= 0, got -1"],
    ['softmax in a convolution', [{ type: 'conv2d', filters: 2, kernel: 3, activation: 'softmax' as never }, { units: 2 }], "layers[0] (conv2d): unknown activation 'softmax'"],
    ['a conv2d field it lacks', [{ type: 'conv2d', filters: 2, kernel: 3, units: 4 } as never, { units: 2 }], "layers[0] (conv2d): unknown field 'units' (it takes filters, kernel, stride, padding, activation, slope, init)"],
    ['a pool window larger than the input', [{ type: 'maxpool2d', size: 7 }, { units: 2 }], 'layers[0] (maxpool2d): a 7x7 window does not fit the input [1, 6, 6]'],
    ['pool stride 0', [{ type: 'maxpool2d', stride: 0 }, { units: 2 }], 'layers[0] (maxpool2d): stride must be a positive integer, got 0'],
    ['pooling a vector', [{ units: 4 }, { type: 'maxpool2d' }, { units: 2 }], 'layers[1] (maxpool2d): needs a [channels, height, width] input, got [4]'],
    ['batch-norm momentum 2', [{ type: 'batchnorm', momentum: 2 }, { units: 2 }], 'layers[0] (batchnorm): momentum must be a number in [0, 1], got 2'],
    ['batch-norm eps 0', [{ type: 'batchnorm', eps: 0 }, { units: 2 }], 'layers[0] (batchnorm): eps must be a finite number > 0, got 0'],
  ];
  test.each(bad)('%s is refused, naming the layer and field', (_, layers, message) => {
    expect(() => Network.create({ input: [1, 6, 6], layers, backend: 'ts' })).toThrow(`Network.create: ${message}`);
  });
});

describeBackends('a convolutional network on the %s backend', (backend) => {
  const options: NetworkOptions = {
    input: [2, 7, 6],
    seed: 4,
    backend,
    layers: [
      { type: 'conv2d', filters: 3, kernel: 3, padding: 1, activation: 'tanh' },
      { type: 'batchnorm' },
      { type: 'maxpool2d', size: 2 },
      { type: 'conv2d', filters: 4, kernel: [2, 3], stride: 2, padding: 1, activation: 'leaky-relu' },
      { units: 5, activation: 'tanh' },
      { type: 'batchnorm' },
      { units: 3 },
    ],
  };

  test('gradients of the summed loss match finite differences, through batch statistics', () => {
    const data = randomData(6, [2, 7, 6], 3, 21);
    const net = Network.create(options);
    const failures = gradientFailures(net, data, { training: true, noise: 0 }, 1e-3, 2e-3, 2e-2);
    expect(failures.slice(0, 20)).toEqual([]);
    expect(net.grads.some((g) => Math.abs(g) > 1e-3)).toBe(true);
  });

  test('a resumed run ends on the same weights and running statistics, bit for bit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'digitnet-cnn-'));
    try {
      const data = randomData(120, [2, 7, 6], 3, 22);
      const fitOptions = { batchSize: 16, seed: 9 };
      const straight = Network.create(options);
      await straight.fit(data, { ...fitOptions, epochs: 3 });
      const first = Network.create(options);
      await first.fit(data, { ...fitOptions, epochs: 2, checkpoint: join(dir, 'ckpt.safetensors') });
      const resumed = Network.create({ ...options, seed: 99 });
      await resumed.fit(data, { ...fitOptions, epochs: 3, resume: join(dir, 'ckpt.safetensors') });
      expect(differences(resumed.params, straight.params)).toEqual({ count: 0, first: -1 });
      expect(differences(resumed.buffers, straight.buffers)).toEqual({ count: 0, first: -1 });
      expect(Array.from(straight.buffers.subarray(3, 6))).not.toEqual([1, 1, 1]); // the running variances moved
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('batch-norm refuses batches that would run in several passes, full batch included', async () => {
    const data = randomData(1100, [2, 7, 6], 3, 23);
    const net = Network.create(options);
    const message = 'fit: layers[1] (batchnorm) normalizes with the statistics of the whole batch, which must fit one pass of at most 1024 samples; batches of 1100 samples are too large';
    await expect(net.fit(data, { epochs: 1, batchSize: Infinity })).rejects.toThrow(message);
    await expect(net.fit(data, { epochs: 1, batchSize: 1024 + 76 })).rejects.toThrow(message);
    await expect(net.fit(data, { epochs: 1, batchSize: Infinity, limit: 1000 })).resolves.toMatchObject({ steps: 1 });
  });
});

describeBackends('a conv2d and the maxpool2d after it run as one step [%s]', (backend) => {
  // The second conv's output is 8 x 64 x 64 = 32768 values a sample, so its groups hold at most
  // 8: a batch of 20 runs as 7 + 7 + 6.
  const layersWith = (activation: ActivationName): LayerSpec[] => [
    { type: 'conv2d', filters: 4, kernel: 3, padding: 'same', activation },
    { type: 'conv2d', filters: 8, kernel: 3, activation },
    { type: 'maxpool2d', size: 2 },
    { units: 3 },
  ];

  test.each(ACTIVATIONS)('%s: the same outputs and gradients as the two layers run one after the other over the whole batch', (activation) => {
    const rows = 20;
    const data = randomData(rows, [1, 66, 66], 3, 31);
    const net = Network.create({ input: [1, 66, 66], seed: 5, backend, layers: layersWith(activation) });
    expect((net as unknown as { fused: unknown[] }).fused.map(Boolean)).toEqual([false, true, false, false]);
    const order = Uint32Array.from({ length: rows }, (_, i) => i);
    const ws = net.loadBatch(data, order, 0, rows);
    net.forward(rows, ws.acts[0], { training: true, noise: 0 });
    const pooled = ws.acts[3].slice(0, rows * 8 * 32 * 32);
    net.loss(rows, 1);
    const dPooled = ws.grad[0].slice(0, rows * 3);
    net.backward(rows, false);
    const fusedGrads = net.grads.slice();

    // The layers one by one, every output whole.
    const [first, conv, pool, dense] = net.layers;
    const b = net.backend;
    const sizeOf = (layer: Layer) => rows * layer.outputShape.reduce((p, q) => p * q, 1);
    const a1 = new Float32Array(sizeOf(first));
    const a2 = new Float32Array(sizeOf(conv));
    const a3 = new Float32Array(sizeOf(pool));
    const a4 = new Float32Array(sizeOf(dense));
    const argmax = new Float32Array(pool.scratchSize(rows));
    const none = new Float32Array(0);
    first.forward(b, rows, ws.acts[0], a1, none, { training: true, noise: 0 });
    conv.forward(b, rows, a1, a2, none, { training: true, noise: 0 });
    pool.forward(b, rows, a2, a3, argmax, { training: true, noise: 0 });
    expect(differences(a3, pooled)).toEqual({ count: 0, first: -1 });
    dense.forward(b, rows, a3, a4, none, { training: true, noise: 0 });
    const g3 = new Float32Array(a3.length);
    const g2 = new Float32Array(a2.length);
    const g1 = new Float32Array(a1.length);
    dense.backward(b, rows, a3, a4, dPooled.slice(), g3, none, false);
    pool.backward(b, rows, a2, a3, g3, g2, argmax, false);
    conv.backward(b, rows, a1, a2, g2, g1, none, false);
    first.backward(b, rows, ws.acts[0], a1, g1, null, none, false);
    // The groups' weight gradients add up in another order: the same sums, to rounding.
    const scale = fusedGrads.reduce((most, g) => Math.max(most, Math.abs(g)), 0);
    expect(scale).toBeGreaterThan(1e-3);
    expect(largestDifference(net.grads, fusedGrads)).toBeLessThan(1e-5 * scale);
  });

  test('gradients of the summed loss through two such steps match finite differences', () => {
    const data = randomData(6, [2, 9, 8], 3, 32);
    const layers: LayerSpec[] = [
      { type: 'conv2d', filters: 3, kernel: 3, padding: 1, activation: 'leaky-relu' },
      { type: 'maxpool2d', size: 2 },
      { type: 'conv2d', filters: 4, kernel: 2, activation: 'tanh' },
      { type: 'maxpool2d', size: 2, stride: 1 },
      { units: 3 },
    ];
    const net = Network.create({ input: [2, 9, 8], seed: 6, backend, layers });
    expect((net as unknown as { fused: unknown[] }).fused.map(Boolean)).toEqual([true, false, true, false, false]);
    const failures = gradientFailures(net, data, { training: true, noise: 0 }, 1e-3, 2e-3, 2e-2);
    expect(failures.slice(0, 20)).toEqual([]);
  });
});

describeBackends('CNN against a dense net on MNIST [%s]', (backend) => {
  let train: Dataset;
  let test1000: Dataset;
  beforeAll(async () => {
    const mnist = await loadMnist();
    train = mnist.train;
    test1000 = { ...mnist.test, count: 1000 };
  });

  test('trained alike on 2,000 images, a CNN with fewer weights beats a dense net', async () => {
    // Same data, epochs, batches and optimizer; the dense net has more parameters (12,730 vs 11,738).
    const fitOptions = { epochs: 4, batchSize: 32, limit: 2000, optimizer: { name: 'adam' as const, lr: 2e-3 } };
    const cnn = Network.create({
      input: [1, 28, 28], seed: 1, backend,
      layers: [{ type: 'conv2d', filters: 8, kernel: 5 }, { type: 'maxpool2d', size: 2 }, { units: 10 }],
    });
    const dense = Network.create({ input: [1, 28, 28], seed: 1, backend, layers: [{ units: 16 }, { units: 10 }] });
    expect([cnn.params.length, dense.params.length]).toEqual([11738, 12730]);
    await cnn.fit(train, fitOptions);
    await dense.fit(train, fitOptions);
    const [c, d] = [cnn.evaluate(test1000).accuracy, dense.evaluate(test1000).accuracy];
    // Measured (seed 1): 89.4% against 83.2%.
    expect(c).toBeGreaterThan(d + 0.03);
    expect(c).toBeGreaterThan(0.85);
  });
});
