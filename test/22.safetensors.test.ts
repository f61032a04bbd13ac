import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { AtomicWriteError, ModelFileError } from '../lib/core/errors';
import { writeFileAtomic } from '../lib/io/atomic-write';
import { MAX_HEADER_BYTES, parseSafetensors, type Tensor } from '../lib/io/safetensors';
import { readSafetensors, writeSafetensors } from '../lib/io/safetensors-file';

let root: string;
let counter = 0;
/** A fresh empty directory per test, so leftover temporary files are visible. */
function freshDir(): string {
  const dir = join(root, `t${counter++}`);
  mkdirSync(dir);
  return dir;
}
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'digitnet-safetensors-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Floats with awkward bit patterns: signed zero, subnormal, infinities, NaN payload, extremes. */
function awkwardFloats(n: number): Float32Array {
  const data = new Float32Array(n);
  const bits = new Uint32Array(data.buffer);
  const special = [0x80000000, 0x00000001, 0x7f800000, 0xff800000, 0x7fc12345, 0x7f7fffff, 0x3f800000];
  for (let i = 0; i < n; i++) bits[i] = i < special.length ? special[i] : (Math.imul(i, 2654435761) >>> 0) & 0xbfffffff;
  return data;
}

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** A safetensors file from a raw header object (or string) and data section. */
function rawFile(dir: string, header: unknown, data: Uint8Array = new Uint8Array(0), name = 'raw.safetensors'): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([length, json, data]));
  return file;
}

describe('writeSafetensors + readSafetensors', () => {
  test('round-trip tensors bit-exactly, including empty and odd-sized ones', async () => {
    const file = join(freshDir(), 'm.safetensors');
    const tensors: Record<string, Tensor> = {
      'layers.0.weight': { shape: [3, 7], data: awkwardFloats(21) },
      'layers.0.bias': { shape: [3], data: awkwardFloats(3) },
      empty: { shape: [0, 5], data: new Float32Array(0) },
      scalar: { shape: [], data: Float32Array.of(-1.5) },
      odd: { shape: [1, 1, 13], data: awkwardFloats(13) },
    };
    await writeSafetensors(file, tensors, {});
    // From the file, and from its bytes in memory (what a web page fetches).
    for (const back of [await readSafetensors(file), await parseSafetensors(file, readFileSync(file))]) {
      expect([...back.tensors.keys()]).toEqual(Object.keys(tensors));
      for (const [name, { shape, data }] of Object.entries(tensors)) {
        const got = back.tensors.get(name) as Tensor;
        expect(got.shape).toEqual(shape);
        expect(sameBits(got.data, data)).toBe(true);
      }
    }
  });

  test('round-trip metadata, including non-ASCII text', async () => {
    const file = join(freshDir(), 'm.safetensors');
    const metadata = { format: 'digitnet/1', digitnet: JSON.stringify({ input: 784 }), note: 'π ≈ 3.14 — ✓' };
    await writeSafetensors(file, { w: { shape: [1], data: Float32Array.of(1) } }, metadata);
    expect((await readSafetensors(file)).metadata).toEqual(metadata);
  });

  test('omit __metadata__ when there is none, and read such files as empty metadata', async () => {
    const file = join(freshDir(), 'm.safetensors');
    await writeSafetensors(file, { w: { shape: [1], data: Float32Array.of(1) } }, {});
    expect(readFileSync(file).toString('utf8')).not.toContain('__metadata__');
    expect((await readSafetensors(file)).metadata).toEqual({});
  });

  test('write the documented layout: u64 LE length, space-padded JSON to a multiple of 8, contiguous LE data', async () => {
    const file = join(freshDir(), 'm.safetensors');
    // A multi-byte character makes the header's byte length differ from its string length.
    await writeSafetensors(file, { a: { shape: [2], data: Float32Array.of(1, -2) }, b: { shape: [1], data: Float32Array.of(0.5) } }, { é: 'x' });
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = bytes.subarray(8, 8 + n).toString('utf8');
    expect(header.startsWith('{')).toBe(true);
    expect(/^[^ ]*\}( *)$/.test(header)).toBe(true);
    expect(JSON.parse(header)).toEqual({
      __metadata__: { é: 'x' },
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
    });
    expect(bytes.length).toBe(8 + n + 12);
    expect([bytes.readFloatLE(8 + n), bytes.readFloatLE(8 + n + 4), bytes.readFloatLE(8 + n + 8)]).toEqual([1, -2, 0.5]);
  });

  test('write a tensor that is a view into a larger buffer', async () => {
    const file = join(freshDir(), 'm.safetensors');
    const big = Float32Array.of(9, 1, 2, 3, 9);
    await writeSafetensors(file, { v: { shape: [3], data: big.subarray(1, 4) } }, {});
    expect(Array.from((await readSafetensors(file)).tensors.get('v')!.data)).toEqual([1, 2, 3]);
  });

  test('replace an existing file', async () => {
    const file = join(freshDir(), 'm.safetensors');
    await writeSafetensors(file, { w: { shape: [1], data: Float32Array.of(1) } }, {});
    await writeSafetensors(file, { w: { shape: [2], data: Float32Array.of(2, 3) } }, {});
    expect(Array.from((await readSafetensors(file)).tensors.get('w')!.data)).toEqual([2, 3]);
  });

  test('read tensors into aligned arrays even when offsets are not multiples of 4 in the file', async () => {
    // Header length 3 (not padded): the data section starts at byte 11.
    const dir = freshDir();
    const data = Buffer.alloc(8);
    data.writeFloatLE(1.25, 0);
    data.writeFloatLE(-7, 4);
    const file = rawFile(dir, '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'.padEnd(59, ' '), data);
    expect(Array.from((await readSafetensors(file)).tensors.get('x')!.data)).toEqual([1.25, -7]);
  });

  test('refuse to write a shape that does not match the data', async () => {
    const file = join(freshDir(), 'm.safetensors');
    await expect(writeSafetensors(file, { w: { shape: [2, 2], data: new Float32Array(3) } }, {})).rejects.toThrow(
      `${file}: tensor w: shape [2,2] has 4 elements but the data has 3`,
    );
  });
});

describe('readSafetensors refuses', () => {
  /** Expects `message` from the file, and the same error from its bytes in memory. */
  const expectError = async (file: string, message: string | RegExp): Promise<void> => {
    const promise = readSafetensors(file);
    await expect(promise).rejects.toBeInstanceOf(ModelFileError);
    await expect(readSafetensors(file)).rejects.toThrow(message);
    if (!existsSync(file) || !statSync(file).isFile()) return;
    const fromFile = await readSafetensors(file).catch((error: Error) => error.message);
    await expect(parseSafetensors(file, readFileSync(file))).rejects.toThrow(fromFile as string);
  };
  const f32 = (begin: number, end: number, shape: number[]): object => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

  test('a missing file, naming it', async () => {
    const file = join(freshDir(), 'none.safetensors');
    await expectError(file, `${file}: cannot read: no such file`);
  });

  test('a file shorter than 8 bytes', async () => {
    const file = join(freshDir(), 'short');
    writeFileSync(file, Buffer.from([1, 0, 0]));
    await expectError(file, `${file}: too short for a safetensors file: 3 bytes, the header length alone takes 8`);
  });

  test('a header length beyond the file', async () => {
    const file = join(freshDir(), 'long');
    const bytes = Buffer.alloc(20);
    bytes.writeBigUInt64LE(13n);
    writeFileSync(file, bytes);
    await expectError(file, `${file}: header length 13 is more than the 12 bytes after it; truncated or not a safetensors file`);
  });

  test('an absurd header length, without allocating it', async () => {
    const file = join(freshDir(), 'absurd');
    const bytes = Buffer.alloc(16);
    bytes.writeBigUInt64LE(0xffffffffffffffffn);
    writeFileSync(file, bytes);
    await expectError(file, `${file}: header length 18446744073709551615 is absurd (limit ${MAX_HEADER_BYTES} bytes); not a safetensors file?`);
  });

  test('a header that is not valid UTF-8', async () => {
    const dir = freshDir();
    const file = join(dir, 'utf8');
    const bytes = Buffer.alloc(12);
    bytes.writeBigUInt64LE(4n);
    bytes.set([0x7b, 0xff, 0xfe, 0x7d], 8);
    writeFileSync(file, bytes);
    await expectError(file, `${file}: header is not valid UTF-8`);
  });

  test('a header that is not JSON', async () => {
    const file = rawFile(freshDir(), '{"a": ');
    await expectError(file, new RegExp(`^${file}: header is not valid JSON: `));
  });

  test('a header that is JSON but not an object', async () => {
    const file = rawFile(freshDir(), '[1, 2]');
    await expectError(file, `${file}: header must be a JSON object`);
  });

  test('a tensor entry that is not an object', async () => {
    const file = rawFile(freshDir(), { w: 5 });
    await expectError(file, `${file}: tensor w: entry must be an object with dtype, shape and data_offsets`);
  });

  test('a dtype other than F32, naming tensor and dtype', async () => {
    const file = rawFile(freshDir(), { w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4));
    await expectError(file, `${file}: tensor w has dtype F16; only F32 is supported`);
  });

  test('a shape with negative or fractional sizes', async () => {
    const file = rawFile(freshDir(), { w: f32(0, 4, [-1]) }, new Uint8Array(4));
    await expectError(file, `${file}: tensor w: shape must be an array of non-negative integers, got [-1]`);
    const frac = rawFile(freshDir(), { w: f32(0, 4, [0.5, 2]) }, new Uint8Array(4));
    await expectError(frac, /shape must be an array of non-negative integers, got \[0.5,2\]$/);
  });

  test('malformed data_offsets', async () => {
    const file = rawFile(freshDir(), { w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4));
    await expectError(file, `${file}: tensor w: data_offsets must be two non-negative integers, got [0]`);
  });

  test('data_offsets that do not match the shape', async () => {
    const file = rawFile(freshDir(), { w: f32(0, 8, [3]) }, new Uint8Array(8));
    await expectError(file, `${file}: tensor w: shape [3] needs 12 bytes but data_offsets [0, 8] hold 8`);
  });

  test('a huge shape, without overflowing or allocating', async () => {
    const file = rawFile(freshDir(), { w: f32(0, 8, [1e9, 1e9, 1e9]) }, new Uint8Array(8));
    await expectError(file, `${file}: tensor w: shape [1000000000,1000000000,1000000000] needs more than 9007199254740991 bytes but data_offsets [0, 8] hold 8`);
  });

  test('data_offsets past the data section', async () => {
    const file = rawFile(freshDir(), { w: f32(0, 16, [4]) }, new Uint8Array(8));
    await expectError(file, `${file}: tensor w: data_offsets [0, 16] reach past the data section (8 bytes)`);
  });

  test('data_offsets that end before they begin', async () => {
    const file = rawFile(freshDir(), { w: f32(8, 4, [1]) }, new Uint8Array(8));
    await expectError(file, `${file}: tensor w: data_offsets [8, 4] end before they begin`);
  });

  test('overlapping tensors, naming both', async () => {
    const file = rawFile(freshDir(), { a: f32(0, 8, [2]), b: f32(4, 12, [2]) }, new Uint8Array(12));
    await expectError(file, `${file}: tensor b [4, 12] overlaps tensor a [0, 8]`);
  });

  test('a gap between tensors', async () => {
    const file = rawFile(freshDir(), { a: f32(0, 4, [1]), b: f32(8, 12, [1]) }, new Uint8Array(12));
    await expectError(file, `${file}: bytes [4, 8) of the data section belong to no tensor`);
  });

  test('data after the last tensor', async () => {
    const file = rawFile(freshDir(), { a: f32(0, 4, [1]) }, new Uint8Array(12));
    await expectError(file, `${file}: bytes [4, 12) of the data section belong to no tensor`);
  });

  test('metadata values that are not strings', async () => {
    const file = rawFile(freshDir(), { __metadata__: { epochs: 5 } });
    await expectError(file, `${file}: metadata epochs must be a string, got 5`);
  });
});

describe('writeFileAtomic', () => {
  test('writes all chunks in order and leaves no temporary file', async () => {
    const dir = freshDir();
    const file = join(dir, 'out.bin');
    await writeFileAtomic(file, [Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3)]);
    expect(Array.from(readFileSync(file))).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(['out.bin']);
  });

  test('on failure leaves the old file as it was and no temporary file', async () => {
    const dir = freshDir();
    const file = join(dir, 'out.bin');
    writeFileSync(file, 'old');
    const bad = [Uint8Array.of(1), 'not bytes' as unknown as Uint8Array];
    await expect(writeFileAtomic(file, bad)).rejects.toThrow(new RegExp(`^${file}: cannot write: `));
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['out.bin']);
  });

  test('when the rename fails (target is a directory) removes the temporary file', async () => {
    const dir = freshDir();
    const target = join(dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'x');
    const error = await writeFileAtomic(target, [Uint8Array.of(1)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AtomicWriteError);
    expect((error as Error).message.startsWith(`${target}: cannot write: `)).toBe(true);
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  test('removes temporary files that killed writers of the same file left, and only those', async () => {
    const dir = freshDir();
    const file = join(dir, 'out.bin');
    // A pid above Linux's maximum (2^22) belongs to no process; this process's own pid is alive.
    const stale = `.out.bin.${2 ** 22 + 1}.0123456789ab.tmp`;
    const live = `.out.bin.${process.pid}.0123456789ab.tmp`;
    const otherTarget = `.other.bin.${2 ** 22 + 1}.0123456789ab.tmp`;
    for (const name of [stale, live, otherTarget]) writeFileSync(join(dir, name), 'partial');
    await writeFileAtomic(file, [Uint8Array.of(1)]);
    expect(readdirSync(dir).sort()).toEqual([live, otherTarget, 'out.bin'].sort());
  });

  test('in a missing directory fails naming the path and its errno code', async () => {
    const file = join(root, 'no-such-dir', 'out.bin');
    const error = (await writeFileAtomic(file, [Uint8Array.of(1)]).catch((e: unknown) => e)) as AtomicWriteError;
    expect(error.message).toMatch(new RegExp(`^${file}: cannot write: ENOENT`));
    expect(error.code).toBe('ENOENT');
  });

  test('writeSafetensors leaves no temporary file after a failed write', async () => {
    const dir = freshDir();
    const target = join(dir, 'model.safetensors');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'x');
    await expect(writeSafetensors(target, { w: { shape: [1], data: Float32Array.of(1) } }, {})).rejects.toThrow(target);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });
});
