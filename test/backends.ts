/**
 * Which backends the kernel tests run on: always TypeScript, plus native when the addon loads.
 * `DIGITNET_BACKEND=ts` (or `native`) restricts the run to that one. A backend that cannot be
 * tested still shows up in jest's output as a skipped block whose title says why.
 */
import type { Backend, BackendName } from '../lib/backend';
import { getBackend, nativeAvailable } from '../lib/backends';

export const NATIVE_MISSING = 'native addon not built: run npm run build:native';

function selected(name: BackendName): boolean {
  const only = process.env.DIGITNET_BACKEND;
  return only === undefined || only === '' || only === name;
}

/**
 * Stands in for a backend that is not there, so that a skipped block can still be collected;
 * any use throws (jest never runs the tests of a skipped block).
 */
function missing(name: BackendName, why: string): Backend {
  return new Proxy({ name } as Backend, {
    get(target, prop) {
      if (prop === 'name') return target.name;
      return () => {
        throw new Error(`${name} backend used in a skipped test: ${why}`);
      };
    },
  });
}

/** Why the native backend cannot be tested here, or undefined when it can. */
export function nativeSkipReason(): string | undefined {
  if (!selected('native')) return `native backend not selected (DIGITNET_BACKEND=${process.env.DIGITNET_BACKEND})`;
  if (!nativeAvailable()) return NATIVE_MISSING;
  return undefined;
}

/** `describe(title [name], ...)` once per backend under test, skipped with a reason otherwise. */
export function describeEachBackend(title: string, body: (backend: Backend) => void): void {
  if (selected('ts')) {
    describe(`${title} [ts]`, () => body(getBackend('ts')));
  }
  const reason = nativeSkipReason();
  if (reason === undefined) {
    describe(`${title} [native]`, () => body(getBackend('native')));
  } else if (selected('native')) {
    describe.skip(`${title} [native] (skipped: ${reason})`, () => body(missing('native', reason)));
  }
}

/** A block that needs both backends (native vs TypeScript), skipped with the reason when native is absent. */
export function describeNativeVsTs(title: string, body: (native: Backend, ts: Backend) => void): void {
  const reason = nativeSkipReason() ?? (selected('ts') ? undefined : 'TypeScript backend not selected');
  if (reason === undefined) {
    describe(title, () => body(getBackend('native'), getBackend('ts')));
  } else {
    describe.skip(`${title} (skipped: ${reason})`, () => body(missing('native', reason), getBackend('ts')));
  }
}

/** The names of the backends under test (ts first), for tests that build higher layers on each. */
export const backendNames: BackendName[] = [
  ...(selected('ts') ? (['ts'] as const) : []),
  ...(nativeSkipReason() === undefined ? (['native'] as const) : []),
];

/**
 * Like `describeEachBackend` but hands the body the backend's name (for `Network.create`);
 * `%s` in the title is replaced by the name.
 */
export function describeBackends(title: string, body: (name: BackendName) => void): void {
  for (const name of backendNames) describe(title.replace('%s', name), () => body(name));
  const reason = nativeSkipReason();
  if (reason !== undefined && selected('native')) {
    describe.skip(`${title.replace('%s', 'native')} (skipped: ${reason})`, () => body('native'));
  }
}
