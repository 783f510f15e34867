import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The part of the Cloud Build REST API (v1) that `@google-cloud/cloudbuild` calls over its HTTP/JSON transport,
 * on loopback: createBuild (a long-running operation carrying the build), getBuild, listBuilds filtered by tags,
 * cancelBuild — under `projects/<p>/builds` and `projects/<p>/locations/<l>/builds` alike.
 *
 * Builds advance on the server's own clock, QUEUED → WORKING → SUCCESS with a digest per build; with `hold` set,
 * a build stays WORKING until `release()`. Every request is recorded in `calls`.
 *
 *   const cb = await startCloudBuildServer({ hold: true });
 *   … config cloudbuild.apiEndpoint = cb.url; await until(() => cb.builds.some((b) => b.status === 'WORKING'));
 *   cb.release(); … await cb.close();
 */

export interface FakeBuild {
  id: string;
  projectId: string;
  status: 'QUEUED' | 'WORKING' | 'SUCCESS' | 'FAILURE' | 'CANCELLED';
  tags: string[];
  images: string[];
  steps: { name: string; args: string[] }[];
  source: { storageSource?: { bucket: string; object: string } };
  createTime: string;
  digest: string;
}

export interface CloudBuildServer {
  url: string;
  calls: { method: string; path: string; body?: unknown }[];
  builds: FakeBuild[];
  /** Count of calls to one API method: createBuild, getBuild, listBuilds, cancelBuild. */
  count(method: string): number;
  /** Keep builds WORKING from now on, until `release()`. */
  hold(): void;
  /** Let held builds finish (SUCCESS, or FAILURE when `fail` is given). */
  release(fail?: boolean): void;
  close(): Promise<void>;
}

const PATH = /^\/v1\/projects\/([^/]+)(?:\/locations\/([^/]+))?\/builds(?:\/([^/:]+))?(:cancel)?$/;

export async function startCloudBuildServer(
  opts: { hold?: boolean; queuedMs?: number; workingMs?: number } = {},
) {
  const builds: FakeBuild[] = [];
  const calls: CloudBuildServer['calls'] = [];
  let held = opts.hold ?? false;
  let failHeld = false;
  const queuedMs = opts.queuedMs ?? 100;
  const workingMs = opts.workingMs ?? 500;

  /** A build's status now, from its age, unless cancelled or held. */
  function advance(b: FakeBuild): FakeBuild {
    if (b.status === 'CANCELLED' || b.status === 'SUCCESS' || b.status === 'FAILURE') return b;
    const age = Date.now() - Date.parse(b.createTime);
    if (age >= queuedMs) b.status = 'WORKING';
    if (!held && age >= queuedMs + workingMs) b.status = failHeld ? 'FAILURE' : 'SUCCESS';
    return b;
  }

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) =>
      reply(res, 500, { error: { code: 500, message: String(err) } }),
    );
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = PATH.exec(url.pathname);
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (!m) return reply(res, 404, notFound(`no route ${req.method} ${url.pathname}`));
    const [, projectId, , id, cancel] = m;
    const method =
      req.method === 'POST' ? (cancel ? 'cancelBuild' : 'createBuild') : id ? 'getBuild' : 'listBuilds';
    calls.push({ method, path: url.pathname + url.search, body });
    if (method === 'createBuild') {
      const given = body as Partial<FakeBuild>;
      const b: FakeBuild = {
        id: randomUUID(),
        projectId: projectId!,
        status: 'QUEUED',
        tags: given.tags ?? [],
        images: given.images ?? [],
        steps: given.steps ?? [],
        source: given.source ?? {},
        createTime: new Date().toISOString(),
        digest: '',
      };
      b.digest = `sha256:${createHash('sha256').update(b.id).digest('hex')}`;
      builds.push(b);
      return reply(res, 200, {
        name: `projects/${projectId}/operations/${randomUUID()}`,
        metadata: {
          '@type': 'type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata',
          build: view(b),
        },
      });
    }
    if (method === 'listBuilds') {
      const wanted = [...(url.searchParams.get('filter') ?? '').matchAll(/tags="([^"]+)"/g)].map(
        (t) => t[1]!,
      );
      const found = builds
        .filter((b) => b.projectId === projectId && wanted.every((t) => b.tags.includes(t)))
        .reverse(); // newest first, as Cloud Build lists them
      return reply(res, 200, { builds: found.map((b) => view(advance(b))), nextPageToken: '' });
    }
    const b = builds.find((x) => x.id === id && x.projectId === projectId);
    if (!b) return reply(res, 404, notFound(`build ${id} not found`));
    if (method === 'cancelBuild') {
      advance(b);
      if (b.status === 'SUCCESS' || b.status === 'FAILURE')
        return reply(res, 400, {
          error: { code: 400, status: 'FAILED_PRECONDITION', message: `build ${id} has finished` },
        });
      b.status = 'CANCELLED';
    }
    return reply(res, 200, view(advance(b)));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const api: CloudBuildServer = {
    url: `http://127.0.0.1:${port}`,
    calls,
    builds,
    count: (method) => calls.filter((c) => c.method === method).length,
    hold() {
      held = true;
    },
    release(fail = false) {
      failHeld = fail;
      held = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return api;
}

/** The Build resource as the REST API returns it. */
function view(b: FakeBuild) {
  return {
    id: b.id,
    projectId: b.projectId,
    status: b.status,
    tags: b.tags,
    images: b.images,
    steps: b.steps,
    source: b.source,
    createTime: b.createTime,
    logUrl: `https://console.cloud.google.com/cloud-build/builds/${b.id}?project=${b.projectId}`,
    ...(b.status === 'SUCCESS'
      ? { results: { images: b.images.map((name) => ({ name, digest: b.digest })) } }
      : {}),
  };
}

function notFound(message: string) {
  return { error: { code: 404, status: 'NOT_FOUND', message } };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += (chunk as Buffer).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : undefined;
}
