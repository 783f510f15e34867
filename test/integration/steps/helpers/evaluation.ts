import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FilesystemObjectStore } from '../../../../src/adapters/object-store/filesystem.js';
import type { Config } from '../../../../src/config.js';
import { loadConfig } from '../../../../src/config.js';
import { newId } from '../../../../src/domain/ids.js';
import { PROGRESS_PREFIX } from '../../../../src/steps/context.js';
import { runStepProgram } from '../../../../src/steps/run.js';
import { TEST_SOURCES, TEST_SOURCES_ENV } from '../../../support/test-sources.js';

export const DYFFCTL = resolve(import.meta.dirname, '../../../../bin/dyffctl.mjs');

export interface StepResult {
  code: number;
  lines: string[];
  /** The last line that is not a progress report. */
  last: string;
}

/**
 * A data home whose filesystem object store is the one `dyffctl` uses (`<dataHome>/objects`), so a step run in
 * a child process and one run in-process see the same objects.
 */
export interface EvalEnv {
  root: string;
  store: FilesystemObjectStore;
  config: Config;
  /** `dyffctl step <name> <argv…>`, in-process. */
  step(
    name: string,
    argv: string[],
    opts?: { signal?: AbortSignal; onLine?: (l: string) => void },
  ): Promise<StepResult>;
  /** The environment for a `dyffctl` child process on this data home. */
  childEnv(): NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export async function createEvalEnv(): Promise<EvalEnv> {
  const root = await mkdtemp(join(tmpdir(), 'dyff-eval-'));
  const dataHome = join(root, 'home');
  const noConfig = join(root, 'none.yaml');
  const config = loadConfig({ dataHome, sources: TEST_SOURCES }, { DYFF_CONFIG: noConfig });
  const store = new FilesystemObjectStore({ root: join(dataHome, 'objects') });
  return {
    root,
    store,
    config,
    async step(name, argv, opts = {}) {
      const lines: string[] = [];
      const code = await runStepProgram(name, argv, {
        objectStore: store,
        config,
        signal: opts.signal,
        write: (line) => {
          lines.push(line);
          opts.onLine?.(line);
        },
      });
      return { code, lines, last: lines.filter((l) => !l.startsWith(PROGRESS_PREFIX)).at(-1) ?? '' };
    },
    childEnv: () => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DYFF_DATA_HOME: dataHome,
      DYFF_CONFIG: noConfig,
      ...TEST_SOURCES_ENV,
    }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** A dataset as ingest-dataset leaves it: Parquet with `_index_` 0..n-1 under `datasets/<id>/data/`, and the manifest. */
export async function putDataset(
  env: Pick<EvalEnv, 'root' | 'store'>,
  rows: Record<string, string>[],
): Promise<string> {
  const id = newId();
  const json = join(env.root, `${id}.jsonl`);
  const parquet = join(env.root, `${id}.parquet`);
  await writeFile(json, rows.map((r, i) => JSON.stringify({ _index_: i, ...r })).join('\n'));
  await runSql(`COPY (SELECT _index_::BIGINT AS _index_, * EXCLUDE (_index_) FROM read_json(${quotedString(json)}, format = 'newline_delimited'))
    TO ${quotedString(parquet)} (FORMAT parquet)`);
  const info = await env.store.put('datasets', `${id}/data/part-00000.parquet`, await readFile(parquet));
  const manifest = {
    rowCount: rows.length,
    artifacts: [
      {
        kind: 'parquet',
        path: 'data/part-00000.parquet',
        rows: rows.length,
        size: info.size,
        digest: { md5: info.md5 },
      },
    ],
  };
  await env.store.put('datasets', `${id}/manifest.json`, JSON.stringify(manifest));
  return id;
}

/** Rows of every Parquet file under `outputs/<id>/<folder>/`, schemas unified by name; bigints as numbers. */
export async function outputRows(
  env: EvalEnv,
  id: string,
  folder: 'data' | 'verified',
): Promise<OutputRow[]> {
  const files = (await env.store.list('outputs', `${id}/${folder}/`)).filter((o) =>
    o.key.endsWith('.parquet'),
  );
  if (files.length === 0) return [];
  const list = files.map((f) => quotedString(env.store.localPath('outputs', f.key))).join(', ');
  const rows = await runSql(`SELECT * FROM read_parquet([${list}], union_by_name = true)`);
  return JSON.parse(
    JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)),
  ) as OutputRow[];
}

export interface OutputRow {
  _replication_: string;
  _index_: number;
  responses: Record<string, unknown>[];
}

async function runSql(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

export async function readJson<T>(
  env: EvalEnv,
  category: 'outputs' | 'inferenceservices' | 'models',
  key: string,
): Promise<T> {
  return JSON.parse((await env.store.getBuffer(category, key)).toString('utf8')) as T;
}

/** What the fake inference endpoint does with the n-th request (1-based): answer (undefined) or misbehave. */
export type Fault =
  { status: number; body?: string; retryAfter?: string } | 'hang' | 'reset' | { delayMs: number };

export interface InferenceEndpoint {
  url: string;
  /** Request bodies in arrival order. */
  received: unknown[];
  /** Requests answered with 200. */
  answered: number;
  /** Faults served, by kind: `HTTP 429`, `HTTP 500`, `hang`, `reset`, `delay`. */
  faults: Record<string, number>;
  /** The most requests in flight at once. */
  maxInFlight: number;
  /** Resolves once no connection is open: everything a (killed) client sent has been read. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A stand-in for the demo model server on 127.0.0.1: `POST /generate {text}` → `{predictions: [{label, score}…]}`
 * (spam if the text says so), with `fault(n, body)` choosing misbehaviour per request.
 */
export async function startInferenceEndpoint(
  fault: (n: number, body: { text?: string }) => Fault | undefined = () => undefined,
): Promise<InferenceEndpoint> {
  let inFlight = 0;
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let onIdle: (() => void) | undefined;
  const endpoint: InferenceEndpoint = {
    url: '',
    received: [],
    answered: 0,
    faults: {},
    maxInFlight: 0,
    idle: () => (sockets.size === 0 ? Promise.resolve() : new Promise((resolve) => (onIdle = resolve))),
    close: async () => {},
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text?: string };
    endpoint.received.push(body);
    const f = fault(endpoint.received.length, body);
    if (f) {
      const kind = typeof f === 'string' ? f : 'delayMs' in f ? 'delay' : `HTTP ${f.status}`;
      endpoint.faults[kind] = (endpoint.faults[kind] ?? 0) + 1;
    }
    if (f === 'hang') return void hanging.add(res);
    if (f === 'reset') return void req.socket.destroy();
    if (f && 'delayMs' in f) await new Promise((r) => setTimeout(r, f.delayMs));
    else if (f) {
      const headers = f.retryAfter === undefined ? {} : { 'retry-after': f.retryAfter };
      return void res.writeHead(f.status, headers).end(f.body ?? `{"error":"status ${f.status}"}`);
    }
    const spam = /spam|cheap|pills/i.test(body.text ?? '');
    const predictions = spam
      ? [
          { label: 'spam', score: 0.9 },
          { label: 'ham', score: 0.1 },
        ]
      : [
          { label: 'ham', score: 0.8 },
          { label: 'spam', score: 0.2 },
        ];
    endpoint.answered++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ predictions }));
  };
  const server = createServer((req, res) => {
    inFlight++;
    endpoint.maxInFlight = Math.max(endpoint.maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) onIdle?.();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  endpoint.close = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  return endpoint;
}

/** The ServiceDescription build-service writes for the demo model server. */
export const DEMO_SERVICE = {
  serviceId: '0'.repeat(32),
  runner: 'standalone',
  endpoint: '/generate',
  interface: {
    inputPipeline: [{ kind: 'TransformJSON', configuration: { text: '$.text' } }],
    outputPipeline: [
      { kind: 'ExplodeCollections', configuration: { collections: ['predictions'] } },
      {
        kind: 'TransformJSON',
        configuration: {
          label: '$.predictions.label',
          score: '$.predictions.score',
          _response_index_: '$._response_index_',
        },
      },
    ],
  },
};
