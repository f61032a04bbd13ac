import type { Backend, BackendName } from '../backend/contract';
import { getBackend, nativeAvailable } from '../backend';
import type { Dataset } from '../data/mnist';
import { fitInWorker } from './thread';
import { loadCheckpoint } from '../io/checkpoint';
import { checkSeed, type Network } from '../model/network';
import { checkOptimizer, checkSchedule, type OptimizerSpec, type ScheduleSpec } from './optimizers';
import { trainLoop, type TrainingState } from './loop';

/** Options of `Network.fit`. */
export interface FitOptions {
  /** Passes over the training set (default 10). With a full batch, one epoch is one descent step. */
  epochs?: number;
  /** Samples per optimizer step (default 64); `Infinity` or the set's size is the paper's full-batch descent. */
  batchSize?: number;
  /** Default `{ name: 'adam', lr: 1e-3 }`. */
  optimizer?: OptimizerSpec;
  /** Default constant. */
  schedule?: ScheduleSpec;
  /** `'sum'` is the paper's E (eq. 3), summed over the batch; `'mean'` divides by the batch size (default). */
  loss?: 'mean' | 'sum';
  /** Reshuffle the samples every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffles (default 1). */
  seed?: number;
  /** Train on the first `limit` samples only. */
  limit?: number;
  /** Evaluated after every epoch; its accuracy drives `targetAccuracy`. */
  validation?: Dataset;
  /** Stop once validation accuracy reaches this fraction (needs `validation`). */
  targetAccuracy?: number;
  /**
   * Progress, on the calling thread. Training in a worker (the 'native' and 'ts' backends) reports
   * the latest step at most every 50 ms; training on the calling thread reports every step.
   */
  onBatch?: (info: BatchInfo) => void;
  /**
   * Called after every epoch, on the calling thread; training waits until it returns (or its
   * promise settles), so `predict`, `evaluate` and `save` in it see that epoch's final weights.
   * A callback that throws (or rejects) stops training, and `fit` rejects with its error.
   */
  onEpoch?: (record: EpochRecord) => unknown;
  /** Aborting stops training before the next step; the network keeps the weights of the last step. */
  signal?: AbortSignal;
  /** After every completed epoch, save weights, optimizer state, epoch and RNG state to this safetensors file (it also loads as a model). */
  checkpoint?: string;
  /** Continue from this checkpoint: same architecture and training options (epochs may differ); its weights replace the network's. */
  resume?: string;
}

/** What `onBatch` receives. */
export interface BatchInfo {
  epoch: number;
  batch: number;
  batches: number;
  /** Mean loss per sample of this batch. */
  loss: number;
  /** Training accuracy of this batch (before the step). */
  accuracy: number;
  /** Samples processed so far in this epoch. */
  samples: number;
  lr: number;
}

/** One epoch's figures. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean training loss per sample over the epoch (measured before each step). */
  loss: number;
  /** Training accuracy over the epoch (measured before each step). */
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Seconds spent training in this epoch (validation excluded). */
  seconds: number;
  lr: number;
}

/** `fit`'s result. */
export interface History {
  epochs: EpochRecord[];
  /** Optimizer steps taken. */
  steps: number;
  /** Wall-clock seconds of the whole fit, validation included. */
  seconds: number;
  /** Why training ended. */
  stopped: 'completed' | 'target' | 'aborted';
}

/**
 * The options `fit` checked and completed, as plain data (the worker thread receives them; a
 * checkpoint records the ones that must match on resume).
 */
export interface FitPlan {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  loss: 'mean' | 'sum';
  shuffle: boolean;
  seed: number;
  limit?: number;
  targetAccuracy?: number;
  checkpoint?: string;
}

/** Yield to the event loop at least this often (ms) when training on the calling thread. */
const YIELD_MS = 16;

/**
 * Trains `net` on `train` with mini-batch gradient descent; see `FitOptions`. With the built-in
 * backends the loop runs in a worker thread and the event loop stays free; a custom `Backend`
 * object cannot be sent to another thread, so such a network trains on the calling thread.
 */
export function fit(net: Network, train: Dataset, options: FitOptions = {}): Promise<History> {
  const backend = builtinBackendName(net.backend);
  return prepared(net, train, options, (plan, start) =>
    backend
      ? fitInWorker(net, backend, train, options, plan, start)
      : trainOnCallingThread(net, train, options, plan, start),
  );
}

/** `fit` on the calling thread, yielding to the event loop every ~16 ms (the baseline the worker is measured against). */
export function fitOnCallingThread(net: Network, train: Dataset, options: FitOptions = {}): Promise<History> {
  return prepared(net, train, options, (plan, start) => trainOnCallingThread(net, train, options, plan, start));
}

/** Checks the options and the data, marks the network as training, loads `resume`, then runs `train`. */
async function prepared(
  net: Network, train: Dataset, options: FitOptions,
  run: (plan: FitPlan, start: TrainingState | undefined) => Promise<History>,
): Promise<History> {
  if (net.training) throw new Error('fit: this network is already training; wait for the running fit to finish');
  const plan = resolveOptions(options);
  net.checkDataset(train, 'fit');
  if (options.validation) net.checkDataset(options.validation, 'fit validation');
  net.training = true;
  try {
    const start = options.resume === undefined ? undefined : await loadCheckpoint(options.resume, net, plan);
    return await run(plan, start);
  } finally {
    net.training = false;
  }
}

function resolveOptions(options: FitOptions): FitPlan {
  const o: FitPlan = {
    epochs: options.epochs ?? 10,
    batchSize: options.batchSize ?? 64,
    optimizer: options.optimizer ?? { name: 'adam', lr: 1e-3 },
    schedule: options.schedule ?? { name: 'constant' },
    loss: options.loss ?? 'mean',
    shuffle: options.shuffle ?? true,
    seed: options.seed ?? 1,
    limit: options.limit,
    targetAccuracy: options.targetAccuracy,
    checkpoint: options.checkpoint,
  };
  if (!Number.isInteger(o.epochs) || o.epochs < 0) throw new RangeError(`fit: epochs must be an integer >= 0, got ${o.epochs}`);
  if (!(o.batchSize >= 1) || !(Number.isInteger(o.batchSize) || o.batchSize === Infinity)) {
    throw new RangeError(`fit: batchSize must be an integer >= 1 or Infinity, got ${o.batchSize}`);
  }
  if (o.loss !== 'mean' && o.loss !== 'sum') throw new RangeError(`fit: loss must be 'mean' or 'sum', got '${o.loss}'`);
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new RangeError(`fit: limit must be an integer >= 1, got ${o.limit}`);
  if (o.targetAccuracy !== undefined) {
    if (!(o.targetAccuracy > 0 && o.targetAccuracy <= 1)) throw new RangeError(`fit: targetAccuracy must be in (0, 1], got ${o.targetAccuracy}`);
    if (!options.validation) throw new RangeError('fit: targetAccuracy needs a validation set');
  }
  for (const key of ['checkpoint', 'resume'] as const) {
    const file = options[key];
    if (file !== undefined && (typeof file !== 'string' || file === '')) throw new TypeError(`fit: ${key} must be a file path, got ${JSON.stringify(file)}`);
  }
  checkSeed(o.seed, 'fit');
  checkOptimizer(o.optimizer);
  checkSchedule(o.schedule);
  return o;
}

/** 'native' or 'ts' when `backend` is that built-in backend (a worker can load it by name), else undefined. */
function builtinBackendName(backend: Backend): BackendName | undefined {
  if (backend === getBackend('ts')) return 'ts';
  if (backend.name === 'native' && nativeAvailable() && backend === getBackend('native')) return 'native';
  return undefined;
}

function trainOnCallingThread(net: Network, train: Dataset, options: FitOptions, plan: FitPlan, start: TrainingState | undefined): Promise<History> {
  let lastYield = performance.now();
  return trainLoop(net, train, options.validation, plan, start, {
    stopRequested: () => options.signal?.aborted === true,
    batch(info) {
      options.onBatch?.(info);
      if (performance.now() - lastYield <= YIELD_MS) return undefined;
      return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        lastYield = performance.now();
      });
    },
    epoch: async (record) => {
      await options.onEpoch?.(record);
    },
  });
}
