/**
 * Runs `run` over `batches` of items with at most `limit()` in flight, re-read before each start so an adaptive
 * limit takes effect at once. `beforeStart` may hold new work back (backpressure); it returns nothing when there
 * is room, so the common case costs no promise. The first failure stops new work, aborts what is in flight
 * through `abort`, and is rethrown once everything has settled. Items come in batches (DuckDB's chunks): one
 * async step per batch rather than per item.
 */
export interface DispatchOptions<T> {
  limit: () => number;
  run: (item: T) => Promise<void>;
  beforeStart?: () => Promise<void> | undefined;
  /** Aborted on the first failure, so sleeping retries and open requests end promptly. */
  abort: AbortController;
}

export async function dispatch<T>(
  batches: AsyncIterable<Iterable<T>>,
  opts: DispatchOptions<T>,
): Promise<void> {
  let inFlight = 0;
  let failure: { err: unknown } | undefined;
  let wake: (() => void) | undefined;
  const settled = () => new Promise<void>((resolve) => (wake = resolve));
  const fail = (err: unknown) => {
    if (!failure) {
      failure = { err };
      opts.abort.abort(err);
    }
  };
  // Made once: a settle handler per item would be a closure per request.
  const onSettled = () => {
    inFlight--;
    wake?.();
  };
  const onFailed = (err: unknown) => {
    fail(err);
    onSettled();
  };

  try {
    outer: for await (const batch of batches) {
      for (const item of batch) {
        while (inFlight >= Math.max(1, opts.limit()) && !failure) await settled();
        if (!failure) {
          const waiting = opts.beforeStart?.();
          if (waiting) await waiting.catch(fail);
        }
        if (failure) break outer;
        inFlight++;
        opts.run(item).then(onSettled, onFailed);
      }
    }
  } catch (err) {
    fail(err);
  }
  while (inFlight > 0) await settled();
  if (failure) throw failure.err;
}
