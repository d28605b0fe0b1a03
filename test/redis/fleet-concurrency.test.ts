/**
 * The fleet's adaptive concurrency limit (src/batch/redis/shared-concurrency.ts, scripts/fleet-concurrency.lua,
 * carried by the lease call of leases.ts), against real Redis: "workers" in one process (a LeaseEngine
 * and an AdaptiveConcurrency each) on a virtual clock. The limits judge their windows on it; the Redis
 * server orders the steps and counts the live workers (their reports within 2 s of its own clock).
 * - the fleet's limit is split over its live workers, and a worker that joins takes its share;
 * - two workers that see the same overload step the fleet down once, not twice; the one whose step
 *   was refused takes the fleet's limit;
 * - a step judged after the fleet's last one is taken; a worker that starts later adopts the fleet's
 *   limit and its end of slow start;
 * - a worker that stops takes its report away; one with calls in flight and nothing else to send
 *   still calls once a second, so it keeps its share.
 */
import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrency, type ConcurrencyChange } from '../../src/flow/adaptive-concurrency.js';
import { LeaseEngine } from '../../src/batch/redis/leases.js';
import { FleetConcurrency } from '../../src/batch/redis/shared-concurrency.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { redisFlowFixture } from './helpers.js';

const fx = redisFlowFixture('fleet-conc');
const { prefix } = fx;

interface Worker {
  engine: LeaseEngine;
  limit: AdaptiveConcurrency;
  fleet: FleetConcurrency;
  changes: ConcurrencyChange[];
}

/** A worker of run `run` with an adaptive limit (max 16). */
function worker(run: string, clock: VirtualClock, initial: number): Worker {
  const engine = new LeaseEngine(fx.admin, prefix, ['k'], clock, fx.flow.keys);
  const limit = new AdaptiveConcurrency({ clock, initial, max: 16 });
  const changes: ConcurrencyChange[] = [];
  limit.events.on('change', (c) => changes.push(c));
  const fleet = new FleetConcurrency(limit);
  engine.attachConcurrency(fleet, `${prefix}:run:${run}:conc`);
  return { engine, limit, fleet, changes };
}

/** One lease call of `w` now (a push of its key's news makes it call, as in fleet-learning.test.ts). */
async function call(w: Worker): Promise<void> {
  w.engine.pushed('k');
  await w.engine.flush();
}

/** A window of 20 overloads (503) at `w`'s limit: a clear sign of load, so it halves. */
function overload(w: Worker): void {
  for (let i = 0; i < 20; i++) w.limit.recordFailure('overloaded');
}

async function fleetOf(run: string): Promise<Record<string, string>> {
  return fx.admin.hgetall(`${prefix}:run:${run}:conc`);
}

async function closeAll(...workers: Worker[]): Promise<void> {
  for (const w of workers) await w.engine.close();
}

describe("the fleet's adaptive concurrency limit", () => {
  it('is split over the live workers; one overload seen by two is one step down; a worker that starts later adopts the fleet limit', async () => {
    const clock = new VirtualClock();
    const a = worker('r1', clock, 8);
    const b = worker('r1', clock, 8);
    const c = worker('r1', clock, 4);
    try {
      // A alone: the fleet starts at A's limit, all of it A's.
      await call(a);
      expect(await fleetOf('r1')).toMatchObject({ lim: '8', seq: '0', ss: '1' });
      expect(a.limit.limit).toBe(8);
      // B joins: 4 each, and A hears it with its next call, saying why.
      await call(b);
      await call(a);
      expect([a.limit.limit, b.limit.limit]).toEqual([4, 4]);
      expect(a.changes.at(-1)).toEqual({ from: 8, to: 4, reason: "the fleet's limit: 8 in flight over 2 workers" });
      expect(b.fleet.fleet).toMatchObject({ limit: 8, workers: 2, share: 4 });

      // Both see the same overload, each before it heard of the other's step: each halves its own
      // share and proposes it; the fleet takes A's (its window judged the fleet's limit) and refuses
      // B's (judged the same limit, the step is taken): one halving, 8 -> 4, not 8 -> 2.
      await clock.advance(250);
      overload(a);
      overload(b);
      expect([a.limit.limit, b.limit.limit]).toEqual([2, 2]);
      await a.engine.flush();
      await b.engine.flush();
      expect(await fleetOf('r1')).toMatchObject({ lim: '4', seq: '1', ss: '0' });
      expect([a.limit.limit, b.limit.limit]).toEqual([2, 2]);
      expect(b.fleet.fleet).toMatchObject({ limit: 4, seq: 1, share: 2 });

      // A new overload, judged by B in a window after the fleet's step: a new step, 4 -> 2.
      await clock.advance(1_000);
      overload(b);
      await b.engine.flush();
      expect(await fleetOf('r1')).toMatchObject({ lim: '2', seq: '2' });
      expect(b.limit.limit).toBe(1);
      await call(a);
      expect(a.limit.limit).toBe(1);
      expect(a.changes.at(-1)!.reason).toBe("the fleet's limit: 2 in flight over 2 workers");

      // C starts later at its own 4: it adopts its share of the fleet's limit (1; the fleet is three
      // now) and the fleet's end of slow start, so a clean window adds one instead of doubling.
      await call(c);
      expect(c.limit.limit).toBe(1);
      expect(c.changes).toEqual([{ from: 4, to: 1, reason: "the fleet's limit: 2 in flight over 3 workers" }]);
      await clock.advance(1_000);
      for (let i = 0; i < 20; i++) c.limit.recordSuccess(50);
      expect(c.limit.limit).toBe(2);
      await c.engine.flush();
      // One more per worker for the fleet (its floor is 1 each: 3 -> 6 in the ratio of C's 1 -> 2).
      expect(await fleetOf('r1')).toMatchObject({ lim: '6', seq: '3' });
      expect(c.limit.limit).toBe(2);
    } finally {
      await closeAll(a, b, c);
    }
  });

  it("a worker that stops takes its report away; one with calls in flight and nothing else to send calls once a second", async () => {
    const clock = new VirtualClock();
    const a = worker('r2', clock, 8);
    const b = worker('r2', clock, 8);
    let inFlight = 0;
    a.engine.attach({ adoptRate: () => undefined, adoptStrikes: () => undefined, countOthers: () => undefined, inFlight: () => inFlight });
    try {
      await call(a);
      await call(b);
      expect(await fx.admin.hlen(`${prefix}:run:r2:conc:w`)).toBe(2);
      expect(b.limit.limit).toBe(4);
      // No calls in flight: no call of its own.
      const idle = a.engine.calls;
      await clock.advance(3_000);
      await a.engine.flush();
      expect(a.engine.calls).toBe(idle);
      // Calls in flight: one lease call a second, no more.
      inFlight = 3;
      await call(a);
      const busy = a.engine.calls;
      for (let i = 0; i < 3; i++) {
        await clock.advance(1_000);
        await a.engine.flush();
      }
      expect(a.engine.calls - busy).toBe(3);

      // B stops: its report goes with its last call, and A's next answer gives A the whole limit.
      await b.engine.close();
      expect(await fx.admin.hlen(`${prefix}:run:r2:conc:w`)).toBe(1);
      await call(a);
      expect(a.limit.limit).toBe(8);
      expect(a.changes.at(-1)!.reason).toBe("the fleet's limit: 8 in flight over 1 worker");
    } finally {
      inFlight = 0;
      await closeAll(a, b);
    }
  });
});
