import type { Backend } from '../backend/contract';
import { shapeSize, type Shape } from '../core/shape';
import type { Layer } from './layer';

/** How a flatten layer is specified (it has no options). */
export interface FlattenSpec {
  type: 'flatten';
}

/** A flatten layer's configuration. */
export type FlattenConfig = FlattenSpec;

/**
 * Reshapes [channels, height, width] to [channels * height * width] in PyTorch's order (channel,
 * row, column), which is already the memory order: values are copied unchanged. A dense layer
 * after a [c, h, w] shape flattens by itself; this layer makes it explicit (as nn.Flatten).
 */
export class Flatten implements Layer {
  readonly config: FlattenConfig = { type: 'flatten' };
  readonly params = [];
  readonly buffers = [];
  readonly outputShape: Shape;

  /** A flatten layer at position `index` taking samples of `inputShape`. */
  constructor(
    readonly inputShape: Shape,
    readonly index: number,
  ) {
    this.outputShape = Object.freeze([shapeSize(inputShape)]);
  }

  scratchSize(): number {
    return 0;
  }

  bind(): void {}

  initialize(): void {}

  forward(_backend: Backend, rows: number, x: Float32Array, y: Float32Array): void {
    y.set(x.subarray(0, rows * this.outputShape[0]));
  }

  backward(_backend: Backend, rows: number, _x: Float32Array, _y: Float32Array, dy: Float32Array, dx: Float32Array | null): void {
    dx?.set(dy.subarray(0, rows * this.outputShape[0]));
  }
}
