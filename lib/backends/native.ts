/**
 * The native backend: loads the C++ addon (native/addon.cc) and exposes it as a `Backend`.
 * This is the only file that touches the raw addon; `BindingModule` types its exports.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ActivationName, Backend } from '../backend';

/** What `native/addon.cc` exports. Every kernel validates its arguments as lib/backend.ts says. */
export interface BindingModule {
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
    beta: number, c: Float32Array, ldc: number,
  ): void;
  /** The naive reference sgemm (three loops, double accumulator), for parity tests. */
  gemmReference(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
    beta: number, c: Float32Array, ldc: number,
  ): void;
  addBias(rows: number, cols: number, x: Float32Array, bias: Float32Array): void;
  biasGrad(rows: number, cols: number, dy: Float32Array, db: Float32Array, beta: number): void;
  activation(kind: ActivationName, n: number, x: Float32Array, y: Float32Array, slope: number, factor: number): void;
  activationGrad(
    kind: ActivationName, n: number, y: Float32Array, dy: Float32Array, dx: Float32Array,
    slope: number, factor: number,
  ): void;
  softmax(rows: number, cols: number, logits: Float32Array, probs: Float32Array): void;
  softmaxCrossEntropy(
    rows: number, cols: number, logits: Float32Array, labels: Uint8Array,
    probs: Float32Array, dlogits: Float32Array, scale: number,
  ): number;
  gatherRows(
    src: Uint8Array, rowLen: number, indices: Uint32Array, offset: number, count: number,
    scale: number, dst: Float32Array,
  ): void;
  sgdStep(n: number, lr: number, w: Float32Array, g: Float32Array): void;
  momentumStep(n: number, lr: number, mu: number, w: Float32Array, g: Float32Array, v: Float32Array): void;
  adamStep(
    n: number, lr: number, beta1: number, beta2: number, eps: number, t: number,
    w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  ): void;
  /** Clamps n to the addon's maximum (`nativeInfo().maxThreads`). */
  setThreads(n: number): void;
  getThreads(): number;
  /** Build facts for `digitnet doctor`: the gemm micro-kernel chosen for this CPU (or by DIGITNET_ISA). */
  nativeInfo(): { gemmKernel: GemmKernelName; gemmBlocks: GemmBlockSizes; maxThreads: number };
}

/** The sgemm micro-kernels (native/gemm_*.cc); `DIGITNET_ISA` takes the same names. */
export type GemmKernelName = 'avx512' | 'avx2' | 'scalar';

/** sgemm block sizes (BLIS's names): register tile mr x nr, cache blocks mc, kc, nc. */
export interface GemmBlockSizes {
  mr: number; nr: number; mc: number; kc: number; nc: number;
}

/** Facts about the loaded addon, for `digitnet doctor`. */
export interface NativeInfo {
  /** Absolute path of the `.node` file that was loaded. */
  path: string;
  /** The gemm micro-kernel chosen at run time for this CPU (or by DIGITNET_ISA). */
  gemmKernel: GemmKernelName;
  /** Its block sizes. */
  gemmBlocks: GemmBlockSizes;
  /** The most threads `setThreads` accepts before clamping. */
  maxThreads: number;
}

let loaded: { binding: BindingModule; path: string } | undefined;

/** The package root: the nearest directory above this file that holds package.json (works from lib/ and dist/). */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json found above ${__dirname}`);
    dir = parent;
  }
}

function loadBinding(): { binding: BindingModule; path: string } {
  if (loaded) return loaded;
  let root = '(unknown)';
  try {
    root = packageRoot();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as { (dir: string): unknown; resolve(dir: string): string };
    // DIGITNET_ADDON names a specific build (e.g. the sanitizer build) instead of the usual lookup.
    const file = process.env.DIGITNET_ADDON ? path.resolve(process.env.DIGITNET_ADDON) : nodeGypBuild.resolve(root);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = { binding: require(file) as BindingModule, path: file };
    return loaded;
  } catch (err) {
    const reason = (err as Error).message.trim().split('\n').join('\n    ');
    throw new Error(
      `digitnet: the native addon could not be loaded from ${root}.\n` +
        `  Reason: ${reason}\n` +
        '  Possible solutions:\n' +
        '  - Build it: install python3, make and a C++17 compiler (g++ or clang++; Xcode command line tools\n' +
        '    on macOS; Visual Studio Build Tools with "Desktop development with C++" on Windows), then run\n' +
        '    `npm rebuild digitnet` in your project, or `npx node-gyp rebuild` in the digitnet package.\n' +
        '  - Or use the pure TypeScript backend: DIGITNET_BACKEND=ts, or getBackend(\'ts\').',
      { cause: err },
    );
  }
}

/** Reads DIGITNET_THREADS: unset or empty means the addon's default (all cores). */
function threadsFromEnv(): number | undefined {
  const raw = process.env.DIGITNET_THREADS;
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new Error(`DIGITNET_THREADS must be a whole number >= 1, got '${raw}'`);
  }
  return value;
}

/**
 * Loads the addon (once) and returns the native `Backend`. Applies `DIGITNET_THREADS` when set.
 * Throws an Error that says why the addon did not load and how to build it.
 */
export function loadNativeBackend(): Backend {
  const threads = threadsFromEnv();
  const { binding } = loadBinding();
  if (threads !== undefined) binding.setThreads(threads);
  // The addon's functions take the Backend's arguments positionally and ignore `this`:
  // bound directly, a call goes straight to C++.
  return {
    name: 'native',
    gemm: binding.gemm,
    addBias: binding.addBias,
    biasGrad: binding.biasGrad,
    activation: binding.activation,
    activationGrad: binding.activationGrad,
    softmax: binding.softmax,
    softmaxCrossEntropy: binding.softmaxCrossEntropy,
    gatherRows: binding.gatherRows,
    sgdStep: binding.sgdStep,
    momentumStep: binding.momentumStep,
    adamStep: binding.adamStep,
    setThreads: binding.setThreads,
    getThreads: binding.getThreads,
  };
}

/** Where the addon was loaded from and what it chose for this CPU; loads it if needed. */
export function nativeInfo(): NativeInfo {
  const { binding, path: file } = loadBinding();
  return { path: file, ...binding.nativeInfo() };
}

/** The raw addon, for parity tests against its reference kernels (e.g. `gemmReference`). */
export function nativeBinding(): BindingModule {
  return loadBinding().binding;
}
