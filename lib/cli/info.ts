import { getBackend } from '../backend';
import { tensorValues } from '../model/summary';
import { Network } from '../model/network';
import { parseCommand, stringOption, UsageError, type CommandResult, type CommandSpec } from './options';

const spec: CommandSpec = {
  name: 'info',
  usage: `Usage: digitnet info --model FILE [options]

Describes a saved model: its layers, each layer's output shape and parameter count, the totals.

Options:
  --model FILE      a model or checkpoint saved by digitnet (safetensors)
  --json            print one JSON object on stdout (with the architecture as Network.create takes it)
  -h, --help        this help`,
  options: { model: { type: 'string' } },
};

/** `digitnet info`. */
export async function infoCommand(argv: string[]): Promise<CommandResult> {
  const { values, json, help } = parseCommand(spec, argv);
  if (help) return { help: spec.usage };
  const model = stringOption(values, 'model');
  if (!model) throw new UsageError('digitnet info: --model FILE is required (see digitnet info --help)');
  // Describing a file computes nothing: the TypeScript backend loads anywhere, without the addon.
  const net = await Network.load(model, { backend: getBackend('ts') });
  if (!json) return { text: `${model}: ${net.architecture}\n${net.summary()}` };
  const layers = net.layers.map((layer) => ({
    index: layer.index,
    type: layer.config.type,
    outputShape: layer.outputShape,
    parameters: tensorValues(layer.params),
  }));
  const parameters = layers.reduce((sum, layer) => sum + layer.parameters, 0);
  const buffers = net.layers.reduce((sum, layer) => sum + tensorValues(layer.buffers), 0);
  return { json: { model, architecture: net.architecture, config: net.config, layers, parameters, buffers } };
}
