import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A data source on 127.0.0.1 for the fetch tests: serves files (honouring `Range: bytes=N-`), answers Zenodo's
 * `GET /api/records/<id>`, and misbehaves on request: N answers of 500, N connections cut after some bytes, a
 * stalled transfer, Range ignored, no Content-Length. It counts requests and body bytes per path.
 */
export interface SourceServer {
  url: string;
  /** Serve `content` at `/<path>` (path is URL-encoded by the caller if needed). */
  serve(path: string, content: Buffer | string): string;
  /** Zenodo-shaped record; file links point at `/api/records/<record>/files/<i>/content`. */
  zenodoRecord(record: string, files: { key: string; content: Buffer | string; checksum?: string }[]): void;
  failNext(path: string, times: number, status?: number): void;
  cutNext(path: string, times: number, afterBytes: number): void;
  /** The next request for `path` sends `afterBytes` and then hangs; resolves when it has. */
  stallNext(path: string, afterBytes: number): Promise<void>;
  ignoreRange: boolean;
  noContentLength: boolean;
  requests(path: string): number;
  bytesSent(path: string): number;
  rangeHeaders(path: string): string[];
  resetCounters(): void;
  close(): Promise<void>;
}

export const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export async function startSourceServer(): Promise<SourceServer> {
  const bodies = new Map<string, Buffer>();
  const records = new Map<string, unknown>();
  const failures = new Map<string, { times: number; status: number }>();
  const cuts = new Map<string, { times: number; afterBytes: number }>();
  const stalls = new Map<string, { afterBytes: number; stalled: () => void }>();
  const requests = new Map<string, number>();
  const sent = new Map<string, number>();
  const ranges = new Map<string, string[]>();
  const count = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURI(new URL(req.url ?? '/', 'http://x').pathname);
    count(requests, path, 1);
    if (req.headers.range) ranges.set(path, [...(ranges.get(path) ?? []), req.headers.range]);
    const failure = failures.get(path);
    if (failure && failure.times > 0) {
      failure.times--;
      res.writeHead(failure.status).end('try again later');
      return;
    }
    const record = /^\/api\/records\/(\d+)$/.exec(path)?.[1];
    if (record !== undefined) {
      const body = records.get(record);
      if (body === undefined)
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":404}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    const content = bodies.get(path);
    if (!content) {
      res.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !server.ignoreRange) {
      start = Number(range[1]);
      if (start >= content.length) {
        res.writeHead(416, { 'content-range': `bytes */${content.length}` }).end();
        return;
      }
    }
    const body = content.subarray(start);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (!server.noContentLength) headers['content-length'] = String(body.length);
    if (start > 0) headers['content-range'] = `bytes ${start}-${content.length - 1}/${content.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);

    const stall = stalls.get(path);
    const cut = cuts.get(path);
    if (stall) {
      stalls.delete(path);
      count(sent, path, stall.afterBytes);
      res.write(body.subarray(0, stall.afterBytes), () => stall.stalled());
    } else if (cut && cut.times > 0) {
      cut.times--;
      const part = body.subarray(0, cut.afterBytes);
      count(sent, path, part.length);
      res.write(part, () => res.socket?.destroy());
    } else {
      count(sent, path, body.length);
      res.end(body);
    }
  };

  const http = createServer(handle);
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const server: SourceServer = {
    url: base,
    ignoreRange: false,
    noContentLength: false,
    serve(path, content) {
      bodies.set(path, Buffer.from(content));
      return `${base}${encodeURI(path)}`;
    },
    zenodoRecord(record, files) {
      records.set(record, {
        id: Number(record),
        files: files.map((f, i) => {
          const link = server.serve(`/api/records/${record}/files/${i}/content`, f.content);
          return {
            key: f.key,
            size: Buffer.from(f.content).length,
            checksum: f.checksum ?? `md5:${md5(f.content)}`,
            links: { self: link },
          };
        }),
      });
    },
    failNext: (path, times, status = 500) => void failures.set(path, { times, status }),
    cutNext: (path, times, afterBytes) => void cuts.set(path, { times, afterBytes }),
    stallNext: (path, afterBytes) => new Promise((stalled) => stalls.set(path, { afterBytes, stalled })),
    requests: (path) => requests.get(path) ?? 0,
    bytesSent: (path) => sent.get(path) ?? 0,
    rangeHeaders: (path) => ranges.get(path) ?? [],
    resetCounters() {
      requests.clear();
      sent.clear();
      ranges.clear();
    },
    async close() {
      http.closeAllConnections();
      http.close();
      await once(http, 'close');
    },
  };
  return server;
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const http = createServer();
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  http.close();
  await once(http, 'close');
  return port;
}
