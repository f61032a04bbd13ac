import { ImageError } from '../core/errors';

/** The 8 bytes every PNG starts with. */
export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A PNG's IHDR chunk: what the decoder will have to allocate is known from it alone. */
export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

/** Bit depths each colour type allows (PNG spec, 11.2.2): grey, RGB, palette, grey + alpha, RGBA. */
const DEPTHS: Record<number, { name: string; channels: number; depths: number[] }> = {
  0: { name: 'grey', channels: 1, depths: [1, 2, 4, 8, 16] },
  2: { name: 'RGB', channels: 3, depths: [8, 16] },
  3: { name: 'palette', channels: 1, depths: [1, 2, 4, 8] },
  4: { name: 'grey + alpha', channels: 2, depths: [8, 16] },
  6: { name: 'RGBA', channels: 4, depths: [8, 16] },
};

/** Chunk length field + type + IHDR's 13 bytes + CRC: the signature and this are the least a PNG holds. */
const IHDR_END = 8 + 8 + 13 + 4;

const u32 = (bytes: Uint8Array, at: number): number => ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
const chunkType = (bytes: Uint8Array, at: number): string => String.fromCharCode(...bytes.subarray(at, at + 4));

/** Reads and checks the IHDR of a PNG (signature already matched) without looking further. */
export function readPngHeader(bytes: Uint8Array, source: string): PngHeader {
  if (bytes.length < IHDR_END) throw new ImageError(source, `truncated PNG: ${bytes.length} bytes, the header alone needs ${IHDR_END}`);
  if (chunkType(bytes, 12) !== 'IHDR' || u32(bytes, 8) !== 13) throw new ImageError(source, 'corrupt PNG: the first chunk is not a 13-byte IHDR');
  const header = { width: u32(bytes, 16), height: u32(bytes, 20), bitDepth: bytes[24], colorType: bytes[25], interlaced: bytes[28] === 1 };
  if (header.width === 0 || header.height === 0) throw new ImageError(source, `corrupt PNG: the header says ${header.width}x${header.height} pixels`);
  const kind = DEPTHS[header.colorType];
  if (!kind || !kind.depths.includes(header.bitDepth)) {
    throw new ImageError(source, `corrupt PNG: colour type ${header.colorType} with bit depth ${header.bitDepth} is not a PNG format`);
  }
  if (bytes[26] !== 0 || bytes[27] !== 0 || bytes[28] > 1) throw new ImageError(source, 'corrupt PNG: unknown compression, filter or interlace method in the header');
  return header;
}

/**
 * Walks the chunks after IHDR to IEND and returns the IDAT payloads (views, no copy). A chunk
 * that runs past the end of the file, or a file that stops before IEND, is a truncated PNG: the
 * decoder would otherwise fail with a message about its own read queue.
 */
export function pngImageData(bytes: Uint8Array, source: string): Uint8Array[] {
  const idat: Uint8Array[] = [];
  for (let at = IHDR_END; ; ) {
    if (at + 8 > bytes.length) throw new ImageError(source, `truncated PNG: the file ends at byte ${bytes.length}, before its IEND chunk`);
    const length = u32(bytes, at);
    const type = chunkType(bytes, at + 4);
    const end = at + 12 + length;
    if (end > bytes.length) throw new ImageError(source, `truncated PNG: chunk ${JSON.stringify(type)} at byte ${at} needs ${end} bytes, the file has ${bytes.length}`);
    if (type === 'IEND') break;
    if (type === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    at = end;
  }
  if (idat.length === 0) throw new ImageError(source, 'corrupt PNG: no IDAT chunk (no image data)');
  return idat;
}

/**
 * Bytes the image data inflates to (a filter byte per row of each Adam7 pass when interlaced):
 * the most a well-formed PNG's IDAT may inflate to, so a larger one is a decompression bomb.
 */
export function pngInflatedSize(header: PngHeader): number {
  const bitsPerPixel = DEPTHS[header.colorType].channels * header.bitDepth;
  const rowBytes = (width: number) => (width === 0 ? 0 : 1 + Math.ceil((width * bitsPerPixel) / 8));
  if (!header.interlaced) return header.height * rowBytes(header.width);
  // Adam7 passes: first column, first row, column step, row step.
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const width = Math.max(0, Math.ceil((header.width - x0) / dx));
    const height = Math.max(0, Math.ceil((header.height - y0) / dy));
    total += height * rowBytes(width);
  }
  return total;
}
