import { ACTIVATIONS, type ActivationName, type Backend } from '../backend/contract';
import type { Random } from '../core/random';
import { formatShape, type Shape } from '../core/shape';
import type { WeightInit } from './dense';
import type { Layer, TensorSpec } from './layer';

/** How a conv2d layer is specified in `Network.create` (defaults filled in by `conv2dConfig`). */
export interface Conv2dSpec {
  type: 'conv2d';
  /** Output channels. */
  filters: number;
  /** Kernel size: n for n x n, or [height, width]. */
  kernel: number | [number, number];
  /** Step between windows, both directions (default 1). */
  stride?: number;
  /** 'valid' (no padding, the default), 'same' (output as large as the input; stride 1), or n zeros on every side. */
  padding?: 'valid' | 'same' | number;
  /** Default relu (softmax belongs to the last dense layer). */
  activation?: ActivationName;
  /** Leaky-ReLU slope for x < 0. */
  slope?: number;
  /** Weight initialisation; default He for (leaky) ReLU, Xavier otherwise. */
  init?: WeightInit;
}

/** A conv2d layer's full configuration, as stored in model files. */
export interface Conv2dConfig {
  type: 'conv2d';
  filters: number;
  kernel: [number, number];
  stride: number;
  padding: 'valid' | 'same' | number;
  activation: ActivationName;
  slope: number;
}

/** Validates a conv2d spec and fills in defaults; `where` names the layer in error messages. */
export function conv2dConfig(spec: Conv2dSpec, where: string): Conv2dConfig {
  const positive = (name: string, value: unknown): number => {
    if (!Number.isSafeInteger(value) || (value as number) < 1) throw new RangeError(`${where}: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
    return value as number;
  };
  positive('filters', spec.filters);
  const kernel = spec.kernel;
  const [kh, kw] = Array.isArray(kernel) && kernel.length === 2 ? kernel : typeof kernel === 'number' ? [kernel, kernel] : [NaN, NaN];
  if (Number.isNaN(kh)) throw new RangeError(`${where}: kernel must be a positive integer or [height, width], got ${JSON.stringify(kernel)}`);
  positive('kernel height', kh);
  positive('kernel width', kw);
  const stride = positive('stride', spec.stride ?? 1);
  const padding = spec.padding ?? 'valid';
  if (padding !== 'valid' && padding !== 'same' && !(Number.isSafeInteger(padding) && (padding as number) >= 0)) {
    throw new RangeError(`${where}: padding must be 'valid', 'same' or an integer >= 0, got ${JSON.stringify(padding)}`);
  }
  // PyTorch's nn.Conv2d refuses 'same' with a stride (the output size would be ambiguous); so do we, so that files load there.
  if (padding === 'same' && stride !== 1) throw new RangeError(`${where}: padding 'same' needs stride 1 (as in PyTorch); give the padding as a number`);
  const activation = spec.activation ?? 'relu';
  if (!ACTIVATIONS.includes(activation)) {
    throw new RangeError(`${where}: unknown activation '${activation}' (one of ${ACTIVATIONS.join(', ')}; softmax belongs to the last dense layer)`);
  }
  const slope = spec.slope ?? 0.01;
  if (typeof slope !== 'number' || !Number.isFinite(slope) || slope < 0) throw new RangeError(`${where}: slope must be a finite number >= 0, got ${slope}`);
  if (spec.init !== undefined && spec.init !== 'he' && spec.init !== 'xavier') throw new RangeError(`${where}: init must be 'he' or 'xavier', got ${JSON.stringify(spec.init)}`);
  return { type: 'conv2d', filters: spec.filters, kernel: [kh, kw], stride, padding, activation, slope };
}

/**
 * A 2-D convolution: `y = h(conv(x, W) + b)`, x [c, h, w] per sample, W [filters, c, kh, kw] and
 * b [filters] as PyTorch's nn.Conv2d (cross-correlation, zero padding), y [filters, oh, ow].
 * 'same' padding puts the odd zero of an even kernel below and right, as PyTorch does.
 */
export class Conv2d implements Layer {
  readonly outputShape: Shape;
  readonly params: readonly TensorSpec[];
  readonly buffers = [];
  weight!: Float32Array;
  bias!: Float32Array;
  dWeight!: Float32Array;
  dBias!: Float32Array;
  // n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow without n: the kernels' geometry.
  private readonly geometry: [number, number, number, number, number, number, number, number, number, number, number];

  /** A conv2d layer at position `index` taking samples of `inputShape` ([c, h, w]); `init` picks the weight initialisation. */
  constructor(
    readonly config: Conv2dConfig,
    readonly inputShape: Shape,
    readonly index: number,
    private readonly init: WeightInit | undefined,
    where: string,
  ) {
    if (inputShape.length !== 3) throw new RangeError(`${where}: needs a [channels, height, width] input, got ${formatShape(inputShape)}`);
    const [c, h, w] = inputShape;
    const { filters, kernel: [kh, kw], stride, padding } = config;
    const [padTop, padLeft] = padding === 'same' ? [(kh - 1) >> 1, (kw - 1) >> 1] : padding === 'valid' ? [0, 0] : [padding, padding];
    const [oh, ow] = padding === 'same' ? [h, w] : [Math.floor((h + 2 * padTop - kh) / stride) + 1, Math.floor((w + 2 * padLeft - kw) / stride) + 1];
    if (!(oh >= 1 && ow >= 1)) {
      throw new RangeError(`${where}: a ${kh}x${kw} kernel with padding ${JSON.stringify(padding)} does not fit the input ${formatShape(inputShape)}`);
    }
    this.geometry = [c, h, w, filters, kh, kw, stride, padTop, padLeft, oh, ow];
    this.outputShape = Object.freeze([filters, oh, ow]);
    this.params = [
      { name: 'weight', shape: [filters, c, kh, kw] },
      { name: 'bias', shape: [filters] },
    ];
  }

  scratchSize(): number {
    return 0;
  }

  bind(params: Float32Array[], grads: Float32Array[]): void {
    [this.weight, this.bias] = params;
    [this.dWeight, this.dBias] = grads;
  }

  /** He: N(0, 2 / fan_in); Xavier: U(+-sqrt(6 / (fan_in + fan_out))), fan = channels x kernel area; bias zero. */
  initialize(rng: Random): void {
    const [c, , , f, kh, kw] = this.geometry;
    const fanIn = c * kh * kw;
    const { activation } = this.config;
    const scheme = this.init ?? (activation === 'relu' || activation === 'leaky-relu' ? 'he' : 'xavier');
    const w = this.weight;
    if (scheme === 'he') {
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
    } else {
      const limit = Math.sqrt(6 / (fanIn + f * kh * kw));
      for (let i = 0; i < w.length; i++) w[i] = limit * (2 * rng.uniform() - 1);
    }
    this.bias.fill(0);
  }

  forward(backend: Backend, rows: number, x: Float32Array, y: Float32Array): void {
    this.convolve(backend, rows, x, y);
    this.activate(backend, rows * this.outputSize, y);
  }

  // dy becomes the gradient at the pre-activation, in place.
  backward(
    backend: Backend, rows: number, x: Float32Array, y: Float32Array, dy: Float32Array,
    dx: Float32Array | null, _scratch: Float32Array, accumulate: boolean,
  ): void {
    this.activationGradient(backend, rows * this.outputSize, y, dy);
    this.backwardLinear(backend, rows, x, dy, dx, accumulate);
  }

  /** z = conv(x, W) + b for `rows` samples: the output before the activation. */
  convolve(backend: Backend, rows: number, x: Float32Array, z: Float32Array): void {
    backend.conv2d(rows, ...this.geometry, x, this.weight, this.bias, z);
  }

  /** y = h(y) in place over `count` values. Every activation is non-decreasing, so it commutes with max pooling. */
  activate(backend: Backend, count: number, y: Float32Array): void {
    const { activation, slope } = this.config;
    if (activation !== 'identity') backend.activation(activation, count, y, y, slope, 1);
  }

  /** dy = dy * h'(y) in place over `count` values, from the activation's outputs y. */
  activationGradient(backend: Backend, count: number, y: Float32Array, dy: Float32Array): void {
    const { activation, slope } = this.config;
    if (activation !== 'identity') backend.activationGrad(activation, count, y, dy, dy, slope, 1);
  }

  /** From dz, the gradient at the pre-activation: writes (or adds) the weight and bias gradients and, when given, dx. */
  backwardLinear(backend: Backend, rows: number, x: Float32Array, dz: Float32Array, dx: Float32Array | null, accumulate: boolean): void {
    backend.conv2dBackwardFilter(rows, ...this.geometry, x, dz, this.dWeight, this.dBias, accumulate ? 1 : 0);
    if (dx) backend.conv2dBackwardData(rows, ...this.geometry, dz, this.weight, dx);
  }

  /** Values of one sample's output. */
  get outputSize(): number {
    const [f, oh, ow] = this.outputShape;
    return f * oh * ow;
  }
}
