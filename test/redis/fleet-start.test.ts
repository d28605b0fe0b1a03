/**
 * The fleet's start (src/batch/redis/leases.ts, scripts/lease.lua): until something limits a key (no
 * rate configured, announced or learned), the workers that share it have at most the fleet's start cap
 * of calls in flight on it together, so that N workers probe the server as one does; the cap doubles
 * a second after the fleet filled it (the slow start of flow/adaptive-concurrency.ts) and the fleet's first congestion
 * event lifts it. Against real Redis, four "workers" in one process (a LeaseEngine, a KeyPool and a
 * FleetKeyPool each) on a virtual clock (the Redis server counts, and times the cap's steps on its own clock).
 */
import { describe, expect, it } from 'vitest';
import type { Classification } from '../../src/classify/kinds.js';
import { KeyPool } from '../../src/flow/key-pool.js';
import type { Permit } from '../../src/flow/rate-limiter.js';
import { LeaseEngine } from '../../src/batch/redis/leases.js';
import { FleetKeyPool } from '../../src/batch/redis/shared-pool.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { redisFlowFixture } from './helpers.js';

const fx = redisFlowFixture('fleet-start');
const { prefix } = fx;

const bare429: Classification = { kind: 'rate_limited', retryable: true, status: 429, message: '429' };

interface Worker {
  engine: LeaseEngine;
  pool: KeyPool;
  fleet: FleetKeyPool;
  held: Permit[];
}

/** A blind worker of key `name` (no configured limit: only 429s teach it), whose fleet starts at `fleetStart` in flight. */
function worker(name: string, clock: VirtualClock, fleetStart: number): Worker {
  const engine = new LeaseEngine(fx.admin, prefix, [name], clock, fx.flow.keys, {}, { fleetStart });
  // No cooldown after a bare 429 (the Redis state would end on the server's clock, not the test's).
  const pool = new KeyPool({ keys: [{ name, secret: 's' }], backend: engine.backend(), clock, rejoinTimers: false, defaultCooldownMs: 0 });
  const fleet = new FleetKeyPool(pool, [name], engine);
  return { engine, pool, fleet, held: [] };
}

/** Each worker starts calls on `name` (and holds them) until refused, then lets its lease call land; `rounds` times. Returns the fleet's calls in flight after each round. */
async function fill(workers: readonly Worker[], name: string, rounds: number): Promise<number[]> {
  const seen: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const w of workers) {
      for (let i = 0; i < 32; i++) {
        const p = w.pool.limiter(name).tryAcquire();
        if (!p) break;
        w.held.push(p);
      }
    }
    await Promise.all(workers.map((w) => w.engine.flush()));
    seen.push(inFlight(workers, name));
  }
  return seen;
}

function inFlight(workers: readonly Worker[], name: string): number {
  return workers.reduce((n, w) => n + w.pool.limiter(name).inFlight, 0);
}

/** Ends `n` of `w`'s calls as successes; the worker reports them (and its lower count) with a lease call. */
async function finish(w: Worker, name: string, clock: VirtualClock, n: number): Promise<void> {
  for (const p of w.held.splice(0, n)) {
    p.release('served');
    w.fleet.onSuccess(name, clock.now(), p.startedAt);
  }
  await w.engine.flush();
}

async function closeAll(workers: readonly Worker[]): Promise<void> {
  for (const w of workers) {
    for (const p of w.held.splice(0)) p.release();
    w.pool.close();
    await w.engine.close();
  }
}

describe("the fleet's start on a key nothing limits yet", () => {
  it('four workers sharing one key never have more than the cap in flight; ended calls free it; each holds its share; it doubles a second after it was filled; the first congestion event lifts it', async () => {
    const clock = new VirtualClock();
    const workers = [0, 1, 2, 3].map(() => worker('k1', clock, 4));
    const [a, b, c, d] = workers as [Worker, Worker, Worker, Worker];
    try {
      // Each worker alone would start 32 at once (nothing limits it); together they start 4.
      const seen = await fill(workers, 'k1', 6);
      expect(Math.max(...seen)).toBeLessThanOrEqual(4);
      expect(inFlight(workers, 'k1')).toBe(4); // the cap is used, not only respected
      expect(a.engine.fleetInFlight('k1')).toBe(4);

      // Calls that end free their share of the cap for any worker, once their worker has reported them.
      // The first to ask reserved it all; as its calls end it starts no more than its share (1 of 4), and
      // the others get theirs.
      for (let i = 0; i < 4; i++) for (const w of workers) if (w.held.length > 1) await finish(w, 'k1', clock, 1);
      expect(Math.max(...(await fill(workers, 'k1', 4)))).toBe(4);
      expect(workers.map((w) => w.held.length)).toEqual([1, 1, 1, 1]);

      // A second after it was filled (on the server's clock, which times the steps) the cap is twice as
      // large (slow start): 8, and no more. On k5 the fleet never had more than 2 of its 4 in flight: a
      // cap not filled proves nothing about the server and stays as it was.
      const idle = [0, 1].map(() => worker('k5', clock, 4));
      try {
        for (let i = 0; i < 20 && idle[0]!.held.length < 2; i++) {
          const p = idle[0]!.pool.limiter('k5').tryAcquire();
          if (p) idle[0]!.held.push(p);
          else await idle[0]!.engine.flush();
        }
        expect(inFlight(idle, 'k5')).toBe(2);
        await new Promise((r) => setTimeout(r, 1_050));
        // A worker hears of the step with its next call: the one that reports its calls that ended.
        for (const w of workers) await finish(w, 'k1', clock, 1);
        const doubled = await fill(workers, 'k1', 6);
        expect(Math.max(...doubled)).toBe(8);
        expect(Math.max(...(await fill(idle, 'k5', 6)))).toBe(4);
      } finally {
        await closeAll(idle);
      }

      // Each worker holds its share (2 of 8): another start waits for one of its own calls to end, not
      // for a time, and costs no call.
      const calls = workers.map((w) => w.engine.calls);
      for (const w of workers) expect(w.pool.limiter('k1').waitTimeMs()).toBe(Infinity);
      expect(workers.map((w) => w.engine.calls)).toEqual(calls);

      // A bare 429 at A: the fleet's first congestion event. From then on the learned rate governs,
      // the same for every worker, and the cap is gone.
      const refused = a.held.shift()!;
      refused.release('refused');
      a.fleet.onFailure('k1', bare429, clock.now(), { startedAt: refused.startedAt });
      await a.engine.flush();
      expect(await fx.admin.hget(`${prefix}:flow:learn:k1`, 'seq')).toBe('1');
      const event = a.pool.limiter('k1').learnedState()!;
      expect(event).toBeDefined();
      // The event is published; each worker's subscription (run-worker.ts) hands it to its engine,
      // whose next call brings it.
      for (const w of [b, c, d]) w.engine.pushed('k1');
      await Promise.all([b, c, d].map((w) => w.engine.flush()));
      for (const w of [b, c, d]) {
        expect(w.engine.fleetInFlight('k1')).toBeUndefined();
        expect(w.pool.limiter('k1').learnedState()).toMatchObject({ max: event.max, base: event.base });
        // Still holding its 2: the next start now waits for the learned rate's bucket, not for the cap.
        expect(w.pool.limiter('k1').waitTimeMs()).toBeLessThan(Infinity);
      }
    } finally {
      await closeAll(workers);
    }
  });

  it("a worker that stopped reporting (crashed) holds none of the cap after 2 s; a live one's report counts", async () => {
    const clock = new VirtualClock();
    const [secs, micros] = await fx.admin.time();
    const serverNow = Number(secs) * 1000 + Number(micros) / 1000;
    // A live worker holds 3 of 4 on k2; a worker that last reported 3 s ago held 4 on k3.
    await fx.admin.hset(`${prefix}:flow:start:k2`, 'live', `3:3:${serverNow}`);
    await fx.admin.hset(`${prefix}:flow:start:k3`, 'ghost', `4:4:${serverNow - 3_000}`);
    const live = worker('k2', clock, 4);
    const afterGhost = worker('k3', clock, 4);
    try {
      expect(Math.max(...(await fill([live], 'k2', 10)))).toBe(1);
      expect(Math.max(...(await fill([afterGhost], 'k3', 10)))).toBe(4);
      expect(await fx.admin.hexists(`${prefix}:flow:start:k3`, 'ghost')).toBe(0);
    } finally {
      await closeAll([live, afterGhost]);
    }
  });

  it('a worker that stops gives its reservation back at once', async () => {
    const clock = new VirtualClock();
    const first = worker('k6', clock, 4);
    const next = worker('k6', clock, 4);
    try {
      expect(Math.max(...(await fill([first], 'k6', 10)))).toBe(4);
      expect(Math.max(...(await fill([next], 'k6', 3)))).toBe(0);
      // The first worker's calls end and it stops (a worker that is done with the run).
      for (const p of first.held.splice(0)) p.release('served');
      first.pool.close();
      await first.engine.close();
      expect(Math.max(...(await fill([next], 'k6', 10)))).toBe(4);
    } finally {
      await closeAll([next]);
    }
  });

  it('a key with a rate (configured here) has no fleet cap: the bucket alone decides', async () => {
    const clock = new VirtualClock();
    const engines = [0, 1].map(() => new LeaseEngine(fx.admin, prefix, ['k4'], clock, fx.flow.keys, {}, { fleetStart: 1 }));
    const pools = engines.map((engine) => new KeyPool({ keys: [{ name: 'k4', secret: 's' }], backend: engine.backend(), clock, rejoinTimers: false, limits: { requestsPerMinute: 600, burst: 6 } }));
    const workers: Worker[] = engines.map((engine, i) => ({ engine, pool: pools[i]!, fleet: new FleetKeyPool(pools[i]!, ['k4'], engine), held: [] }));
    try {
      expect(Math.max(...(await fill(workers, 'k4', 4)))).toBeGreaterThanOrEqual(6);
      expect(await fx.admin.exists(`${prefix}:flow:start:k4`)).toBe(0);
    } finally {
      await closeAll(workers);
    }
  });
});
