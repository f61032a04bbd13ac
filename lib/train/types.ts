/**
 * The types of training: what `fit` takes and returns, and the plain data the training worker
 * and checkpoints exchange. Types only, so that every part of training (and `Network.fit`) can
 * name them without importing the code.
 */
import type { Dataset } from '../core/dataset';
import type { OptimizerSpec, ScheduleSpec } from './optimizers';

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
  /**
   * Hold back this fraction (0 < x < 1) of `train`, its last samples as stored, as the
   * validation set (instead of `validation`); `limit` then applies to the rest.
   */
  validationSplit?: number;
  /** Stop once validation accuracy reaches this fraction (needs `validation`). */
  targetAccuracy?: number;
  /**
   * Augment the training images: every image of every step passes through a random affine map
   * (shift, rotation, scale, shear) and an elastic distortion, drawn from the seed, the step and
   * the image's place in it (so a resumed run augments as an uninterrupted one, on either
   * backend). `true` takes the defaults (`AUGMENT_DEFAULTS`: 2 px, 12 degrees, 0.9-1.1, shear
   * 0.15, elastic alpha 34 sigma 4); an object's fields replace them (0 or `elastic: false` turns
   * a part off). Needs image-shaped samples ([c, h, w]). Validation, `evaluate` and `predict`
   * never augment. Default off.
   */
  augment?: boolean | AugmentOptions;
  /**
   * Progress, on the calling thread. Training in a worker (the 'native' and 'ts' backends) reports
   * the latest step at most every 50 ms; training on the calling thread reports every step.
   */
  onBatch?: (info: BatchInfo) => void;
  /**
   * Called after every epoch, on the calling thread; training waits until it returns (or its
   * promise settles), so `predict`, `evaluate` and `save` in it see that epoch's final weights.
   * A callback that throws (or rejects) stops training, and `fit` rejects with its error.
   */
  onEpoch?: (record: EpochRecord) => unknown;
  /** Aborting stops training before the next step; the network keeps the weights of the last step. */
  signal?: AbortSignal;
  /** After every completed epoch, save weights, optimizer state, epoch and RNG state to this safetensors file (it also loads as a model). */
  checkpoint?: string;
  /** Continue from this checkpoint: same architecture and training options (epochs may differ); its weights replace the network's. */
  resume?: string;
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
  /** Of `seconds`, those spent augmenting the training images (with `augment` only). */
  augmentSeconds?: number;
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

/**
 * The options `fit` checked and completed, as plain data (the worker thread receives them; a
 * checkpoint records the ones that must match on resume).
 */
export interface FitPlan {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  loss: 'mean' | 'sum';
  shuffle: boolean;
  seed: number;
  limit?: number;
  validationSplit?: number;
  targetAccuracy?: number;
  checkpoint?: string;
  /** The augmentation, checked and completed; undefined when off. */
  augment?: AugmentPlan;
}

/** The sets a fit was given: `validationSplit`, if any, is applied by the loop (after the worker shares `train` whole). */
export interface TrainingData {
  train: Dataset;
  validation?: Dataset;
}

/** Where a run stands after a completed epoch: what a checkpoint saves and a resume starts from. */
export interface TrainingState {
  /** Completed epochs. */
  epoch: number;
  /** Optimizer steps taken. */
  steps: number;
  /** The optimizer's step count and moments (see `Optimizer`). */
  t: number;
  m: Float32Array;
  v: Float32Array;
  /** The shuffling generator's state after the last completed epoch. */
  rng: number[];
  history: EpochRecord[];
}

/** What `fit({ augment })` takes; every field is optional and defaults to the MNIST values below. */
export interface AugmentOptions {
  /** Largest translation along each axis, in pixels (uniform in [-shift, shift]); default 2. */
  shift?: number;
  /** Largest rotation either way, in degrees; default 12. */
  rotate?: number;
  /** Scale factor: a range [min, max], or a largest relative change s for [1 - s, 1 + s]; default [0.9, 1.1]. */
  scale?: number | readonly [number, number];
  /** Largest horizontal shear factor either way (x moves by shear * y); default 0.15. */
  shear?: number;
  /**
   * Elastic distortion: a uniform(-1, 1) displacement per pixel and axis, smoothed by a Gaussian of
   * standard deviation `sigma` pixels (truncated at 3 sigma) and scaled by `alpha` pixels; false
   * for none. Default `{ alpha: 34, sigma: 4 }` (Simard et al.'s values for 28 x 28 digits).
   */
  elastic?: { alpha?: number; sigma?: number } | false;
}

/** `AugmentOptions` checked and completed: what the fit plan (and a checkpoint) records. */
export interface AugmentPlan {
  shift: number;
  rotate: number;
  scale: [number, number];
  shear: number;
  elastic: { alpha: number; sigma: number } | false;
}
