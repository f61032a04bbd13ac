/**
 * Errors that cross from the training worker to the caller. Structured cloning keeps only the
 * message of an Error subclass (its class and fields such as `code` or `file` are lost), so the
 * worker sends a plain record and the caller rebuilds an instance of the same class.
 */
import { ConfigurationError } from '../backend/environment';
import { NativeUnavailableError } from '../backend/native-missing';
import { AtomicWriteError, IdxError, MnistError, ModelFileError } from '../core/errors';

/** An error as plain data: its class name, message, stack, own fields and cause. */
export interface ErrorRecord {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
  cause?: unknown;
}

/** The classes an error may be rebuilt as, by name; any other error arrives as a plain `Error`. */
const CLASSES: Record<string, new (...args: never[]) => Error> = {
  Error, TypeError, RangeError, IdxError, MnistError, ModelFileError, AtomicWriteError, NativeUnavailableError, ConfigurationError,
};

/** `error` as structured-clonable data (a value that is not an Error passes through). */
export function errorToRecord(error: unknown): ErrorRecord | unknown {
  if (!(error instanceof Error)) return error;
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) if (isClonable(value)) fields[key] = value;
  return { name: error.name, message: error.message, stack: error.stack, fields, cause: error.cause === undefined ? undefined : errorToRecord(error.cause) };
}

/** Rebuilds the error `errorToRecord` described, as an instance of its class when that class is known. */
export function errorFromRecord(record: unknown): unknown {
  if (!isErrorRecord(record)) return record;
  const error: Error = Object.create((CLASSES[record.name] ?? Error).prototype);
  // Like a constructed Error: message, stack and cause are own, non-enumerable properties.
  const hidden = (key: string, value: unknown) => Object.defineProperty(error, key, { value, writable: true, configurable: true });
  hidden('message', record.message);
  if (record.stack !== undefined) hidden('stack', record.stack);
  if (record.cause !== undefined) hidden('cause', errorFromRecord(record.cause));
  Object.assign(error, record.fields);
  if (error.name !== record.name) hidden('name', record.name);
  return error;
}

function isErrorRecord(value: unknown): value is ErrorRecord {
  const r = value as ErrorRecord | null;
  return typeof r === 'object' && r !== null && typeof r.name === 'string' && typeof r.message === 'string' && typeof r.fields === 'object';
}

/** Fields worth sending: data, not functions or objects that may not clone. */
function isClonable(value: unknown): boolean {
  return value === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof value);
}
