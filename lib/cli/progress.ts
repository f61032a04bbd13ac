import type { BatchInfo, EpochRecord } from '../train/types';

/** Progress of a training run on stderr: a live line on a terminal, one line per epoch otherwise. */
export class Progress {
  /** When the current epoch's first step began: set at construction and after each epoch's line. */
  private epochStart = performance.now();
  private lastDraw = 0;
  private readonly live: boolean;

  /** A reporter for a run of `epochs` epochs writing to `stream`. */
  constructor(private readonly stream: NodeJS.WriteStream, private readonly epochs: number) {
    this.live = stream.isTTY === true;
  }

  /** After each optimizer step: redraws the live line at most 10 times a second. */
  batch(info: BatchInfo): void {
    const now = performance.now();
    if (!this.live || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const seconds = (now - this.epochStart) / 1000;
    const rate = info.samples / Math.max(seconds, 1e-9);
    const total = info.batches > 0 ? (info.samples / info.batch) * info.batches : info.samples;
    const left = (total - info.samples) / rate + (this.epochs - info.epoch) * (total / rate);
    const line =
      `epoch ${info.epoch}/${this.epochs}  batch ${info.batch}/${info.batches}  loss ${info.loss.toFixed(4)}  ` +
      `acc ${(100 * info.accuracy).toFixed(1)}%  ${Math.round(rate).toLocaleString('en-US')} samples/s  ETA ${clock(left)}`;
    this.stream.write(`\r${line.slice(0, (this.stream.columns || 120) - 1)}\x1b[K`);
  }

  /** A message line of its own (it replaces the live line rather than running into it). */
  note(message: string): void {
    this.stream.write(this.live ? `\r${message}\x1b[K\n` : `${message}\n`);
  }

  /** After each epoch: one summary line. */
  epoch(record: EpochRecord): void {
    const val = record.valAccuracy === undefined ? '' : `, test accuracy ${(100 * record.valAccuracy).toFixed(2)}%`;
    const line =
      `epoch ${record.epoch}/${this.epochs}: loss ${record.loss.toFixed(4)}, accuracy ${(100 * record.accuracy).toFixed(2)}%` +
      `${val}, ${record.seconds.toFixed(2)} s` +
      (record.augmentSeconds === undefined ? '' : ` (augment ${record.augmentSeconds.toFixed(2)} s)`);
    this.stream.write(this.live ? `\r${line}\x1b[K\n` : `${line}\n`);
    this.epochStart = performance.now();
  }
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
