import type { Dataset } from '../../core/dataset';
import { encodeModel } from '../../io/model';
import type { Network } from '../../model/network';
import { PRESETS, type Preset } from '../../train/presets';
import type { ModelInfo, PresetChoice, ServerEvent } from '../../web/events';
import { parseCommand, UsageError } from '../options';
import { confidentMistakes, mistakeImages } from '../report';
import { setUpTraining, trainSpec } from '../train';

/** What the Train panel may set: `digitnet train`'s options that name no file and no machine setting. */
const PAGE_OPTIONS = ['preset', 'layers', 'activation', 'epochs', 'batch', 'optimizer', 'lr', 'seed', 'limit', 'augment'];
/** Mistakes shown after each epoch. */
const SHOWN_MISTAKES = 24;

/** A second start while a run is going. */
export class RunBusyError extends Error {
  override name = 'RunBusyError';
}

/** Presets that train number readers (for `digitnet read`), not digit classifiers for the Draw panel. */
const READERS = Object.entries(PRESETS as Record<string, Preset>).filter(([, preset]) => preset.windows).map(([name]) => name);

/** The presets as the Train panel offers them (the Draw panel reads single digits: no readers). */
export const PRESET_CHOICES: PresetChoice[] = Object.entries(PRESETS).filter(([name]) => !READERS.includes(name)).map(([name, preset]) => ({
  name,
  description: preset.description,
  epochs: preset.fit.epochs,
  lr: preset.fit.optimizer.lr,
}));

/**
 * The server's training: one run at a time, in the training worker (the event loop stays free),
 * its events kept for pages that connect later, and the model the Draw panel uses.
 */
export class TrainingRuns {
  private run: { abort: AbortController; done: Promise<void> } | undefined;
  private starting = false;
  private log: ServerEvent[] = [];
  private readonly listeners = new Set<(event: ServerEvent) => void>();
  private current: { info: ModelInfo; bytes: Uint8Array } | undefined;
  /** Starts at the clock, so that a page open across a server restart still sees a new model as new. */
  private versions = Date.now();

  /** `dataDir` is `digitnet train --data` for every run. */
  constructor(private readonly dataDir: string | undefined) {}

  /** The model the Draw panel uses, if there is one yet. */
  get model(): { info: ModelInfo; bytes: Uint8Array } | undefined {
    return this.current;
  }

  /** Makes `bytes` (a model file's) the model the page uses. */
  setModel(bytes: Uint8Array, architecture: string, source: string): ModelInfo {
    const info = { architecture, source, version: ++this.versions };
    this.current = { info, bytes };
    return info;
  }

  /** Calls `listener` with `hello` and the latest run's events so far, then with each new one; returns the unsubscribe. */
  subscribe(listener: (event: ServerEvent) => void): () => void {
    listener({ type: 'hello', presets: PRESET_CHOICES, model: this.current?.info ?? null, running: this.busy });
    for (const event of this.log) listener(event);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether a run is starting or going. */
  get busy(): boolean {
    return this.starting || this.run !== undefined;
  }

  /**
   * Starts a run with the Train panel's fields (strings, numbers, or `augment: true`); resolves
   * once the data is loaded and the network built. A field the CLI would refuse is a UsageError
   * with the CLI's message; a start while a run is going is a RunBusyError.
   */
  async start(fields: Record<string, unknown>): Promise<{ network: string }> {
    if (this.busy) throw new RunBusyError('a training run is already going: stop it first, or wait for it to end');
    this.starting = true;
    try {
      const { values } = parseCommand(trainSpec, [...pageArguments(fields), ...(this.dataDir ? ['--data', this.dataDir] : [])]);
      const setup = await setUpTraining(values);
      const abort = new AbortController();
      this.log = [];
      this.emit({
        type: 'start', network: setup.net.architecture, preset: setup.presetName, backend: setup.backend.name,
        threads: setup.backend.getThreads(), epochs: setup.fit.epochs ?? 0, images: Math.min(setup.fit.limit ?? Infinity, setup.train.count),
      });
      this.run = { abort, done: this.train(setup.net, setup.train, setup.test, setup.fit, abort.signal).finally(() => (this.run = undefined)) };
      return { network: setup.net.architecture };
    } finally {
      this.starting = false;
    }
  }

  /** Stops the run after its current step; false when none is going. */
  stop(): boolean {
    if (!this.run) return false;
    this.run.abort.abort();
    return true;
  }

  /** Stops any run and waits for it to end. */
  async close(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.abort.abort();
    await run.done;
  }

  private async train(net: Network, train: Dataset, test: Dataset, fit: Parameters<Network['fit']>[1], signal: AbortSignal): Promise<void> {
    try {
      const history = await net.fit(train, {
        ...fit,
        validation: test,
        signal,
        onBatch: ({ epoch, batch, batches, loss, accuracy }) => this.emit({ type: 'batch', epoch, step: (epoch - 1) * batches + batch, batches, loss, accuracy }),
        onEpoch: (record) => {
          const { confusion } = net.evaluate(test);
          this.emit({ type: 'epoch', record, confusion, mistakes: mistakeImages(confidentMistakes(net, test, SHOWN_MISTAKES)) });
        },
      });
      if (history.steps === 0) {
        this.emit({ type: 'end', stopped: history.stopped, message: 'stopped before the first step: the Draw panel keeps its model', model: null });
        return;
      }
      const { accuracy } = net.evaluate(test);
      const info = this.setModel(Buffer.concat(encodeModel('trained model', net.config, net.tensors())), net.architecture, `the run that just ${history.stopped === 'aborted' ? 'stopped' : 'ended'}`);
      const how = history.stopped === 'aborted' ? `stopped after ${history.steps} step(s)` : `finished ${history.epochs.length} epoch(s)`;
      this.emit({ type: 'end', stopped: history.stopped, testAccuracy: accuracy, message: `${how} in ${history.seconds.toFixed(1)} s: test accuracy ${(100 * accuracy).toFixed(2)}%; the Draw panel now uses this model`, model: info });
    } catch (error) {
      this.emit({ type: 'end', stopped: 'failed', message: `training failed: ${(error as Error).message}`, model: null });
    }
  }

  private emit(event: ServerEvent): void {
    this.log.push(event);
    for (const listener of this.listeners) listener(event);
  }
}

/** The Train panel's fields as `digitnet train` arguments; a blank field keeps the preset's value. */
function pageArguments(fields: Record<string, unknown>): string[] {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new UsageError('the training parameters must be a JSON object');
  const args: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (!PAGE_OPTIONS.includes(name)) throw new UsageError(`unknown training parameter '${name}' (one of ${PAGE_OPTIONS.join(', ')})`);
    if (name === 'preset' && READERS.includes(String(value))) {
      throw new UsageError(`the ${String(value)} preset trains a network that reads whole numbers, not the single digits drawn here: train it with digitnet train --preset ${String(value)}`);
    }
    if (name === 'augment') {
      if (typeof value !== 'boolean') throw new UsageError(`--augment must be true or false, got ${JSON.stringify(value)}`);
      if (value) args.push('--augment');
    } else if (typeof value === 'number' || (typeof value === 'string' && value.trim() !== '')) {
      args.push(`--${name}=${String(value)}`);
    } else if (value !== '' && value !== null && value !== undefined) {
      throw new UsageError(`--${name} must be a string or a number, got ${JSON.stringify(value)}`);
    }
  }
  return args;
}
