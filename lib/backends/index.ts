import type { Backend, BackendName } from '../backend';
import { loadNativeBackend } from './native';
import { NativeUnavailableError } from './native-missing';
import { tsBackend } from './ts';

let native: Backend | undefined;
let nativeError: Error | undefined;
let warned = false;

/** The native backend, loaded once; throws an Error that says why the addon is missing and how to get it. */
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

function namedBackend(name: string, from: string): Backend {
  if (name === 'ts') return tsBackend;
  if (name === 'native') return nativeBackend();
  throw new RangeError(`unknown backend '${name}' (from ${from}); use 'native' or 'ts'`);
}

/**
 * The backend getBackend() picks without a name: `$DIGITNET_BACKEND`, else native when the addon
 * loads, else TypeScript, with `nativeError` saying why native did not load. Never warns.
 */
export function defaultBackend(): { backend: Backend; nativeError?: Error } {
  const wanted = process.env.DIGITNET_BACKEND;
  if (wanted) return { backend: namedBackend(wanted, 'DIGITNET_BACKEND') };
  try {
    return { backend: nativeBackend() };
  } catch (err) {
    return { backend: tsBackend, nativeError: err as Error };
  }
}

/**
 * The backend by name; without a name, the default one (see defaultBackend). Falling back to
 * TypeScript emits one warning per process that says why and how to get the native core.
 */
export function getBackend(name?: BackendName): Backend {
  if (name) return namedBackend(name, 'the argument');
  const { backend, nativeError: why } = defaultBackend();
  if (why && !warned) {
    warned = true;
    const detail = why instanceof NativeUnavailableError ? `${why.reason}. ${why.remedy}` : why.message;
    process.emitWarning(`digitnet: using the TypeScript backend (slower): ${detail}`);
  }
  return backend;
}
