import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * What a command produces: a JSON object (--json), human text, or its help. `failures` are inputs
 * it could not handle while it went on with the others: each is reported on stderr, and the exit
 * code is 1.
 */
export type CommandResult = ({ json: Record<string, unknown> } | { text: string }) & { failures?: string[] } | { help: string };

/** A mistake in how the command was called: exit 1 with the message, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** The shape of one command: its options, and its help text. */
export interface CommandSpec {
  name: string;
  usage: string;
  options: OptionSpecs;
  positionals?: boolean;
}

/** Parsed options: strings and booleans as node:util parseArgs gives them (a list for an option that may repeat). */
export type Values = Record<string, string | string[] | boolean | undefined>;

/** Parses argv for a command; `--json` and `--help` are common to all. Unknown options are a UsageError. */
export function parseCommand(spec: CommandSpec, argv: string[]): { values: Values; positionals: string[]; json: boolean; help: boolean } {
  try {
    const { values, positionals } = parseArgs({
      args: attachNegativeValues(spec.options, argv),
      options: { ...spec.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: spec.positionals ?? false,
      strict: true,
    });
    const v = values as Values;
    return { values: v, positionals, json: v.json === true, help: v.help === true };
  } catch (err) {
    throw new UsageError(`digitnet ${spec.name}: ${(err as Error).message.split('\n')[0]} (see digitnet ${spec.name} --help)`);
  }
}

/**
 * Joins `--name -1` into `--name=-1` for options that take a value, so that a negative number
 * reaches our range check (and its clear message) instead of parseArgs' "ambiguous" error.
 */
function attachNegativeValues(options: OptionSpecs, argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

/** An integer option within [min, max], or undefined when absent. */
export function intOption(values: Values, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^[+-]?\d+$/.test(raw.trim()) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer${max < Number.MAX_SAFE_INTEGER ? ` in [${min}, ${max}]` : ` >= ${min}`}, got '${raw}'`);
  }
  return n;
}

/** A number option greater than `above` (or at most `max`), or undefined when absent. */
export function numberOption(values: Values, name: string, above: number, max = Infinity): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n <= above || n > max) {
    throw new UsageError(`--${name} must be a number > ${above}${max < Infinity ? ` and <= ${max}` : ''}, got '${raw}'`);
  }
  return n;
}

/** One of `choices`, or undefined when absent. */
export function choiceOption<T extends string>(values: Values, name: string, choices: readonly T[]): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (!choices.includes(raw as T)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${raw}'`);
  return raw as T;
}

/** A string option, or undefined. */
export function stringOption(values: Values, name: string): string | undefined {
  const raw = values[name];
  return typeof raw === 'string' ? raw : undefined;
}
