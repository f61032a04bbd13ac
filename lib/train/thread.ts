import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../backend/contract';
import type { Dataset } from '../data/mnist';
import type { Network, NetworkConfig } from '../model/network';
import type { BatchInfo, EpochRecord, FitOptions, FitPlan, History } from './fit';
import type { TrainingState } from './loop';
import { errorFromRecord } from './worker-errors';

/** What the training worker (lib/train/worker.ts) receives. Typed arrays on SharedArrayBuffers arrive as views of the same memory. */
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
  /** Shared flags, see `STOP` and `EPOCH_GATE`. */
  control: Int32Array;
  /** Whether the caller has an `onEpoch`: the worker then waits at `EPOCH_GATE` after each epoch. */
  waitAfterEpoch: boolean;
}

/** `control[STOP]`: set to 1 to stop the worker before its next step (it checks with Atomics.load). */
export const STOP = 0;
/**
 * `control[EPOCH_GATE]`: the worker sets it to 0 when it posts an epoch and sleeps until the caller
 * sets it to 1, once `onEpoch` has returned: the callback sees weights that hold still.
 */
export const EPOCH_GATE = 1;

/** What the worker posts back; an error travels as `errorToRecord`'s data. */
export type WorkerMessage =
  | { type: 'batch'; info: BatchInfo }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'done'; history: History }
  | { type: 'error'; error: unknown };

/**
 * Runs the training loop in a worker thread on `net`'s own weights (shared memory, never copied),
 * relaying progress to `options`' callbacks on this thread and `options.signal` to the worker.
 * While the worker trains, `net.weightsMoving` is true; during `onEpoch` the worker waits.
 */
export function fitInWorker(net: Network, backend: BackendName, train: Dataset, options: FitOptions, plan: FitPlan, start: TrainingState | undefined): Promise<History> {
  const control = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const job: WorkerJob = {
    config: net.config,
    backend,
    threads: net.backend.getThreads(),
    params: net.params,
    train: sharedDataset(train, plan.limit),
    validation: options.validation && sharedDataset(options.validation),
    plan,
    start,
    control,
    waitAfterEpoch: options.onEpoch !== undefined,
  };
  const requestStop = () => Atomics.store(control, STOP, 1);
  return new Promise<History>((resolve, reject) => {
    const worker = acquireWorker();
    let failure: { error: unknown } | undefined;
    let finished = false;
    const fail = (error: unknown) => {
      failure ??= { error };
      requestStop();
    };
    const onEpoch = async (record: EpochRecord) => {
      if (!options.onEpoch) return; // the worker did not stop
      net.weightsMoving = false;
      try {
        await options.onEpoch(record);
      } catch (error) {
        fail(error); // a throwing callback stops training; fit rejects with its error
      }
      if (finished) return;
      net.weightsMoving = true;
      Atomics.store(control, EPOCH_GATE, 1);
      Atomics.notify(control, EPOCH_GATE);
    };
    const onMessage = (message: WorkerMessage) => {
      if (message.type === 'epoch') return void onEpoch(message.record);
      if (message.type === 'batch') {
        try {
          options.onBatch?.(message.info);
        } catch (error) {
          fail(error);
        }
        return;
      }
      // The loop has ended and the worker is idle again: it can serve the next fit.
      finish();
      releaseWorker(worker);
      if (failure) reject(failure.error);
      else if (message.type === 'error') reject(errorFromRecord(message.error));
      else resolve(message.history);
    };
    // A worker that failed is ended, never kept for the next fit.
    const abandon = (error: unknown) => {
      finish();
      void worker.terminate();
      reject(error);
    };
    const onError = (error: Error) => abandon(error);
    const onExit = (code: number) => abandon(new Error(`fit: the training worker exited (code ${code}) before finishing`));
    // Only our own listeners: Worker keeps internal ones (removeAllListeners() stops its messages).
    const finish = () => {
      finished = true;
      net.weightsMoving = false;
      options.signal?.removeEventListener('abort', requestStop);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    options.signal?.addEventListener('abort', requestStop);
    if (options.signal?.aborted) requestStop();
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    try {
      worker.postMessage(job);
    } catch (error) {
      return abandon(error); // e.g. a value that cannot be cloned: the worker never got the job
    }
    net.weightsMoving = true;
  });
}

/** How long an idle worker waits for the next fit before it is ended. */
const IDLE_WORKER_MS = 5000;

/**
 * One worker kept between fits: the next fit then skips starting a thread and loading the modules
 * and the addon in it (tens of ms). Unref'd while idle, it never keeps the process alive.
 */
let idle: { worker: Worker; timer: NodeJS.Timeout; forget: () => void } | undefined;

function acquireWorker(): Worker {
  if (idle) {
    const { worker, timer, forget } = idle;
    idle = undefined;
    clearTimeout(timer);
    worker.off('error', forget).off('exit', forget);
    worker.ref();
    return worker;
  }
  return new Worker(workerScript());
}

function releaseWorker(worker: Worker): void {
  if (idle) {
    void worker.terminate();
    return;
  }
  worker.unref();
  const forget = () => {
    if (idle?.worker === worker) idle = undefined;
  };
  const timer = setTimeout(() => {
    forget();
    void worker.terminate();
  }, IDLE_WORKER_MS).unref();
  // An idle worker that fails or dies (it should not) is simply dropped; an unheard 'error' would crash the process.
  worker.on('error', forget).on('exit', forget);
  idle = { worker, timer, forget };
}

/**
 * The worker script. Compiled, it sits next to this file; run from the TypeScript sources (e.g.
 * under ts-jest) there is no .js beside it, so the build in dist/ is used (`npm test` builds it first).
 */
function workerScript(): string {
  const candidates = [path.join(__dirname, 'worker.js'), path.join(__dirname, '..', '..', 'dist', 'train', 'worker.js')];
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) throw new Error(`fit: the training worker script is missing (looked for ${candidates.join(' and ')}); run npm run build`);
  return found;
}

/** `data`'s first `limit` samples in shared memory, so the worker reads them without a copy per message. */
function sharedDataset(data: Dataset, limit = data.count): Dataset {
  const count = Math.min(data.count, limit);
  const { rows, cols } = data;
  return { count, rows, cols, images: shared(data.images, count * rows * cols), labels: shared(data.labels, count) };
}

/**
 * Shared copies of the datasets' arrays, kept while the arrays live: each fit copies the data
 * again (so in-place edits between fits are seen) but into memory already mapped, which costs a
 * few ms for MNIST where a fresh 47 MB buffer costs tens (page faults).
 */
const sharedCopies = new WeakMap<Uint8Array, Uint8Array>();

/** The first `length` of `bytes`: a view when they already live in a SharedArrayBuffer, else a copy in shared memory. */
function shared(bytes: Uint8Array, length: number): Uint8Array {
  if (Object.prototype.toString.call(bytes.buffer) === '[object SharedArrayBuffer]') return bytes.subarray(0, length);
  let copy = sharedCopies.get(bytes);
  if (!copy || copy.length !== bytes.length) {
    copy = new Uint8Array(new SharedArrayBuffer(bytes.length));
    sharedCopies.set(bytes, copy);
  }
  copy.set(bytes.subarray(0, length));
  return copy.subarray(0, length);
}
