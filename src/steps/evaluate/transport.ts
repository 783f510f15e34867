import type { IncomingHttpHeaders } from 'node:http';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The request outlived `requestTimeoutSeconds`. */
export class RequestTimeoutError extends Error {}

export interface Transport {
  /** POST a JSON body; rejects on a connection error, a timeout (RequestTimeoutError) or `signal`. */
  postJson(url: URL, body: string, timeoutMs: number, signal?: AbortSignal): Promise<HttpAnswer>;
  close(): void;
}

/**
 * POSTs over keep-alive connections, at most `maxSockets` per host. node:http rather than global fetch: on this
 * Node (20) fetch measured about half the requests per second of node:http on loopback, and the client spends
 * its CPU on requests; an undici Agent would close the gap but is not a dependency here.
 */
export function createTransport(maxSockets: number): Transport {
  const options = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
  const agents = { http: new HttpAgent(options), https: new HttpsAgent(options) };
  return {
    postJson(url, body, timeoutMs, signal) {
      const secure = url.protocol === 'https:';
      return new Promise<HttpAnswer>((resolve, reject) => {
        const req = (secure ? httpsRequest : httpRequest)(
          url,
          {
            method: 'POST',
            agent: secure ? agents.https : agents.http,
            signal,
            headers: {
              'content-type': 'application/json',
              accept: 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              clearTimeout(timer);
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks).toString('utf8'),
              });
            });
            res.on('error', fail);
          },
        );
        // One timer for the whole exchange (connect, send, wait, receive), as requestTimeoutSeconds means.
        const timer = setTimeout(
          () => req.destroy(new RequestTimeoutError(`no answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
        function fail(err: Error) {
          clearTimeout(timer);
          reject(err);
        }
        req.on('error', fail);
        req.end(body);
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
