import type { Dense, DenseSpec } from '../layers/dense';
import type { NetworkConfig } from '../model/network';
import { ModelFileError, readSafetensors, writeSafetensors, type Tensor } from './safetensors';

/** `__metadata__.format` of digitnet model files. */
export const MODEL_FORMAT = 'digitnet/1';

/** Tensors named with this prefix are training state (checkpoints), not weights: a model reader skips them. */
export const TRAINING_STATE_PREFIX = 'training.';

/** A model file's contents: the architecture, and a function that copies the weights into layers built from it. */
export interface ModelContents {
  config: { input: number; layers: DenseSpec[] };
  assign(layers: Dense[]): void;
}

/**
 * Writes a model as safetensors: `layers.{i}.weight` [out, in] and `layers.{i}.bias` [out] (F32,
 * PyTorch nn.Linear layout), the architecture as JSON in `__metadata__.digitnet`. Refuses
 * weights that are not all finite.
 */
export async function writeModel(path: string, config: NetworkConfig, layers: Dense[]): Promise<void> {
  const { tensors, metadata } = modelTensors(config, layers);
  refuseNonFinite(path, tensors);
  await writeSafetensors(path, tensors, metadata);
}

/** Throws, naming the tensor and element, unless every weight is finite: a diverged network must not replace a good file. */
export function refuseNonFinite(path: string, tensors: Record<string, Tensor>): void {
  for (const [name, tensor] of Object.entries(tensors)) checkFinite(path, name, tensor);
}

/**
 * The tensors and metadata of a model file (a checkpoint adds its training state to them). The
 * tensors are copies taken now, so the file holds exactly these weights whatever changes them
 * while it is written.
 */
export function modelTensors(config: NetworkConfig, layers: Dense[]): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const tensors: Record<string, Tensor> = {};
  layers.forEach((layer, i) => {
    tensors[`layers.${i}.weight`] = { shape: [layer.units, layer.inputs], data: layer.weight.slice() };
    tensors[`layers.${i}.bias`] = { shape: [layer.units], data: layer.bias.slice() };
  });
  return { tensors, metadata: { format: MODEL_FORMAT, digitnet: JSON.stringify(config) } };
}

/** Reads a model file; checks the format tag and that every tensor has the shape the architecture needs. */
export async function readModel(path: string): Promise<ModelContents> {
  const { tensors, metadata } = await readSafetensors(path);
  return modelContents(path, tensors, metadata);
}

/**
 * The model in a safetensors file already read (`path` names it in errors); tensors under
 * `TRAINING_STATE_PREFIX` are left to checkpoints. Everything is checked here, before a network
 * is built from the architecture: the tensors are exactly the ones it needs (so a corrupt header
 * cannot make the network larger than the file) and every weight is finite.
 */
export function modelContents(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string>): ModelContents {
  if (metadata.format !== MODEL_FORMAT) {
    throw new ModelFileError(path, `not a digitnet model (metadata format is ${JSON.stringify(metadata.format)}, expected "${MODEL_FORMAT}")`);
  }
  let config: ModelContents['config'];
  try {
    config = JSON.parse(metadata.digitnet ?? '');
  } catch {
    throw new ModelFileError(path, 'metadata digitnet is not valid JSON');
  }
  if (typeof config !== 'object' || config === null || !Array.isArray(config.layers)) {
    throw new ModelFileError(path, 'metadata digitnet must be an object with input and layers');
  }
  const weights = layerTensors(path, config, tensors);
  return {
    config,
    assign(layers: Dense[]): void {
      layers.forEach((layer, i) => {
        layer.weight.set(weights[i].weight);
        layer.bias.set(weights[i].bias);
      });
    },
  };
}

/** Each layer's weight and bias, checked against the shapes the architecture implies and for finiteness. */
function layerTensors(path: string, config: ModelContents['config'], tensors: Map<string, Tensor>): { weight: Float32Array; bias: Float32Array }[] {
  let inputs: unknown = config.input;
  if (!isPositiveInteger(inputs)) throw new ModelFileError(path, `metadata digitnet: input must be a positive integer, got ${JSON.stringify(inputs)}`);
  const expected = new Set<string>();
  const weights = config.layers.map((spec, i) => {
    const units = (spec as { units?: unknown } | null)?.units;
    if (!isPositiveInteger(units)) throw new ModelFileError(path, `metadata digitnet: layers[${i}].units must be a positive integer, got ${JSON.stringify(units)}`);
    const tensor = (name: string, shape: number[]): Float32Array => {
      expected.add(name);
      const found = tensors.get(name);
      if (!found) throw new ModelFileError(path, `tensor ${name} is missing`);
      if (found.shape.join('x') !== shape.join('x')) {
        throw new ModelFileError(path, `tensor ${name} has shape [${found.shape}], the architecture needs [${shape}]`);
      }
      checkFinite(path, name, found);
      return found.data;
    };
    const layer = { weight: tensor(`layers.${i}.weight`, [units, inputs as number]), bias: tensor(`layers.${i}.bias`, [units]) };
    inputs = units;
    return layer;
  });
  for (const name of tensors.keys()) {
    if (!expected.has(name) && !name.startsWith(TRAINING_STATE_PREFIX)) throw new ModelFileError(path, `unexpected tensor ${name} for this architecture`);
  }
  return weights;
}

const isPositiveInteger = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;

/** Throws naming the tensor and the element (row, column) of the first NaN or infinity. */
function checkFinite(path: string, name: string, { shape, data }: Tensor): void {
  for (let i = 0; i < data.length; i++) {
    if (Number.isFinite(data[i])) continue;
    const at = shape.length === 2 ? `[${Math.floor(i / shape[1])}, ${i % shape[1]}]` : `[${i}]`;
    throw new ModelFileError(path, `tensor ${name} holds ${data[i]} at ${at}: the weights are corrupt or training diverged`);
  }
}
