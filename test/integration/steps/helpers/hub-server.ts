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
 *
 * Datasets (`addDataset`) live under `datasets/`: `GET /api/datasets/<repo>/revision/<rev>` (info with `sha`),
 * `GET /api/datasets/<repo>/tree/<rev>?recursive=true` (entries `{type, oid, size, path, lfs?: {oid, size,
 * pointerSize}}`, directories included, in pages linked by `Link: <…>; rel="next"` as the Hub pages them) and
 * `GET /datasets/<repo>/resolve/<rev>/<file>`.
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
  addDataset(id: string, repo: HubRepo): void;
  /** Tree entries per page. @default 1000, as the Hub */
  treePageSize: number;
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
    const info = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path);
    const tree = /^\/api\/(datasets)\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(path);
    const resolve = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const type = info?.[1] ?? tree?.[1] ?? (resolve?.[1] ? 'datasets' : 'models');
    const repoId = info?.[2] ?? tree?.[2] ?? resolve?.[2];
    const repo = repoId === undefined ? undefined : repos.get(`${type}:${repoId}`);
    if (!repo || (repo.token && req.headers.authorization !== `Bearer ${repo.token}`)) {
      return hubError(res, 401, 'RepoNotFound', 'Repository not found');
    }
    const revision = info?.[3] ?? tree?.[3] ?? resolve?.[3];
    if (revision !== 'main' && revision !== commit) {
      return hubError(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    }
    if (tree) return sendTree(res, url, repo);
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
    const file = resolve![4]!;
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

  /** The recursive tree, directories included, from the `cursor` (an offset here) on, one page at a time. */
  const sendTree = (res: ServerResponse, url: URL, repo: HubRepo) => {
    const paths = Object.keys(repo.files).sort();
    const dirs = [
      ...new Set(
        paths.flatMap((p) =>
          p
            .split('/')
            .slice(0, -1)
            .map((_, i, a) => a.slice(0, i + 1).join('/')),
        ),
      ),
    ];
    const entries = [
      ...dirs.map((d) => ({ type: 'directory', oid: gitBlobId(Buffer.from(d)), size: 0, path: d })),
      ...paths.map((p) => {
        const content = Buffer.from(repo.files[p]!);
        const lfs = repo.lfs?.includes(p);
        const advertised = repo.corrupt?.includes(p) ? sha256(Buffer.from('other')) : sha256(content);
        return {
          type: 'file',
          oid: gitBlobId(content),
          size: content.length,
          path: p,
          ...(lfs ? { lfs: { oid: advertised, size: content.length, pointerSize: 134 } } : {}),
        };
      }),
    ];
    const from = Number(url.searchParams.get('cursor') ?? 0);
    const page = entries.slice(from, from + server.treePageSize);
    const next = from + server.treePageSize;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (next < entries.length) {
      const nextUrl = new URL(url.pathname, endpoint);
      nextUrl.search = url.search;
      nextUrl.searchParams.set('cursor', String(next));
      headers.link = `<${nextUrl.href}>; rel="next"`;
    }
    res.writeHead(200, headers).end(JSON.stringify(page));
  };

  const listen = async (server: Server) => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const endpoint = await listen(hub);
  const cdnUrl = await listen(cdn);
  const server: HubServer = {
    endpoint,
    commit,
    log,
    treePageSize: 1000,
    addRepo: (id, repo) => void repos.set(`models:${id}`, repo),
    addDataset: (id, repo) => void repos.set(`datasets:${id}`, repo),
    cutNext: (file, times, afterBytes) => void cuts.set(file, { times, afterBytes }),
    async close() {
      for (const s of [hub, cdn]) {
        s.closeAllConnections();
        s.close();
        await once(s, 'close');
      }
    },
  };
  return server;
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
