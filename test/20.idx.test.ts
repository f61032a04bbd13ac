import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { gzipSync } from 'zlib';
import { IdxError } from '../lib/core/errors';
import { gunzipIdx, parseIdx, readIdx } from '../lib/data/idx';

/** An IDX file: magic 0x0000 0x08 ndims, big-endian u32 dims, then the bytes (default 0, 1, 2, ...). */
function idxBytes(dims: number[], data?: Uint8Array, type = 0x08): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  const body = data ?? Uint8Array.from({ length: size }, (_, i) => i & 0xff);
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, (type << 8) | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'digitnet-idx-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function fixture(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

describe('parseIdx', () => {
  test('parses 1-D labels', () => {
    const idx = parseIdx(idxBytes([5], Uint8Array.of(5, 0, 4, 1, 9)), 'labels');
    expect(idx.dims).toEqual([5]);
    expect(Array.from(idx.data)).toEqual([5, 0, 4, 1, 9]);
  });

  test('parses 3-D images with dims from the header', () => {
    const idx = parseIdx(idxBytes([2, 3, 4]), 'images');
    expect(idx.dims).toEqual([2, 3, 4]);
    expect(idx.data.length).toBe(24);
    expect(idx.data[23]).toBe(23);
  });

  test('returns the data as a view into the bytes, not a copy', () => {
    const bytes = idxBytes([3]);
    const idx = parseIdx(bytes, 'labels');
    expect(idx.data.buffer).toBe(bytes.buffer);
    expect(idx.data.byteOffset).toBe(8);
  });

  test('rejects truncated data, naming the file and both sizes', () => {
    const bytes = idxBytes([10000]).subarray(0, 5004);
    expect(() => parseIdx(bytes, 't10k-labels-idx1-ubyte')).toThrow(
      't10k-labels-idx1-ubyte: truncated: header says 10000 items (10008 bytes) but the file has 5004 bytes',
    );
  });

  test('rejects trailing bytes after the data', () => {
    const good = idxBytes([2, 2, 2]);
    const bytes = new Uint8Array(good.length + 3);
    bytes.set(good);
    expect(() => parseIdx(bytes, 'imgs')).toThrow('imgs: trailing bytes: header says 2 items of 2x2 (24 bytes) but the file has 27 bytes');
  });

  test('rejects a wrong magic, showing found and expected in hex', () => {
    const bytes = idxBytes([4]);
    bytes[0] = 0x12;
    expect(() => parseIdx(bytes, 'f')).toThrow('f: not an IDX file: magic is 0x12000801, expected 0x00000801 (labels) or 0x00000803 (images)');
  });

  test('rejects an unsupported number of dims', () => {
    expect(() => parseIdx(idxBytes([2, 2]), 'f')).toThrow('f: unsupported magic 0x00000802 (2 dims): expected 0x00000801 (labels) or 0x00000803 (images)');
  });

  test('rejects a data type other than unsigned byte, naming it', () => {
    expect(() => parseIdx(idxBytes([1], new Uint8Array(4), 0x0d), 'f')).toThrow(
      'f: unsupported data type 0x0d (float32) (magic 0x00000d01): only 0x08 (unsigned byte) is supported',
    );
  });

  test('rejects an empty file', () => {
    expect(() => parseIdx(new Uint8Array(0), 'f')).toThrow('f: empty file: an IDX file needs at least 8 bytes');
  });

  test('rejects a file shorter than its header', () => {
    expect(() => parseIdx(idxBytes([2, 3, 4]).subarray(0, 10), 'f')).toThrow('f: too short: 10 bytes, but the IDX header needs 16');
  });

  test('rejects a header-only file as truncated', () => {
    expect(() => parseIdx(idxBytes([3, 28, 28]).subarray(0, 16), 'f')).toThrow(
      'f: truncated: header says 3 items of 28x28 (2368 bytes) but the file has 16 bytes',
    );
  });

  test('rejects a zero dimension', () => {
    expect(() => parseIdx(idxBytes([5, 0, 28], new Uint8Array(0)), 'f')).toThrow('f: dimension 1 is 0 (dims [5, 0, 28])');
  });

  test('rejects absurd dims before allocating anything', () => {
    expect(() => parseIdx(idxBytes([0xffffffff, 0xffffffff, 28], new Uint8Array(0)), 'f')).toThrow(/^f: absurd dims \[4294967295, 4294967295, 28\]/);
  });

  test('errors are IdxError with the source and the problem', () => {
    let caught: unknown;
    try {
      parseIdx(new Uint8Array(0), 'src');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(IdxError);
    expect(caught).toBeInstanceOf(Error);
    expect((caught as IdxError).source).toBe('src');
  });

  test('hints at gzip when given compressed bytes', () => {
    expect(() => parseIdx(gzipSync(idxBytes([3])), 'f')).toThrow(/this is gzip data/);
  });
});

describe('readIdx', () => {
  test('reads a raw file', async () => {
    const idx = await readIdx(fixture('raw-labels', idxBytes([7])));
    expect(idx.dims).toEqual([7]);
    expect(Array.from(idx.data)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test('reads a gzip file, recognised by content not by name', async () => {
    const bytes = idxBytes([3, 5, 7]);
    const idx = await readIdx(fixture('compressed-without-suffix', gzipSync(bytes)));
    expect(idx.dims).toEqual([3, 5, 7]);
    expect(idx.data).toEqual(bytes.subarray(16));
  });

  test('assembles a header that inflates in one-byte pieces', async () => {
    // Fed one compressed byte at a time, zlib hands out the header a byte or so at a time.
    const gz = gzipSync(idxBytes([2, 1, 1]));
    const idx = await gunzipIdx(Array.from(gz, (byte) => Uint8Array.of(byte)), 'pieces');
    expect(idx.dims).toEqual([2, 1, 1]);
    expect(Array.from(idx.data)).toEqual([0, 1]);
  });

  test('reads a large gzip (several inflate chunks) exactly', async () => {
    const bytes = idxBytes([40, 200, 300]);
    const idx = await readIdx(fixture('large.gz', gzipSync(bytes, { level: 1 })));
    expect(idx.data.length).toBe(40 * 200 * 300);
    expect(Buffer.compare(idx.data, bytes.subarray(16))).toBe(0);
  });

  test('reads a raw file and inflates a gzip straight into shared memory, one buffer of the file size', async () => {
    // fit's worker uses data in a SharedArrayBuffer as it is, and copies any other.
    const bytes = idxBytes([40, 200, 300]);
    for (const file of [fixture('shared-raw', bytes), fixture('shared.gz', gzipSync(bytes, { level: 1 }))]) {
      const idx = await readIdx(file);
      expect(Object.prototype.toString.call(idx.data.buffer)).toBe('[object SharedArrayBuffer]');
      expect(idx.data.buffer.byteLength).toBe(bytes.length);
      expect(Buffer.compare(idx.data, bytes.subarray(16))).toBe(0);
    }
  });

  test('rejects a gzip whose payload is shorter than its header says, with an IdxError naming the file', async () => {
    const file = fixture('short.gz', gzipSync(idxBytes([100]).subarray(0, 50)));
    const read = readIdx(file);
    await expect(read).rejects.toThrow(IdxError);
    await expect(read).rejects.toThrow(`${file}: truncated: header says 100 items (108 bytes) but the gzip inflates to 50 bytes`);
  });

  test('rejects a gzip whose payload is longer than its header says, with an IdxError naming the file', async () => {
    const bytes = new Uint8Array(120);
    bytes.set(idxBytes([100]));
    const file = fixture('long.gz', gzipSync(bytes));
    const read = readIdx(file);
    await expect(read).rejects.toThrow(IdxError);
    await expect(read).rejects.toThrow(`${file}: trailing bytes: header says 100 items (108 bytes) but the gzip inflates to more`);
  });

  test('rejects a corrupt gzip', async () => {
    const gz = gzipSync(idxBytes([1000]));
    gz.fill(0xaa, 12, 30);
    const file = fixture('corrupt.gz', gz);
    await expect(readIdx(file)).rejects.toThrow(new RegExp(`^${file}: corrupt gzip: `));
  });

  test('rejects a cut-off gzip stream', async () => {
    const gz = gzipSync(idxBytes([1000]));
    const file = fixture('cut.gz', gz.subarray(0, gz.length - 10));
    await expect(readIdx(file)).rejects.toThrow(new RegExp(`^${file}: corrupt gzip: `));
  });

  test('stops inflating a gzip bomb at the size its header justifies', async () => {
    // 10 labels declared, then 200 gzip members of 1 MiB of zeros each (200 MiB inflated, 200 KB on disk).
    const zeros = gzipSync(new Uint8Array(1 << 20));
    const file = fixture('bomb.gz', Buffer.concat([gzipSync(idxBytes([10])), ...Array<Buffer>(200).fill(zeros)]));
    const before = process.memoryUsage().arrayBuffers;
    await expect(readIdx(file)).rejects.toThrow(`${file}: trailing bytes: header says 10 items (18 bytes) but the gzip inflates to more`);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(50 * 1024 * 1024);
  });

  test('rejects a gzip whose header claims more than any gzip of its size can hold', async () => {
    const file = fixture('liar.gz', gzipSync(idxBytes([1000, 1000, 1000], new Uint8Array(0))));
    await expect(readIdx(file)).rejects.toThrow(/cannot inflate to that$/);
  });

  test('rejects a gzip of an empty file', async () => {
    const file = fixture('empty.gz', gzipSync(new Uint8Array(0)));
    await expect(readIdx(file)).rejects.toThrow(`${file}: empty file (after gunzip): an IDX file needs at least 8 bytes`);
  });

  test('rejects a missing file, naming it', async () => {
    const file = join(dir, 'nope');
    await expect(readIdx(file)).rejects.toThrow(`${file}: cannot read: no such file`);
  });
});
