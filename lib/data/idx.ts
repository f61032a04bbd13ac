import * as zlib from 'zlib';
import { readFileShared } from './shared-file';
import { cannotRead, IdxError } from '../core/errors';

/**
 * An IDX file (the MNIST container): dims from the header, data row-major, one byte per value.
 * Only the unsigned-byte type (0x08) with 1 (labels) or 3 (images: count, rows, cols) dims is read.
 */
export interface Idx {
  dims: number[];
  data: Uint8Array;
}

/** Data type byte of unsigned bytes, the only one MNIST-style files use. */
const UBYTE = 0x08;
/** Names of the IDX data types, for error messages about the ones we do not read. */
const TYPE_NAMES: Record<number, string> = { 0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };
/** Supported dims counts: 1 (labels, magic 0x00000801) and 3 (images, magic 0x00000803). */
const SUPPORTED_DIMS = [1, 3];
/**
 * Largest data size we accept (2 GiB - 1, what fs.readFile can return): a header claiming more
 * is corrupt, and refusing it up front keeps a bad header from driving a huge allocation.
 */
export const MAX_IDX_BYTES = 2 ** 31 - 1;
/** Deflate's maximum expansion is 1032:1 (a 258-byte match in 2 bits); no gzip can inflate further. */
const MAX_DEFLATE_RATIO = 1032;

const hex = (n: number, digits = 8): string => '0x' + n.toString(16).padStart(digits, '0');
const typeName = (t: number): string => `${hex(t, 2)}${TYPE_NAMES[t] ? ` (${TYPE_NAMES[t]})` : ''}`;

/** What the header says: dims, header length and data length in bytes. */
interface Header {
  dims: number[];
  headerBytes: number;
  dataBytes: number;
}

/** "10000 items (10008 bytes)" / "60000 items of 28x28 (47040016 bytes)": the header's claim. */
function claim(h: Header): string {
  const items = h.dims.length > 1 ? `${h.dims[0]} items of ${h.dims.slice(1).join('x')}` : `${h.dims[0]} items`;
  return `${items} (${h.headerBytes + h.dataBytes} bytes)`;
}

/**
 * The header length of an IDX whose first bytes are `head`, once at least 4 bytes are there;
 * throws on a bad magic or data type.
 */
function headerLength(head: Uint8Array, source: string): number {
  const magic = ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
  if (head[0] !== 0 || head[1] !== 0) {
    const hint = head[0] === 0x1f && head[1] === 0x8b ? ' (this is gzip data: read it with readIdx)' : '';
    throw new IdxError(source, `not an IDX file: magic is ${hex(magic)}, expected 0x00000801 (labels) or 0x00000803 (images)${hint}`);
  }
  if (head[2] !== UBYTE) {
    throw new IdxError(source, `unsupported data type ${typeName(head[2])} (magic ${hex(magic)}): only ${typeName(UBYTE)} is supported`);
  }
  if (!SUPPORTED_DIMS.includes(head[3])) {
    throw new IdxError(source, `unsupported magic ${hex(magic)} (${head[3]} dims): expected 0x00000801 (labels) or 0x00000803 (images)`);
  }
  return 4 + 4 * head[3];
}

/** Parses the header from `head`, which holds at least headerLength(head) bytes. */
function parseHeader(head: Uint8Array, source: string): Header {
  const headerBytes = headerLength(head, source);
  const view = new DataView(head.buffer, head.byteOffset, headerBytes);
  const dims: number[] = [];
  let dataBytes = 1;
  for (let i = 0; i < (headerBytes - 4) / 4; i++) {
    const dim = view.getUint32(4 + 4 * i, false);
    dims.push(dim);
    if (dim === 0) throw new IdxError(source, `dimension ${i} is 0 (dims ${dimList(view, headerBytes)})`);
    dataBytes *= dim;
    if (dataBytes > MAX_IDX_BYTES) {
      throw new IdxError(source, `absurd dims ${dimList(view, headerBytes)}: more than ${MAX_IDX_BYTES} bytes of data`);
    }
  }
  return { dims, headerBytes, dataBytes };
}

function dimList(view: DataView, headerBytes: number): string {
  const dims: number[] = [];
  for (let o = 4; o < headerBytes; o += 4) dims.push(view.getUint32(o, false));
  return `[${dims.join(', ')}]`;
}

function shortHeader(source: string, size: number, needed: number, what: string): IdxError {
  return size === 0
    ? new IdxError(source, `empty ${what}: an IDX file needs at least 8 bytes`)
    : new IdxError(source, `too short: ${size} bytes, but the IDX header needs ${needed}`);
}

/**
 * Parses an uncompressed IDX file. `source` names it in error messages. The returned data is a
 * view into `bytes`, not a copy.
 */
export function parseIdx(bytes: Uint8Array, source: string): Idx {
  if (bytes.length < 4) throw shortHeader(source, bytes.length, 8, 'file');
  const needed = headerLength(bytes, source);
  if (bytes.length < needed) throw shortHeader(source, bytes.length, needed, 'file');
  const header = parseHeader(bytes, source);
  const total = header.headerBytes + header.dataBytes;
  if (bytes.length < total) {
    throw new IdxError(source, `truncated: header says ${claim(header)} but the file has ${bytes.length} bytes`);
  }
  if (bytes.length > total) {
    throw new IdxError(source, `trailing bytes: header says ${claim(header)} but the file has ${bytes.length} bytes`);
  }
  return { dims: header.dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + header.headerBytes, header.dataBytes) };
}

/**
 * Parses a gzip'd IDX file, given whole or in pieces (as a stream delivers it), never holding more
 * than its header justifies: the output buffer is sized from the header (which must be possible
 * for a gzip of this size) and inflating stops with an error as soon as the data goes past it, so
 * a gzip bomb costs at most that buffer. (zlib's maxOutputLength would need the limit before
 * inflating starts, but the limit is in the header, inside the compressed data.) The output
 * buffer is a SharedArrayBuffer, as readFileShared's are, so that fit's worker uses the inflated
 * data where it is instead of copying it again.
 */
export async function gunzipIdx(compressed: Uint8Array | Uint8Array[], source: string): Promise<Idx> {
  const pieces = Array.isArray(compressed) ? compressed : [compressed];
  const compressedBytes = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 });
  for (const piece of pieces) gunzip.write(piece);
  gunzip.end();
  const head = new Uint8Array(4 + 4 * Math.max(...SUPPORTED_DIMS));
  let headFill = 0;
  // Bytes of header still to come: 4 for the magic, then the dims the magic announces.
  const headMissing = (): number => (headFill < 4 ? 4 : headerLength(head, source)) - headFill;
  let header: Header | undefined;
  let out: Uint8Array | undefined;
  let outFill = 0;
  try {
    // Leaving the loop by a throw destroys the stream, so inflating stops there.
    for await (const piece of gunzip as AsyncIterable<Buffer>) {
      let chunk: Uint8Array = piece;
      while (!out && chunk.length > 0) {
        const take = Math.min(headMissing(), chunk.length);
        head.set(chunk.subarray(0, take), headFill);
        headFill += take;
        chunk = chunk.subarray(take);
        if (headFill < 4 || headMissing() > 0) continue;
        header = parseHeader(head, source);
        const total = header.headerBytes + header.dataBytes;
        if (total > compressedBytes * MAX_DEFLATE_RATIO + 1024) {
          throw new IdxError(source, `truncated: header says ${claim(header)} but a ${compressedBytes}-byte gzip file cannot inflate to that`);
        }
        out = new Uint8Array(new SharedArrayBuffer(total));
        out.set(head.subarray(0, header.headerBytes));
        outFill = header.headerBytes;
      }
      if (!out || chunk.length === 0) continue;
      if (outFill + chunk.length > out.length) {
        throw new IdxError(source, `trailing bytes: header says ${claim(header as Header)} but the gzip inflates to more`);
      }
      out.set(chunk, outFill);
      outFill += chunk.length;
    }
  } catch (error) {
    if (error instanceof IdxError) throw error;
    throw new IdxError(source, `corrupt gzip: ${(error as Error).message}`, { cause: error });
  }
  if (!out || !header) {
    throw shortHeader(source, headFill, headFill < 4 ? 8 : headerLength(head, source), headFill === 0 ? 'file (after gunzip)' : 'file');
  }
  if (outFill < out.length) {
    throw new IdxError(source, `truncated: header says ${claim(header)} but the gzip inflates to ${outFill} bytes`);
  }
  return { dims: header.dims, data: out.subarray(header.headerBytes) };
}

/** Reads an IDX file, raw or gzip'd (recognised by its magic bytes 1f 8b, not by its name). */
export async function readIdx(path: string): Promise<Idx> {
  let file: Uint8Array;
  try {
    file = await readFileShared(path);
  } catch (error) {
    throw new IdxError(path, cannotRead(error), { cause: error });
  }
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return gunzipIdx(bytes, path);
  return parseIdx(bytes, path);
}
