import type { DenseSpec } from '../layers/dense';
import type { LayerSpec } from '../layers/registry';
import type { FitOptions } from './types';

/** A named training recipe: the architecture's hidden and output layers and the fit options. */
export interface Preset {
  description: string;
  hidden: LayerSpec[];
  /** The softmax output layer (its units are the dataset's class count). */
  output: DenseSpec;
  fit: FitOptions;
  /**
   * Train on windows of `numbers` numbers written with the training digits (numberWindows) instead of the
   * digits themselves, and test on windows of `testNumbers` numbers of the test digits.
   */
  windows?: { numbers: number; testNumbers: number };
}

/** The robust preset's hidden layers with `widen` times its filters and units (the reader preset's are twice as wide). */
function robustHidden(widen: number): LayerSpec[] {
  return [
    { type: 'conv2d', filters: 16 * widen, kernel: 5, activation: 'relu' },
    { type: 'maxpool2d', size: 2 },
    { type: 'conv2d', filters: 32 * widen, kernel: 5, activation: 'relu' },
    { type: 'maxpool2d', size: 2 },
    { type: 'batchnorm' },
    { units: 128 * widen, activation: 'relu' },
    { type: 'dropout', rate: 0.4 },
  ];
}

/** The robust preset's training, which the reader preset varies. */
const ROBUST_FIT = {
  epochs: 16,
  batchSize: 64,
  optimizer: { name: 'adam', lr: 5e-3 },
  schedule: { name: 'cosine' },
  loss: 'mean',
  augment: { shift: 2, rotate: 15, scale: 0.1, shear: 0.15, elastic: false },
} satisfies FitOptions;

/** Recipes for `digitnet train --preset NAME`; command-line options override their parts. */
export const PRESETS = {
  default: {
    // Measured: 98.2-98.4% test accuracy over seeds 1-3, about 3 s of training on 2 cores.
    description: 'modern defaults: 784-256-128-10 leaky ReLU, Adam with cosine decay, batch 128, 4 epochs',
    hidden: [
      { units: 256, activation: 'leaky-relu' },
      { units: 128, activation: 'leaky-relu' },
    ],
    output: { units: 10, activation: 'softmax' },
    fit: { epochs: 4, batchSize: 128, optimizer: { name: 'adam', lr: 3e-3 }, schedule: { name: 'cosine' }, loss: 'mean' },
  },
  cnn: {
    // Chosen from 92 recipes as the least arithmetic that kept every seed at >= 99.0%. Measured
    // (AMD EPYC Zen 3 class, 2 cores, AVX2): 99.20 / 99.03 / 99.17% test accuracy for seeds
    // 1 / 2 / 3, in 6.8 / 6.3 / 7.5 s of training. A hidden dense layer buys more than wider
    // convolutions; batch 64 at 5e-3 beats batch 128 at 3e-3; at equal arithmetic three epochs
    // beat two.
    description: 'a small convolutional network: conv 5x5 8 ReLU, maxpool 2, conv 3x3 12 ReLU, maxpool 2, batch-norm, dense 128 ReLU, Adam with cosine decay, batch 64, 3 epochs',
    hidden: [
      { type: 'conv2d', filters: 8, kernel: 5, activation: 'relu' },
      { type: 'maxpool2d', size: 2 },
      { type: 'conv2d', filters: 12, kernel: 3, activation: 'relu' },
      { type: 'maxpool2d', size: 2 },
      { type: 'batchnorm' },
      { units: 128, activation: 'relu' },
    ],
    output: { units: 10, activation: 'softmax' },
    fit: { epochs: 3, batchSize: 64, optimizer: { name: 'adam', lr: 5e-3 }, schedule: { name: 'cosine' }, loss: 'mean' },
  },
  robust: {
    // The cnn recipe made wider and trained longer on augmented images, for pictures of real
    // handwriting (bench/handwriting). Chosen from 20 recipes. Measured (AMD EPYC Zen 3 class, 2
    // cores): 99.49 / 99.59 / 99.52% test accuracy for seeds 1 / 2 / 3 in 122 / 131 / 115 s on 2
    // threads (99.57 / 99.50 / 99.60% on 1 thread, whose sums round differently). Rotation of up
    // to 15 degrees with mild shift, scale and shear bought accuracy once trained for 12 epochs or
    // more; elastic distortion (the augment defaults) cost it at this length.
    description: 'the convolutional recipe for real handwriting: conv 5x5 16 ReLU, maxpool 2, conv 5x5 32 ReLU, maxpool 2, batch-norm, dense 128 ReLU, dropout 0.4, Adam with cosine decay, batch 64, 16 epochs on augmented images (shift 2 px, rotation 15 degrees, scale 0.9-1.1, shear 0.15)',
    hidden: robustHidden(1),
    output: { units: 10, activation: 'softmax' },
    fit: ROBUST_FIT,
  },
  reader: {
    // Reads whole numbers (digitnet read), digits that touch or cross included. Measured on
    // bench/handwriting's numbers: twice the robust network's width reads about 1 point more of
    // the plain numbers and 1.5 more of the photos exactly than its width, for 2.5 times the
    // training time (the README has the figures). Windows of 24,000 numbers read 0.4 point more
    // (0.3 told the length) than of 12,000 over seeds 1-2 and both plain sets, for 1.6 times the time;
    // three times the robust width then added 0.25 point told the length, none without (seed 1), for twice again.
    description: 'reads whole numbers: conv 5x5 32 ReLU, maxpool 2, conv 5x5 64 ReLU, maxpool 2, batch-norm, dense 256 ReLU, dropout 0.4, and an 11th class, "not a digit"; trained for 10 epochs on 28x28 windows slid along numbers written with the training digits (touching and crossing ones included) and on the training digits themselves',
    hidden: robustHidden(2),
    output: { units: 11, activation: 'softmax' },
    // No shift: a window's class says whether a digit is centred in it. Elastic distortion (alpha
    // 34, sigma 4) read fewer numbers: 93.7% of five plain sets against 94.1% (seed 1).
    fit: { ...ROBUST_FIT, epochs: 10, augment: { shift: 0, rotate: 10, scale: 0.1, shear: 0.15, elastic: false } },
    windows: { numbers: 24000, testNumbers: 1000 },
  },
  paper: {
    description: "the paper's system: leaky ReLU (slope 1/100), softmax, summed cross-entropy, full-batch gradient descent at a constant rate",
    // docs/paper.md says why: 64 hidden units, He initialisation, factors 1, and the largest stable
    // rate (1 per sample; 1.2 already oscillates) reach 95% in the least arithmetic.
    hidden: [{ units: 64, activation: 'leaky-relu', slope: 0.01, factor: 1 }],
    output: { units: 10, activation: 'softmax', factor: 1 },
    // The gradient of the whole set does not depend on its order: no shuffle, so rows are read in order.
    fit: { epochs: 400, batchSize: Infinity, shuffle: false, optimizer: { name: 'sgd', lr: 1 / 60000 }, schedule: { name: 'constant' }, loss: 'sum' },
  },
} satisfies Record<string, Preset>;

/** Names of the presets. */
export type PresetName = keyof typeof PRESETS;
