import type { Backend, BackendName } from './contract';
import { backendSettings } from './environment';
import { loadNativeBackend } from './native';
import { NativeUnavailableError } from './native-missing';
import { tsBackend } from './ts';

export { ConfigurationError } from './environment';

let native: Backend | undefined;
let nativeError: Error | undefined;
let warned = false;

/**
 * The native backend, loaded once (with `threads` applied at load); throws an Error that says why
 * the addon is missing and how to get it.
 */
function nativeBackend(threads: number | undefined): Backend {
  if (native) return native;
  if (nativeError) throw nativeError;
  try {
    native = loadNativeBackend(threads);
    return native;
  } catch (err) {
    nativeError = err as Error;
    throw nativeError;
  }
}

/**
 * Whether the native addon loads on this machine. Throws a ConfigurationError when
 * DIGITNET_BACKEND or DIGITNET_THREADS holds a value digitnet cannot use.
 */
export function nativeAvailable(): boolean {
  const { threads } = backendSettings();
  try {
    nativeBackend(threads);
    return true;
  } catch {
    return false;
  }
}

/**
 * The backend getBackend() picks without a name: `$DIGITNET_BACKEND`, else native when the addon
 * loads, else TypeScript, with `nativeError` saying why native did not load. Never warns; throws
 * a ConfigurationError for a DIGITNET_BACKEND or DIGITNET_THREADS digitnet cannot use.
 */
export function defaultBackend(): { backend: Backend; nativeError?: Error } {
  const settings = backendSettings();
  if (settings.backend === 'ts') return { backend: tsBackend };
  if (settings.backend === 'native') return { backend: nativeBackend(settings.threads) };
  try {
    return { backend: nativeBackend(settings.threads) };
  } catch (err) {
    return { backend: tsBackend, nativeError: err as Error };
  }
}

/**
 * The backend by name; without a name, the default one (see defaultBackend). Falling back to
 * TypeScript emits one warning per process that says why and how to get the native core.
 * Whichever backend, a DIGITNET_BACKEND or DIGITNET_THREADS digitnet cannot use is a
 * ConfigurationError.
 */
export function getBackend(name?: BackendName): Backend {
  const settings = backendSettings();
  if (name === 'ts') return tsBackend;
  if (name === 'native') return nativeBackend(settings.threads);
  if (name !== undefined) throw new RangeError(`getBackend: unknown backend '${name as string}'; use 'native' or 'ts'`);
  const { backend, nativeError: why } = defaultBackend();
  if (why && !warned) {
    warned = true;
    const detail = why instanceof NativeUnavailableError ? `${why.reason}. ${why.remedy}` : why.message;
    process.emitWarning(`digitnet: using the TypeScript backend (slower): ${detail}`);
  }
  return backend;
}
