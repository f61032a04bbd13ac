/**
 * Seconds per training epoch: the workload other libraries' figures are quoted for (leaky ReLU hidden layers, softmax
 * output, cross-entropy, plain minibatch SGD, shuffled, no validation), timed with `Network.fit`.
 * A backend too slow for whole epochs times the first `images` training images per epoch and
 * scales the time up to the full set: the work per image does not depend on the set's size.
 */
import type { BackendName } from '../../backend/contract';
import type { Dataset } from '../../core/dataset';
import type { LayerSpec } from '../../layers/registry';
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
export function epochSeconds(
  backend: BackendName, train: Dataset, hidden: number[], batch: number, plan: EpochPlan,
): Promise<Stats> {
  const layers: LayerSpec[] = [...hidden.map((units) => ({ units, activation: 'leaky-relu' as const })), { units: CLASSES, activation: 'softmax' }];
  return timedEpochs(Network.create({ input: [...train.shape], layers, seed: 1, backend }), train, batch, BENCH_OPTIMIZER, plan);
}

/**
 * The reference CNN (fixed, the one bench/torch-cnn.py times in PyTorch): [1, 28, 28], conv 5x5 24
 * filters ReLU, max-pool 2, conv 3x3 32 filters ReLU, max-pool 2, dense 256 ReLU, dense 10
 * softmax; batch 256, Adam at 1e-3.
 */
export const REFERENCE_CNN: { layers: LayerSpec[]; batch: number; optimizer: OptimizerSpec } = {
  layers: [
    { type: 'conv2d', filters: 24, kernel: 5, activation: 'relu' },
    { type: 'maxpool2d', size: 2 },
    { type: 'conv2d', filters: 32, kernel: 3, activation: 'relu' },
    { type: 'maxpool2d', size: 2 },
    { units: 256, activation: 'relu' },
    { units: CLASSES, activation: 'softmax' },
  ],
  batch: 256,
  optimizer: { name: 'adam', lr: 1e-3 },
};

/** The reference CNN's one-line name (Network.architecture). */
export const REFERENCE_CNN_NAME = '1x28x28-conv24k5-pool2-conv32k3-pool2-256-10';

/** Median seconds per full epoch of the reference CNN on the named backend (its thread count as set). */
export function referenceCnnEpochSeconds(backend: BackendName, train: Dataset, plan: EpochPlan): Promise<Stats> {
  const net = Network.create({ input: [...train.shape], layers: REFERENCE_CNN.layers, seed: 1, backend });
  return timedEpochs(net, train, REFERENCE_CNN.batch, REFERENCE_CNN.optimizer, plan);
}

/** Trains `net` for the plan's epochs on its first `images` images; the recorded epochs' times, scaled to the whole set. */
async function timedEpochs(net: Network, train: Dataset, batch: number, optimizer: OptimizerSpec, plan: EpochPlan): Promise<Stats> {
  const images = Math.min(plan.images, train.count);
  const history = await net.fit(train, {
    epochs: plan.warmupEpochs + plan.repeats,
    batchSize: batch,
    optimizer,
    loss: 'mean',
    limit: images,
  });
  const scale = train.count / images;
  return summarize(history.epochs.slice(plan.warmupEpochs).map((epoch) => epoch.seconds * scale));
}
