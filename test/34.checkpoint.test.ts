import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Dataset } from '../lib/core/dataset';
import { loadMnist } from '../lib/data/mnist';
import { readSafetensors } from '../lib/io/safetensors-file';
import { writeCheckpoint } from '../lib/io/checkpoint';
import type { Dense } from '../lib/layers/dense';
import { Network } from '../lib/model/network';
import type { FitOptions } from '../lib/train/types';
import { describeBackends } from './backends';
import { differences } from './weights';

const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');

let train: Dataset;
let dir: string;

beforeAll(async () => {
  train = (await loadMnist()).train;
  dir = mkdtempSync(join(tmpdir(), 'digitnet-checkpoint-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mlp(backend: 'ts' | 'native', hidden = 32): Network {
  return Network.create({ input: 784, seed: 5, backend, layers: [{ units: hidden }, { units: 10, activation: 'softmax' }] });
}

const ADAM_COSINE: FitOptions = { epochs: 3, batchSize: 50, limit: 1500, optimizer: { name: 'adam', lr: 2e-3 }, schedule: { name: 'cosine' } };

describeBackends('checkpoints on the %s backend', (backend) => {
  test('a run aborted mid-way and resumed ends with the same weights as an uninterrupted one, bit for bit', async () => {
    const whole = mlp(backend);
    const wholeHistory = await whole.fit(train, ADAM_COSINE);

    const file = join(dir, `aborted-${backend}.safetensors`);
    const interrupted = mlp(backend);
    const controller = new AbortController();
    const first = await interrupted.fit(train, { ...ADAM_COSINE, checkpoint: file, signal: controller.signal, onEpoch: () => controller.abort() });
    expect(first.stopped).toBe('aborted');

    const resumed = mlp(backend); // fresh weights: the checkpoint replaces them
    const rest = await resumed.fit(train, { ...ADAM_COSINE, checkpoint: file, resume: file });
    expect(differences(resumed.params, whole.params)).toEqual({ count: 0, first: -1 });
    expect(rest.steps).toBe(wholeHistory.steps);
    expect(rest.epochs.map((e) => e.loss)).toEqual(wholeHistory.epochs.map((e) => e.loss));
  });

  test('training k epochs, then resuming to N, equals N epochs at once (momentum, constant rate)', async () => {
    const options: FitOptions = { batchSize: 64, limit: 1000, optimizer: { name: 'momentum', lr: 0.05 } };
    const whole = mlp(backend);
    await whole.fit(train, { ...options, epochs: 3 });
    const file = join(dir, `k-${backend}.safetensors`);
    const net = mlp(backend);
    await net.fit(train, { ...options, epochs: 1, checkpoint: file });
    const history = await net.fit(train, { ...options, epochs: 3, resume: file });
    expect(differences(net.params, whole.params)).toEqual({ count: 0, first: -1 });
    expect(history.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
  });
});

describe('checkpoint files', () => {
  let file: string;
  let net: Network;
  beforeAll(async () => {
    file = join(dir, 'adam.safetensors');
    net = mlp('ts', 16);
    await net.fit(train, { epochs: 2, limit: 500, checkpoint: file });
  });

  test('hold the model tensors, the optimizer moments and the training state', async () => {
    const { tensors, metadata } = await readSafetensors(file);
    expect([...tensors.keys()].sort()).toEqual(
      ['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight', 'training.optimizer.m', 'training.optimizer.v'],
    );
    expect(tensors.get('training.optimizer.v')!.shape).toEqual([net.params.length]);
    const state = JSON.parse(metadata.checkpoint);
    expect(state).toEqual(expect.objectContaining({ epoch: 2, steps: 16, t: 16, rng: expect.any(Array), history: expect.any(Array) }));
    expect(state.options).toEqual(expect.objectContaining({ batchSize: 64, seed: 1, limit: 500, optimizer: { name: 'adam', lr: 1e-3 } }));
  });

  test('load as a model with Network.load', async () => {
    const model = await Network.load(file, { backend: 'ts' });
    expect(differences(model.params, net.params)).toEqual({ count: 0, first: -1 });
  });

  test('resuming with another architecture is an error naming both', async () => {
    await expect(mlp('ts', 17).fit(train, { epochs: 3, limit: 500, resume: file })).rejects.toThrow(
      `${file}: cannot resume: the checkpoint holds a 784-16-10 network, this one is 784-17-10`,
    );
  });

  test('resuming with other training options is an error naming the option', async () => {
    await expect(mlp('ts', 16).fit(train, { epochs: 3, limit: 500, batchSize: 32, resume: file })).rejects.toThrow(
      `${file}: cannot resume: the checkpoint was trained with batchSize 64, this fit has 32`,
    );
    await expect(mlp('ts', 16).fit(train, { epochs: 3, limit: 500, optimizer: { name: 'adam', lr: 2e-3 }, resume: file })).rejects.toThrow(
      /cannot resume: the checkpoint was trained with optimizer \{"lr":0.001,"name":"adam"\}, this fit has \{"lr":0.002,"name":"adam"\}/,
    );
  });

  test('resuming from a plain model file is an error', async () => {
    const model = join(dir, 'model.safetensors');
    await net.save(model);
    await expect(mlp('ts', 16).fit(train, { epochs: 3, limit: 500, resume: model })).rejects.toThrow(`${model}: cannot resume: a model file without training state`);
  });

  test('a resumed run whose epochs are already done returns the saved history and takes no step', async () => {
    const again = mlp('ts', 16);
    const history = await again.fit(train, { epochs: 2, limit: 500, resume: file });
    expect(history).toEqual(expect.objectContaining({ steps: 16, stopped: 'completed' }));
    expect(history.epochs).toHaveLength(2);
    expect(differences(again.params, net.params)).toEqual({ count: 0, first: -1 });
  });
});

describe('digitnet train --checkpoint / --resume', () => {
  function digitnet(...args: string[]) {
    const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DIGITNET_DEBUG: '' } });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  }
  // The paper preset's constant rate: with the default preset's cosine decay, the rate depends on --epochs.
  const common = ['train', '--preset', 'paper', '--limit', '2000', '--layers', '32', '--batch', '100', '--optimizer', 'momentum', '--lr', '0.0005', '--json'];

  test('a run stopped after one epoch and resumed to three saves the same model as three epochs at once', async () => {
    const whole = join(dir, 'cli-whole.safetensors');
    const checkpoint = join(dir, 'cli-checkpoint.safetensors');
    const resumed = join(dir, 'cli-resumed.safetensors');
    expect(digitnet(...common, '--epochs', '3', '--out', whole).status).toBe(0);
    expect(digitnet(...common, '--epochs', '1', '--checkpoint', checkpoint).status).toBe(0);
    const run = digitnet(...common, '--epochs', '3', '--resume', checkpoint, '--checkpoint', checkpoint, '--out', resumed);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).history).toHaveLength(3);
    const [a, b] = await Promise.all([Network.load(whole, { backend: 'ts' }), Network.load(resumed, { backend: 'ts' })]);
    expect(differences(b.params, a.params)).toEqual({ count: 0, first: -1 });
  });

  test('--resume with other options fails with exit 1 and names the difference', () => {
    const checkpoint = join(dir, 'cli-checkpoint.safetensors');
    const run = digitnet(...common, '--epochs', '3', '--lr', '0.001', '--resume', checkpoint);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/cannot resume: the checkpoint was trained with optimizer .*"lr":0.0005.*, this fit has .*"lr":0.001/);
  });
});

test('a checkpoint of weights that are not finite is refused, naming the element, and writes nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'digitnet-nan-checkpoint-'));
  try {
    const path = join(dir, 'run.ckpt');
    const net = Network.create({ input: 4, seed: 1, backend: 'ts', layers: [{ units: 3 }, { units: 2, activation: 'softmax' }] });
    (net.layers[0] as Dense).weight[5] = NaN;
    expect(() => writeCheckpoint(path, net.config, net.tensors(), {}, '{}')).toThrow(`${path}: tensor layers.0.weight holds NaN at [1, 1]`);
    expect(existsSync(path)).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
