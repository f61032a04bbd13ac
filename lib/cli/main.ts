#!/usr/bin/env node
import { benchCommand } from './bench';
import { doctorCommand } from './doctor';
import { evalCommand } from './eval';
import { infoCommand } from './info';
import { predictCommand } from './predict';
import { readCommand } from './read';
import { serveCommand } from './serve';
import { trainCommand } from './train';
import { UsageError, type CommandResult } from './options';


const COMMANDS: Record<string, (argv: string[]) => Promise<CommandResult>> = {
  train: trainCommand,
  eval: evalCommand,
  predict: predictCommand,
  read: readCommand,
  serve: serveCommand,
  info: infoCommand,
  doctor: doctorCommand,
  bench: benchCommand,
};

const USAGE = `Usage: digitnet <command> [options]

Commands:
  train     train a network on MNIST and report its test accuracy
  eval      evaluate a saved model on the MNIST test set
  predict   classify digits (PNG and JPEG pictures, IDX files) with a saved model
  read      read the numbers written in pictures (PNG, JPEG) with a saved model
  serve     a local web page: draw digits for a model, train and watch the curves live
  info      show a saved model's layers, output shapes and parameter counts
  doctor    show what this installation runs on: backend and where it loaded from, CPU, data
  bench     time the native and TypeScript backends (GEMM and training epochs)

Every command takes --json (one JSON object on stdout) and --help.`;

/** Runs the CLI; resolves with the process exit code (0 success, 1 user error). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new UsageError(`unknown command '${name}' (one of ${Object.keys(COMMANDS).join(', ')}; see digitnet --help)`);
    const result = await command(rest);
    if ('json' in result) process.stdout.write(`${JSON.stringify(result.json)}\n`);
    else process.stdout.write(`${'text' in result ? result.text : result.help}\n`);
    const failures = 'help' in result ? [] : (result.failures ?? []);
    for (const failure of failures) process.stderr.write(`digitnet: ${name}: ${failure}\n`);
    return failures.length > 0 ? 1 : 0;
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    const where = error instanceof UsageError ? '' : `${name}: `;
    process.stderr.write(process.env.DIGITNET_DEBUG === '1' ? `${error.stack}\n` : `digitnet: ${where}${error.message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
