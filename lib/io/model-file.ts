import type { NetworkConfig } from '../layers/registry';
import { encodeModel, modelContents, type ModelContents } from './model';
import { writeFileAtomic } from './atomic-write';
import { readSafetensors } from './safetensors-file';
import type { Tensor } from './safetensors';

/** Writes a model file (see `encodeModel`) atomically: a temporary file, then a rename. */
export async function writeModel(path: string, config: NetworkConfig, tensors: Record<string, Tensor>): Promise<void> {
  await writeFileAtomic(path, encodeModel(path, config, tensors));
}

/** Reads a model file; checks the format tag and that its tensors are exactly those the architecture needs. */
export async function readModel(path: string): Promise<ModelContents> {
  const { tensors, metadata } = await readSafetensors(path);
  return modelContents(path, tensors, metadata);
}
