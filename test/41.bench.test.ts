/**
 * `digitnet bench` end to end: the quick run emits well-formed rows for every shape and network.
 * No timing assertions: the figures depend on the machine and its load.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { nativeAvailable } from '../lib/backend';

const ROOT = resolve(__dirname, '..');
const CLI = resolve(ROOT, 'dist', 'cli', 'main.js');
const SHAPES: { name: string; m: number; n: number; k: number }[] = JSON.parse(readFileSync(resolve(ROOT, 'bench', 'gemm-shapes.json'), 'utf8'));
const NETWORKS = ['784-128-10', '784-256-128-10'];
const CONV_LAYERS = ['conv1 1x28x28 -> 24x24x24', 'conv2 24x12x12 -> 32x10x10'];
const CONV_KERNELS = ['forward', 'input-gradient', 'weight-gradient'];
const BATCHES = [64, 256];

function digitnet(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, DIGITNET_DEBUG: '' } });
  return { status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr };
}

const positive = expect.any(Number);

describe('digitnet bench --quick --json', () => {
  // bench always compares both backends (DIGITNET_BACKEND does not apply); only a missing addon drops the native rows.
  const hasNative = nativeAvailable();
  let report: {
    cpu: string;
    threads: number;
    node: string;
    quick: boolean;
    notes: string[];
    fmaPeakGflops?: number;
    gemm: Record<string, unknown>[];
    conv: Record<string, unknown>[];
    train: Record<string, unknown>[];
    cnnEpoch: Record<string, unknown>[];
  };

  beforeAll(() => {
    const run = digitnet('bench', '--quick', '--json');
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    report = JSON.parse(run.stdout);
  }, 180_000);

  test('stdout is one JSON object with the CPU, thread count, Node version, notes and the row arrays', () => {
    expect(report).toEqual(expect.objectContaining({ cpu: expect.any(String), threads: positive, node: process.version, quick: true }));
    expect(report.threads).toBeGreaterThanOrEqual(1);
    expect(report.notes.length).toBeGreaterThan(0);
  });

  test('every gemm row has the contract fields, positive GFLOPS and an ordered spread', () => {
    expect(report.gemm.length).toBeGreaterThan(0);
    for (const row of report.gemm) {
      expect(row).toEqual(expect.objectContaining({
        m: positive, n: positive, k: positive, transA: expect.any(Boolean), transB: expect.any(Boolean),
        backend: expect.stringMatching(/^(native|ts)$/), threads: positive, gflops: positive,
      }));
      const { gflops, min, max } = row as { gflops: number; min: number; max: number };
      expect(gflops).toBeGreaterThan(0);
      expect(min).toBeLessThanOrEqual(gflops);
      expect(max).toBeGreaterThanOrEqual(gflops);
    }
  });

  test('every shape of bench/gemm-shapes.json is timed on TypeScript (but 1024^3) and on native at 1 and all threads', () => {
    for (const shape of SHAPES) {
      const rows = report.gemm.filter((row) => row.name === shape.name);
      const ts = rows.filter((row) => row.backend === 'ts');
      const native = rows.filter((row) => row.backend === 'native');
      expect(ts).toHaveLength(2 * shape.m * shape.n * shape.k > 1e9 ? 0 : 1);
      if (hasNative) expect(native.map((row) => row.threads)).toEqual([...new Set([1, report.threads])]);
    }
  });

  test('conv rows cover both layers of the reference net and all three kernels, TypeScript and native at 1 and all threads', () => {
    if (hasNative) expect(report.fmaPeakGflops).toEqual(positive);
    for (const layer of CONV_LAYERS) {
      for (const kernel of CONV_KERNELS) {
        const rows = report.conv.filter((row) => row.layer === layer && row.kernel === kernel);
        expect(rows.filter((row) => row.backend === 'ts')).toHaveLength(1);
        const native = rows.filter((row) => row.backend === 'native');
        if (hasNative) expect(native.map((row) => row.threads)).toEqual([...new Set([1, report.threads])]);
        for (const row of rows) {
          expect(row).toEqual(expect.objectContaining({ n: 256, stride: 1, threads: positive, gflops: positive }));
          const { gflops, min, max } = row as { gflops: number; min: number; max: number };
          expect(min).toBeLessThanOrEqual(gflops);
          expect(max).toBeGreaterThanOrEqual(gflops);
        }
        for (const row of native) {
          expect(row.speedup).toEqual(positive);
          if (row.threads === 1) expect(row.percentOfPeak).toEqual(positive);
        }
      }
    }
  });

  test('train rows cover both networks at batch 64 and 256 with scaled epoch times and speedups', () => {
    for (const network of NETWORKS) {
      for (const batch of BATCHES) {
        const rows = report.train.filter((row) => row.network === network && row.batch === batch);
        expect(rows.filter((row) => row.backend === 'ts')).toHaveLength(1);
        if (hasNative) expect(rows.filter((row) => row.backend === 'native').length).toBeGreaterThanOrEqual(1);
        for (const row of rows) {
          expect(row).toEqual(expect.objectContaining({ backend: expect.any(String), threads: positive, epochSeconds: positive, scaledFrom: positive }));
          if (row.backend === 'native') expect(row.speedup).toEqual(positive);
        }
      }
    }
  });
});

describe('digitnet bench options', () => {
  test("--only cnn-epoch times the reference CNN alone: TypeScript and native rows, the other sections empty", () => {
    const run = digitnet('bench', '--quick', '--only', 'cnn-epoch', '--json');
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect([report.gemm, report.conv, report.train]).toEqual([[], [], []]);
    const rows = report.cnnEpoch as Record<string, unknown>[];
    expect(rows.every((row) => row.network === '1x28x28-conv24k5-pool2-conv32k3-pool2-256-10' && row.batch === 256)).toBe(true);
    expect(rows.filter((row) => row.backend === 'ts')).toHaveLength(1);
    if (nativeAvailable()) expect(rows.filter((row) => row.backend === 'native').length).toBeGreaterThanOrEqual(1);
    for (const row of rows) expect(row).toEqual(expect.objectContaining({ threads: positive, epochSeconds: positive, scaledFrom: positive }));
  }, 120_000);

  test('--only with an unknown section exits 1 naming the sections', () => {
    const run = digitnet('bench', '--only', 'everything');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/--only must be one of gemm, conv, train, cnn-epoch, got 'everything'/);
  });

  test('--help prints the usage and exits 0', () => {
    const run = digitnet('bench', '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Usage: digitnet bench/);
  });

  test('an unknown option exits 1 with one line on stderr', () => {
    const run = digitnet('bench', '--threads', '3');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/Unknown option '--threads'/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
