// What `digitnet serve` tells its page over server-sent events (GET /api/events), one JSON object
// per event. A page that connects gets `hello`, then every event of the latest run so far, then
// the live ones.
import type { EpochRecord } from '../train/types';
import type { MistakeImage, StepPoint } from './charts';

/** A preset as the Train panel offers it. */
export interface PresetChoice {
  name: string;
  description: string;
  epochs: number;
  lr: number;
}

/** The model the Draw panel uses (GET /model serves its bytes). */
export interface ModelInfo {
  architecture: string;
  /** Where it came from: a file given with --model, or the training run that made it. */
  source: string;
  /** Changes whenever the model does, so the page knows to fetch it again. */
  version: number;
}

export type ServerEvent =
  | { type: 'hello'; presets: PresetChoice[]; model: ModelInfo | null; running: boolean }
  | { type: 'start'; network: string; preset: string; backend: string; threads: number; epochs: number; images: number }
  | ({ type: 'batch'; epoch: number } & StepPoint)
  | { type: 'epoch'; record: EpochRecord; confusion: number[][]; mistakes: MistakeImage[] }
  | { type: 'end'; stopped: 'completed' | 'target' | 'aborted' | 'failed'; message: string; testAccuracy?: number; model: ModelInfo | null };
