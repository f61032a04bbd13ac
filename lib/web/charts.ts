// Charts as HTML and SVG strings, with no DOM and no Node: the static report (cli/report.ts)
// writes them into a file, the page of `digitnet serve` into its panels, so both look the same.
import type { BatchInfo, EpochRecord } from '../train/types';

/** The CSS the charts, tables and mistake grid need. */
export const CHART_STYLE = `table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: right; }
.confusion td { width: 3.2em; height: 2em; text-align: center; font-size: 12px; }
.mistakes { display: flex; flex-wrap: wrap; gap: 10px; } .mistakes figure { margin: 0; text-align: center; font-size: 12px; }
.mistakes img { width: 84px; height: 84px; image-rendering: pixelated; display: block; }
svg text { font: 11px system-ui, sans-serif; }`;

/** A training step as the curves plot it: `step` counts from 1 across epochs. */
export type StepPoint = Pick<BatchInfo, 'loss' | 'accuracy' | 'batches'> & { step: number };

/** A test image the network got wrong, as a picture (`src`, a URL) with what it was and what the network said. */
export interface MistakeImage {
  index: number;
  label: number;
  predicted: number;
  probability: number;
  src: string;
}

/** Points per curve at most: a run on the calling thread reports every one of its steps. */
const MOST_POINTS = 1000;

/** The loss and accuracy charts (`loss-chart`, `accuracy-chart`): training per step and per epoch, test per epoch. */
export function curveCharts(steps: StepPoint[], epochs: EpochRecord[]): string {
  const stepsPerEpoch = steps.length > 0 ? steps[0].batches : 1;
  const epochX = (e: EpochRecord) => e.epoch * stepsPerEpoch;
  const sampled = thin(steps, MOST_POINTS);
  const tested = epochs.filter((e) => e.valLoss !== undefined && e.valAccuracy !== undefined);
  const loss = lineChart('loss-chart', 'loss (cross-entropy per sample)', [
    { name: 'training, per batch', color: '#9db4d6', points: sampled.map((b) => [b.step, b.loss]) },
    { name: 'training, per epoch', color: '#1f4e9c', points: epochs.map((e) => [epochX(e), e.loss]) },
    { name: 'test, per epoch', color: '#d9480f', points: tested.map((e) => [epochX(e), e.valLoss!]) },
  ]);
  const accuracy = lineChart('accuracy-chart', 'accuracy (%)', [
    { name: 'training, per batch', color: '#9db4d6', points: sampled.map((b) => [b.step, 100 * b.accuracy]) },
    { name: 'training, per epoch', color: '#1f4e9c', points: epochs.map((e) => [epochX(e), 100 * e.accuracy]) },
    { name: 'test, per epoch', color: '#d9480f', points: tested.map((e) => [epochX(e), 100 * e.valAccuracy!]) },
  ]);
  return `${loss}\n${accuracy}`;
}

/** A table with a row (`epoch-row`) per finished epoch. */
export function epochTable(epochs: EpochRecord[]): string {
  const rows = epochs.map(
    (e) =>
      `<tr data-testid="epoch-row"><td>${e.epoch}</td><td>${e.loss.toFixed(4)}</td><td>${pct(e.accuracy)}</td><td>${e.valLoss?.toFixed(4) ?? ''}</td><td>${e.valAccuracy === undefined ? '' : pct(e.valAccuracy)}</td><td>${e.seconds.toFixed(2)}</td></tr>`,
  );
  return `<table><tr><th>epoch</th><th>loss</th><th>accuracy</th><th>test loss</th><th>test accuracy</th><th>seconds</th></tr>\n${rows.join('\n')}\n</table>`;
}

/** The mistakes as a grid of captioned images (`mistakes`). */
export function mistakesGrid(mistakes: MistakeImage[]): string {
  const figures = mistakes.map(
    (m) => `<figure><img alt="test image ${m.index}" src="${escape(m.src)}"><figcaption>#${m.index}: ${m.label} read as ${m.predicted} (${pct(m.probability)})</figcaption></figure>`,
  );
  return `<div class="mistakes" data-testid="mistakes">\n${figures.join('\n')}\n</div>`;
}

/** One line of a chart: its name in the legend, its colour and its (x, y) points. */
export interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

/** An SVG line chart of `series` over training steps, with axes, ticks and a legend. */
function lineChart(id: string, title: string, series: Series[]): string {
  const [W, H, left, right, top, bottom] = [500, 260, 56, 12, 24, 36];
  const all = series.flatMap((s) => s.points);
  const xMax = all.reduce((m, [x]) => Math.max(m, x), 1);
  const ys = all.map(([, y]) => y).filter(Number.isFinite);
  let [yMin, yMax] = ys.length ? [ys.reduce((a, b) => Math.min(a, b)), ys.reduce((a, b) => Math.max(a, b))] : [0, 1];
  if (yMax - yMin < 1e-9) [yMin, yMax] = [yMin - 1, yMax + 1];
  const x = (v: number) => left + (v / xMax) * (W - left - right);
  const y = (v: number) => top + (1 - (v - yMin) / (yMax - yMin)) * (H - top - bottom);
  const ticks = Array.from({ length: 5 }, (_, k) => yMin + ((yMax - yMin) * k) / 4);
  const lines = series
    .filter((s) => s.points.length > 0)
    .map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${s.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ')}"/>`)
    .join('');
  const legend = series.map((s, k) => `<text x="${left + 8 + k * 140}" y="${top - 8}" fill="${s.color}">${escape(s.name)}</text>`).join('');
  const axis = ticks.map((t) => `<text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${tick(t)}</text><line x1="${left}" x2="${W - right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`).join('');
  return `<figure data-testid="${id}"><figcaption>${escape(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${axis}<line x1="${left}" x2="${left}" y1="${top}" y2="${H - bottom}" stroke="#888"/><line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" stroke="#888"/><text x="${(W + left) / 2}" y="${H - 8}" text-anchor="middle">training step (of ${xMax})</text>${lines}${legend}</svg></figure>`;
}

/** The confusion matrix as a table, each cell shaded by its share of its row. */
export function confusionTable(confusion: number[][]): string {
  const header = `<tr><th></th>${confusion.map((_, c) => `<th>${c}</th>`).join('')}</tr>`;
  const rows = confusion.map((row, t) => {
    const total = Math.max(1, row.reduce((a, b) => a + b, 0));
    const cells = row.map((n, p) => {
      const share = n / total;
      const colour = t === p ? `rgba(31, 78, 156, ${share.toFixed(3)})` : `rgba(217, 72, 15, ${Math.min(1, 10 * share).toFixed(3)})`;
      return `<td style="background: ${colour}; color: ${share > 0.5 ? '#fff' : '#222'}" title="true ${t}, predicted ${p}: ${n}">${n}</td>`;
    });
    return `<tr><th>${t}</th>${cells.join('')}</tr>`;
  });
  return `<table class="confusion" data-testid="confusion">${header}${rows.join('')}</table>`;
}

/** Every k-th item, k chosen so that at most `most` remain (the last one always kept). */
function thin<T>(items: T[], most: number): T[] {
  const k = Math.ceil(items.length / most);
  return k <= 1 ? items : items.filter((_, i) => i % k === 0 || i === items.length - 1);
}

/** An axis label: three significant digits at most, and never wider than the margin. */
function tick(value: number): string {
  const size = Math.abs(value);
  return size >= 100 ? value.toFixed(0) : size >= 1 ? value.toPrecision(3) : value.toFixed(3);
}

/** A fraction as a percentage with two decimals. */
export const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;

/** `text` safe inside HTML text and attribute values. */
export function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
