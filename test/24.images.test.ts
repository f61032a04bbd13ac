/**
 * Images in: PNG and JPEG decoding (every PNG colour type, 16-bit, palette, interlaced), the
 * refusal of truncated, corrupt, oversized and foreign files, and raw pixel checks. Every image
 * is made here: PNGs byte by byte (so 16-bit, palette and hostile headers are exactly what the
 * test says), JPEGs with jpeg-js's encoder.
 */
import { deflateSync } from 'zlib';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { ImageError } from '../lib/core/errors';
import { decodeImage, MAX_IMAGE_PIXELS } from '../lib/image/decode';
import { checkPixels } from '../lib/image/pixels';

// ---------------------------------------------------------------------------------------------
// PNG files by hand

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One chunk: length, type, data, CRC of type + data. */
function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

function ihdr(width: number, height: number, bitDepth: number, colorType: number, interlace = 0): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data.set([bitDepth, colorType, 0, 0, interlace], 8);
  return chunk('IHDR', data);
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface PngSpec {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** Scanlines without their filter byte, already packed at bitDepth. */
  rows: Uint8Array[];
  extra?: Buffer[];
  interlace?: number;
}

/** A PNG from packed rows (filter type 0 on each), with PLTE / tRNS chunks in `extra`. */
function pngFile(spec: PngSpec): Buffer {
  const raw = Buffer.concat(spec.rows.flatMap((row) => [Buffer.of(0), Buffer.from(row)]));
  return Buffer.concat([
    SIGNATURE,
    ihdr(spec.width, spec.height, spec.bitDepth, spec.colorType, spec.interlace),
    ...(spec.extra ?? []),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** A grey 8-bit PNG of `values` (width x height, row-major). */
function greyPng(width: number, height: number, values: Uint8Array): Buffer {
  return pngFile({ width, height, bitDepth: 8, colorType: 0, rows: rowsOf(values, width, height, 1) });
}

function rowsOf(values: Uint8Array, width: number, height: number, bytesPerPixel: number): Uint8Array[] {
  return Array.from({ length: height }, (_, y) => values.subarray(y * width * bytesPerPixel, (y + 1) * width * bytesPerPixel));
}

/** The RGBA of pixel i. */
const px = (image: { data: Uint8Array }, i: number): number[] => [...image.data.subarray(4 * i, 4 * i + 4)];

/** What `fn` throws (it must throw). */
function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

/** Growth of rss and of ArrayBuffer memory while `fn` runs, in bytes. */
function memoryGrowth(fn: () => void): { rss: number; arrayBuffers: number } {
  const before = process.memoryUsage();
  fn();
  const after = process.memoryUsage();
  return { rss: after.rss - before.rss, arrayBuffers: after.arrayBuffers - before.arrayBuffers };
}

const MB = 1 << 20;

// ---------------------------------------------------------------------------------------------

describe('decodeImage: PNG formats, all to 8-bit RGBA', () => {
  test('grey 8-bit: r = g = b = the grey value, opaque', () => {
    const image = decodeImage(greyPng(3, 2, Uint8Array.of(0, 50, 100, 150, 200, 255)), 'g.png');
    expect([image.width, image.height, image.data.length]).toEqual([3, 2, 24]);
    expect(px(image, 1)).toEqual([50, 50, 50, 255]);
    expect(px(image, 5)).toEqual([255, 255, 255, 255]);
  });

  test('grey 16-bit: each sample rounded to 8 bits (v * 255 / 65535)', () => {
    const samples = [0x0000, 0x0101, 0x7fff, 0x8000, 0xfe00, 0xffff];
    const row = new Uint8Array(samples.length * 2);
    samples.forEach((s, i) => new DataView(row.buffer).setUint16(2 * i, s, false));
    const image = decodeImage(pngFile({ width: 6, height: 1, bitDepth: 16, colorType: 0, rows: [row] }), 'g16.png');
    expect(samples.map((_, i) => px(image, i)[0])).toEqual(samples.map((s) => Math.round((s * 255) / 65535)));
    expect(px(image, 3)).toEqual([128, 128, 128, 255]);
  });

  test('RGBA 16-bit: colour and alpha both reduced', () => {
    const row = new Uint8Array(8);
    [0xffff, 0x0000, 0x8080, 0x4040].forEach((s, i) => new DataView(row.buffer).setUint16(2 * i, s, false));
    const image = decodeImage(pngFile({ width: 1, height: 1, bitDepth: 16, colorType: 6, rows: [row] }), 'rgba16.png');
    expect(px(image, 0)).toEqual([255, 0, 128, 64]);
  });

  test('grey 1-bit: bits scaled to 0 and 255', () => {
    const image = decodeImage(pngFile({ width: 10, height: 1, bitDepth: 1, colorType: 0, rows: [Uint8Array.of(0b10100000, 0b01000000)] }), 'g1.png');
    expect(Array.from({ length: 10 }, (_, i) => px(image, i)[0])).toEqual([255, 0, 255, 0, 0, 0, 0, 0, 0, 255]);
  });

  test('palette 4-bit with tRNS: indices expanded to the palette colours and alphas', () => {
    const plte = chunk('PLTE', Uint8Array.of(255, 0, 0, 0, 255, 0, 0, 0, 255));
    const trns = chunk('tRNS', Uint8Array.of(255, 128));
    const image = decodeImage(pngFile({ width: 3, height: 1, bitDepth: 4, colorType: 3, rows: [Uint8Array.of(0x01, 0x20)], extra: [plte, trns] }), 'p.png');
    expect([0, 1, 2].map((i) => px(image, i))).toEqual([[255, 0, 0, 255], [0, 255, 0, 128], [0, 0, 255, 255]]);
  });

  test('grey + alpha 8-bit: grey spread to r, g, b, alpha kept', () => {
    const image = decodeImage(pngFile({ width: 2, height: 1, bitDepth: 8, colorType: 4, rows: [Uint8Array.of(10, 0, 200, 77)] }), 'ga.png');
    expect([px(image, 0), px(image, 1)]).toEqual([[10, 10, 10, 0], [200, 200, 200, 77]]);
  });

  test('RGB 8-bit written by pngjs', () => {
    const png = new PNG({ width: 2, height: 1 });
    png.data.set([1, 2, 3, 255, 250, 251, 252, 255]);
    const image = decodeImage(PNG.sync.write(png, { colorType: 2 }), 'rgb.png');
    expect([px(image, 0), px(image, 1)]).toEqual([[1, 2, 3, 255], [250, 251, 252, 255]]);
  });

  test('interlaced (Adam7): decodes, the inflated-size bound is exact', () => {
    // A uniform 13x11 grey image: each pass's rows are its width of the same value.
    const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
    const rows = passes.flatMap(([x0, y0, dx, dy]) => {
      const w = Math.max(0, Math.ceil((13 - x0) / dx));
      const h = Math.max(0, Math.ceil((11 - y0) / dy));
      return w === 0 ? [] : Array.from({ length: h }, () => new Uint8Array(w).fill(99));
    });
    const image = decodeImage(pngFile({ width: 13, height: 11, bitDepth: 8, colorType: 0, rows, interlace: 1 }), 'i.png');
    expect([image.width, image.height]).toEqual([13, 11]);
    expect(image.data.every((v, i) => v === (i % 4 === 3 ? 255 : 99))).toBe(true);
  });
});

describe('decodeImage: JPEG', () => {
  test('a JPEG written by jpeg-js decodes to RGBA close to what was encoded', () => {
    const data = new Uint8Array(16 * 16 * 4);
    for (let i = 0; i < 256; i++) data.set([200, 100, 50, 255], 4 * i);
    const file = jpeg.encode({ width: 16, height: 16, data }, 90).data;
    const image = decodeImage(file, 'a.jpg');
    expect([image.width, image.height, image.data.length]).toEqual([16, 16, 1024]);
    const [r, g, b, a] = px(image, 100);
    expect(Math.abs(r - 200) + Math.abs(g - 100) + Math.abs(b - 50)).toBeLessThan(12);
    expect(a).toBe(255);
  });
});

describe('decodeImage: refusals name the file and the problem', () => {
  const digitPng = (): Buffer => {
    const values = new Uint8Array(64 * 64);
    for (let i = 0; i < values.length; i++) values[i] = (i * 7919) % 251; // incompressible enough to span bytes
    return greyPng(64, 64, values);
  };

  test('a PNG cut in half is truncated', () => {
    const file = digitPng();
    const error = thrownBy(() => decodeImage(file.subarray(0, file.length >> 1), 'half.png'));
    expect(error).toBeInstanceOf(ImageError);
    expect(error.message).toMatch(/^half\.png: truncated PNG: chunk "IDAT" at byte 33 needs \d+ bytes, the file has \d+$/);
  });

  test('a PNG cut inside its header is truncated', () => {
    expect(() => decodeImage(digitPng().subarray(0, 20), 'head.png')).toThrow(/^head\.png: truncated PNG: 20 bytes, the header alone needs 33$/);
  });

  test('flipped bytes in the middle of IDAT: corrupt (CRC)', () => {
    const file = digitPng();
    const idat = file.indexOf('IDAT', 0, 'latin1') + 4;
    const length = file.readUInt32BE(idat - 8);
    const middle = idat + (length >> 1);
    for (let i = 0; i < 4; i++) file[middle + i] ^= 0xff;
    const error = thrownBy(() => decodeImage(file, 'flipped.png'));
    expect(error).toBeInstanceOf(ImageError);
    expect(error.message).toMatch(/^flipped\.png: corrupt PNG: /);
  });

  test('flipped bytes in IDAT with a matching CRC: corrupt (inflate)', () => {
    const values = new Uint8Array(64 * 64);
    for (let i = 0; i < values.length; i++) values[i] = (i * 7919) % 251;
    const deflated = deflateSync(Buffer.concat(rowsOf(values, 64, 64, 1).flatMap((row) => [Buffer.of(0), Buffer.from(row)])));
    for (let i = 0; i < 8; i++) deflated[(deflated.length >> 1) + i] ^= 0xa5;
    const file = Buffer.concat([SIGNATURE, ihdr(64, 64, 8, 0), chunk('IDAT', deflated), chunk('IEND', new Uint8Array(0))]);
    expect(() => decodeImage(file, 'inflate.png')).toThrow(/^inflate\.png: corrupt PNG: /);
  });

  test('a JPEG cut in half is truncated', () => {
    const data = new Uint8Array(64 * 64 * 4).map((_, i) => (i * 31) % 256);
    const file = jpeg.encode({ width: 64, height: 64, data }, 75).data;
    const error = thrownBy(() => decodeImage(file.subarray(0, file.length >> 1), 'half.jpg'));
    expect(error).toBeInstanceOf(ImageError);
    expect(error.message).toMatch(/^half\.jpg: truncated JPEG: /);
  });

  test('a JPEG cut inside its headers is truncated', () => {
    const file = jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256) }, 75).data;
    expect(() => decodeImage(file.subarray(0, 30), 'head.jpg')).toThrow(/^head\.jpg: truncated JPEG: /);
  });

  test('not an image: text, GIF, empty, random bytes', () => {
    expect(() => decodeImage(Buffer.from('label,pixels\n5,0 0 0\n'), 'digits.csv')).toThrow(/^digits\.csv: not a PNG or JPEG image: it looks like text \("label,pixels"\.\.\.\)$/);
    expect(() => decodeImage(Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), 'a.gif')).toThrow(/^a\.gif: not a PNG or JPEG image: it looks like a GIF image$/);
    expect(() => decodeImage(new Uint8Array(0), 'empty.png')).toThrow(/^empty\.png: not a PNG or JPEG image: the file is empty$/);
    expect(() => decodeImage(Uint8Array.of(0, 1, 2, 250, 251), 'x.png')).toThrow(/^x\.png: not a PNG or JPEG image: it starts with bytes 00 01 02 fa fb$/);
  });

  test('a 100000x100000 PNG header (valid CRC) is refused before any large allocation', () => {
    // Enough IDAT to look real: the refusal must come from the header, not from a short file.
    const file = Buffer.concat([SIGNATURE, ihdr(100000, 100000, 8, 6), chunk('IDAT', deflateSync(Buffer.alloc(1 << 16))), chunk('IEND', new Uint8Array(0))]);
    let error: Error | undefined;
    const growth = memoryGrowth(() => {
      error = thrownBy(() => decodeImage(file, 'huge.png'));
    });
    expect(error).toBeInstanceOf(ImageError);
    expect(error!.message).toBe(
      `huge.png: PNG too large: the header says 100000x100000 pixels; the limit is 20000 pixels a side and ${MAX_IMAGE_PIXELS / 1e6} megapixels`,
    );
    expect(growth.rss).toBeLessThan(50 * MB);
    expect(growth.arrayBuffers).toBeLessThan(50 * MB);
  });

  test('a PNG within each side limit but over the pixel limit is refused', () => {
    const file = Buffer.concat([SIGNATURE, ihdr(10000, 6000, 8, 0), chunk('IEND', new Uint8Array(0))]);
    expect(() => decodeImage(file, 'wide.png')).toThrow(/^wide\.png: PNG too large: the header says 10000x6000 pixels/);
  });

  test('a JPEG whose frame header says 65000x65000 is refused before decoding', () => {
    const file = Buffer.from(jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256) }, 75).data);
    const sof = file.indexOf(Buffer.of(0xff, 0xc0));
    file.writeUInt16BE(65000, sof + 5);
    file.writeUInt16BE(65000, sof + 7);
    let error: Error | undefined;
    const growth = memoryGrowth(() => {
      error = thrownBy(() => decodeImage(file, 'huge.jpg'));
    });
    expect(error!.message).toMatch(/^huge\.jpg: JPEG too large: the header says 65000x65000 pixels/);
    expect(growth.arrayBuffers).toBeLessThan(50 * MB);
  });

  test('an interlaced PNG whose data inflates past its size (a decompression bomb) is refused', () => {
    // 16x16 grey interlaced needs a few hundred bytes; this IDAT inflates to 64 MB.
    const bomb = Buffer.concat([SIGNATURE, ihdr(16, 16, 8, 0, 1), chunk('IDAT', deflateSync(Buffer.alloc(64 * MB))), chunk('IEND', new Uint8Array(0))]);
    let error: Error | undefined;
    const growth = memoryGrowth(() => {
      error = thrownBy(() => decodeImage(bomb, 'bomb.png'));
    });
    expect(error!.message).toMatch(/^bomb\.png: corrupt PNG: image data does not inflate to the 16x16 image/);
    expect(growth.arrayBuffers).toBeLessThan(50 * MB);
  });

  test('a PNG header with an impossible format or zero size is corrupt', () => {
    expect(() => decodeImage(Buffer.concat([SIGNATURE, ihdr(4, 4, 16, 3)]), 'p16.png')).toThrow(/^p16\.png: corrupt PNG: colour type 3 with bit depth 16 is not a PNG format$/);
    expect(() => decodeImage(Buffer.concat([SIGNATURE, ihdr(0, 4, 8, 0)]), 'zero.png')).toThrow(/^zero\.png: corrupt PNG: the header says 0x4 pixels$/);
  });
});

describe('raw pixels', () => {
  test('RGBA (a canvas ImageData) and grey are both accepted, as views', () => {
    const rgba = new Uint8ClampedArray(2 * 3 * 4);
    expect(checkPixels({ width: 2, height: 3, data: rgba }, 'canvas')).toMatchObject({ width: 2, height: 3, channels: 4 });
    expect(checkPixels({ width: 2, height: 3, data: new Uint8Array(6) }, 'grey').channels).toBe(1);
  });

  test('sizes that do not add up, bad sizes and bad data types are refused, naming the source', () => {
    expect(() => checkPixels({ width: 2, height: 3, data: new Uint8Array(7) }, 'canvas')).toThrow(/^canvas: data has 7 values; 2x3 needs 24 \(RGBA\) or 6 \(grey\)$/);
    expect(() => checkPixels({ width: 0, height: 3, data: new Uint8Array(0) }, 'canvas')).toThrow(/^canvas: width must be a positive integer, got 0$/);
    expect(() => checkPixels({ width: 2, height: 1.5, data: new Uint8Array(3) }, 'canvas')).toThrow(/^canvas: height must be a positive integer, got 1.5$/);
    expect(() => checkPixels({ width: 1, height: 1, data: new Float32Array(1) as unknown as Uint8Array }, 'canvas')).toThrow(/^canvas: data must be a Uint8Array or Uint8ClampedArray, got Float32Array$/);
    expect(thrownBy(() => checkPixels(null as never, 'canvas'))).toBeInstanceOf(ImageError);
  });
});
