/**
 * Parser fuzzing: the IDX parser (raw and gzip'd) and the model loader (safetensors, then the
 * architecture in its metadata) on random bytes and on valid files with random mutations
 * (flipped bytes, cuts, extra bytes, extreme header fields, edited header JSON). The only
 * acceptable failures are the parsers' own errors naming the file, and no typed array may be
 * allocated larger than the file justifies: its size for raw IDX and safetensors, deflate's
 * maximum expansion of it for gzip.
 *
 * Seeded and bounded: the same cases run every time.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { gzipSync } from 'zlib';
import { gunzipIdx, parseIdx } from '../lib/data/idx';
import { readSafetensors } from '../lib/io/safetensors-file';
import { Network } from '../lib/model/network';

const SEED = 20261125;
const RUNS = 1500;
/** Deflate's maximum expansion, as lib/data/idx.ts bounds a gzip'd file's claim. */
const MAX_DEFLATE_RATIO = 1032;

let dir: string;
let modelBytes: Uint8Array;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'digitnet-fuzz-'));
  const file = join(dir, 'valid.safetensors');
  const net = Network.create({ input: 12, seed: 3, backend: 'ts', layers: [{ units: 5, activation: 'relu' }, { units: 3, activation: 'softmax' }] });
  await net.save(file);
  modelBytes = new Uint8Array(readFileSync(file));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ---- allocation tracking ---------------------------------------------------------------------

type TypedArrayConstructor = typeof Uint8Array | typeof Float32Array;
const TRACKED = ['Uint8Array', 'Float32Array'] as const;

/**
 * Runs `parse` with the global Uint8Array and Float32Array constructors wrapped so that every
 * fresh allocation is recorded before it happens (views onto an existing buffer are not
 * allocations); returns the largest, in bytes, and how `parse` ended.
 */
async function largestAllocation(parse: () => Promise<unknown>): Promise<{ largest: number; error?: unknown }> {
  let largest = 0;
  const globals = globalThis as unknown as Record<string, TypedArrayConstructor>;
  const originals = TRACKED.map((name) => globals[name]);
  TRACKED.forEach((name, i) => {
    const Base = originals[i] as unknown as new (...args: unknown[]) => object;
    const bytesPerElement = originals[i].BYTES_PER_ELEMENT;
    globals[name] = class extends Base {
      constructor(...args: unknown[]) {
        const [first] = args;
        if (typeof first === 'number') largest = Math.max(largest, first * bytesPerElement);
        else if (typeof first === 'object' && first !== null && 'length' in first && Object.prototype.toString.call(first) !== '[object ArrayBuffer]') {
          largest = Math.max(largest, Number((first as ArrayLike<unknown>).length) * bytesPerElement);
        }
        super(...args);
      }
    } as unknown as TypedArrayConstructor;
  });
  try {
    await parse();
    return { largest };
  } catch (error) {
    return { largest, error };
  } finally {
    TRACKED.forEach((name, i) => {
      globals[name] = originals[i];
    });
  }
}

/** Fails unless `error` is absent or an Error of class `name` whose message starts with `source`. */
function expectCleanError(error: unknown, names: string[], source: string): void {
  if (error === undefined) return;
  const { name, message } = error as Error;
  if (!names.includes(name) || !String(message).startsWith(`${source}: `)) {
    throw new Error(`expected ${names.join(' or ')} starting with '${source}: ', got ${name}: ${message}`);
  }
}

// ---- inputs: valid files and mutations of them --------------------------------------------------

/** An IDX file of unsigned bytes: labels (1 dim) or images (3 dims), small, sometimes a 0 dim. */
const idxFile = fc
  .oneof(fc.tuple(fc.integer({ min: 0, max: 40 })), fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })))
  .chain((dims) => fc.uint8Array({ minLength: dims.reduce((a, b) => a * b, 1), maxLength: dims.reduce((a, b) => a * b, 1) }).map((data) => idxBytes(dims, data)));

function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Values a corrupt header field may hold: zero, one, sign-bit and all-ones patterns, sizes past any file. */
const EXTREME_U32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 60000, 47040000, 0x10000];
const EXTREME_U64 = [0n, 1n, 7n, 8n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 100_000_001n];

/** One mutation of a byte string. */
type Mutation = (bytes: Uint8Array) => Uint8Array;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, value]): Mutation => (bytes) => {
    const out = bytes.slice();
    if (out.length > 0) out[at % out.length] = value;
    return out;
  }),
  fc.nat().map((at): Mutation => (bytes) => bytes.slice(0, at % (bytes.length + 1))),
  fc.uint8Array({ minLength: 1, maxLength: 32 }).map((extra): Mutation => (bytes) => concat(bytes, extra)),
  fc.tuple(fc.nat(), fc.constantFrom(...EXTREME_U32)).map(([at, value]): Mutation => (bytes) => {
    const out = bytes.slice();
    const word = at % 4; // a header word of IDX: magic or one of three dims
    if (out.length >= 4 * word + 4) new DataView(out.buffer).setUint32(4 * word, value, false);
    return out;
  }),
  fc.constantFrom(...EXTREME_U64).map((value): Mutation => (bytes) => {
    const out = bytes.slice();
    if (out.length >= 8) new DataView(out.buffer).setBigUint64(0, value, true); // safetensors' header length
    return out;
  }),
  fc.tuple(fc.nat(), fc.constantFrom('-1', '0', '1.5', '1e308', '9007199254740993', '4294967296', '99999999', '"x"', 'null', '[]', '{}')).map(
    ([which, replacement]): Mutation => (bytes) => editJsonNumber(bytes, which, replacement),
  ),
);

/**
 * Replaces the which-th run of digits in a safetensors header (a size, an offset, or a number of
 * the architecture in the metadata's escaped JSON) with `replacement`, and rewrites the header
 * length to match, so the rest of the file stays where the header says. Other bytes: unchanged.
 */
function editJsonNumber(bytes: Uint8Array, which: number, replacement: string): Uint8Array {
  if (bytes.length < 8) return bytes;
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + headerLength > bytes.length) return bytes;
  const header = Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('latin1');
  const runs = [...header.matchAll(/\d+/g)];
  if (runs.length === 0) return bytes;
  const run = runs[which % runs.length];
  const edited = Buffer.from(header.slice(0, run.index) + replacement + header.slice((run.index as number) + run[0].length), 'latin1');
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(edited.length), true);
  return concat(concat(length, edited), bytes.subarray(8 + headerLength));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A valid file mutated 0..3 times, or random bytes. */
function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(valid, fc.array(mutation, { maxLength: 3 })).map(([bytes, steps]) => steps.reduce((b, step) => step(b), bytes)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 96 }) },
  );
}

// ---- properties ---------------------------------------------------------------------------------

describe('fuzz: IDX parser', () => {
  test(`parseIdx: ${RUNS} random and mutated files give an IDX of the right size or an IdxError, allocating nothing larger than the file`, async () => {
    await fc.assert(
      fc.asyncProperty(mutated(idxFile), async (bytes) => {
        let result: ReturnType<typeof parseIdx> | undefined;
        const { largest, error } = await largestAllocation(async () => {
          result = parseIdx(bytes, 'fuzz.idx');
        });
        expectCleanError(error, ['IdxError'], 'fuzz.idx');
        expect(largest).toBeLessThanOrEqual(bytes.length);
        if (result) expect(result.data.length).toBe(result.dims.reduce((a, b) => a * b, 1));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test(`gunzipIdx: ${RUNS / 3} gzip'd mutated files and mutated gzip streams give an IDX or an IdxError, allocating at most the gzip's possible expansion`, async () => {
    const gzipped = fc.oneof(
      mutated(idxFile).map((bytes) => new Uint8Array(gzipSync(bytes))),
      mutated(idxFile.map((bytes) => new Uint8Array(gzipSync(bytes)))),
      // A bomb: a valid header followed by far more (compressible) data than it claims.
      fc.tuple(idxFile, fc.integer({ min: 1, max: 1 << 20 })).map(([bytes, extra]) => new Uint8Array(gzipSync(concat(bytes, new Uint8Array(extra))))),
    );
    await fc.assert(
      fc.asyncProperty(gzipped, async (compressed) => {
        const { largest, error } = await largestAllocation(() => gunzipIdx(compressed, 'fuzz.idx.gz'));
        expectCleanError(error, ['IdxError'], 'fuzz.idx.gz');
        expect(largest).toBeLessThanOrEqual(compressed.length * MAX_DEFLATE_RATIO + 1024);
      }),
      { seed: SEED, numRuns: RUNS / 3 },
    );
  });
});

describe('fuzz: model files', () => {
  let counter = 0;
  /** Writes the bytes to a fresh file and returns its path. */
  function fileOf(bytes: Uint8Array): string {
    const file = join(dir, `case${counter++}.safetensors`);
    writeFileSync(file, bytes);
    return file;
  }
  const modelFile = fc.constant(null).map(() => modelBytes);

  test(`readSafetensors: ${RUNS} random and mutated files give tensors or a ModelFileError, allocating nothing larger than the file`, async () => {
    await fc.assert(
      fc.asyncProperty(mutated(modelFile), async (bytes) => {
        const file = fileOf(bytes);
        const { largest, error } = await largestAllocation(() => readSafetensors(file));
        rmSync(file);
        expectCleanError(error, ['ModelFileError'], file);
        expect(largest).toBeLessThanOrEqual(bytes.length);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test(`Network.load and Network.fromBytes: ${RUNS} mutated model files give a network or the same error naming the file, allocating nothing larger than the file`, async () => {
    await fc.assert(
      fc.asyncProperty(mutated(modelFile), async (bytes) => {
        const file = fileOf(bytes);
        const { largest, error } = await largestAllocation(() => Network.load(file, { backend: 'ts' }));
        rmSync(file);
        expectCleanError(error, ['ModelFileError', 'RangeError', 'TypeError', 'Error'], file);
        expect(largest).toBeLessThanOrEqual(bytes.length);
        // The same bytes in memory (a page's fetched model) are judged exactly as the file was.
        const inMemory = await largestAllocation(() => Network.fromBytes(bytes, { backend: 'ts', name: file }));
        expect((inMemory.error as Error | undefined)?.message).toBe((error as Error | undefined)?.message);
        expect(inMemory.largest).toBeLessThanOrEqual(bytes.length);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
