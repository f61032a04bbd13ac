// `digitnet/browser`: digitnet in a web page, bundled into dist/browser.mjs (one ES module, no
// imports) by scripts/build-browser.js. Networks run on the TypeScript backend; models come from
// bytes or a URL; pictures come in as pixels (a canvas's ImageData), which the browser decodes.
// Training, files and the native core need Node: here they throw an Error that says so.
import { Network } from '../model/network';

export { Network } from '../model/network';
export type { Evaluation, Prediction } from '../model/network';
export { preprocessImage } from '../image/preprocess';
export type { PreprocessOptions, Polarity, PixelImage } from '../image/preprocess';
export type { NumberReading, ReadDigit } from '../model/read-number';
export type { PixelBox } from '../image/segment';
export type { NetworkConfig, LayerSpec } from '../layers/registry';
export { ModelFileError, ImageError } from '../core/errors';

/** Fetches a model file (what `digitnet train --out` and `Network.save` write) and builds its network on the TypeScript backend. */
export async function loadModel(url: string | URL, init?: RequestInit): Promise<Network> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`loadModel: ${url}: HTTP ${response.status} ${response.statusText}`);
  return Network.fromBytes(await response.arrayBuffer(), { name: String(url), backend: 'ts' });
}
