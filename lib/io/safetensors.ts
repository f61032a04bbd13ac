import { ModelFileError } from '../core/errors';

/**
 * The safetensors format (what Python's `safetensors` and PyTorch read):
 *   u64 little-endian N | N bytes of UTF-8 JSON header | data section
 * The header maps tensor name -> { dtype, shape, data_offsets: [begin, end] } (byte offsets into
 * the data section) plus an optional "__metadata__" of string -> string. Tensors tile the data
 * section exactly: no gaps, no overlap. We write and read F32 only, and pad the header with
 * spaces to a multiple of 8 bytes so that the data section starts aligned.
 */

/** A tensor as digitnet stores it: F32, row-major. */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** The safetensors reference implementation's limit on the header size. */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const F32_BYTES = 4;
/** Typed arrays use the host's byte order; the file is little-endian. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** The little-endian bytes of `data`: a view on little-endian hosts, a byte-swapped copy elsewhere. */
function littleEndianBytes(data: Float32Array): Uint8Array {
  if (HOST_LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bytes = new Uint8Array(data.byteLength);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * F32_BYTES, data[i], true);
  return bytes;
}

/** The bytes of a safetensors file holding `tensors` (F32, in the object's order) and `metadata`; `file` names it in errors. */
export function encodeSafetensors(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string>): Uint8Array[] {
  const header: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new ModelFileError(file, `metadata ${key} must be a string, got ${typeof value}`);
  }
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    if (name === METADATA_KEY) throw new ModelFileError(file, `${METADATA_KEY} cannot name a tensor`);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new ModelFileError(file, `tensor ${name}: shape must be non-negative integers, got ${JSON.stringify(shape)}`);
    }
    // Checked by tag, not instanceof, so arrays from another realm (vm, worker) pass.
    if (Object.prototype.toString.call(data) !== '[object Float32Array]') throw new ModelFileError(file, `tensor ${name}: data must be a Float32Array`);
    const elements = shape.reduce((a, b) => a * b, 1);
    if (elements !== data.length) {
      throw new ModelFileError(file, `tensor ${name}: shape [${shape}] has ${elements} elements but the data has ${data.length}`);
    }
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
    chunks.push(littleEndianBytes(data));
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20); // ' '
  padded.set(json);
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(padded.length), true);
  return [length, padded, ...chunks];
}

/** A header entry that passed the checks; offsets are into the data section. */
interface Entry {
  name: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Fills `target` with the source's bytes from `position` on, or throws saying `what` was cut short. */
export type ReadAt = (target: Uint8Array, position: number, what: string) => Promise<void>;

/** Safetensors in memory (`file` names them in errors), checked as a file is. */
export function parseSafetensors(file: string, bytes: Uint8Array): Promise<SafetensorsContents> {
  return decodeSafetensors(file, bytes.length, async (target, position, what) => {
    if (position + target.length > bytes.length) throw new ModelFileError(file, `file ended while reading ${what}`);
    target.set(bytes.subarray(position, position + target.length));
  });
}

/** Checks the header (all of it, before anything large is allocated) and returns its tensors and metadata. */
function parseHeader(file: string, text: string, dataBytes: number): { entries: Entry[]; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new ModelFileError(file, `header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ModelFileError(file, 'header must be a JSON object');
  }
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (value === null) continue;
      if (typeof value !== 'object' || Array.isArray(value)) throw new ModelFileError(file, `${METADATA_KEY} must be an object`);
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (typeof item !== 'string') throw new ModelFileError(file, `metadata ${key} must be a string, got ${JSON.stringify(item)}`);
        metadata[key] = item;
      }
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ModelFileError(file, `tensor ${name}: entry must be an object with dtype, shape and data_offsets`);
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') throw new ModelFileError(file, `tensor ${name}: dtype must be a string`);
    if (dtype !== 'F32') throw new ModelFileError(file, `tensor ${name} has dtype ${dtype}; only F32 is supported`);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new ModelFileError(file, `tensor ${name}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw new ModelFileError(file, `tensor ${name}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (end < begin) throw new ModelFileError(file, `tensor ${name}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataBytes) {
      throw new ModelFileError(file, `tensor ${name}: data_offsets [${begin}, ${end}] reach past the data section (${dataBytes} bytes)`);
    }
    // Multiply with an early exit so that an absurd shape cannot lose precision.
    let bytes = F32_BYTES;
    for (const dim of shape) {
      bytes *= dim;
      if (bytes > Number.MAX_SAFE_INTEGER) break;
    }
    if (bytes !== end - begin) {
      const needs = bytes > Number.MAX_SAFE_INTEGER ? `more than ${Number.MAX_SAFE_INTEGER}` : String(bytes);
      throw new ModelFileError(file, `tensor ${name}: shape [${shape}] needs ${needs} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    entries.push({ name, shape, begin, end });
  }
  // The tensors must tile the data section: each starts where the one before it ends.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const entry of byOffset) {
    if (entry.begin < covered) {
      throw new ModelFileError(file, `tensor ${entry.name} [${entry.begin}, ${entry.end}] overlaps tensor ${previous?.name} [${previous?.begin}, ${previous?.end}]`);
    }
    if (entry.begin > covered) {
      throw new ModelFileError(file, `bytes [${covered}, ${entry.begin}) of the data section belong to no tensor`);
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataBytes) {
    throw new ModelFileError(file, `bytes [${covered}, ${dataBytes}) of the data section belong to no tensor`);
  }
  return { entries, metadata };
}

/** The tensors and string metadata of a safetensors file. */
export interface SafetensorsContents {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/**
 * Reads safetensors of F32 tensors from a source of `size` bytes. Everything the header says is
 * checked against the size before any tensor is allocated; each tensor gets its own aligned
 * Float32Array. `file` names the source in errors.
 */
export async function decodeSafetensors(file: string, size: number, readAt: ReadAt): Promise<SafetensorsContents> {
  if (size < 8) throw new ModelFileError(file, `too short for a safetensors file: ${size} bytes, the header length alone takes 8`);
  const prefix = new Uint8Array(8);
  await readAt(prefix, 0, 'the header length');
  const headerLength = new DataView(prefix.buffer).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new ModelFileError(file, `header length ${headerLength} is absurd (limit ${MAX_HEADER_BYTES} bytes); not a safetensors file?`);
  }
  if (headerLength > BigInt(size - 8)) {
    throw new ModelFileError(file, `header length ${headerLength} is more than the ${size - 8} bytes after it; truncated or not a safetensors file`);
  }
  const headerBytes = new Uint8Array(Number(headerLength));
  await readAt(headerBytes, 8, 'the header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new ModelFileError(file, 'header is not valid UTF-8');
  }
  const dataStart = 8 + headerBytes.length;
  const { entries, metadata } = parseHeader(file, text, size - dataStart);
  const tensors = new Map<string, Tensor>();
  for (const { name, shape, begin, end } of entries) {
    const data = new Float32Array((end - begin) / F32_BYTES);
    await readAt(new Uint8Array(data.buffer), dataStart + begin, `tensor ${name}`);
    if (!HOST_LITTLE_ENDIAN) {
      const view = new DataView(data.buffer);
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * F32_BYTES, true);
    }
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}
