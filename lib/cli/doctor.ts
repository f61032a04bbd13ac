import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultBackend } from '../backend';
import { nativeInfo, type NativeInfo } from '../backend/native';
import { NativeUnavailableError } from '../backend/native-missing';
import { displayPath } from '../core/display-path';
import { findMnistFiles, resolveMnistDir, type MnistDirSource } from '../data/mnist';
import { parseCommand, type CommandSpec, type CommandResult } from './options';

const spec: CommandSpec = {
  name: 'doctor',
  usage: `Usage: digitnet doctor [--json]

Says what this installation runs on: Node, which backend loads and from where (prebuild or local
build), the CPU's vector features and the gemm micro-kernel chosen for them, threads, and where
the MNIST data was found. Always exits 0: problems are reported, not raised.

Options:
  --json            print one JSON object on stdout
  -h, --help        this help`,
  options: {},
};

/** The CPU's SIMD features that select the gemm micro-kernel; null where /proc/cpuinfo does not exist (not Linux). */
type CpuFeatures = { avx2: boolean; fma: boolean; avx512f: boolean } | null;

/** What `digitnet doctor --json` prints. */
export interface DoctorReport {
  digitnet: { version: string; root: string };
  node: { version: string; platform: string; arch: string; napi: string | undefined };
  /** The backend used when none is named; null when DIGITNET_BACKEND names one that cannot load. */
  backend: 'native' | 'ts' | null;
  backendNote: string;
  /** The addon: where it was loaded from and what it chose, or why it is unavailable. */
  native: ({ loaded: true } & NativeInfo) | { loaded: false; reason: string; remedy?: string };
  /** Threads the default backend's kernels use. */
  threads: number | null;
  cpu: { model: string; cores: number; features: CpuFeatures };
  dataset: { dir: string; from: MnistDirSource; found: true } | { found: false; error: string };
}

function cpuFeatures(): CpuFeatures {
  let cpuinfo: string;
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return null;
  }
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1].trim().split(/\s+/) ?? []);
  return { avx2: flags.has('avx2'), fma: flags.has('fma'), avx512f: flags.has('avx512f') };
}

function nativeStatus(): DoctorReport['native'] {
  try {
    return { loaded: true, ...nativeInfo() };
  } catch (err) {
    if (err instanceof NativeUnavailableError) return { loaded: false, reason: err.reason, remedy: err.remedy };
    return { loaded: false, reason: (err as Error).message };
  }
}

function backendStatus(): Pick<DoctorReport, 'backend' | 'backendNote' | 'threads'> {
  try {
    const { backend, nativeError } = defaultBackend();
    const note = process.env.DIGITNET_BACKEND ? 'from DIGITNET_BACKEND' : nativeError ? 'fallback: the native core did not load' : 'default';
    return { backend: backend.name, backendNote: note, threads: backend.getThreads() };
  } catch (err) {
    return { backend: null, backendNote: (err as Error).message, threads: null };
  }
}

async function datasetStatus(): Promise<DoctorReport['dataset']> {
  try {
    const { dir, from } = resolveMnistDir();
    await findMnistFiles(dir, from);
    return { dir, from, found: true };
  } catch (err) {
    return { found: false, error: (err as Error).message };
  }
}

/** Gathers the facts `digitnet doctor` reports; never throws. */
export async function doctorReport(): Promise<DoctorReport> {
  const root = path.join(__dirname, '..', '..');
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return {
    digitnet: { version, root },
    node: { version: process.version, platform: process.platform, arch: process.arch, napi: process.versions.napi },
    ...backendStatus(),
    native: nativeStatus(),
    cpu: { model: os.cpus()[0]?.model.trim() ?? 'unknown', cores: os.cpus().length, features: cpuFeatures() },
    dataset: await datasetStatus(),
  };
}

const yesNo = (flag: boolean): string => (flag ? 'yes' : 'no');

/** Facts the addon reports beyond the ones named above (nativeInfo() may grow), one line each. */
function addonExtras(native: DoctorReport['native']): [string, string][] {
  if (!native.loaded) return [];
  const named = new Set(['loaded', 'path', 'source', 'gemmKernel', 'maxThreads']);
  return Object.entries(native)
    .filter(([key]) => !named.has(key))
    .map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]);
}

/** The report as aligned lines of text, with paths relative to the working directory where they lie under it (the JSON keeps them absolute). */
export function formatDoctorReport(report: DoctorReport): string {
  const { native, cpu, dataset } = report;
  const features = cpu.features
    ? `avx2 ${yesNo(cpu.features.avx2)}, fma ${yesNo(cpu.features.fma)}, avx512f ${yesNo(cpu.features.avx512f)}`
    : 'features unknown (no /proc/cpuinfo)';
  const lines: [string, string][] = [
    ['digitnet', `${report.digitnet.version} in ${displayPath(report.digitnet.root)}`],
    ['node', `${report.node.version} on ${report.node.platform}-${report.node.arch}, N-API ${report.node.napi ?? 'unknown'}`],
    ['backend', `${report.backend ?? 'none'} (${report.backendNote})`],
    native.loaded
      ? ['native', `loaded from ${native.source}: ${displayPath(native.path)}`]
      : ['native', `unavailable: ${native.reason}${native.remedy ? `\n${' '.repeat(11)}${native.remedy}` : ''}`],
    ['gemm', native.loaded ? `${native.gemmKernel} micro-kernel, up to ${native.maxThreads} threads` : 'none (native core not loaded)'],
    ...addonExtras(native),
    ['threads', report.threads === null ? 'none' : String(report.threads)],
    ['cpu', `${cpu.model}, ${cpu.cores} logical core(s); ${features}`],
    ['dataset', dataset.found ? `${displayPath(dataset.dir)} (from ${dataset.from})` : `not found: ${dataset.error}`],
  ];
  return lines.map(([key, value]) => `${key.padEnd(10)} ${value}`).join('\n');
}

/** `digitnet doctor`. */
export async function doctorCommand(argv: string[]): Promise<CommandResult> {
  const { json, help } = parseCommand(spec, argv);
  if (help) return { help: spec.usage };
  const report = await doctorReport();
  return json ? { json: { ...report } } : { text: formatDoctorReport(report) };
}
