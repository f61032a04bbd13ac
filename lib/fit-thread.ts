import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendName } from './backend';
import type { Dataset } from './data/mnist';
import type { Network, NetworkConfig } from './network';
import type { BatchInfo, EpochRecord, FitOptions, FitPlan, History } from './train';
import type { TrainingState } from './train-loop';

/** What the training worker (lib/fit-worker.ts) receives. Typed arrays on SharedArrayBuffers arrive as views of the same memory. */
export interface WorkerJob {
  config: NetworkConfig;
  backend: BackendName;
  threads: number;
  /** The caller's `net.params`: the worker trains these weights in place. */
  params: Float32Array;
  train: Dataset;
  validation?: Dataset;
  plan: FitPlan;
  start?: TrainingState;
  /** Set to 1 to stop the worker before its next step (it checks with Atomics.load). */
  stop: Int32Array;
}

/** What the worker posts back. */
export type WorkerMessage =
  | { type: 'batch'; info: BatchInfo }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'done'; history: History }
  | { type: 'error'; error: unknown };

/**
 * Runs the training loop in a worker thread on `net`'s own weights (shared memory, never copied),
 * relaying progress to `options`' callbacks on this thread and `options.signal` to the worker.
 */
export function fitInWorker(net: Network, backend: BackendName, train: Dataset, options: FitOptions, plan: FitPlan, start: TrainingState | undefined): Promise<History> {
  const stop = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  const job: WorkerJob = {
    config: net.config,
    backend,
    threads: net.backend.getThreads(),
    params: net.params,
    train: sharedDataset(train, plan.limit),
    validation: options.validation && sharedDataset(options.validation),
    plan,
    start,
    stop,
  };
  const requestStop = () => Atomics.store(stop, 0, 1);
  return new Promise<History>((resolve, reject) => {
    let failure: { error: unknown } | undefined;
    const worker = new Worker(workerScript(), { workerData: job });
    const fail = (error: unknown) => {
      failure ??= { error };
      requestStop();
    };
    options.signal?.addEventListener('abort', requestStop);
    if (options.signal?.aborted) requestStop();
    worker.on('message', (message: WorkerMessage) => {
      try {
        if (message.type === 'batch') options.onBatch?.(message.info);
        else if (message.type === 'epoch') options.onEpoch?.(message.record);
        else if (message.type === 'error') fail(message.error);
        else if (!failure) resolve(message.history);
      } catch (error) {
        fail(error); // a throwing callback stops training; fit rejects with its error
      }
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      options.signal?.removeEventListener('abort', requestStop);
      if (failure) reject(failure.error);
      // After 'done' this rejection is a no-op: the promise has already resolved.
      else reject(new Error(`fit: the training worker exited (code ${code}) before finishing`));
    });
  });
}

/**
 * The worker script. Compiled, it sits next to this file; run from the TypeScript sources (e.g.
 * under ts-jest) there is no .js beside it, so the build in dist/ is used (`npm test` builds it first).
 */
function workerScript(): string {
  const candidates = [path.join(__dirname, 'fit-worker.js'), path.join(__dirname, '..', 'dist', 'fit-worker.js')];
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) throw new Error(`fit: the training worker script is missing (looked for ${candidates.join(' and ')}); run npm run build`);
  return found;
}

/** `data`'s first `limit` samples in shared memory, so the worker reads them without a copy per message. */
function sharedDataset(data: Dataset, limit = data.count): Dataset {
  const count = Math.min(data.count, limit);
  const pixels = data.rows * data.cols;
  return { ...data, count, images: shared(data.images.subarray(0, count * pixels)), labels: shared(data.labels.subarray(0, count)) };
}

/** `bytes` itself when it already lives in a SharedArrayBuffer, else a copy in a new one (once per fit). */
function shared(bytes: Uint8Array): Uint8Array {
  if (Object.prototype.toString.call(bytes.buffer) === '[object SharedArrayBuffer]') return bytes;
  const copy = new Uint8Array(new SharedArrayBuffer(bytes.length));
  copy.set(bytes);
  return copy;
}
