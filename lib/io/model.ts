import { ModelFileError } from '../core/errors';
import { toShape } from '../core/shape';
import { buildLayers, type NetworkConfig } from '../layers/registry';
import { encodeSafetensors, parseSafetensors, type Tensor } from './safetensors';

/** `__metadata__.format` of digitnet model files. */
export const MODEL_FORMAT = 'digitnet/1';

/** Tensors named with this prefix are training state (checkpoints), not weights: a model reader skips them. */
export const TRAINING_STATE_PREFIX = 'training.';

/** A model file's contents, checked: the architecture, and every tensor it needs by name (`layers.{i}.{name}`). */
export interface ModelContents {
  config: NetworkConfig;
  tensors: Map<string, Tensor>;
}

/**
 * A model as safetensors bytes (`file` names it in errors): each layer's tensors as
 * `layers.{i}.{name}` (F32, PyTorch's names and layouts), the architecture as JSON in
 * `__metadata__.digitnet`. Refuses tensors that are not all finite, so a diverged network never
 * replaces a good file.
 */
export function encodeModel(file: string, config: NetworkConfig, tensors: Record<string, Tensor>): Uint8Array[] {
  refuseNonFinite(file, tensors);
  return encodeSafetensors(file, tensors, modelMetadata(config));
}

/** The `__metadata__` of a model file of architecture `config`. */
export function modelMetadata(config: NetworkConfig): Record<string, string> {
  return { format: MODEL_FORMAT, digitnet: JSON.stringify(config) };
}

/** Throws, naming the tensor and element, unless every value is finite. */
export function refuseNonFinite(path: string, tensors: Record<string, Tensor>): void {
  for (const [name, tensor] of Object.entries(tensors)) checkFinite(path, name, tensor);
}

/** A model file's bytes (`file` names them in errors), checked as `modelContents` checks a file. */
export async function parseModel(file: string, bytes: Uint8Array): Promise<ModelContents> {
  const { tensors, metadata } = await parseSafetensors(file, bytes);
  return modelContents(file, tensors, metadata);
}

/**
 * The model in a safetensors file already read (`path` names it in errors); tensors under
 * `TRAINING_STATE_PREFIX` are left to checkpoints. Everything is checked here, before a network
 * is built from it: the architecture (each layer as `Network.create` checks it), the tensors
 * exactly the ones it needs with the shapes it needs (so a corrupt header cannot make a network
 * larger than the file), and every value finite.
 */
export function modelContents(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string>): ModelContents {
  if (metadata.format !== MODEL_FORMAT) {
    throw new ModelFileError(path, `not a digitnet model (metadata format is ${JSON.stringify(metadata.format)}, expected "${MODEL_FORMAT}")`);
  }
  let config: NetworkConfig;
  try {
    config = JSON.parse(metadata.digitnet ?? '');
  } catch {
    throw new ModelFileError(path, 'metadata digitnet is not valid JSON');
  }
  if (typeof config !== 'object' || config === null || !Array.isArray(config.layers)) {
    throw new ModelFileError(path, 'metadata digitnet must be an object with input and layers');
  }
  let layers;
  try {
    layers = buildLayers(toShape(config.input, 'metadata digitnet: input'), config.layers, 'metadata digitnet');
  } catch (error) {
    throw new ModelFileError(path, (error as Error).message);
  }
  const needed = new Map<string, Tensor>();
  layers.forEach((layer, i) => {
    for (const spec of [...layer.params, ...layer.buffers]) {
      const name = `layers.${i}.${spec.name}`;
      const found = tensors.get(name);
      if (!found) throw new ModelFileError(path, `tensor ${name} is missing`);
      if (found.shape.join('x') !== spec.shape.join('x')) {
        throw new ModelFileError(path, `tensor ${name} has shape [${found.shape}], the architecture needs [${spec.shape}]`);
      }
      checkFinite(path, name, found);
      needed.set(name, found);
    }
  });
  for (const name of tensors.keys()) {
    if (!needed.has(name) && !name.startsWith(TRAINING_STATE_PREFIX)) throw new ModelFileError(path, `unexpected tensor ${name} for this architecture`);
  }
  return { config, tensors: needed };
}

/** Throws naming the tensor and the element (its index per dimension) of the first NaN or infinity. */
function checkFinite(path: string, name: string, { shape, data }: Tensor): void {
  for (let i = 0; i < data.length; i++) {
    if (Number.isFinite(data[i])) continue;
    const index: number[] = [];
    let rest = i;
    for (let d = shape.length - 1; d >= 0; d--) {
      index.unshift(rest % shape[d]);
      rest = Math.floor(rest / shape[d]);
    }
    throw new ModelFileError(path, `tensor ${name} holds ${data[i]} at [${index.join(', ')}]: the weights are corrupt or training diverged`);
  }
}
