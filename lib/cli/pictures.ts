import { promises as fs } from 'fs';
import * as path from 'path';
import { looksLikeImage } from '../image/decode';
import { writeInputPng } from '../image/png-write';

/** Whether the file at `file` is a PNG or JPEG picture (by its first bytes); false when it cannot be read (the reader then says why). */
export async function isPictureFile(file: string): Promise<boolean> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const head = new Uint8Array(8);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return looksLikeImage(head.subarray(0, bytesRead));
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

/** Writes the 28x28 inputs a network saw as PNGs into one folder, each under a name of its own. */
export class InputSaver {
  private readonly used = new Set<string>();

  private constructor(private readonly dir: string) {}

  /** A saver into `dir`, created if missing. */
  static async into(dir: string): Promise<InputSaver> {
    await fs.mkdir(dir, { recursive: true });
    return new InputSaver(dir);
  }

  /** Saves `input` as `<name>.png` (`<name>-2.png` ... when taken in this run); returns its path. */
  async save(name: string, input: Float32Array): Promise<string> {
    let file = `${name}.png`;
    for (let n = 2; this.used.has(file); n++) file = `${name}-${n}.png`;
    this.used.add(file);
    const target = path.join(this.dir, file);
    await writeInputPng(target, input);
    return target;
  }
}

/** A file's name without its folder and extension: what its saved input is named after. */
export function stem(file: string): string {
  return path.basename(file, path.extname(file));
}
