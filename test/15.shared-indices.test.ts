/**
 * Labels and row indices in memory that changes during the call. Both backends check them before
 * the kernel runs, but the kernel reads them again: it must check the value it uses, so that no
 * change between the check and the use (another thread writing a SharedArrayBuffer, or the
 * kernel's own output landing on them) makes it read or write outside its buffers.
 *
 * The first tests are deterministic: the label / index buffer shares memory with the kernel's
 * output, so the kernel itself turns a valid value into a bad one after the check. The stress
 * tests let a worker thread flip values in a SharedArrayBuffer while this thread calls the kernel
 * (.ci/run also runs them against the AddressSanitizer build).
 */
import { Worker } from 'node:worker_threads';
import type { Backend } from '../lib/backend/contract';
import { getBackend } from '../lib/backend';
import { describeEachBackend, describeNative } from './backends';
import { thrown } from './thrown';

const GUARD = 256;
const GUARD_BYTE = 0xa5;

/** `bytes` between guard regions of GUARD bytes; `intact()` says whether the guards still hold. */
function guardedBuffer(bytes: number, shared = false): { buffer: ArrayBufferLike; intact: () => boolean } {
  const buffer = shared ? new SharedArrayBuffer(bytes + 2 * GUARD) : new ArrayBuffer(bytes + 2 * GUARD);
  const all = new Uint8Array(buffer);
  all.subarray(0, GUARD).fill(GUARD_BYTE);
  all.subarray(GUARD + bytes).fill(GUARD_BYTE);
  const intact = (): boolean => all.subarray(0, GUARD).every((b) => b === GUARD_BYTE) && all.subarray(GUARD + bytes).every((b) => b === GUARD_BYTE);
  return { buffer, intact };
}

describeEachBackend('labels and indices that change after the check', (B) => {

  test('softmaxCrossEntropy stops at a label its own dlogits row overwrote, and names the value it read', () => {
    // dlogits is 2 x 3 floats; labels[0] is byte 3 (high byte of dlogits[0]) and labels[1] byte 4
    // (low byte of dlogits[1]). Both are 0 when checked; writing row 0 of dlogits puts the low
    // byte of 1/3 (0x3eaaaaab) into labels[1].
    const { buffer, intact } = guardedBuffer(6 * 4);
    const dlogits = new Float32Array(buffer, GUARD, 6);
    const labels = new Uint8Array(buffer, GUARD + 3, 2);
    const logits = new Float32Array(6);
    const probs = new Float32Array(6);
    expect(thrown(() => B.softmaxCrossEntropy(2, 3, logits, labels, probs, dlogits, 1)))
      .toEqual({ name: 'RangeError', message: 'softmaxCrossEntropy: labels[1] is 171, must be < cols (3)' });
    expect(intact()).toBe(true);
  });

  test('softmaxCrossEntropy stops at a Uint16Array label its own dlogits row overwrote, and names the 16-bit value', () => {
    // As above, with labels[0] the high half of dlogits[0] and labels[1] the low half of
    // dlogits[1]: writing row 0 puts the low half of 1/3 (0x3eaaaaab), 0xaaab, into labels[1].
    const { buffer, intact } = guardedBuffer(6 * 4);
    const dlogits = new Float32Array(buffer, GUARD, 6);
    const labels = new Uint16Array(buffer, GUARD + 2, 2);
    const logits = new Float32Array(6);
    const probs = new Float32Array(6);
    expect(thrown(() => B.softmaxCrossEntropy(2, 3, logits, labels, probs, dlogits, 1)))
      .toEqual({ name: 'RangeError', message: 'softmaxCrossEntropy: labels[1] is 43691, must be < cols (3)' });
    expect(intact()).toBe(true);
  });

  test('gatherRows stops at an index its own dst row overwrote, and names the value it read', () => {
    // indices[1] is dst[0]. Both indices are 0 when checked; dst[0] = scale * 1 is the float whose
    // bits are 200 (a denormal), which makes indices[1] 200: past the 2 rows of src.
    const { buffer, intact } = guardedBuffer(3 * 4);
    const indices = new Uint32Array(buffer, GUARD, 2);
    const dst = new Float32Array(buffer, GUARD + 4, 2);
    const scale = 200 * 2 ** -149;
    expect(thrown(() => B.gatherRows(Uint8Array.from([1, 1]), 1, indices, 0, 2, scale, dst)))
      .toEqual({ name: 'RangeError', message: 'gatherRows: indices[1] is 200, src has 2 rows' });
    expect(intact()).toBe(true);
  });

  test('gatherRows reports a changed index at its position in indices, offset included', () => {
    const { buffer } = guardedBuffer(4 * 4);
    const indices = new Uint32Array(buffer, GUARD, 3);
    const dst = new Float32Array(buffer, GUARD + 8, 2);  // dst[0] is indices[2]
    expect(thrown(() => B.gatherRows(Uint8Array.from([1, 1]), 1, indices, 1, 2, 200 * 2 ** -149, dst)))
      .toEqual({ name: 'RangeError', message: 'gatherRows: indices[2] is 200, src has 2 rows' });
  });
});

/**
 * A worker that keeps making one byte of `target` (a SharedArrayBuffer, from byte `offset`,
 * `length` bytes, in steps of `stride`) out of range (>= `valid`) for a moment and then restores
 * it, until control[0] is 1. Between pulses every value is valid, so addon.cc's check passes on
 * most calls, and the kernel may read a value during a pulse.
 */
const FLIPPER = `
const { workerData } = require('node:worker_threads');
const { target, offset, length, stride, valid, control } = workerData;
const bytes = new Uint8Array(target, offset, length);
const stop = new Int32Array(control);
let seed = 12345;
let sink = 0;  // keeps the pulse's loop
Atomics.store(stop, 1, 1);  // started
while (Atomics.load(stop, 0) === 0) {
  for (let round = 0; round < 64; round++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const at = (seed >>> 8) % (length / stride) * stride;
    // Atomics, so that the JIT keeps both stores (a plain store overwritten at once is dead code).
    const before = Atomics.load(bytes, at);
    Atomics.store(bytes, at, valid + ((seed >>> 4) % (256 - valid)));
    for (let i = 0; i < 20; i++) sink += Atomics.load(stop, 0);  // the pulse: a few hundred ns
    Atomics.store(bytes, at, before);
  }
}
`;

/** Starts FLIPPER on `target`; resolves once it runs. `stop()` ends it. */
async function startFlipper(target: SharedArrayBuffer, offset: number, length: number, stride: number, valid: number):
    Promise<{ stop: () => Promise<number> }> {
  const control = new SharedArrayBuffer(8);
  const flags = new Int32Array(control);
  const worker = new Worker(FLIPPER, { eval: true, workerData: { target, offset, length, stride, valid, control } });
  while (Atomics.load(flags, 1) === 0) await new Promise((r) => setTimeout(r, 1));
  return {
    stop: () => {
      Atomics.store(flags, 0, 1);
      return worker.terminate();
    },
  };
}

/** Calls `call` for `ms` milliseconds; counts returns and RangeErrors, fails on anything else. */
function hammer(ms: number, call: () => void, expected: RegExp): { ok: number; rejected: number } {
  const counts = { ok: 0, rejected: 0 };
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      call();
      counts.ok++;
    } catch (err) {
      const { name, message } = err as Error;
      if (name !== 'RangeError' || !expected.test(message)) throw err;
      counts.rejected++;
    }
  }
  return counts;
}

const STRESS_MS = 1500;

describeNative('labels and indices written by another thread during the call [native]', () => {
  let B: Backend;
  beforeAll(() => {
    B = getBackend('native');
  });

  test('softmaxCrossEntropy only ever returns a loss or throws the label RangeError, and writes only its buffers', async () => {
    // 16 rows of 10 classes: a label up to 255 used unchecked would reach far past every buffer.
    const rows = 16, cols = 10;
    const labelsMemory = guardedBuffer(rows, true);
    const labels = new Uint8Array(labelsMemory.buffer, GUARD, rows);
    labels.forEach((_, r) => { labels[r] = r % cols; });  // in place: map() would copy
    const outputs = [guardedBuffer(4 * rows * cols), guardedBuffer(4 * rows * cols), guardedBuffer(4 * rows * cols)];
    const [logits, probs, dlogits] = outputs.map(({ buffer }) => new Float32Array(buffer, GUARD, rows * cols));
    logits.forEach((_, i) => { logits[i] = Math.sin(i); });
    const flipper = await startFlipper(labelsMemory.buffer as SharedArrayBuffer, GUARD, rows, 1, cols);
    try {
      const counts = hammer(STRESS_MS, () => B.softmaxCrossEntropy(rows, cols, logits, labels, probs, dlogits, 1),
        /^softmaxCrossEntropy: labels\[\d+\] is \d+, must be < cols \(10\)$/);
      expect(counts.ok).toBeGreaterThan(10);
    } finally {
      await flipper.stop();
    }
    expect(labelsMemory.intact()).toBe(true);
    expect(outputs.every(({ intact }) => intact())).toBe(true);
  });

  test('softmaxCrossEntropy with Uint16Array labels only ever returns a loss or throws the label RangeError', async () => {
    // 16 rows of 300 classes; the flipper pulses the high byte of each label to 2..255, which
    // makes it 512 or more: past every row if the kernel used it unchecked.
    const rows = 16, cols = 300;
    const labelsMemory = guardedBuffer(2 * rows, true);
    const labels = new Uint16Array(labelsMemory.buffer, GUARD, rows);
    labels.forEach((_, r) => { labels[r] = (37 * r) % cols; });  // in place: map() would copy
    const outputs = [guardedBuffer(4 * rows * cols), guardedBuffer(4 * rows * cols), guardedBuffer(4 * rows * cols)];
    const [logits, probs, dlogits] = outputs.map(({ buffer }) => new Float32Array(buffer, GUARD, rows * cols));
    logits.forEach((_, i) => { logits[i] = Math.sin(i); });
    const flipper = await startFlipper(labelsMemory.buffer as SharedArrayBuffer, GUARD + 1, 2 * rows, 2, 2);
    try {
      const counts = hammer(STRESS_MS, () => B.softmaxCrossEntropy(rows, cols, logits, labels, probs, dlogits, 1),
        /^softmaxCrossEntropy: labels\[\d+\] is \d+, must be < cols \(300\)$/);
      expect(counts.ok).toBeGreaterThan(10);
    } finally {
      await flipper.stop();
    }
    expect(labelsMemory.intact()).toBe(true);
    expect(outputs.every(({ intact }) => intact())).toBe(true);
  });

  test('gatherRows, minibatch and threaded full-batch sizes, only ever gathers or throws the index RangeError', async () => {
    const rowLen = 784, srcRows = 100;
    const src = new Uint8Array(rowLen * srcRows).map((_, i) => i % 251);
    for (const count of [64, 1024]) {  // 1024 rows of 784 bytes split over the pool's threads
      const { buffer, intact } = guardedBuffer(4 * count, true);
      const indices = new Uint32Array(buffer, GUARD, count);
      indices.forEach((_, i) => { indices[i] = i % srcRows; });  // in place: map() would copy
      const dst = new Float32Array(count * rowLen);
      // Pulses on the low byte of each index: 0..99 is a row of src, 100..255 is not.
      const flipper = await startFlipper(buffer as SharedArrayBuffer, GUARD, 4 * count, 4, srcRows);
      try {
        const counts = hammer(STRESS_MS, () => B.gatherRows(src, rowLen, indices, 0, count, 1 / 255, dst),
          /^gatherRows: indices\[\d+\] is \d+, src has 100 rows$/);
        expect(counts.ok).toBeGreaterThan(10);
      } finally {
        await flipper.stop();
      }
      expect(intact()).toBe(true);
    }
  });
});
