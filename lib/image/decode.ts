import { promises as fs } from 'fs';
import * as zlib from 'zlib';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { typeTag } from '../core/dataset';
import { cannotRead, ImageError } from '../core/errors';
import type { RgbaImage } from './pixels';
import { checkJpegComplete, readJpegFrame } from './jpeg-layout';
import { orientImage } from './orient';
import { PNG_SIGNATURE, pngImageData, pngInflatedSize, readPngHeader } from './png-layout';

/**
 * Largest side decoded, in pixels. Phone cameras stay under 10000; a header claiming more is
 * corrupt or hostile, and is refused before the decoder allocates anything.
 */
export const MAX_IMAGE_SIDE = 20000;
/**
 * Most pixels decoded: 50 megapixels holds a 48 MP phone photo (8000x6000). At its peak a decode
 * holds about 8 bytes a pixel (the inflated rows and the RGBA bitmap), 20 for a 16-bit RGBA PNG
 * (its bitmap is 16-bit before the 8-bit copy): 400 MB to 1 GB at this limit.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** Decodes a PNG or JPEG file's bytes (recognised by content, not by name) into 8-bit RGBA, a JPEG turned upright by its EXIF orientation; `source` names it in errors. */
export function decodeImage(bytes: Uint8Array, source: string): RgbaImage {
  if (typeTag(bytes) !== 'Uint8Array') throw new TypeError(`decodeImage: ${source}: the file's bytes must be a Uint8Array or Buffer, got ${typeTag(bytes)}`);
  if (isPng(bytes)) return decodePng(bytes, source);
  if (isJpeg(bytes)) return decodeJpeg(bytes, source);
  throw new ImageError(source, `not a PNG or JPEG image: ${describe(bytes)}`);
}

/** Reads and decodes a PNG or JPEG file into 8-bit RGBA. */
export async function readImage(path: string): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (error) {
    throw new ImageError(path, cannotRead(error), { cause: error });
  }
  return decodeImage(bytes, path);
}

/** Whether `bytes` start as a PNG or JPEG file does: what decodeImage reads. */
export function looksLikeImage(bytes: Uint8Array): boolean {
  return isPng(bytes) || isJpeg(bytes);
}

function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= PNG_SIGNATURE.length && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/** Throws unless width x height is within the limits: called on the header, before any decoding. */
function checkSize(width: number, height: number, kind: string, source: string): void {
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > MAX_IMAGE_PIXELS) {
    throw new ImageError(
      source,
      `${kind} too large: the header says ${width}x${height} pixels; the limit is ${MAX_IMAGE_SIDE} pixels a side and ${MAX_IMAGE_PIXELS / 1e6} megapixels`,
    );
  }
}

function decodePng(bytes: Uint8Array, source: string): RgbaImage {
  const header = readPngHeader(bytes, source);
  checkSize(header.width, header.height, 'PNG', source);
  const idat = pngImageData(bytes, source);
  if (header.interlaced) {
    // pngjs inflates interlaced data with no output limit: a small file could inflate to gigabytes.
    // Inflating once here with the limit the header implies stops such a file first.
    try {
      zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: pngInflatedSize(header) });
    } catch (error) {
      throw new ImageError(source, `corrupt PNG: image data does not inflate to the ${header.width}x${header.height} image (${(error as Error).message})`, { cause: error });
    }
  }
  let png: { width: number; height: number; data: Buffer };
  try {
    // pngjs expands palette, grey and grey + alpha to RGBA and rounds 16-bit samples to 8 (v * 255 / 65535).
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new ImageError(source, `corrupt PNG: ${(error as Error).message}`, { cause: error });
  }
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
}

function decodeJpeg(bytes: Uint8Array, source: string): RgbaImage {
  const frame = readJpegFrame(bytes, source);
  checkSize(frame.width, frame.height, 'JPEG', source);
  checkJpegComplete(bytes, frame, source);
  try {
    // Not tolerant: a scan that does not decode is an error, not a grey patch.
    const { width, height, data } = jpeg.decode(bytes, {
      useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024,
    });
    return orientImage({ width, height, data }, frame.orientation);
  } catch (error) {
    // jpeg-js says "Unsupported ..." for what it cannot read (some CMYK files); anything else is damage.
    const message = (error as Error).message;
    throw new ImageError(source, `${/^unsupported/i.test(message) ? 'unsupported' : 'corrupt'} JPEG: ${message}`, { cause: error });
  }
}

/** What bytes that are neither PNG nor JPEG look like, for the error message. */
function describe(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'the file is empty';
  const ascii = String.fromCharCode(...bytes.subarray(0, 12));
  const known: [RegExp, string][] = [
    [/^GIF8[79]a/, 'a GIF image'],
    [/^BM/, 'a BMP image'],
    [/^RIFF....WEBP/s, 'a WebP image'],
    [/^(II\*\0|MM\0\*)/, 'a TIFF image'],
    [/^%PDF/, 'a PDF document'],
    [/^\x1f\x8b/, 'gzip data'],
    [/^(\0\0\0.ftyp(heic|heix|mif1|avif))/s, 'a HEIC/AVIF image'],
  ];
  const match = known.find(([pattern]) => pattern.test(ascii));
  if (match) return `it looks like ${match[1]}`;
  const head = bytes.subarray(0, 64);
  if (head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f))) return `it looks like text (${JSON.stringify(ascii)}...)`;
  return `it starts with bytes ${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}
