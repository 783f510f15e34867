import { setTimeout as sleep } from 'node:timers/promises';
import { DyffError, ErrorType } from '../../domain/errors.js';
import type { RetryPolicy, StepLog } from '../context.js';
import { errorCode, errorMessage, invalidInput, transientFailure } from '../errors.js';
import type { EgressPolicy } from '../net/egress-guard.js';
import { isEgressRefused } from '../net/egress-guard.js';
import { guardedGet } from '../net/guarded-get.js';

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500 };

/** A failure worth another try: 5xx, 429, a reset or cut connection. */
export class TransientError extends Error {}

/** Codes that mean the host is not there at all: a retry in a few seconds will not change that. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * GET under the egress policy (every redirect too), with errors sorted into user errors (exit 2), transient
 * errors (retried) and aborts.
 */
export async function httpGet(
  url: string,
  headers: Record<string, string>,
  egress: EgressPolicy,
  signal?: AbortSignal,
) {
  let res: Response;
  try {
    res = await guardedGet(url, headers, egress, signal);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (isEgressRefused(err) || (err instanceof DyffError && err.details?.invalidInput)) throw err;
    const code = errorCode(err);
    if (code && UNREACHABLE.has(code)) {
      throw invalidInput(`cannot reach ${url}: ${code}`, ErrorType.SourceUnavailable, { url });
    }
    throw new TransientError(`${url}: ${code ?? errorMessage(err)}`);
  }
  if (res.status >= 500 || res.status === 429) {
    await res.body?.cancel();
    throw new TransientError(`${url}: HTTP ${res.status} ${res.statusText}`);
  }
  return res;
}

/** A 4xx other than the ones a caller handles itself is the user's to fix: the URL is wrong or not public. */
export async function rejectClientError(res: Response, url: string): Promise<void> {
  if (res.status < 400) return;
  await res.body?.cancel();
  const type = res.status === 404 || res.status === 410 ? ErrorType.NotFound : ErrorType.SourceUnavailable;
  throw invalidInput(`${url}: HTTP ${res.status} ${res.statusText}`, type, { url, status: res.status });
}

/** Runs `attempt` until it succeeds or fails with something other than a TransientError, backing off 1x, 2x, 4x… */
export async function withRetry<T>(
  what: string,
  attempt: () => Promise<T>,
  opts: { policy: RetryPolicy; log: StepLog; signal?: AbortSignal },
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof TransientError) || opts.signal?.aborted) throw err;
      if (n >= opts.policy.attempts) {
        // Still failing after the step's own retries: a later try of the whole step may get through.
        throw transientFailure(`${what}: ${err.message} (gave up after ${n} attempts)`);
      }
      const delay = opts.policy.baseDelayMs * 2 ** (n - 1);
      opts.log.warn(`${what}: ${err.message}; retry ${n}/${opts.policy.attempts - 1} in ${delay} ms`);
      await sleep(delay, undefined, { signal: opts.signal });
    }
  }
}

/** The total length from `Content-Range: bytes a-b/total` (or `bytes *\/total` on a 416). */
export function contentRange(header: string | null): { start?: number; total?: number } {
  const m = /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!m) return {};
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    total: m[2] === '*' || m[2] === undefined ? undefined : Number(m[2]),
  };
}
