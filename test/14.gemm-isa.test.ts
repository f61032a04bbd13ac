/**
 * The native sgemm on every micro-kernel this CPU can run (DIGITNET_ISA=avx512|avx2|scalar), each
 * in its own child process (the kernel is chosen once per process), against the addon's naive
 * reference `gemmReference`: every m, n, k from 1 to 40, sizes one below, at and above each block
 * size, all four transposes, alpha / beta cases and leading dimensions larger than the rows.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { BindingModule, GemmKernelName } from '../lib/backend/native';
import { nativeInfo } from '../lib/backend/native';
import { describeNative } from './backends';

/** What the child process reports. */
interface IsaReport {
  kernel: string;
  checked: number;
  mismatches: string[];
}

/**
 * The child's whole program: it runs with `node -e`, so it is written as one self-contained
 * function (serialized with toString) that loads the addon from `addonPath` and prints an IsaReport.
 */
function exhaustiveCheck(addonPath: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(addonPath) as BindingModule;
  const info = addon.nativeInfo();
  const { mr, nr, mc, kc, nc } = info.gemmBlocks;
  const report = { kernel: info.gemmKernel as string, checked: 0, mismatches: [] as string[] };

  // Operands are windows into one pool of deterministic values in [-1, 1), at offsets that
  // move from call to call: a failure reproduces, and no call pays for fresh random numbers.
  const pool = new Float32Array(1 << 19);  // more than the largest operand (about 1 << 18)
  let seed = 12345;
  for (let i = 0; i < pool.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    pool[i] = seed / 2 ** 31 - 1;
  }
  let offset = 0;
  const operand = (length: number): Float32Array => {
    offset = (offset + 4099) % (pool.length - length);
    return pool.subarray(offset, offset + length);
  };

  // Scaling cases, cycled through the shapes so that each one meets every shape family.
  const SCALES: [alpha: number, beta: number][] = [[1, 0], [0.5, -2], [-1.5, 0.25], [2, 1], [1, 0]];
  const PADS = [0, 0, 3, 0, 1];  // extra leading-dimension floats, cycled the same way
  let turn = 0;

  const check = (transA: boolean, transB: boolean, m: number, n: number, k: number): void => {
    const [alpha, beta] = SCALES[turn % SCALES.length];
    const pad = PADS[turn % PADS.length];
    turn++;
    const lda = (transA ? m : k) + pad;
    const ldb = (transB ? k : n) + pad;
    const ldc = n + pad;
    const a = operand((transA ? k : m) * lda);
    const b = operand((transB ? n : k) * ldb);
    const got = operand(m * ldc).slice();
    const want = got.slice();
    addon.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc);
    addon.gemmReference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
    report.checked++;
    // float32 accumulation over k terms of size <= 1; the padding of C must stay bit-identical.
    for (let i = 0; i < got.length; i++) {
      const tol = 1e-5 * (k + 1) * (1 + Math.abs(want[i]));
      if (!(Math.abs(got[i] - want[i]) <= tol) && report.mismatches.length < 10) {
        report.mismatches.push(
          `transA=${transA} transB=${transB} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta} ` +
            `pad=${pad}: C[${Math.floor(i / ldc)},${i % ldc}] = ${got[i]}, reference ${want[i]}`,
        );
        break;
      }
    }
  };

  const edges = (size: number): number[] => [size - 1, size, size + 1].filter((s) => s >= 1);
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (let m = 1; m <= 40; m++) {
        for (let n = 1; n <= 40; n++) {
          for (let k = 1; k <= 40; k++) check(transA, transB, m, n, k);
        }
      }
      // Around each block size, with the other sizes small and odd (two tiles and a bit).
      for (const s of [...edges(mr), ...edges(2 * mr), ...edges(mc)]) check(transA, transB, s, 2 * nr + 3, 37);
      for (const s of [...edges(nr), ...edges(2 * nr), ...edges(nc)]) check(transA, transB, 2 * mr + 3, s, 37);
      for (const s of [...edges(kc), ...edges(2 * kc)]) check(transA, transB, 2 * mr + 3, 2 * nr + 3, s);
      // Large enough that both operands are packed and the work is split across threads.
      check(transA, transB, mc + mr + 5, 2 * nr + 7, 2 * kc + 9);
    }
  }
  process.stdout.write(JSON.stringify(report));
}

// The scalar child takes ~7 s alone, ~25 s under the sanitizer, and more on a loaded machine.
const CHILD_TIMEOUT_MS = 150_000;

/** Runs exhaustiveCheck in a child process with DIGITNET_ISA set; resolves to its report. */
function runChild(isa: string): Promise<IsaReport> {
  const program = `(${exhaustiveCheck.toString()})(${JSON.stringify(nativeInfo().path)})`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath, ['-e', program],
      { env: { ...process.env, DIGITNET_ISA: isa }, timeout: CHILD_TIMEOUT_MS, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`DIGITNET_ISA=${isa} child failed: ${err.message} ${stderr}`));
        else resolve(JSON.parse(stdout) as IsaReport);
      },
    );
  });
}

/** The micro-kernels this CPU can run, from /proc/cpuinfo (Linux); only the portable one elsewhere. */
function supportedIsas(): GemmKernelName[] {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  const isas: GemmKernelName[] = ['scalar'];
  if (process.arch === 'x64' && flags.has('avx2') && flags.has('fma')) isas.push('avx2');
  if (process.arch === 'x64' && flags.has('avx512f')) isas.push('avx512');
  return isas;
}

describeNative('sgemm micro-kernels', () => {
  // All children start at once: they run on separate cores, and each test awaits its own.
  const reports = new Map<string, Promise<IsaReport>>();
  beforeAll(() => {
    for (const isa of supportedIsas()) {
      const report = runChild(isa);
      report.catch(() => undefined);  // reported by the test that awaits it
      reports.set(isa, report);
    }
  });

  test.each(supportedIsas())('DIGITNET_ISA=%s matches the reference on every edge shape', async (isa) => {
    const report = await reports.get(isa)!;
    expect(report.kernel).toBe(isa);
    expect(report.checked).toBeGreaterThan(4 * 40 * 40 * 40);
    expect(report.mismatches).toEqual([]);
  }, CHILD_TIMEOUT_MS + 10_000);

  test('an unknown DIGITNET_ISA falls back to the best kernel with a warning', () => {
    const program = `process.stdout.write(require(${JSON.stringify(nativeInfo().path)}).nativeInfo().gemmKernel)`;
    const child = spawnSync(process.execPath, ['-e', program], {
      env: { ...process.env, DIGITNET_ISA: 'sse9' },
      encoding: 'utf8',
    });
    expect(child.status).toBe(0);
    expect(child.stdout).toBe(supportedIsas().at(-1));
    expect(child.stderr).toContain('DIGITNET_ISA=sse9 is not one of avx512, avx2, scalar');
  });
});
