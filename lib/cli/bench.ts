import { BENCH_SECTIONS, runBench } from './bench/run';
import { formatReport } from './bench/text';
import { choiceOption, parseCommand, type CommandSpec, type CommandResult } from './options';

const spec: CommandSpec = {
  name: 'bench',
  usage: `Usage: digitnet bench [options]

Times the native and the pure TypeScript backends side by side: GEMM throughput (GFLOPS) on the
shapes of bench/gemm-shapes.json; convolution throughput (GFLOPS: forward, input gradient, weight
gradient) on the two convolutions of the reference net (1x28x28 -> conv 5x5 24 -> pool 2 -> conv
3x3 32) at batch 256, with native 1 thread as a percentage of one thread's FMA peak; and seconds
per training epoch of 784-128-10 and 784-256-128-10 at batch 64 and 256, and of the reference
CNN (the net above, then dense 256 and 10; batch 256, Adam: the one bench/torch-cnn.py times in
PyTorch); at 1 thread and at all threads, with native / TypeScript speedups. Medians of repeated
runs after warm-up, with their min-max spread. Progress goes to stderr.

Options:
  --quick               a smoke run (under 30 s): fewer samples, smaller epochs, no 1024^3 on TypeScript
  --only SECTION        one part: gemm | conv | train | cnn-epoch
  --json                print one JSON object on stdout: cpu, threads, node, notes, fmaPeakGflops,
                        gemm rows, conv rows, train rows, cnnEpoch rows
  -h, --help            this help

Environment: DIGITNET_DATA (MNIST folder for the training rows).`,
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
  },
};

/** `digitnet bench`. */
export async function benchCommand(argv: string[]): Promise<CommandResult> {
  const { values, json, help } = parseCommand(spec, argv);
  if (help) return { help: spec.usage };
  const only = choiceOption(values, 'only', BENCH_SECTIONS);
  const report = await runBench({ quick: values.quick === true, only, progress: (line) => process.stderr.write(`digitnet bench: ${line}\n`) });
  return json ? { json: { ...report } } : { text: formatReport(report) };
}
