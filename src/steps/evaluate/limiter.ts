/**
 * Adaptive concurrency by AIMD, the way TCP finds a link's capacity: grow while requests succeed quickly, halve
 * on a sign of overload (429, 503, a timeout, or latency well above the best seen). Growth is +1 per success until
 * the first halving (slow start), then +1 per `limit` successes. A halving is caused only by requests sent after
 * the previous one, so one burst of 429s from the old limit does not halve it again and again.
 */
export interface AdaptiveLimitOptions {
  initial: number;
  max: number;
  /** Latency above `tolerance` × the baseline counts as overload. @default 2 */
  latencyTolerance?: number;
  /** The baseline is the least latency seen in the last window, so it can follow a slower server. @default 30000 */
  baselineWindowMs?: number;
  now?: () => number;
}

/** Samples a smoothed latency needs before it may cause a halving. */
const MIN_SAMPLES = 10;

export class AdaptiveLimit {
  private value: number;
  private slowStart = true;
  private lastDecreaseAt = -Infinity;
  private smoothed: number | undefined;
  private samples = 0;
  private baseline = Infinity;
  private windowMin = Infinity;
  private windowStart: number;
  private readonly now: () => number;

  constructor(private readonly opts: AdaptiveLimitOptions) {
    this.value = Math.max(1, Math.min(opts.initial, opts.max));
    this.now = opts.now ?? performance.now.bind(performance);
    this.windowStart = this.now();
  }

  /** How many requests may be in flight now. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /** A request sent at `sentAt` (a `now()` value) succeeded after `latencyMs`. */
  onSuccess(sentAt: number, latencyMs: number): void {
    this.trackBaseline(latencyMs);
    if (sentAt < this.lastDecreaseAt) return;
    this.samples++;
    this.smoothed = this.smoothed === undefined ? latencyMs : this.smoothed * 0.9 + latencyMs * 0.1;
    const tolerance = this.opts.latencyTolerance ?? 2;
    if (this.samples >= MIN_SAMPLES && this.smoothed > tolerance * this.baseline) {
      this.decrease();
      return;
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
    this.smoothed = undefined;
    this.samples = 0;
  }

  private trackBaseline(latencyMs: number): void {
    const now = this.now();
    this.windowMin = Math.min(this.windowMin, latencyMs);
    this.baseline = Math.min(this.baseline, latencyMs);
    if (now - this.windowStart >= (this.opts.baselineWindowMs ?? 30_000)) {
      this.baseline = this.windowMin;
      this.windowMin = Infinity;
      this.windowStart = now;
    }
  }
}
