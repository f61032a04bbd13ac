import type { Backend, BackendName } from '../backend';
import { loadNativeBackend } from './native';
import { tsBackend } from './ts';

let native: Backend | undefined;
let nativeError: Error | undefined;
let warned = false;

/** The native backend, loaded once; throws an Error that says how to build the addon if it is missing. */
function nativeBackend(): Backend {
  if (native) return native;
  if (nativeError) throw nativeError;
  try {
    native = loadNativeBackend();
    return native;
  } catch (err) {
    nativeError = err as Error;
    throw nativeError;
  }
}

/** Whether the native addon loads on this machine. */
export function nativeAvailable(): boolean {
  try {
    nativeBackend();
    return true;
  } catch {
    return false;
  }
}

/**
 * The backend by name; without a name, `$DIGITNET_BACKEND`, else native when the addon loads,
 * else TypeScript with one warning.
 */
export function getBackend(name?: BackendName): Backend {
  const wanted = name ?? process.env.DIGITNET_BACKEND;
  if (wanted === 'ts') return tsBackend;
  if (wanted === 'native') return nativeBackend();
  if (wanted !== undefined && wanted !== '') {
    throw new RangeError(`unknown backend '${wanted}' (from ${name ? 'the argument' : 'DIGITNET_BACKEND'}); use 'native' or 'ts'`);
  }
  try {
    return nativeBackend();
  } catch (err) {
    if (!warned) {
      warned = true;
      process.emitWarning(`digitnet: native addon unavailable, using the TypeScript backend. ${(err as Error).message}`);
    }
    return tsBackend;
  }
}
