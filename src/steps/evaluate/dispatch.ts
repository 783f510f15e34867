/**
 * Runs `run` over `items` with at most `limit()` in flight, re-read before each start so an adaptive limit takes
 * effect at once. `beforeStart` may hold new work back (backpressure). The first failure stops new work, aborts
 * what is in flight through `abort`, and is rethrown once everything has settled.
 */
export interface DispatchOptions<T> {
  limit: () => number;
  run: (item: T) => Promise<void>;
  beforeStart?: () => Promise<void>;
  /** Aborted on the first failure, so sleeping retries and open requests end promptly. */
  abort: AbortController;
}

export async function dispatch<T>(items: AsyncIterable<T>, opts: DispatchOptions<T>): Promise<void> {
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

  try {
    for await (const item of items) {
      while (inFlight >= Math.max(1, opts.limit()) && !failure) await settled();
      if (!failure) await opts.beforeStart?.().catch(fail);
      if (failure) break;
      inFlight++;
      opts
        .run(item)
        .catch(fail)
        .finally(() => {
          inFlight--;
          wake?.();
        });
    }
  } catch (err) {
    fail(err);
  }
  while (inFlight > 0) await settled();
  if (failure) throw failure.err;
}
