import { readImage } from '../image/decode';
import { Ensemble } from '../model/ensemble';
import { pictureSetup, stem } from './pictures';
import { intOption, parseCommand, type CommandSpec, type CommandResult } from './options';

const spec: CommandSpec = {
  name: 'read',
  usage: `Usage: digitnet read --model FILE [options] PICTURE...

Reads the number written left to right in each picture (PNG or JPEG): the ink is cut into
digits (broken strokes joined, touching digits split where the model reads the parts best), and
each digit is preprocessed as MNIST's were and classified.

Options:
  --model FILE        a model saved by digitnet train --out (safetensors), taking 28x28 images;
                      repeat it to read with several models at once, their probabilities
                      averaged (an ensemble of readers trained with different --seed values)
  --digits N          the number has N digits (a postcode, a code of fixed length): read the
                      best reading with exactly N (default: as many as the ink shows)
  --polarity P        auto | dark-on-light | light-on-dark (default auto: detected)
  --save-input DIR    write each digit's 28x28 input to DIR as a PNG (<picture>-<k>.png)
  --backend NAME      native | ts
  --json              print one JSON object on stdout: each digit's box (picture pixels), label
                      and probability; "model" is the file, or the list of files of an ensemble
  -h, --help          this help

A picture that cannot be read (corrupt, no ink) is reported on stderr and the others are still
read; the exit code is then 1.`,
  options: { model: { type: 'string', multiple: true }, digits: { type: 'string' }, polarity: { type: 'string' }, 'save-input': { type: 'string' }, backend: { type: 'string' } },
  positionals: true,
};

/** `digitnet read`. */
export async function readCommand(argv: string[]): Promise<CommandResult> {
  const { values, positionals, json, help } = parseCommand(spec, argv);
  if (help) return { help: spec.usage };
  const count = intOption(values, 'digits', 1, 1000);
  const { models, nets, backend, polarity, saver } = await pictureSetup('read', values, positionals, 'picture (PNG or JPEG)');
  const reader = nets.length === 1 ? nets[0] : new Ensemble(nets);
  const readings = [];
  const failures: { input: string; error: string }[] = [];
  for (const input of positionals) {
    try {
      const { number, digits } = reader.readNumber(await readImage(input), { name: input, polarity, digits: count });
      const records = [];
      for (const [k, d] of digits.entries()) {
        const seen = saver ? { seen: await saver.save(`${stem(input)}-${k + 1}`, d.input) } : {};
        records.push({ box: d.box, label: d.label, probability: Number(d.probability.toPrecision(6)), ...seen });
      }
      readings.push({ input, number, digits: records });
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'ImageError') throw error;
      failures.push({ input, error: error.message });
    }
  }
  const reported = failures.map((f) => f.error);
  if (json) return { json: { model: models.length === 1 ? models[0] : models, backend: backend.name, readings, ...(failures.length ? { failures } : {}) }, failures: reported };
  const lines = readings.map((r) => {
    const least = Math.min(...r.digits.map((d) => d.probability));
    return `${r.input}: ${r.number} (${r.digits.length} digit${r.digits.length === 1 ? '' : 's'}, least sure ${(100 * least).toFixed(1)}%)`;
  });
  return { text: lines.join('\n'), failures: reported };
}
