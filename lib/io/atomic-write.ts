import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { AtomicWriteError } from '../core/errors';

/**
 * Writes `chunks` to `file` so that a crash at any moment leaves either the old file or the
 * complete new one: the data goes to a temporary file in the same directory (same file system,
 * so the rename is atomic), is fsync'ed, renamed over the target, and the directory is fsync'ed
 * so the rename itself survives a power loss (best effort: not every platform allows it).
 */
export async function writeFileAtomic(file: string, chunks: Uint8Array[]): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(temp, 'wx');
    for (const chunk of chunks) {
      if (!ArrayBuffer.isView(chunk)) throw new TypeError(`chunks must be Uint8Arrays, got ${typeof chunk}`);
      let done = 0;
      while (done < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
        done += bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(temp, file);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await fs.unlink(temp).catch(() => undefined);
    throw new AtomicWriteError(file, error);
  }
  await syncDirectory(dir);
  await removeStaleTemps(dir, path.basename(file));
}

/**
 * A writer killed mid-write (SIGKILL, power loss) leaves its temporary file behind. Each later
 * successful write of the same target removes those whose process no longer exists, so they
 * never pile up. Only this host's pids are meaningful: a directory shared by several hosts may
 * lose another host's temporary file, and that writer then fails cleanly (its rename finds
 * nothing) with its target untouched. Best effort: never throws.
 */
async function removeStaleTemps(dir: string, base: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  const prefix = `.${base}.`;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (!match || processExists(Number(match[1]))) continue;
    await fs.unlink(path.join(dir, name)).catch(() => undefined);
  }
}

/** Whether a process with this pid exists (signal 0 checks without signalling; EPERM means it exists). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** fsync of a directory: makes a rename durable on POSIX; refused on some platforms, so best effort. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported here (e.g. Windows, some network file systems): the data itself is synced.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
