/** The facts about the machine that a benchmark table needs next to its numbers. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { getBackend, nativeAvailable } from '../../backend';
import { nativeInfo } from '../../backend/native';

/** CPU, thread count, Node version and the native gemm micro-kernel (when the addon loads). */
export interface MachineInfo {
  /** The CPU model as the OS reports it (under a hypervisor this can be terse, e.g. `AMD EPYC`). */
  cpu: string;
  /** The clock the OS reports for the first core, in MHz (the nominal one on most VMs); 0 if unknown. */
  cpuMHz: number;
  /**
   * The "all threads" of the tables: the native kernels' thread count (DIGITNET_THREADS, else the
   * CPUs the process may use: affinity mask and cgroup quota), or Node's count without the addon.
   */
  threads: number;
  node: string;
  /** The 1-minute load average when the run started (Linux, macOS; 0 elsewhere): above `threads`, the figures are pessimistic. */
  loadAverage: number;
  /** `avx512`, `avx2` or `scalar` (see DIGITNET_ISA); absent without the addon. */
  gemmKernel?: string;
}

/** Describes this machine. */
export function machineInfo(): MachineInfo {
  const first = os.cpus()[0];
  return {
    cpu: first?.model.trim() ?? 'unknown',
    cpuMHz: first?.speed || procCpuinfoMHz(),
    threads: nativeAvailable() ? getBackend('native').getThreads() : os.availableParallelism(),
    node: process.version,
    loadAverage: Math.round(os.loadavg()[0] * 100) / 100,
    ...(nativeAvailable() ? { gemmKernel: nativeInfo().gemmKernel } : {}),
  };
}

/** Linux VMs often report speed 0 to os.cpus(); /proc/cpuinfo still has the first core's "cpu MHz". */
function procCpuinfoMHz(): number {
  try {
    const match = /^cpu MHz\s*:\s*([\d.]+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return match ? Math.round(Number(match[1])) : 0;
  } catch {
    return 0;
  }
}
