import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');

/** A `digitnet serve` process listening on a free port. */
export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Sends SIGINT and resolves with the exit code and stdout. */
  stop(): Promise<{ code: number | null; stdout: string }>;
}

/** Spawns `digitnet serve --port 0 ...args` and resolves once it prints its URL (rejects if it exits first). */
export function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return new Promise((ready, fail) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk;
      const url = /serving on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url) {
        ready({
          url,
          child,
          stderr: () => stderr,
          stop: async () => {
            child.kill('SIGINT');
            return { code: await exited, stdout };
          },
        });
      }
    });
    void exited.then((code) => fail(new Error(`digitnet serve exited with ${code} before listening: ${stderr}`)));
  });
}
