import type { Backend } from '../backend/contract';
import type { Random } from '../core/random';
import type { Shape } from '../core/shape';

/** A named tensor a layer owns: its name in model files (`layers.{i}.{name}`) and its shape, PyTorch's layout. */
export interface TensorSpec {
  name: string;
  shape: number[];
}

/** How a forward pass runs. */
export interface Pass {
  /** Training (dropout drops, statistics come from the batch) or inference. */
  training: boolean;
  /** Seeds this chunk's random masks; training gives every chunk of every step its own (see lib/train/loop.ts). */
  noise: number;
}

/**
 * One layer of a network. The network owns all memory: it lays every layer's parameters out in
 * one arena (one optimizer call updates them all, and the training worker shares them), its
 * buffers (saved, shared, never stepped by an optimizer) in another, and per chunk of samples it
 * gives each layer its input and output, gradient buffers and the layer's scratch: whatever the
 * layer keeps from forward to backward (a mask, pooling indices, batch statistics).
 * Activations are (rows, size of shape) row-major, one row per sample.
 */
export interface Layer {
  /** Position in the network's layer list (names its tensors: `layers.{index}.weight`). */
  readonly index: number;
  /** The layer's configuration with every default filled in, as model files store it. */
  readonly config: { readonly type: string };
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  /** Trainable tensors, in arena order. */
  readonly params: readonly TensorSpec[];
  /** Saved but not trained tensors (running statistics), in arena order. */
  readonly buffers: readonly TensorSpec[];
  /** True when training's forward pass depends on the whole batch at once (batch statistics), so a batch cannot run in chunks. */
  readonly wholeBatch?: boolean;
  /** Float32 values of scratch the layer needs for a chunk of `rows` samples (0 if none). */
  scratchSize(rows: number): number;
  /** Attaches the layer's views of the arenas, one per spec, in spec order. */
  bind(params: Float32Array[], grads: Float32Array[], buffers: Float32Array[]): void;
  /** Sets the initial parameters and buffers (weights from `rng`). */
  initialize(rng: Random): void;
  /** y = layer(x) for `rows` samples. */
  forward(backend: Backend, rows: number, x: Float32Array, y: Float32Array, scratch: Float32Array, pass: Pass): void;
  /**
   * From dy = dE/dy (which it may overwrite), writes (or with `accumulate` adds) the parameter
   * gradients and, when dx is given, dx = dE/dx. x and y are the forward pass's.
   */
  backward(
    backend: Backend, rows: number, x: Float32Array, y: Float32Array, dy: Float32Array,
    dx: Float32Array | null, scratch: Float32Array, accumulate: boolean,
  ): void;
}

