import type { Dense, DenseSpec } from '../layers';
import type { NetworkConfig } from '../network';
import { readSafetensors, writeSafetensors, type Tensor } from './safetensors';

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
 * PyTorch nn.Linear layout), the architecture as JSON in `__metadata__.digitnet`.
 */
export function writeModel(path: string, config: NetworkConfig, layers: Dense[]): Promise<void> {
  const { tensors, metadata } = modelTensors(config, layers);
  return writeSafetensors(path, tensors, metadata);
}

/** The tensors and metadata of a model file (a checkpoint adds its training state to them). */
export function modelTensors(config: NetworkConfig, layers: Dense[]): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const tensors: Record<string, Tensor> = {};
  layers.forEach((layer, i) => {
    tensors[`layers.${i}.weight`] = { shape: [layer.units, layer.inputs], data: layer.weight };
    tensors[`layers.${i}.bias`] = { shape: [layer.units], data: layer.bias };
  });
  return { tensors, metadata: { format: MODEL_FORMAT, digitnet: JSON.stringify(config) } };
}

/** Reads a model file; checks the format tag and that every tensor has the shape the architecture needs. */
export async function readModel(path: string): Promise<ModelContents> {
  const { tensors, metadata } = await readSafetensors(path);
  return modelContents(path, tensors, metadata);
}

/** The model in a safetensors file already read (`path` names it in errors); tensors under `TRAINING_STATE_PREFIX` are left to checkpoints. */
export function modelContents(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string>): ModelContents {
  if (metadata.format !== MODEL_FORMAT) {
    throw new Error(`${path}: not a digitnet model (metadata format is ${JSON.stringify(metadata.format)}, expected "${MODEL_FORMAT}")`);
  }
  let config: ModelContents['config'];
  try {
    config = JSON.parse(metadata.digitnet ?? '');
  } catch {
    throw new Error(`${path}: metadata digitnet is not valid JSON`);
  }
  if (typeof config !== 'object' || config === null || !Array.isArray(config.layers)) {
    throw new Error(`${path}: metadata digitnet must be an object with input and layers`);
  }
  return {
    config,
    assign(layers: Dense[]): void {
      const expected = new Set<string>();
      layers.forEach((layer, i) => {
        for (const [name, shape, target] of [
          [`layers.${i}.weight`, [layer.units, layer.inputs], layer.weight],
          [`layers.${i}.bias`, [layer.units], layer.bias],
        ] as const) {
          expected.add(name);
          const tensor = tensors.get(name);
          if (!tensor) throw new Error(`${path}: tensor ${name} is missing`);
          if (tensor.shape.join('x') !== shape.join('x')) {
            throw new Error(`${path}: tensor ${name} has shape [${tensor.shape}], the architecture needs [${shape}]`);
          }
          target.set(tensor.data);
        }
      });
      for (const name of tensors.keys()) {
        if (!expected.has(name) && !name.startsWith(TRAINING_STATE_PREFIX)) throw new Error(`${path}: unexpected tensor ${name} for this architecture`);
      }
    },
  };
}
