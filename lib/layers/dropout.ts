import type { Backend } from '../backend/contract';
import { hash32, hashAt, streamSalt } from '../core/random';
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
 * of the pass's noise, the layer's index and the value's position (a counter-based generator,
 * computed here in TypeScript for every backend), so both backends and a resumed run drop the same
 * values. The mask lives in the layer's scratch between forward and backward.
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

  forward(_backend: Backend, rows: number, x: Float32Array, y: Float32Array, mask: Float32Array, pass: Pass): void {
    const n = rows * this.size;
    if (!pass.training || this.config.rate === 0) {
      y.set(x.subarray(0, n));
      return;
    }
    const keep = 1 - this.config.rate;
    // Keep value i when its u32 falls below keep * 2^32.
    const threshold = keep * 4294967296;
    const salt = streamSalt(hash32(pass.noise, this.index));
    const scale = 1 / keep;
    for (let i = 0; i < n; i++) {
      const m = hashAt(salt, i) < threshold ? scale : 0;
      mask[i] = m;
      y[i] = x[i] * m;
    }
  }

  backward(
    _backend: Backend, rows: number, _x: Float32Array, _y: Float32Array, dy: Float32Array,
    dx: Float32Array | null, mask: Float32Array,
  ): void {
    if (!dx) return;
    const n = rows * this.size;
    if (this.config.rate === 0) {
      dx.set(dy.subarray(0, n));
      return;
    }
    for (let i = 0; i < n; i++) dx[i] = dy[i] * mask[i];
  }
}
