/** The human-readable form of a `BenchReport`: a header line, two tables and the notes. */
import type { BenchReport, GemmRow, TrainRow } from './run';

/** Right-aligned columns (the first left-aligned), two spaces apart. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `median (min-max)` with the same number of decimals. */
function spread(median: number, min: number, max: number, digits: number): string {
  return `${median.toFixed(digits)} (${min.toFixed(digits)}-${max.toFixed(digits)})`;
}

/** `12.3x`, or `-` where there is nothing to compare with. */
function speedup(row: { speedup?: number } | undefined): string {
  return row?.speedup !== undefined ? `${row.speedup.toFixed(1)}x` : '-';
}

/** A backend at a thread count, e.g. `native 2T`: one column of a table. */
type Series = string;
const seriesOf = (row: { backend: string; threads: number }): Series => `${row.backend} ${row.threads}T`;

/** Rows grouped by `key` in first-seen order, each group indexed by series. */
function pivot<R extends { backend: string; threads: number }>(rows: R[], key: (row: R) => string): { groups: Map<string, Map<Series, R>>; series: Series[] } {
  const groups = new Map<string, Map<Series, R>>();
  const series: Series[] = [];
  for (const row of rows) {
    const s = seriesOf(row);
    if (!series.includes(s)) series.push(s);
    const k = key(row);
    if (!groups.has(k)) groups.set(k, new Map());
    groups.get(k)!.set(s, row);
  }
  return { groups, series };
}

function gemmTable(rows: GemmRow[]): string {
  const { groups, series } = pivot(rows, (row) => row.name);
  const native = series.filter((s) => s.startsWith('native'));
  const body = [...groups.values()].map((bySeries) => {
    const shape = bySeries.values().next().value as GemmRow;
    const op = `${shape.transA ? 'T' : 'N'}${shape.transB ? 'T' : 'N'}`;
    const cells = series.map((s) => {
      const row = bySeries.get(s);
      return row ? spread(row.gflops, row.min, row.max, 2) : 'skipped';
    });
    const speedups = native.map((s) => speedup(bySeries.get(s)));
    return [shape.name, String(shape.m), String(shape.n), String(shape.k), op, ...cells, ...speedups];
  });
  return formatTable(['shape', 'm', 'n', 'k', 'op', ...series, ...native.map((s) => `speedup ${s.split(' ')[1]}`)], body);
}

function trainTable(rows: TrainRow[]): string {
  const { groups, series } = pivot(rows, (row) => `${row.network} ${row.batch}`);
  const native = series.filter((s) => s.startsWith('native'));
  const body = [...groups.values()].map((bySeries) => {
    const first = bySeries.values().next().value as TrainRow;
    const cells = series.map((s) => {
      const row = bySeries.get(s);
      return row ? `${spread(row.epochSeconds, row.min, row.max, 3)}${row.scaledFrom ? '*' : ''}` : '-';
    });
    const speedups = native.map((s) => speedup(bySeries.get(s)));
    return [first.network, String(first.batch), ...cells, ...speedups];
  });
  return formatTable(['network', 'batch', ...series, ...native.map((s) => `speedup ${s.split(' ')[1]}`)], body);
}

/** The report as text: the machine, the GEMM table, the training table, the notes. */
export function formatReport(report: BenchReport): string {
  const scaled = report.train.some((row) => row.scaledFrom !== undefined);
  return [
    `digitnet bench${report.quick ? ' --quick' : ''}: ${report.cpu}${report.cpuMHz ? ` (${report.cpuMHz} MHz)` : ''}, ${report.threads} threads, node ${report.node}` +
      (report.gemmKernel ? `, native gemm kernel ${report.gemmKernel}` : ', native addon not available') +
      `, load average ${report.loadAverage} at start${report.loadAverage > report.threads / 2 ? ' (a busy machine: the figures are pessimistic)' : ''}`,
    '',
    'GEMM, GFLOPS: median (min-max)',
    gemmTable(report.gemm),
    '',
    'Training, seconds per epoch: median (min-max)',
    trainTable(report.train),
    ...(scaled ? ['* timed on the first images of the set and scaled up to a full epoch (see notes)'] : []),
    '',
    'Notes:',
    ...report.notes.map((note) => `- ${note}`),
  ].join('\n');
}
