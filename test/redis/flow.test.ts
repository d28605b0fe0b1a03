import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { RedisFlowBackend } from '../../src/flow/redis/redis-flow-backend.js';
import { RedisConnectError, connectRedis, redactRedisUrl } from '../../src/flow/redis/connect.js';
import { KeyPool } from '../../src/flow/key-pool.js';
import type { BucketSpec } from '../../src/flow/bucket.js';
import { MemoryLimiterStore, type LimiterStore } from '../../src/flow/backend.js';
import type { Classification } from '../../src/classify/kinds.js';
import { REDIS_URL, cleanup, testClient, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('flow');
const HOUR = 3_600_000;
let admin: Redis;
const backends: RedisFlowBackend[] = [];

async function backends8(): Promise<RedisFlowBackend[]> {
  const made = await Promise.all(Array.from({ length: 8 }, () => RedisFlowBackend.connect(REDIS_URL, { prefix })));
  backends.push(...made);
  return made;
}

beforeAll(() => {
  admin = testClient();
});

afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await cleanup(admin, prefix);
  await admin.quit();
});

describe('Redis limiter (Lua reserve/settle)', () => {
  it('many clients reserving at once never get more than the bucket holds', async () => {
    const clients = await backends8();
    // A bucket of 20 that refills one start per hour: in this test exactly 20 can be granted.
    const spec: BucketSpec = { windowMs: HOUR, requests: 20, requestBurst: 20, tokenBurst: 0 };
    const answers = await Promise.all(
      clients.flatMap((b) => Array.from({ length: 40 }, () => b.limiter.reserve('req-key', 0, spec))),
    );
    expect(answers.filter((a) => a.ok)).toHaveLength(20);
    const refused = answers.filter((a) => !a.ok);
    expect(refused).toHaveLength(300);
    // The wait of an empty bucket is one refill interval (an hour), less the few ms elapsed.
    for (const r of refused) expect(r.waitMs).toBeGreaterThan(HOUR - 60_000);
  });

  it('token budgets hold under concurrency, and settle refunds what a response did not use', async () => {
    const clients = await backends8();
    const spec: BucketSpec = { windowMs: HOUR, tokens: 1000, tokenBurst: 1000, requestBurst: 1 };
    const answers = await Promise.all(clients.flatMap((b) => Array.from({ length: 10 }, () => b.limiter.reserve('tok-key', 30, spec))));
    expect(answers.filter((a) => a.ok)).toHaveLength(33); // floor(1000 / 30)
    expect(await clients[0]!.limiter.waitMs('tok-key', 30, spec, 0)).toBeGreaterThan(0);
    // Two reservations used only 10 tokens each: 40 tokens come back, enough for one more 30-token start.
    await clients[1]!.limiter.settle('tok-key', -20, spec, 0);
    await clients[2]!.limiter.settle('tok-key', -20, spec, 0);
    expect(await clients[3]!.limiter.waitMs('tok-key', 30, spec, 0)).toBe(0);
    expect((await clients[4]!.limiter.reserve('tok-key', 30, spec, 0)).ok).toBe(true);
    expect((await clients[5]!.limiter.reserve('tok-key', 30, spec, 0)).ok).toBe(false);
  });

  it('min spacing and a server cap are shared between clients', async () => {
    const [a, b] = await backends8();
    const spacing: BucketSpec = { windowMs: 60_000, requestBurst: 1, tokenBurst: 0, minSpacingMs: HOUR };
    expect((await a!.limiter.reserve('spaced', 0, spacing, 0)).ok).toBe(true);
    const second = await b!.limiter.reserve('spaced', 0, spacing, 0);
    expect(second.ok).toBe(false);
    expect(second.waitMs).toBeGreaterThan(HOUR - 60_000);
    // The server said 1 request remains until its reset in an hour (times are the caller's clock).
    const open: BucketSpec = { windowMs: 60_000, requests: 1_000_000, requestBurst: 1000, tokenBurst: 0 };
    await a!.limiter.cap('capped', { requests: { remaining: 1, resetAt: 5000 + HOUR } }, 5000);
    expect((await b!.limiter.reserve('capped', 0, open, 0)).ok).toBe(true);
    const after = await a!.limiter.reserve('capped', 0, open, 0);
    expect(after.ok).toBe(false);
    expect(after.waitMs).toBeGreaterThan(HOUR - 60_000);
  });
});

describe('Redis limiter = in-memory limiter (bucket.ts), server caps included', () => {
  /** One sequence of caps and reserves against a store; returns which reserves were granted. */
  async function grants(store: Pick<LimiterStore, 'reserve' | 'cap'>, key: string, now: number): Promise<boolean[]> {
    // A slow smooth bucket (1 start now, then one an hour) that a fixed window's remainder bypasses.
    const spec: BucketSpec = { windowMs: HOUR, requests: 1, requestBurst: 1, tokenBurst: 0 };
    const out: boolean[] = [];
    const take = async (): Promise<void> => {
      out.push((await store.reserve(key, 0, spec, now)).ok);
    };
    await take(); // the bucket's one start
    await take(); // refused: the smooth bucket is empty
    // A fixed window says 3 remain until its reset in 10 s: spent at once, past the empty bucket.
    await store.cap(key, { requests: { remaining: 3, resetAt: now + 10_000, spend: true } }, now);
    for (let i = 0; i < 4; i++) await take(); // 3 granted, then refused
    // A late answer from the same window (reset 0.5 s later) with more remaining: the remainder is the
    // latest answer's, the reset the earliest; an answer naming an earlier window is ignored.
    await store.cap(key, { requests: { remaining: 2, resetAt: now + 10_500, spend: true } }, now);
    await store.cap(key, { requests: { remaining: 50, resetAt: now + 5_000, spend: true } }, now);
    for (let i = 0; i < 3; i++) await take(); // 2 granted, then refused
    // A continuous refill's cap (no spend) only bounds the smooth bucket, which is still empty.
    await store.cap(key, { requests: { remaining: 10, resetAt: now + 20_000 } }, now);
    await take();
    return out;
  }

  it('grants exactly the same starts as MemoryLimiterStore for the same caps and reserves', async () => {
    const [redis] = await backends8();
    const memory = new MemoryLimiterStore();
    // Redis runs on its own clock; the memory store is given the same instant.
    const now = Date.now();
    const expected = await grants(memory, 'parity', now);
    expect(expected).toEqual([true, false, true, true, true, false, true, true, false, false]);
    expect(await grants(redis!.limiter, 'parity', now)).toEqual(expected);
  });
});

describe('Redis key states', () => {
  const limited: Classification = { kind: 'rate_limited', retryable: true, status: 429, message: '429', retryAfterMs: HOUR };

  it('a cooldown set through one connection is seen at once through another, and a shorter one never shortens it', async () => {
    const [a, b] = await backends8();
    await a!.keys.set('k1', { state: 'cooling', until: 1000 + HOUR, reason: '429' }, 1000);
    // b's clock is far off: it still sees an hour left, on its own clock.
    const seen = await b!.keys.get('k1', 50_000_000);
    expect(seen.state).toBe('cooling');
    if (seen.state !== 'cooling') throw new Error('unreachable');
    expect(seen.until - 50_000_000).toBeGreaterThan(HOUR - 60_000);
    await b!.keys.set('k1', { state: 'cooling', until: 10, reason: 'short' }, 0);
    const states = await a!.keys.states(0);
    expect(states.get('k1')).toMatchObject({ state: 'cooling', reason: '429' });
    await b!.keys.set('k1', { state: 'disabled', reason: 'auth' }, 0);
    await a!.keys.set('k1', { state: 'cooling', until: 2 * HOUR, reason: 'later 429' }, 0);
    expect(await b!.keys.get('k1', 0)).toEqual({ state: 'disabled', reason: 'auth' });
    await a!.keys.set('k1', { state: 'active' }, 0);
    expect(await b!.keys.get('k1', 0)).toEqual({ state: 'active' });
  });

  it('a park that ends at the same instant as the one in force (its "ms from now" counted a little earlier) keeps the first reason; a later end replaces it', async () => {
    const [a, b] = await backends8();
    await a!.keys.set('k3', { state: 'parked', until: 2 * HOUR, reason: 'daily quota at 80 % (8/10 requests by all workers)' }, 0);
    // b parks it until the same rollover, its wait counted 300 ms before its call reached Redis.
    await b!.keys.set('k3', { state: 'parked', until: 2 * HOUR + 300, reason: 'quota exhausted (day)' }, 0);
    expect((await a!.keys.states(0)).get('k3')).toMatchObject({ state: 'parked', reason: 'daily quota at 80 % (8/10 requests by all workers)' });
    await b!.keys.set('k3', { state: 'parked', until: 3 * HOUR, reason: 'a day later' }, 0);
    expect((await a!.keys.states(0)).get('k3')).toMatchObject({ state: 'parked', reason: 'a day later' });
    await a!.keys.set('k3', { state: 'active' }, 0);
  });

  it('a cooldown ends for every worker by itself (expiry), and expired names leave the state set', async () => {
    const [a, b] = await backends8();
    await a!.keys.set('k2', { state: 'parked', until: 30, reason: 'quota' }, 0);
    expect((await b!.keys.states(0)).has('k2')).toBe(true);
    let ended = false;
    for (let i = 0; i < 100 && !ended; i++) {
      await new Promise((r) => setTimeout(r, 10));
      ended = !(await b!.keys.states(0)).has('k2');
    }
    expect(ended).toBe(true);
    expect(await admin.sismember(`${prefix}:flow:states`, 'k2')).toBe(0);
  });

  it('two key pools in two "processes": a 429 on one cools the key for the other at once', async () => {
    const [a, b] = await backends8();
    const keys = [
      { name: 'p1', secret: 'sk-1' },
      { name: 'p2', secret: 'sk-2' },
    ];
    const poolA = new KeyPool({ keys, backend: a!, limits: { requestsPerMinute: 1_000_000 } });
    const poolB = new KeyPool({ keys, backend: b!, limits: { requestsPerMinute: 1_000_000 } });
    poolA.reportFailure('p1', limited);
    await new Promise((r) => setTimeout(r, 20)); // the write is fire-and-forget in the pool
    for (let i = 0; i < 4; i++) {
      const picked = await poolB.pick();
      expect(picked.ok && picked.key.name).toBe('p2');
      if (picked.ok) picked.permit.release();
    }
    expect(poolB.stateOf('p1').state).toBe('cooling');
    poolA.close();
    poolB.close();
  });
});

describe('Redis quota counters', () => {
  it('adds atomically across clients and restarts the counters on a new day', async () => {
    const clients = await backends8();
    await Promise.all(clients.flatMap((c) => Array.from({ length: 25 }, () => c.quota.add('q', '2025-01-01', 1, 10))));
    expect(await clients[0]!.quota.load('q')).toMatchObject({ day: '2025-01-01', requests: 200, tokens: 2000 });
    expect(await clients[1]!.quota.add('q', '2025-01-02', 1, 5)).toMatchObject({ day: '2025-01-02', requests: 1, tokens: 5 });
  });
});

describe('connecting', () => {
  it('a server that does not answer fails at start with a clear message; a bad URL names itself', async () => {
    await expect(connectRedis('redis://127.0.0.1:1', { connectTimeoutMs: 2000 })).rejects.toThrow(RedisConnectError);
    await expect(connectRedis('redis://127.0.0.1:1', { connectTimeoutMs: 2000 })).rejects.toThrow(/backend redis:\/\/127\.0\.0\.1:1: cannot reach Redis/);
    await expect(connectRedis('http://127.0.0.1:6379')).rejects.toThrow(/scheme must be redis/);
    await expect(connectRedis('redis://127.0.0.1:6379/abc')).rejects.toThrow(/database must be a number/);
    expect(redactRedisUrl('redis://user:hunter2@host:6379/1')).toBe('redis://user:***@host:6379/1');
    await expect(connectRedis('redis://:hunter2@127.0.0.1:1', { connectTimeoutMs: 2000 })).rejects.not.toThrow(/hunter2/);
  });
});
