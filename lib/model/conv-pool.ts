import type { Backend } from '../backend/contract';
import { shapeSize } from '../core/shape';
import { Conv2d } from '../layers/conv2d';
import type { Layer } from '../layers/layer';
import { MaxPool2d } from '../layers/maxpool2d';

// Convolution output per group: 256 K floats (1 MB), what a core's L2 cache holds on the machines
// we measure (measured on Zen 3, 512 KB L2: the reference net's first layer takes about half as
// long in groups of 16 to 64 samples as over a batch of 256).
const GROUP_FLOATS = 1 << 18;

/**
 * A conv2d layer and the maxpool2d right after it, run together a group of samples at a time:
 * the convolution's output, a CNN's largest tensor, then lives in one group-sized buffer that
 * stays in cache, instead of going to memory and back for the activation, the pooling and each
 * of their gradients. The activation runs after the pooling, on a quarter of the values (2x2):
 * every activation is non-decreasing, so pool(h(z)) = h(pool(z)); where the two pick different
 * winners (ties that h makes, such as ReLU's zeros) h' is 0 at both, and so is the gradient.
 */
export class ConvPool {
  /** The most samples per group. */
  readonly group: number;
  private readonly inputSize: number;

  constructor(
    readonly conv: Conv2d,
    readonly pool: MaxPool2d,
  ) {
    this.inputSize = shapeSize(conv.inputShape);
    this.group = Math.max(1, Math.floor(GROUP_FLOATS / conv.outputSize));
  }

  /** The pair at layers[i], layers[i + 1], if those are a conv2d and a maxpool2d. */
  static at(layers: readonly Layer[], i: number): ConvPool | undefined {
    const [conv, pool] = [layers[i], layers[i + 1]];
    return conv instanceof Conv2d && pool instanceof MaxPool2d ? new ConvPool(conv, pool) : undefined;
  }

  /** Floats of the group buffer for batches of `rows` samples. */
  bufferSize(rows: number): number {
    return Math.min(rows, this.group) * this.conv.outputSize;
  }

  /** y = pool(h(conv(x))) for `rows` samples; `argmax` is the pool's scratch, `buffer` the group buffer. */
  forward(backend: Backend, rows: number, x: Float32Array, y: Float32Array, argmax: Float32Array, buffer: Float32Array): void {
    const out = this.pool.outputSize;
    this.eachGroup(rows, (first, count) => {
      const z = buffer.subarray(0, count * this.conv.outputSize);
      const pooled = y.subarray(first * out, (first + count) * out);
      this.conv.convolve(backend, count, x.subarray(first * this.inputSize, (first + count) * this.inputSize), z);
      this.pool.forward(backend, count, z, pooled, argmax.subarray(first * out, (first + count) * out));
      this.conv.activate(backend, count * out, pooled);
    });
  }

  /** Backward of `forward` from dy (overwritten) at y: parameter gradients (added with `accumulate`) and, when given, dx. */
  backward(
    backend: Backend, rows: number, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array | null,
    argmax: Float32Array, buffer: Float32Array, accumulate: boolean,
  ): void {
    const out = this.pool.outputSize;
    const inputs = this.inputSize;
    this.eachGroup(rows, (first, count) => {
      const dz = buffer.subarray(0, count * this.conv.outputSize);
      const dPooled = dy.subarray(first * out, (first + count) * out);
      this.conv.activationGradient(backend, count * out, y.subarray(first * out, (first + count) * out), dPooled);
      this.pool.backward(backend, count, dz, dz, dPooled, dz, argmax.subarray(first * out, (first + count) * out));
      const dxGroup = dx ? dx.subarray(first * inputs, (first + count) * inputs) : null;
      this.conv.backwardLinear(backend, count, x.subarray(first * inputs, (first + count) * inputs), dz, dxGroup, accumulate || first > 0);
    });
  }

  // Groups of equal size (a batch of 32 with groups of up to 28 runs as 16 + 16, not 28 + 4: the
  // kernels split a group's samples over the threads).
  private eachGroup(rows: number, fn: (first: number, count: number) => void): void {
    const size = Math.ceil(rows / Math.ceil(rows / this.group));
    for (let first = 0; first < rows; first += size) fn(first, Math.min(size, rows - first));
  }
}
