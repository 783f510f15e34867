import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

/**
 * The Temporal remote codec protocol, for the Temporal UI and `temporal` CLI: `POST /decode` and `POST /encode`
 * with `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`, answered in the same shape. The UI calls it
 * from the browser, so the UI's origin gets CORS headers (preflight included); other origins get none and the
 * browser refuses the answer. A request naming another namespace (`X-Namespace`) is refused: the keys belong to
 * this deployment's namespace. Whoever reaches this server can decrypt: it listens on loopback unless told not to.
 */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** e.g. http://localhost:8233 */
  uiOrigins: string[];
  namespace: string;
  /** @default 16 MiB */
  maxBodyBytes?: number;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const ALLOWED_HEADERS = 'content-type, x-namespace, authorization';

export async function startCodecServer(
  opts: CodecServerOptions,
  port: number,
  host = '127.0.0.1',
): Promise<CodecServer> {
  const server = createServer((req, res) => {
    handle(opts, req, res).catch((err: unknown) => send(res, 500, { message: (err as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function handle(opts: CodecServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const origin = req.headers.origin;
  if (origin && opts.uiOrigins.includes(origin)) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('vary', 'Origin');
  }
  const path = new URL(req.url ?? '/', 'http://codec').pathname;
  if (req.method === 'OPTIONS') {
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    res.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
    res.setHeader('access-control-max-age', '600');
    res.writeHead(204).end();
    return;
  }
  if (req.method !== 'POST' || (path !== '/encode' && path !== '/decode')) {
    return send(res, 404, { message: 'POST /encode or /decode' });
  }
  const namespace = req.headers['x-namespace'];
  if (typeof namespace === 'string' && namespace !== '' && namespace !== opts.namespace) {
    return send(res, 403, { message: `namespace ${namespace} is not served by this codec server` });
  }
  const body = await readBody(req, opts.maxBodyBytes ?? 16 * 1024 * 1024);
  if (body === undefined) return send(res, 413, { message: 'request body too large' });
  let payloads: Payload[];
  try {
    payloads = fromJson(JSON.parse(body.toString('utf8')));
  } catch (err) {
    return send(res, 400, { message: `expected {"payloads": [...]}: ${(err as Error).message}` });
  }
  try {
    const out = path === '/encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    send(res, 200, { payloads: out.map(toJson) });
  } catch (err) {
    send(res, 400, { message: (err as Error).message });
  }
}

function fromJson(doc: unknown): Payload[] {
  const list = (doc as { payloads?: unknown }).payloads;
  if (!Array.isArray(list)) throw new Error('payloads: expected a list');
  return list.map((p: JsonPayload, i) => {
    if (typeof p !== 'object' || p === null) throw new Error(`payloads[${i}]: expected an object`);
    const metadata: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(String(v), 'base64');
    return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
  });
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {}))
    if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
