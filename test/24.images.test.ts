/**
 * Images in: PNG and JPEG decoding (every PNG colour type, 16-bit, palette, interlaced), the
 * refusal of truncated, corrupt, oversized and foreign files, raw pixel checks, MNIST-style
 * preprocessing (ruled and squared paper included) and Network.predictImage. Every image is made here: PNGs byte by byte (so
 * 16-bit, palette and hostile headers are exactly what the test says), JPEGs with jpeg-js's
 * encoder, digits drawn as anti-aliased thick polylines.
 */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { deflateSync } from 'zlib';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { ImageError } from '../lib/core/errors';
import { readIdx } from '../lib/data/idx';
import { resolveMnistDir } from '../lib/data/mnist';
import { decodeImage, MAX_IMAGE_PIXELS } from '../lib/image/decode';
import { checkPixels } from '../lib/image/pixels';
import { encodeInputPng, writeInputPng } from '../lib/image/png-write';
import { preprocessImage } from '../lib/image/preprocess';
import { ruledLines } from '../lib/image/rules';
import { Network } from '../lib/model/network';

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

  /** A JPEG of a 48x32 white picture with a black 16x8 block in its top-left corner, with an EXIF APP1 segment giving `orientation`. */
  function orientedJpeg(orientation: number, littleEndian: boolean): Buffer {
    const [W, H] = [48, 32];
    const data = new Uint8Array(W * H * 4).fill(255);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) data.fill(0, 4 * (y * W + x), 4 * (y * W + x) + 3);
    const file = Buffer.from(jpeg.encode({ width: W, height: H, data }, 95).data);
    // TIFF header, IFD0 with one entry: tag 0x0112, type SHORT (3), count 1, the value.
    const tiff = Buffer.alloc(8 + 2 + 12 + 4);
    const [u16, u32] = littleEndian ? ([tiff.writeUInt16LE.bind(tiff), tiff.writeUInt32LE.bind(tiff)] as const) : ([tiff.writeUInt16BE.bind(tiff), tiff.writeUInt32BE.bind(tiff)] as const);
    tiff.write(littleEndian ? 'II' : 'MM', 0, 'latin1');
    u16(42, 2);
    u32(8, 4);
    u16(1, 8);
    u16(0x0112, 10);
    u16(3, 12);
    u32(1, 14);
    u16(orientation, 18);
    const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body]);
    return Buffer.concat([file.subarray(0, 2), app1, file.subarray(2)]);
  }

  test.each([1, 2, 3, 4, 5, 6, 7, 8])('EXIF orientation %i turns the picture upright (both byte orders)', (orientation) => {
    // Where the stored top-left block shows once upright: its corner, and whether width and height swap.
    const corner = ['top-left', 'top-right', 'bottom-right', 'bottom-left', 'top-left', 'top-right', 'bottom-right', 'bottom-left'][orientation - 1];
    for (const little of [true, false]) {
      const image = decodeImage(orientedJpeg(orientation, little), 'photo.jpg');
      const swapped = orientation >= 5;
      expect([image.width, image.height]).toEqual(swapped ? [32, 48] : [48, 32]);
      const dark = (x: number, y: number) => image.data[4 * (y * image.width + x)] < 128;
      const [right, bottom] = [image.width - 1, image.height - 1];
      const at = { 'top-left': [2, 2], 'top-right': [right - 2, 2], 'bottom-right': [right - 2, bottom - 2], 'bottom-left': [2, bottom - 2] } as const;
      for (const [name, [x, y]] of Object.entries(at)) expect(dark(x, y)).toBe(name === corner);
      // The block is 16 wide and 8 tall as stored: turned by 90 degrees, 8 wide and 16 tall.
      const [cx, cy] = at[corner as keyof typeof at];
      const [bw, bh] = swapped ? [8, 16] : [16, 8];
      expect(dark(cx < image.width / 2 ? bw - 3 : right - bw + 3, cy)).toBe(true);
      expect(dark(cx < image.width / 2 ? bw + 3 : right - bw - 3, cy)).toBe(false);
      expect(dark(cx, cy < image.height / 2 ? bh - 3 : bottom - bh + 3)).toBe(true);
      expect(dark(cx, cy < image.height / 2 ? bh + 3 : bottom - bh - 3)).toBe(false);
    }
  });

  test('an EXIF block that cannot be read leaves the picture as stored', () => {
    const file = orientedJpeg(6, true);
    file.writeUInt32LE(0xfffffff0, 4 + 2 + 6 + 4); // IFD0 offset far past the segment
    const image = decodeImage(file, 'photo.jpg');
    expect([image.width, image.height]).toEqual([48, 32]);
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

  test('flipped bytes in the middle of a JPEG\'s image data: corrupt', () => {
    const data = new Uint8Array(64 * 64 * 4).map((_, i) => (i * 31) % 256);
    const file = Buffer.from(jpeg.encode({ width: 64, height: 64, data }, 75).data);
    const middle = (file.indexOf(Buffer.of(0xff, 0xda)) + file.length) >> 1;
    for (let i = 0; i < 16; i++) file[middle + i] ^= 0x5a;
    expect(() => decodeImage(file, 'flipped.jpg')).toThrow(/^flipped\.jpg: corrupt JPEG: /);
  });

  test('a lossless or arithmetic-coded JPEG is unsupported, said before decoding', () => {
    const file = Buffer.from(jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256) }, 75).data);
    file[file.indexOf(Buffer.of(0xff, 0xc0)) + 1] = 0xc3;
    expect(() => decodeImage(file, 'lossless.jpg')).toThrow(/^lossless\.jpg: unsupported JPEG: frame type 0xffc3 \(lossless or arithmetic coding\)/);
  });

  test('a JPEG cut inside its headers is truncated', () => {
    const file = jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256) }, 75).data;
    expect(() => decodeImage(file.subarray(0, 30), 'head.jpg')).toThrow(/^head\.jpg: truncated JPEG: /);
  });

  test('bytes that are not a Uint8Array are a TypeError', () => {
    expect(() => decodeImage(new ArrayBuffer(8) as never, 'a.png')).toThrow(new TypeError("decodeImage: a.png: the file's bytes must be a Uint8Array or Buffer, got ArrayBuffer"));
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
    // 16x16 grey interlaced needs a few hundred bytes; this IDAT inflates to 16 MB.
    const bomb = Buffer.concat([SIGNATURE, ihdr(16, 16, 8, 0, 1), chunk('IDAT', deflateSync(Buffer.alloc(16 * MB))), chunk('IEND', new Uint8Array(0))]);
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

// ---------------------------------------------------------------------------------------------
// Digits drawn here

/** A stroke path in units of the image's height, (0, 0) top left. */
type Path = [number, number][];
/** A '7': a bar and a slanted stem, its centre of mass off its box's centre (so centring is by mass, not by box). */
const SEVEN: Path = [[0.3, 0.2], [0.7, 0.2], [0.45, 0.8]];
/** A '1': one vertical stroke, far taller than wide. */
const ONE: Path = [[0.5, 0.15], [0.5, 0.85]];

/** Ink coverage 0..1 of each pixel of a width x height image by `path` drawn `stroke` (of the height) thick: 4x4 samples a pixel on the edges, so they are anti-aliased. */
function draw(width: number, height: number, path: Path, stroke = 0.08, offset: [number, number] = [0, 0]): Float32Array {
  const points = path.map(([x, y]) => [(x + offset[0]) * height, (y + offset[1]) * height]);
  const radius = (stroke * height) / 2;
  const distance = (x: number, y: number) => {
    let nearest = Infinity;
    for (let i = 1; i < points.length; i++) nearest = Math.min(nearest, distanceToSegment(x, y, points[i - 1], points[i]));
    return nearest;
  };
  const coverage = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // A pixel's samples lie within 0.71 of its centre: farther than that from the edge, all or none is ink.
      const d = distance(x + 0.5, y + 0.5);
      if (d > radius + 0.75 || d < radius - 0.75) {
        coverage[y * width + x] = d < radius ? 1 : 0;
        continue;
      }
      let hits = 0;
      for (let sy = 0; sy < 4; sy++) for (let sx = 0; sx < 4; sx++) if (distance(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4) <= radius) hits++;
      coverage[y * width + x] = hits / 16;
    }
  }
  return coverage;
}

function distanceToSegment(px: number, py: number, a: number[], b: number[]): number {
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  const t = Math.max(0, Math.min(1, ((px - a[0]) * dx + (py - a[1]) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - a[0] - t * dx, py - a[1] - t * dy);
}

/** RGBA pixels of `coverage` drawn in `ink` on `paper` (grey levels 0..255), opaque. */
function paint(coverage: Float32Array, ink: number, paper: number): Uint8Array {
  const data = new Uint8Array(coverage.length * 4);
  coverage.forEach((c, i) => {
    const v = Math.round(paper + c * (ink - paper));
    data.set([v, v, v, 255], 4 * i);
  });
  return data;
}

/** Centre of mass of a 28x28 image in index coordinates (pixel i at i: MNIST's digits average (14, 14)). */
function centreOfMass(image: Float32Array): [number, number] {
  let [mass, x, y] = [0, 0, 0];
  image.forEach((v, i) => {
    mass += v;
    x += v * (i % 28);
    y += v * Math.floor(i / 28);
  });
  return [x / mass, y / mass];
}

/**
 * Width and height of the box around the output's ink, an ink pixel being one at least half
 * covered (>= 0.5): the box MNIST's 20-pixel longer side refers to, give or take the one
 * pixel that anti-aliasing decides.
 */
function inkBox(image: Float32Array): [number, number] {
  let [x0, y0, x1, y1] = [28, 28, -1, -1];
  image.forEach((v, i) => {
    if (v < 0.5) return;
    const [x, y] = [i % 28, Math.floor(i / 28)];
    [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  });
  return [x1 - x0 + 1, y1 - y0 + 1];
}

/** Asserts what makes a preprocessed digit MNIST-like: values in [0, 1], centre of mass within 0.5 px of (14, 14), longer ink side 20 +- 1. */
function expectMnistLike(image: Float32Array): void {
  expect(image).toHaveLength(784);
  expect(image.every((v) => v >= 0 && v <= 1)).toBe(true);
  const [cx, cy] = centreOfMass(image);
  expect(Math.abs(cx - 14)).toBeLessThan(0.5);
  expect(Math.abs(cy - 14)).toBeLessThan(0.5);
  expect(Math.abs(Math.max(...inkBox(image)) - 20)).toBeLessThanOrEqual(1);
}

/** Largest difference between two images, value by value. */
const maxDifference = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
/** Mean difference between two images, value by value. */
const meanDifference = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

/** A deterministic noise source (a 32-bit LCG), so that every run draws the same image. */
function noise(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('preprocessImage: MNIST-style 28x28', () => {
  const W = 160;
  const H = 200;
  const seven = draw(W, H, SEVEN);
  const reference = preprocessImage({ width: W, height: H, data: paint(seven, 0, 255) });

  test('a dark 7 on white paper: centre of mass at (14, 14) within 0.5 px, longer side 20 px, strokes saturated', () => {
    expectMnistLike(reference);
    expect(Math.max(...reference)).toBe(1);
    // The bar and the stem sit where a 7's do: ink in the top rows and in the middle of the bottom rows.
    const [w, h] = inkBox(reference);
    expect(h).toBeGreaterThan(w);
  });

  test('placement follows the ink, not where it was on the page', () => {
    const moved = draw(W, H, SEVEN, 0.08, [-0.15, 0.12]);
    expect(meanDifference(preprocessImage({ width: W, height: H, data: paint(moved, 0, 255) }), reference)).toBeLessThan(0.02);
  });

  test('a tall 1 keeps its aspect ratio: 20 px tall, a few wide', () => {
    const one = preprocessImage({ width: W, height: H, data: paint(draw(W, H, ONE), 0, 255) });
    expectMnistLike(one);
    const [w, h] = inkBox(one);
    expect(h).toBeGreaterThan(4 * w);
  });

  test('a digit smaller than 20 px is enlarged (bilinear) to 20 px', () => {
    const small = preprocessImage({ width: 16, height: 16, data: paint(draw(16, 16, SEVEN, 0.16), 0, 255) });
    expectMnistLike(small);
  });

  test('polarity: light ink on dark paper gives the dark-on-light result, detected or forced', () => {
    const inverted = { width: W, height: H, data: paint(seven, 255, 0) };
    expect(maxDifference(preprocessImage(inverted), reference)).toBeLessThan(0.02);
    expect(maxDifference(preprocessImage(inverted, { polarity: 'light-on-dark' }), reference)).toBeLessThan(0.02);
    expect(maxDifference(preprocessImage({ width: W, height: H, data: paint(seven, 0, 255) }, { polarity: 'dark-on-light' }), reference)).toBe(0);
  });

  test('polarity: low-contrast grey ink on grey paper, both ways', () => {
    expect(meanDifference(preprocessImage({ width: W, height: H, data: paint(seven, 90, 170) }), reference)).toBeLessThan(0.02);
    expect(meanDifference(preprocessImage({ width: W, height: H, data: paint(seven, 170, 90) }), reference)).toBeLessThan(0.02);
  });

  test('alpha: opaque strokes on a transparent ground (a canvas drawing), dark or light strokes', () => {
    const canvas = (ink: number) => {
      const data = new Uint8ClampedArray(W * H * 4);
      seven.forEach((c, i) => data.set([ink, ink, ink, Math.round(c * 255)], 4 * i));
      return { width: W, height: H, data };
    };
    expect(maxDifference(preprocessImage(canvas(0)), reference)).toBeLessThan(0.02);
    expect(maxDifference(preprocessImage(canvas(255)), reference)).toBeLessThan(0.02);
  });

  test('grey pixels (one byte a pixel) are accepted as they are', () => {
    const grey = Uint8Array.from(seven, (c) => Math.round(255 * (1 - c)));
    expect(maxDifference(preprocessImage({ width: W, height: H, data: grey }), reference)).toBeLessThan(0.02);
  });

  test('grey, RGB, 16-bit grey and palette PNGs of the same digit give the same input', () => {
    const grey = Uint8Array.from(seven, (c) => Math.round(255 * (1 - c)));
    const grey16 = new Uint8Array(W * H * 2);
    seven.forEach((c, i) => new DataView(grey16.buffer).setUint16(2 * i, Math.round(65535 * (1 - c)), false));
    // Palette: 17 levels of ink (what 4x4 samples can cover), blue ink on yellowish paper.
    const levels = Array.from({ length: 17 }, (_, k) => k / 16);
    const plte = chunk('PLTE', Uint8Array.from(levels.flatMap((c) => [250 - 230 * c, 240 - 200 * c, 200 - 50 * c].map(Math.round))));
    const indices = Uint8Array.from(seven, (c) => Math.round(c * 16));
    const rgb = new PNG({ width: W, height: H });
    rgb.data.set(paint(seven, 30, 230));
    const files: [string, Buffer][] = [
      ['grey.png', greyPng(W, H, grey)],
      ['grey16.png', pngFile({ width: W, height: H, bitDepth: 16, colorType: 0, rows: rowsOf(grey16, W, H, 2) })],
      ['palette.png', pngFile({ width: W, height: H, bitDepth: 8, colorType: 3, rows: rowsOf(indices, W, H, 1), extra: [plte] })],
      ['rgb.png', PNG.sync.write(rgb, { colorType: 2 })],
    ];
    for (const [name, file] of files) {
      const image = preprocessImage(decodeImage(file, name), { name });
      expectMnistLike(image);
      expect(meanDifference(image, reference)).toBeLessThan(0.02);
    }
  });

  test('JPEG at quality 75 with a lighting gradient and noise: still centred, still 20 px, close to the clean digit', () => {
    const random = noise(7);
    const data = new Uint8Array(W * H * 4);
    seven.forEach((c, i) => {
      const [x, y] = [i % W, Math.floor(i / W)];
      // Light falls from the top left corner to 45% at the bottom right; the ink reflects 10% of it.
      const light = 1 - 0.55 * ((x / W + y / H) / 2);
      const reflectance = 0.92 - 0.82 * c + 0.06 * (random() - 0.5);
      const v = Math.max(0, Math.min(255, Math.round(255 * light * reflectance)));
      data.set([v, v, Math.round(v * 0.9), 255], 4 * i);
    });
    const file = jpeg.encode({ width: W, height: H, data }, 75).data;
    const image = preprocessImage(decodeImage(file, 'photo.jpg'));
    expectMnistLike(image);
    expect(meanDifference(image, reference)).toBeLessThan(0.04);
  });

  test('specks of dust away from the digit move neither its box nor its centre', () => {
    const data = paint(seven, 0, 255);
    for (const [x, y] of [[5, 5], [150, 190], [10, 180]]) data.set([0, 0, 0, 255], 4 * (y * W + x));
    expect(maxDifference(preprocessImage({ width: W, height: H, data }), reference)).toBeLessThan(0.02);
  });

  test('a bold stroke (a quarter of the height) stays solid, not hollow', () => {
    const bold = preprocessImage({ width: W, height: H, data: paint(draw(W, H, ONE, 0.25), 0, 255) });
    // 20 px tall, so 0.25 / 0.95 x 20 = 5.3 px wide: the middle three columns are all ink.
    expectMnistLike(bold);
    for (let y = 6; y <= 22; y++) expect([13, 14, 15].map((x) => bold[y * 28 + x])).toEqual([1, 1, 1]);
  });

  test('a ballpoint-thin 7 is widened to MNIST\'s thinnest strokes, still centred and 20 px', () => {
    const thin = preprocessImage({ width: W, height: H, data: paint(draw(W, H, SEVEN, 0.015), 0, 255) });
    expectMnistLike(thin);
    // Unwidened, its strokes would be a third of a pixel wide: one pixel at most half ink, not 60.
    const halfInk = (image: Float32Array) => image.filter((v) => v >= 0.5).length;
    expect(halfInk(thin)).toBeGreaterThan(0.8 * halfInk(reference));
    expect(meanDifference(thin, reference)).toBeLessThan(0.05);
  });

  test('an image larger than the working size (1120x1400) is averaged down first, same result', () => {
    // The reference page enlarged 7x by repeating pixels: drawing it anew would cost more than the test.
    const small = paint(seven, 0, 255);
    const data = new Uint8Array(W * 7 * H * 7 * 4);
    for (let y = 0; y < H * 7; y++) {
      for (let x = 0; x < W * 7; x++) data.set(small.subarray(4 * (Math.floor(y / 7) * W + Math.floor(x / 7)), 4 * (Math.floor(y / 7) * W + Math.floor(x / 7)) + 4), 4 * (y * W * 7 + x));
    }
    expect(meanDifference(preprocessImage({ width: W * 7, height: H * 7, data }), reference)).toBeLessThan(0.02);
  });

  test('a blank page (even unevenly lit and noisy) is refused: no ink', () => {
    const random = noise(3);
    const blank = Uint8Array.from({ length: W * H }, (_, i) => Math.round(200 - 60 * ((i % W) / W) + 8 * (random() - 0.5)));
    expect(() => preprocessImage({ width: W, height: H, data: blank }, { name: 'blank.png' })).toThrow(/^blank\.png: no ink found: the image looks blank/);
    expect(thrownBy(() => preprocessImage({ width: 4, height: 4, data: new Uint8Array(16).fill(255) }))).toBeInstanceOf(ImageError);
  });

  test('bad options and bad pixels are refused', () => {
    expect(() => preprocessImage({ width: 1, height: 1, data: new Uint8Array(1) }, { polarity: 'dark' as never })).toThrow(
      "preprocessImage: polarity must be one of 'auto', 'dark-on-light', 'light-on-dark', got dark",
    );
    expect(() => preprocessImage({ width: 2, height: 2, data: new Uint8Array(3) }, { name: 'canvas' })).toThrow(/^canvas: data has 3 values/);
  });
});

/** Printed lines under a drawing: rules `spacing` pixels apart from `first` (horizontal, and vertical too when squared), tilted, and a margin line at x = `margin`. */
interface Rules {
  spacing: number;
  first: number;
  squared?: boolean;
  tilt?: number;
  margin?: number;
}

/** RGBA pixels of `coverage` in dark ink (20) on white paper (245) printed with `rules` in light blue and a red margin, 2 pixels thick, anti-aliased. */
function onRuledPaper(coverage: Float32Array, width: number, rules: Rules): Uint8Array {
  const t = ((rules.tilt ?? 0) * Math.PI) / 180;
  const cover = (d: number) => Math.min(1, Math.max(0, 1.5 - d));
  const toRule = (v: number) => {
    const m = ((((v - rules.first) % rules.spacing) + rules.spacing) % rules.spacing);
    return Math.min(m, rules.spacing - m);
  };
  const data = new Uint8Array(coverage.length * 4);
  coverage.forEach((c, i) => {
    const [x, y] = [(i % width) + 0.5, Math.floor(i / width) + 0.5];
    const [u, v] = [Math.cos(t) * x + Math.sin(t) * y, -Math.sin(t) * x + Math.cos(t) * y];
    const line = Math.max(cover(toRule(v)), rules.squared ? cover(toRule(u)) : 0);
    const margin = rules.margin === undefined ? 0 : cover(Math.abs(u - rules.margin));
    const paper = [0, 1, 2].map((k) => 245 + ([150, 180, 230][k] - 245) * line + ([225, 120, 125][k] - 245) * margin);
    data.set([...paper.map((p) => Math.round(p + (20 - p) * c)), 255], 4 * i);
  });
  return data;
}

/** Strokes of a drawing as preprocessing finds them (ink at least half), for ruledLines. */
const strokesOf = (coverage: Float32Array): Uint8Array => Uint8Array.from(coverage, (c) => (c >= 0.5 ? 1 : 0));

describe('ruled and squared paper: the printed lines are taken out', () => {
  const W = 300;
  const H = 240;
  const blank = (path: Path, offset: [number, number]) => preprocessImage({ width: W, height: H, data: paint(draw(W, H, path, 0.06, offset), 20, 245) });

  test('a 1 crossed by three rules, with a margin line, on paper tilted 1.5 degrees: as on blank paper, its strokes unbroken', () => {
    const one = draw(W, H, ONE, 0.06, [0.3, 0]);
    const ruled = preprocessImage({ width: W, height: H, data: onRuledPaper(one, W, { spacing: 60, first: 50, tilt: 1.5, margin: 40 }) });
    expectMnistLike(ruled);
    expect(meanDifference(ruled, blank(ONE, [0.3, 0]))).toBeLessThan(0.01);
  });

  test('a 7 on squared paper, the grid crossing its bar and stem', () => {
    const seven = draw(W, H, SEVEN, 0.06, [0.2, 0]);
    const squared = preprocessImage({ width: W, height: H, data: onRuledPaper(seven, W, { spacing: 40, first: 30, squared: true, tilt: -1 }) });
    expectMnistLike(squared);
    expect(meanDifference(squared, blank(SEVEN, [0.2, 0]))).toBeLessThan(0.02);
  });

  test('ruledLines marks most of the rules\' pixels and none of the digit\'s own', () => {
    const one = draw(W, H, ONE, 0.06, [0.3, 0]);
    const lines = Float32Array.from(onRuledPaper(new Float32Array(W * H), W, { spacing: 60, first: 50, tilt: 1.5, margin: 40 }).filter((_, i) => i % 4 === 0), (v) => (v < 240 ? 1 : 0));
    const strokes = strokesOf(Float32Array.from(one, (c, i) => Math.max(c, lines[i])));
    const marked = ruledLines(strokes, strokes, W, H);
    const found = marked.reduce((sum, v) => sum + v, 0);
    expect(found).toBeGreaterThan(0.8 * lines.reduce((sum, v) => sum + v, 0));
    // The 1's own pixels that no rule crosses stay.
    const ownOnly = one.reduce((sum, c, i) => sum + (c >= 0.5 && !lines[i] && marked[i] ? 1 : 0), 0);
    expect(ownOnly).toBe(0);
  });

  test('long strokes of digits are not rules: a 7 whose bar spans the picture, a 2 on its long base, a lone 1 from edge to edge', () => {
    const tight = (path: Path, w: number, h: number) => strokesOf(draw(w, h, path, 0.05));
    const sevenBar: Path = [[0.05, 0.1], [0.95, 0.1], [0.6, 0.95]];
    const twoBase: Path = [[0.2, 0.3], [0.5, 0.1], [0.8, 0.3], [0.1, 0.9], [0.95, 0.9]];
    const lone: Path = [[0.5, 0], [0.5, 1]];
    for (const [path, w] of [[sevenBar, 100], [twoBase, 100], [lone, 60]] as const) {
      const strokes = tight(path, w, 100);
      expect(ruledLines(strokes, strokes, w, 100).some((v) => v === 1)).toBe(false);
    }
  });

  test('none of 500 MNIST test digits, nor 100 rows of five of them side by side, loses a pixel to a rule', async () => {
    const { data } = await readIdx(join(resolveMnistDir().dir, 't10k-images-idx3-ubyte'));
    const digit = (k: number) => strokesOf(Float32Array.from(data.subarray(k * 784, (k + 1) * 784), (v) => v / 255));
    for (let k = 0; k < 500; k++) expect(ruledLines(digit(k), digit(k), 28, 28).some((v) => v === 1)).toBe(false);
    for (let k = 0; k < 500; k += 5) {
      // Five digits 20 pixels apart: strokes touch their neighbours' and share rows across the number.
      const row = new Uint8Array(28 * 108);
      for (let j = 0; j < 5; j++) digit(k + j).forEach((v, i) => (row[Math.floor(i / 28) * 108 + (i % 28) + 20 * j] |= v));
      expect(ruledLines(row, row, 108, 28).some((v) => v === 1)).toBe(false);
    }
  });
});

describe('preprocessImage on real MNIST digits', () => {
  test('digits enlarged 4x (bilinear) and inverted to dark-on-light come back as themselves', async () => {
    const { data } = await readIdx(join(resolveMnistDir().dir, 't10k-images-idx3-ubyte'));
    const K = 4;
    const S = 28 * K;
    const differences: number[] = [];
    for (let k = 0; k < 40; k++) {
      const digit = data.subarray(k * 784, (k + 1) * 784);
      const at = (x: number, y: number) => (x < 0 || y < 0 || x > 27 || y > 27 ? 0 : digit[y * 28 + x]);
      const page = new Uint8Array(S * S);
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const [u, v] = [(x + 0.5) / K - 0.5, (y + 0.5) / K - 0.5];
          const [i, j] = [Math.floor(u), Math.floor(v)];
          const [fu, fv] = [u - i, v - j];
          const value = (1 - fu) * (1 - fv) * at(i, j) + fu * (1 - fv) * at(i + 1, j) + (1 - fu) * fv * at(i, j + 1) + fu * fv * at(i + 1, j + 1);
          page[y * S + x] = 255 - Math.round(value);
        }
      }
      const back = preprocessImage({ width: S, height: S, data: page });
      differences.push(meanDifference(back, Float32Array.from(digit, (v) => v / 255)));
    }
    // MNIST's mean pixel is 0.13; a network trained on MNIST scores the same on these as on the originals.
    expect(differences.reduce((a, b) => a + b, 0) / differences.length).toBeLessThan(0.035);
    expect(Math.max(...differences)).toBeLessThan(0.08);
  });
});

describe('encodeInputPng / writeInputPng', () => {
  test('a 28x28 input becomes an 8-bit grey PNG that decodes to the same values (to 1/255)', () => {
    const input = Float32Array.from({ length: 784 }, (_, i) => (i % 29) / 28);
    const file = encodeInputPng(input);
    expect([file[24], file[25]]).toEqual([8, 0]); // IHDR: bit depth 8, colour type 0 (grey)
    const image = decodeImage(file, 'input.png');
    expect([image.width, image.height]).toEqual([28, 28]);
    input.forEach((v, i) => expect(image.data[4 * i]).toBe(Math.round(v * 255)));
  });

  test('written atomically to a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'digitnet-images-'));
    try {
      const input = new Float32Array(784).fill(0.5);
      await writeInputPng(join(dir, 'seen.png'), input);
      expect(readFileSync(join(dir, 'seen.png'))).toEqual(encodeInputPng(input));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an input of the wrong size or with values outside [0, 1] is refused', () => {
    expect(() => encodeInputPng(new Float32Array(10))).toThrow('encodeInputPng: an input has 784 values, got 10');
    expect(() => encodeInputPng(new Float32Array(784).fill(NaN))).toThrow('encodeInputPng: input[0] is NaN, values must be in [0, 1]');
  });
});

describe('Network.predictImage', () => {
  const W = 120;
  const H = 150;
  const image = { width: W, height: H, data: paint(draw(W, H, SEVEN), 0, 255) };

  test.each([[784], [[1, 28, 28]]])('an untrained network taking %j returns a label 0..9, 10 probabilities summing to 1, and the input it saw', (input) => {
    const net = Network.create({ input, seed: 1, backend: 'ts', layers: [{ units: 16 }, { units: 10 }] });
    const result = net.predictImage(image);
    expect(Number.isInteger(result.label) && result.label >= 0 && result.label <= 9).toBe(true);
    expect(result.probabilities).toHaveLength(10);
    expect(result.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(result.label).toBe(result.probabilities.indexOf(Math.max(...result.probabilities)));
    expect(result.input).toEqual(preprocessImage(image));
    // An input already preprocessed is used as it is.
    expect(net.predictImage(result.input).probabilities).toEqual(result.probabilities);
  });

  test('a network that does not take 28x28 images is refused, as is a preprocessed input of the wrong size', () => {
    const small = Network.create({ input: 64, seed: 1, backend: 'ts', layers: [{ units: 10 }] });
    expect(() => small.predictImage(image)).toThrow(
      "predictImage: the network takes [64]; an image is preprocessed to MNIST's 28x28, for networks that take [784] or [1, 28, 28]",
    );
    const net = Network.create({ input: 784, seed: 1, backend: 'ts', layers: [{ units: 10 }] });
    expect(() => net.predictImage(new Float32Array(100))).toThrow('predictImage: a preprocessed image has 784 values, got 100');
  });
});
