import type { Pool } from 'undici';
import type { EgressPolicy } from '../net/egress-guard.js';
import { checkLiteralHost, guardedLookup } from '../net/egress-guard.js';
import type { HttpAnswer } from './exchange.js';
import { Exchange, OpenExchanges } from './exchange.js';

export type { HttpAnswer } from './exchange.js';
export { RequestTimeoutError, ResponseTooLargeError } from './exchange.js';

export interface Transport {
  /** POST a JSON body; rejects on a connection error, a timeout (RequestTimeoutError) or an abort. */
  postJson(body: string, timeoutMs: number): Promise<HttpAnswer>;
  close(): void;
}

export interface TransportOptions {
  /** Sent with every request, e.g. `authorization` with the endpoint's API key. */
  headers?: Record<string, string>;
  /** Largest response body read. @default limits.maxResponseBytes (16 MiB) */
  maxResponseBytes?: number;
  /** For endpoints a user named (openai, http runners): every connection is checked. Not for sessions. */
  egress?: EgressPolicy;
}

/** undici's Pool as its module loads, on the step's main thread. */
let undiciPool: Promise<typeof Pool> | undefined;

/**
 * Loads undici, once. The evaluate step asks for it while DuckDB opens its engines on threads of its own, so that
 * the two overlap in the step's start instead of following each other.
 */
export function loadUndici(): Promise<typeof Pool> {
  return (undiciPool ??= import('undici').then((undici) => undici.Pool));
}

/**
 * POSTs to one URL over a pool of at most `maxSockets` keep-alive connections (undici). Not node:http: its
 * ClientRequest, agent queue and header handling cost the client more CPU per request than the load generator it
 * is measured against (bench:inference); undici's Pool driven by `dispatch` with a handler of our own keeps a
 * request to a few objects. One abort registry for all requests rather than a listener each: at thousands of
 * requests a second, listeners add up.
 */
export async function createTransport(
  url: URL,
  maxSockets: number,
  signal?: AbortSignal,
  opts: TransportOptions = {},
): Promise<Transport> {
  const { egress } = opts;
  if (egress) checkLiteralHost(url, egress);
  const UndiciPool = await loadUndici();
  const maxResponseBytes = opts.maxResponseBytes ?? 16 * 1024 * 1024;
  const pool = new UndiciPool(url.origin, {
    connections: maxSockets,
    pipelining: 1,
    // The one timer below covers the whole exchange, as requestTimeoutSeconds means; undici's own are off.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: egress ? { lookup: guardedLookup(egress) } : undefined,
  });
  const headers = {
    ...opts.headers,
    'content-type': 'application/json',
    accept: 'application/json',
  };
  const origin = url.origin;
  const path = `${url.pathname}${url.search}`;
  const open = new OpenExchanges();
  const abortAll = () =>
    open.abortAll(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal?.addEventListener('abort', abortAll, { once: true });

  return {
    postJson(body, timeoutMs) {
      return new Promise<HttpAnswer>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const exchange = new Exchange(resolve, reject, maxResponseBytes, open);
        exchange.start(timeoutMs);
        // A literal, not a spread of shared options: an object spread per request is slow on Node 20 (adapters.ts).
        pool.dispatch({ origin, path, method: 'POST', headers, body }, exchange);
      });
    },
    close() {
      signal?.removeEventListener('abort', abortAll);
      pool.destroy().catch(() => {});
    },
  };
}
