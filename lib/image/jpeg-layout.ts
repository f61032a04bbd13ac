import { ImageError } from '../core/errors';

/** A JPEG's frame header (SOFn): dimensions and sample format, and where the segments after it start. */
export interface JpegFrame {
  width: number;
  height: number;
  precision: number;
  components: number;
  /** The SOF marker's second byte: 0xc0 baseline, 0xc1 extended, 0xc2 progressive, others unsupported. */
  marker: number;
  /** Offset of the first segment after the frame header. */
  next: number;
  /** The EXIF orientation (1-8: how to turn the decoded pixels upright); 1 without EXIF or with an unreadable one. */
  orientation: number;
}

/** Frame types jpeg-js decodes (baseline, extended and progressive Huffman DCT). */
const DECODABLE = new Map([[0xc0, 'baseline'], [0xc1, 'extended'], [0xc2, 'progressive']]);

const hex = (n: number): string => n.toString(16).padStart(2, '0');

/** Markers that stand alone, with no length after them: TEM, RST0-7, SOI, EOI. */
const standalone = (marker: number): boolean => marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9);
/** SOF0-SOF15, except DHT (c4), JPG (c8) and DAC (cc), which share the range. */
const isFrame = (marker: number): boolean => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** The marker at `at` (fill bytes skipped) and the offset after it; throws on a byte that is not a marker. */
function markerAt(bytes: Uint8Array, at: number, source: string): { marker: number; after: number } {
  if (at >= bytes.length) throw new ImageError(source, `truncated JPEG: the file ends at byte ${bytes.length}, before its end-of-image marker`);
  if (bytes[at] !== 0xff) throw new ImageError(source, `corrupt JPEG: byte ${at} is 0x${hex(bytes[at])}, where a marker (0xff..) should start`);
  while (at < bytes.length && bytes[at] === 0xff) at++;
  if (at >= bytes.length) throw new ImageError(source, `truncated JPEG: the file ends at byte ${bytes.length} inside a marker`);
  return { marker: bytes[at], after: at + 1 };
}

/** The end of the segment whose length field is at `at`; throws when it runs past the file. */
function segmentEnd(bytes: Uint8Array, at: number, marker: number, source: string): number {
  const end = at + ((bytes[at] << 8) | bytes[at + 1]);
  if (at + 2 > bytes.length || end > bytes.length) {
    throw new ImageError(source, `truncated JPEG: segment 0xff${hex(marker)} at byte ${at - 2} runs past the end of the file (${bytes.length} bytes)`);
  }
  return end;
}

/** Reads the segments of a JPEG (SOI already matched) up to its frame header, and returns it. */
export function readJpegFrame(bytes: Uint8Array, source: string): JpegFrame {
  let orientation = 1;
  for (let at = 2; ; ) {
    const { marker, after } = markerAt(bytes, at, source);
    if (standalone(marker)) throw new ImageError(source, `corrupt JPEG: marker 0xff${hex(marker)} at byte ${after - 2} before the frame header`);
    if (marker === 0xda) throw new ImageError(source, 'corrupt JPEG: image data (SOS) before the frame header (SOF)');
    const end = segmentEnd(bytes, after, marker, source);
    if (isFrame(marker)) {
      if (end - after < 8) throw new ImageError(source, `corrupt JPEG: frame header of ${end - after} bytes`);
      const frame = {
        precision: bytes[after + 2],
        height: (bytes[after + 3] << 8) | bytes[after + 4],
        width: (bytes[after + 5] << 8) | bytes[after + 6],
        components: bytes[after + 7],
        marker,
        next: end,
        orientation,
      };
      if (!DECODABLE.has(marker)) throw new ImageError(source, `unsupported JPEG: frame type 0xff${hex(marker)} (lossless or arithmetic coding); only baseline and progressive are read`);
      if (frame.precision !== 8) throw new ImageError(source, `unsupported JPEG: ${frame.precision}-bit samples; only 8-bit are read`);
      if (frame.width === 0 || frame.height === 0) throw new ImageError(source, `unsupported JPEG: the frame header says ${frame.width}x${frame.height} pixels (a height set later by DNL is not read)`);
      return frame;
    }
    if (marker === 0xe1) orientation = exifOrientation(bytes.subarray(after + 2, end)) ?? orientation;
    at = end;
  }
}

/**
 * The orientation tag (0x0112) of an APP1 segment's EXIF data (after its length), or undefined
 * when the segment is not EXIF or the tag is missing or out of bounds: a phone's photo is stored
 * sideways with this tag saying how to turn it, and a damaged EXIF block is no reason to refuse
 * the picture.
 */
function exifOrientation(data: Uint8Array): number | undefined {
  if (data.length < 14 || String.fromCharCode(...data.subarray(0, 6)) !== 'Exif\0\0') return undefined;
  const tiff = data.subarray(6);
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return undefined;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const u16 = (at: number) => (at + 2 <= tiff.length ? view.getUint16(at, little) : -1);
  const u32 = (at: number) => (at + 4 <= tiff.length ? view.getUint32(at, little) : -1);
  const ifd = u32(4);
  if (u16(2) !== 42 || ifd < 8) return undefined;
  const entries = u16(ifd);
  for (let k = 0; k < entries; k++) {
    const entry = ifd + 2 + 12 * k;
    if (u16(entry) !== 0x0112) continue;
    const value = u16(entry + 8);
    return u16(entry + 2) === 3 && value >= 1 && value <= 8 ? value : undefined;
  }
  return undefined;
}

/**
 * Walks the segments and entropy-coded scans after the frame header to the end-of-image marker;
 * throws if the file stops before it. Without this, a JPEG cut short decodes without complaint,
 * its missing rows left grey.
 */
export function checkJpegComplete(bytes: Uint8Array, frame: JpegFrame, source: string): void {
  for (let at = frame.next; ; ) {
    const { marker, after } = markerAt(bytes, at, source);
    if (marker === 0xd9) return;
    if (standalone(marker)) {
      at = after;
      continue;
    }
    at = segmentEnd(bytes, after, marker, source);
    if (marker !== 0xda) continue;
    // Scan data: 0xff is followed by 0x00 (a stuffed byte) or a restart marker; anything else ends it.
    while (at < bytes.length && !(bytes[at] === 0xff && bytes[at + 1] !== 0x00 && !(bytes[at + 1] >= 0xd0 && bytes[at + 1] <= 0xd7))) at++;
    if (at + 1 >= bytes.length) throw new ImageError(source, `truncated JPEG: the file ends at byte ${bytes.length} inside the image data`);
  }
}
