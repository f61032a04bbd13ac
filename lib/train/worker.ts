/**
 * The training worker: runs the loop of lib/train/loop.ts on the caller's weights (shared memory),
 * posting progress at most every BATCH_POST_MS so that it cannot flood the caller's event loop.
 * Started by lib/train/thread.ts, which posts it one `WorkerJob` per fit and keeps it between fits.
 */
import { parentPort } from 'node:worker_threads';
import { EPOCH_GATE, STOP, type WorkerJob, type WorkerMessage } from './thread';
import { Network } from '../model/network';
import { trainLoop } from './loop';
import { errorToRecord } from './worker-errors';

/** Least time (ms) between two batch reports. */
const BATCH_POST_MS = 50;

async function run(job: WorkerJob, post: (message: WorkerMessage) => void): Promise<void> {
  const net = Network.onArenas(job.config, job.arenas, job.backend);
  // The native pool is process-wide, but loading the addon here applies DIGITNET_THREADS again.
  net.backend.setThreads(job.threads);
  let lastPost = -Infinity;
  const history = await trainLoop(net, job.data, job.plan, job.start, {
    stopRequested: () => Atomics.load(job.control, STOP) !== 0,
    batch(info) {
      const now = performance.now();
      if (now - lastPost >= BATCH_POST_MS) {
        lastPost = now;
        post({ type: 'batch', info });
      }
      return undefined;
    },
    epoch(record) {
      if (!job.waitAfterEpoch) return post({ type: 'epoch', record });
      Atomics.store(job.control, EPOCH_GATE, 0);
      post({ type: 'epoch', record });
      Atomics.wait(job.control, EPOCH_GATE, 0); // until the caller's onEpoch has returned
    },
  });
  post({ type: 'done', history });
}

const port = parentPort;
if (!port) throw new Error('digitnet: fit-worker.js runs as a worker thread started by fit, not on its own');
// One job at a time: the caller sends the next only after this one's 'done' or 'error'.
port.on('message', (job: WorkerJob) => {
  run(job, (message) => port.postMessage(message)).catch((error: unknown) => port.postMessage({ type: 'error', error: errorToRecord(error) }));
});
