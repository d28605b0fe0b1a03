import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { RateLimiter, type Permit } from '../../src/flow/rate-limiter.js';
import { MemoryLimiterStore, type LimiterStore } from '../../src/flow/backend.js';

describe('RateLimiter', () => {
  it('rejects invalid limits naming the field', () => {
    expect(() => new RateLimiter({ requestsPerMinute: 0 })).toThrow(/requestsPerMinute must be a finite number > 0, got 0/);
    expect(() => new RateLimiter({ tokensPerMinute: Number.NaN })).toThrow(/tokensPerMinute/);
    expect(() => new RateLimiter({ maxInFlight: 1.5 })).toThrow(/maxInFlight must be an integer >= 1/);
    expect(() => new RateLimiter({ minSpacingMs: -1 })).toThrow(/minSpacingMs/);
    expect(() => new RateLimiter({ requestsPerMinute: 5, burst: 6 })).toThrow(/burst must not exceed/);
    expect(() => new RateLimiter().tryAcquire(-1)).toThrow(/tokens must be/);
  });

  it('never grants more than N starts in any sliding window, over a long random arrival pattern', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 20, maxLength: 150 }),
        async (n, burstRaw, gaps) => {
          const burst = Math.min(burstRaw, n);
          const clock = new VirtualClock();
          const limiter = new RateLimiter({ requestsPerMinute: n, burst, clock, learn: false });
          const starts: number[] = [];
          const all: Promise<void>[] = [];
          for (const gap of gaps) {
            await clock.advance(gap);
            all.push(limiter.acquire().then((p) => { starts.push(clock.now()); p.release(); }));
          }
          await clock.run(Promise.all(all));
          expect(starts).toHaveLength(gaps.length);
          // Half-open window (t - 60 000, t], as the simulator and the providers count it.
          for (let i = 0; i < starts.length; i++) {
            let inWindow = 0;
            for (let j = i; j < starts.length && starts[j]! - starts[i]! < 60_000; j++) inWindow++;
            expect(inWindow).toBeLessThanOrEqual(n);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reaches the configured rate under saturation (burst 1: exactly one start per window/N)', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 600, burst: 1, clock, learn: false });
    const t0 = clock.now();
    const all = Array.from({ length: 1200 }, () => limiter.acquire().then((p) => p.release()));
    await clock.run(Promise.all(all));
    const elapsed = clock.now() - t0;
    // 1 200 starts at 600/min: the first is free, then 1 199 intervals of exactly 100 ms.
    expect(elapsed).toBe(119_900);
  });

  it('default burst from 100 per window is 2: a start made late is made up by the next, and no minute sees more than the limit', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 600, clock, learn: false });
    const starts: number[] = [];
    // A dispatcher that looks 1 ms late each time, as real timers fire.
    let permit = limiter.tryAcquire();
    while (starts.length < 1_200) {
      if (permit) {
        starts.push(clock.now());
        permit.release();
      } else await clock.advance(Math.max(1, Math.ceil(limiter.waitTimeMs())) + 1);
      permit = limiter.tryAcquire();
    }
    // With burst 1 each late millisecond is lost (101 ms a start: 121 s); with 2 the rate holds.
    expect(starts.at(-1)! - starts[0]!).toBeLessThanOrEqual(120_200);
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (starts[i]! - starts[j]! >= 60_000) j++;
      expect(i - j + 1).toBeLessThanOrEqual(600);
    }
  });

  it('spaces starts exactly minSpacingMs apart (Veo: one submission every 5 s)', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ minSpacingMs: 5_000, clock });
    const starts: number[] = [];
    const all = Array.from({ length: 4 }, () => limiter.acquire().then((p) => (starts.push(clock.now()), p.release())));
    await clock.run(Promise.all(all));
    const t0 = starts[0]!;
    expect(starts.map((t) => t - t0)).toEqual([0, 5_000, 10_000, 15_000]);
  });

  it('abort removes the waiter at once and leaves no timer', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 1, clock });
    limiter.tryAcquire()!.release();
    const ac = new AbortController();
    const waiting = limiter.acquire({ signal: ac.signal });
    expect(limiter.pending).toBe(1);
    expect(clock.pendingCount).toBe(1);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(limiter.pending).toBe(0);
    expect(clock.pendingCount).toBe(0);
  });

  it('FIFO within a priority, higher priority first, with one timer for the head only', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 60, clock });
    limiter.tryAcquire()!.release();
    const order: string[] = [];
    const wait = (name: string, priority: number): Promise<void> =>
      limiter.acquire({ priority }).then((p) => (order.push(name), p.release()));
    const all = [wait('low1', 0), wait('low2', 0), wait('high', 5), wait('low3', 0)];
    expect(clock.pendingCount).toBe(1);
    await clock.run(Promise.all(all));
    expect(order).toEqual(['high', 'low1', 'low2', 'low3']);
  });

  it('maxInFlight: the next waiter starts when a permit is released (release is idempotent)', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ maxInFlight: 1, clock });
    const first = limiter.tryAcquire()!;
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.waitTimeMs()).toBe(Infinity);
    let got: Permit | undefined;
    void limiter.acquire().then((p) => (got = p));
    await clock.advance(0);
    expect(got).toBeUndefined();
    expect(clock.pendingCount).toBe(0); // waits for a release, not a timer
    first.release();
    first.release();
    await clock.advance(0);
    expect(got).toBeDefined();
    expect(limiter.inFlight).toBe(1);
  });

  it('settle refunds unused tokens and charges extra ones', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ tokensPerMinute: 6_000, tokenBurstFraction: 1 / 6, clock }); // bucket 1 000
    const p = limiter.tryAcquire(1_000)!;
    expect(limiter.tryAcquire(500)).toBeUndefined();
    p.settle(200); // 800 back
    p.settle(0); // ignored: only the first settle counts
    const q = limiter.tryAcquire(700)!;
    expect(q).toBeDefined();
    q.settle(1_700); // 1 000 more charged: bucket at -900
    expect(limiter.waitTimeMs(100)).toBeGreaterThan(9_000);
  });

  it('observe(): adopts announced limits below the configured ones; OpenAI reset means time to refill, so 0 remaining waits one refill interval', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 1_000, clock, burst: 10 });
    // OpenAI's guide: x-ratelimit-reset-requests is the time until the limit "resets to its initial
    // state"; at 0 of 5,000/min the next request is back after 60 s / 5,000 = 12 ms, not after the 2 s.
    limiter.observe({ at: clock.now(), source: 'openai', requests: { limit: 5_000, remaining: 0, resetAt: clock.now() + 2_000, windowMs: 60_000 } });
    expect(limiter.effectiveRequestsPerWindow()).toBe(1_000); // never above configured
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.waitTimeMs()).toBe(12);
    limiter.observe({ at: clock.now(), source: 'openai', requests: { limit: 120, windowMs: 60_000 } });
    expect(limiter.effectiveRequestsPerWindow()).toBe(120);
    await clock.advance(12);
    expect(limiter.tryAcquire()).toBeDefined();
  });

  it('observe(): an IETF window is enforced as q per w, its remainder may be spent at once, and nothing more starts before its reset', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock, learn: false });
    const at = clock.now();
    // express-rate-limit, limit 100 per 5 s: "RateLimit-Policy: 100;w=5" is 1,200 per minute.
    limiter.observe({ at, source: 'ietf', requests: { limit: 100, remaining: 3, resetAt: at + 4_000, windowMs: 5_000 } });
    expect(limiter.effectiveRequestsPerWindow()).toBe(1_200);
    // Evenly spaced, 1,200/min would allow one start per 50 ms; the window's remainder goes at once.
    const permits = [limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()];
    expect(permits.every((p) => p !== undefined)).toBe(true);
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.waitTimeMs()).toBe(4_000);
    await clock.advance(4_000);
    expect(limiter.tryAcquire()).toBeDefined();
  });

  it('observe(): starts made after the answering call are taken off its remainder; answers of one window merge (highest remainder, earliest reset)', () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock, learn: false, maxInFlight: 100 });
    const at = clock.now();
    limiter.observe({ at, source: 'ietf', requests: { limit: 100, remaining: 10, resetAt: at + 5_000, windowMs: 5_000 } });
    const first = limiter.tryAcquire()!;
    for (let i = 0; i < 4; i++) limiter.tryAcquire();
    first.release('served');
    // The first call's answer says 6 remain, but four starts came after it: at most 2 more.
    limiter.observe({ at, source: 'ietf', requests: { limit: 100, remaining: 6, resetAt: at + 4_800, windowMs: 5_000 } }, first);
    expect([limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()].filter(Boolean)).toHaveLength(2);
    expect(limiter.waitTimeMs()).toBe(4_800);
    // A late answer from the previous window changes nothing.
    limiter.observe({ at, source: 'ietf', requests: { limit: 100, remaining: 50, resetAt: at - 200, windowMs: 5_000 } });
    expect(limiter.tryAcquire()).toBeUndefined();
  });

  it('observe(): calls still in flight that were started before the answering one are taken off its remainder too (they may have reached the server after it)', () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock, learn: false, maxInFlight: 100 });
    const at = clock.now();
    const window = (remaining: number) => ({ at, source: 'ietf' as const, requests: { limit: 100, remaining, resetAt: at + 5_000, windowMs: 5_000 } });
    limiter.observe(window(10));
    const calls = Array.from({ length: 5 }, () => limiter.tryAcquire()!);
    // The third call overtook the first two on the way (a new connection is slower): the server had
    // counted it alone, so its answer says 9 remain. Four calls are still uncounted, not only the two
    // started after it: 5 more starts fill the window of 10, not 7.
    calls[2]!.release('served');
    limiter.observe(window(9), calls[2]);
    const more = Array.from({ length: 10 }, () => limiter.tryAcquire()).filter(Boolean);
    expect(more).toHaveLength(5);
  });

  it('setLimits at run time re-examines the head waiter', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 1, clock });
    limiter.tryAcquire()!.release();
    let done = false;
    void limiter.acquire().then(() => (done = true));
    expect(clock.pendingTimers()[0]!.inMs).toBeGreaterThan(59_000);
    limiter.setLimits({ requestsPerMinute: 60 });
    await clock.advance(1_001);
    expect(done).toBe(true);
    expect(() => limiter.setLimits({ requestsPerMinute: -3 })).toThrow(/requestsPerMinute/);
  });

  it('learns a rate from 429s alone: from what got through, back at it after 2 s, then probing above it up to twice what is sent', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 6_000, clock });
    const rates: (number | undefined)[] = [];
    limiter.events.on('rate', (e) => rates.push(e.to));
    let last = clock.now();
    for (let i = 0; i < 20; i++) {
      const p = limiter.tryAcquire()!;
      p.release();
      limiter.onSuccess(p.startedAt);
      last = p.startedAt;
      await clock.advance(50); // 20 a second got through: 1,200 a minute
    }
    limiter.onRateLimited(last + 1);
    // From what got through (1,200/min), at most 1.5 times it: nowhere near the 6,000 nobody sent at.
    const cut = limiter.effectiveRequestsPerWindow()!;
    expect(cut).toBeGreaterThan(0.85 * 1_200);
    expect(cut).toBeLessThan(1.5 * 1_200);
    limiter.onRateLimited(last); // started before the decrease: same congestion, ignored
    expect(limiter.effectiveRequestsPerWindow()).toBe(cut);
    await clock.advance(2_000);
    expect(limiter.effectiveRequestsPerWindow()!).toBeGreaterThan(cut); // back at the estimate
    await clock.advance(10_000);
    // Probing above it, but never beyond twice what is really sent (AWS SDK), which proves nothing.
    expect(limiter.effectiveRequestsPerWindow()).toBe(2 * 1_200);
    expect(rates[0]).toBe(cut);
  });

  it('a key refused bare resumes after a pause with one start, the next a full spacing later, also back at its configured limit', async () => {
    const clock = new VirtualClock();
    // Configured at 600/min (10/s); its default burst is 2, two starts at once.
    const limiter = new RateLimiter({ requestsPerMinute: 600, clock });
    expect(limiter.tryAcquire() && limiter.tryAcquire()).toBeTruthy();
    await clock.advance(1_000);
    // A server of 10/s with a burst of 1 refuses a burst: one bare 429, then a cooldown of 1 s.
    const refused = limiter.tryAcquire()!;
    const served = limiter.tryAcquire()!;
    served.release('served');
    limiter.onSuccess(served.startedAt);
    refused.release('refused');
    limiter.onRateLimited(refused.startedAt);
    await clock.advance(1_000);
    // It sends as fast as it may for 30 s, each call served: the learned rate climbs back to the limit.
    for (let i = 0; i < 3_000 && limiter.learnedState() !== undefined; i++) {
      const p = limiter.tryAcquire();
      if (p) {
        p.release('served');
        limiter.onSuccess(p.startedAt);
      }
      await clock.advance(Math.max(1, limiter.waitTimeMs()));
    }
    expect(limiter.learnedState()).toBeUndefined();
    expect(limiter.effectiveRequestsPerWindow()).toBe(600);
    // After a pause of a second: one start at once, the next a full spacing later (not two, as burst 2).
    await clock.advance(1_000);
    expect(limiter.tryAcquire()).toBeTruthy();
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.waitTimeMs()).toBeGreaterThanOrEqual(100);
  });

  it('a configured burst holds after a bare 429 and a pause: the user said what the server takes', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 600, burst: 3, clock });
    const p = limiter.tryAcquire()!;
    p.release('refused');
    limiter.onRateLimited(p.startedAt);
    await clock.advance(60_000);
    // Two at once at least (the learned rate's own burst of 1.5 would allow one): the configured 3 governs.
    expect(limiter.tryAcquire() && limiter.tryAcquire()).toBeTruthy();
  });

  it('a decrease with too few answers in the last second (a key back from a 1 s cooldown) cuts the rate in force by 0.95, not to what one answer implies', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock });
    // 10/s got through for 2 s, then a 429 and a cooldown of 1 s (the caller's: nothing is sent).
    let last = 0;
    for (let i = 0; i < 20; i++) {
      const p = limiter.tryAcquire()!;
      await clock.advance(20);
      p.release('served');
      limiter.onSuccess(p.startedAt);
      last = p.startedAt;
      await clock.advance(80);
    }
    limiter.onRateLimited(last + 1);
    const first = limiter.effectiveRequestsPerWindow()!;
    expect(first).toBeGreaterThan(0.85 * 600);
    await clock.advance(1_000);
    // It resumes: one start served, the next refused. Two answers in the last second of sending say
    // nothing of the rate: the rate in force is cut by 0.95, not to the 1-2/s the idle second implies.
    const a = limiter.tryAcquire()!;
    await clock.advance(20);
    a.release('served');
    limiter.onSuccess(a.startedAt);
    await clock.advance(90);
    const inForce = limiter.effectiveRequestsPerWindow()!;
    const b = limiter.tryAcquire()!;
    await clock.advance(10);
    b.release('refused');
    limiter.onRateLimited(b.startedAt);
    expect(limiter.effectiveRequestsPerWindow()!).toBeCloseTo(0.95 * inForce, 0);
    expect(limiter.effectiveRequestsPerWindow()!).toBeGreaterThan(0.8 * first);
  });

  it('close() rejects waiters and cancels the timer', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 1, clock });
    limiter.tryAcquire();
    const w = limiter.acquire();
    limiter.close();
    await expect(w).rejects.toMatchObject({ name: 'AbortError' });
    expect(clock.pendingCount).toBe(0);
  });
});

describe('RateLimiter: the window legacy headers imply', () => {
  it('is read from the longest reset, rounded down to whole seconds: epoch resets rounded up read a rolling 1 s window as 1 s, not 2 s', () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock, learn: false });
    const at = clock.now() + 900; // 0.9 s into a second: an epoch reset rounded up lands 1.1 s to 2 s ahead
    for (const [remaining, resetIn] of [[19, 1_100], [10, 1_600], [0, 1_999]] as const) {
      limiter.observe({ at, source: 'legacy', requests: { limit: 20, remaining, resetAt: at + resetIn } });
    }
    // 20 per second, in the limiter's default one-minute window.
    expect(limiter.effectiveRequestsPerWindow()).toBe(1_200);
  });
});

describe('RateLimiter: a window behind whole-second resets ends by its first answer plus its length', () => {
  // express-rate-limit and rate-limiter-flexible's README round resets up to the next epoch second, so a
  // window can end up to a second before the reset it names; one that answered at t has ended by t + w.
  const ietf = (at: number, remaining: number, resetIn: number) =>
    ({ at, source: 'ietf', requests: { limit: 100, remaining, resetAt: at + resetIn, windowMs: 5_000 } }) as const;

  it('spends the remainder, then one probe at first answer + w; the rest waits for its answer', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock, learn: false, maxInFlight: 1_000 });
    limiter.observe(ietf(clock.now(), 99, 6_000));
    const spent = Array.from({ length: 99 }, () => limiter.tryAcquire());
    expect(spent.every(Boolean)).toBe(true);
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.waitTimeMs()).toBe(5_000);
    // Answered long before the window ends.
    for (const p of spent) p!.release('served');
    await clock.advance(5_000);
    const probe = limiter.tryAcquire();
    expect(probe).toBeDefined();
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.waitTimeMs()).toBe(1_000);
    // The probe got through into a new window: its remainder goes at once.
    probe!.release('served');
    limiter.observe(ietf(clock.now(), 99, 6_000), probe);
    expect(Array.from({ length: 99 }, () => limiter.tryAcquire()).every(Boolean)).toBe(true);
  });

  it('a store that keeps only the named reset is given that reset', () => {
    const clock = new VirtualClock();
    const inner = new MemoryLimiterStore();
    const store: LimiterStore = {
      reserve: (...a) => inner.reserve(...a),
      waitMs: (...a) => inner.waitMs(...a),
      settle: (...a) => inner.settle(...a),
      cap: (...a) => inner.cap(...a),
    };
    const limiter = new RateLimiter({ clock, learn: false, maxInFlight: 1_000, store });
    limiter.observe(ietf(clock.now(), 3, 6_000));
    for (let i = 0; i < 3; i++) limiter.tryAcquire();
    expect(limiter.waitTimeMs()).toBe(6_000);
  });

  it('a refused probe of a stated window (IETF w) keeps the named resets from then on', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock, learn: false, maxInFlight: 1_000 });
    limiter.observe(ietf(clock.now(), 0, 6_000));
    await clock.advance(5_000);
    const probe = limiter.tryAcquire()!;
    limiter.observe(ietf(clock.now(), 0, 1_000), probe, true);
    expect(limiter.tryAcquire()).toBeUndefined();
    await clock.advance(1_000);
    limiter.observe(ietf(clock.now(), 99, 6_000));
    for (let i = 0; i < 99; i++) limiter.tryAcquire();
    expect(limiter.waitTimeMs()).toBe(6_000);
  });

  it('a refused probe of a window that legacy headers imply lengthens that window by a second', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock, learn: false, maxInFlight: 1_000 });
    const legacy = (remaining: number, resetIn: number) => ({ at: clock.now(), source: 'legacy', requests: { limit: 10, remaining, resetAt: clock.now() + resetIn } }) as const;
    // A reset 4.5 s ahead implies a window of 4 s (rounded down): 10 per 4 s is 150 per minute.
    limiter.observe(legacy(9, 4_500));
    expect(limiter.effectiveRequestsPerWindow()).toBe(150);
    for (let i = 0; i < 9; i++) limiter.tryAcquire();
    expect(limiter.waitTimeMs()).toBe(4_000);
    await clock.advance(4_000);
    const probe = limiter.tryAcquire()!;
    limiter.observe(legacy(0, 500), probe, true);
    expect(limiter.effectiveRequestsPerWindow()).toBe(120);
    expect(limiter.tryAcquire()).toBeUndefined();
  });

  it('at 0 remaining within a second of the reset it holds one refill interval, until such a probe is refused', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock, learn: false, maxInFlight: 1_000 });
    const second = (remaining: number, resetIn: number) => ({ at: clock.now(), source: 'ietf', requests: { limit: 20, remaining, resetAt: clock.now() + resetIn, windowMs: 1_000 } }) as const;
    limiter.observe(second(0, 1_000));
    expect(limiter.waitTimeMs()).toBe(50);
    await clock.advance(50);
    const probe = limiter.tryAcquire()!;
    // A sliding log that was just filled refuses it: from now on nothing goes before the window's earliest end.
    limiter.observe(second(0, 1_000), probe, true);
    expect(limiter.waitTimeMs()).toBe(950);
  });
});
