// The Train panel: the form that starts and stops a run on the server, and the run's curves,
// epoch rows, confusion matrix and mistakes as the server's events arrive.
import type { EpochRecord } from '../../train/types';
import { confusionTable, curveCharts, epochTable, mistakesGrid, type StepPoint } from '../charts';
import type { ModelInfo, PresetChoice, ServerEvent } from '../events';

/** The shortest time between two redraws of the charts. */
const REDRAW_MS = 250;

export class TrainPanel {
  private steps: StepPoint[] = [];
  private epochs: EpochRecord[] = [];
  private presets: PresetChoice[] = [];
  private pending = false;
  private readonly form: HTMLFormElement;

  /** `onModel` is called with each new model the server has (from --model or a finished run). */
  constructor(private readonly root: HTMLElement, private readonly onModel: (info: ModelInfo | null) => void) {
    this.form = root.querySelector<HTMLFormElement>('#train-form')!;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.start();
    });
    this.find('train-stop').addEventListener('click', () => void this.post('api/stop', {}));
    this.field<HTMLSelectElement>('preset').addEventListener('change', () => this.showPreset());
    this.render();
  }

  /** Handles one event from the server. */
  receive(event: ServerEvent): void {
    switch (event.type) {
      case 'hello':
        this.setPresets(event.presets);
        this.setRunning(event.running);
        this.setModel(event.model);
        break;
      case 'start':
        this.steps = [];
        this.epochs = [];
        this.root.querySelector('#confusion')!.innerHTML = '<p class="hint">after the first epoch</p>';
        this.root.querySelector('#mistakes')!.innerHTML = '<p class="hint">after the first epoch</p>';
        this.setRunning(true);
        this.render(); // at once: no row of the last run may outlive its start
        this.status(`Training ${event.network} (${event.preset} preset) on ${event.images} images for ${event.epochs} epoch(s), ${event.backend} backend, ${event.threads} thread(s)...`);
        break;
      case 'batch':
        this.steps.push(event);
        break;
      case 'epoch':
        this.epochs.push(event.record);
        this.root.querySelector('#confusion')!.innerHTML = confusionTable(event.confusion);
        this.root.querySelector('#mistakes')!.innerHTML = mistakesGrid(event.mistakes);
        break;
      case 'end':
        this.setRunning(false);
        this.render(); // at once: the run's last rows and curves show with its last word
        this.status(event.message, event.stopped === 'failed');
        if (event.model) this.setModel(event.model);
        break;
    }
    this.schedule();
  }

  private find<T extends HTMLElement>(testId: string): T {
    return this.root.querySelector<T>(`[data-testid="${testId}"]`)!;
  }

  private field<T extends HTMLInputElement | HTMLSelectElement>(name: string): T {
    return this.form.elements.namedItem(name) as T;
  }

  private setPresets(presets: PresetChoice[]): void {
    this.presets = presets;
    const select = this.field<HTMLSelectElement>('preset');
    const chosen = select.value || 'default';
    select.innerHTML = presets.map((p) => `<option value="${p.name}">${p.name}</option>`).join('');
    select.value = presets.some((p) => p.name === chosen) ? chosen : presets[0]?.name;
    this.showPreset();
  }

  /** Shows the chosen preset's description, and its epochs and rate as what a blank field means. */
  private showPreset(): void {
    const preset = this.presets.find((p) => p.name === this.field<HTMLSelectElement>('preset').value);
    if (!preset) return;
    this.root.querySelector('#preset-description')!.textContent = preset.description;
    this.field<HTMLInputElement>('epochs').placeholder = String(preset.epochs);
    this.field<HTMLInputElement>('lr').placeholder = String(preset.lr);
  }

  private setRunning(running: boolean): void {
    (this.find('train-start') as HTMLButtonElement).disabled = running;
    (this.find('train-stop') as HTMLButtonElement).disabled = !running;
  }

  private setModel(info: ModelInfo | null): void {
    this.find('download-model').setAttribute('aria-disabled', String(info === null));
    this.onModel(info);
  }

  private async start(): Promise<void> {
    const fields: Record<string, string | boolean> = {};
    for (const name of ['preset', 'epochs', 'layers', 'lr', 'limit']) fields[name] = this.field(name).value.trim();
    fields.augment = this.field<HTMLInputElement>('augment').checked;
    this.status('Loading the data and building the network...');
    await this.post('api/train', fields);
  }

  /** POSTs `body` as JSON; a refusal (bad parameters, a run already going) shows the server's message. */
  private async post(path: string, body: unknown): Promise<void> {
    try {
      const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!response.ok) this.status((await response.json()).error ?? `HTTP ${response.status}`, true);
    } catch (error) {
      this.status(`the server did not answer: ${(error as Error).message}`, true);
    }
  }

  private status(text: string, isError = false): void {
    const line = this.root.querySelector('#train-status')!;
    line.textContent = text;
    line.classList.toggle('error', isError);
  }

  /**
   * Redraws at most every REDRAW_MS, however many events arrive: the browser shares the machine
   * with the training, and each redraw rebuilds charts of up to a thousand points.
   */
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setTimeout(() => requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    }), REDRAW_MS);
  }

  private render(): void {
    this.root.querySelector('#curves')!.innerHTML = curveCharts(this.steps, this.epochs);
    this.root.querySelector('#epochs')!.innerHTML = epochTable(this.epochs);
  }
}
