/**
 * `digitnet serve` as a spawned process: what it serves and refuses (paths outside its assets,
 * oversized bodies, a second run, bad parameters, other sites' pages), its training runs through
 * the event stream, and a clean stop on Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Network } from '../lib/model/network';
import type { ServerEvent } from '../lib/web/events';
import { startServe, type ServeProcess } from './serve-process';

const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'digitnet-serve-'));
const modelFile = join(dir, 'model.safetensors');
let serve: ServeProcess;

beforeAll(async () => {
  await Network.create({ input: 784, layers: [{ units: 16 }, { units: 10, activation: 'softmax' }], backend: 'ts' }).save(modelFile);
  serve = await startServe(['--model', modelFile]);
});

afterAll(async () => {
  if (serve.child.exitCode === null) await serve.stop();
});

/** A raw GET of `path` exactly as written (fetch would resolve `..` before sending). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const { hostname, port } = new URL(url);
    http.get({ hostname, port, path }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => done({ status: res.statusCode!, body }));
    }).on('error', fail);
  });
}

/** POSTs `body` to /api/train without a content-length, in 1 KB chunks. */
function chunkedPost(url: string, bytes: number): Promise<number> {
  return new Promise((done, fail) => {
    const req = http.request(new URL('api/train', url), { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      done(res.statusCode!);
    });
    req.on('error', fail);
    for (let sent = 0; sent < bytes; sent += 1024) req.write('x'.repeat(1024));
    req.end();
  });
}

/** The server's event stream: `until` resolves with the first event (from now on, or replayed) that `match` accepts. */
function eventStream(url: string) {
  const seen: ServerEvent[] = [];
  const waiting: { match: (e: ServerEvent) => boolean; done: (e: ServerEvent) => void }[] = [];
  let buffer = '';
  const req = http.get(new URL('api/events', url), (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = JSON.parse(buffer.slice(0, end).replace(/^data: /, '')) as ServerEvent;
        buffer = buffer.slice(end + 2);
        seen.push(event);
        for (const w of waiting.filter((w) => w.match(event))) {
          waiting.splice(waiting.indexOf(w), 1);
          w.done(event);
        }
      }
    });
  });
  return {
    seen,
    until: (match: (e: ServerEvent) => boolean) => new Promise<ServerEvent>((done) => {
      const found = seen.find(match);
      if (found) done(found);
      else waiting.push({ match, done });
    }),
    close: () => req.destroy(),
  };
}

/** The `error` of a refusal's JSON body. */
const errorOf = async (response: Response): Promise<string> => ((await response.json()) as { error: string }).error;

const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

test('listens on 127.0.0.1 unless told otherwise, and serves the page, its assets and the --model file', async () => {
  expect(new URL(serve.url).hostname).toBe('127.0.0.1');
  const page = await fetch(serve.url);
  expect(page.status).toBe(200);
  const html = await page.text();
  for (const id of ['pad', 'clear', 'prediction', 'probabilities', 'seen', 'upload', 'train-start', 'train-stop', 'download-model']) expect(html).toContain(`data-testid="${id}"`);
  for (const asset of ['page.js', 'page.css', 'browser.mjs']) expect((await fetch(new URL(asset, serve.url))).status).toBe(200);
  const model = await fetch(new URL('model', serve.url));
  expect(model.headers.get('content-disposition')).toContain('attachment');
  expect(Buffer.from(await model.arrayBuffer()).equals(readFileSync(modelFile))).toBe(true);
});

test('serves nothing outside its own assets', async () => {
  for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '//etc/passwd', '/web/index.html', '/dist/browser.mjs', '/page.js/../../package.json', '/%2e%2e%2f%2e%2e%2fpackage.json']) {
    const { status, body } = await rawGet(serve.url, path);
    expect({ path, status }).toEqual({ path, status: 404 });
    expect(body).not.toContain('"name": "digitnet"');
  }
  expect((await fetch(new URL('api/train', serve.url))).status).toBe(405);
});

test('refuses request bodies over 16 KB, declared or streamed', async () => {
  const declared = await post(serve.url, 'api/train', 'x'.repeat(20_000));
  expect(declared.status).toBe(413);
  expect(await errorOf(declared)).toMatch(/larger than 16384 bytes/);
  expect(await chunkedPost(serve.url, 64 * 1024)).toBe(413);
});

test("refuses bad training parameters with the CLI's own messages, and other sites' requests", async () => {
  for (const [fields, args] of [
    [{ epochs: '-1' }, ['--epochs', '-1']],
    [{ preset: 'huge' }, ['--preset', 'huge']],
    [{ lr: 'fast' }, ['--lr', 'fast']],
    [{ layers: '64,x' }, ['--layers', '64,x']],
  ] as const) {
    const cli = spawnSync(process.execPath, [CLI, 'train', ...args], { encoding: 'utf8' });
    expect(cli.status).toBe(1);
    const response = await post(serve.url, 'api/train', fields);
    expect(response.status).toBe(400);
    expect(`digitnet: ${await errorOf(response)}\n`).toBe(cli.stderr);
  }
  const unknown = await post(serve.url, 'api/train', { out: '/tmp/x.safetensors' });
  expect(unknown.status).toBe(400);
  expect(await errorOf(unknown)).toMatch(/unknown training parameter 'out'/);
  // The Draw panel reads single digits: the reader preset is neither offered nor taken.
  const reader = await post(serve.url, 'api/train', { preset: 'reader' });
  expect(reader.status).toBe(400);
  expect(await errorOf(reader)).toBe('the reader preset trains a network that reads whole numbers, not the single digits drawn here: train it with digitnet train --preset reader');
  expect((await post(serve.url, 'api/train', '{not json')).status).toBe(400);
  const foreign = await post(serve.url, 'api/train', {}, { origin: 'http://example.com' });
  expect(foreign.status).toBe(403);
});

test('runs one training at a time: streams its events, refuses a second start, stops on request, and serves the new model', async () => {
  const events = eventStream(serve.url);
  try {
    const hello = await events.until((e) => e.type === 'hello');
    expect(hello).toMatchObject({ type: 'hello', running: false, model: { architecture: '784-16-10' } });
    if (hello.type !== 'hello') throw new Error('unreachable');
    expect(hello.presets.map((p) => p.name)).toEqual(['default', 'cnn', 'robust', 'paper']);
    const started = await post(serve.url, 'api/train', { limit: 2000, epochs: 40, layers: '32' });
    expect(await started.json()).toEqual({ network: '784-32-10' });
    const second = await post(serve.url, 'api/train', { epochs: 1 });
    expect(second.status).toBe(409);
    expect(await errorOf(second)).toMatch(/already going/);
    const epoch = await events.until((e) => e.type === 'epoch');
    if (epoch.type !== 'epoch') throw new Error('unreachable');
    expect(epoch.confusion.flat().reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(epoch.mistakes.length).toBeGreaterThan(0);
    expect(epoch.mistakes[0].src).toMatch(/^data:image\/png;base64,/);
    expect(events.seen.some((e) => e.type === 'batch')).toBe(true);
    expect(await (await post(serve.url, 'api/stop', {})).json()).toEqual({ stopping: true });
    const end = await events.until((e) => e.type === 'end');
    expect(end).toMatchObject({ stopped: 'aborted', model: { architecture: '784-32-10', version: hello.model!.version + 1 } });
    const model = Buffer.from(await (await fetch(new URL('model', serve.url))).arrayBuffer());
    expect((await Network.fromBytes(model)).architecture).toBe('784-32-10');
    // A page that connects now sees the run it missed.
    const late = eventStream(serve.url);
    await late.until((e) => e.type === 'end');
    expect(late.seen.map((e) => e.type)).toEqual(expect.arrayContaining(['hello', 'start', 'epoch', 'end']));
    late.close();
  } finally {
    events.close();
  }
}, 120_000);

test('Ctrl-C during a run stops the run and the server, exit 0', async () => {
  const own = await startServe([]);
  const started = await post(own.url, 'api/train', { limit: 2000, epochs: 100 });
  expect(started.status).toBe(200);
  const { code, stdout } = await own.stop();
  expect(code).toBe(0);
  expect(stdout).toContain('stopped');
  expect(own.stderr()).toMatch(/stopping: ending any training run/);
}, 60_000);

test('a model file that cannot be read or a bad option is an error before listening, exit 1', async () => {
  const corrupt = join(dir, 'corrupt.safetensors');
  writeFileSync(corrupt, 'not a model');
  for (const args of [['--model', corrupt], ['--port', '70000']]) {
    const run = spawnSync(process.execPath, [CLI, 'serve', ...args], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(args[0] === '--model' ? /corrupt\.safetensors/ : /--port/);
  }
});
