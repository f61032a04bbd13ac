/**
 * Seconds per training epoch: the workload other libraries' figures are quoted for (leaky ReLU hidden layers, softmax
 * output, cross-entropy, plain minibatch SGD, shuffled, no validation), timed with `Network.fit`.
 * A backend too slow for whole epochs times the first `images` training images per epoch and
 * scales the time up to the full set: the work per image does not depend on the set's size.
 */
import type { BackendName } from '../../backend/contract';
import type { Dataset } from '../../core/dataset';
import { Network } from '../../model/network';
import type { OptimizerSpec } from '../../train/optimizers';
import { summarize, type Stats } from './measure';

/** The optimizer of every training row: plain minibatch SGD. */
export const BENCH_OPTIMIZER: OptimizerSpec = { name: 'sgd', lr: 0.05 };

/** Output classes of the timed networks (MNIST's ten digits). */
export const CLASSES = 10;

/** How many epochs to run and on how many images. */
export interface EpochPlan {
  /** Epochs run first and not recorded (JIT warm-up, first-touch of buffers). */
  warmupEpochs: number;
  /** Epochs recorded. */
  repeats: number;
  /** Images per epoch (the first ones of the set); fewer than the set's size scales the time up. */
  images: number;
}

/** Median seconds per full epoch of `hidden` layers at `batch` on the named backend (its thread count as set). */
export async function epochSeconds(
  backend: BackendName, train: Dataset, hidden: number[], batch: number, plan: EpochPlan,
): Promise<Stats> {
  const net = Network.create({
    input: [...train.shape],
    layers: [...hidden.map((units) => ({ units, activation: 'leaky-relu' as const })), { units: CLASSES, activation: 'softmax' }],
    seed: 1,
    backend,
  });
  const images = Math.min(plan.images, train.count);
  const history = await net.fit(train, {
    epochs: plan.warmupEpochs + plan.repeats,
    batchSize: batch,
    optimizer: BENCH_OPTIMIZER,
    loss: 'mean',
    limit: images,
  });
  const scale = train.count / images;
  return summarize(history.epochs.slice(plan.warmupEpochs).map((epoch) => epoch.seconds * scale));
}
