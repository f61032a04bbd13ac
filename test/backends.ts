/**
 * Which backends the kernel tests run on: always TypeScript, plus native when the addon loads.
 * `DIGITNET_BACKEND=ts` (or `native`) restricts the run to that one. A backend that cannot be
 * tested still shows up in jest's output as a skipped block whose title says why.
 *
 * `DIGITNET_REQUIRE_NATIVE=1` (CI sets it) turns a missing addon from a skip into a failure: each
 * native block then holds one failing test whose error is the load error, so a broken build can
 * never pass as a run with the native tests skipped.
 */
import type { Backend, BackendName } from '../lib/backend/contract';
import { getBackend } from '../lib/backend';

export const NATIVE_MISSING = 'native addon not built: run npm run build:native';

function selected(name: BackendName): boolean {
  const only = process.env.DIGITNET_BACKEND;
  return only === undefined || only === '' || only === name;
}

const nativeRequired = process.env.DIGITNET_REQUIRE_NATIVE === '1';

/** Why the addon did not load (the loader's error), or undefined when it loads; asked once. */
let loadError: Error | null | undefined;
function nativeLoadError(): Error | undefined {
  if (loadError === undefined) {
    try {
      getBackend('native');
      loadError = null;
    } catch (err) {
      loadError = err as Error;
    }
  }
  return loadError ?? undefined;
}

/** Whether native tests run, are skipped (and why), or fail (with the load error). */
type NativeState = { run: true } | { run: false; skip: string } | { run: false; fail: Error };

function nativeState(): NativeState {
  if (!selected('native')) return { run: false, skip: `native backend not selected (DIGITNET_BACKEND=${process.env.DIGITNET_BACKEND})` };
  const error = nativeLoadError();
  if (error === undefined) return { run: true };
  if (nativeRequired) return { run: false, fail: new Error(`DIGITNET_REQUIRE_NATIVE=1, but the native addon did not load: ${error.message}`) };
  return { run: false, skip: NATIVE_MISSING };
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

/**
 * Why the native backend cannot be tested here, or undefined when it can, or when
 * DIGITNET_REQUIRE_NATIVE=1 demands it (its tests then run and fail with the load error).
 */
export function nativeSkipReason(): string | undefined {
  const state = nativeState();
  return 'skip' in state ? state.skip : undefined;
}

/**
 * `describe(title, body)` when the native addon can be tested; otherwise a skipped block whose
 * title gives the reason, or (DIGITNET_REQUIRE_NATIVE=1) a block with one test that fails with the
 * load error. A skipped block's body is still collected, so it touches the addon only inside its
 * tests and hooks.
 */
export function describeNative(title: string, body: () => void): void {
  const state = nativeState();
  if (state.run) {
    describe(title, body);
  } else if ('fail' in state) {
    describe(title, () => {
      test('the native addon loads', () => {
        throw state.fail;
      });
    });
  } else {
    describe.skip(`${title} (skipped: ${state.skip})`, body);
  }
}

/** The native backend for a block that describeNative runs, or a stand-in when it is skipped. */
function nativeOrStandIn(): Backend {
  const state = nativeState();
  return state.run ? getBackend('native') : missing('native', 'skip' in state ? state.skip : state.fail.message);
}

/** `describe(title [name], ...)` once per backend under test, skipped with a reason otherwise. */
export function describeEachBackend(title: string, body: (backend: Backend) => void): void {
  if (selected('ts')) {
    describe(`${title} [ts]`, () => body(getBackend('ts')));
  }
  describeNative(`${title} [native]`, () => body(nativeOrStandIn()));
}

/** A block that needs both backends (native vs TypeScript), skipped with the reason when native is absent. */
export function describeNativeVsTs(title: string, body: (native: Backend, ts: Backend) => void): void {
  if (!selected('ts')) {
    describe.skip(`${title} (skipped: TypeScript backend not selected)`, () => body(nativeOrStandIn(), getBackend('ts')));
    return;
  }
  describeNative(title, () => body(nativeOrStandIn(), getBackend('ts')));
}

/** The names of the backends under test (ts first), for tests that build higher layers on each. */
export const backendNames: BackendName[] = [
  ...(selected('ts') ? (['ts'] as const) : []),
  ...(nativeState().run ? (['native'] as const) : []),
];

/**
 * Like `describeEachBackend` but hands the body the backend's name (for `Network.create`);
 * `%s` in the title is replaced by the name.
 */
export function describeBackends(title: string, body: (name: BackendName) => void): void {
  for (const name of backendNames) describe(title.replace('%s', name), () => body(name));
  if (!nativeState().run) describeNative(title.replace('%s', 'native'), () => body('native'));
}
