/**
 * The benchmark behind `digitnet bench`: GEMM rows on the shapes of bench/gemm-shapes.json,
 * convolution rows on the reference net's layers, and training rows (seconds per epoch), for the
 * TypeScript backend (single-threaded) and the native one at 1 thread and at all threads, with
 * native / TypeScript speedups. Each shape and network is measured on every backend one right
 * after the other, so a ratio compares runs that saw the same load on a shared machine.
 */
import type { Backend, BackendName } from '../../backend/contract';
import { getBackend, nativeAvailable } from '../../backend';
import { nativeBinding } from '../../backend/native';
import type { Dataset } from '../../core/dataset';
import { shapeSize } from '../../core/shape';
import { loadMnist } from '../../data/mnist';
import { CONV_BATCH, CONV_KERNELS, convGflops, REFERENCE_CONV_LAYERS, type ConvKernel, type ConvShape } from './conv';
import { gemmGflops } from './gemm';
import { machineInfo, type MachineInfo } from './machine';
import type { Stats, TimingPlan } from './measure';
import { readGemmShapes, type GemmShape } from './shapes';
import { BENCH_OPTIMIZER, CLASSES, epochSeconds, REFERENCE_CNN, REFERENCE_CNN_NAME, referenceCnnEpochSeconds, type EpochPlan } from './train';

/** One GEMM measurement; `gflops` is the median, `min`/`max` the spread. */
export interface GemmRow extends GemmShape {
  backend: BackendName;
  threads: number;
  gflops: number;
  min: number;
  max: number;
  repeats: number;
  /** Native rows: this row's GFLOPS over the TypeScript backend's on the same shape. */
  speedup?: number;
}

/** One convolution kernel measurement on a layer of the reference net; `gflops` is the median, `min`/`max` the spread. */
export interface ConvRow extends ConvShape {
  kernel: ConvKernel;
  backend: BackendName;
  threads: number;
  gflops: number;
  min: number;
  max: number;
  repeats: number;
  /** Native rows: this row's GFLOPS over the TypeScript backend's on the same kernel and layer. */
  speedup?: number;
  /** Native rows at 1 thread: this row's GFLOPS over `fmaPeakGflops`, in percent. */
  percentOfPeak?: number;
}

/** One training measurement; `epochSeconds` is the median, `min`/`max` the spread. */
export interface TrainRow {
  /** Layer sizes, e.g. `784-128-10`. */
  network: string;
  batch: number;
  backend: BackendName;
  threads: number;
  epochSeconds: number;
  min: number;
  max: number;
  repeats: number;
  /** Present when the epoch was timed on this many images and scaled up to the full set. */
  scaledFrom?: number;
  /** Native rows: the TypeScript backend's epoch time over this row's. */
  speedup?: number;
}

/** Everything `digitnet bench` reports: the machine's facts, then the rows. */
export interface BenchReport extends MachineInfo {
  quick: boolean;
  /** What the tables leave implicit: workload, scaling, skipped rows. */
  notes: string[];
  /** One thread's multiply-add throughput on the native kernels' instruction set (absent without the addon). */
  fmaPeakGflops?: number;
  gemm: GemmRow[];
  conv: ConvRow[];
  train: TrainRow[];
  /** Seconds per epoch of the reference CNN (REFERENCE_CNN), the figure bench/torch-cnn.py compares with PyTorch. */
  cnnEpoch: TrainRow[];
}

/** The parts of the benchmark, for `--only`. */
export const BENCH_SECTIONS = ['gemm', 'conv', 'train', 'cnn-epoch'] as const;
export type BenchSection = (typeof BENCH_SECTIONS)[number];

/** The measurement effort of one mode (`--quick` or the full run). */
interface Plan {
  gemm: TimingPlan;
  /** Convolution kernels (a TypeScript call at batch 256 takes about 0.1 s). */
  conv: TimingPlan;
  /** Seconds of the FMA peak's measurement. */
  peakSeconds: number;
  /** For TypeScript GEMMs above `LARGE_GEMM_FLOPS` (the 1024^3 square): fewer samples, or none. */
  tsLargeGemm: TimingPlan | null;
  nativeEpochs: EpochPlan;
  tsEpochs: EpochPlan;
  /** The reference CNN: about 60x the work of 784-128-10 per image. */
  cnnNativeEpochs: EpochPlan;
  cnnTsEpochs: EpochPlan;
}

/** A TypeScript GEMM above this many FLOPs per call takes about a second or more. */
const LARGE_GEMM_FLOPS = 1e9;

const PLANS: Record<'quick' | 'full', Plan> = {
  full: {
    gemm: { warmupSeconds: 0.1, repeats: 7, minSampleSeconds: 0.05 },
    conv: { warmupSeconds: 0.1, repeats: 7, minSampleSeconds: 0.05 },
    peakSeconds: 0.5,
    tsLargeGemm: { warmupSeconds: 0, repeats: 3, minSampleSeconds: 0 },
    nativeEpochs: { warmupEpochs: 1, repeats: 5, images: Infinity },
    tsEpochs: { warmupEpochs: 1, repeats: 3, images: 6000 },
    cnnNativeEpochs: { warmupEpochs: 1, repeats: 3, images: Infinity },
    cnnTsEpochs: { warmupEpochs: 1, repeats: 2, images: 1536 },
  },
  quick: {
    gemm: { warmupSeconds: 0.02, repeats: 3, minSampleSeconds: 0.01 },
    conv: { warmupSeconds: 0.02, repeats: 3, minSampleSeconds: 0.01 },
    peakSeconds: 0.1,
    tsLargeGemm: null,
    nativeEpochs: { warmupEpochs: 1, repeats: 2, images: 10240 },
    tsEpochs: { warmupEpochs: 1, repeats: 2, images: 1024 },
    cnnNativeEpochs: { warmupEpochs: 1, repeats: 1, images: 1024 },
    cnnTsEpochs: { warmupEpochs: 0, repeats: 1, images: 256 },
  },
};

/** Hidden layers of the timed networks: the common 784-128-10 comparison net and the default preset's 784-256-128-10. */
const NETWORKS: number[][] = [[128], [256, 128]];
const BATCHES = [64, 256];

/** What every measurement needs: the plan, the backends, the thread counts and where progress goes. */
interface Context {
  plan: Plan;
  native: Backend | null;
  threadCounts: number[];
  progress: (line: string) => void;
  notes: string[];
}

/** Runs the benchmark (or with `only` one section of it); `progress` receives one line per measurement (for stderr). */
export async function runBench(options: { quick: boolean; only?: BenchSection; progress?: (line: string) => void }): Promise<BenchReport> {
  const plan = PLANS[options.quick ? 'quick' : 'full'];
  const machine = machineInfo();
  const shapes = readGemmShapes();
  const { train } = await loadMnist();
  const native = nativeAvailable() ? getBackend('native') : null;
  const notes = workloadNotes(plan, train.count, machine.threads, native !== null);
  const context: Context = {
    plan, native, notes,
    threadCounts: [...new Set([1, machine.threads])],
    progress: options.progress ?? (() => undefined),
  };
  const threadsBefore = native?.getThreads();
  const runs = (section: BenchSection) => options.only === undefined || options.only === section;
  try {
    const gemm = runs('gemm') ? shapes.flatMap((shape) => gemmRows(context, shape)) : [];
    const fmaPeakGflops = native && runs('conv') ? nativeBinding().fmaPeak(plan.peakSeconds) : undefined;
    if (fmaPeakGflops !== undefined) context.progress(`FMA peak of one thread: ${fmaPeakGflops.toFixed(1)} GFLOPS`);
    const conv = runs('conv') ? REFERENCE_CONV_LAYERS.flatMap((shape) => CONV_KERNELS.flatMap((kernel) => convRows(context, shape, kernel, fmaPeakGflops))) : [];
    const trainRows: TrainRow[] = [];
    for (const hidden of runs('train') ? NETWORKS : []) {
      const network = [shapeSize(train.shape), ...hidden, CLASSES].join('-');
      for (const batch of BATCHES) {
        const time = (backend: BackendName, epochs: EpochPlan) => epochSeconds(backend, train, hidden, batch, epochs);
        trainRows.push(...(await epochRows(context, network, batch, train.count, { ts: plan.tsEpochs, native: plan.nativeEpochs }, time)));
      }
    }
    const cnnEpoch = runs('cnn-epoch')
      ? await epochRows(context, REFERENCE_CNN_NAME, REFERENCE_CNN.batch, train.count, { ts: plan.cnnTsEpochs, native: plan.cnnNativeEpochs },
        (backend, epochs) => referenceCnnEpochSeconds(backend, train, epochs))
      : [];
    return {
      ...machine, quick: options.quick, notes, ...(fmaPeakGflops !== undefined ? { fmaPeakGflops } : {}), gemm, conv, train: trainRows, cnnEpoch,
    };
  } finally {
    if (native && threadsBefore !== undefined) native.setThreads(threadsBefore);
  }
}

/** One shape: TypeScript (unless too large for this plan), then native at each thread count. */
function gemmRows({ plan, native, threadCounts, progress, notes }: Context, shape: GemmShape): GemmRow[] {
  const rows: GemmRow[] = [];
  const tsPlan = 2 * shape.m * shape.n * shape.k <= LARGE_GEMM_FLOPS ? plan.gemm : plan.tsLargeGemm;
  let ts: GemmRow | undefined;
  if (tsPlan) {
    ts = gemmRow(shape, 'ts', 1, gemmGflops(getBackend('ts'), shape, tsPlan));
    rows.push(ts);
    progress(`gemm ${shape.name}: ts ${ts.gflops.toFixed(2)} GFLOPS`);
  } else {
    notes.push(`gemm ${shape.name} (${shape.m}x${shape.n}x${shape.k}): skipped on the TypeScript backend in --quick`);
  }
  if (!native) return rows;
  for (const threads of threadCounts) {
    native.setThreads(threads);
    const row = gemmRow(shape, 'native', native.getThreads(), gemmGflops(native, shape, plan.gemm));
    if (ts) row.speedup = row.gflops / ts.gflops;
    rows.push(row);
    progress(`gemm ${shape.name}: native ${row.threads}T ${row.gflops.toFixed(2)} GFLOPS`);
  }
  return rows;
}

/** One kernel of one convolution layer: TypeScript, then native at each thread count (1 thread with its % of the FMA peak). */
function convRows({ plan, native, threadCounts, progress }: Context, shape: ConvShape, kernel: ConvKernel, peak?: number): ConvRow[] {
  const row = (backend: BackendName, threads: number, stats: Stats): ConvRow => ({
    ...shape, kernel, backend, threads, gflops: stats.median, min: stats.min, max: stats.max, repeats: stats.repeats,
  });
  const ts = row('ts', 1, convGflops(getBackend('ts'), shape, kernel, plan.conv));
  progress(`conv ${shape.layer} ${kernel}: ts ${ts.gflops.toFixed(2)} GFLOPS`);
  const rows = [ts];
  if (!native) return rows;
  for (const threads of threadCounts) {
    native.setThreads(threads);
    const r = row('native', native.getThreads(), convGflops(native, shape, kernel, plan.conv));
    r.speedup = r.gflops / ts.gflops;
    if (threads === 1 && peak !== undefined) r.percentOfPeak = (100 * r.gflops) / peak;
    rows.push(r);
    progress(`conv ${shape.layer} ${kernel}: native ${r.threads}T ${r.gflops.toFixed(2)} GFLOPS`);
  }
  return rows;
}

/** One network at one batch size, timed by `time`: TypeScript, then native at each thread count. */
async function epochRows(
  { native, threadCounts, progress }: Context, network: string, batch: number, count: number,
  plans: { ts: EpochPlan; native: EpochPlan }, time: (backend: BackendName, plan: EpochPlan) => Promise<Stats>,
): Promise<TrainRow[]> {
  const ts = trainRow(network, batch, 'ts', 1, plans.ts, count, await time('ts', plans.ts));
  const rows = [ts];
  progress(`train ${network} batch ${batch}: ts ${ts.epochSeconds.toFixed(3)} s/epoch`);
  if (!native) return rows;
  for (const threads of threadCounts) {
    native.setThreads(threads);
    const row = trainRow(network, batch, 'native', native.getThreads(), plans.native, count, await time('native', plans.native));
    row.speedup = ts.epochSeconds / row.epochSeconds;
    rows.push(row);
    progress(`train ${network} batch ${batch}: native ${row.threads}T ${row.epochSeconds.toFixed(3)} s/epoch`);
  }
  return rows;
}

function gemmRow(shape: GemmShape, backend: BackendName, threads: number, stats: Stats): GemmRow {
  return { ...shape, backend, threads, gflops: stats.median, min: stats.min, max: stats.max, repeats: stats.repeats };
}

function trainRow(network: string, batch: number, backend: BackendName, threads: number, plan: EpochPlan, count: number, stats: Stats): TrainRow {
  return {
    network, batch, backend, threads,
    epochSeconds: stats.median, min: stats.min, max: stats.max, repeats: stats.repeats,
    ...(plan.images < count ? { scaledFrom: plan.images } : {}),
  };
}

function workloadNotes(plan: Plan, count: number, threads: number, hasNative: boolean): string[] {
  const notes = [
    `GEMM: GFLOPS = 2mnk / time, median of ${plan.gemm.repeats} samples after warm-up, C overwritten (beta = 0); speedup = native / TypeScript on the same shape`,
    `training: leaky ReLU hidden layers, softmax + cross-entropy (mean), minibatch SGD (lr ${BENCH_OPTIMIZER.lr}), shuffled, no validation; ` +
      `seconds per ${count}-image epoch, median of ${plan.nativeEpochs.repeats} (native) / ${plan.tsEpochs.repeats} (TypeScript) epochs after ${plan.nativeEpochs.warmupEpochs} warm-up epoch; speedup = TypeScript / native`,
    `convolution: the reference net's layers at batch ${CONV_BATCH}; GFLOPS = 2 n f c kh kw oh ow / time, median of ${plan.conv.repeats} samples after warm-up; ` +
      "input-gradient writes dx, weight-gradient writes dWeight and dBias (beta = 0); % of peak = native 1 thread over one thread's FMA peak (fmaPeakGflops)",
    `the TypeScript backend is single-threaded: its rows are at 1 thread, and the speedups at ${threads} threads compare with that`,
  ];
  notes.push(
    `reference CNN (${REFERENCE_CNN_NAME}): batch ${REFERENCE_CNN.batch}, Adam (lr ${REFERENCE_CNN.optimizer.lr}), softmax + cross-entropy (mean), shuffled; ` +
      `seconds per ${count}-image epoch; native epochs time the first ${Math.min(plan.cnnNativeEpochs.images, count)} images, TypeScript the first ${plan.cnnTsEpochs.images}, scaled up`,
  );
  if (plan.tsEpochs.images < count) notes.push(`TypeScript epochs time the first ${plan.tsEpochs.images} images and scale up to ${count}`);
  if (plan.nativeEpochs.images < count) notes.push(`native epochs time the first ${plan.nativeEpochs.images} images and scale up to ${count}`);
  if (plan.tsLargeGemm) notes.push(`TypeScript GEMMs above ${LARGE_GEMM_FLOPS / 1e9} GFLOP per call: ${plan.tsLargeGemm.repeats} single-call samples`);
  if (!hasNative) notes.push('native addon not available (npm run build:native builds it): TypeScript rows only');
  return notes;
}
