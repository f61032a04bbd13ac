import type { Dataset } from './data/mnist';
import { argmax, MAX_CHUNK_ROWS, type Network } from './network';
import { checkSchedule, Optimizer, scheduledRate, type OptimizerSpec, type ScheduleSpec } from './optimizers';
import { Random } from './random';

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
  /** Called after every optimizer step. */
  onBatch?: (info: BatchInfo) => void;
  /** Called after every epoch. */
  onEpoch?: (record: EpochRecord) => void;
  /** Aborting stops training after the current step; the network keeps the weights of the last step. */
  signal?: AbortSignal;
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

/** Yield to the event loop at least this often (ms), so timers and I/O keep running during training. */
const YIELD_MS = 16;

/** Trains `net` on `train` with mini-batch gradient descent; see `FitOptions`. */
export async function fit(net: Network, train: Dataset, options: FitOptions = {}): Promise<History> {
  if (net.training) throw new Error('fit: this network is already training; wait for the running fit to finish');
  const o = resolveOptions(options);
  net.checkDataset(train, 'fit');
  if (o.validation) net.checkDataset(o.validation, 'fit validation');
  net.training = true;
  try {
    return await runEpochs(net, train, o);
  } finally {
    net.training = false;
  }
}

type Resolved = Required<Pick<FitOptions, 'epochs' | 'optimizer' | 'schedule' | 'loss' | 'shuffle' | 'seed'>> &
  FitOptions & { batchSize: number };

function resolveOptions(options: FitOptions): Resolved {
  const o = {
    epochs: 10,
    optimizer: { name: 'adam', lr: 1e-3 } as OptimizerSpec,
    schedule: { name: 'constant' } as ScheduleSpec,
    loss: 'mean' as const,
    shuffle: true,
    seed: 1,
    ...options,
    batchSize: options.batchSize ?? 64,
  };
  if (!Number.isInteger(o.epochs) || o.epochs < 0) throw new RangeError(`fit: epochs must be an integer >= 0, got ${o.epochs}`);
  if (!(o.batchSize >= 1) || !(Number.isInteger(o.batchSize) || o.batchSize === Infinity)) {
    throw new RangeError(`fit: batchSize must be an integer >= 1 or Infinity, got ${o.batchSize}`);
  }
  if (o.loss !== 'mean' && o.loss !== 'sum') throw new RangeError(`fit: loss must be 'mean' or 'sum', got '${o.loss}'`);
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new RangeError(`fit: limit must be an integer >= 1, got ${o.limit}`);
  if (o.targetAccuracy !== undefined) {
    if (!(o.targetAccuracy > 0 && o.targetAccuracy <= 1)) throw new RangeError(`fit: targetAccuracy must be in (0, 1], got ${o.targetAccuracy}`);
    if (!o.validation) throw new RangeError('fit: targetAccuracy needs a validation set');
  }
  checkSchedule(o.schedule);
  return o;
}

async function runEpochs(net: Network, train: Dataset, o: Resolved): Promise<History> {
  const started = performance.now();
  const count = Math.min(train.count, o.limit ?? train.count);
  const batchSize = Math.min(o.batchSize, count);
  const batches = Math.ceil(count / batchSize);
  const totalSteps = batches * o.epochs;
  const optimizer = new Optimizer(o.optimizer, net.params.length);
  const rng = new Random(o.seed);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const classes = net.classes;
  const history: History = { epochs: [], steps: 0, seconds: 0, stopped: 'completed' };
  let lastYield = performance.now();

  for (let epoch = 0; epoch < o.epochs && history.stopped === 'completed'; epoch++) {
    const epochStart = performance.now();
    if (o.shuffle) rng.shuffle(order);
    let lossSum = 0;
    let correct = 0;
    let lr = o.optimizer.lr;
    let batch = 0;
    for (; batch < batches; batch++) {
      if (o.signal?.aborted) {
        history.stopped = 'aborted';
        break;
      }
      const start = batch * batchSize;
      const rows = Math.min(batchSize, count - start);
      const scale = o.loss === 'sum' ? 1 : 1 / rows;
      let batchLoss = 0;
      let batchCorrect = 0;
      // A batch larger than a chunk is the sum of its chunks' gradients: same step, bounded memory.
      for (let offset = 0; offset < rows; offset += MAX_CHUNK_ROWS) {
        const chunk = Math.min(MAX_CHUNK_ROWS, rows - offset);
        const ws = net.loadBatch(train, order, start + offset, chunk);
        net.forward(chunk, ws.acts[0]);
        batchLoss += net.loss(chunk, scale);
        const probs = ws.acts[net.layers.length];
        for (let r = 0; r < chunk; r++) if (argmax(probs, r * classes, classes) === ws.labels[r]) batchCorrect++;
        net.backward(chunk, offset > 0);
      }
      if (!Number.isFinite(batchLoss)) {
        throw new Error(
          `fit: the loss became ${batchLoss} at epoch ${epoch + 1}, batch ${batch + 1} (learning rate ${lr}); ` +
            'training diverged: try a lower learning rate',
        );
      }
      lr = scheduledRate(o.optimizer.lr, o.schedule, epoch, history.steps, totalSteps);
      optimizer.step(net.backend, net.params, net.grads, lr);
      history.steps++;
      lossSum += batchLoss;
      correct += batchCorrect;
      o.onBatch?.({ epoch: epoch + 1, batch: batch + 1, batches, loss: batchLoss / rows, accuracy: batchCorrect / rows, samples: start + rows, lr });
      if (performance.now() - lastYield > YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    if (batch === 0) break; // aborted before the epoch's first step: no record
    const seen = Math.min(count, batch * batchSize);
    const record: EpochRecord = { epoch: epoch + 1, loss: lossSum / seen, accuracy: correct / seen, seconds: (performance.now() - epochStart) / 1000, lr };
    if (o.validation) {
      const val = net.evaluate(o.validation);
      record.valLoss = val.loss;
      record.valAccuracy = val.accuracy;
      if (o.targetAccuracy !== undefined && val.accuracy >= o.targetAccuracy && history.stopped === 'completed') history.stopped = 'target';
    }
    history.epochs.push(record);
    o.onEpoch?.(record);
  }
  history.seconds = (performance.now() - started) / 1000;
  return history;
}
