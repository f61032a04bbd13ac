import { sameShape, shapeSize, toShape } from '../core/shape';
import { readCheckpoint, writeCheckpoint as writeCheckpointFile } from '../io/checkpoint';
import type { Tensor } from '../io/safetensors';
import type { NetworkConfig } from '../layers/registry';
import type { Network } from '../model/network';
import { Optimizer } from './optimizers';
import type { EpochRecord, FitPlan, TrainingState } from './types';

/**
 * What a checkpoint saves besides the model (lib/io/checkpoint.ts is the file format): the
 * optimizer's moments as the tensors `training.optimizer.m` / `.v` and, in
 * `__metadata__.checkpoint`, JSON with the epoch, step counts, RNG state, history and the
 * training options that must match on resume.
 */
const MOMENT_NAMES = { m: 'optimizer.m', v: 'optimizer.v' } as const;

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
    // Only when set, so that checkpoints written before the option existed still resume.
    ...(plan.validationSplit !== undefined ? { validationSplit: plan.validationSplit } : {}),
    ...(plan.augment !== undefined ? { augment: plan.augment } : {}),
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
  const training: Record<string, Tensor> = {};
  for (const key of ['m', 'v'] as const) {
    if (state[key].length > 0) training[MOMENT_NAMES[key]] = { shape: [state[key].length], data: state[key] };
  }
  const checkpoint: CheckpointMetadata = {
    epoch: state.epoch, steps: state.steps, t: state.t, rng: state.rng, options: resumeOptions(plan), history: state.history,
  };
  return writeCheckpointFile(path, net.config, net.tensors(), training, JSON.stringify(checkpoint));
}

/**
 * Reads a checkpoint for a fit of `net` with `plan`: checks that architecture and options match
 * (the error names what differs), then copies its weights into `net` and returns the training state.
 */
export async function loadCheckpoint(path: string, net: Network, plan: FitPlan): Promise<TrainingState> {
  const { model, training, state } = await readCheckpoint(path);
  if (state === undefined) throw new Error(`${path}: cannot resume: a model file without training state (write checkpoints with the checkpoint option)`);
  let saved: CheckpointMetadata;
  try {
    saved = JSON.parse(state);
  } catch {
    throw new Error(`${path}: metadata checkpoint is not valid JSON`);
  }
  checkMetadata(path, saved);
  checkArchitecture(path, model.config, net);
  const expected = resumeOptions(plan);
  for (const key of new Set([...Object.keys(expected), ...Object.keys(saved.options)])) {
    if (canonical(saved.options[key]) !== canonical(expected[key])) {
      throw new Error(`${path}: cannot resume: the checkpoint was trained with ${key} ${canonical(saved.options[key]) ?? 'unset'}, this fit has ${canonical(expected[key]) ?? 'unset'}`);
    }
  }
  const m = training.get(MOMENT_NAMES.m)?.data ?? new Float32Array(0);
  const v = training.get(MOMENT_NAMES.v)?.data ?? new Float32Array(0);
  try {
    new Optimizer(plan.optimizer, net.params.length).restore(saved.t, m, v);
  } catch (error) {
    throw new Error(`${path}: cannot resume: ${(error as Error).message}`);
  }
  net.assign(model.tensors);
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

/**
 * Throws unless the checkpoint's architecture is `net`'s, naming the first difference. An input
 * given as 784 and one given as [1, 28, 28] are the same when the first layer reads it as a vector
 * (dense), which is what older checkpoints of MNIST networks hold.
 */
function checkArchitecture(path: string, saved: NetworkConfig, net: Network): void {
  const ours = net.config;
  const savedShape = toShape(saved.input, 'input');
  const flat = (config: NetworkConfig) => config.layers[0]?.type === 'dense';
  const sameInput = sameShape(savedShape, net.inputShape) || (flat(saved) && flat(ours) && shapeSize(savedShape) === net.inputSize);
  const sizes = (config: NetworkConfig) => describe({ ...config, input: 0 });
  if (!sameInput || sizes(saved) !== sizes(ours)) {
    throw new Error(`${path}: cannot resume: the checkpoint holds a ${describe(saved)} network, this one is ${describe(ours)}`);
  }
  ours.layers.forEach((layer, i) => {
    if (canonical(saved.layers[i]) !== canonical(layer)) {
      throw new Error(`${path}: cannot resume: layer ${i} is ${canonical(saved.layers[i])} in the checkpoint, ${canonical(layer)} in this network`);
    }
  });
}

/** An architecture in messages: its input and its layer types and sizes. */
function describe(config: NetworkConfig): string {
  const layers = config.layers.map((layer) => ('units' in layer ? String(layer.units) : layer.type));
  return [JSON.stringify(config.input), ...layers].join('-');
}
