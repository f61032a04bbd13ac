import type { Backend, BackendName } from '../backend/contract';
import { getBackend } from '../backend';
import { argmax, sequence } from '../core/arrays';
import { checkDataset, labelArray, PIXEL_SCALE, typeTag, type Dataset } from '../core/dataset';
import { checkSeed, Random } from '../core/random';
import { formatShape, sameShape, shapeSize, toShape, type Shape } from '../core/shape';
import { MNIST_SIDE, preprocessImage, type PixelImage, type PreprocessOptions } from '../image/preprocess';
import type { Tensor } from '../io/safetensors';
import { parseModel, type ModelContents } from '../io/model';
import { readModel, writeModel } from '../io/model-file';
import type { Dense } from '../layers/dense';
import type { Layer, Pass, TensorSpec } from '../layers/layer';
import { buildLayers, type LayerConfig, type LayerSpec, type NetworkConfig } from '../layers/registry';
import type { FitOptions, History } from '../train/types';
import { ConvPool } from './conv-pool';
import { readNumber, type NumberReading, type ReadOptions } from './read-number';
import { architectureName, summaryTable, tensorValues } from './summary';

/** Rows per forward/backward pass: larger batches run in chunks of this size, gradients summed. */
export const MAX_CHUNK_ROWS = 1024;

/** Options of `Network.create`. */
export interface NetworkOptions {
  /** One sample's shape: a number of features (784), or [channels, height, width] ([1, 28, 28]). */
  input: number | number[];
  /** The layers in order; the last one dense with softmax, one unit per class. */
  layers: LayerSpec[];
  /** Seed of the weight initialisation (default 1). */
  seed?: number;
  /** Compute backend (default: `getBackend()`). */
  backend?: BackendName | Backend;
}

/** `Network.evaluate`'s result. */
export interface Evaluation {
  /** Fraction of samples classified correctly. */
  accuracy: number;
  /** Mean cross-entropy per sample. */
  loss: number;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

/** `Network.predict`'s result. */
export interface Prediction {
  /** The most probable class per sample (16-bit when there are more than 256 classes). */
  labels: Uint8Array | Uint16Array;
  /** (count, classes) softmax probabilities, row-major. */
  probabilities: Float32Array;
}

/** Per-chunk buffers, sized for `rows` samples and reused across batches. */
export interface Workspace {
  rows: number;
  /** acts[0] is the input, acts[i + 1] the output of layer i (empty for a conv2d that runs with its maxpool2d: see ConvPool). */
  acts: Float32Array[];
  /** Two gradient buffers used alternately while walking back through the layers. */
  grad: [Float32Array, Float32Array];
  /** scratch[i] is layer i's state between its forward and backward pass (a ConvPool's group buffer for its conv2d). */
  scratch: Float32Array[];
  labels: Uint8Array | Uint16Array;
}

/** A layer's views of the network's arenas, one per tensor spec. */
interface LayerViews {
  params: Float32Array[];
  buffers: Float32Array[];
}

const INFERENCE: Pass = { training: false, noise: 0 };

/** A network: an ordered list of layers ending in softmax, trained with cross-entropy. */
export class Network {
  /** All parameters, layer after layer, tensor after tensor: one optimizer call updates them all. */
  readonly params: Float32Array;
  /** Gradients, laid out as `params`. */
  readonly grads: Float32Array;
  /** Every layer's buffers (saved, not trained), layer after layer. */
  readonly buffers: Float32Array;
  /** One sample's shape. */
  readonly inputShape: Shape;
  /** Values per sample. */
  readonly inputSize: number;
  /** True while `fit` runs. */
  training = false;
  /**
   * True while a training worker may be changing `params` (a fit in a worker, outside its
   * `onEpoch`): `predict`, `evaluate` and `save` refuse to read weights that move under them.
   */
  weightsMoving = false;
  private readonly views: LayerViews[];
  /** fused[i]: the conv2d at i and the maxpool2d at i + 1, which run as one step. */
  private readonly fused: (ConvPool | undefined)[];
  private workspace: Workspace | null = null;

  private constructor(
    private readonly input: number | number[],
    readonly layers: readonly Layer[],
    readonly backend: Backend,
    arenas?: { params: Float32Array; buffers: Float32Array },
  ) {
    this.inputShape = toShape(input, 'input');
    this.inputSize = shapeSize(this.inputShape);
    const paramCount = layers.reduce((sum, layer) => sum + tensorValues(layer.params), 0);
    const bufferCount = layers.reduce((sum, layer) => sum + tensorValues(layer.buffers), 0);
    for (const [name, arena, size] of [['parameters', arenas?.params, paramCount], ['buffers', arenas?.buffers, bufferCount]] as const) {
      if (arena && arena.length !== size) throw new RangeError(`Network: ${name} have ${arena.length} values, the architecture needs ${size}`);
    }
    // Shared memory, so that fit's worker thread updates these very weights (lib/train/thread.ts).
    this.params = arenas?.params ?? sharedFloats(paramCount);
    this.buffers = arenas?.buffers ?? sharedFloats(bufferCount);
    this.grads = new Float32Array(paramCount);
    let paramOffset = 0;
    let bufferOffset = 0;
    this.views = layers.map((layer) => {
      const params = carve(this.params, layer.params, paramOffset);
      const grads = carve(this.grads, layer.params, paramOffset);
      const buffers = carve(this.buffers, layer.buffers, bufferOffset);
      paramOffset += tensorValues(layer.params);
      bufferOffset += tensorValues(layer.buffers);
      layer.bind(params, grads, buffers);
      return { params, buffers };
    });
    this.fused = layers.map((_, i) => ConvPool.at(layers, i));
  }

  /** A new network with freshly initialised weights (same seed, same weights on every backend). */
  static create(options: NetworkOptions): Network {
    const net = Network.build(options.input, options.layers, options.backend, 'Network.create');
    const rng = new Random(checkSeed(options.seed ?? 1, 'Network.create'));
    for (const layer of net.layers) layer.initialize(rng);
    return net;
  }

  /** Loads a network saved with `save` (safetensors). */
  static async load(path: string, options: { backend?: BackendName | Backend } = {}): Promise<Network> {
    return Network.fromContents(path, await readModel(path), options.backend);
  }

  /** A network from the bytes of a model file (fetched, uploaded, embedded); `name` names them in errors. */
  static async fromBytes(bytes: Uint8Array | ArrayBuffer, options: { backend?: BackendName | Backend; name?: string } = {}): Promise<Network> {
    const name = options.name ?? 'model bytes';
    return Network.fromContents(name, await parseModel(name, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)), options.backend);
  }

  private static fromContents(name: string, model: ModelContents, backend: BackendName | Backend | undefined): Network {
    const net = Network.build(model.config.input, model.config.layers, backend, `${name}: metadata digitnet`);
    net.assign(model.tensors);
    return net;
  }

  /** A network of architecture `config` on `arenas` themselves, not copies (the training worker's view of the caller's network). */
  static onArenas(config: NetworkConfig, arenas: { params: Float32Array; buffers: Float32Array }, backend: BackendName): Network {
    return Network.build(config.input, config.layers, backend, 'Network.onArenas', arenas);
  }

  private static build(
    input: unknown, specs: unknown, backend: BackendName | Backend | undefined, where: string,
    arenas?: { params: Float32Array; buffers: Float32Array },
  ): Network {
    const shape = toShape(input, `${where}: input`);
    const layers = buildLayers(shape, specs, where);
    const resolved = typeof backend === 'object' ? backend : getBackend(backend);
    return new Network(Array.isArray(input) ? [...shape] : shape[0], layers, resolved, arenas);
  }

  /** The architecture (what `save` writes into the model file's metadata, and `Network.create` takes). */
  get config(): NetworkConfig {
    return { input: Array.isArray(this.input) ? [...this.input] : this.input, layers: this.layers.map((layer) => ({ ...layer.config }) as LayerConfig) };
  }

  /** Number of output classes. */
  get classes(): number {
    return this.output.units;
  }

  /** The network in one line, e.g. `784-256-128-10` (see `architectureName`). */
  get architecture(): string {
    return architectureName(this.inputShape, this.layers);
  }

  /** A table of the layers (index, type, output shape, parameter count) and the totals. */
  summary(): string {
    return summaryTable(this.inputShape, this.layers);
  }

  /** Trains on `train`; resolves with the per-epoch history. */
  async fit(train: Dataset, options: FitOptions = {}): Promise<History> {
    // Training drives the model, so it sits above it: loaded on first use, model/ imports nothing of it.
    const { fit } = await import('../train/fit');
    return fit(this, train, options);
  }

  /** Accuracy, mean loss and confusion matrix on a labelled dataset. */
  evaluate(data: Dataset, options: { limit?: number } = {}): Evaluation {
    this.checkWeightsStill('evaluate');
    this.checkDataset(data, 'evaluate');
    const { limit } = options;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw new RangeError(`evaluate: limit must be an integer >= 0, got ${limit}`);
    const count = Math.min(data.count, limit ?? data.count);
    const classes = this.classes;
    const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    const order = sequence(count);
    let loss = 0;
    let correct = 0;
    for (let start = 0; start < count; start += MAX_CHUNK_ROWS) {
      const rows = Math.min(MAX_CHUNK_ROWS, count - start);
      const ws = this.loadBatch(data, order, start, rows);
      this.forward(rows, ws.acts[0]);
      loss += this.loss(rows, 1);
      const probs = ws.acts[this.layers.length];
      for (let r = 0; r < rows; r++) {
        const predicted = argmax(probs, r * classes, classes);
        const label = ws.labels[r];
        confusion[label][predicted]++;
        if (predicted === label) correct++;
      }
    }
    return { accuracy: count ? correct / count : 0, loss: count ? loss / count : 0, confusion };
  }

  /**
   * Class probabilities and labels for `count` samples: bytes 0..255 (`Uint8Array`, or a canvas's
   * `Uint8ClampedArray`) or floats already scaled to [0, 1] (`Float32Array`), from any realm.
   */
  predict(input: Uint8Array | Uint8ClampedArray | Float32Array, count: number): Prediction {
    this.checkWeightsStill('predict');
    const values = pixelView(input);
    const size = this.inputSize;
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`predict: count must be a non-negative integer, got ${count}`);
    if (values.length < count * size) throw new RangeError(`predict: images has ${values.length} values, needs ${count} x ${size}`);
    const classes = this.classes;
    const labels = labelArray(classes, count);
    const probabilities = new Float32Array(count * classes);
    const order = values instanceof Uint8Array ? sequence(count) : null;
    if (!order) {
      // One NaN or infinite input would silently turn its sample's probabilities into NaN.
      const bad = values.subarray(0, count * size).findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new RangeError(`predict: images[${bad}] (image ${Math.floor(bad / size)}, value ${bad % size}) is ${values[bad]}; inputs must be finite`);
    }
    for (let start = 0; start < count; start += MAX_CHUNK_ROWS) {
      const rows = Math.min(MAX_CHUNK_ROWS, count - start);
      const ws = this.ensureWorkspace(rows);
      let x: Float32Array;
      if (order) {
        this.backend.gatherRows(values as Uint8Array, size, order, start, rows, PIXEL_SCALE, ws.acts[0]);
        x = ws.acts[0];
      } else {
        x = (values as Float32Array).subarray(start * size, (start + rows) * size);
      }
      this.forward(rows, x);
      const logits = ws.acts[this.layers.length];
      const probs = probabilities.subarray(start * classes, (start + rows) * classes);
      this.backend.softmax(rows, classes, logits, probs);
      for (let r = 0; r < rows; r++) labels[start + r] = argmax(probs, r * classes, classes);
    }
    return { labels, probabilities };
  }

  /** Saves weights, buffers and architecture as safetensors, atomically (temporary file + rename). */
  save(path: string): Promise<void> {
    this.checkWeightsStill('save');
    return writeModel(path, this.config, this.tensors());
  }

  /**
   * Every parameter and buffer as the model file names them (`layers.{i}.{name}`), copied now: a
   * file written from them holds exactly these values whatever changes the network afterwards.
   */
  tensors(): Record<string, Tensor> {
    const tensors: Record<string, Tensor> = {};
    this.layers.forEach((layer, i) => {
      const add = (specs: readonly TensorSpec[], views: Float32Array[]) =>
        specs.forEach((spec, j) => (tensors[`layers.${i}.${spec.name}`] = { shape: [...spec.shape], data: views[j].slice() }));
      add(layer.params, this.views[i].params);
      add(layer.buffers, this.views[i].buffers);
    });
    return tensors;
  }

  /** Copies tensors named as `tensors()` names them (already checked against this architecture) into the network. */
  assign(tensors: ReadonlyMap<string, Tensor>): void {
    this.layers.forEach((layer, i) => {
      const copy = (specs: readonly TensorSpec[], views: Float32Array[]) =>
        specs.forEach((spec, j) => {
          const tensor = tensors.get(`layers.${i}.${spec.name}`);
          if (!tensor || tensor.data.length !== views[j].length) throw new RangeError(`Network.assign: tensor layers.${i}.${spec.name} is missing or has the wrong size`);
          views[j].set(tensor.data);
        });
      copy(layer.params, this.views[i].params);
      copy(layer.buffers, this.views[i].buffers);
    });
  }

  /** Throws while a training worker is changing the weights (see `weightsMoving`). */
  private checkWeightsStill(where: string): void {
    if (this.weightsMoving) {
      throw new Error(
        `${where}: this network is training in a worker thread and its weights change with every step; ` +
          'call it from onEpoch (training waits there) or after fit resolves',
      );
    }
  }

  /** Throws unless `data` is a well-formed labelled dataset whose samples fit the input and whose labels name a class. */
  checkDataset(data: Dataset, where: string): void {
    checkDataset(data, where);
    if (shapeSize(data.shape) !== this.inputSize) {
      throw new RangeError(`${where}: samples are ${formatShape(data.shape)} = ${shapeSize(data.shape)} values, the network takes ${formatShape(this.inputShape)} = ${this.inputSize}`);
    }
    const classes = this.classes;
    for (let i = 0; i < data.count; i++) {
      if (data.labels[i] >= classes) throw new RangeError(`${where}: label ${i} is ${data.labels[i]}, the network has ${classes} classes`);
    }
  }

  /** Gathers samples order[start .. start+rows) into the workspace (input rows and labels). */
  loadBatch(data: Dataset, order: Uint32Array, start: number, rows: number): Workspace {
    const ws = this.ensureWorkspace(rows);
    const size = this.inputSize;
    const x = ws.acts[0];
    if (data.inputs.BYTES_PER_ELEMENT === 1) {
      this.backend.gatherRows(data.inputs as Uint8Array, size, order, start, rows, PIXEL_SCALE, x);
    } else {
      for (let r = 0; r < rows; r++) {
        const from = order[start + r] * size;
        x.set(data.inputs.subarray(from, from + size), r * size);
      }
    }
    for (let r = 0; r < rows; r++) ws.labels[r] = data.labels[order[start + r]];
    return ws;
  }

  /** Forward pass of `rows` samples from x (inference unless `pass` says training); the logits land in the workspace. */
  forward(rows: number, x: Float32Array, pass: Pass = INFERENCE): void {
    const ws = this.ensureWorkspace(rows);
    for (let i = 0; i < this.layers.length; i++) {
      const input = i === 0 ? x : ws.acts[i];
      const pair = this.fused[i];
      if (pair) {
        pair.forward(this.backend, rows, input, ws.acts[i + 2], ws.scratch[i + 1], ws.scratch[i]);
        i++;
      } else {
        this.layers[i].forward(this.backend, rows, input, ws.acts[i + 1], ws.scratch[i], pass);
      }
    }
  }

  /** The output layer's values (logits, before softmax) of the last forward pass's `rows` samples: a view, valid until the next pass. */
  logits(rows: number): Float32Array {
    return this.ensureWorkspace(rows).acts[this.layers.length].subarray(0, rows * this.classes);
  }

  /**
   * Softmax cross-entropy of the last forward pass against the workspace labels: turns the logits
   * into probabilities, writes dE/dlogits (times `scale`) for `backward`, returns the summed loss.
   */
  loss(rows: number, scale: number): number {
    const ws = this.ensureWorkspace(rows);
    const out = this.output;
    const logits = ws.acts[this.layers.length];
    // The output factor f scales the logits (z = f a), so dE/da = f dE/dz: fold f into the scale.
    return this.backend.softmaxCrossEntropy(rows, out.units, logits, ws.labels, logits, ws.grad[0], scale * out.config.factor);
  }

  /** Backpropagation (eq. 10) of the last `loss`; with `accumulate` the gradients add to `grads`. */
  backward(rows: number, accumulate: boolean): void {
    const ws = this.ensureWorkspace(rows);
    let [dy, dx] = ws.grad;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const pair = this.fused[i - 1];
      if (pair) {
        i--;
        pair.backward(this.backend, rows, ws.acts[i], ws.acts[i + 2], dy, i > 0 ? dx : null, ws.scratch[i + 1], ws.scratch[i], accumulate);
      } else {
        this.layers[i].backward(this.backend, rows, ws.acts[i], ws.acts[i + 1], dy, i > 0 ? dx : null, ws.scratch[i], accumulate);
      }
      [dy, dx] = [dx, dy];
    }
  }

  /** The output layer (the layer registry makes it a softmax dense layer). */
  private get output(): Dense {
    return this.layers[this.layers.length - 1] as Dense;
  }

  private ensureWorkspace(rows: number): Workspace {
    if (this.workspace && this.workspace.rows >= rows) return this.workspace;
    // A fused conv2d's output exists only a group at a time, in its scratch.
    const sizes = this.layers.map((layer, i) => (this.fused[i] ? 0 : shapeSize(layer.outputShape)));
    const widest = Math.max(...sizes);
    this.workspace = {
      rows,
      acts: [this.inputSize, ...sizes].map((size) => new Float32Array(rows * size)),
      grad: [new Float32Array(rows * widest), new Float32Array(rows * widest)],
      scratch: this.layers.map((layer, i) => new Float32Array(this.fused[i]?.bufferSize(rows) ?? layer.scratchSize(rows))),
      labels: labelArray(this.classes, rows),
    };
    return this.workspace;
  }

  /**
   * The digit in one image: decoded or raw pixels (preprocessed by `preprocessImage` with
   * `options`), or the 784 values of an image already preprocessed. Returns the label, the class
   * probabilities and the 28x28 input the network saw. Only for networks that take MNIST images.
   */
  predictImage(image: PixelImage | Float32Array, options: PreprocessOptions = {}): { label: number; probabilities: Float32Array; input: Float32Array } {
    const size = this.checkTakesImages('predictImage');
    const input = typeTag(image) === 'Float32Array' ? (image as Float32Array) : preprocessImage(image as PixelImage, options);
    if (input.length !== size) throw new RangeError(`predictImage: a preprocessed image has ${size} values, got ${input.length}`);
    const { labels, probabilities } = this.predict(input, 1);
    return { label: labels[0], probabilities, input };
  }

  /**
   * Reads a number written left to right in a picture ("4096"): the ink is cut into digits (broken
   * strokes merged, touching digits split where the network reads the parts best), each is
   * preprocessed as `predictImage` does and classified. Returns the number as a string and each
   * digit's box (picture pixels), label, probability and 28x28 input, left to right.
   */
  readNumber(image: PixelImage, options: ReadOptions = {}): NumberReading {
    this.checkTakesImages('readNumber');
    return readNumber(this, image, options);
  }

  /** The input size of an MNIST image; a RangeError naming `caller` for a network that takes other inputs. */
  checkTakesImages(caller: string): number {
    const size = MNIST_SIDE * MNIST_SIDE;
    if (!sameShape(this.inputShape, [size]) && !sameShape(this.inputShape, [1, MNIST_SIDE, MNIST_SIDE])) {
      throw new RangeError(`${caller}: the network takes ${formatShape(this.inputShape)}; an image is preprocessed to MNIST's 28x28, for networks that take [784] or [1, 28, 28]`);
    }
    return size;
  }
}

/**
 * A zeroed Float32Array of `length` values on a SharedArrayBuffer, which the training worker
 * shares; on an ArrayBuffer where there is none (a web page that is not cross-origin isolated).
 */
function sharedFloats(length: number): Float32Array {
  const bytes = length * Float32Array.BYTES_PER_ELEMENT;
  return new Float32Array(typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
}

/** Consecutive views of `arena` from `offset`, one per spec, each as long as its tensor. */
function carve(arena: Float32Array, specs: readonly TensorSpec[], offset: number): Float32Array[] {
  return specs.map((spec) => {
    const size = shapeSize(spec.shape);
    const view = arena.subarray(offset, offset + size);
    offset += size;
    return view;
  });
}

/**
 * `input` as the array type `predict` computes on, judged by content rather than `instanceof` (a
 * canvas's Uint8ClampedArray, or a typed array from another realm): the same memory, no copy.
 */
export function pixelView(input: ArrayBufferView): Uint8Array | Float32Array {
  const tag = typeTag(input);
  if (tag === 'Uint8Array' || tag === 'Uint8ClampedArray') return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (tag === 'Float32Array') return new Float32Array(input.buffer, input.byteOffset, input.byteLength / Float32Array.BYTES_PER_ELEMENT);
  throw new TypeError(`predict: images must be a Uint8Array, Uint8ClampedArray or Float32Array, got ${tag}`);
}
