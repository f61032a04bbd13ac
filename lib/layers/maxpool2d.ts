import type { Backend } from '../backend/contract';
import { formatShape, shapeSize, type Shape } from '../core/shape';
import type { Layer } from './layer';

/** How a maxpool2d layer is specified. */
export interface MaxPool2dSpec {
  type: 'maxpool2d';
  /** Window size, size x size (default 2). */
  size?: number;
  /** Step between windows (default: size, windows side by side). */
  stride?: number;
}

/** A maxpool2d layer's full configuration. */
export interface MaxPool2dConfig {
  type: 'maxpool2d';
  size: number;
  stride: number;
}

/** Validates a maxpool2d spec and fills in defaults; `where` names the layer in error messages. */
export function maxPool2dConfig(spec: MaxPool2dSpec, where: string): MaxPool2dConfig {
  const size = spec.size ?? 2;
  const stride = spec.stride ?? size;
  for (const [name, value] of [['size', size], ['stride', stride]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${where}: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return { type: 'maxpool2d', size, stride };
}

/**
 * Max pooling per channel, as PyTorch's nn.MaxPool2d(size, stride): no padding, windows that
 * would cross the bottom or right edge dropped (floor). Each output's winning position is kept in
 * the layer's scratch, so backward sends its gradient there without comparing values again.
 */
export class MaxPool2d implements Layer {
  readonly params = [];
  readonly buffers = [];
  readonly outputShape: Shape;
  /** Values of one sample's output. */
  readonly outputSize: number;

  /** A maxpool2d layer at position `index` taking samples of `inputShape` ([c, h, w]). */
  constructor(
    readonly config: MaxPool2dConfig,
    readonly inputShape: Shape,
    readonly index: number,
    where: string,
  ) {
    if (inputShape.length !== 3) throw new RangeError(`${where}: needs a [channels, height, width] input, got ${formatShape(inputShape)}`);
    const [c, h, w] = inputShape;
    const { size, stride } = config;
    if (size > h || size > w) throw new RangeError(`${where}: a ${size}x${size} window does not fit the input ${formatShape(inputShape)}`);
    this.outputShape = Object.freeze([c, Math.floor((h - size) / stride) + 1, Math.floor((w - size) / stride) + 1]);
    this.outputSize = shapeSize(this.outputShape);
  }

  // The argmax positions: one 32-bit index per output value, in the Float32Array scratch's memory.
  scratchSize(rows: number): number {
    return rows * this.outputSize;
  }

  bind(): void {}

  initialize(): void {}

  forward(backend: Backend, rows: number, x: Float32Array, y: Float32Array, scratch: Float32Array): void {
    const [c, h, w] = this.inputShape;
    const [, oh, ow] = this.outputShape;
    backend.maxPool2d(rows, c, h, w, this.config.size, this.config.stride, oh, ow, x, y, argmaxView(scratch));
  }

  backward(
    backend: Backend, rows: number, _x: Float32Array, _y: Float32Array, dy: Float32Array,
    dx: Float32Array | null, scratch: Float32Array,
  ): void {
    if (!dx) return;
    const [c, h, w] = this.inputShape;
    const [, oh, ow] = this.outputShape;
    backend.maxPool2dBackward(rows, c, h, w, oh, ow, dy, argmaxView(scratch), dx);
  }
}

/** The scratch's memory as the Uint32Array of positions the pooling kernels take. */
function argmaxView(scratch: Float32Array): Uint32Array {
  return new Uint32Array(scratch.buffer, scratch.byteOffset, scratch.length);
}
