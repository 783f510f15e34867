import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { invalidInput } from '../errors.js';
import type { EgressPolicy } from './egress-guard.js';
import { checkLiteralHost, guardedLookup } from './egress-guard.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
const NO_BODY = new Set([204, 205, 304]);

/**
 * GET a user-supplied URL under the egress policy, every redirect included: each hop must be http(s), and each
 * connection goes through the guarded lookup. The answer is a standard `Response`. As fetch does, an Authorization
 * header is not sent on to another origin.
 */
export async function guardedGet(
  url: string,
  headers: Record<string, string>,
  policy: EgressPolicy,
  signal?: AbortSignal,
): Promise<Response> {
  let current = new URL(url);
  let sent = { ...headers };
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw invalidInput(
        `${url}: refusing a ${current.protocol} URL${hop ? ` (redirected to ${current.href})` : ''}`,
      );
    }
    checkLiteralHost(current, policy);
    const res = await get(current, sent, policy, signal);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return toResponse(res);
    res.resume();
    if (hop >= MAX_REDIRECTS) throw invalidInput(`${url}: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, current);
    if (next.origin !== current.origin) {
      sent = Object.fromEntries(Object.entries(sent).filter(([k]) => k.toLowerCase() !== 'authorization'));
    }
    current = next;
  }
}

function get(
  url: URL,
  headers: Record<string, string>,
  policy: EgressPolicy,
  signal?: AbortSignal,
): Promise<IncomingMessage> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { headers, lookup: guardedLookup(policy), signal, agent: false }, resolve);
    req.on('error', reject);
    req.end();
  });
}

function toResponse(res: IncomingMessage): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
  }
  const status = res.statusCode ?? 502;
  const body = NO_BODY.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
  if (body === null) res.resume();
  return new Response(body, { status, statusText: res.statusMessage ?? '', headers });
}
