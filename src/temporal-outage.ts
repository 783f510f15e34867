/**
 * Riding out a Temporal server outage on the client side: a wait keeps waiting while the server is unreachable
 * (restarting, a network blip), retrying with backoff, and gives up only after a configured time.
 *
 *   const view = await whileUnreachable(() => client.get(id), { timeoutMs, onUnreachable });
 */
import { DyffError, ErrorType } from './domain/errors.js';

/** gRPC status codes a restarting or unreachable server answers with. */
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;

/** True for errors that mean "the server is not answering", as opposed to an answer that something is wrong. */
export function isUnreachable(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; cause?: unknown; message?: unknown } | undefined, depth = 0;
    e && depth < 6;
    depth++
  ) {
    if (e.code === UNAVAILABLE || e.code === DEADLINE_EXCEEDED) return true;
    if (typeof e.code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT)$/.test(e.code)) return true;
    if (
      typeof e.message === 'string' &&
      /\b(UNAVAILABLE|ECONNREFUSED|No connection established)\b/.test(e.message)
    )
      return true;
    e = e.cause as typeof e;
  }
  return false;
}

export interface OutageOptions {
  /** The server's address, for the message when giving up. */
  address: string;
  /** Give up after the server has been unreachable this long without a break. */
  timeoutMs: number;
  /** Called on each failed try while unreachable: how long it has been so far. */
  onUnreachable?: (downForMs: number) => void;
  signal?: AbortSignal;
}

/** Call `fn`; while it fails because the server is unreachable, try again with backoff (0.5 s doubling to 5 s). */
export async function whileUnreachable<T>(fn: () => Promise<T>, opts: OutageOptions): Promise<T> {
  let since: number | undefined;
  let delayMs = 500;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      since ??= Date.now();
      const down = Date.now() - since;
      if (down >= opts.timeoutMs) {
        throw new DyffError(
          ErrorType.SourceUnavailable,
          `Temporal at ${opts.address} unreachable for ${Math.round(down / 1000)} s; gave up ` +
            '(temporal.unreachableTimeoutSeconds). The run goes on in the server: `dyffctl get <id>` once it is back',
        );
      }
      opts.onUnreachable?.(down);
      await new Promise((r) => setTimeout(r, Math.min(delayMs, opts.timeoutMs - down)));
      delayMs = Math.min(delayMs * 2, 5000);
    }
  }
}
