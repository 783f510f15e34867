import { setTimeout as sleep } from 'node:timers/promises';
import { DyffError, ErrorType } from '../../domain/errors.js';
import type { EvaluationSpec } from '../../domain/specs.js';
import type { StepLog } from '../context.js';
import { errorCode, errorMessage, invalidInput } from '../errors.js';
import type { JsonObject, Pipeline } from './adapters.js';
import { RESPONSE_INDEX, ResponseShapeError } from './adapters.js';
import type { AdaptiveLimit } from './limiter.js';
import type { Transport } from './transport.js';
import { RequestTimeoutError, ResponseTooLargeError } from './transport.js';
import type { WorkItem } from './work.js';

export type ClientPolicy = EvaluationSpec['client'];

export type ItemOutcome =
  { kind: 'ok'; responses: JsonObject[] } | { kind: 'skipped'; status: number; error: string };

/** Statuses that mean this item's request is wrong; anything else in 4xx means the service is wrong (below). */
const BAD_REQUEST = new Set([400, 413, 414, 415, 422]);
/** Statuses after which another try may work. */
const TRANSIENT = (status: number) => status === 408 || status === 429 || status >= 500;
const OVERLOADED = new Set([429, 503]);
/** A Retry-After longer than this is taken as this: a step should not sleep for hours on a header. */
const MAX_RETRY_AFTER_MS = 600_000;

export interface SenderOptions {
  url: URL;
  policy: ClientPolicy;
  transport: Transport;
  limiter: AdaptiveLimit;
  toRequest: Pipeline;
  toResponses: Pipeline;
  log: StepLog;
  signal: AbortSignal;
}

/**
 * Sends one item until it gets an answer the policy can act on. Transient failures (429, 5xx, 408, timeouts, lost
 * connections) are retried after `transientErrorRetryDelaySeconds` or the server's Retry-After; the client gives
 * up after `transientErrorRetryLimit` of them in a row across all items, since any success resets the count.
 * A bad request (400, 413, 422, or a response the output pipeline cannot read) is skipped or aborts the step.
 */
export class RequestSender {
  private consecutiveFailures = 0;
  // -Infinity, not 0: performance.now() counts from process start, and a failure in the first second must warn too.
  private lastWarning = -Infinity;
  /** Transient failures met so far, by kind; each was retried (or ended the step past the retry limit). */
  readonly retries: Record<string, number> = {};

  constructor(private readonly opts: SenderOptions) {}

  async send(item: WorkItem): Promise<ItemOutcome> {
    const { url, policy, transport, limiter, signal } = this.opts;
    const body = this.requestBody(item);
    for (;;) {
      signal.throwIfAborted();
      const sentAt = performance.now();
      let failure: string;
      let retryAfterMs: number | undefined;
      try {
        const answer = await transport.postJson(body, policy.requestTimeoutSeconds * 1000);
        if (answer.status >= 200 && answer.status < 300) {
          const responses = this.responses(item, answer.body);
          if ('error' in responses) return this.badRequest(item, answer.status, responses.error);
          this.consecutiveFailures = 0;
          limiter.onSuccess(sentAt, performance.now() - sentAt);
          return { kind: 'ok', responses: responses.records };
        }
        if (BAD_REQUEST.has(answer.status)) return this.badRequest(item, answer.status, snippet(answer.body));
        if (!TRANSIENT(answer.status)) {
          throw invalidInput(
            `${url.href} answered HTTP ${answer.status} to _index_ ${item.index}: ${snippet(answer.body)}; check the service's endpoint and credentials`,
            ErrorType.InvalidSpec,
          );
        }
        if (OVERLOADED.has(answer.status)) limiter.onOverload(sentAt);
        failure = `HTTP ${answer.status} ${snippet(answer.body, 80)}`;
        this.count(`HTTP ${answer.status}`);
        retryAfterMs = parseRetryAfter(answer.headers['retry-after']);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (err instanceof DyffError) throw err;
        // An oversized answer is this item's fault, as a response of the wrong shape is: the policy decides.
        if (err instanceof ResponseTooLargeError) return this.badRequest(item, 200, err.message);
        if (err instanceof RequestTimeoutError) limiter.onOverload(sentAt);
        const timedOut = err instanceof RequestTimeoutError;
        // A cut connection surfaces as ECONNRESET, EPIPE or "socket hang up" depending on where the request was.
        this.count(timedOut ? 'timeout' : 'connection');
        failure = timedOut ? `timeout (${err.message})` : (errorCode(err) ?? errorMessage(err));
      }
      await this.afterTransient(item, failure, retryAfterMs);
    }
  }

  private count(kind: string): void {
    this.retries[kind] = (this.retries[kind] ?? 0) + 1;
  }

  private requestBody(item: WorkItem): string {
    const requests = this.opts.toRequest(item.row);
    if (requests.length !== 1 || !requests[0])
      throw invalidInput('the input pipeline must make exactly one request per row');
    return JSON.stringify(requests[0]);
  }

  /** The response as output records, each with `_response_index_` (its position, unless the pipeline set it). */
  private responses(item: WorkItem, text: string): { records: JsonObject[] } | { error: string } {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return { error: `the response is not JSON: ${snippet(text)}` };
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      return { error: `the response is not a JSON object: ${snippet(text)}` };
    }
    try {
      const records = this.opts.toResponses(doc as JsonObject);
      // Set in place: the output pipeline's records are objects of their own (JSON.parse's, or made by an adapter).
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        if (!(RESPONSE_INDEX in r)) r[RESPONSE_INDEX] = i;
      }
      return { records };
    } catch (err) {
      if (err instanceof ResponseShapeError) return { error: `output pipeline: ${err.message}` };
      throw err;
    }
  }

  private badRequest(item: WorkItem, status: number, error: string): ItemOutcome {
    if (this.opts.policy.badRequestPolicy === 'Skip') return { kind: 'skipped', status, error };
    throw invalidInput(
      `bad request: _index_ ${item.index}, _replication_ ${item.replication}: HTTP ${status}: ${error} (badRequestPolicy Abort)`,
      ErrorType.InvalidSpec,
      { index: item.index, replication: item.replication, status },
    );
  }

  private async afterTransient(
    item: WorkItem,
    failure: string,
    retryAfterMs: number | undefined,
  ): Promise<void> {
    const { policy, log, signal } = this.opts;
    this.consecutiveFailures++;
    if (this.consecutiveFailures > policy.transientErrorRetryLimit) {
      throw new DyffError(
        ErrorType.SourceUnavailable,
        `gave up after ${this.consecutiveFailures} transient errors in a row (transientErrorRetryLimit ${policy.transientErrorRetryLimit}); last: _index_ ${item.index}: ${failure}`,
      );
    }
    const delayMs = Math.min(
      retryAfterMs ?? policy.transientErrorRetryDelaySeconds * 1000,
      MAX_RETRY_AFTER_MS,
    );
    // Under a storm of failures, one line a second says enough.
    if (performance.now() - this.lastWarning > 1000) {
      this.lastWarning = performance.now();
      log.warn(
        `_index_ ${item.index}: ${failure}; retry in ${Math.round(delayMs)} ms (${this.consecutiveFailures} in a row)`,
      );
    }
    await sleep(delayMs, undefined, { signal });
  }
}

function snippet(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat || '(empty body)';
}

/** Retry-After as delay-seconds or an HTTP date. */
export function parseRetryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
