import { PIXEL_SCALE, typeTag, type Dataset } from '../core/dataset';
import { encodeInputPng } from '../image/png-write';
import type { Evaluation, Network } from '../model/network';
import type { BatchInfo, EpochRecord } from '../train/types';
import { CHART_STYLE, confusionTable, curveCharts, epochTable, escape, mistakesGrid, pct, type MistakeImage } from '../web/charts';

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
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>digitnet training report: ${escape(d.network)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
${CHART_STYLE}
</style></head><body>
<h1>digitnet training report</h1>
<p><b>${escape(d.network)}</b> (${escape(d.preset)} preset), ${d.epochs.length} epoch(s) on the ${escape(d.backend)} backend, ${d.threads} thread(s), ${d.trainSeconds.toFixed(1)} s.
Test accuracy <b>${pct(d.evaluation.accuracy)}</b>, test loss ${d.evaluation.loss.toFixed(4)}${last ? `; last epoch's training accuracy ${pct(last.accuracy)}` : ''}.</p>
<h2>Curves</h2>
${curveCharts(d.batches, d.epochs)}
<h2>Epochs</h2>
${epochTable(d.epochs)}
<h2>Confusion matrix (rows: true class, columns: predicted)</h2>
${confusionTable(d.evaluation.confusion)}
<h2>The test images it got most confidently wrong</h2>
${mistakesGrid(mistakeImages(d.mistakes))}
</body></html>
`;
}

/** Mistakes are shown as images only for MNIST-sized inputs. */
const MNIST_SIZE = 28 * 28;

/** The MNIST-sized mistakes with their inputs as PNG data URLs, as the report and the page of `digitnet serve` show them. */
export function mistakeImages(mistakes: Mistake[]): MistakeImage[] {
  return mistakes
    .filter((m) => m.input.length === MNIST_SIZE)
    .map(({ index, label, predicted, probability, input }) => ({ index, label, predicted, probability, src: `data:image/png;base64,${encodeInputPng(input).toString('base64')}` }));
}
