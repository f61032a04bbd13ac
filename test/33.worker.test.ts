import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getBackend } from '../lib/backend';
import type { Backend, BackendName } from '../lib/backend/contract';
import type { Dataset } from '../lib/core/dataset';
import { loadMnist } from '../lib/data/mnist';
import { Network } from '../lib/model/network';
import type { BatchInfo } from '../lib/train/types';
import { describeBackends } from './backends';
import { differences, largestDifference } from './weights';
import { AtomicWriteError, IdxError, MnistError, ModelFileError } from '../lib/core/errors';
import { errorFromRecord, errorToRecord } from '../lib/train/worker-errors';

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

function mlp(backend: BackendName | Backend, hidden = 64, seed = 3): Network {
  return Network.create({ input: 784, seed, backend, layers: [{ units: hidden }, { units: 10, activation: 'softmax' }] });
}

/** The built-in backend behind a custom object: fit cannot send it to a worker, so it trains on the calling thread. */
function onCallingThread(backend: BackendName): Backend {
  return Object.create(getBackend(backend));
}

describeBackends('fit in a worker thread on the %s backend', (backend) => {
  test('the event loop stays free during fit: a timer aborts it, a 10 ms interval keeps ticking', async () => {
    // Training runs until a timer aborts it, so the work sizes itself to the machine; were the
    // event loop blocked, the timer could not fire and fit would not stop.
    const net = mlp(backend, 128);
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    const history = await net.fit(train, { epochs: 10_000, batchSize: 64, limit: 2000, signal: AbortSignal.timeout(1000) });
    clearInterval(timer);
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]).sort((a, b) => a - b);
    expect(history.stopped).toBe('aborted');
    expect(gaps.length).toBeGreaterThan(20);
    // Bounds a blocked loop fails by far, with room for a noisy neighbour on a 2-core machine.
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(40);
    expect(gaps[gaps.length - 1]).toBeLessThan(500);
  });

  test('matches training on the calling thread bit for bit', async () => {
    const [inWorker, here] = [mlp(backend, 32), mlp(onCallingThread(backend), 32)];
    const options = { epochs: 2, batchSize: 50, limit: 1000, optimizer: { name: 'adam' as const, lr: 2e-3 }, validation: test1000 };
    const a = await inWorker.fit(train, options);
    const b = await here.fit(train, options);
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
    const reference = mlp(onCallingThread(backend), 64);
    const stop = new AbortController();
    await reference.fit(train, {
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
  });

  test('an error from the worker keeps its class and fields', async () => {
    const unwritable = join(dir, 'no-such-folder', 'checkpoint.safetensors');
    const error = await mlp(backend, 16).fit(train, { epochs: 1, limit: 100, checkpoint: unwritable }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AtomicWriteError);
    expect(error).toMatchObject({ name: 'AtomicWriteError', code: 'ENOENT', path: unwritable, message: expect.stringContaining(`${unwritable}: cannot write: ENOENT`) });
    expect((error as Error).stack).toMatch(/writeFileAtomic/); // the worker's stack
  });

  test('a model saved from onEpoch holds exactly the weights at the end of that epoch', async () => {
    const options = { epochs: 3, batchSize: 32, limit: backend === 'ts' ? 1000 : 3000 };
    const files: string[] = [];
    const net = mlp(backend, 64);
    await net.fit(train, {
      ...options,
      onEpoch: async (record) => {
        await new Promise((wait) => setTimeout(wait, 50)); // a slow callback: training must wait for it
        files.push(join(dir, `epoch-${backend}-${record.epoch}.safetensors`));
        await net.save(files[files.length - 1]);
      },
    });
    const reference = mlp(onCallingThread(backend), 64);
    const atEpochEnd: Float32Array[] = [];
    await reference.fit(train, { ...options, onEpoch: () => void atEpochEnd.push(reference.params.slice()) });
    expect(files).toHaveLength(3);
    for (const [i, file] of files.entries()) {
      expect(differences((await Network.load(file, { backend })).params, atEpochEnd[i])).toEqual({ count: 0, first: -1 });
    }
  });

  test('predict, evaluate and save refuse weights that the worker is moving, and work again after fit', async () => {
    const net = mlp(backend, 16);
    const refusals = new Set<string>();
    const image = train.inputs.subarray(0, 784);
    await net.fit(train, {
      epochs: 1,
      batchSize: 16,
      limit: 2000,
      onBatch: () => {
        for (const call of [() => net.predict(image, 1), () => net.evaluate(test1000), () => net.save(join(dir, 'moving.safetensors'))]) {
          try {
            call();
          } catch (error) {
            refusals.add((error as Error).message);
          }
        }
      },
    });
    expect([...refusals].sort()).toEqual(['evaluate', 'predict', 'save'].map((where) =>
      `${where}: this network is training in a worker thread and its weights change with every step; call it from onEpoch (training waits there) or after fit resolves`));
    expect(net.predict(image, 1).labels).toHaveLength(1);
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

describe('a fit whose job cannot reach the worker', () => {
  test('rejects, and the process still exits on its own (no worker left alive)', async () => {
    // postMessage throws for a value that cannot be cloned; here it is made to throw outright.
    const script = `
      const { Worker } = require('node:worker_threads');
      Worker.prototype.postMessage = () => { throw new Error('could not be cloned'); };
      const { Network } = require(${JSON.stringify(resolve(__dirname, '..', 'dist', 'index.js'))});
      const net = Network.create({ input: 4, backend: 'ts', layers: [{ units: 2 }] });
      const data = { inputs: new Uint8Array(40), labels: new Uint8Array(10), count: 10, shape: [1, 2, 2] };
      net.fit(data, { epochs: 1 }).then(() => console.log('resolved'), (e) => console.log('rejected: ' + e.message + ', training ' + net.training));
    `;
    const child = spawn(process.execPath, ['-e', script]);
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [status, signal] = await new Promise<[number | null, string | null]>((done) => child.on('close', (code, sig) => done([code, sig])));
    clearTimeout(killer);
    expect(stdout.trim()).toBe('rejected: could not be cloned, training false');
    expect({ status, signal }).toEqual({ status: 0, signal: null });
  });
});

describe('errors sent from the worker', () => {
  test.each([
    ['IdxError', new IdxError('train.idx', 'truncated'), { source: 'train.idx', problem: 'truncated' }],
    ['ModelFileError', new ModelFileError('m.safetensors', 'bad header'), { file: 'm.safetensors', problem: 'bad header' }],
    ['MnistError', new MnistError('no data'), {}],
    ['RangeError', new RangeError('gemm: m must be >= 0'), {}],
  ])('%s arrives as its own class with its fields and message', (name, error, fields) => {
    const again = errorFromRecord(structuredClone(errorToRecord(error))) as Error;
    expect(again).toBeInstanceOf(error.constructor);
    expect(again).toMatchObject({ name, message: error.message, stack: error.stack, ...fields });
  });

  test('an error of an unknown class keeps its name, fields and cause', () => {
    class CustomError extends Error {
      override name = 'CustomError';
      code = 'E_CUSTOM';
    }
    const error = new CustomError('outer', { cause: new TypeError('inner') });
    const again = errorFromRecord(structuredClone(errorToRecord(error))) as Error;
    expect(again).toBeInstanceOf(Error);
    expect(again).toMatchObject({ name: 'CustomError', code: 'E_CUSTOM', message: 'outer' });
    expect(again.cause).toBeInstanceOf(TypeError);
    expect(errorFromRecord(structuredClone(errorToRecord('a string')))).toBe('a string');
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
    expect(net.architecture).toBe('784-64-10');
    expect(net.evaluate(test1000).accuracy).toBeGreaterThan(0.85);
  });
});
