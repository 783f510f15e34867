import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import type { EgressPolicy } from '../net/egress-guard.js';
import { checkLiteralHost, guardedLookup } from '../net/egress-guard.js';

/**
 * isomorphic-git's HTTP transport, through the step's egress policy: every connection is made with the guarded
 * lookup, so a repository URL cannot reach the platform's own addresses (metadata server, cluster services)
 * unless `sources.allowPrivateNetworks` says so. Redirects are not followed: a Git server that redirects is
 * named in the error instead.
 */
export function guardedGitHttp(policy: EgressPolicy, signal?: AbortSignal): HttpClient {
  return {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      const url = new URL(req.url);
      checkLiteralHost(url, policy);
      const body = req.body ? await collect(req.body) : undefined;
      const res = await send(url, req.method ?? 'GET', req.headers ?? {}, body, policy, signal);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      return {
        url: req.url,
        method: req.method,
        headers,
        body: res as unknown as AsyncIterableIterator<Uint8Array>,
        statusCode: res.statusCode ?? 502,
        statusMessage: res.statusMessage ?? '',
      };
    },
  };
}

async function collect(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  policy: EgressPolicy,
  signal?: AbortSignal,
): Promise<IncomingMessage> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers, lookup: guardedLookup(policy), signal, agent: false },
      resolve,
    );
    req.on('error', reject);
    req.end(body);
  });
}
