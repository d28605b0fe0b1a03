/**
 * A fleet that learns as one (src/batch/redis/leases.ts, scripts/lease.lua, shared-pool.ts), against
 * real Redis, two "workers" in one process (a LeaseEngine, a KeyPool and a FleetKeyPool each) on a
 * virtual clock: the decisions of the learned rate and the cooldown strikes run on it; the Redis
 * server only orders the events.
 * - one worker's congestion event (a decrease of the learned rate after a bare 429) reaches the other,
 *   which then uses the same rate;
 * - a 429 of a call started before the fleet's event, seen by the other worker before it heard of the
 *   event, is the same event: the fleet keeps one decrease and one cooldown step, and that worker takes
 *   the fleet's rate instead of its own;
 * - a later congestion (a success since, then a 429 of a call started after) is a new event for both;
 * - each worker's successes reach the other as the fleet's goodput.
 */
import { describe, expect, it } from 'vitest';
import type { Classification } from '../../src/classify/kinds.js';
import { KeyPool } from '../../src/flow/key-pool.js';
import { LeaseEngine } from '../../src/batch/redis/leases.js';
import { FleetKeyPool } from '../../src/batch/redis/shared-pool.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { redisFlowFixture } from './helpers.js';

const fx = redisFlowFixture('fleet-learn');
const { prefix } = fx;

const bare429: Classification = { kind: 'rate_limited', retryable: true, status: 429, message: '429' };

interface Worker {
  engine: LeaseEngine;
  pool: KeyPool;
  fleet: FleetKeyPool;
}

/** A worker of key `name`: blind (no configured limit), learning its rate from bare 429s. */
function worker(name: string, clock: VirtualClock, counts?: { starts: number; successes: number }): Worker {
  const engine = new LeaseEngine(fx.admin, prefix, [name], clock, fx.flow.keys);
  const pool = new KeyPool({ keys: [{ name, secret: 's' }], backend: engine.backend(), clock, rejoinTimers: false });
  const fleet = new FleetKeyPool(pool, [name], engine);
  if (counts) {
    // What reaches this worker as the others' share (the fleet's goodput and sending rate).
    const limiter = pool.limiter(name);
    const count = limiter.countOthers.bind(limiter);
    limiter.countOthers = (starts, successes) => {
      counts.starts += starts;
      counts.successes += successes;
      count(starts, successes);
    };
  }
  return { engine, pool, fleet };
}

/** `n` successes on `w`, one every `everyMs`, each answered 20 ms after its start (virtual time). */
async function succeed(w: Worker, name: string, clock: VirtualClock, n: number, everyMs: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await clock.advance(everyMs);
    w.fleet.onSuccess(name, clock.now(), clock.now() - 20);
  }
}

async function learnt(name: string): Promise<Record<string, string>> {
  return fx.admin.hgetall(`${prefix}:flow:learn:${name}`);
}

describe('a fleet that learns as one', () => {
  it('one congestion seen by two workers is one decrease and one cooldown step; both use the fleet rate', async () => {
    const clock = new VirtualClock();
    const a = worker('k1', clock);
    const b = worker('k1', clock);
    // The workers' subscription (run-worker.ts does this for a real worker), from the second event on:
    // until then B hears only with its own calls.
    const sub = fx.admin.duplicate();
    sub.on('message', (_channel: string, name: string) => {
      a.engine.pushed(name);
      b.engine.pushed(name);
    });
    try {
      // Both send and succeed for a second (40 a second each, 80 for the fleet).
      for (let i = 0; i < 40; i++) {
        await clock.advance(25);
        a.fleet.onSuccess('k1', clock.now(), clock.now() - 20);
        b.fleet.onSuccess('k1', clock.now(), clock.now() - 20);
      }
      await Promise.all([a.engine.flush(), b.engine.flush()]);

      // A bare 429 at A: A's learned rate decreases and A's key cools; the fleet records the event.
      const effect = a.fleet.onFailure('k1', bare429, clock.now(), { startedAt: clock.now() - 10 });
      expect(effect.state).toBe('cooling');
      const event = a.pool.limiter('k1').learnedState()!;
      expect(event).toBeDefined();
      await a.engine.flush();
      expect(await learnt('k1')).toMatchObject({ seq: '1', sk: '1' });

      // B has not heard yet and gets a 429 of a call that started before A's event (it was in flight):
      // locally B would decrease on its own; the fleet refuses it as the same event, and B takes the fleet's.
      await clock.advance(5);
      b.fleet.onFailure('k1', bare429, clock.now(), { startedAt: clock.now() - 5_000 });
      await b.engine.flush();
      const fleet = await learnt('k1');
      expect(fleet).toMatchObject({ seq: '1', sk: '1' });
      expect(Number(fleet.mx)).toBe(event.max);
      const adopted = b.pool.limiter('k1').learnedState()!;
      expect(adopted.max).toBe(event.max);
      expect(adopted.base).toBe(event.base);
      // Both workers now use the same rate, at every later instant (the event's age travels on the
      // server's clock, a few real ms here, so the two differ by those few ms of the climb).
      for (let i = 0; i < 3; i++) {
        const ratio = b.pool.limiter('k1').effectiveRequestsPerWindow()! / a.pool.limiter('k1').effectiveRequestsPerWindow()!;
        expect(Math.abs(ratio - 1)).toBeLessThan(0.01);
        await clock.advance(700);
      }
      // One cooldown step for the fleet: both workers count one strike.
      await a.engine.flush();
      expect(a.pool.strikesOf('k1').strikes).toBe(1);
      expect(b.pool.strikesOf('k1').strikes).toBe(1);

      // A success of a call started after the event, then a 429 of a call started after it: a new
      // event. (The server orders them by its own clock: the calls here start "now", as virtual time
      // moved seconds where real time moved milliseconds.)
      await sub.subscribe(a.engine.channel);
      await clock.advance(1_000);
      b.fleet.onSuccess('k1', clock.now(), clock.now());
      await b.engine.flush();
      expect((await learnt('k1')).sk).toBe('0'); // the success ended the fleet's strikes
      await clock.advance(50);
      const callsOfA = a.engine.calls;
      b.fleet.onFailure('k1', bare429, clock.now(), { startedAt: clock.now() });
      await b.engine.flush();
      expect(await learnt('k1')).toMatchObject({ seq: '2', sk: '1' });
      const second = b.pool.limiter('k1').learnedState()!;
      // The new event was published: A asks for it at once (not with its next lease).
      for (let i = 0; i < 200 && a.engine.calls === callsOfA; i++) await new Promise((r) => setTimeout(r, 5));
      expect(a.engine.calls).toBeGreaterThan(callsOfA);
      await a.engine.flush();
      const atA = a.pool.limiter('k1').learnedState()!;
      expect(atA.max).toBe(second.max);
      expect(atA.base).toBe(second.base);
      expect(a.pool.strikesOf('k1').strikes).toBe(1);
    } finally {
      sub.disconnect();
      for (const w of [a, b]) {
        w.pool.close();
        await w.engine.close();
      }
    }
  });

  it("each worker's successes and starts reach the other as the fleet's goodput", async () => {
    const clock = new VirtualClock();
    const seenByB = { starts: 0, successes: 0 };
    const a = worker('k2', clock);
    const b = worker('k2', clock, seenByB);
    try {
      // A worker hears the fleet's counts with its own lease calls; here a push makes B call.
      b.engine.pushed('k2');
      await b.engine.flush(); // B's first answer: the counts so far (none) are its baseline
      await succeed(a, 'k2', clock, 30, 10);
      await a.engine.flush();
      b.engine.pushed('k2');
      await b.engine.flush();
      // B was told of A's 30 successes once, and nothing of its own.
      expect(seenByB.successes).toBe(30);
      await succeed(b, 'k2', clock, 5, 10);
      await b.engine.flush();
      expect(seenByB.successes).toBe(30);
      expect(await learnt('k2')).toMatchObject({ ok: '35' });
    } finally {
      for (const w of [a, b]) {
        w.pool.close();
        await w.engine.close();
      }
    }
  });
});
