import { ACTIVATIONS, type ActivationName, type Backend } from '../backend/contract';
import type { Random } from '../core/random';
import { shapeSize, type Shape } from '../core/shape';
import type { Layer, TensorSpec } from './layer';

/** A layer's activation: an elementwise one, or softmax (output layer only, paired with cross-entropy). */
export type LayerActivation = ActivationName | 'softmax';

/** How a dense layer is specified in `Network.create` (defaults filled in by `denseConfig`); `type` may be left out. */
export interface DenseSpec {
  type?: 'dense';
  /** Output size. */
  units: number;
  /** Default: leaky-relu for hidden layers; the output layer must be softmax. */
  activation?: LayerActivation;
  /** Leaky-ReLU slope for x < 0 (the paper's 1/100). */
  slope?: number;
  /** The paper's per-layer factor on the activation's input, x = h(factor * a). */
  factor?: number;
  /** Weight initialisation; default He for (leaky) ReLU, Xavier otherwise. */
  init?: WeightInit;
}

/** Weight initialisation schemes (biases start at zero). */
export type WeightInit = 'he' | 'xavier';

/** A dense layer's full configuration, as stored in model files. */
export interface DenseConfig {
  type: 'dense';
  units: number;
  activation: LayerActivation;
  slope: number;
  factor: number;
}

/** Validates a dense spec and fills in defaults; `where` names the layer in error messages. */
export function denseConfig(spec: DenseSpec, isOutput: boolean, where: string): DenseConfig {
  if (!Number.isInteger(spec.units) || spec.units < 1) throw new RangeError(`${where}: units must be a positive integer, got ${spec.units}`);
  const activation = spec.activation ?? (isOutput ? 'softmax' : 'leaky-relu');
  if (spec.init !== undefined && spec.init !== 'he' && spec.init !== 'xavier') throw new RangeError(`${where}: init must be 'he' or 'xavier', got ${JSON.stringify(spec.init)}`);
  if (activation !== 'softmax' && !ACTIVATIONS.includes(activation)) {
    throw new RangeError(`${where}: unknown activation '${activation}' (one of ${[...ACTIVATIONS, 'softmax'].join(', ')})`);
  }
  if (isOutput !== (activation === 'softmax')) {
    throw new RangeError(`${where}: softmax must be the output layer's activation, and only its (cross-entropy loss)`);
  }
  const slope = spec.slope ?? 0.01;
  const factor = spec.factor ?? 1;
  if (typeof slope !== 'number' || !Number.isFinite(slope) || slope < 0) throw new RangeError(`${where}: slope must be a finite number >= 0, got ${slope}`);
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0) throw new RangeError(`${where}: factor must be a finite number > 0, got ${factor}`);
  return { type: 'dense', units: spec.units, activation, slope, factor };
}

/**
 * A fully connected layer: `y = h(factor * (x W^T + b))`, x (rows, inputs), W (units, inputs) as
 * PyTorch's nn.Linear, b (units). The paper folds the bias into W as the weight of a constant-1
 * input; a separate bias vector is the same function: [x, 1] [W | b]^T = x W^T + b.
 * For a softmax layer, y holds the logits `factor * (x W^T + b)`; the loss kernel does the rest.
 * An input of shape [c, h, w] is read as its c * h * w values (an implicit flatten).
 */
export class Dense implements Layer {
  readonly outputShape: Shape;
  readonly params: readonly TensorSpec[];
  readonly buffers = [];
  /** Values per input sample. */
  readonly inputs: number;
  weight!: Float32Array;
  bias!: Float32Array;
  dWeight!: Float32Array;
  dBias!: Float32Array;

  /** A dense layer at position `index` taking samples of `inputShape`; `init` picks the weight initialisation. */
  constructor(
    readonly config: DenseConfig,
    readonly inputShape: Shape,
    readonly index: number,
    private readonly init?: WeightInit,
  ) {
    this.inputs = shapeSize(inputShape);
    this.outputShape = Object.freeze([config.units]);
    this.params = [
      { name: 'weight', shape: [config.units, this.inputs] },
      { name: 'bias', shape: [config.units] },
    ];
  }

  get units(): number {
    return this.config.units;
  }

  scratchSize(): number {
    return 0;
  }

  bind(params: Float32Array[], grads: Float32Array[]): void {
    [this.weight, this.bias] = params;
    [this.dWeight, this.dBias] = grads;
  }

  /** Fills the weights from `rng` (He: N(0, 2/in); Xavier: U(+-sqrt(6/(in+out)))) and zeroes the bias. */
  initialize(rng: Random): void {
    const scheme = this.init ?? (this.config.activation === 'relu' || this.config.activation === 'leaky-relu' ? 'he' : 'xavier');
    const w = this.weight;
    if (scheme === 'he') {
      const std = Math.sqrt(2 / this.inputs);
      for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
    } else {
      const limit = Math.sqrt(6 / (this.inputs + this.units));
      for (let i = 0; i < w.length; i++) w[i] = limit * (2 * rng.uniform() - 1);
    }
    this.bias.fill(0);
  }

  // x is (rows, inputs), y is (rows, units)
  forward(backend: Backend, rows: number, x: Float32Array, y: Float32Array): void {
    const { units, inputs } = this;
    const { activation, slope, factor } = this.config;
    backend.gemm(false, true, rows, units, inputs, 1, x, inputs, this.weight, inputs, 0, y, units);
    backend.addBias(rows, units, y, this.bias);
    if (activation !== 'softmax') backend.activation(activation, rows * units, y, y, slope, factor);
    else if (factor !== 1) backend.activation('identity', rows * units, y, y, 0, factor);
  }

  // dy is (rows, units): dE/dy for hidden layers, dE/d(pre-factor logits) for softmax layers;
  // it becomes the gradient at the layer's pre-activation, in place.
  backward(
    backend: Backend, rows: number, x: Float32Array, y: Float32Array, dy: Float32Array,
    dx: Float32Array | null, _scratch: Float32Array, accumulate: boolean,
  ): void {
    const { units, inputs } = this;
    const { activation, slope, factor } = this.config;
    if (activation !== 'softmax') backend.activationGrad(activation, rows * units, y, dy, dy, slope, factor);
    const beta = accumulate ? 1 : 0;
    backend.gemm(true, false, units, inputs, rows, 1, dy, units, x, inputs, beta, this.dWeight, inputs);
    backend.biasGrad(rows, units, dy, this.dBias, beta);
    if (dx) backend.gemm(false, false, rows, inputs, units, 1, dy, units, this.weight, inputs, 0, dx, inputs);
  }
}
