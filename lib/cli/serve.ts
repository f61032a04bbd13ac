import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { displayPath } from '../core/display-path';
import { cannotRead, ModelFileError } from '../core/errors';
import { Network } from '../model/network';
import { intOption, parseCommand, stringOption, type CommandResult, type CommandSpec } from './options';
import { createServer } from './serve/server';
import { TrainingRuns } from './serve/training-runs';

const spec: CommandSpec = {
  name: 'serve',
  usage: `Usage: digitnet serve [options]

Starts a local web page with two panels. Draw: draw a digit (mouse, touch or pen) or drop a
picture, and watch the model's answer, a bar per class and the 28x28 it sees; the model runs in
the page. Train: pick a preset, epochs, layers and rate, start and stop a run on this machine,
and watch the loss and accuracy curves, the confusion matrix and the test digits it gets most
confidently wrong after each epoch; download the model. A finished run's model goes to Draw.

Options:
  --model FILE        the model Draw starts with (safetensors, from digitnet train --out)
  --port N            port to listen on (default 8000; 0 picks a free one)
  --host ADDR         address to listen on (default 127.0.0.1: this machine only)
  --data DIR          MNIST folder for training runs (as digitnet train --data)
  --json              print one JSON object on stdout when the server stops
  -h, --help          this help

The URL is printed on stderr once the server listens. Ctrl-C stops any run and the server.`,
  options: { model: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' } },
};

/** `digitnet serve`: runs until SIGINT or SIGTERM. */
export async function serveCommand(argv: string[]): Promise<CommandResult> {
  const { values, json, help } = parseCommand(spec, argv);
  if (help) return { help: spec.usage };
  const port = intOption(values, 'port', 0, 65535) ?? 8000;
  const host = stringOption(values, 'host') ?? '127.0.0.1';
  const modelFile = stringOption(values, 'model');
  const runs = new TrainingRuns(stringOption(values, 'data'));
  if (modelFile) {
    // Read once and checked here, so that a bad file fails the command, not the page.
    const bytes = await readModelBytes(modelFile);
    const net = await Network.fromBytes(bytes, { backend: 'ts', name: modelFile });
    runs.setModel(bytes, net.architecture, displayPath(modelFile));
  }
  const server = createServer(runs);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use: pick another with --port` : `cannot listen on ${host}:${port}: ${error.message}`)),
    );
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
  process.stderr.write(`digitnet: serving on ${url} (Ctrl-C to stop)\n`);

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.once('SIGINT', () => process.exit(130));
      process.stderr.write('digitnet: stopping: ending any training run, closing the server (Ctrl-C again to quit at once)\n');
      runs.close().then(() => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return json ? { json: { url, stopped: true } } : { text: `digitnet: server at ${url} stopped` };
}

/** A model file's bytes; a file that cannot be read is a ModelFileError naming it, as Network.load says it. */
async function readModelBytes(file: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    throw new ModelFileError(file, cannotRead(error));
  }
}
