import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { ErrorType } from '../../domain/errors.js';
import { errorMessage, invalidInput } from '../errors.js';
import type { EgressPolicy } from '../net/egress-guard.js';
import { TransientError, contentRange, httpGet, rejectClientError } from './http.js';

export interface DownloadTarget {
  url: string;
  /** Which addresses the download may connect to, redirects included. */
  egress: EgressPolicy;
  /** Sent with every request, e.g. an Authorization header (not sent on to another origin on a redirect). */
  headers?: Record<string, string>;
  /** The file's name in the dataset, for error messages. */
  path: string;
  /** `<workDir>/<id>/<path>.partial`: kept between attempts and between runs. */
  partial: string;
  maxBytes: number;
  signal?: AbortSignal;
  /** Called with the bytes that are on disk so far, including those from an earlier attempt. */
  onBytes?: (bytesOnDisk: number, total: number | undefined) => void;
  /** Called once the server has answered, before any byte is written. */
  onStart?: (attempt: AttemptResult) => void;
}

const sizeOf = async (file: string) => (await stat(file).catch(() => undefined))?.size ?? 0;

/**
 * One attempt at completing `partial`: asks for the missing tail with a Range request, and starts over when the
 * server ignores Range (answers 200). A cut connection leaves a shorter partial and a TransientError; the next
 * attempt resumes from there. Verifying the content is the caller's job.
 */
export interface AttemptResult {
  /** Bytes kept from before this attempt. */
  resumedFrom: number;
  /** The partial was there but the server ignored Range, so it was started over. */
  restarted: boolean;
}

export async function downloadAttempt(t: DownloadTarget): Promise<AttemptResult> {
  await mkdir(dirname(t.partial), { recursive: true });
  const have = await sizeOf(t.partial);
  // identity: with a compressed transfer, Content-Length and Range would count bytes other than the file's.
  const headers = {
    ...t.headers,
    'accept-encoding': 'identity',
    ...(have > 0 ? { range: `bytes=${have}-` } : {}),
  };
  const res = await httpGet(t.url, headers, t.egress, t.signal);

  if (res.status === 416 && have > 0) {
    // Range past the end: the partial may already be whole (an earlier run stopped before verifying it).
    await res.body?.cancel();
    if (contentRange(res.headers.get('content-range')).total === have)
      return { resumedFrom: have, restarted: false };
    await rm(t.partial, { force: true });
    throw new TransientError(`${t.url}: partial download does not match the remote file; starting over`);
  }
  await rejectClientError(res, t.url);

  const resumed = res.status === 206 && have > 0;
  if (res.status === 206 && contentRange(res.headers.get('content-range')).start !== (resumed ? have : 0)) {
    await res.body?.cancel();
    await rm(t.partial, { force: true });
    throw new TransientError(`${t.url}: server sent a range we did not ask for; starting over`);
  }
  const offset = resumed ? have : 0;
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = resumed
    ? contentRange(res.headers.get('content-range')).total
    : Number.isFinite(length)
      ? length
      : undefined;
  if (total !== undefined && total > t.maxBytes) {
    await res.body?.cancel();
    throw tooLarge(t, `is ${total} bytes`);
  }
  if (!res.body) throw new TransientError(`${t.url}: empty response body`);

  const result = { resumedFrom: offset, restarted: have > 0 && !resumed };
  t.onStart?.(result);
  let onDisk = offset;
  const out = createWriteStream(t.partial, { flags: resumed ? 'a' : 'w' });
  let failure: unknown;
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      onDisk += chunk.length;
      // Content-Length can be absent or wrong: the limit is enforced on the bytes that actually arrive.
      if (onDisk > t.maxBytes) throw tooLarge(t, `exceeded ${t.maxBytes} bytes while downloading`);
      if (!out.write(chunk)) await once(out, 'drain');
      t.onBytes?.(onDisk, total);
    }
  } catch (err) {
    failure = err;
  } finally {
    // Every byte received so far reaches the disk, even after a cut connection: a resume must not refetch it.
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
  if (failure !== undefined) {
    if (t.signal?.aborted) throw t.signal.reason;
    if (isTooLarge(failure)) {
      await rm(t.partial, { force: true });
      throw failure;
    }
    throw new TransientError(`${t.url}: connection lost after ${onDisk} bytes (${errorMessage(failure)})`);
  }
  if (total !== undefined && onDisk !== total) {
    throw new TransientError(`${t.url}: got ${onDisk} of ${total} bytes`);
  }
  return result;
}

const TOO_LARGE = Symbol('tooLarge');

function tooLarge(t: DownloadTarget, what: string) {
  const err = invalidInput(
    `${t.path}: ${t.url} ${what}, more than the limit of ${t.maxBytes} bytes (maxFileBytes)`,
    ErrorType.InvalidSpec,
    { url: t.url, path: t.path },
  );
  return Object.assign(err, { [TOO_LARGE]: true });
}

const isTooLarge = (err: unknown) => typeof err === 'object' && err !== null && TOO_LARGE in err;
