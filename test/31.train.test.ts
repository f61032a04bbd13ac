import { getBackend } from '../lib/backend';
import type { Backend } from '../lib/backend/contract';
import type { Dataset } from '../lib/core/dataset';
import { loadMnist } from '../lib/data/mnist';
import { Network } from '../lib/model/network';
import { scheduledRate } from '../lib/train/optimizers';
import { describeBackends, describeNativeVsTs } from './backends';
import { largestDifference } from './weights';

let train: Dataset;
let test1000: Dataset;

beforeAll(async () => {
  const mnist = await loadMnist();
  train = mnist.train;
  test1000 = { ...mnist.test, count: 1000 };
});

function mlp(backend: 'ts' | 'native' | Backend, hidden = 64): Network {
  return Network.create({
    input: 784,
    seed: 3,
    backend,
    layers: [{ units: hidden, activation: 'leaky-relu' }, { units: 10, activation: 'softmax' }],
  });
}

describeBackends('training on the %s backend', (backend) => {
  test('a small net trained on 2,000 MNIST images beats 85% on 1,000 test images', async () => {
    const net = mlp(backend);
    const history = await net.fit(train, { epochs: 4, batchSize: 32, limit: 2000, optimizer: { name: 'adam', lr: 2e-3 } });
    expect(history.epochs).toHaveLength(4);
    expect(history.epochs[3].loss).toBeLessThan(history.epochs[0].loss);
    expect(net.evaluate(test1000).accuracy).toBeGreaterThan(0.85);
  });

  test('a loss that diverges stops training with an error naming epoch and batch', async () => {
    const net = mlp(backend);
    await expect(
      net.fit(train, { epochs: 2, batchSize: 100, limit: 1000, loss: 'sum', optimizer: { name: 'sgd', lr: 1e4 } }),
    ).rejects.toThrow(/loss became (NaN|Infinity) at epoch \d+, batch \d+ .*try a lower learning rate/);
  });

  test('batchSize Infinity is full-batch descent: one step per epoch over the whole set', async () => {
    const net = mlp(backend, 16);
    const history = await net.fit(train, { epochs: 3, batchSize: Infinity, limit: 1500, loss: 'sum', optimizer: { name: 'sgd', lr: 1 / 1500 } });
    expect(history.steps).toBe(3);
    expect(history.epochs[2].loss).toBeLessThan(history.epochs[0].loss);
  });
});

describeNativeVsTs('fit on native and TypeScript', () => {
  test('training from the same seed ends with the same weights (within float tolerance)', async () => {
    const [a, b] = (['native', 'ts'] as const).map((name) => mlp(name, 32));
    for (const net of [a, b]) await net.fit(train, { epochs: 1, batchSize: 50, limit: 500, optimizer: { name: 'momentum', lr: 0.05 } });
    expect(largestDifference(a.params, b.params)).toBeLessThan(1e-3);
    expect(largestDifference(a.params, mlp('ts', 32).params)).toBeGreaterThan(1e-2); // they did train
  });
});

describe('fit', () => {
  test('targetAccuracy stops once validation accuracy reaches it', async () => {
    const net = mlp('ts', 32);
    const history = await net.fit(train, { epochs: 20, limit: 2000, validation: test1000, targetAccuracy: 0.8 });
    expect(history.stopped).toBe('target');
    expect(history.epochs.length).toBeLessThan(20);
    expect(history.epochs[history.epochs.length - 1].valAccuracy).toBeGreaterThanOrEqual(0.8);
  });

  test('on the calling thread, an aborted signal stops training after the current step', async () => {
    // A backend object that is not the built-in one cannot go to a worker: fit runs the loop here.
    const net = mlp(Object.create(getBackend('ts')), 16);
    const controller = new AbortController();
    const history = await net.fit(train, {
      epochs: 3,
      batchSize: 10,
      limit: 1000,
      signal: controller.signal,
      onBatch: (info) => info.batch === 5 && controller.abort(),
    });
    expect(history.stopped).toBe('aborted');
    expect(history.steps).toBe(5);
  });

  test('a second fit on a network that is training is rejected', async () => {
    const net = mlp('ts', 16);
    const first = net.fit(train, { epochs: 1, limit: 500 });
    await expect(net.fit(train, { epochs: 1, limit: 500 })).rejects.toThrow(/already training/);
    await first;
  });

  test.each([
    [{ epochs: -1 }, /epochs must be an integer >= 0/],
    [{ batchSize: 0 }, /batchSize must be an integer >= 1/],
    [{ targetAccuracy: 0.9 }, /targetAccuracy needs a validation set/],
    [{ optimizer: { name: 'sgd', lr: -1 } }, /lr must be a finite number > 0/],
    [{ optimizer: { name: 'adam', lr: 1e-3, beta1: 1 } }, 'optimizer: beta1 must be in [0, 1), got 1'],
    [{ optimizer: { name: 'adam', lr: 1e-3, beta2: -0.1 } }, 'optimizer: beta2 must be in [0, 1), got -0.1'],
    [{ optimizer: { name: 'adam', lr: 1e-3, eps: 0 } }, 'optimizer: eps must be > 0, got 0'],
    [{ optimizer: { name: 'adam', lr: Infinity } }, 'optimizer: lr must be a finite number, got Infinity'],
    [{ optimizer: { name: 'momentum', lr: 0.1, momentum: NaN } }, 'optimizer: momentum must be a finite number, got NaN'],
    [{ optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 } }, "optimizer: sgd has no option 'momentum' (it takes lr)"],
    [{ optimizer: { name: 'rmsprop', lr: 0.1 } }, "optimizer: unknown name 'rmsprop' (sgd, momentum or adam)"],
    [{ seed: -3 }, 'fit: seed must be an integer in [0, 2^32), got -3'],
    [{ schedule: { name: 'step', every: 0, gamma: 0.5 } }, /every must be an integer >= 1/],
    [{ checkpoint: '' }, /checkpoint must be a file path, got ""/],
    [{ resume: 42 }, /resume must be a file path, got 42/],
  ])('rejects bad options %#', async (options, message) => {
    await expect(mlp('ts', 8).fit(train, { epochs: 1, limit: 10, ...options } as never)).rejects.toThrow(message);
  });
});

describe('learning-rate schedules', () => {
  test('step decay multiplies by gamma every `every` epochs', () => {
    const schedule = { name: 'step' as const, every: 2, gamma: 0.5 };
    expect([0, 1, 2, 3, 4].map((epoch) => scheduledRate(1, schedule, epoch, 0, 10))).toEqual([1, 1, 0.5, 0.5, 0.25]);
  });

  test('cosine decay goes from lr to minLr over the run', () => {
    const schedule = { name: 'cosine' as const, minLr: 0.1 };
    expect(scheduledRate(1, schedule, 0, 0, 100)).toBeCloseTo(1);
    expect(scheduledRate(1, schedule, 0, 50, 100)).toBeCloseTo(0.55);
    expect(scheduledRate(1, schedule, 0, 100, 100)).toBeCloseTo(0.1);
  });
});
