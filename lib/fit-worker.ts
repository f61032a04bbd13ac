/**
 * The training worker: runs the loop of lib/train-loop.ts on the caller's weights (shared memory),
 * posting progress at most every BATCH_POST_MS so that it cannot flood the caller's event loop.
 * Started by lib/fit-thread.ts, which posts it one `WorkerJob` per fit and keeps it between fits.
 */
import { parentPort } from 'node:worker_threads';
import type { WorkerJob, WorkerMessage } from './fit-thread';
import { Network } from './network';
import { trainLoop } from './train-loop';

/** Least time (ms) between two batch reports. */
const BATCH_POST_MS = 50;

async function run(job: WorkerJob, post: (message: WorkerMessage) => void): Promise<void> {
  const net = Network.onParams(job.config, job.params, job.backend);
  // The native pool is process-wide, but loading the addon here applies DIGITNET_THREADS again.
  net.backend.setThreads(job.threads);
  let lastPost = -Infinity;
  const history = await trainLoop(net, job.train, job.validation, job.plan, job.start, {
    stopRequested: () => Atomics.load(job.stop, 0) !== 0,
    batch(info) {
      const now = performance.now();
      if (now - lastPost >= BATCH_POST_MS) {
        lastPost = now;
        post({ type: 'batch', info });
      }
      return undefined;
    },
    epoch: (record) => post({ type: 'epoch', record }),
  });
  post({ type: 'done', history });
}

const port = parentPort;
if (!port) throw new Error('digitnet: fit-worker.js runs as a worker thread started by fit, not on its own');
// One job at a time: the caller sends the next only after this one's 'done' or 'error'.
port.on('message', (job: WorkerJob) => {
  run(job, (message) => port.postMessage(message)).catch((error: unknown) => port.postMessage({ type: 'error', error }));
});
