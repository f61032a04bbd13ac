import type { Network } from '../model/network';
import { Optimizer } from '../train/optimizers';
import type { EpochRecord, FitPlan } from '../train/fit';
import type { TrainingState } from '../train/loop';
import { modelContents, modelTensors, refuseNonFinite, TRAINING_STATE_PREFIX } from './model';
import { readSafetensors, writeSafetensors } from './safetensors';

/**
 * A checkpoint is a model file (same tensors and metadata, so `Network.load` reads it) plus the
 * optimizer's moments as `training.optimizer.m` / `.v` and, in `__metadata__.checkpoint`, JSON
 * with the epoch, step counts, RNG state, history and the training options that must match on resume.
 */
const MOMENT_NAMES = { m: `${TRAINING_STATE_PREFIX}optimizer.m`, v: `${TRAINING_STATE_PREFIX}optimizer.v` } as const;

/** What `__metadata__.checkpoint` holds. */
interface CheckpointMetadata {
  epoch: number;
  steps: number;
  t: number;
  rng: number[];
  options: Record<string, unknown>;
  history: EpochRecord[];
}

/** The training options a resumed run must share with the checkpoint (epochs may grow). JSON-safe: Infinity is 'full'. */
function resumeOptions(plan: FitPlan): Record<string, unknown> {
  return {
    optimizer: plan.optimizer,
    schedule: plan.schedule,
    loss: plan.loss,
    batchSize: plan.batchSize === Infinity ? 'full' : plan.batchSize,
    shuffle: plan.shuffle,
    seed: plan.seed,
    limit: plan.limit ?? 'all',
  };
}

/** JSON with object keys sorted, so that `{ name, lr }` and `{ lr, name }` compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Saves `net`'s weights and the training state after a completed epoch, atomically. */
export function writeCheckpoint(path: string, net: Network, plan: FitPlan, state: TrainingState): Promise<void> {
  const { tensors, metadata } = modelTensors(net.config, net.layers);
  refuseNonFinite(path, tensors);
  for (const key of ['m', 'v'] as const) {
    if (state[key].length > 0) tensors[MOMENT_NAMES[key]] = { shape: [state[key].length], data: state[key] };
  }
  const checkpoint: CheckpointMetadata = {
    epoch: state.epoch, steps: state.steps, t: state.t, rng: state.rng, options: resumeOptions(plan), history: state.history,
  };
  return writeSafetensors(path, tensors, { ...metadata, checkpoint: JSON.stringify(checkpoint) });
}

/**
 * Reads a checkpoint for a fit of `net` with `plan`: checks that architecture and options match
 * (the error names what differs), then copies its weights into `net` and returns the training state.
 */
export async function loadCheckpoint(path: string, net: Network, plan: FitPlan): Promise<TrainingState> {
  const { tensors, metadata } = await readSafetensors(path);
  const model = modelContents(path, tensors, metadata);
  if (metadata.checkpoint === undefined) throw new Error(`${path}: cannot resume: a model file without training state (write checkpoints with the checkpoint option)`);
  let saved: CheckpointMetadata;
  try {
    saved = JSON.parse(metadata.checkpoint);
  } catch {
    throw new Error(`${path}: metadata checkpoint is not valid JSON`);
  }
  checkMetadata(path, saved);
  checkArchitecture(path, JSON.parse(metadata.digitnet ?? '{}'), net);
  const expected = resumeOptions(plan);
  for (const [key, value] of Object.entries(expected)) {
    if (canonical(saved.options[key]) !== canonical(value)) {
      throw new Error(`${path}: cannot resume: the checkpoint was trained with ${key} ${canonical(saved.options[key])}, this fit has ${canonical(value)}`);
    }
  }
  const m = tensors.get(MOMENT_NAMES.m)?.data ?? new Float32Array(0);
  const v = tensors.get(MOMENT_NAMES.v)?.data ?? new Float32Array(0);
  try {
    new Optimizer(plan.optimizer, net.params.length).restore(saved.t, m, v);
  } catch (error) {
    throw new Error(`${path}: cannot resume: ${(error as Error).message}`);
  }
  model.assign(net.layers);
  return { epoch: saved.epoch, steps: saved.steps, t: saved.t, m, v, rng: saved.rng, history: saved.history };
}

function checkMetadata(path: string, saved: CheckpointMetadata): void {
  const counts = ['epoch', 'steps', 't'] as const;
  for (const key of counts) {
    if (!Number.isSafeInteger(saved?.[key]) || saved[key] < 0) throw new Error(`${path}: metadata checkpoint: ${key} must be an integer >= 0, got ${JSON.stringify(saved?.[key])}`);
  }
  if (!Array.isArray(saved.rng) || saved.rng.length !== 4 || !saved.rng.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
    throw new Error(`${path}: metadata checkpoint: rng must be four u32 words, got ${JSON.stringify(saved.rng)}`);
  }
  if (typeof saved.options !== 'object' || saved.options === null || !Array.isArray(saved.history)) {
    throw new Error(`${path}: metadata checkpoint must hold options and history`);
  }
}

/** Throws unless the checkpoint's architecture is `net`'s, naming the first difference. */
function checkArchitecture(path: string, saved: { input?: number; layers?: unknown[] }, net: Network): void {
  const layers = saved.layers ?? [];
  const shape = [saved.input, ...layers.map((layer) => (layer as { units?: number }).units)].join('-');
  if (shape !== net.shape) throw new Error(`${path}: cannot resume: the checkpoint holds a ${shape} network, this one is ${net.shape}`);
  net.config.layers.forEach((layer, i) => {
    if (canonical(layers[i]) !== canonical(layer)) {
      throw new Error(`${path}: cannot resume: layer ${i} is ${canonical(layers[i])} in the checkpoint, ${canonical(layer)} in this network`);
    }
  });
}
