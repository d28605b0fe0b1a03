import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { RateLimiter, type Permit } from '../../src/flow/rate-limiter.js';
import { SlidingLogWatch } from '../../src/flow/sliding-log.js';
import { SlidingWindow } from '../../src/simulator/sliding-window.js';
import type { RateLimitSnapshot } from '../../src/classify/rate-limit/snapshot.js';

/**
 * A server on the virtual clock that answers as the limiter bench's outside limiters do: each request
 * reaches it `travel` ms after its start, is served (answered `latencyMs` later) or refused (answered at
 * once), with rate-limiter-flexible's README headers: X-RateLimit-Limit, -Remaining and -Reset as epoch
 * seconds rounded up.
 */
interface Gate {
  /** Decides a request arriving at `now`: served or not, what remains after it, ms until a slot is back. */
  decide(now: number): { served: boolean; remaining: number; msBeforeNext: number };
}

/** rolling-rate-limiter's log as the bench uses it: `limit` served in any rolling `windowMs`, only served requests count. */
function slidingLogGate(limit: number, windowMs: number): Gate {
  const log = new SlidingWindow(windowMs);
  return {
    decide(now) {
      const wait = log.waitFor(now, 1, limit);
      if (wait > 0) return { served: false, remaining: 0, msBeforeNext: wait };
      log.add(now, 1);
      const remaining = limit - log.used(now);
      return { served: true, remaining, msBeforeNext: remaining > 0 ? 0 : log.waitFor(now, 1, limit) };
    },
  };
}

/** A fixed window of `limit` per `windowMs`, aligned to the epoch (express-rate-limit's MemoryStore). */
function fixedWindowGate(limit: number, windowMs: number): Gate {
  let windowStart = -Infinity;
  let hits = 0;
  return {
    decide(now) {
      const start = Math.floor(now / windowMs) * windowMs;
      if (start !== windowStart) {
        windowStart = start;
        hits = 0;
      }
      hits++;
      return { served: hits <= limit, remaining: Math.max(0, limit - hits), msBeforeNext: start + windowMs - now };
    },
  };
}

interface Run {
  /** When requests were served, ms from the start. */
  served: number[];
  refused: number;
  /** When requests were refused, ms from the start. */
  refusedAt: number[];
}

/** Keeps up to `inFlight` calls going for `durationMs` (or until `items` are served) against `gate`, the first alone; returns when requests were served. */
async function drive(gate: Gate, options: { durationMs: number; limit: number; inFlight?: number; latencyMs?: number; items?: number }): Promise<Run> {
  const clock = new VirtualClock();
  const limiter = new RateLimiter({ clock, learn: false, key: 'k' });
  const { durationMs, limit, inFlight = 16, latencyMs = 50 } = options;
  const t0 = clock.now();
  const run: Run = { served: [], refused: 0, refusedAt: [] };
  let running = 0;
  let started = 0;
  let answered = 0;
  let travel = 0;
  let lastArrival = 0;
  let jitter = 0;
  const answer = (permit: Permit, at: number, served: boolean, remaining: number, msBeforeNext: number): void => {
    const snapshot: RateLimitSnapshot = {
      at,
      source: 'legacy',
      requests: { limit, remaining, resetAt: Math.ceil((at + msBeforeNext) / 1000) * 1000 },
    };
    limiter.observe(snapshot, permit, !served);
    permit.release(served ? 'served' : 'refused');
    running--;
    answered++;
  };
  while (clock.now() - t0 < durationMs && (options.items === undefined || run.served.length < options.items)) {
    // The first call goes alone (the CLI's probe): the limit is unknown until its answer.
    const open = started === 0 ? 1 : answered > 0 ? inFlight : 0;
    while (running < open && (options.items === undefined || started - run.refused < options.items)) {
      const permit = limiter.tryAcquire();
      if (!permit) break;
      running++;
      started++;
      // Travel of 1-3 ms, varying as loopback under load does, in the order the requests were sent (one link).
      travel = (travel + 7) % 3;
      lastArrival = Math.max(lastArrival, clock.now() + 1 + travel);
      clock.setTimer(lastArrival - clock.now(), () => {
        const arrived = clock.now();
        const d = gate.decide(arrived);
        if (d.served) run.served.push(arrived - t0);
        else {
          run.refused++;
          run.refusedAt.push(arrived - t0);
        }
        // The answer's own time varies too (the server's work, the way back).
        jitter = (jitter + 5) % 9;
        clock.setTimer(d.served ? latencyMs + jitter : 1, () => answer(permit, clock.now(), d.served, d.remaining, d.msBeforeNext));
      });
    }
    await clock.advance(1);
  }
  limiter.close();
  return run;
}

describe('RateLimiter against a sliding log behind legacy headers (rolling-rate-limiter, README headers)', () => {
  it('spends its own starts of the last window: the limit per window from the third second on, and no refusal from the fourth', async () => {
    const run = await drive(slidingLogGate(20, 1_000), { durationMs: 10_000, limit: 20 });
    // From the third second on, as many served as the log allows (20 per rolling second), within 3 %.
    const steady = run.served.filter((t) => t >= 2_000 && t < 10_000).length;
    expect(steady).toBeGreaterThanOrEqual(0.97 * 160);
    expect(steady).toBeLessThanOrEqual(160);
    // Once the log is known (two windows of answers), nothing more is refused. Treated as a fixed window,
    // every named reset (an epoch second) let the next window's starts go into a log still full.
    expect(run.refusedAt.filter((t) => t >= 3_000)).toEqual([]);
  });

  it('never has more than the limit served in any rolling window (the log is the server\'s own)', async () => {
    const run = await drive(slidingLogGate(20, 1_000), { durationMs: 6_000, limit: 20 });
    for (let i = 20; i < run.served.length; i++) expect(run.served[i]! - run.served[i - 20]!).toBeGreaterThanOrEqual(1_000);
  });
});

describe('RateLimiter against a fixed window behind the same headers', () => {
  it('still spends each window\'s remainder at once: 300 items on 100 per 5 s end in the third window\'s first second', async () => {
    const run = await drive(fixedWindowGate(100, 5_000), { durationMs: 30_000, limit: 100, inFlight: 200, items: 300 });
    expect(run.served).toHaveLength(300);
    // The first window may be partly gone when the run starts (it is aligned to the epoch).
    const last = run.served[run.served.length - 1]!;
    expect(last).toBeLessThan(3 * 5_000);
    expect(run.refused).toBeLessThanOrEqual(2);
  });
});

describe('SlidingLogWatch', () => {
  /** Starts `n` at `at`, numbered from `seq`. */
  const startMany = (w: SlidingLogWatch, seq: number, n: number, at: number): number => {
    for (let i = 0; i < n; i++) w.start(seq + i, at);
    return seq + n;
  };

  it('takes a remainder that rose within one named window and equals the limit less our own starts as a sliding log, and holds to it', () => {
    const w = new SlidingLogWatch();
    let seq = startMany(w, 1, 10, 0);
    seq = startMany(w, seq, 10, 500);
    expect(w.active()).toBe(false);
    // At 1 200 the first ten have left a 1 s log: the server says 10 remain after counting this one... and one more.
    w.start(seq, 1_200);
    expect(w.answer(seq, 1_200, 20, 1_000, 9, true, false)).toBe(false);
    w.start(seq + 1, 1_210);
    expect(w.answer(seq + 1, 1_210, 20, 1_000, 8, true, false)).toBe(true);
    expect(w.active()).toBe(true);
    // 12 own starts in the last window (10 at 500, 2 now): 8 more may go now; the 21st waits for the 500s to leave.
    startMany(w, seq + 2, 8, 1_210);
    expect(w.waitMs(1_210)).toBe(500 - 210 + 4);
  });

  it('gives it up when answers show clearly more room than our own starts leave (a fixed window that reset)', () => {
    const w = new SlidingLogWatch();
    let seq = startMany(w, 1, 10, 0);
    seq = startMany(w, seq, 10, 500);
    w.start(seq, 1_200);
    w.answer(seq, 1_200, 20, 1_000, 9, true, false);
    w.start(seq + 1, 1_210);
    w.answer(seq + 1, 1_210, 20, 1_000, 8, true, false);
    expect(w.active()).toBe(true);
    seq += 2;
    for (let i = 0; i < 2; i++) {
      w.start(seq, 1_300);
      w.answer(seq, 1_300, 20, 1_000, 19 - i, false, false);
      seq++;
    }
    expect(w.active()).toBe(false);
    expect(w.waitMs(1_300)).toBe(0);
  });

  it('a remainder that never rises within a window (a fixed window) is no evidence', () => {
    const w = new SlidingLogWatch();
    let seq = 1;
    for (let t = 0; t < 5_000; t += 50) {
      w.start(seq, t);
      w.answer(seq, t + 50, 20, 1_000, 0, false, false);
      seq++;
    }
    expect(w.active()).toBe(false);
  });
});
