import { readIdx } from '../data/idx';
import { readImage } from '../image/decode';
import { isPictureFile, pictureSetup, stem } from './pictures';
import { parseCommand, stringOption, UsageError, type CommandSpec, type CommandResult } from './options';

const spec: CommandSpec = {
  name: 'predict',
  usage: `Usage: digitnet predict --model FILE [options] INPUT...

Classifies digits with a saved model. An INPUT is a picture of one digit (PNG or JPEG: a photo,
a scan, a drawing), preprocessed as MNIST's digits were (see the README), or an IDX image file
(magic 0x0803, raw or .gz) of images the model's size.

Options:
  --model FILE        a model saved by digitnet train --out (safetensors)
  --index A:B         IDX files: only images A (inclusive) to B (exclusive); --index A for one image
  --polarity P        pictures: auto | dark-on-light | light-on-dark (default auto: detected)
  --save-input DIR    write each 28x28 input the model saw to DIR as a PNG (white ink on black)
  --backend NAME      native | ts
  --json              print one JSON object on stdout
  -h, --help          this help

A picture that cannot be read (corrupt, no ink) is reported on stderr and the others are still
classified; the exit code is then 1.`,
  options: { model: { type: 'string' }, index: { type: 'string' }, polarity: { type: 'string' }, 'save-input': { type: 'string' }, backend: { type: 'string' } },
  positionals: true,
};

/** One classified input: a picture, or one image of an IDX file (`index`). */
interface PredictionRecord {
  input: string;
  index?: number;
  label: number;
  probabilities: number[];
  /** Where --save-input wrote the 28x28 the model saw. */
  seen?: string;
}

/** `digitnet predict`. */
export async function predictCommand(argv: string[]): Promise<CommandResult> {
  const { values, positionals, json, help } = parseCommand(spec, argv);
  if (help) return { help: spec.usage };
  const { models: [model], nets: [net], backend, polarity, saver } = await pictureSetup('predict', values, positionals, 'picture (PNG, JPEG) or IDX image file');
  const predictions: PredictionRecord[] = [];
  const failures: { input: string; error: string }[] = [];
  const round = (probabilities: Float32Array) => Array.from(probabilities, (p) => Number(p.toPrecision(6)));
  for (const input of positionals) {
    if (await isPictureFile(input)) {
      try {
        const { label, probabilities, input: seen } = net.predictImage(await readImage(input), { name: input, polarity });
        predictions.push({ input, label, probabilities: round(probabilities), ...(saver ? { seen: await saver.save(stem(input), seen) } : {}) });
      } catch (error) {
        if (!(error instanceof Error) || error.name !== 'ImageError') throw error;
        failures.push({ input, error: error.message });
      }
      continue;
    }
    const idx = await readIdx(input);
    if (idx.dims.length !== 3 || idx.dims[1] * idx.dims[2] !== net.inputSize) {
      throw new Error(`${input}: images are [${idx.dims}], the model takes ${net.inputSize} pixels per image`);
    }
    const [start, end] = indexRange(stringOption(values, 'index'), idx.dims[0], input);
    const { labels, probabilities } = net.predict(idx.data.subarray(start * net.inputSize, end * net.inputSize), end - start);
    for (let i = 0; i < end - start; i++) {
      const record: PredictionRecord = { input, index: start + i, label: labels[i], probabilities: round(probabilities.subarray(i * net.classes, (i + 1) * net.classes)) };
      if (saver) record.seen = await saver.save(`${stem(input)}-${start + i}`, Float32Array.from(idx.data.subarray((start + i) * net.inputSize, (start + i + 1) * net.inputSize), (v) => v / 255));
      predictions.push(record);
    }
  }
  const reported = failures.map((f) => f.error);
  if (json) return { json: { model, backend: backend.name, predictions, ...(failures.length ? { failures } : {}) }, failures: reported };
  const lines = predictions.map((p) => {
    const name = p.index === undefined ? p.input : `${p.input}[${p.index}]`;
    return `${name}: ${p.label} (${(100 * p.probabilities[p.label]).toFixed(1)}%)${p.seen ? `, saw ${p.seen}` : ''}`;
  });
  return { text: lines.join('\n'), failures: reported };
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
