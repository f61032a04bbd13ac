/**
 * The native backend: loads the C++ addon (native/addon.cc) and exposes it as a `Backend`.
 * This is the only file that touches the raw addon; `BindingModule` types its exports.
 */
import * as path from 'node:path';
import type { Backend } from './contract';
import { displayPath } from '../core/display-path';
import { firstLine, noBuildReason, NativeUnavailableError, remedy } from './native-missing';
import { packageRoot } from '../core/package-root';

/**
 * What `native/addon.cc` exports: every Backend kernel (validating its arguments as
 * lib/backend/contract.ts says), plus the reference sgemm and build facts.
 */
export interface BindingModule extends Omit<Backend, 'name'> {
  /** The naive reference sgemm (three loops, double accumulator), for parity tests. */
  gemmReference: Backend['gemm'];
  /** Build facts for `digitnet doctor`: the gemm micro-kernel chosen for this CPU (or by DIGITNET_ISA). */
  nativeInfo(): { gemmKernel: GemmKernelName; gemmBlocks: GemmBlockSizes; maxThreads: number };
  /**
   * For `digitnet bench`'s "% of peak": one thread's multiply-add throughput in GFLOPS (a
   * multiply-add is two operations) on the instruction set the kernels use, from independent
   * chains of FMAs run for about `seconds` (in (0, 10]; a RangeError otherwise).
   */
  fmaPeak(seconds: number): number;
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
  /** `prebuild` (shipped in the package's prebuilds/), `local build` (compiled at install), or `DIGITNET_ADDON`. */
  source: 'prebuild' | 'local build' | 'DIGITNET_ADDON';
  /** The gemm micro-kernel chosen at run time for this CPU (or by DIGITNET_ISA). */
  gemmKernel: GemmKernelName;
  /** Its block sizes. */
  gemmBlocks: GemmBlockSizes;
  /** The most threads `setThreads` accepts before clamping. */
  maxThreads: number;
}

let loaded: { binding: BindingModule; path: string; source: NativeInfo['source'] } | undefined;


/**
 * Loads the addon once: `$DIGITNET_ADDON` when set (e.g. the sanitizer build), else what
 * node-gyp-build finds (build/Release first, then a matching prebuilds/<platform>-<arch>/ file).
 * Throws a NativeUnavailableError that says why it is missing and how to get it.
 */
function loadBinding(): { binding: BindingModule; path: string; source: NativeInfo['source'] } {
  if (loaded) return loaded;
  const fromEnv = process.env.DIGITNET_ADDON;
  let file: string;
  if (fromEnv) {
    file = path.resolve(fromEnv);
  } else {
    const root = packageRoot();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    try {
      file = nodeGypBuild.resolve(root);
    } catch (err) {
      throw new NativeUnavailableError(noBuildReason(root), remedy(), { cause: err });
    }
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = { binding: require(file) as BindingModule, path: file, source: fromEnv ? 'DIGITNET_ADDON' : addonSource(file) };
  } catch (err) {
    const which = fromEnv ? `the addon named by DIGITNET_ADDON (${displayPath(file)})` : displayPath(file);
    throw new NativeUnavailableError(`${which} failed to load (${firstLine((err as Error).message)})`, remedy(), { cause: err });
  }
  return loaded;
}

/** Whether node-gyp-build found a prebuild shipped in the package or a local compile (build/Release). */
function addonSource(file: string): 'prebuild' | 'local build' {
  return file.split(path.sep).includes('prebuilds') ? 'prebuild' : 'local build';
}

/**
 * Loads the addon (once) and returns the native `Backend`, with `threads` (DIGITNET_THREADS, read
 * and checked by lib/backend/environment.ts) applied when given. Throws a NativeUnavailableError
 * that says why the addon did not load and how to build it.
 */
export function loadNativeBackend(threads?: number): Backend {
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
    dropout: binding.dropout,
    multiply: binding.multiply,
    conv2d: binding.conv2d,
    conv2dBackwardData: binding.conv2dBackwardData,
    conv2dBackwardFilter: binding.conv2dBackwardFilter,
    maxPool2d: binding.maxPool2d,
    maxPool2dBackward: binding.maxPool2dBackward,
    batchNormTrain: binding.batchNormTrain,
    batchNormInfer: binding.batchNormInfer,
    batchNormBackward: binding.batchNormBackward,
    augment: binding.augment,
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
  const { binding, path: file, source } = loadBinding();
  return { path: file, source, ...binding.nativeInfo() };
}

/** The raw addon, for parity tests against its reference kernels (e.g. `gemmReference`). */
export function nativeBinding(): BindingModule {
  return loadBinding().binding;
}
