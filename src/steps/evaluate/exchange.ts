import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The request outlived `requestTimeoutSeconds`. */
export class RequestTimeoutError extends Error {}

/** The response body passed `limits.maxResponseBytes`: cut off, since a service must not fill the client's memory. */
export class ResponseTooLargeError extends Error {}

/**
 * The requests in flight, so that an abort reaches all of them: a list threaded through the requests themselves.
 * Not a Set: with a long-lived Set taking and dropping one entry per request, V8's young-generation collections
 * kept ~3 MB at each collection (10–15 ms pauses, every ~250 ms, at 2,600 requests/s; under 0.4 MB and 2–4 ms
 * with this list, measured with `--trace-gc-nvp`), and each pause held up every answer that arrived meanwhile.
 */
export class OpenExchanges {
  private head: Exchange | undefined;

  add(exchange: Exchange): void {
    exchange.next = this.head;
    if (this.head) this.head.prev = exchange;
    this.head = exchange;
  }

  delete(exchange: Exchange): void {
    const { prev, next } = exchange;
    if (prev) prev.next = next;
    else if (this.head === exchange) this.head = next;
    else return;
    if (next) next.prev = prev;
    exchange.prev = exchange.next = undefined;
  }

  abortAll(reason: Error): void {
    // Collected first: an abort may settle its exchange, which takes it out of the list.
    const all: Exchange[] = [];
    for (let e = this.head; e; e = e.next) all.push(e);
    for (const e of all) e.abort(reason);
  }
}

/**
 * One request's handler: collects the answer, cuts it off past `maxResponseBytes`, ends it at its deadline. A class
 * rather than closures, so a request allocates one object for all of it.
 */
export class Exchange implements Dispatcher.DispatchHandlers {
  private status = 0;
  private rawHeaders: Buffer[] | string[] | null = null;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  /** undici's abort, handed over when the request reaches a connection; an earlier abort waits for it. */
  private undiciAbort: ((err: Error) => void) | undefined;
  private abortedWith: Error | undefined;
  /** Neighbours in `OpenExchanges` while the request is in flight. */
  prev: Exchange | undefined;
  next: Exchange | undefined;

  constructor(
    private readonly resolve: (answer: HttpAnswer) => void,
    private readonly reject: (err: unknown) => void,
    private readonly maxResponseBytes: number,
    private readonly open: OpenExchanges,
  ) {}

  start(timeoutMs: number): void {
    this.open.add(this);
    this.timer = setTimeout(this.onTimeout, timeoutMs, this, timeoutMs);
  }

  private onTimeout(this: void, self: Exchange, timeoutMs: number): void {
    self.abort(new RequestTimeoutError(`no answer within ${timeoutMs} ms`));
  }

  abort(err: Error): void {
    this.abortedWith ??= err;
    this.undiciAbort?.(err);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.undiciAbort = abort;
    if (this.abortedWith) abort(this.abortedWith);
  }

  onHeaders(statusCode: number, raw: Buffer[] | string[] | null): boolean {
    this.status = statusCode;
    this.rawHeaders = raw;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size <= this.maxResponseBytes) this.chunks.push(chunk);
    else
      this.abort(
        new ResponseTooLargeError(
          `response body larger than ${this.maxResponseBytes} bytes (limits.maxResponseBytes)`,
        ),
      );
    return true;
  }

  onComplete(): void {
    this.settle();
    const { chunks } = this;
    const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    this.resolve(new Answer(this.status, this.rawHeaders, body));
  }

  onError(err: Error): void {
    this.settle();
    this.reject(this.abortedWith ?? err);
  }

  private settle(): void {
    clearTimeout(this.timer);
    this.open.delete(this);
  }
}

class Answer implements HttpAnswer {
  private parsed: IncomingHttpHeaders | undefined;

  constructor(
    readonly status: number,
    private readonly raw: Buffer[] | string[] | null,
    readonly body: string,
  ) {}

  /** Parsed on first use: the client reads the headers of the few answers it retries, not of every answer. */
  get headers(): IncomingHttpHeaders {
    return (this.parsed ??= headerRecord(this.raw));
  }
}

/** undici's raw headers (name, value, name, value…) as node:http presents them: lowercase names. */
function headerRecord(raw: Buffer[] | string[] | null): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  if (!raw) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = name === 'set-cookie' ? [had, value] : `${had}, ${value}`;
  }
  return out;
}
