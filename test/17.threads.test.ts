/**
 * The native thread pool from outside: its default size is the CPUs the process may run on (its
 * affinity mask, not the machine's CPU count), DIGITNET_THREADS overrides it, and sgemm gives the
 * reference's result however C is split over 3, 4 or 7 threads (each count in a child process,
 * since the variable is read when the addon loads). The pool itself is stress-tested in C++
 * under ThreadSanitizer (test/native/pool_stress.cc, run by .ci/run).
 */
import { execFile, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import type { BindingModule } from '../lib/backend/native';
import { nativeInfo } from '../lib/backend/native';
import { describeNative } from './backends';

/** Runs `node -e program` with extra environment variables, optionally under `taskset -c cpus`. */
function runNode(program: string, env: NodeJS.ProcessEnv, cpus?: string): { status: number | null; stdout: string; stderr: string } {
  const command = cpus === undefined ? [process.execPath, '-e', program] : ['taskset', '-c', cpus, process.execPath, '-e', program];
  const child = spawnSync(command[0], command.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** Prints getThreads() of a freshly loaded addon. */
const PRINT_THREADS = (): string => `process.stdout.write(String(require(${JSON.stringify(nativeInfo().path)}).getThreads()))`;

const hasTaskset = process.platform === 'linux' && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const describeAffinity = hasTaskset ? describe : describe.skip;

describeNative('the pool\'s size', () => {
  describeAffinity(`follows the CPU affinity mask${hasTaskset ? '' : ' (skipped: needs Linux and taskset)'}`, () => {
    test('pinned to one CPU, the default is one thread', () => {
      const run = runNode(PRINT_THREADS(), { DIGITNET_THREADS: '' }, '0');
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('1');
    });

    test('DIGITNET_THREADS still sets it, whatever the mask', () => {
      expect(runNode(PRINT_THREADS(), { DIGITNET_THREADS: '3' }, '0').stdout).toBe('3');
    });
  });

  test('unpinned, the default is at most the CPUs the machine has', () => {
    const threads = Number(runNode(PRINT_THREADS(), { DIGITNET_THREADS: '' }).stdout);
    expect(threads).toBeGreaterThanOrEqual(1);
    expect(threads).toBeLessThanOrEqual(os.cpus().length);
  });
});

/** What the child process reports. */
interface SplitReport {
  threads: number;
  checked: number;
  mismatches: string[];
}

/**
 * The child's whole program (run with `node -e`, serialized with toString): loads the addon and
 * compares gemm with gemmReference on shapes that split over several threads, at every
 * transpose, with ragged edges against the register tile and the cache blocks.
 */
function splitCheck(addonPath: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(addonPath) as BindingModule;
  const { mr, nr, mc, nc } = addon.nativeInfo().gemmBlocks;
  const report = { threads: addon.getThreads(), checked: 0, mismatches: [] as string[] };
  let seed = 99;
  const random = (length: number): Float32Array => {
    const x = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      x[i] = seed / 2 ** 31 - 1;
    }
    return x;
  };
  // Each shape about 20 M multiply-adds or less (the naive reference takes the time): k shrinks
  // as m x n grows.
  const sizes = [3 * mr + 1, 97, 4 * nr + 5, mc + mr + 3, 14 * nr + 1, nc + 1];
  const shapes: [number, number, number][] = [];
  for (const m of sizes) for (const n of sizes) shapes.push([m, n, Math.max(1, Math.min(300, Math.floor(2e7 / (m * n))))]);
  shapes.push([1024, 64, 300], [64, 1024, 300], [256, 256, 256]);
  for (const [m, n, k] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const lda = (transA ? m : k) + 1, ldb = (transB ? k : n) + 2, ldc = n + 3;
        const a = random((transA ? k : m) * lda), b = random((transB ? n : k) * ldb);
        const got = random(m * ldc);
        const want = got.slice();
        addon.gemm(transA, transB, m, n, k, 1.25, a, lda, b, ldb, 0.5, got, ldc);
        addon.gemmReference(transA, transB, m, n, k, 1.25, a, lda, b, ldb, 0.5, want, ldc);
        report.checked++;
        for (let i = 0; i < got.length; i++) {
          if (!(Math.abs(got[i] - want[i]) <= 1e-5 * (k + 1) * (1 + Math.abs(want[i])))) {
            report.mismatches.push(`${m}x${n}x${k} transA=${transA} transB=${transB}: C[${Math.floor(i / ldc)},${i % ldc}] = ${got[i]}, reference ${want[i]}`);
            break;
          }
        }
      }
    }
  }
  process.stdout.write(JSON.stringify(report));
}

const CHILD_TIMEOUT_MS = 150_000;

function runSplitChild(threads: number): Promise<SplitReport> {
  const program = `(${splitCheck.toString()})(${JSON.stringify(nativeInfo().path)})`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', program], { env: { ...process.env, DIGITNET_THREADS: String(threads) }, timeout: CHILD_TIMEOUT_MS },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`DIGITNET_THREADS=${threads} child failed: ${err.message} ${stderr}`));
        else resolve(JSON.parse(stdout) as SplitReport);
      });
  });
}

describeNative('sgemm split over more threads than two', () => {
  test.each([3, 4, 7])('DIGITNET_THREADS=%i: every split of every transpose matches the reference', async (threads) => {
    const report = await runSplitChild(threads);
    expect(report.threads).toBe(threads);
    expect(report.checked).toBeGreaterThan(100);
    expect(report.mismatches).toEqual([]);
  }, CHILD_TIMEOUT_MS + 10_000);
});
