/**
 * Leases (src/batch/redis/leases.ts, scripts/lease.lua) against real Redis:
 * - a lease of n starts grants exactly what n reserves of the same shared bucket grant (lease.lua runs
 *   reserve.lua itself), and a start given back can be taken again by anyone;
 * - a key cooled by another worker (its state in Redis) gets no lease, and the state reaches the
 *   lease engine's mirror with the answer; the fleet pool then offers the key to no one;
 * - the executor's synchronous ports: a refused start says how long to wait, and a lease answer makes
 *   the next one succeed without a round trip of its own;
 * - a start the bucket can grant within AHEAD_MS is granted ahead: workers waiting for the same refill
 *   each get theirs with one call, in the order they asked (virtual clock on the workers' side).
 */
import { describe, expect, it } from 'vitest';
import type { BucketSpec, ReserveResult } from '../../src/flow/bucket.js';
import { KeyPool } from '../../src/flow/key-pool.js';
import { systemClock } from '../../src/clock/system-clock.js';
import { LeaseEngine } from '../../src/batch/redis/leases.js';
import { FleetKeyPool } from '../../src/batch/redis/shared-pool.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { redisFlowFixture } from './helpers.js';

const fx = redisFlowFixture('leases');
const { prefix } = fx;

/** 60 a minute, a burst of 5: nothing refills noticeably during a test. */
const SPEC: BucketSpec = { windowMs: 60_000, requests: 60, requestBurst: 5, tokenBurst: 0 };

/** Takes starts from the engine's synchronous store until it refuses, letting its lease calls land (bounded). */
async function takeAll(engine: LeaseEngine, key: string, max: number): Promise<number> {
  let taken = 0;
  for (let i = 0; i < 200 && taken < max; i++) {
    const r = engine.limiter.reserve(key, 0, SPEC, Date.now()) as { ok: boolean; waitMs: number };
    if (r.ok) taken++;
    else if (r.waitMs > 1_000) break; // the bucket is empty: the answer says so
    else await new Promise((res) => setTimeout(res, 5));
  }
  return taken;
}

/** Two workers' lease engines on one key and one virtual clock, and a reserve of `spec` on that key through either. */
function twoWorkers(key: string, spec: BucketSpec): { clock: VirtualClock; a: LeaseEngine; b: LeaseEngine; reserve: (e: LeaseEngine) => ReserveResult } {
  const clock = new VirtualClock();
  const a = new LeaseEngine(fx.admin, prefix, [key], clock, fx.flow.keys);
  const b = new LeaseEngine(fx.admin, prefix, [key], clock, fx.flow.keys);
  return { clock, a, b, reserve: (e) => e.limiter.reserve(key, 0, spec, clock.now()) as ReserveResult };
}

describe('leases of the shared bucket', () => {
  it('grant exactly what the same number of reserves grants, and starts given back are taken again', async () => {
    const byReserve: boolean[] = [];
    for (let i = 0; i < 8; i++) byReserve.push((await fx.flow.limiter.reserve('by-reserve', 0, SPEC)).ok);
    expect(byReserve.filter(Boolean)).toHaveLength(5);

    const engine = new LeaseEngine(fx.admin, prefix, ['by-lease'], systemClock, fx.flow.keys);
    try {
      expect(await takeAll(engine, 'by-lease', 8)).toBe(5);
      // The bucket is empty for everyone: a reserve from another client is refused.
      expect((await fx.flow.limiter.reserve('by-lease', 0, SPEC)).ok).toBe(false);
    } finally {
      await engine.close();
    }

    // Starts leased and not used go back when the engine closes: another client can take them.
    const holder = new LeaseEngine(fx.admin, prefix, ['give-back'], systemClock, fx.flow.keys);
    expect(await takeAll(holder, 'give-back', 1)).toBe(1);
    // Ask for more than was used (a lease sized by a quick run of starts), then stop using them.
    for (let i = 0; i < 4; i++) holder.limiter.reserve('give-back', 0, SPEC, Date.now());
    await new Promise((r) => setTimeout(r, 50));
    await holder.close();
    const after: boolean[] = [];
    for (let i = 0; i < 6; i++) after.push((await fx.flow.limiter.reserve('give-back', 0, SPEC)).ok);
    // 5 in the bucket, 1 used: the starts leased on top of it and not used are back for anyone.
    expect(after.filter(Boolean)).toHaveLength(4);
  });

  it("a key another worker cooled gets no lease; its state reaches this worker's pool with the answer", async () => {
    await fx.flow.keys.set('cooled', { state: 'cooling', until: Date.now() + 60_000, reason: 'rate_limited' }, Date.now());
    const engine = new LeaseEngine(fx.admin, prefix, ['cooled', 'free'], systemClock, fx.flow.keys);
    const pool = new KeyPool({ keys: [{ name: 'cooled', secret: 's1' }, { name: 'free', secret: 's2' }], backend: engine.backend(), limits: { requestsPerMinute: 60, burst: 5 } });
    const fleet = new FleetKeyPool(pool, ['cooled', 'free'], engine);
    try {
      // Before any answer this worker knows nothing: both keys are candidates.
      expect(fleet.candidates(Date.now())).toEqual(['cooled', 'free']);
      expect(await takeAll(engine, 'cooled', 1)).toBe(0);
      expect(engine.stateOf('cooled', Date.now()).state).toBe('cooling');
      expect(fleet.candidates(Date.now())).toEqual(['free']);
      expect(fleet.stateOf('cooled', Date.now())).toMatchObject({ state: 'cooling' });
      expect(fleet.nextRejoinAt()).toBeGreaterThan(Date.now() + 50_000);
      // Nothing was taken from the cooled key's bucket.
      expect(await fx.admin.exists(`${prefix}:flow:bucket:cooled`)).toBe(0);
    } finally {
      pool.close();
      await engine.close();
    }
  });

  it('a state this worker sets is written through to Redis for the others, with a lease call (no command of its own)', async () => {
    const engine = new LeaseEngine(fx.admin, prefix, ['mine'], systemClock, fx.flow.keys);
    const trips = fx.flow.trips.count;
    try {
      engine.keys.set('mine', { state: 'parked', until: Date.now() + 30_000, reason: 'quota' }, Date.now());
      expect(engine.stateOf('mine', Date.now()).state).toBe('parked');
      let ttl = -2;
      for (let i = 0; i < 100 && ttl < 0; i++) {
        ttl = await fx.admin.pttl(`${prefix}:flow:state:mine`);
        if (ttl < 0) await new Promise((r) => setTimeout(r, 5));
      }
      expect(ttl).toBeGreaterThan(20_000);
      expect(await fx.admin.sismember(`${prefix}:flow:states`, 'mine')).toBe(1);
      // A disable and then a cooldown set before the call that takes them: the key stays disabled, as
      // key-set.lua leaves it when they come one after the other.
      engine.keys.set('mine', { state: 'disabled', reason: 'auth' }, Date.now());
      engine.keys.set('mine', { state: 'cooling', until: Date.now() + 60_000, reason: 'rate_limited' }, Date.now());
      await engine.flush();
      expect(JSON.parse((await fx.admin.get(`${prefix}:flow:state:mine`))!)).toMatchObject({ state: 'disabled' });
      // Its end, too.
      engine.keys.set('mine', { state: 'active' }, Date.now());
      await engine.flush();
      expect(await fx.admin.exists(`${prefix}:flow:state:mine`)).toBe(0);
      expect(fx.flow.trips.count).toBe(trips);
      expect(engine.calls).toBeGreaterThanOrEqual(3);
    } finally {
      await engine.close();
    }
  });

  it('a worker that stops starting gives its held starts back and asks for no more: no lease call while idle', async () => {
    // 6,000 a minute: a quick run of starts sizes the lease at several, topped up ahead of need.
    const spec: BucketSpec = { windowMs: 60_000, requests: 6_000, requestBurst: 100, tokenBurst: 0 };
    const clock = new VirtualClock();
    const engine = new LeaseEngine(fx.admin, prefix, ['idle'], clock, fx.flow.keys);
    try {
      let started = 0;
      for (let i = 0; i < 200 && started < 20; i++) {
        if ((engine.limiter.reserve('idle', 0, spec, clock.now()) as ReserveResult).ok) started++;
        else await engine.flush();
        await clock.advance(1);
      }
      expect(started).toBe(20);
      // Then nothing more is started and the limiter asks nothing (an idle worker): the held starts go back
      // at the end of their life, with one call, and no top-up follows.
      const tick = async (): Promise<void> => {
        await clock.advance(10);
        await engine.flush();
      };
      for (let t = 0; t < 100; t++) await tick();
      const calls = engine.calls;
      for (let t = 0; t < 400; t++) await tick();
      expect(engine.calls).toBe(calls);
      // Nothing is held here: the bucket has its burst less the 20 used (and a little refill since, on Redis's clock).
      expect(Number(await fx.admin.hget(`${prefix}:flow:bucket:idle`, 'rl'))).toBeGreaterThanOrEqual(80);
    } finally {
      await engine.close();
    }
  });

  it('a start granted ahead that an idle worker never takes goes back to the bucket', async () => {
    // One start a second, burst 1: the second start is granted ahead, about a second out.
    const spec: BucketSpec = { windowMs: 1000, requests: 1, requestBurst: 1, tokenBurst: 0 };
    const { clock, a, b, reserve } = twoWorkers('ahead-idle', spec);
    const level = async (): Promise<number> => Number(await fx.admin.hget(`${prefix}:flow:bucket:ahead-idle`, 'rl'));
    try {
      expect(reserve(a).ok).toBe(false);
      await a.flush();
      expect(reserve(a).ok).toBe(true);
      expect(reserve(b).ok).toBe(false);
      await b.flush();
      expect(b.limiter.waitMs('ahead-idle', 0, spec, clock.now())).toBeGreaterThan(100);
      const before = await level();
      // B's work went elsewhere: its limiter never asks again. Its start goes back once its time is past.
      for (let t = 0; t < 250; t++) {
        await clock.advance(10);
        await b.flush();
      }
      // (Redis's own clock refills the bucket by a few hundredths meanwhile.)
      expect((await level()) - before).toBeGreaterThan(0.9);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a start the bucket can grant soon is granted ahead: workers waiting for one refill get theirs in turn, one call each', async () => {
    // One start every 50 ms, burst 1.
    const spec: BucketSpec = { windowMs: 1000, requests: 20, requestBurst: 1, tokenBurst: 0 };
    const { clock, a, b, reserve } = twoWorkers('ahead', spec);
    try {
      // A asks, and the bucket's one start comes with the answer.
      expect(reserve(a).ok).toBe(false);
      await a.flush();
      expect(reserve(a).ok).toBe(true);
      // B, then A again, want the next start: each call is answered with one granted ahead.
      expect(reserve(b).ok).toBe(false);
      await b.flush();
      expect(reserve(a).ok).toBe(false);
      await a.flush();
      const calls = [a.calls, b.calls];
      const waitB = b.limiter.waitMs('ahead', 0, spec, clock.now()) as number;
      const waitA = a.limiter.waitMs('ahead', 0, spec, clock.now()) as number;
      // B first (it asked first), about one refill out; A one refill after it, within 100 ms.
      expect(waitB).toBeGreaterThan(20);
      expect(waitB).toBeLessThanOrEqual(50);
      expect(waitA).toBeGreaterThan(waitB + 20);
      expect(waitA).toBeLessThanOrEqual(100);
      // Waiting for them costs no call.
      expect(reserve(b).ok).toBe(false);
      expect([a.calls, b.calls]).toEqual(calls);
      await clock.advance(waitB);
      expect(reserve(b).ok).toBe(true);
      expect(reserve(a).ok).toBe(false);
      await clock.advance(waitA - waitB);
      expect(reserve(a).ok).toBe(true);
      // Nothing more was granted than the bucket holds: a reserve of anyone else is refused now.
      expect((await fx.flow.limiter.reserve('ahead', 0, spec)).ok).toBe(false);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
