/** `digitnet info`: a saved model's layers, output shapes and parameter counts, as text and JSON. Runs the built CLI (dist/). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Network } from '../lib/model/network';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const digitnet = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

test('prints the summary of a model file', () => {
  const run = digitnet('info', '--model', 'test/fixtures/dense-0.1.safetensors');
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout).toBe(
    [
      'test/fixtures/dense-0.1.safetensors: 784-16-10',
      '#  layer  output shape  parameters',
      '   input  [784]',
      '0  dense  [16]              12,560',
      '1  dense  [10]                 170',
      'parameters: 12,730 trainable',
      '',
    ].join('\n'),
  );
});

test('--json gives the architecture as Network.create takes it and the counts per layer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'digitnet-info-'));
  try {
    const net = Network.create({ input: [1, 4, 4], layers: [{ type: 'flatten' }, { units: 6 }, { type: 'dropout', rate: 0.1 }, { units: 2 }], backend: 'ts' });
    await net.save(join(dir, 'm.safetensors'));
    const run = digitnet('info', '--model', join(dir, 'm.safetensors'), '--json');
    expect(run.status).toBe(0);
    const info = JSON.parse(run.stdout);
    expect(info.config).toEqual(net.config);
    expect(info.architecture).toBe('16-6-dropout0.1-2');
    expect(info.layers).toEqual([
      { index: 0, type: 'flatten', outputShape: [16], parameters: 0 },
      { index: 1, type: 'dense', outputShape: [6], parameters: 102 },
      { index: 2, type: 'dropout', outputShape: [6], parameters: 0 },
      { index: 3, type: 'dense', outputShape: [2], parameters: 14 },
    ]);
    expect([info.parameters, info.buffers]).toEqual([116, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing option or a file that is not a model exits 1 with one line saying why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'digitnet-info-'));
  try {
    writeFileSync(join(dir, 'junk.safetensors'), 'not a model');
    const missing = digitnet('info');
    expect([missing.status, missing.stderr]).toEqual([1, 'digitnet: digitnet info: --model FILE is required (see digitnet info --help)\n']);
    const junk = digitnet('info', '--model', join(dir, 'junk.safetensors'));
    expect(junk.status).toBe(1);
    expect(junk.stderr).toMatch(/^digitnet: info: .*junk\.safetensors: .+\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
