import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Hugging Face Hub on 127.0.0.1 with the real answer shapes: `GET /api/models/<repo>/revision/<rev>?blobs=true`
 * (model info with `sha` and `siblings[{rfilename, blobId, size, lfs: {sha256, size, pointerSize}}]`), and
 * `GET /<repo>/resolve/<rev>/<file>`, which serves small files itself and redirects LFS files (302) to a CDN on
 * another port, as the Hub does to its CDN. A private repo answers 401 without the right token; both servers honour
 * `Range: bytes=N-`, and the CDN can cut a transfer short.
 */
export interface HubRepo {
  files: Record<string, Buffer | string>;
  /** Files stored in LFS (served through the CDN, listed with their sha256). */
  lfs?: string[];
  /** Requires `Authorization: Bearer <token>`. */
  token?: string;
  /** Wrong sha256 advertised for these LFS files. */
  corrupt?: string[];
}

export interface HubServer {
  endpoint: string;
  commit: string;
  addRepo(id: string, repo: HubRepo): void;
  /** The next `times` CDN transfers of `file` stop after `afterBytes`. */
  cutNext(file: string, times: number, afterBytes: number): void;
  /** Every request as `<server> <path> <authorization or -> <range or ->`. */
  log: string[];
  close(): Promise<void>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitBlobId = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export async function startHubServer(): Promise<HubServer> {
  const repos = new Map<string, HubRepo>();
  const cuts = new Map<string, { times: number; afterBytes: number }>();
  const log: string[] = [];
  const commit = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
  const blobs = new Map<string, { content: Buffer; name: string }>();

  const record = (server: string, req: IncomingMessage, path: string) =>
    log.push(`${server} ${path} ${req.headers.authorization ?? '-'} ${req.headers.range ?? '-'}`);

  const hub = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    record('hub', req, path);
    const info = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const repoId = info?.[1] ?? resolve?.[1];
    const repo = repoId === undefined ? undefined : repos.get(repoId);
    if (!repo || (repo.token && req.headers.authorization !== `Bearer ${repo.token}`)) {
      return hubError(res, 401, 'RepoNotFound', 'Repository not found');
    }
    const revision = info?.[2] ?? resolve?.[2];
    if (revision !== 'main' && revision !== commit) {
      return hubError(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    }
    if (info) {
      const siblings = Object.entries(repo.files).map(([rfilename, raw]) => {
        const content = Buffer.from(raw);
        const lfs = repo.lfs?.includes(rfilename);
        const advertised = repo.corrupt?.includes(rfilename) ? sha256(Buffer.from('other')) : sha256(content);
        return {
          rfilename,
          blobId: gitBlobId(content),
          size: content.length,
          ...(lfs ? { lfs: { sha256: advertised, size: content.length, pointerSize: 134 } } : {}),
        };
      });
      const body = { _id: 'x', id: repoId, modelId: repoId, sha: commit, private: !!repo.token, siblings };
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }
    const file = resolve![3]!;
    const raw = repo.files[file];
    if (raw === undefined)
      return hubError(res, 404, 'EntryNotFound', `${file} does not exist on "${revision}"`);
    const content = Buffer.from(raw);
    if (repo.lfs?.includes(file)) {
      const key = sha256(content);
      blobs.set(key, { content, name: file });
      return void res.writeHead(302, { location: `${cdnUrl}/repos/${key}?signature=abc` }).end();
    }
    sendRange(req, res, content, { 'x-repo-commit': commit, etag: `"${gitBlobId(content)}"` });
  });

  const cdn = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    record('cdn', req, path);
    const blob = blobs.get(path.replace('/repos/', ''));
    if (!blob) return void res.writeHead(403).end('AccessDenied');
    const cut = cuts.get(blob.name);
    if (cut && cut.times > 0) {
      cut.times--;
      return sendRange(req, res, blob.content, {}, cut.afterBytes);
    }
    sendRange(req, res, blob.content, {});
  });

  const listen = async (server: Server) => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const endpoint = await listen(hub);
  const cdnUrl = await listen(cdn);
  return {
    endpoint,
    commit,
    log,
    addRepo: (id, repo) => void repos.set(id, repo),
    cutNext: (file, times, afterBytes) => void cuts.set(file, { times, afterBytes }),
    async close() {
      for (const s of [hub, cdn]) {
        s.closeAllConnections();
        s.close();
        await once(s, 'close');
      }
    },
  };
}

function hubError(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-error-code': code,
    'x-error-message': message,
  });
  res.end(JSON.stringify({ error: message }));
}

function sendRange(
  req: IncomingMessage,
  res: ServerResponse,
  content: Buffer,
  headers: Record<string, string>,
  cutAfter?: number,
) {
  const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
  if (start >= content.length && start > 0) {
    return void res.writeHead(416, { 'content-range': `bytes */${content.length}` }).end();
  }
  const body = content.subarray(start);
  res.writeHead(start > 0 ? 206 : 200, {
    ...headers,
    'accept-ranges': 'bytes',
    'content-length': String(body.length),
    ...(start > 0 ? { 'content-range': `bytes ${start}-${content.length - 1}/${content.length}` } : {}),
  });
  if (cutAfter === undefined) return void res.end(body);
  res.write(body.subarray(0, cutAfter), () => res.socket?.destroy());
}
