/**
 * The GEMM shapes the benchmark times, read from bench/gemm-shapes.json at the package root
 * (bench/ is not compiled into dist/, so the file is found from the package root, which works
 * from lib/, dist/ and an installed package alike).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../core/package-root';

/** One sgemm call: C (m x n) = op(A) (m x k) * op(B) (k x n). */
export interface GemmShape {
  /** What the call is in a network, e.g. `forward 784->128 b64`. */
  name: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

/** Where the shape list lives. */
export function gemmShapesFile(): string {
  return path.join(packageRoot(), 'bench', 'gemm-shapes.json');
}

/** Reads and validates the shape list; an Error names the file and the entry at fault. */
export function readGemmShapes(file = gemmShapesFile()): GemmShape[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the GEMM shapes from ${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error(`${file}: expected a non-empty array of shapes`);
  return parsed.map((entry, i) => checkShape(entry, `${file}: entry ${i}`));
}

function checkShape(entry: unknown, where: string): GemmShape {
  if (typeof entry !== 'object' || entry === null) throw new Error(`${where}: expected an object {name, m, n, k, transA, transB}`);
  const e = entry as Record<string, unknown>;
  if (typeof e.name !== 'string') throw new Error(`${where}: name must be a string`);
  for (const size of ['m', 'n', 'k'] as const) {
    const v = e[size];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${where} (${e.name}): ${size} must be an integer >= 1, got ${JSON.stringify(v)}`);
  }
  for (const flag of ['transA', 'transB'] as const) {
    if (typeof e[flag] !== 'boolean') throw new Error(`${where} (${e.name}): ${flag} must be true or false, got ${JSON.stringify(e[flag])}`);
  }
  return { name: e.name, m: e.m as number, n: e.n as number, k: e.k as number, transA: e.transA as boolean, transB: e.transB as boolean };
}
