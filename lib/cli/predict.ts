import { getBackend } from '../backend';
import { readIdx } from '../data/idx';
import { Network } from '../model/network';
import { choiceOption, parseCommand, stringOption, UsageError, type CommandSpec, type CommandResult } from './options';

const spec: CommandSpec = {
  name: 'predict',
  usage: `Usage: digitnet predict --model FILE [options] INPUT...

Classifies the images of IDX image files (magic 0x0803, raw or .gz) with a saved model.

Options:
  --model FILE      a model saved by digitnet train --out (safetensors)
  --index A:B       only images A (inclusive) to B (exclusive) of each file; --index A for one image
  --backend NAME    native | ts
  --json            print one JSON object on stdout
  -h, --help        this help`,
  options: { model: { type: 'string' }, index: { type: 'string' }, backend: { type: 'string' } },
  positionals: true,
};

/** `digitnet predict`. */
export async function predictCommand(argv: string[]): Promise<CommandResult> {
  const { values, positionals, json, help } = parseCommand(spec, argv);
  if (help) return { help: spec.usage };
  const model = stringOption(values, 'model');
  if (!model) throw new UsageError('digitnet predict: --model FILE is required (see digitnet predict --help)');
  if (positionals.length === 0) throw new UsageError('digitnet predict: give at least one IDX image file (see digitnet predict --help)');
  const backend = getBackend(choiceOption(values, 'backend', ['native', 'ts'] as const));
  const net = await Network.load(model, { backend });
  const predictions: { input: string; index: number; label: number; probabilities: number[] }[] = [];
  for (const input of positionals) {
    const idx = await readIdx(input);
    if (idx.dims.length !== 3 || idx.dims[1] * idx.dims[2] !== net.inputSize) {
      throw new Error(`${input}: images are [${idx.dims}], the model takes ${net.inputSize} pixels per image`);
    }
    const [start, end] = indexRange(stringOption(values, 'index'), idx.dims[0], input);
    const images = idx.data.subarray(start * net.inputSize, end * net.inputSize);
    const { labels, probabilities } = net.predict(images, end - start);
    for (let i = 0; i < end - start; i++) {
      const probs = Array.from(probabilities.subarray(i * net.classes, (i + 1) * net.classes), (p) => Number(p.toPrecision(6)));
      predictions.push({ input, index: start + i, label: labels[i], probabilities: probs });
    }
  }
  if (json) return { json: { model, backend: backend.name, predictions } };
  return {
    text: predictions.map((p) => `${p.input}[${p.index}]: ${p.label} (${(100 * p.probabilities[p.label]).toFixed(1)}%)`).join('\n'),
  };
}

function indexRange(raw: string | undefined, count: number, input: string): [number, number] {
  if (raw === undefined) return [0, count];
  const match = /^(\d+)(?::(\d+))?$/.exec(raw.trim());
  if (!match) throw new UsageError(`--index must be A or A:B with integers, got '${raw}'`);
  const start = Number(match[1]);
  const end = match[2] === undefined ? start + 1 : Number(match[2]);
  if (start >= end || end > count) throw new UsageError(`--index ${raw} is outside ${input}, which holds ${count} images`);
  return [start, end];
}
