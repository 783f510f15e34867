import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from '../../src/steps/evaluate/limiter.js';
import { parseRetryAfter } from '../../src/steps/evaluate/send.js';

/** A limiter on a clock the test moves. */
function limiter(initial: number, max: number) {
  let now = 0;
  const limit = new AdaptiveLimit({ initial, max, now: () => now });
  return { limit, tick: (ms = 1) => (now += ms), at: () => now };
}

describe('AdaptiveLimit (AIMD)', () => {
  it('grows by one per success up to the maximum, never past it', () => {
    const { limit, tick } = limiter(4, 10);
    for (let i = 0; i < 20; i++) limit.onSuccess(tick(), 20);
    expect(limit.limit).toBe(10);
  });

  it('halves on overload, once per burst: requests sent before the halving do not halve it again', () => {
    const { limit, tick, at } = limiter(16, 64);
    const sentBefore = at();
    tick();
    limit.onOverload(sentBefore);
    expect(limit.limit).toBe(8);
    limit.onOverload(sentBefore);
    limit.onOverload(sentBefore);
    expect(limit.limit).toBe(8);
    limit.onOverload(tick());
    expect(limit.limit).toBe(4);
  });

  it('after a halving grows by about one per window of successes (additive increase)', () => {
    const { limit, tick } = limiter(16, 64);
    limit.onOverload(tick());
    expect(limit.limit).toBe(8);
    for (let i = 0; i < 8; i++) limit.onSuccess(tick(), 20);
    expect(limit.limit).toBe(8);
    limit.onSuccess(tick(), 20);
    expect(limit.limit).toBe(9);
  });

  it('halves when latency rises well above its long-run average, and not for steady latency', () => {
    const { limit, tick } = limiter(32, 32);
    for (let i = 0; i < 200; i++) limit.onSuccess(tick(), 20 + (i % 2) * 10);
    expect(limit.limit).toBe(32);
    for (let i = 0; i < 30 && limit.limit === 32; i++) limit.onSuccess(tick(), 200);
    expect(limit.limit).toBe(16);
  });

  it('rides out a stall that delays every request in flight once, as a busy node does to its processes', () => {
    const { limit, tick } = limiter(32, 32);
    for (let i = 0; i < 200; i++) limit.onSuccess(tick(), 20);
    // The 32 requests in flight during a 200 ms stall all answer late…
    const sentBeforeStall = tick();
    tick(200);
    for (let i = 0; i < 32; i++) limit.onSuccess(sentBeforeStall, 220);
    // …and the ones sent after it answer as before: nothing was overloaded.
    for (let i = 0; i < 50; i++) limit.onSuccess(tick(), 20);
    expect(limit.limit).toBe(32);
  });

  it('never goes below one', () => {
    const { limit, tick } = limiter(2, 8);
    for (let i = 0; i < 10; i++) limit.onOverload(tick());
    expect(limit.limit).toBe(1);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds (fractions too) and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
