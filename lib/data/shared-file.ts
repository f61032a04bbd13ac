import { promises as fs } from 'fs';

/**
 * Reads a whole file into a SharedArrayBuffer, so that a dataset loaded from it reaches fit's
 * worker thread without a copy (lib/train/thread.ts uses shared arrays as they are). Errors are
 * fs's own (ENOENT, EACCES, ...), as from fs.readFile.
 */
export async function readFileShared(path: string): Promise<Uint8Array> {
  const handle = await fs.open(path, 'r');
  try {
    const { size } = await handle.stat();
    const bytes = new Uint8Array(new SharedArrayBuffer(size));
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(bytes, done, size - done, done);
      if (bytesRead === 0) break; // the file shrank while being read: return what is there
      done += bytesRead;
    }
    return bytes.subarray(0, done);
  } finally {
    await handle.close();
  }
}
