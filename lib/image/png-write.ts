import { PNG } from 'pngjs';
import { writeFileAtomic } from '../io/atomic-write';
import { MNIST_SIDE } from './place';

/** A network input (28x28 values in [0, 1], 1 the ink) as an 8-bit grey PNG, white ink on black as MNIST shows it. */
export function encodeInputPng(input: Float32Array): Buffer {
  const size = MNIST_SIDE * MNIST_SIDE;
  if (input.length !== size) throw new RangeError(`encodeInputPng: an input has ${size} values, got ${input.length}`);
  const bad = input.findIndex((v) => !(v >= 0 && v <= 1));
  if (bad >= 0) throw new RangeError(`encodeInputPng: input[${bad}] is ${input[bad]}, values must be in [0, 1]`);
  const png = new PNG({ width: MNIST_SIDE, height: MNIST_SIDE, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(Uint8Array.from(input, (v) => Math.round(v * 255)));
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
}

/** Writes `input` to `path` as `encodeInputPng` encodes it, atomically (temporary file + rename). */
export function writeInputPng(path: string, input: Float32Array): Promise<void> {
  return writeFileAtomic(path, [encodeInputPng(input)]);
}
