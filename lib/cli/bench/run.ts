/**
 * The benchmark behind `digitnet bench`: GEMM rows on the shapes of bench/gemm-shapes.json and
 * training rows (seconds per epoch), for the TypeScript backend (single-threaded) and the native
 * one at 1 thread and at all threads, with native / TypeScript speedups. Each shape and network
 * is measured on every backend one right after the other, so a ratio compares runs that saw the
 * same load on a shared machine.
 */
import type { Backend, BackendName } from '../../backend/contract';
import { getBackend, nativeAvailable } from '../../backend';
import type { Dataset } from '../../core/dataset';
import { shapeSize } from '../../core/shape';
import { loadMnist } from '../../data/mnist';
import { gemmGflops } from './gemm';
import { machineInfo, type MachineInfo } from './machine';
import type { Stats, TimingPlan } from './measure';
import { readGemmShapes, type GemmShape } from './shapes';
import { BENCH_OPTIMIZER, CLASSES, epochSeconds, type EpochPlan } from './train';

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
  gemm: GemmRow[];
  train: TrainRow[];
}

/** The measurement effort of one mode (`--quick` or the full run). */
interface Plan {
  gemm: TimingPlan;
  /** For TypeScript GEMMs above `LARGE_GEMM_FLOPS` (the 1024^3 square): fewer samples, or none. */
  tsLargeGemm: TimingPlan | null;
  nativeEpochs: EpochPlan;
  tsEpochs: EpochPlan;
}

/** A TypeScript GEMM above this many FLOPs per call takes about a second or more. */
const LARGE_GEMM_FLOPS = 1e9;

const PLANS: Record<'quick' | 'full', Plan> = {
  full: {
    gemm: { warmupSeconds: 0.1, repeats: 7, minSampleSeconds: 0.05 },
    tsLargeGemm: { warmupSeconds: 0, repeats: 3, minSampleSeconds: 0 },
    nativeEpochs: { warmupEpochs: 1, repeats: 5, images: Infinity },
    tsEpochs: { warmupEpochs: 1, repeats: 3, images: 6000 },
  },
  quick: {
    gemm: { warmupSeconds: 0.02, repeats: 3, minSampleSeconds: 0.01 },
    tsLargeGemm: null,
    nativeEpochs: { warmupEpochs: 1, repeats: 2, images: 10240 },
    tsEpochs: { warmupEpochs: 1, repeats: 2, images: 1024 },
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

/** Runs the benchmark; `progress` receives one line per measurement (for stderr). */
export async function runBench(options: { quick: boolean; progress?: (line: string) => void }): Promise<BenchReport> {
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
  try {
    const gemm = shapes.flatMap((shape) => gemmRows(context, shape));
    const trainRows: TrainRow[] = [];
    for (const hidden of NETWORKS) {
      for (const batch of BATCHES) trainRows.push(...(await epochRows(context, train, hidden, batch)));
    }
    return { ...machine, quick: options.quick, notes, gemm, train: trainRows };
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

/** One network at one batch size: TypeScript, then native at each thread count. */
async function epochRows({ plan, native, threadCounts, progress }: Context, train: Dataset, hidden: number[], batch: number): Promise<TrainRow[]> {
  const network = [shapeSize(train.shape), ...hidden, CLASSES].join('-');
  const ts = trainRow(network, batch, 'ts', 1, plan.tsEpochs, train.count, await epochSeconds('ts', train, hidden, batch, plan.tsEpochs));
  const rows = [ts];
  progress(`train ${network} batch ${batch}: ts ${ts.epochSeconds.toFixed(3)} s/epoch`);
  if (!native) return rows;
  for (const threads of threadCounts) {
    native.setThreads(threads);
    const stats = await epochSeconds('native', train, hidden, batch, plan.nativeEpochs);
    const row = trainRow(network, batch, 'native', native.getThreads(), plan.nativeEpochs, train.count, stats);
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
    `the TypeScript backend is single-threaded: its rows are at 1 thread, and the speedups at ${threads} threads compare with that`,
  ];
  if (plan.tsEpochs.images < count) notes.push(`TypeScript epochs time the first ${plan.tsEpochs.images} images and scale up to ${count}`);
  if (plan.nativeEpochs.images < count) notes.push(`native epochs time the first ${plan.nativeEpochs.images} images and scale up to ${count}`);
  if (plan.tsLargeGemm) notes.push(`TypeScript GEMMs above ${LARGE_GEMM_FLOPS / 1e9} GFLOP per call: ${plan.tsLargeGemm.repeats} single-call samples`);
  if (!hasNative) notes.push('native addon not available (npm run build:native builds it): TypeScript rows only');
  return notes;
}
