/** The human-readable form of a `BenchReport`: a header line, three tables and the notes. */
import type { BenchReport, ConvRow, GemmRow, TrainRow } from './run';

/** Right-aligned columns (the first left-aligned), two spaces apart. */
function formatTable(headers: string[], rows: string[][]): string {
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
const seriesOf = (row: { backend: string; threads: number }): string => `${row.backend} ${row.threads}T`;

/** Columns after the speedups, computed from a group's rows by series (e.g. `native 1T`). */
interface ExtraColumns<R> {
  headers: string[];
  cells: (bySeries: Map<string, R>) => string[];
}

/**
 * One line per group of rows (a shape, a network at a batch size): the group's own columns, one
 * column per backend and thread count (`skipped` where a row is missing), then the native speedups.
 */
function comparisonTable<R extends { backend: string; threads: number; speedup?: number }>(
  rows: R[], key: (row: R) => string, ownHeaders: string[], ownCells: (row: R) => string[], cell: (row: R) => string,
  extra: ExtraColumns<R> = { headers: [], cells: () => [] },
): string {
  const groups = new Map<string, Map<string, R>>();
  const series: string[] = [];
  for (const row of rows) {
    const s = seriesOf(row);
    if (!series.includes(s)) series.push(s);
    const group = groups.get(key(row)) ?? new Map<string, R>();
    groups.set(key(row), group.set(s, row));
  }
  const native = series.filter((s) => s.startsWith('native'));
  const body = [...groups.values()].map((bySeries) => [
    ...ownCells(bySeries.values().next().value as R),
    ...series.map((s) => {
      const row = bySeries.get(s);
      return row ? cell(row) : 'skipped';
    }),
    ...native.map((s) => speedup(bySeries.get(s))),
    ...extra.cells(bySeries),
  ]);
  return formatTable([...ownHeaders, ...series, ...native.map((s) => `speedup ${s.split(' ')[1]}`), ...extra.headers], body);
}

function gemmTable(rows: GemmRow[]): string {
  return comparisonTable(
    rows, (row) => row.name, ['shape', 'm', 'n', 'k', 'op'],
    (row) => [row.name, String(row.m), String(row.n), String(row.k), `${row.transA ? 'T' : 'N'}${row.transB ? 'T' : 'N'}`],
    (row) => spread(row.gflops, row.min, row.max, 2),
  );
}

function convTable(rows: ConvRow[]): string {
  return comparisonTable(
    rows, (row) => `${row.layer} ${row.kernel}`, ['layer', 'kernel'], (row) => [row.layer, row.kernel],
    (row) => spread(row.gflops, row.min, row.max, 2),
    {
      headers: ['% of peak 1T'],
      cells: (bySeries) => {
        const percent = bySeries.get('native 1T')?.percentOfPeak;
        return [percent !== undefined ? `${percent.toFixed(0)}%` : '-'];
      },
    },
  );
}

function trainTable(rows: TrainRow[]): string {
  return comparisonTable(
    rows, (row) => `${row.network} ${row.batch}`, ['network', 'batch'],
    (row) => [row.network, String(row.batch)],
    (row) => `${spread(row.epochSeconds, row.min, row.max, 3)}${row.scaledFrom ? '*' : ''}`,
  );
}

/** The report as text: the machine, the tables of the sections that ran (GEMM, convolution, training, reference CNN), the notes. */
export function formatReport(report: BenchReport): string {
  const scaled = [...report.train, ...report.cnnEpoch].some((row) => row.scaledFrom !== undefined);
  const section = (rows: unknown[], title: string, table: () => string): string[] => (rows.length ? [title, table(), ''] : []);
  return [
    `digitnet bench${report.quick ? ' --quick' : ''}: ${report.cpu}${report.cpuMHz ? ` (${report.cpuMHz} MHz)` : ''}, ${report.threads} threads, node ${report.node}` +
      (report.gemmKernel ? `, native gemm kernel ${report.gemmKernel}` : ', native addon not available') +
      `, load average ${report.loadAverage} at start${report.loadAverage > report.threads / 2 ? ' (a busy machine: the figures are pessimistic)' : ''}`,
    '',
    ...section(report.gemm, 'GEMM, GFLOPS: median (min-max)', () => gemmTable(report.gemm)),
    ...section(
      report.conv,
      `Convolution, the reference net's layers at batch ${report.conv[0]?.n ?? '-'}, GFLOPS: median (min-max)` +
        (report.fmaPeakGflops !== undefined ? `; FMA peak of one thread ${report.fmaPeakGflops.toFixed(1)} GFLOPS` : ''),
      () => convTable(report.conv),
    ),
    ...section(report.train, 'Training, seconds per epoch: median (min-max)', () => trainTable(report.train)),
    ...section(report.cnnEpoch, 'The reference CNN, seconds per epoch: median (min-max)', () => trainTable(report.cnnEpoch)),
    ...(scaled ? ['* timed on the first images of the set and scaled up to a full epoch (see notes)', ''] : []),
    'Notes:',
    ...report.notes.map((note) => `- ${note}`),
  ].join('\n');
}
