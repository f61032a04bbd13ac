/**
 * The backend settings digitnet reads from the environment. They are checked before any backend
 * is chosen: a value digitnet cannot use is the user's to fix, so it is an error that says so,
 * never a reason to fall back to another backend.
 */
import type { BackendName } from './contract';

/** A DIGITNET_* environment variable holds a value digitnet cannot use; the message names the variable, what it takes and the value. */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';

  constructor(
    readonly variable: string,
    readonly value: string,
    expected: string,
  ) {
    super(`configuration error: the environment variable ${variable} must be ${expected}, got '${value}'`);
  }
}

/** What DIGITNET_BACKEND and DIGITNET_THREADS ask for; a field is undefined when its variable is unset or empty. */
export interface BackendSettings {
  /** DIGITNET_BACKEND: the backend used when none is named. */
  backend?: BackendName;
  /** DIGITNET_THREADS: threads for the native kernels (default: all cores). */
  threads?: number;
}

/** Reads and checks DIGITNET_BACKEND and DIGITNET_THREADS; throws a ConfigurationError for a value digitnet cannot use. */
export function backendSettings(env: NodeJS.ProcessEnv = process.env): BackendSettings {
  return { backend: backendFromEnv(env.DIGITNET_BACKEND), threads: threadsFromEnv(env.DIGITNET_THREADS) };
}

function backendFromEnv(raw: string | undefined): BackendName | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw !== 'native' && raw !== 'ts') throw new ConfigurationError('DIGITNET_BACKEND', raw, "'native' or 'ts'");
  return raw;
}

function threadsFromEnv(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigurationError('DIGITNET_THREADS', raw, 'a whole number >= 1');
  }
  return value;
}
