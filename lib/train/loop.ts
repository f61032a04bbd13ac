import { argmax, sequence } from '../core/arrays';
import { splitDataset } from '../core/dataset';
import { hash32, Random } from '../core/random';
import { MAX_CHUNK_ROWS, type Network } from '../model/network';
import { Augmenter, augmentKey, augmentShape } from './augment';
import { writeCheckpoint } from './checkpoint-state';
import { Optimizer, scheduledRate } from './optimizers';
import type { BatchInfo, EpochRecord, FitPlan, History, TrainingData, TrainingState } from './types';

/** How the loop reports and is stopped; the worker and the calling-thread runner each supply their own. */
export interface LoopHooks {
  /** Checked before every step. */
  stopRequested(): boolean;
  /** After every step; a returned promise is awaited (the calling-thread runner yields to the event loop). */
  batch(info: BatchInfo): Promise<void> | undefined;
  /** After every epoch (and its checkpoint); a returned promise is awaited (an async `onEpoch`). */
  epoch(record: EpochRecord): Promise<void> | void;
}

/** The training loop: epochs of shuffled mini-batches, metrics, validation, checkpoints, early stop. */
export async function trainLoop(net: Network, data: TrainingData, plan: FitPlan, start: TrainingState | undefined, hooks: LoopHooks): Promise<History> {
  const { train, validation } = plan.validationSplit === undefined ? data : splitDataset(data.train, plan.validationSplit, 'fit');
  const started = performance.now();
  const count = Math.min(train.count, plan.limit ?? train.count);
  const batchSize = Math.min(plan.batchSize, count);
  const batches = Math.ceil(count / batchSize);
  const totalSteps = batches * plan.epochs;
  const optimizer = new Optimizer(plan.optimizer, net.params.length);
  const rng = new Random(plan.seed);
  const order = sequence(count);
  const classes = net.classes;
  const history: History = { epochs: [], steps: 0, seconds: 0, stopped: 'completed' };
  if (start) resumeState(start, plan, rng, order, optimizer, history);
  // Augmentation (training inputs only): in place in the workspace, after loadBatch, before forward.
  const augmenter = plan.augment && new Augmenter(plan.augment, augmentShape(net.inputShape, train.shape), Math.min(batchSize, MAX_CHUNK_ROWS));

  for (let epoch = start?.epoch ?? 0; epoch < plan.epochs && history.stopped === 'completed'; epoch++) {
    const epochStart = performance.now();
    if (plan.shuffle) rng.shuffle(order);
    let lossSum = 0;
    let correct = 0;
    let lr = plan.optimizer.lr;
    let batch = 0;
    for (; batch < batches; batch++) {
      if (hooks.stopRequested()) {
        history.stopped = 'aborted';
        break;
      }
      const first = batch * batchSize;
      const rows = Math.min(batchSize, count - first);
      const scale = plan.loss === 'sum' ? 1 : 1 / rows;
      let batchLoss = 0;
      let batchCorrect = 0;
      // A batch larger than a chunk is the sum of its chunks' gradients: same step, bounded memory.
      for (let offset = 0; offset < rows; offset += MAX_CHUNK_ROWS) {
        const chunk = Math.min(MAX_CHUNK_ROWS, rows - offset);
        const ws = net.loadBatch(train, order, first + offset, chunk);
        // Every chunk of every step draws its own dropout masks and augmentation, a function of seed, step and offset alone.
        const noise = hash32(hash32(plan.seed, history.steps), offset);
        if (augmenter) augmenter.apply(net.backend, chunk, ws.acts[0], augmentKey(noise));
        net.forward(chunk, ws.acts[0], { training: true, noise });
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
      lr = scheduledRate(plan.optimizer.lr, plan.schedule, epoch, history.steps, totalSteps);
      optimizer.step(net.backend, net.params, net.grads, lr);
      history.steps++;
      lossSum += batchLoss;
      correct += batchCorrect;
      const pause = hooks.batch({ epoch: epoch + 1, batch: batch + 1, batches, loss: batchLoss / rows, accuracy: batchCorrect / rows, samples: first + rows, lr });
      if (pause) await pause;
    }
    if (batch === 0) break; // aborted before the epoch's first step: no record
    const seen = Math.min(count, batch * batchSize);
    const record: EpochRecord = { epoch: epoch + 1, loss: lossSum / seen, accuracy: correct / seen, seconds: (performance.now() - epochStart) / 1000, lr };
    if (augmenter) record.augmentSeconds = augmenter.takeSeconds();
    if (validation) {
      const val = net.evaluate(validation);
      record.valLoss = val.loss;
      record.valAccuracy = val.accuracy;
      if (plan.targetAccuracy !== undefined && val.accuracy >= plan.targetAccuracy && history.stopped === 'completed') history.stopped = 'target';
    }
    history.epochs.push(record);
    // Only a whole epoch is a point to resume from: a resumed run redoes a partial one.
    if (plan.checkpoint && batch === batches) {
      const state = { epoch: epoch + 1, steps: history.steps, t: optimizer.t, m: optimizer.m, v: optimizer.v, rng: rng.getState(), history: history.epochs };
      await writeCheckpoint(plan.checkpoint, net, plan, state);
    }
    await hooks.epoch(record);
  }
  history.seconds = (performance.now() - started) / 1000;
  return history;
}

/**
 * Puts the loop where a checkpoint left it. Each epoch shuffles the previous epoch's order in
 * place, so the order is rebuilt by replaying the completed epochs' shuffles from the seed; the
 * generator must then be in the state the checkpoint recorded.
 */
function resumeState(start: TrainingState, plan: FitPlan, rng: Random, order: Uint32Array, optimizer: Optimizer, history: History): void {
  if (plan.shuffle) for (let e = 0; e < start.epoch; e++) rng.shuffle(order);
  const replayed = rng.getState();
  if (replayed.some((word, i) => word !== start.rng[i])) {
    throw new Error(`fit: the checkpoint's RNG state [${start.rng}] is not where ${start.epoch} epoch(s) of seed ${plan.seed} lead ([${replayed}]); it was written by another version`);
  }
  optimizer.restore(start.t, start.m, start.v);
  history.epochs.push(...start.history);
  history.steps = start.steps;
}
