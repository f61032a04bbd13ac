/**
 * Why the native addon is missing, and how to get it: the text a user sees when digitnet falls
 * back to TypeScript or when the native backend is asked for by name and cannot load.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { displayPath } from '../core/display-path';

/** The native core did not load: `reason` says why, `remedy` how to get it. */
export class NativeUnavailableError extends Error {
  override name = 'NativeUnavailableError';

  constructor(
    readonly reason: string,
    readonly remedy: string,
    options?: ErrorOptions,
  ) {
    super(`digitnet: the native core is unavailable: ${reason}. ${remedy}`, options);
  }
}

/**
 * Where scripts/install.js keeps node-gyp's output when compiling fails, relative to the package
 * root; its first line is a one-line summary of the failure.
 */
const INSTALL_LOG = path.join('build', 'install-error.log');

/** The first non-empty line of a message. */
export function firstLine(text: string): string {
  return text.split('\n').map((line) => line.trim()).find((line) => line !== '') ?? '';
}

/** Why no addon file was found in the package at `root` (no prebuild matched and none was compiled). */
export function noBuildReason(root: string): string {
  const platform = `${process.platform}-${process.arch}`;
  const log = path.join(root, INSTALL_LOG);
  let summary: string | undefined;
  try {
    summary = firstLine(fs.readFileSync(log, 'utf8'));
  } catch {
    // No log: the install script did not try to compile, or did not run at all.
  }
  if (summary !== undefined) {
    return `no prebuilt binary for ${platform} in this package, and compiling it at install failed (${summary}; full log: ${displayPath(log)})`;
  }
  return (
    `no prebuilt binary for ${platform} in this package, and none was compiled in ${displayPath(path.join(root, 'build'))} ` +
    '(its install script did not run: --ignore-scripts, or not allowed by allowScripts)'
  );
}

/** What to install on this platform to compile the addon, and the command that compiles it. */
export function remedy(platform: NodeJS.Platform = process.platform): string {
  const buildTools: Partial<Record<NodeJS.Platform, string>> = {
    linux: 'Debian/Ubuntu: sudo apt-get install build-essential python3',
    darwin: 'xcode-select --install',
    win32: 'Visual Studio Build Tools with "Desktop development with C++", and Python 3',
  };
  return `To get the native core, install build tools (${buildTools[platform] ?? 'python3, make and a C++17 compiler'}), then run \`npm rebuild digitnet\`.`;
}
