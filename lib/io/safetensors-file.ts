import { promises as fs } from 'fs';
import { cannotRead, ModelFileError } from '../core/errors';
import { writeFileAtomic } from './atomic-write';
import { decodeSafetensors, encodeSafetensors, type SafetensorsContents, type Tensor } from './safetensors';

/** Writes `tensors` (F32, in the object's order) and `metadata` as a safetensors file, atomically. */
export async function writeSafetensors(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string>): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(file, tensors, metadata));
}

/** Reads a safetensors file of F32 tensors, header first: nothing large is allocated before the header checks out against the file's size. */
export async function readSafetensors(file: string): Promise<SafetensorsContents> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    throw new ModelFileError(file, cannotRead(error));
  }
  try {
    return await decodeSafetensors(file, (await handle.stat()).size, async (target, position, what) => {
      let done = 0;
      while (done < target.length) {
        const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
        if (bytesRead === 0) throw new ModelFileError(file, `file ended while reading ${what} (it changed while being read?)`);
        done += bytesRead;
      }
    });
  } catch (error) {
    if (error instanceof ModelFileError) throw error;
    throw new ModelFileError(file, `cannot read: ${(error as Error).message}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
