import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { LearnedInFlightCap } from '../../src/flow/learned-in-flight-cap.js';
import { RateLimiter, type Permit } from '../../src/flow/rate-limiter.js';

/** A pseudo-random source, so the outcomes are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('LearnedInFlightCap', () => {
  it('finds a cap of 2 from refusals of calls started with 3 or more in flight', () => {
    const cap = new LearnedInFlightCap();
    const random = lcg(1);
    let now = 0;
    for (let i = 0; i < 60 && cap.cap(now) === undefined; i++) {
      const inFlight = 1 + Math.floor(random() * 4);
      cap.record(inFlight, inFlight > 2, (now += 50));
    }
    expect(cap.cap(now)).toBe(2);
  });

  it('learns no cap when refusals do not depend on the calls in flight (a rate limit)', () => {
    const cap = new LearnedInFlightCap();
    const random = lcg(2);
    for (let i = 0; i < 2_000; i++) cap.record(1 + Math.floor(random() * 8), random() < 0.1, i * 50);
    expect(cap.cap(100_000)).toBeUndefined();
  });

  it('lifts the cap by one after 5 s without a refusal; a refused lift goes back and the next waits twice as long', () => {
    const cap = new LearnedInFlightCap();
    for (let i = 0; i < 20; i++) cap.record(2, false, i);
    for (let i = 0; i < 5; i++) cap.record(3, true, 20 + i);
    expect(cap.cap(30)).toBe(2);
    expect(cap.cap(4_999)).toBe(2);
    expect(cap.cap(5_024)).toBe(3);
    cap.record(3, true, 5_100);
    expect(cap.cap(5_100)).toBe(2);
    expect(cap.cap(14_000)).toBe(2);
    expect(cap.cap(15_100)).toBe(3);
    // A lift that stands: the next comes after the base 5 s again.
    expect(cap.cap(20_100)).toBe(4);
  });
});

describe('RateLimiter: a concurrency cap learned from 429s', () => {
  it('holds calls in flight at the cap a server refuses beyond, says so, and explains those 429s', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock });
    const changes: { to: number | undefined; reason: string }[] = [];
    limiter.events.on('inFlightCap', (e) => changes.push({ to: e.to, reason: e.reason }));
    // A server that serves 2 calls of the key at once and refuses the rest.
    const live: Permit[] = [];
    let refusedStartedAt: number | undefined;
    for (let round = 0; round < 30; round++) {
      while (live.length < 4) {
        const p = limiter.tryAcquire();
        if (!p) break;
        live.push(p);
      }
      const [first, ...rest] = live.splice(0);
      for (const p of rest.slice(1)) {
        p.release('refused');
        refusedStartedAt = p.startedAt;
      }
      first?.release('served');
      rest[0]?.release('served');
      await clock.advance(10);
    }
    expect(changes[0]).toEqual({ to: 2, reason: '429s come when more than 2 calls are in flight' });
    expect(limiter.refusalExplainedByInFlightCap(refusedStartedAt)).toBe(true);
    const a = limiter.tryAcquire();
    const b = limiter.tryAcquire();
    expect(a && b).toBeTruthy();
    expect(limiter.tryAcquire()).toBeUndefined();
    expect(limiter.waitTimeMs()).toBe(Infinity);
  });
});
