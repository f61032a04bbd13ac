import type { Backend } from '../backend/contract';
import { shapeSize, type Shape } from '../core/shape';
import type { Layer, Pass, TensorSpec } from './layer';

/** How a batchnorm layer is specified. */
export interface BatchNormSpec {
  type: 'batchnorm';
  /** Weight of each batch's statistics in the running ones (default 0.1, PyTorch's). */
  momentum?: number;
  /** Added to the variance before its square root (default 1e-5). */
  eps?: number;
}

/** A batchnorm layer's full configuration. */
export interface BatchNormConfig {
  type: 'batchnorm';
  momentum: number;
  eps: number;
}

/** Validates a batchnorm spec and fills in defaults; `where` names the layer in error messages. */
export function batchNormConfig(spec: BatchNormSpec, where: string): BatchNormConfig {
  const momentum = spec.momentum ?? 0.1;
  const eps = spec.eps ?? 1e-5;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) throw new RangeError(`${where}: momentum must be a number in [0, 1], got ${JSON.stringify(momentum)}`);
  if (typeof eps !== 'number' || !(eps > 0 && Number.isFinite(eps))) throw new RangeError(`${where}: eps must be a finite number > 0, got ${JSON.stringify(eps)}`);
  return { type: 'batchnorm', momentum, eps };
}

/**
 * Batch normalization with PyTorch's conventions (nn.BatchNorm2d after a convolution: one
 * statistic per channel over the batch and the plane; nn.BatchNorm1d after a dense layer: one per
 * feature). Training normalizes with the batch's statistics and moves the running ones (buffers,
 * saved in model files); inference uses the running ones. Training needs the whole batch in one
 * pass, so fit refuses batches larger than a chunk (lib/train/fit.ts).
 */
export class BatchNorm implements Layer {
  readonly outputShape: Shape;
  readonly params: readonly TensorSpec[];
  readonly buffers: readonly TensorSpec[];
  readonly wholeBatch = true;
  /** Normalized groups: channels after a convolution, features after a dense layer. */
  private readonly channels: number;
  /** Values per group and sample: height x width, or 1. */
  private readonly plane: number;
  weight!: Float32Array;
  bias!: Float32Array;
  dWeight!: Float32Array;
  dBias!: Float32Array;
  runningMean!: Float32Array;
  runningVar!: Float32Array;

  /** A batchnorm layer at position `index` taking samples of `inputShape`. */
  constructor(
    readonly config: BatchNormConfig,
    readonly inputShape: Shape,
    readonly index: number,
  ) {
    this.outputShape = inputShape;
    this.channels = inputShape[0];
    this.plane = shapeSize(inputShape) / this.channels;
    const c = [this.channels];
    this.params = [{ name: 'weight', shape: c }, { name: 'bias', shape: c }];
    this.buffers = [{ name: 'running_mean', shape: c }, { name: 'running_var', shape: c }];
  }

  // The batch's mean and 1/sqrt(var + eps) per group, from forward to backward.
  scratchSize(): number {
    return 2 * this.channels;
  }

  bind(params: Float32Array[], grads: Float32Array[], buffers: Float32Array[]): void {
    [this.weight, this.bias] = params;
    [this.dWeight, this.dBias] = grads;
    [this.runningMean, this.runningVar] = buffers;
  }

  /** The identity transform: weight 1, bias 0, running mean 0 and variance 1 (PyTorch's). */
  initialize(): void {
    this.weight.fill(1);
    this.bias.fill(0);
    this.runningMean.fill(0);
    this.runningVar.fill(1);
  }

  forward(backend: Backend, rows: number, x: Float32Array, y: Float32Array, saved: Float32Array, pass: Pass): void {
    const { momentum, eps } = this.config;
    if (pass.training) {
      backend.batchNormTrain(rows, this.channels, this.plane, momentum, eps, x, this.weight, this.bias, this.runningMean, this.runningVar, y, saved);
    } else {
      backend.batchNormInfer(rows, this.channels, this.plane, eps, x, this.weight, this.bias, this.runningMean, this.runningVar, y);
    }
  }

  backward(
    backend: Backend, rows: number, x: Float32Array, _y: Float32Array, dy: Float32Array,
    dx: Float32Array | null, saved: Float32Array, accumulate: boolean,
  ): void {
    // The first layer needs no dx, but the kernel always writes one: dy may serve (dx may be dy).
    backend.batchNormBackward(rows, this.channels, this.plane, x, dy, this.weight, saved, dx ?? dy, this.dWeight, this.dBias, accumulate ? 1 : 0);
  }
}
