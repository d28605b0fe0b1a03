import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { LearnedInFlightCap } from '../../src/flow/learned-in-flight-cap.js';
import { RateLimiter, type Permit } from '../../src/flow/rate-limiter.js';

/** A pseudo-random source, so the outcomes are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A cap of 2 learned from five refusals at 3, lifted to 3 on trial 5 s later (at 5,024 ms). */
function capLiftedToThree(): LearnedInFlightCap {
  const cap = new LearnedInFlightCap();
  for (let i = 0; i < 20; i++) cap.record(2, false, i);
  for (let i = 0; i < 5; i++) cap.record(3, true, 20 + i);
  expect(cap.cap(5_024)).toBe(3);
  return cap;
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

  it('decides from two refusals above the cap: a first burst over a cap of 2 on each of three keys is refused once or twice per key', () => {
    const cap = new LearnedInFlightCap();
    for (let i = 0; i < 10; i++) cap.record(1 + (i % 2), false, i * 10);
    cap.record(3, true, 100);
    expect(cap.cap(100)).toBeUndefined();
    cap.record(3, true, 110);
    expect(cap.cap(110)).toBe(2);
  });

  it('decides once the calls served at or below the cap make the split clear, with no refusal after them', () => {
    // A first burst over a cap of 2: two served, two refused. The learned rate then keeps at most 2 in
    // flight, so the refusals stop; before, the cap waited for one (bench concurrency/blind/1key: 3.6 s).
    const cap = new LearnedInFlightCap();
    cap.record(3, true, 0);
    cap.record(4, true, 0);
    cap.record(1, false, 100);
    cap.record(2, false, 100);
    expect(cap.cap(100)).toBeUndefined();
    for (let i = 0; i < 8; i++) cap.record(1 + (i % 2), false, 150 + 50 * i);
    expect(cap.cap(550)).toBe(2);
  });

  it('withdraws a lift at its first refusal and offers it again after a served call: a random refusal does not keep it from standing', () => {
    const cap = capLiftedToThree();
    // The lifted level served, then refused once (at random): withdrawn, offered again, and it stands
    // after the base 5 s as a lift with no refusal would.
    for (let i = 0; i < 10; i++) cap.record(3, false, 5_030 + i);
    cap.record(3, true, 5_100);
    expect(cap.cap(5_100)).toBe(2);
    cap.record(3, false, 5_150);
    expect(cap.cap(5_150)).toBe(3);
    for (let t = 5_200; t < 10_024; t += 100) cap.record(3, false, t);
    expect(cap.cap(10_024)).toBe(4);
  });

  it('weighs a lift on through its own state answered back a few ms off (a fleet), and keeps it withdrawn', () => {
    const cap = capLiftedToThree();
    cap.record(3, true, 5_100);
    // A fleet answers each lease call with this state, its time of setting as ms ago: a few ms off.
    const echo = (): void => {
      const s = cap.state();
      cap.restore({ ...s, since: s.since + 3 }, cap.counts());
    };
    echo();
    expect(cap.cap(5_101)).toBe(2);
    cap.record(2, false, 5_105);
    echo();
    expect(cap.cap(5_106)).toBe(3);
    cap.record(3, true, 5_110);
    // Before, each answer started the trial afresh: the second refusal was its first, and the lift stayed.
    echo();
    expect(cap.state()).toMatchObject({ cap: 2, trialOf: undefined, liftAfterMs: 10_000 });
  });

  /** Runs of 4,000 outcomes at 50 ms, calls in flight spread over 1..16 (or the cap), refused beyond `serverCap` and at random with `noise`; the caps they end with. */
  function endCaps(serverCap: number, noise: number): (number | undefined)[] {
    return Array.from({ length: 40 }, (_, seed) => {
      const random = lcg(100 + seed);
      const cap = new LearnedInFlightCap();
      for (let i = 0; i < 4_000; i++) {
        const level = 1 + Math.floor(random() * Math.min(cap.cap(i * 50) ?? 16, 16));
        cap.record(level, level > serverCap || random() < noise, i * 50);
      }
      return cap.cap(200_000);
    });
  }

  it('leaves no cap behind when 10 % of calls are refused at random: a split that was a coincidence is found out', () => {
    // Before, a cap decided on the first refusals' coincidence stayed: a lift waited for 5 s without
    // any refusal, which steady random 429s never leave.
    const left = endCaps(Infinity, 0.1).filter((c) => c !== undefined);
    expect(left.length).toBeLessThanOrEqual(1);
  });

  it('learns no cap from random refusals in a slow start, where the calls in flight rise with time', () => {
    // Concurrency doubling 4 -> 8 -> 16 -> 32: most calls start at the limit of their phase, so the first
    // random refusals at a new level look like refusals above a cap (bench adaptive, 3.3 % random 429s).
    const capped = Array.from({ length: 40 }, (_, seed) => {
      const random = lcg(500 + seed);
      const cap = new LearnedInFlightCap();
      let now = 0;
      for (const [limit, calls] of [[4, 20], [8, 40], [16, 80], [32, 2_000]] as const) {
        for (let i = 0; i < calls; i++) {
          const level = Math.min(limit, cap.cap(now) ?? limit, random() < 0.8 ? limit : 1 + Math.floor(random() * limit));
          cap.record(level, random() < 0.033, (now += 5));
        }
      }
      return cap.cap(now);
    }).filter((c) => c !== undefined && c < 32);
    expect(capped).toEqual([]);
  });

  it('keeps a real cap of 4 through 10 % random refusals, not lowered by them', () => {
    const caps = endCaps(4, 0.1);
    expect(caps.filter((c) => c === 4 || c === 5).length).toBeGreaterThanOrEqual(38);
    expect(caps.filter((c) => c !== undefined && c < 4)).toEqual([]);
  });

  it('lifts the cap by one after 5 s without a refusal; a refused lift goes back and the next waits twice as long', () => {
    const cap = new LearnedInFlightCap();
    for (let i = 0; i < 20; i++) cap.record(2, false, i);
    for (let i = 0; i < 5; i++) cap.record(3, true, 20 + i);
    expect(cap.cap(30)).toBe(2);
    expect(cap.cap(4_999)).toBe(2);
    expect(cap.cap(5_024)).toBe(3);
    // One refusal at the lifted level is as likely random: the lift is withdrawn until a call is served,
    // then offered again; a second refusal puts it back.
    cap.record(3, true, 5_100);
    expect(cap.cap(5_100)).toBe(2);
    cap.record(2, false, 5_105);
    expect(cap.cap(5_105)).toBe(3);
    cap.record(3, true, 5_110);
    expect(cap.cap(5_110)).toBe(2);
    cap.record(2, false, 5_115);
    expect(cap.cap(5_115)).toBe(2);
    expect(cap.cap(15_000)).toBe(2);
    expect(cap.cap(15_110)).toBe(3);
    // A lift that stands: the next comes after the base 5 s again.
    expect(cap.cap(20_110)).toBe(4);
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
      first?.release('served');
      rest[0]?.release('served');
      // Refused after the served ones: once the cap is decided (at a served call or a refusal), the
      // refusals of calls started above it are the ones it explains.
      for (const p of rest.slice(1)) {
        p.release('refused');
        refusedStartedAt = p.startedAt;
      }
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

  it('takes a probe back at its first refusal: that 429 is explained by the cap, not a lower rate', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock });
    // Taught a cap of 2: each round, two of four calls served and two refused.
    for (let round = 0; round < 10; round++) {
      const live = [limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()].filter((p): p is Permit => p !== undefined);
      live.slice(0, 2).forEach((p) => p.release('served'));
      live.slice(2).forEach((p) => p.release('refused'));
      await clock.advance(100);
    }
    await clock.advance(5_000);
    const held = [limiter.tryAcquire(), limiter.tryAcquire()];
    const probe = limiter.tryAcquire();
    expect(held.every(Boolean) && probe).toBeTruthy();
    probe!.release('refused');
    // Before, the lift stayed in force while it was weighed, and this 429 lowered the key's rate.
    expect(limiter.refusalExplainedByInFlightCap(probe!.startedAt)).toBe(true);
    expect(limiter.tryAcquire()).toBeUndefined();
    held[0]!.release('served');
    // Offered again after a served call: the trial goes on.
    const again = [limiter.tryAcquire(), limiter.tryAcquire()];
    expect(again.every(Boolean)).toBe(true);
  });
});
