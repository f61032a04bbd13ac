import type { NetworkConfig } from '../layers/registry';
import { modelContents, modelMetadata, refuseNonFinite, TRAINING_STATE_PREFIX, type ModelContents } from './model';
import { readSafetensors, writeSafetensors } from './safetensors-file';
import type { Tensor } from './safetensors';

/**
 * A checkpoint file is a model file (same tensors and metadata, so `Network.load` reads it) plus
 * training tensors named `training.{name}` and, in `__metadata__.checkpoint`, a JSON string of
 * the training state. What that state holds is the trainer's business (lib/train/checkpoint-state.ts).
 */
export interface CheckpointContents {
  model: ModelContents;
  /** The training tensors by name, without the `training.` prefix. */
  training: Map<string, Tensor>;
  /** `__metadata__.checkpoint`, undefined in a plain model file. */
  state: string | undefined;
}

/** Writes a checkpoint atomically; refuses non-finite weights as a model file does. */
export function writeCheckpoint(
  path: string, config: NetworkConfig, tensors: Record<string, Tensor>, training: Record<string, Tensor>, state: string,
): Promise<void> {
  refuseNonFinite(path, tensors);
  const all = { ...tensors };
  for (const [name, tensor] of Object.entries(training)) all[`${TRAINING_STATE_PREFIX}${name}`] = tensor;
  return writeSafetensors(path, all, { ...modelMetadata(config), checkpoint: state });
}

/** Reads a checkpoint (or a model file, whose `state` is then undefined), the model part checked as `readModel` checks it. */
export async function readCheckpoint(path: string): Promise<CheckpointContents> {
  const { tensors, metadata } = await readSafetensors(path);
  const training = new Map<string, Tensor>();
  for (const [name, tensor] of tensors) if (name.startsWith(TRAINING_STATE_PREFIX)) training.set(name.slice(TRAINING_STATE_PREFIX.length), tensor);
  return { model: modelContents(path, tensors, metadata), training, state: metadata.checkpoint };
}
