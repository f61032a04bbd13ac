// The Draw panel: a pad to draw on (pointer events: mouse, touch, pen) or drop a picture on, and
// the model's answer as the user draws. The model runs here, in the page.
import type { Network, PixelImage } from '../browser';

/** Pictures are read at most this many pixels a side (larger ones are scaled down first). */
const LARGEST_SIDE = 1600;
const INK = '#111';
const PEN_WIDTH = 22;
/** What preprocessImage says of a picture without ink: for an empty pad, a prompt rather than an error. */
const NO_INK = /no ink/;

export class DrawPanel {
  private net: Network | undefined;
  private readonly pad: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  /** The picture to classify: the pad's pixels, or a picture dropped or chosen at full size. */
  private source: () => PixelImage;
  private pending = false;

  constructor(private readonly root: HTMLElement) {
    this.pad = this.find<HTMLCanvasElement>('pad');
    this.ctx = this.pad.getContext('2d', { willReadFrequently: true })!;
    this.source = () => this.ctx.getImageData(0, 0, this.pad.width, this.pad.height);
    this.clear();
    this.listen();
    this.renderBars(undefined);
  }

  /** Switches to `net` (null: no model yet) and classifies what is on the pad with it. */
  setModel(net: Network | null): void {
    this.net = net ?? undefined;
    this.schedule();
  }

  private find<T extends HTMLElement>(testId: string): T {
    return this.root.querySelector<T>(`[data-testid="${testId}"]`)!;
  }

  private clear(): void {
    this.ctx.fillStyle = '#fff';
    this.ctx.fillRect(0, 0, this.pad.width, this.pad.height);
    this.source = () => this.ctx.getImageData(0, 0, this.pad.width, this.pad.height);
    this.show(undefined, 'Draw a digit.');
  }

  private listen(): void {
    let last: { x: number; y: number } | undefined;
    const at = (e: PointerEvent) => {
      const box = this.pad.getBoundingClientRect();
      return { x: ((e.clientX - box.left) * this.pad.width) / box.width, y: ((e.clientY - box.top) * this.pad.height) / box.height };
    };
    this.pad.addEventListener('pointerdown', (e) => {
      this.pad.setPointerCapture(e.pointerId);
      this.source = () => this.ctx.getImageData(0, 0, this.pad.width, this.pad.height);
      last = at(e);
      this.stroke(last, last);
    });
    this.pad.addEventListener('pointermove', (e) => {
      if (!last) return;
      for (const point of e.getCoalescedEvents?.() ?? [e]) {
        const next = at(point);
        this.stroke(last, next);
        last = next;
      }
    });
    const end = () => (last = undefined);
    this.pad.addEventListener('pointerup', end);
    this.pad.addEventListener('pointercancel', end);
    this.find('clear').addEventListener('click', () => this.clear());
    const upload = this.find<HTMLInputElement>('upload');
    upload.addEventListener('change', () => {
      if (upload.files?.[0]) void this.usePicture(upload.files[0]);
      upload.value = '';
    });
    const column = this.pad.parentElement!;
    this.pad.addEventListener('dragover', (e) => {
      e.preventDefault();
      column.classList.add('dragging');
    });
    this.pad.addEventListener('dragleave', () => column.classList.remove('dragging'));
    this.pad.addEventListener('drop', (e) => {
      e.preventDefault();
      column.classList.remove('dragging');
      const file = e.dataTransfer?.files[0];
      if (file) void this.usePicture(file);
    });
  }

  private stroke(from: { x: number; y: number }, to: { x: number; y: number }): void {
    const { ctx } = this;
    ctx.strokeStyle = INK;
    ctx.lineWidth = PEN_WIDTH;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    this.schedule();
  }

  /** Shows `file` on the pad and classifies it at its own resolution (up to LARGEST_SIDE). */
  private async usePicture(file: File): Promise<void> {
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      return this.show(undefined, `${file.name}: not a picture this browser can read`, true);
    }
    const scale = Math.min(1, LARGEST_SIDE / Math.max(bitmap.width, bitmap.height));
    const full = document.createElement('canvas');
    full.width = Math.max(1, Math.round(bitmap.width * scale));
    full.height = Math.max(1, Math.round(bitmap.height * scale));
    const fullCtx = full.getContext('2d', { willReadFrequently: true })!;
    fullCtx.drawImage(bitmap, 0, 0, full.width, full.height);
    const fit = Math.min(this.pad.width / full.width, this.pad.height / full.height);
    this.ctx.fillStyle = '#fff';
    this.ctx.fillRect(0, 0, this.pad.width, this.pad.height);
    this.ctx.drawImage(full, (this.pad.width - full.width * fit) / 2, (this.pad.height - full.height * fit) / 2, full.width * fit, full.height * fit);
    const pixels = fullCtx.getImageData(0, 0, full.width, full.height);
    this.source = () => pixels;
    this.schedule();
  }

  /** Classifies once per frame at most, however many pointer events arrive. */
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.classify();
    });
  }

  private classify(): void {
    if (!this.net) return this.show(undefined, 'No model yet: train one in the Train panel, or start the server with --model FILE.');
    try {
      const result = this.net.predictImage(this.source());
      this.show(result);
    } catch (error) {
      const message = (error as Error).message;
      const blank = NO_INK.test(message);
      this.show(undefined, blank ? 'Draw a digit.' : message, !blank);
    }
  }

  private show(result: { label: number; probabilities: Float32Array; input: Float32Array } | undefined, status = '', isError = false): void {
    this.find('prediction').textContent = result ? String(result.label) : '?';
    this.root.querySelector('#confidence')!.textContent = result ? `${(100 * result.probabilities[result.label]).toFixed(1)}% sure` : '';
    const statusLine = this.root.querySelector('#draw-status')!;
    statusLine.textContent = status;
    statusLine.classList.toggle('error', isError);
    this.renderBars(result);
    const seen = this.find<HTMLCanvasElement>('seen').getContext('2d')!;
    const image = seen.createImageData(28, 28);
    if (result) {
      result.input.forEach((v, i) => {
        const level = Math.round(255 * Math.min(1, Math.max(0, v)));
        image.data.set([level, level, level, 255], 4 * i);
      });
    }
    seen.putImageData(image, 0, 0);
  }

  private renderBars(result: { label: number; probabilities: Float32Array } | undefined): void {
    const classes = result?.probabilities.length ?? 10;
    const rows = [];
    for (let c = 0; c < classes; c++) {
      const p = result ? result.probabilities[c] : 0;
      rows.push(`<span>${c}</span><div class="bar${result && c === result.label ? ' top' : ''}"><span style="width: ${(100 * p).toFixed(1)}%"></span></div><span>${(100 * p).toFixed(1)}%</span>`);
    }
    this.find('probabilities').innerHTML = rows.join('');
  }
}
