/**
 * The circuit breaker shared in Redis (`breaker.lua`): a worker that gets a 401 from the simulator
 * opens the provider's breaker at once (`auth` in `openOnKinds`); another worker (own connection)
 * sends nothing until the half-open time, then exactly one probe, whose success closes it for all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { startSimulator, type Simulator } from '../../src/simulator/server.js';
import { runRedisWorker } from '../../src/batch/redis/run-worker.js';
import { connectRedis } from '../../src/flow/redis/connect.js';
import { RedisCircuitBreaker } from '../../src/flow/redis/shared-breaker.js';
import { openAICompatibleAdapter } from '../../src/provider/openai-compatible.js';
import type { ProviderAdapter } from '../../src/provider/types.js';
import { REDIS_URL, chatItems, cleanup, enqueueItems, testClient, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('breaker');
const BREAK_MS = 1500;
let admin: Redis;
let dir: string;
let sim: Simulator;

beforeAll(async () => {
  admin = testClient();
  dir = mkdtempSync(join(tmpdir(), 'sluice-redis-breaker-'));
  sim = await startSimulator({ seed: 9, keys: [{ name: 'good', secret: 'sk-breaker-good' }], latency: { type: 'fixed', ms: 30 } });
});

afterAll(async () => {
  await sim.close();
  await cleanup(admin, prefix);
  await admin.quit();
  rmSync(dir, { recursive: true, force: true });
});

async function enqueue(run: string, n: number): Promise<void> {
  const connection = await connectRedis(REDIS_URL);
  try {
    await enqueueItems(connection, { dir, prefix, run }, chatItems(n, `${run}-`));
  } finally {
    await connection.quit();
  }
}

/** The simulator's OpenAI adapter, noting when each call started and ended. */
function timedAdapter(): ProviderAdapter & { calls: { start: number; end: number }[] } {
  const inner = openAICompatibleAdapter({ baseUrl: `${sim.url}/v1` });
  const calls: { start: number; end: number }[] = [];
  return {
    ...inner,
    calls,
    async call(payload, ctx) {
      const call = { start: Date.now(), end: Infinity };
      calls.push(call);
      try {
        return await inner.call(payload as Parameters<typeof inner.call>[0], ctx);
      } finally {
        call.end = Date.now();
      }
    },
  };
}

const breaker = { breakDurationMs: BREAK_MS, probeLeaseMs: 5_000 };

describe('circuit breaker shared in Redis', () => {
  it('a 401 on one worker stops another at once until half-open, then one probe closes it', async () => {
    await enqueue('auth', 1);
    const first = timedAdapter();
    // A revoked key (the simulator does not know it): 401, the breaker opens at once.
    const a = await runRedisWorker({ url: REDIS_URL, prefix, run: 'auth', provider: first, keys: [{ name: 'revoked', secret: 'sk-revoked' }], breaker, concurrency: 1, pollMs: 20 });
    expect(a.counts.failedByKind).toMatchObject({ auth: 1 });
    expect(first.calls).toHaveLength(1);
    const openedAfter = first.calls[0]!.end;
    const state = await admin.hgetall(`${prefix}:flow:breaker:provider:openai-compatible`);
    expect(Number(state.until)).toBeGreaterThanOrEqual(openedAfter + BREAK_MS - 5);

    // Another worker, its own connection and a good key, starts while the breaker is open.
    await enqueue('after', 6);
    const second = timedAdapter();
    const startedAt = Date.now();
    expect(startedAt).toBeLessThan(openedAfter + BREAK_MS);
    const b = await runRedisWorker({ url: REDIS_URL, prefix, run: 'after', provider: second, keys: [{ name: 'good', secret: 'sk-breaker-good' }], breaker, concurrency: 4, pollMs: 20 });
    expect(b.counts.byState.succeeded).toBe(6);
    const calls = [...second.calls].sort((x, y) => x.start - y.start);
    expect(calls).toHaveLength(6);
    // Nothing before the half-open time; then one probe alone: the next call starts after it ended.
    expect(calls[0]!.start).toBeGreaterThanOrEqual(openedAfter + BREAK_MS - 5);
    expect(calls[1]!.start).toBeGreaterThanOrEqual(calls[0]!.end);
    expect(sim.stats({ log: false }).keys.good?.requests).toBe(6);
    // The probe's success closed it for everyone.
    expect(await admin.exists(`${prefix}:flow:breaker:provider:openai-compatible`)).toBe(0);
  }, 20_000);

  it('counts consecutive failures across workers and gives the half-open probe to one caller only', async () => {
    const clients = [testClient(), testClient()];
    try {
      const [x, y] = clients.map((c) => new RedisCircuitBreaker(c, { scope: 'count', prefix, failures: 3, breakDurationMs: 200, probeLeaseMs: 5_000 }));
      await x!.recordFailure('server_error', false);
      await y!.recordFailure('server_error', false);
      expect((await x!.acquire()).ok).toBe(true);
      expect(await y!.recordFailure('timeout', false)).toMatchObject({ state: 'open' });
      expect(await x!.acquire()).toMatchObject({ ok: false, state: 'open' });
      await new Promise((r) => setTimeout(r, 250));
      const tickets = await Promise.all([x!.acquire(), y!.acquire(), x!.acquire(), y!.acquire()]);
      expect(tickets.filter((t) => t.ok)).toEqual([{ ok: true, probe: true }]);
      expect(await y!.acquire()).toMatchObject({ ok: false, state: 'half-open' });
      // A bad request means the service answered: the probe closes the circuit.
      expect(await x!.recordFailure('invalid_request', true)).toMatchObject({ state: 'closed' });
      expect(await y!.acquire()).toEqual({ ok: true, probe: false });
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('rejects bad options with the field named', () => {
    expect(() => new RedisCircuitBreaker(admin, { scope: '' })).toThrow(/scope/);
    expect(() => new RedisCircuitBreaker(admin, { scope: 's', failures: 0 })).toThrow(/failures/);
    expect(() => new RedisCircuitBreaker(admin, { scope: 's', openOnKinds: ['nope' as never] })).toThrow(/openOnKinds\[0\]/);
  });
});
