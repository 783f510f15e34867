import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Predictor } from '../model/predictor.js';
import { ImageInputError } from '../model/image-pixels.js';

/**
 * The standalone inference server a session runs: `GET /ready` (503 until the model is loaded, 200 after) and
 * `POST /generate` → `{"predictions": [{"label", "score"}, …]}`, best first. A text model takes `{"text": "..."}`,
 * an image model `{"image": "<base64 PNG or JPEG>"}` (how the evaluation client sends a BLOB column). Bad bodies
 * get a 400 with `{"error": "..."}` saying what is wrong, so an evaluation's bad-request policy can act on them.
 */
export type { Predictor } from '../model/predictor.js';

export interface ModelServerOptions {
  /** Loads the model; the server answers /ready with 503 until it resolves. */
  load: () => Promise<Predictor>;
  /** @default 1 MiB */
  maxBodyBytes?: number;
}

export interface ModelServer {
  server: Server;
  /** Resolves once the model is loaded; rejects if loading fails. */
  loaded: Promise<void>;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops taking connections and waits for requests in flight (at most `graceMs`, then cuts them). */
  close(graceMs?: number): Promise<void>;
}

export function createModelServer(opts: ModelServerOptions): ModelServer {
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
  let predictor: Predictor | undefined;
  let loadError: string | undefined;
  let closing = false;
  const inFlight = new Set<ServerResponse>();
  const loaded = opts.load().then(
    (p) => void (predictor = p),
    (err: unknown) => {
      loadError = (err as Error).message;
      throw err;
    },
  );
  // The caller decides what a failed load means (the CLI exits); /ready reports it meanwhile.
  loaded.catch(() => {});

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/ready') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'use GET' });
      if (predictor) return send(res, 200, { status: 'ready' });
      return send(res, 503, loadError ? { status: 'failed', error: loadError } : { status: 'loading' });
    }
    if (path !== '/generate') return send(res, 404, { error: `no route ${path}; try POST /generate` });
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) return send(res, 413, { error: `body larger than ${maxBodyBytes} bytes` });
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return send(res, 400, { error: `body is not JSON: ${(err as Error).message}` });
    }
    if (!predictor) return send(res, 503, { error: 'model not loaded yet' });
    if (typeof predictor === 'function') {
      const text = (doc as { text?: unknown } | null)?.text;
      if (typeof text !== 'string')
        return send(res, 400, { error: 'expected a JSON object with a string field "text"' });
      return send(res, 200, { predictions: predictor(text) });
    }
    const image = imageBytes(doc);
    if (typeof image === 'string') return send(res, 400, { error: image });
    try {
      send(res, 200, { predictions: await predictor.predict(image) });
    } catch (err) {
      if (!(err instanceof ImageInputError)) throw err;
      send(res, 400, { error: `field "image": ${err.message}` });
    }
  };

  const server = createServer((req, res) => {
    // While closing, each answer ends its connection: a kept-alive idle socket would hold close() open.
    if (closing) res.setHeader('connection', 'close');
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
  // Longer than any client's idle keep-alive, so the server is not the side that closes a reused connection.
  server.keepAliveTimeout = 65_000;

  return {
    server,
    loaded,
    async listen(port, host) {
      server.listen(port, host);
      await once(server, 'listening');
      return server.address() as AddressInfo;
    },
    async close(graceMs = 10_000) {
      closing = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The image field's bytes, or what is wrong with the body. */
function imageBytes(doc: unknown): Buffer | string {
  const image = (doc as { image?: unknown } | null)?.image;
  if (typeof image !== 'string')
    return 'expected a JSON object with a string field "image" (a base64 PNG or JPEG)';
  if (image.length === 0) return 'field "image" is empty';
  if (image.length % 4 !== 0 || !BASE64.test(image)) return 'field "image" is not base64';
  return Buffer.from(image, 'base64');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request body, or undefined once it passes `limit` (the rest is drained so the connection stays usable). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}
