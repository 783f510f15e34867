/**
 * Adaptive concurrency by AIMD, the way TCP finds a link's capacity: grow while requests succeed, halve on a sign
 * of overload: a 429 or 503, a timeout, or rising latency (the recent average above `latencyTolerance` times the
 * long-run average; comparing averages rather than the best case keeps a model whose answers naturally vary in
 * length, like an LLM's, from looking overloaded). Growth is +1 per success until the first halving (slow start),
 * then +1 per `limit` successes. A halving is caused only by requests sent after the previous one, so one burst of
 * 429s from the old limit does not halve it again and again. Rising latency must be seen twice, the second time in
 * requests sent after the first sighting: a stall that delays every request in flight at once (the client's own
 * process descheduled on a busy node, a pause of the server) is over by then, a server that is overloaded is not.
 */
export interface AdaptiveLimitOptions {
  initial: number;
  max: number;
  /** @default 2 */
  latencyTolerance?: number;
  now?: () => number;
}

/** Samples the recent average needs after a halving before it may cause another. */
const MIN_SAMPLES = 10;
const RECENT_WEIGHT = 0.2;
const LONG_RUN_WEIGHT = 0.01;

export class AdaptiveLimit {
  private value: number;
  private slowStart = true;
  private lastDecreaseAt = -Infinity;
  private recent: number | undefined;
  private longRun: number | undefined;
  private samples = 0;
  /** When latency was first seen rising; only requests sent after it can confirm it. */
  private suspectedAt: number | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: AdaptiveLimitOptions) {
    this.value = Math.max(1, Math.min(opts.initial, opts.max));
    this.now = opts.now ?? performance.now.bind(performance);
  }

  /** How many requests may be in flight now. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /** A request sent at `sentAt` (a `now()` value) succeeded after `latencyMs`. */
  onSuccess(sentAt: number, latencyMs: number): void {
    this.longRun = this.longRun === undefined ? latencyMs : ewma(this.longRun, latencyMs, LONG_RUN_WEIGHT);
    if (sentAt < this.lastDecreaseAt || (this.suspectedAt !== undefined && sentAt < this.suspectedAt)) return;
    this.recent = this.recent === undefined ? latencyMs : ewma(this.recent, latencyMs, RECENT_WEIGHT);
    this.samples++;
    if (this.samples >= MIN_SAMPLES) {
      const rising = this.recent > (this.opts.latencyTolerance ?? 2) * this.longRun;
      if (rising && this.suspectedAt !== undefined) {
        this.decrease();
        return;
      }
      if (rising) {
        // Seen once: judge again on requests sent from now on.
        this.suspectedAt = this.now();
        this.recent = undefined;
        this.samples = 0;
      } else this.suspectedAt = undefined;
    }
    this.value = Math.min(this.opts.max, this.value + (this.slowStart ? 1 : 1 / this.value));
  }

  /** The server said it is overloaded (429, 503) or did not answer in time. */
  onOverload(sentAt: number): void {
    if (sentAt >= this.lastDecreaseAt) this.decrease();
  }

  private decrease(): void {
    this.value = Math.max(1, this.value / 2);
    this.slowStart = false;
    this.lastDecreaseAt = this.now();
    this.recent = undefined;
    this.samples = 0;
    this.suspectedAt = undefined;
  }
}

const ewma = (average: number, sample: number, weight: number) => average * (1 - weight) + sample * weight;
