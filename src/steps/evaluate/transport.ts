import type { ClientRequest, IncomingHttpHeaders, RequestOptions } from 'node:http';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { EgressPolicy } from '../net/egress-guard.js';
import { checkLiteralHost, guardedLookup } from '../net/egress-guard.js';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The request outlived `requestTimeoutSeconds`. */
export class RequestTimeoutError extends Error {}

/** The response body passed `limits.maxResponseBytes`: cut off, since a service must not fill the client's memory. */
export class ResponseTooLargeError extends Error {}

export interface Transport {
  /** POST a JSON body; rejects on a connection error, a timeout (RequestTimeoutError) or an abort. */
  postJson(body: string, timeoutMs: number): Promise<HttpAnswer>;
  close(): void;
}

/**
 * POSTs to one URL over keep-alive connections, at most `maxSockets` at once. node:http rather than global fetch:
 * on Node 20, fetch measured about half the requests per second of node:http on loopback, and the client's CPU
 * goes into requests (an undici Agent would close the gap, but undici is not a dependency). One abort listener
 * for all requests rather than one per request: at thousands of requests a second, listeners add up.
 */
export interface TransportOptions {
  /** Sent with every request, e.g. `authorization` with the endpoint's API key. */
  headers?: Record<string, string>;
  /** Largest response body read. @default limits.maxResponseBytes (16 MiB) */
  maxResponseBytes?: number;
  /** For endpoints a user named (openai, http runners): every connection is checked. Not for sessions. */
  egress?: EgressPolicy;
}

export function createTransport(
  url: URL,
  maxSockets: number,
  signal?: AbortSignal,
  opts: TransportOptions = {},
): Transport {
  const { egress } = opts;
  if (egress) checkLiteralHost(url, egress);
  const secure = url.protocol === 'https:';
  const maxResponseBytes = opts.maxResponseBytes ?? 16 * 1024 * 1024;
  const agentOptions = {
    ...(egress ? { lookup: guardedLookup(egress) } : {}),
    keepAlive: true,
    maxSockets,
    maxFreeSockets: maxSockets,
    scheduling: 'lifo' as const,
  };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const send = secure ? httpsRequest : httpRequest;
  const base: RequestOptions = {
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port,
    path: `${url.pathname}${url.search}`,
    method: 'POST',
    agent,
  };
  const open = new Set<ClientRequest>();
  const abortAll = () => {
    for (const req of open)
      req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  };
  signal?.addEventListener('abort', abortAll, { once: true });

  return {
    postJson(body, timeoutMs) {
      return new Promise<HttpAnswer>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const headers = {
          ...opts.headers,
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(body),
        };
        const req = send({ ...base, headers }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= maxResponseBytes) return void chunks.push(c);
            req.destroy(
              new ResponseTooLargeError(
                `response body larger than ${maxResponseBytes} bytes (limits.maxResponseBytes)`,
              ),
            );
          });
          res.on('end', () => {
            done();
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
          res.on('error', fail);
        });
        open.add(req);
        // One timer for the whole exchange (connect, send, wait, receive), as requestTimeoutSeconds means.
        const timer = setTimeout(
          () => req.destroy(new RequestTimeoutError(`no answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
        function done() {
          clearTimeout(timer);
          open.delete(req);
        }
        function fail(err: Error) {
          done();
          reject(err);
        }
        req.on('error', fail);
        req.end(body);
      });
    },
    close() {
      signal?.removeEventListener('abort', abortAll);
      agent.destroy();
    },
  };
}
