import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { packageRoot } from '../../core/package-root';
import { UsageError } from '../options';
import { RunBusyError, type TrainingRuns } from './training-runs';

/** The largest request body taken (the Train panel's fields are a few hundred bytes). */
export const MAX_BODY_BYTES = 16 * 1024;

/** The page's assets: URL path -> file under dist/ and its type. Nothing else on disk is ever served. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'web/index.html', type: 'text/html; charset=utf-8' },
  '/page.css': { file: 'web/page.css', type: 'text/css; charset=utf-8' },
  '/page.js': { file: 'web/page.js', type: 'text/javascript; charset=utf-8' },
  '/browser.mjs': { file: 'browser.mjs', type: 'text/javascript; charset=utf-8' },
};

/** A request that ends with an HTTP error status and a message for the page. */
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The HTTP server of `digitnet serve`: the page's assets, the model, and the training API over `runs`. Not yet listening. */
export function createServer(runs: TrainingRuns): http.Server {
  const dist = path.join(packageRoot(), 'dist');
  const assets = new Map<string, Buffer>();
  const asset = (name: string): Buffer => {
    let bytes = assets.get(name);
    if (!bytes) {
      bytes = fs.readFileSync(path.join(dist, ASSETS[name].file));
      assets.set(name, bytes);
    }
    return bytes;
  };
  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : error instanceof RunBusyError ? 409 : error instanceof UsageError ? 400 : 500;
      if (res.headersSent) return void res.destroy();
      // A body too large is not read to its end: close the connection rather than drain it.
      if (status === 413) res.setHeader('connection', 'close');
      sendJson(res, status, { error: (error as Error).message });
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method} ${url.pathname}`;
    // Another web site's page may send requests here from the user's browser: refuse them.
    const origin = req.headers.origin;
    if (req.method === 'POST' && origin !== undefined && origin !== `http://${req.headers.host}`) {
      throw new HttpError(403, `requests from ${origin} are refused: only the page served here may start or stop training`);
    }
    if (req.method === 'GET' && url.pathname in ASSETS) {
      res.writeHead(200, { 'content-type': ASSETS[url.pathname].type, 'cache-control': 'no-cache' });
      return void res.end(asset(url.pathname));
    }
    switch (route) {
      case 'GET /model': {
        const model = runs.model;
        if (!model) throw new HttpError(404, 'no model yet: train one in the Train panel, or start the server with --model FILE');
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-disposition': 'attachment; filename="digitnet-model.safetensors"',
          'content-length': model.bytes.length,
          'cache-control': 'no-store',
        });
        return void res.end(model.bytes);
      }
      case 'GET /api/events':
        return events(req, res);
      case 'POST /api/train': {
        const fields = parseJson(await readBody(req));
        sendJson(res, 200, await runs.start(fields as Record<string, unknown>));
        return;
      }
      case 'POST /api/stop':
        await readBody(req);
        return sendJson(res, 200, { stopping: runs.stop() });
    }
    const known = url.pathname in ASSETS || ['/model', '/api/events', '/api/train', '/api/stop'].includes(url.pathname);
    throw known ? new HttpError(405, `${req.method} is not allowed on ${url.pathname}`) : new HttpError(404, `nothing at ${url.pathname}`);
  }

  function events(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    const unsubscribe = runs.subscribe((event) => res.write(`data: ${JSON.stringify(event)}\n\n`));
    req.on('close', unsubscribe);
  }
  return server;
}

/** The request body, refused with 413 past MAX_BODY_BYTES (by its declared length, or as it arrives). */
function readBody(req: http.IncomingMessage): Promise<string> {
  const tooLarge = new HttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return Promise.reject(tooLarge);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      // Stop reading; the connection closes once the 413 is sent.
      req.pause();
      reject(tooLarge);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text === '' ? '{}' : text);
  } catch {
    throw new HttpError(400, 'the request body must be JSON');
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
