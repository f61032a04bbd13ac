import type { Backend } from '../backend/contract';
import { hash32 } from '../core/random';
import { shapeSize, type Shape } from '../core/shape';
import type { Layer, Pass } from './layer';

/** How a dropout layer is specified. */
export interface DropoutSpec {
  type: 'dropout';
  /** Fraction of values set to zero in training, in [0, 1). */
  rate: number;
}

/** A dropout layer's configuration. */
export type DropoutConfig = DropoutSpec;

/** Validates a dropout spec; `where` names the layer in errors. */
export function dropoutConfig(spec: DropoutSpec, where: string): DropoutConfig {
  if (typeof spec.rate !== 'number' || !(spec.rate >= 0 && spec.rate < 1)) throw new RangeError(`${where}: rate must be a number in [0, 1), got ${JSON.stringify(spec.rate)}`);
  return { type: 'dropout', rate: spec.rate };
}

/**
 * Inverted dropout: in training each value is kept with probability 1 - rate and scaled by
 * 1 / (1 - rate), so inference (which keeps everything) needs no rescaling. The mask is a function
 * of the pass's noise, the layer's index and the value's position (a counter-based generator, the
 * backend's `dropout` kernel), so both backends and a resumed run drop the same values. The mask
 * lives in the layer's scratch between forward and backward.
 */
export class Dropout implements Layer {
  readonly params = [];
  readonly buffers = [];
  readonly outputShape: Shape;
  private readonly size: number;

  /** A dropout layer at position `index` taking samples of `inputShape`. */
  constructor(
    readonly config: DropoutConfig,
    readonly inputShape: Shape,
    readonly index: number,
  ) {
    this.outputShape = inputShape;
    this.size = shapeSize(inputShape);
  }

  scratchSize(rows: number): number {
    return rows * this.size;
  }

  bind(): void {}

  initialize(): void {}

  forward(backend: Backend, rows: number, x: Float32Array, y: Float32Array, mask: Float32Array, pass: Pass): void {
    const n = rows * this.size;
    if (!pass.training || this.config.rate === 0) {
      y.set(x.subarray(0, n));
      return;
    }
    backend.dropout(n, hash32(pass.noise, this.index), this.config.rate, x, y, mask);
  }

  backward(
    backend: Backend, rows: number, _x: Float32Array, _y: Float32Array, dy: Float32Array,
    dx: Float32Array | null, mask: Float32Array,
  ): void {
    if (!dx) return;
    const n = rows * this.size;
    if (this.config.rate === 0) {
      dx.set(dy.subarray(0, n));
      return;
    }
    backend.multiply(n, dy, mask, dx);
  }
}
