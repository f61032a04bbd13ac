/**
 * The page of `digitnet serve` in headless Chromium (Debian's `chromium`, found through
 * CHROMIUM_PATH or the PATH, driven by playwright-core): drawing with pointer events, a picture
 * chosen from disk, a training run started, watched and stopped, the model downloaded, and the
 * browser build predicting as Node does. With CI set, a missing browser fails the suite instead of
 * skipping it. Screenshots of both panels go to test-artifacts/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadMnist } from '../lib/data/mnist';
import { readImage } from '../lib/image/decode';
import { writeInputPng } from '../lib/image/png-write';
import { Network } from '../lib/model/network';
import { PIXEL_SCALE } from '../lib/core/dataset';
import { startServe, type ServeProcess } from './serve-process';

const ARTIFACTS = resolve(__dirname, '..', 'test-artifacts');

/** Chromium's executable: $CHROMIUM_PATH, else the first of the usual names on the PATH. */
function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim();
    } catch {
      // not this one
    }
  }
  return undefined;
}

const executablePath = findChromium();
if (!executablePath && process.env.CI) throw new Error('no Chromium for the browser tests: install Debian\'s chromium package or set CHROMIUM_PATH');
const describeBrowser = executablePath ? describe : describe.skip;
if (!executablePath) console.warn('browser tests skipped: no chromium on the PATH and no CHROMIUM_PATH');

describeBrowser('the page of digitnet serve in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'digitnet-browser-'));
  const modelFile = join(dir, 'model.safetensors');
  let net: Network;
  let serve: ServeProcess;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    const { train } = await loadMnist();
    net = Network.create({ input: [1, 28, 28], layers: [{ units: 128, activation: 'relu' }, { units: 10, activation: 'softmax' }], seed: 1 });
    await net.fit(train, { epochs: 2, batchSize: 64, optimizer: { name: 'adam', lr: 2e-3 } });
    await net.save(modelFile);
    serve = await startServe(['--model', modelFile]);
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    page = await (await browser.newContext({ acceptDownloads: true })).newPage();
    page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    await page.goto(serve.url);
    await page.getByText(`model: ${net.architecture}`).waitFor();
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (serve && serve.child.exitCode === null) await serve.stop();
  });

  /** Draws `strokes` (each a list of points in pad pixels, 280x280) with the mouse. */
  async function draw(strokes: [number, number][][]): Promise<void> {
    const box = (await page.getByTestId('pad').boundingBox())!;
    for (const stroke of strokes) {
      await page.mouse.move(box.x + stroke[0][0], box.y + stroke[0][1]);
      await page.mouse.down();
      for (const [x, y] of stroke.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 12 });
      await page.mouse.up();
    }
  }

  const prediction = () => page.getByTestId('prediction');

  /** Waits until the prediction shows `label` (the page classifies once per frame while drawing). */
  async function waitForPrediction(label: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    let shown: string | null = null;
    while (Date.now() < deadline) {
      shown = await prediction().textContent();
      if (shown === String(label)) return;
      await page.waitForTimeout(50);
    }
    throw new Error(`the page shows ${shown}, expected ${label}`);
  }

  test('drawing a 1 and a 7 with the pointer shows them, with a bar per class and the 28x28 seen', async () => {
    await expect(prediction().textContent()).resolves.toBe('?');
    await draw([[[140, 40], [140, 240]]]);
    await waitForPrediction(1);
    expect(await page.getByTestId('probabilities').locator('.bar').count()).toBe(10);
    // The ink of the 28x28 view, in pixels' worth (the page runs this; the test has no DOM types).
    const inkSeen = (await page.evaluate(`(() => {
      const data = document.querySelector('[data-testid="seen"]').getContext('2d').getImageData(0, 0, 28, 28).data;
      let sum = 0;
      for (let i = 0; i < data.length; i += 4) sum += data[i];
      return sum / 255;
    })()`)) as number;
    expect(inkSeen).toBeGreaterThan(20);
    await page.getByTestId('clear').click();
    await expect(prediction().textContent()).resolves.toBe('?');
    await draw([[[70, 60], [210, 60], [120, 240]]]);
    await waitForPrediction(7);
    await page.screenshot({ path: join(ARTIFACTS, 'draw-panel.png') });
  });

  test('a chosen picture is classified as Node classifies it', async () => {
    const { test: testSet } = await loadMnist();
    const index = 0;
    const digit = Float32Array.from(testSet.inputs.subarray(index * 784, (index + 1) * 784), (v) => v * PIXEL_SCALE);
    const file = join(dir, 'digit.png');
    await writeInputPng(file, digit);
    const expected = net.predictImage(await readImage(file));
    await page.getByTestId('upload').setInputFiles(file);
    await waitForPrediction(expected.label);
    expect(expected.label).toBe(testSet.labels[index]);
  });

  test('the browser build loads in the page and predicts what Node predicts', async () => {
    const { test: testSet } = await loadMnist();
    const count = 50;
    const inputs = Array.from(testSet.inputs.subarray(0, count * 784));
    // A string, so that the page's own import() runs (ts-jest would compile a function's into require()).
    const inPage = (await page.evaluate(`(async () => {
      const digitnet = await import('/browser.mjs');
      const model = await digitnet.loadModel('/model');
      const { labels, probabilities } = model.predict(Uint8Array.from(${JSON.stringify(inputs)}), ${count});
      return { labels: Array.from(labels), probabilities: Array.from(probabilities), backend: model.backend.name };
    })()`)) as { labels: number[]; probabilities: number[]; backend: string };
    const inNode = (await Network.load(modelFile, { backend: 'ts' })).predict(testSet.inputs.subarray(0, count * 784), count);
    expect(inPage.backend).toBe('ts');
    expect(inPage.labels).toEqual(Array.from(inNode.labels));
    inPage.probabilities.forEach((p, i) => expect(Math.abs(p - inNode.probabilities[i])).toBeLessThan(1e-6));
  });

  test('a training run: epoch rows appear, the charts change, stop ends it, the model downloads and loads', async () => {
    await page.getByRole('button', { name: 'Train' }).click();
    const form = page.locator('#train-form');
    await form.locator('[name="limit"]').fill('2000');
    await form.locator('[name="epochs"]').fill('2');
    const lossBefore = await page.getByTestId('loss-chart').innerHTML();
    await page.getByTestId('train-start').click();
    await page.getByText(/finished 2 epoch/).waitFor({ timeout: 60_000 });
    await page.getByTestId('epoch-row').nth(1).waitFor();
    expect(await page.getByTestId('epoch-row').count()).toBe(2);
    expect(await page.getByTestId('loss-chart').innerHTML()).not.toBe(lossBefore);
    expect(await page.getByTestId('confusion').locator('td').count()).toBe(100);
    expect(await page.getByTestId('mistakes').locator('img').count()).toBeGreaterThan(0);
    await page.getByText(/model: 784-256-128-10 \(the run that just ended\)/).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'train-panel.png'), fullPage: true });

    // A long run, stopped after its first epoch.
    await form.locator('[name="epochs"]').fill('50');
    await page.getByTestId('train-start').click();
    await page.locator('[data-testid="train-stop"]:enabled').waitFor();
    await page.getByTestId('epoch-row').first().waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('train-start').isDisabled()).toBe(true);
    await page.getByTestId('train-stop').click();
    await page.getByText(/stopped after \d+ step/).waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('train-start').isEnabled()).toBe(true);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-model').click()]);
    const saved = join(dir, 'downloaded.safetensors');
    await download.saveAs(saved);
    expect((await Network.load(saved)).architecture).toBe('784-256-128-10');
  }, 120_000);

  test("the README's example page (examples/browser.html) runs the browser build on a model", async () => {
    const other = await browser.newPage();
    other.on('pageerror', (error) => consoleErrors.push(error.message));
    // The repository as a web site: the page, the bundle next to it, and a model file.
    const root = resolve(__dirname, '..');
    await other.route('http://digitnet.test/**', (route) => {
      const path = new URL(route.request().url()).pathname;
      const file = path === '/model.safetensors' ? modelFile : join(root, path);
      const type = path.endsWith('.html') ? 'text/html' : path.endsWith('.mjs') ? 'text/javascript' : 'application/octet-stream';
      return existsSync(file) ? route.fulfill({ path: file, contentType: type }) : route.fulfill({ status: 404 });
    });
    await other.goto('http://digitnet.test/examples/browser.html');
    await other.getByText(/on the ts backend/).waitFor();
    const text = await other.locator('#out').textContent();
    expect(text).toMatch(new RegExp(`^${net.architecture} on the ts backend: 7\n  7: \\d+\\.\\d\\d%`));
    await other.close();
  });

  test('no errors in the page console', () => {
    expect(consoleErrors).toEqual([]);
  });
});
