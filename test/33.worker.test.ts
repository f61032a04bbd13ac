import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getBackend } from '../lib/backends';
import { loadMnist, type Dataset } from '../lib/data/mnist';
import { Network } from '../lib/network';
import { fitOnCallingThread, type BatchInfo } from '../lib/train';
import { describeBackends } from './backends';
import { differences, largestDifference } from './weights';

const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');

let train: Dataset;
let test1000: Dataset;
let dir: string;

beforeAll(async () => {
  const mnist = await loadMnist();
  train = mnist.train;
  test1000 = { ...mnist.test, count: 1000 };
  dir = mkdtempSync(join(tmpdir(), 'digitnet-worker-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mlp(backend: 'ts' | 'native', hidden = 64, seed = 3): Network {
  return Network.create({ input: 784, seed, backend, layers: [{ units: hidden }, { units: 10, activation: 'softmax' }] });
}

describeBackends('fit in a worker thread on the %s backend', (backend) => {
  test('a 10 ms interval keeps ticking during fit (largest gap under 100 ms)', async () => {
    const net = mlp(backend, 128);
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    const history = await net.fit(train, { epochs: 1, batchSize: 64, limit: backend === 'ts' ? 6000 : 30000 });
    clearInterval(timer);
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]);
    expect(history.seconds).toBeGreaterThan(0.2); // long enough for the gaps to mean something
    expect(ticks.length).toBeGreaterThan(10);
    expect(Math.max(...gaps)).toBeLessThan(100);
  });

  test('matches training on the calling thread bit for bit', async () => {
    const [inWorker, here] = [mlp(backend, 32), mlp(backend, 32)];
    const options = { epochs: 2, batchSize: 50, limit: 1000, optimizer: { name: 'adam' as const, lr: 2e-3 }, validation: test1000 };
    const a = await inWorker.fit(train, options);
    const b = await fitOnCallingThread(here, train, options);
    expect(differences(inWorker.params, here.params)).toEqual({ count: 0, first: -1 });
    expect(a.epochs.map((e) => e.valAccuracy)).toEqual(b.epochs.map((e) => e.valAccuracy));
  });

  test('abort is prompt and leaves the weights of the last completed step', async () => {
    const net = mlp(backend, 64);
    const controller = new AbortController();
    let abortedAt = 0;
    const history = await net.fit(train, {
      epochs: 50,
      batchSize: 32,
      signal: controller.signal,
      onBatch: () => {
        if (abortedAt) return;
        abortedAt = performance.now();
        controller.abort();
      },
    });
    const latency = performance.now() - abortedAt;
    expect(history.stopped).toBe('aborted');
    expect(history.steps).toBeGreaterThan(0);
    expect(latency).toBeLessThan(1000); // one 32-sample step takes about a millisecond
    // The same run on the calling thread, stopped after exactly as many steps, has the same weights.
    const reference = mlp(backend, 64);
    const stop = new AbortController();
    await fitOnCallingThread(reference, train, {
      epochs: 50, batchSize: 32, signal: stop.signal,
      onBatch: (info: BatchInfo) => (info.epoch - 1) * info.batches + info.batch === history.steps && stop.abort(),
    });
    expect(differences(net.params, reference.params)).toEqual({ count: 0, first: -1 });
  });

  test('the network returned after an abort predicts, saves and loads', async () => {
    const net = mlp(backend, 32);
    const controller = new AbortController();
    await net.fit(train, { epochs: 20, limit: 5000, signal: controller.signal, onEpoch: () => controller.abort() });
    const file = join(dir, `aborted-${backend}.safetensors`);
    await net.save(file);
    const again = await Network.load(file, { backend });
    expect(differences(again.params, net.params)).toEqual({ count: 0, first: -1 });
    expect(again.evaluate(test1000).accuracy).toBeGreaterThan(0.8);
  });

  test('a signal aborted before fit starts takes no step', async () => {
    const net = mlp(backend, 16);
    const before = net.params.slice();
    const history = await net.fit(train, { epochs: 2, limit: 500, signal: AbortSignal.abort() });
    expect(history).toEqual(expect.objectContaining({ steps: 0, stopped: 'aborted', epochs: [] }));
    expect(differences(net.params, before)).toEqual({ count: 0, first: -1 });
  });

  test('two fits on two networks at once both finish correctly', async () => {
    const options = { epochs: 3, batchSize: 32, limit: 2000, optimizer: { name: 'adam' as const, lr: 2e-3 } };
    const [a, b] = [mlp(backend, 64, 1), mlp(backend, 64, 2)];
    const [ha, hb] = await Promise.all([a.fit(train, options), b.fit(train, options)]);
    expect([ha.stopped, hb.stopped]).toEqual(['completed', 'completed']);
    expect([ha.steps, hb.steps]).toEqual([189, 189]);
    // Alone, each gives the same weights (a concurrent native region may run on fewer threads).
    for (const [net, seed] of [[a, 1], [b, 2]] as const) {
      const alone = mlp(backend, 64, seed);
      await alone.fit(train, options);
      expect(largestDifference(net.params, alone.params)).toBeLessThan(1e-4);
      expect(net.evaluate(test1000).accuracy).toBeGreaterThan(0.85);
    }
  });

  test('a second fit on the same network while one runs is a clear error', async () => {
    const net = mlp(backend, 16);
    const first = net.fit(train, { epochs: 1, limit: 2000 });
    await expect(net.fit(train, { epochs: 1, limit: 500 })).rejects.toThrow('fit: this network is already training; wait for the running fit to finish');
    await expect(first).resolves.toEqual(expect.objectContaining({ stopped: 'completed' }));
  });

  test('an exception inside the worker rejects fit with the original message', async () => {
    const net = mlp(backend, 16);
    await expect(
      net.fit(train, { epochs: 2, batchSize: 100, limit: 1000, loss: 'sum', optimizer: { name: 'sgd', lr: 1e4 } }),
    ).rejects.toThrow(/^fit: the loss became (NaN|Infinity) at epoch \d+, batch \d+ \(learning rate 10000\); training diverged: try a lower learning rate$/);
    const unwritable = join(dir, 'no-such-folder', 'checkpoint.safetensors');
    await expect(mlp(backend, 16).fit(train, { epochs: 1, limit: 100, checkpoint: unwritable })).rejects.toThrow(`${unwritable}: cannot write: ENOENT`);
  });

  test('onEpoch and onBatch arrive on the calling thread, onBatch at most every ~50 ms', async () => {
    const net = mlp(backend, 32);
    const epochs: number[] = [];
    let batches = 0;
    const started = performance.now();
    const history = await net.fit(train, { epochs: 3, batchSize: 16, limit: 3000, onBatch: () => batches++, onEpoch: (r) => epochs.push(r.epoch) });
    const elapsed = performance.now() - started;
    expect(epochs).toEqual([1, 2, 3]);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(Math.min(history.steps, 2 + elapsed / 40));
  });

  test('a callback that throws stops training and rejects fit with its error', async () => {
    const net = mlp(backend, 16);
    await expect(
      net.fit(train, { epochs: 50, limit: 2000, onEpoch: () => { throw new Error('callback failed'); } }),
    ).rejects.toThrow('callback failed');
    expect(net.training).toBe(false);
  });
});

describe('fit with a custom Backend object', () => {
  test('trains on the calling thread (an object cannot cross threads) with the same results', async () => {
    const custom = { ...getBackend('ts') };
    const net = Network.create({ input: 784, seed: 3, backend: custom, layers: [{ units: 16 }, { units: 10, activation: 'softmax' }] });
    const named = mlp('ts', 16);
    const options = { epochs: 1, batchSize: 50, limit: 500 };
    await net.fit(train, options);
    await named.fit(train, options);
    expect(differences(net.params, named.params)).toEqual({ count: 0, first: -1 });
  });
});

describe('digitnet train and Ctrl-C', () => {
  test('SIGINT stops after the current batch, says so, saves --out and exits 0', async () => {
    const out = join(dir, 'interrupted.safetensors');
    const child = spawn(process.execPath, [CLI, 'train', '--limit', '20000', '--epochs', '100', '--layers', '64', '--json', '--out', out], {
      env: { ...process.env, DIGITNET_DEBUG: '' },
    });
    let stderr = '';
    let stdout = '';
    let sent = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (/epoch 1\/100/.test(stderr) && !sent) sent = child.kill('SIGINT');
    });
    const [status, signal] = await new Promise<[number | null, string | null]>((done) => child.on('close', (code, sig) => done([code, sig])));
    expect({ status, signal }).toEqual({ status: 0, signal: null });
    expect(stderr).toMatch(/interrupted: stopping after the current batch/);
    expect(stderr).toMatch(new RegExp(`training interrupted after \\d+ step\\(s\\); saving the model trained so far to ${out}`));
    const result = JSON.parse(stdout);
    expect(result.stopped).toBe('aborted');
    expect(result.epochs).toBeLessThan(100);
    const net = await Network.load(out);
    expect(net.shape).toBe('784-64-10');
    expect(net.evaluate(test1000).accuracy).toBeGreaterThan(0.85);
  });
});
