import * as path from 'node:path';

/**
 * `file` as a user reads it in a message: relative to `cwd` when it lies under it (what they would
 * type from there), else absolute, as given.
 */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const relative = path.relative(cwd, file);
  if (relative === '') return '.';
  if (relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return file;
  return relative;
}
