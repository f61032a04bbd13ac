/**
 * The errors of the data and file layers, in one place so that every layer above (the training
 * worker rebuilds them by name, lib/train/worker-errors.ts) can name them without importing the
 * readers. Each message starts with the file it is about.
 */

/** A malformed, truncated or unsupported IDX file; `source` is the file, `problem` what is wrong. */
export class IdxError extends Error {
  override name = 'IdxError';
  constructor(
    readonly source: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${problem}`, options);
  }
}

/** A data directory problem: missing directory or file, or files that do not belong together. */
export class MnistError extends Error {
  override name = 'MnistError';
}

/** A model file that cannot be read: `file` is its path, `problem` what is wrong with it. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** A file that could not be written (the previous version, if any, is left as it was). */
export class AtomicWriteError extends Error {
  override name = 'AtomicWriteError';
  /** The errno code of the underlying failure (ENOENT, EACCES, ...), if any. */
  readonly code?: string;
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    // Not `instanceof Error`: errors from Node internals may come from another realm (vm, jest).
    const message = typeof cause === 'object' && cause !== null && 'message' in cause ? String(cause.message) : String(cause);
    super(`${path}: cannot write: ${message}`, { cause });
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/**
 * An image that cannot be used: a file that is not PNG or JPEG, is truncated or corrupt, or claims
 * dimensions past the decoder's limit; raw pixels whose sizes do not add up; an image with no ink.
 * `source` is the file (or what the caller named the pixels), `problem` what is wrong.
 */
export class ImageError extends Error {
  override name = 'ImageError';
  constructor(
    readonly source: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${problem}`, options);
  }
}

/** What a failed read of a file says after its name: "cannot read: no such file", or the system's reason. */
export function cannotRead(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return `cannot read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`;
}
