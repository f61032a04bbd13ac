import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../backend/contract';
import type { Dataset } from '../core/dataset';
import { shapeSize } from '../core/shape';
import type { NetworkConfig } from '../layers/registry';
import type { Network } from '../model/network';
import type { BatchInfo, EpochRecord, FitOptions, FitPlan, History, TrainingData, TrainingState } from './types';
import { errorFromRecord } from './worker-errors';

/** What the training worker (lib/train/worker.ts) receives. Typed arrays on SharedArrayBuffers arrive as views of the same memory. */
export interface WorkerJob {
  config: NetworkConfig;
  backend: BackendName;
  threads: number;
  /** The caller's `net.params` and `net.buffers`: the worker trains these in place. */
  arenas: { params: Float32Array; buffers: Float32Array };
  data: TrainingData;
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
export function fitInWorker(net: Network, backend: BackendName, data: TrainingData, options: FitOptions, plan: FitPlan, start: TrainingState | undefined): Promise<History> {
  const control = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const job: WorkerJob = {
    config: net.config,
    backend,
    threads: net.backend.getThreads(),
    arenas: { params: net.params, buffers: net.buffers },
    // Whole when split: the held-back part is at the end, and the copy is then reused by the next fit.
    data: { train: sharedDataset(data.train, plan.validationSplit === undefined ? plan.limit : undefined), validation: data.validation && sharedDataset(data.validation) },
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
  return { count, shape: [...data.shape], inputs: shared(data.inputs, count * shapeSize(data.shape)), labels: shared(data.labels, count) };
}

type SharedArray = Uint8Array | Uint16Array | Float32Array;

/**
 * Shared copies of the datasets' arrays, kept while the arrays live: each fit copies the data
 * again (so in-place edits between fits are seen) but into memory already mapped, which costs a
 * few ms for MNIST where a fresh 47 MB buffer costs tens (page faults).
 */
const sharedCopies = new WeakMap<SharedArray, SharedArray>();

/** The first `length` of `values`: a view when they already live in a SharedArrayBuffer, else a copy in shared memory. */
function shared<T extends SharedArray>(values: T, length: number): T {
  if (Object.prototype.toString.call(values.buffer) === '[object SharedArrayBuffer]') return values.subarray(0, length) as T;
  let copy = sharedCopies.get(values) as T | undefined;
  if (!copy || copy.length !== values.length) {
    const Type = values.constructor as new (buffer: SharedArrayBuffer) => T;
    copy = new Type(new SharedArrayBuffer(values.byteLength));
    sharedCopies.set(values, copy);
  }
  copy.set(values.subarray(0, length));
  return copy.subarray(0, length) as T;
}
