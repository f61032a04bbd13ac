import { ImageError } from '../core/errors';
import { typeTag } from '../core/dataset';

/**
 * An image as pixels, row-major, one byte per value: RGBA (4 values a pixel, straight alpha, as
 * `decodeImage` returns and a canvas's `ImageData` holds) or grey (1 value a pixel).
 */
export interface PixelImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** What `decodeImage` returns: always 8-bit RGBA, whatever the file's colour type and depth. */
export interface RgbaImage extends PixelImage {
  data: Uint8Array;
}

/** A checked `PixelImage`: sizes that add up, the channel count they imply, the bytes as a Uint8Array view. */
export interface Pixels {
  width: number;
  height: number;
  channels: 1 | 4;
  data: Uint8Array;
}

/** Throws an ImageError naming `source` unless `image` is a well-formed PixelImage; returns it checked (no copy). */
export function checkPixels(image: PixelImage, source: string): Pixels {
  if (typeof image !== 'object' || image === null) throw new ImageError(source, `expected an image ({ width, height, data }), got ${String(image)}`);
  const { width, height, data } = image;
  for (const [name, value] of [['width', width], ['height', height]] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new ImageError(source, `${name} must be a positive integer, got ${String(value)}`);
  }
  // By tag, not instanceof: a canvas's Uint8ClampedArray may come from another realm.
  const tag = typeTag(data);
  if (tag !== 'Uint8Array' && tag !== 'Uint8ClampedArray') throw new ImageError(source, `data must be a Uint8Array or Uint8ClampedArray, got ${tag}`);
  const pixels = width * height;
  const channels = data.length === pixels * 4 ? 4 : data.length === pixels ? 1 : 0;
  if (channels === 0) {
    throw new ImageError(source, `data has ${data.length} values; ${width}x${height} needs ${pixels * 4} (RGBA) or ${pixels} (grey)`);
  }
  return { width, height, channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
