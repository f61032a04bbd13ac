/**
 * What training off the main thread costs: wall time of a whole one-epoch `fit` in the worker
 * (thread start, addon load, dataset copy into shared memory included) against the same fit on
 * the calling thread, run in alternating pairs so that a busy machine slows both alike.
 */
import type { Backend, BackendName } from '../../backend/contract';
import { getBackend } from '../../backend';
import type { Dataset } from '../../core/dataset';
import { Network } from '../../model/network';
import type { FitOptions } from '../../train/types';
import { summarize, type Stats } from './measure';
import { BENCH_OPTIMIZER, CLASSES } from './train';

/** One comparison: seconds per one-epoch fit each way, and the worker's overhead. */
export interface FitOverhead {
  network: string;
  batch: number;
  backend: BackendName;
  threads: number;
  callingThreadSeconds: Stats;
  workerSeconds: Stats;
  /** Median over the pairs of worker / calling-thread time, minus 1 (0.02 = 2% slower). */
  overhead: number;
}

/** Times `repeats` pairs (after one warm-up pair) of one-epoch fits of `hidden` layers at `batch` on `train`. */
export async function fitOverhead(backend: BackendName, train: Dataset, hidden: number[], batch: number, repeats: number): Promise<FitOverhead> {
  // A custom Backend object cannot be sent to a worker, so fit trains on the calling thread: a
  // wrapper around the built-in backend is the same kernels, trained there.
  const onThisThread: Backend = Object.create(getBackend(backend));
  const create = (on: Backend | BackendName = backend) =>
    Network.create({
      input: [...train.shape],
      layers: [...hidden.map((units) => ({ units, activation: 'leaky-relu' as const })), { units: CLASSES, activation: 'softmax' }],
      seed: 1,
      backend: on,
    });
  const options: FitOptions = { epochs: 1, batchSize: batch, optimizer: BENCH_OPTIMIZER };
  const wallSeconds = async (net: Network) => {
    const start = performance.now();
    await net.fit(train, options);
    return (performance.now() - start) / 1000;
  };
  const here: number[] = [];
  const worker: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const onCallingThread = () => wallSeconds(create(onThisThread));
    const inWorker = () => wallSeconds(create());
    // Alternate which goes first, so that neither always runs on a warmer (or busier) machine.
    const [a, b] = r % 2 === 0 ? [await onCallingThread(), await inWorker()] : [await inWorker(), await onCallingThread()].reverse();
    if (r === 0) continue; // warm-up pair
    here.push(a);
    worker.push(b);
  }
  const ratios = summarize(worker.map((seconds, i) => seconds / here[i]));
  const net = create();
  return {
    network: net.architecture,
    batch,
    backend,
    threads: net.backend.getThreads(),
    callingThreadSeconds: summarize(here),
    workerSeconds: summarize(worker),
    overhead: ratios.median - 1,
  };
}
