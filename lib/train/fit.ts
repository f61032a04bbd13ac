import type { Backend, BackendName } from '../backend/contract';
import { getBackend, nativeAvailable } from '../backend';
import { splitDataset, type Dataset } from '../core/dataset';
import { checkSeed } from '../core/random';
import { MAX_CHUNK_ROWS, type Network } from '../model/network';
import { augmentShape, resolveAugment } from './augment';
import { loadCheckpoint } from './checkpoint-state';
import { trainLoop } from './loop';
import { checkOptimizer, checkSchedule } from './optimizers';
import { fitInWorker } from './thread';
import type { FitOptions, FitPlan, History, TrainingData, TrainingState } from './types';

/** Yield to the event loop at least this often (ms) when training on the calling thread. */
const YIELD_MS = 16;

/**
 * Trains `net` on `train` with mini-batch gradient descent; see `FitOptions`. With the built-in
 * backends the loop runs in a worker thread and the event loop stays free; a custom `Backend`
 * object cannot be sent to another thread, so such a network trains on the calling thread.
 */
export async function fit(net: Network, train: Dataset, options: FitOptions = {}): Promise<History> {
  if (net.training) throw new Error('fit: this network is already training; wait for the running fit to finish');
  const plan = resolveOptions(options);
  net.checkDataset(train, 'fit');
  if (options.validation) net.checkDataset(options.validation, 'fit validation');
  // Checked here, so that a split that leaves no sample fails before a worker starts; the loop splits.
  const training = plan.validationSplit === undefined ? train : splitDataset(train, plan.validationSplit, 'fit').train;
  checkWholeBatch(net, Math.min(plan.batchSize, plan.limit ?? Infinity, training.count));
  if (plan.augment) {
    augmentShape(net.inputShape, train.shape);
    if (typeof net.backend.augment !== 'function') throw new TypeError("fit: augment needs the backend's augment kernel, which this custom backend object lacks");
  }
  const data: TrainingData = { train, validation: options.validation };
  const backend = builtinBackendName(net.backend);
  net.training = true;
  try {
    const start = options.resume === undefined ? undefined : await loadCheckpoint(options.resume, net, plan);
    return await (backend ? fitInWorker(net, backend, data, options, plan, start) : trainOnCallingThread(net, data, options, plan, start));
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
    validationSplit: options.validationSplit,
    targetAccuracy: options.targetAccuracy,
    checkpoint: options.checkpoint,
    augment: resolveAugment(options.augment),
  };
  if (!Number.isInteger(o.epochs) || o.epochs < 0) throw new RangeError(`fit: epochs must be an integer >= 0, got ${o.epochs}`);
  if (!(o.batchSize >= 1) || !(Number.isInteger(o.batchSize) || o.batchSize === Infinity)) {
    throw new RangeError(`fit: batchSize must be an integer >= 1 or Infinity, got ${o.batchSize}`);
  }
  if (o.loss !== 'mean' && o.loss !== 'sum') throw new RangeError(`fit: loss must be 'mean' or 'sum', got '${o.loss}'`);
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new RangeError(`fit: limit must be an integer >= 1, got ${o.limit}`);
  if (o.validationSplit !== undefined) {
    if (typeof o.validationSplit !== 'number' || !(o.validationSplit > 0 && o.validationSplit < 1)) {
      throw new RangeError(`fit: validationSplit must be a number in (0, 1), got ${JSON.stringify(o.validationSplit)}`);
    }
    if (options.validation) throw new RangeError('fit: give validation or validationSplit, not both');
  }
  if (o.targetAccuracy !== undefined) {
    if (!(o.targetAccuracy > 0 && o.targetAccuracy <= 1)) throw new RangeError(`fit: targetAccuracy must be in (0, 1], got ${o.targetAccuracy}`);
    if (!options.validation && o.validationSplit === undefined) throw new RangeError('fit: targetAccuracy needs a validation set (validation or validationSplit)');
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

/**
 * Batches larger than a chunk run as several passes whose gradients add up, which is exact for
 * every layer except those that normalize with the batch's statistics: there the chunks would
 * each see their own. Such a network trains on batches of one chunk at most.
 */
function checkWholeBatch(net: Network, batchRows: number): void {
  const layer = net.layers.find((l) => l.wholeBatch);
  if (layer && batchRows > MAX_CHUNK_ROWS) {
    throw new RangeError(
      `fit: layers[${layer.index}] (${layer.config.type}) normalizes with the statistics of the whole batch, which must fit one pass ` +
        `of at most ${MAX_CHUNK_ROWS} samples; batches of ${batchRows} samples are too large (use batchSize <= ${MAX_CHUNK_ROWS}; full-batch descent cannot train this network)`,
    );
  }
}

/** 'native' or 'ts' when `backend` is that built-in backend (a worker can load it by name), else undefined. */
function builtinBackendName(backend: Backend): BackendName | undefined {
  if (backend === getBackend('ts')) return 'ts';
  if (backend.name === 'native' && nativeAvailable() && backend === getBackend('native')) return 'native';
  return undefined;
}

/** The loop on this thread, yielding to the event loop every ~16 ms. */
function trainOnCallingThread(net: Network, data: TrainingData, options: FitOptions, plan: FitPlan, start: TrainingState | undefined): Promise<History> {
  let lastYield = performance.now();
  return trainLoop(net, data, plan, start, {
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
