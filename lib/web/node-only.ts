// What the browser build (scripts/build-browser.js) links in place of the modules that need Node:
// backend/index (the addon loader), io/model-file (files) and train/fit (worker threads). Each
// export keeps the name and signature of the one it replaces and says what to do instead.
import type { Backend, BackendName } from '../backend/contract';
import { tsBackend } from '../backend/ts';

/** The TypeScript backend: the only one in a browser. */
export function getBackend(name?: BackendName): Backend {
  if (name === undefined || name === 'ts') return tsBackend;
  throw new Error(`getBackend: the '${name}' backend is the native addon, which needs Node; the browser build has the TypeScript backend ('ts') only`);
}

/** Always false: the addon needs Node. */
export function nativeAvailable(): boolean {
  return false;
}

/** Refuses: a web page reads no files. */
export async function readModel(path: string): Promise<never> {
  throw new Error(`Network.load(${JSON.stringify(path)}): a web page reads no files; use loadModel(url) or Network.fromBytes(bytes) from digitnet/browser`);
}

/** Refuses: a web page writes no files. */
export async function writeModel(path: string): Promise<never> {
  throw new Error(`Network.save(${JSON.stringify(path)}): a web page writes no files; train and save models with digitnet in Node`);
}

/** Refuses: training runs in Node (worker threads, the native core). */
export async function fit(): Promise<never> {
  throw new Error('Network.fit: training needs Node (worker threads and the native core); train with digitnet in Node and load the model in the page');
}
