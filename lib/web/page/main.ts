// The page of `digitnet serve`: tabs, the two panels, and the event stream from the server.
import { loadModel } from '../browser';
import { CHART_STYLE } from '../charts';
import type { ModelInfo, ServerEvent } from '../events';
import { DrawPanel } from './draw';
import { TrainPanel } from './train';

const style = document.createElement('style');
style.textContent = CHART_STYLE;
document.head.append(style);

for (const tab of document.querySelectorAll<HTMLButtonElement>('nav button')) {
  tab.addEventListener('click', () => {
    for (const other of document.querySelectorAll<HTMLButtonElement>('nav button')) {
      other.setAttribute('aria-pressed', String(other === tab));
      document.getElementById(other.dataset.panel!)!.hidden = other !== tab;
    }
  });
}

const draw = new DrawPanel(document.getElementById('draw')!);
let shown = 0;
/** Loads the server's model into the Draw panel when it is a new one. */
async function useModel(info: ModelInfo | null): Promise<void> {
  const label = document.getElementById('model-info')!;
  if (!info) {
    label.textContent = 'no model yet';
    return draw.setModel(null);
  }
  if (info.version === shown) return;
  shown = info.version;
  const net = await loadModel(`model?version=${info.version}`);
  label.textContent = `model: ${info.architecture} (${info.source})`;
  draw.setModel(net);
}
const train = new TrainPanel(document.getElementById('train')!, (info) => void useModel(info));

new EventSource('api/events').addEventListener('message', (message) => train.receive(JSON.parse(message.data) as ServerEvent));
