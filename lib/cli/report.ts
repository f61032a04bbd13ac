import { PIXEL_SCALE, typeTag, type Dataset } from '../core/dataset';
import { encodeInputPng } from '../image/png-write';
import type { Evaluation, Network } from '../model/network';
import type { BatchInfo, EpochRecord } from '../train/types';

/** A test image the network got wrong, with how sure it was. */
export interface Mistake {
  index: number;
  label: number;
  predicted: number;
  probability: number;
  input: Float32Array;
}

/** What a training report shows. */
export interface ReportData {
  network: string;
  preset: string;
  backend: string;
  threads: number;
  trainSeconds: number;
  /** Training steps as the run reported them (a sample of the steps when training ran in a worker). */
  batches: (BatchInfo & { step: number })[];
  epochs: EpochRecord[];
  evaluation: Evaluation;
  mistakes: Mistake[];
}

/** The `count` test images `net` gets wrong with the highest probability on its wrong answer, most confident first. */
export function confidentMistakes(net: Network, test: Dataset, count: number): Mistake[] {
  const size = net.inputSize;
  const found: Mistake[] = [];
  const chunk = 1000;
  for (let start = 0; start < test.count; start += chunk) {
    const n = Math.min(chunk, test.count - start);
    const { labels, probabilities } = net.predict(test.inputs.subarray(start * size, (start + n) * size), n);
    for (let i = 0; i < n; i++) {
      if (labels[i] === test.labels[start + i]) continue;
      found.push({ index: start + i, label: test.labels[start + i], predicted: labels[i], probability: probabilities[i * net.classes + labels[i]], input: new Float32Array(0) });
    }
  }
  found.sort((a, b) => b.probability - a.probability || a.index - b.index);
  const scale = typeTag(test.inputs) === 'Uint8Array' ? PIXEL_SCALE : 1;
  return found.slice(0, count).map((m) => ({ ...m, input: Float32Array.from(test.inputs.subarray(m.index * size, (m.index + 1) * size), (v) => Math.min(1, Math.max(0, v * scale))) }));
}

/** One self-contained HTML page (inline SVG and images, no scripts, nothing fetched): curves, confusion matrix, mistakes. */
export function renderReport(d: ReportData): string {
  const last = d.epochs[d.epochs.length - 1];
  const stepsPerEpoch = d.batches.length > 0 ? d.batches[0].batches : 1;
  const epochX = (e: EpochRecord) => e.epoch * stepsPerEpoch;
  const batches = thin(d.batches, MOST_POINTS);
  const lossChart = lineChart('loss-chart', 'loss (cross-entropy per sample)', [
    { name: 'training, per batch', color: '#9db4d6', points: batches.map((b) => [b.step, b.loss]) },
    { name: 'training, per epoch', color: '#1f4e9c', points: d.epochs.map((e) => [epochX(e), e.loss]) },
    { name: 'test, per epoch', color: '#d9480f', points: d.epochs.filter((e) => e.valLoss !== undefined).map((e) => [epochX(e), e.valLoss!]) },
  ]);
  const accuracyChart = lineChart('accuracy-chart', 'accuracy (%)', [
    { name: 'training, per batch', color: '#9db4d6', points: batches.map((b) => [b.step, 100 * b.accuracy]) },
    { name: 'training, per epoch', color: '#1f4e9c', points: d.epochs.map((e) => [epochX(e), 100 * e.accuracy]) },
    { name: 'test, per epoch', color: '#d9480f', points: d.epochs.filter((e) => e.valAccuracy !== undefined).map((e) => [epochX(e), 100 * e.valAccuracy!]) },
  ]);
  const rows = d.epochs
    .map((e) => `<tr data-testid="epoch-row"><td>${e.epoch}</td><td>${e.loss.toFixed(4)}</td><td>${pct(e.accuracy)}</td><td>${e.valLoss?.toFixed(4) ?? ''}</td><td>${e.valAccuracy === undefined ? '' : pct(e.valAccuracy)}</td><td>${e.seconds.toFixed(2)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>digitnet training report: ${escape(d.network)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: right; }
.confusion td { width: 3.2em; height: 2em; text-align: center; font-size: 12px; }
.mistakes { display: flex; flex-wrap: wrap; gap: 10px; } .mistakes figure { margin: 0; text-align: center; font-size: 12px; }
.mistakes img { width: 84px; height: 84px; image-rendering: pixelated; display: block; }
svg text { font: 11px system-ui, sans-serif; }
</style></head><body>
<h1>digitnet training report</h1>
<p><b>${escape(d.network)}</b> (${escape(d.preset)} preset), ${d.epochs.length} epoch(s) on the ${escape(d.backend)} backend, ${d.threads} thread(s), ${d.trainSeconds.toFixed(1)} s.
Test accuracy <b>${pct(d.evaluation.accuracy)}</b>, test loss ${d.evaluation.loss.toFixed(4)}${last ? `; last epoch's training accuracy ${pct(last.accuracy)}` : ''}.</p>
<h2>Curves</h2>
${lossChart}
${accuracyChart}
<h2>Epochs</h2>
<table><tr><th>epoch</th><th>loss</th><th>accuracy</th><th>test loss</th><th>test accuracy</th><th>seconds</th></tr>
${rows}
</table>
<h2>Confusion matrix (rows: true class, columns: predicted)</h2>
${confusionTable(d.evaluation.confusion)}
<h2>The test images it got most confidently wrong</h2>
<div class="mistakes" data-testid="mistakes">
${d.mistakes.filter((m) => m.input.length === MNIST_SIZE).map((m) => `<figure><img alt="test image ${m.index}" src="data:image/png;base64,${encodeInputPng(m.input).toString('base64')}"><figcaption>#${m.index}: ${m.label} read as ${m.predicted} (${pct(m.probability)})</figcaption></figure>`).join('\n')}
</div>
</body></html>
`;
}

/** Points per curve at most: a run on the calling thread reports every one of its steps. */
const MOST_POINTS = 1000;
/** Mistakes are shown as images only for MNIST-sized inputs. */
const MNIST_SIZE = 28 * 28;

/** Every k-th item, k chosen so that at most `most` remain (the last one always kept). */
function thin<T>(items: T[], most: number): T[] {
  const k = Math.ceil(items.length / most);
  return k <= 1 ? items : items.filter((_, i) => i % k === 0 || i === items.length - 1);
}

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

/** An SVG line chart of `series` over training steps, with axes, ticks and a legend. */
function lineChart(id: string, title: string, series: Series[]): string {
  const [W, H, left, right, top, bottom] = [520, 260, 56, 12, 24, 36];
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
  const legend = series.map((s, k) => `<text x="${left + 8 + k * 150}" y="${top - 8}" fill="${s.color}">${escape(s.name)}</text>`).join('');
  const axis = ticks.map((t) => `<text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t.toPrecision(3)}</text><line x1="${left}" x2="${W - right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`).join('');
  return `<figure data-testid="${id}"><figcaption>${escape(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${axis}<line x1="${left}" x2="${left}" y1="${top}" y2="${H - bottom}" stroke="#888"/><line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" stroke="#888"/><text x="${(W + left) / 2}" y="${H - 8}" text-anchor="middle">training step (of ${xMax})</text>${lines}${legend}</svg></figure>`;
}

/** The confusion matrix as a table, each cell shaded by its share of its row. */
function confusionTable(confusion: number[][]): string {
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

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
