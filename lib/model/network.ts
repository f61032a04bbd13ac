import type { Backend, BackendName } from '../backend/contract';
import { getBackend } from '../backend';
import type { Dataset } from '../data/mnist';
import { Dense, denseConfig, type DenseConfig, type DenseSpec } from '../layers/dense';
import { Random } from '../core/random';
import { fit, type FitOptions, type History } from '../train/fit';
import { readModel, writeModel } from '../io/model';

/** Pixels are bytes 0..255; the network sees them scaled to [0, 1]. */
export const PIXEL_SCALE = 1 / 255;

/** Rows per forward/backward pass: larger batches run in chunks of this size, gradients summed. */
export const MAX_CHUNK_ROWS = 1024;

/** The architecture, as `Network.create` takes it and as model files store it. */
export interface NetworkConfig {
  input: number;
  layers: DenseConfig[];
}

/** Options of `Network.create`. */
export interface NetworkOptions {
  /** Input size (784 for MNIST's 28 x 28 pixels). */
  input: number;
  /** Dense layers, the last one softmax with one unit per class. */
  layers: DenseSpec[];
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
  /** The most probable class per sample. */
  labels: Uint8Array;
  /** (count, classes) softmax probabilities, row-major. */
  probabilities: Float32Array;
}

/** Per-chunk buffers, sized for `rows` samples and reused across batches. */
export interface Workspace {
  rows: number;
  /** acts[0] is the input, acts[i + 1] the output of layer i. */
  acts: Float32Array[];
  /** Two gradient buffers used alternately while walking back through the layers. */
  grad: [Float32Array, Float32Array];
  labels: Uint8Array;
}

/** A fully connected network: an ordered list of dense layers, softmax output, cross-entropy loss. */
export class Network {
  /** All parameters, layer after layer (weight then bias): one optimizer call updates them all. */
  readonly params: Float32Array;
  /** Gradients, laid out as `params`. */
  readonly grads: Float32Array;
  /** True while `fit` runs. */
  training = false;
  /**
   * True while a training worker may be changing `params` (a fit in a worker, outside its
   * `onEpoch`): `predict`, `evaluate` and `save` refuse to read weights that move under them.
   */
  weightsMoving = false;
  private workspace: Workspace | null = null;

  private constructor(readonly input: number, readonly layers: Dense[], readonly backend: Backend, params?: Float32Array) {
    const size = layers.reduce((sum, layer) => sum + layer.size, 0);
    if (params && params.length !== size) throw new RangeError(`Network: parameters have ${params.length} values, the architecture needs ${size}`);
    // Shared memory, so that fit's worker thread updates these very weights (lib/train/thread.ts).
    this.params = params ?? new Float32Array(new SharedArrayBuffer(size * Float32Array.BYTES_PER_ELEMENT));
    this.grads = new Float32Array(size);
    let offset = 0;
    for (const layer of layers) {
      layer.bind(this.params, this.grads, offset);
      offset += layer.size;
    }
  }

  /** A new network with freshly initialised weights (same seed, same weights on every backend). */
  static create(options: NetworkOptions): Network {
    const net = Network.fromConfig(options.input, options.layers, options.backend);
    const rng = new Random(checkSeed(options.seed ?? 1, 'Network.create'));
    net.layers.forEach((layer, i) => layer.initialize(rng, options.layers[i].init));
    return net;
  }

  /** Loads a network saved with `save` (safetensors). */
  static async load(path: string, options: { backend?: BackendName | Backend } = {}): Promise<Network> {
    const model = await readModel(path);
    const where = `${path}: metadata digitnet`;
    const net = Network.fromConfig(model.config.input, model.config.layers, options.backend, where);
    model.assign(net.layers);
    return net;
  }

  /** A network of architecture `config` whose parameters are `params` itself, not a copy (the training worker's view). */
  static onParams(config: NetworkConfig, params: Float32Array, backend: BackendName): Network {
    return Network.fromConfig(config.input, config.layers, backend, 'Network.onParams', params);
  }

  private static fromConfig(
    input: number, specs: DenseSpec[], backend: BackendName | Backend | undefined, where = 'Network.create', params?: Float32Array,
  ): Network {
    if (!Number.isInteger(input) || input < 1) throw new RangeError(`${where}: input must be a positive integer, got ${input}`);
    if (!Array.isArray(specs) || specs.length === 0) throw new RangeError(`${where}: layers must be a non-empty array`);
    let inputs = input;
    const layers = specs.map((spec, i) => {
      const layer = new Dense(denseConfig(spec, i === specs.length - 1, `${where}: layers[${i}]`), inputs);
      inputs = layer.units;
      return layer;
    });
    const resolved = typeof backend === 'object' ? backend : getBackend(backend);
    return new Network(input, layers, resolved, params);
  }

  /** The architecture (what `save` writes into the model file's metadata). */
  get config(): NetworkConfig {
    return { input: this.input, layers: this.layers.map((layer) => ({ ...layer.config })) };
  }

  /** Number of output classes. */
  get classes(): number {
    return this.layers[this.layers.length - 1].units;
  }

  /** Layer sizes joined by dashes, e.g. `784-128-10`. */
  get shape(): string {
    return [this.input, ...this.layers.map((layer) => layer.units)].join('-');
  }

  /** Trains on `train`; resolves with the per-epoch history. */
  fit(train: Dataset, options: FitOptions = {}): Promise<History> {
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
   * Class probabilities and labels for `count` images: bytes 0..255 (`Uint8Array`, or a canvas's
   * `Uint8ClampedArray`) or floats already scaled to [0, 1] (`Float32Array`), from any realm.
   */
  predict(input: Uint8Array | Uint8ClampedArray | Float32Array, count: number): Prediction {
    this.checkWeightsStill('predict');
    const images = pixelView(input);
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`predict: count must be a non-negative integer, got ${count}`);
    if (images.length < count * this.input) {
      throw new RangeError(`predict: images has ${images.length} values, needs ${count} x ${this.input}`);
    }
    const classes = this.classes;
    const labels = new Uint8Array(count);
    const probabilities = new Float32Array(count * classes);
    const order = images instanceof Uint8Array ? sequence(count) : null;
    if (!order) {
      // One NaN or infinite input would silently turn its image's probabilities into NaN.
      const bad = images.subarray(0, count * this.input).findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new RangeError(`predict: images[${bad}] (image ${Math.floor(bad / this.input)}, value ${bad % this.input}) is ${images[bad]}; inputs must be finite`);
    }
    for (let start = 0; start < count; start += MAX_CHUNK_ROWS) {
      const rows = Math.min(MAX_CHUNK_ROWS, count - start);
      const ws = this.ensureWorkspace(rows);
      let x: Float32Array;
      if (order) {
        this.backend.gatherRows(images as Uint8Array, this.input, order, start, rows, PIXEL_SCALE, ws.acts[0]);
        x = ws.acts[0];
      } else {
        x = (images as Float32Array).subarray(start * this.input, (start + rows) * this.input);
      }
      this.forward(rows, x);
      const logits = ws.acts[this.layers.length];
      const probs = probabilities.subarray(start * classes, (start + rows) * classes);
      this.backend.softmax(rows, classes, logits, probs);
      for (let r = 0; r < rows; r++) labels[start + r] = argmax(probs, r * classes, classes);
    }
    return { labels, probabilities };
  }

  /** Saves weights and architecture as safetensors, atomically (temporary file + rename). */
  save(path: string): Promise<void> {
    this.checkWeightsStill('save');
    return writeModel(path, this.config, this.layers);
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

  /** Throws unless `data` is a labelled dataset whose samples fit the input layer. */
  checkDataset(data: Dataset, where: string): void {
    if (data.rows * data.cols !== this.input) {
      throw new RangeError(`${where}: images are ${data.rows}x${data.cols} = ${data.rows * data.cols} values, the network takes ${this.input}`);
    }
    if (data.images.length < data.count * this.input || data.labels.length < data.count) {
      throw new RangeError(`${where}: dataset says ${data.count} samples but holds ${data.images.length} pixels and ${data.labels.length} labels`);
    }
    for (let i = 0; i < data.count; i++) {
      if (data.labels[i] >= this.classes) {
        throw new RangeError(`${where}: label ${i} is ${data.labels[i]}, the network has ${this.classes} classes`);
      }
    }
  }

  /** Gathers samples order[start .. start+rows) into the workspace (input rows and labels). */
  loadBatch(data: Dataset, order: Uint32Array, start: number, rows: number): Workspace {
    const ws = this.ensureWorkspace(rows);
    this.backend.gatherRows(data.images, this.input, order, start, rows, PIXEL_SCALE, ws.acts[0]);
    for (let r = 0; r < rows; r++) ws.labels[r] = data.labels[order[start + r]];
    return ws;
  }

  /** Forward pass of `rows` samples from x; the output layer's logits land in the workspace. */
  forward(rows: number, x: Float32Array): void {
    const acts = this.ensureWorkspace(rows).acts;
    this.layers.forEach((layer, i) => layer.forward(this.backend, rows, i === 0 ? x : acts[i], acts[i + 1]));
  }

  /**
   * Softmax cross-entropy of the last forward pass against the workspace labels: turns the logits
   * into probabilities, writes dE/dlogits (times `scale`) for `backward`, returns the summed loss.
   */
  loss(rows: number, scale: number): number {
    const ws = this.ensureWorkspace(rows);
    const out = this.layers[this.layers.length - 1];
    const logits = ws.acts[this.layers.length];
    // The output factor f scales the logits (z = f a), so dE/da = f dE/dz: fold f into the scale.
    return this.backend.softmaxCrossEntropy(rows, out.units, logits, ws.labels, logits, ws.grad[0], scale * out.config.factor);
  }

  /** Backpropagation (eq. 10) of the last `loss`; with `accumulate` the gradients add to `grads`. */
  backward(rows: number, accumulate: boolean): void {
    const ws = this.ensureWorkspace(rows);
    let [dy, dx] = ws.grad;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      this.layers[i].backward(this.backend, rows, ws.acts[i], ws.acts[i + 1], dy, i > 0 ? dx : null, accumulate);
      [dy, dx] = [dx, dy];
    }
  }

  private ensureWorkspace(rows: number): Workspace {
    if (this.workspace && this.workspace.rows >= rows) return this.workspace;
    const capacity = rows;
    const widest = Math.max(...this.layers.map((layer) => layer.units));
    this.workspace = {
      rows: capacity,
      acts: [this.input, ...this.layers.map((layer) => layer.units)].map((width) => new Float32Array(capacity * width)),
      grad: [new Float32Array(capacity * widest), new Float32Array(capacity * widest)],
      labels: new Uint8Array(capacity),
    };
    return this.workspace;
  }
}

/**
 * `input` as the array type `predict` computes on, judged by content rather than `instanceof` (a
 * canvas's Uint8ClampedArray, or a typed array from another realm): the same memory, no copy.
 */
function pixelView(input: ArrayBufferView): Uint8Array | Float32Array {
  const tag = Object.prototype.toString.call(input);
  if (tag === '[object Uint8Array]' || tag === '[object Uint8ClampedArray]') return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (tag === '[object Float32Array]') return new Float32Array(input.buffer, input.byteOffset, input.byteLength / Float32Array.BYTES_PER_ELEMENT);
  throw new TypeError(`predict: images must be a Uint8Array, Uint8ClampedArray or Float32Array, got ${tag.slice(8, -1)}`);
}

/** Throws unless `seed` is a whole number in [0, 2^32), the generator's seed range; returns it. */
export function checkSeed(seed: number, where: string): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`${where}: seed must be an integer in [0, 2^32), got ${seed}`);
  return seed;
}

/** [0, 1, ..., count - 1]. */
export function sequence(count: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return order;
}

/** Index of the largest of values[offset .. offset + n). */
export function argmax(values: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (values[offset + j] > values[offset + best]) best = j;
  return best;
}
