/**
 * The fleet's concurrency cap learned from bare 429s (src/batch/redis/fleet-in-flight-cap.ts,
 * scripts/fleet-cap.lua): workers sharing a key against a server that caps the calls in flight on it
 * pool their evidence (outcomes by the fleet's calls in flight at their start), learn one cap for the
 * fleet and keep the fleet's calls in flight within it, each within its share. Against real Redis,
 * "workers" in one process (a LeaseEngine, a KeyPool and a FleetKeyPool each) on a virtual clock, and
 * a server in the test that refuses a call started with the cap in flight already.
 */
import { describe, expect, it, vi } from 'vitest';
import { KeyPool } from '../../src/flow/key-pool.js';
import type { Permit } from '../../src/flow/rate-limiter.js';
import { CAP_FREED, LeaseEngine } from '../../src/batch/redis/leases.js';
import { FleetKeyPool } from '../../src/batch/redis/shared-pool.js';
import type { Clock } from '../../src/clock/clock.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { redisFlowFixture } from './helpers.js';

const fx = redisFlowFixture('fleet-cap');
const { prefix } = fx;

interface Worker {
  engine: LeaseEngine;
  pool: KeyPool;
  /** The learned cap as this worker's limiter announced it last. */
  cap: number | undefined;
}

/** A worker of key `name` whose configured rate never binds: only the server's cap on calls in flight limits it. */
function worker(name: string, clock: Clock): Worker {
  const engine = new LeaseEngine(fx.admin, prefix, [name], clock, fx.flow.keys);
  const pool = new KeyPool({ keys: [{ name, secret: 's' }], backend: engine.backend(), clock, rejoinTimers: false, limits: { requestsPerMinute: 600_000, burst: 1_000 } });
  new FleetKeyPool(pool, [name], engine);
  const w: Worker = { engine, pool, cap: undefined };
  pool.limiter(name).events.on('inFlightCap', (c) => (w.cap = c.to));
  return w;
}

/**
 * The server: at most `cap` calls in flight on the key; a call beyond is refused at once, one served ends
 * `latencyMs` after its start. Each call's start and end are told to its worker's lease engine, as its
 * pool does in a worker (FleetKeyPool: the learned cap's call log).
 */
class Server {
  readonly calls: { permit: Permit; endsAt: number; engine: LeaseEngine }[] = [];
  refused = 0;
  served = 0;
  constructor(private readonly cap: number, private readonly latencyMs: number) {}

  start(permit: Permit, now: number, engine: LeaseEngine): void {
    engine.noteStart(permit.key, now);
    if (this.calls.length >= this.cap) {
      this.refused++;
      permit.release('refused');
      engine.noteEnd(permit.key, now, now, 'refused');
      return;
    }
    this.calls.push({ permit, endsAt: now + this.latencyMs, engine });
  }

  end(now: number): void {
    for (let i = this.calls.length - 1; i >= 0; i--) {
      const c = this.calls[i]!;
      if (c.endsAt > now) continue;
      c.permit.release('served');
      c.engine.noteEnd(c.permit.key, c.permit.startedAt, Math.min(now, c.endsAt), 'served');
      this.calls.splice(i, 1);
      this.served++;
    }
  }
}

/** `ticks` of 10 ms: calls due end, then each worker starts what its limiter lets it (up to 3), then the lease calls land. Returns the most calls in flight the fleet had. */
async function run(workers: readonly Worker[], server: Server, name: string, clock: VirtualClock, ticks: number): Promise<number> {
  let most = 0;
  for (let t = 0; t < ticks; t++) {
    await clock.advance(10);
    server.end(clock.now());
    // In turn, each worker's lease call landing before the next starts (the next hears of its calls with its own).
    for (let j = 0; j < workers.length; j++) {
      const w = workers[(t + j) % workers.length]!;
      const p = w.pool.limiter(name).tryAcquire();
      if (p) server.start(p, clock.now(), w.engine);
      await w.engine.flush();
    }
    most = Math.max(most, workers.reduce((n, w) => n + w.pool.limiter(name).inFlight, 0));
  }
  return most;
}

/** The workers' reports on key `name` (lease.lua), without their call logs ('<id>/log'). */
async function reportsOf(name: string): Promise<string[]> {
  return Object.entries(await fx.admin.hgetall(`${prefix}:flow:start:${name}`)).filter(([id]) => !id.includes('/')).map(([, r]) => r);
}

async function closeAll(workers: readonly Worker[], server: Server): Promise<void> {
  for (const c of server.calls.splice(0)) c.permit.release();
  for (const w of workers) {
    w.pool.close();
    await w.engine.close();
  }
}

describe("the fleet's concurrency cap learned from bare 429s", () => {
  it('three workers against a server capping calls in flight at 2 learn one cap of 2 for the fleet and keep within it', async () => {
    const clock = new VirtualClock();
    const workers = [0, 1, 2].map(() => worker('c1', clock));
    const server = new Server(2, 30);
    try {
      await run(workers, server, 'c1', clock, 150);
      // One cap for the fleet, in Redis and in every worker's limiter.
      expect(await fx.admin.hget(`${prefix}:flow:cap:c1`, 'c')).toBe('2');
      expect(workers.map((w) => w.cap)).toEqual([2, 2, 2]);
      // From then on the fleet's calls stay within it (the workers' shares add up to it) and the
      // server is kept busy: no refusal, and about cap / latency served.
      const refused = server.refused;
      const served = server.served;
      expect(await run(workers, server, 'c1', clock, 150)).toBeLessThanOrEqual(2);
      expect(server.refused).toBe(refused);
      expect(server.served - served).toBeGreaterThan(0.6 * (1_500 / 30) * 2);
    } finally {
      await closeAll(workers, server);
    }
  });

  it("a call's level counts the others' calls in flight when it started, not as they last reported them", async () => {
    const clock = new VirtualClock();
    // The fleet saw a refusal on the key: its workers report their calls in flight with each lease call.
    const [seconds, micros] = await fx.admin.time();
    await fx.admin.hset(`${prefix}:flow:cap:c5`, { rat: String(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)), n: '0' });
    const [a, b] = [worker('c5', clock), worker('c5', clock)] as [Worker, Worker];
    const server = new Server(2, 30);
    const start = async (w: Worker): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        const p = w.pool.limiter('c5').tryAcquire();
        if (p) return server.start(p, clock.now(), w.engine);
        await w.engine.flush();
      }
      throw new Error('no start');
    };
    try {
      // B starts two calls, and its lease call reports them.
      await start(b);
      await start(b);
      await b.engine.flush();
      // They end; B has nothing more to ask for a while: its report still says 2 in flight. (Redis's clock,
      // which times the call logs, moves with this one here.)
      await clock.advance(40);
      await new Promise((r) => setTimeout(r, 40));
      server.end(clock.now());
      // A starts two calls: the server has none in flight, and serves both.
      await start(a);
      await start(a);
      await b.engine.flush();
      await clock.advance(40);
      await new Promise((r) => setTimeout(r, 40));
      server.end(clock.now());
      expect([server.served, server.refused]).toEqual([4, 0]);
      // Once their levels are counted and sent: every call started with 1 or 2 of the fleet's in flight.
      for (let t = 0; t < 50; t++) {
        await clock.advance(10);
        for (const w of [a, b]) await w.engine.flush();
      }
      const counts = await fx.admin.hgetall(`${prefix}:flow:cap:c5`);
      expect(Object.fromEntries(Object.entries(counts).filter(([k]) => /^[or]\d+$/.test(k)))).toEqual({ o1: '2', o2: '2' });
    } finally {
      await closeAll([a, b], server);
    }
  });

  it('a worker that stops takes its share of the cap with it: the others use the whole cap', async () => {
    const clock = new VirtualClock();
    const workers = [0, 1, 2].map(() => worker('c2', clock));
    const server = new Server(2, 30);
    try {
      await run(workers, server, 'c2', clock, 150);
      expect(await fx.admin.hget(`${prefix}:flow:cap:c2`, 'c')).toBe('2');
      const [first, ...rest] = workers as [Worker, Worker, Worker];
      server.end(Infinity);
      first.pool.close();
      await first.engine.close();
      const served = server.served;
      expect(await run(rest, server, 'c2', clock, 100)).toBeLessThanOrEqual(2);
      expect(server.served - served).toBeGreaterThan(0.6 * (1_000 / 30) * 2);
    } finally {
      await closeAll(workers.slice(1), server);
    }
  });

  it('a worker reserves its share only while it asks for starts: workers with nothing to do leave the whole cap to the one that asks, at once', async () => {
    const clock = new VirtualClock();
    const workers = [0, 1, 2].map(() => worker('c3', clock));
    const server = new Server(2, 30);
    try {
      await run(workers, server, 'c3', clock, 150);
      expect(await fx.admin.hget(`${prefix}:flow:cap:c3`, 'c')).toBe('2');
      // Nobody asks for a while (their calls end, their held starts go back), all still running:
      // every report reserves nothing, though each is fresh (well within 2 s of Redis's time).
      server.end(Infinity);
      for (let t = 0; t < 50; t++) {
        await clock.advance(10);
        for (const w of workers) await w.engine.flush();
      }
      const reports = await reportsOf('c3');
      expect(reports).toHaveLength(3);
      expect(reports.map((r) => r.split(':')[0])).toEqual(['0', '0', '0']);
      // Then one asks, and gets the whole cap: the others' reports hold none of it.
      const last = workers[2]!;
      const { served, refused } = server;
      expect(await run([last], server, 'c3', clock, 100)).toBe(2);
      expect(server.refused).toBe(refused);
      expect(server.served - served).toBeGreaterThan(0.6 * (1_000 / 30) * 2);
    } finally {
      await closeAll(workers, server);
    }
  });

  it('a worker that waits with no share of the cap asks again at least once a second: its report stays among the live ones (2 s), so a freed share is pushed to it', async () => {
    const clock = new VirtualClock();
    // The fleet learned a cap of 2 on the key (no lift for a long while); A holds it, B asks.
    const [seconds, micros] = await fx.admin.time();
    const serverMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    await fx.admin.hset(`${prefix}:flow:cap:c6`, { c: '2', t: '', la: '600000', cs: String(serverMs), v: '1', n: '0' });
    const [a, b] = [worker('c6', clock), worker('c6', clock)] as [Worker, Worker];
    const held: Permit[] = [];
    try {
      for (let i = 0; i < 10 && held.length < 2; i++) {
        const p = a.pool.limiter('c6').tryAcquire();
        if (p) held.push(p);
        await a.engine.flush();
      }
      expect(held).toHaveLength(2);
      expect(b.pool.limiter('c6').tryAcquire()).toBeUndefined();
      await b.engine.flush();
      // B waits (its limiter asks locally all the while); its lease calls go on their own timer.
      const asks: number[] = [];
      for (let t = 0; t < 500; t++) {
        const before = b.engine.calls;
        await clock.advance(10);
        expect(b.pool.limiter('c6').tryAcquire()).toBeUndefined();
        if (b.engine.calls > before) asks.push(clock.now());
        // Virtual time waits for a lease call's real round trip: a call still in flight holds back the
        // next one, and on a loaded machine 10 virtual ms per real ms read a slow round trip as a late ask.
        for (let k = 0; k < 1_000 && b.engine.callInFlight; k++) await new Promise((r) => setTimeout(r, 1));
        await new Promise((r) => setTimeout(r, 1));
      }
      const gaps = asks.slice(1).map((at, i) => at - asks[i]!);
      expect(gaps.length).toBeGreaterThanOrEqual(4);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(1_000 + 20);
    } finally {
      for (const p of held) p.release();
      for (const w of [a, b]) {
        w.pool.close();
        await w.engine.close();
      }
    }
  });

  it('a lease call that frees part of a share while another worker waits with none says so, and the waiting worker gets its start at once', async () => {
    const clock = new VirtualClock();
    const workers = [0, 1, 2].map(() => worker('c4', clock));
    const server = new Server(2, 30);
    const subscriber = fx.admin.duplicate();
    const messages: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => messages.push(message));
    await subscriber.subscribe(workers[0]!.engine.channel);
    try {
      // Three workers on a cap of 2: one of them (or two) asks and waits with none.
      await run(workers, server, 'c4', clock, 150);
      expect(await fx.admin.hget(`${prefix}:flow:cap:c4`, 'c')).toBe('2');
      const waiting = (await reportsOf('c4')).filter((r) => r.startsWith('0:') && r.split(':')[3] === '1');
      // (Two, when one worker holds the whole cap: it is split over the workers that reserve some.)
      expect(waiting.length).toBeGreaterThanOrEqual(1);
      // The others' calls end and they ask for nothing more: their lease calls free their parts.
      server.end(Infinity);
      for (let t = 0; t < 20; t++) {
        await clock.advance(10);
        for (const w of workers) await w.engine.flush();
      }
      await vi.waitFor(() => expect(messages).toContain(`${CAP_FREED}c4`));
      // Told, the waiting worker asks now, not when its wait (250 ms and more) ends: a start at this instant.
      for (const w of workers) w.engine.pushed(`${CAP_FREED}c4`);
      for (const w of workers) await w.engine.flush();
      const started = workers.map((w) => ({ p: w.pool.limiter('c4').tryAcquire(), w })).filter((s): s is { p: Permit; w: Worker } => s.p !== undefined);
      expect(started.length).toBeGreaterThanOrEqual(1);
      for (const { p, w } of started) server.start(p, clock.now(), w.engine);
    } finally {
      await subscriber.quit();
      await closeAll(workers, server);
    }
  });
});
