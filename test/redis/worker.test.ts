/**
 * In-process Redis workers (`runRedisWorker`) with a scripted provider:
 * - a bare 429 (no wait, no headers) cools the key in Redis for every worker at once: 1 s with rate
 *   learning on (the default), a fixed 30 s with `learnRate: false`; a second worker never uses it;
 * - the connection lost mid-run (the test's own connections killed with CLIENT KILL, found by name):
 *   the worker reports it, reconnects, and the run finishes with every item done exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { enqueueBatch } from '../../src/batch/redis/enqueue.js';
import { openRunQueue } from '../../src/batch/redis/queue.js';
import { RedisJobStore } from '../../src/batch/redis/redis-store.js';
import { runRedisWorker, type RunRedisWorkerOptions } from '../../src/batch/redis/run-worker.js';
import type { RedisWorkerEvents } from '../../src/batch/redis/worker.js';
import { connectRedis } from '../../src/flow/redis/connect.js';
import type { ProviderAdapter } from '../../src/provider/types.js';
import { REDIS_URL, cleanup, testClient, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('worker');
let admin: Redis;
let dir: string;

beforeAll(() => {
  admin = testClient();
  dir = mkdtempSync(join(tmpdir(), 'sluice-redis-worker-'));
});

afterAll(async () => {
  await cleanup(admin, prefix);
  await admin.quit();
  rmSync(dir, { recursive: true, force: true });
});

/** A provider that answers a bare 429 on the keys in `refuse` and succeeds elsewhere, counting calls per item. */
function scriptedProvider(refuse: ReadonlySet<string>, latencyMs = 0): ProviderAdapter & { calls: Map<string, number>; byKey: Map<string, number> } {
  const calls = new Map<string, number>();
  const byKey = new Map<string, number>();
  return {
    name: 'scripted',
    calls,
    byKey,
    async call(payload, ctx) {
      const id = (payload as { tag: string }).tag;
      calls.set(id, (calls.get(id) ?? 0) + 1);
      byKey.set(ctx.key.name, (byKey.get(ctx.key.name) ?? 0) + 1);
      if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
      if (refuse.has(ctx.key.name)) throw new SluiceError({ kind: 'rate_limited', retryable: true, status: 429, message: 'HTTP 429' });
      return { result: { echo: id } };
    },
  };
}

/** Writes `n` items and enqueues them as run `run`. */
async function enqueue(run: string, n: number): Promise<void> {
  const input = join(dir, `${run}.jsonl`);
  writeFileSync(input, Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${run}-${i}`, tag: `${run}-${i}` })).join('\n') + '\n');
  const connection = await connectRedis(REDIS_URL);
  try {
    const store = new RedisJobStore(connection, { prefix, run });
    const queue = openRunQueue(connection, prefix, run);
    const summary = await enqueueBatch({ input, store, queue });
    await queue.close();
    expect(summary).toMatchObject({ total: n, enqueued: n });
  } finally {
    await connection.quit();
  }
}

/** Runs one in-process worker until its run is finished, collecting its attempt events. */
async function work(options: Omit<RunRedisWorkerOptions, 'url' | 'prefix'>, attempts: RedisWorkerEvents['attempt'][] = []) {
  const summary = await runRedisWorker({
    url: REDIS_URL,
    prefix,
    pollMs: 50,
    ...options,
    onStart: (w) => {
      w.events.on('attempt', (a) => attempts.push(a));
      options.onStart?.(w);
    },
  });
  return { summary, attempts };
}

/** Remaining cooldown of a key in Redis, ms (-2: none). Polled briefly: the pool writes it without waiting. */
async function cooldownLeft(key: string): Promise<number> {
  let ttl = -2;
  for (let i = 0; i < 100 && ttl === -2; i++) {
    ttl = await admin.pttl(`${prefix}:flow:state:${key}`);
    if (ttl === -2) await new Promise((r) => setTimeout(r, 5));
  }
  return ttl;
}

describe('bare 429s in Redis workers', () => {
  it('learnRate: false cools the key a fixed 30 s, and a second worker never uses it', async () => {
    const keys = [
      { name: 'fixed-a', secret: 'sk-fa' },
      { name: 'fixed-b', secret: 'sk-fb' },
    ];
    await enqueue('fixed1', 1);
    const first = await work({ run: 'fixed1', keys, provider: scriptedProvider(new Set(['fixed-a'])), learnRate: false, concurrency: 1 });
    // Round robin starts at fixed-a: 429 there, then at once on fixed-b (failover), succeeded.
    expect(first.attempts.map((a) => [a.key, a.ok])).toEqual([
      ['fixed-a', false],
      ['fixed-b', true],
    ]);
    expect(first.summary.counts.byState.succeeded).toBe(1);
    const left = await cooldownLeft('fixed-a');
    expect(left).toBeGreaterThan(20_000);
    expect(left).toBeLessThanOrEqual(30_000);
    // Another worker (own connection, own pool, same prefix: same quota) sees the cooldown at once.
    await enqueue('fixed2', 12);
    const provider = scriptedProvider(new Set(['fixed-a']));
    const second = await work({ run: 'fixed2', keys, provider, learnRate: false, concurrency: 4 });
    expect(second.summary.counts.byState.succeeded).toBe(12);
    expect(new Set(second.attempts.map((a) => a.key))).toEqual(new Set(['fixed-b']));
    expect(provider.byKey.get('fixed-a')).toBeUndefined();
  });

  it('with rate learning (the default) a bare 429 cools the key about 1 s, not 30 s', async () => {
    const keys = [
      { name: 'learn-a', secret: 'sk-la' },
      { name: 'learn-b', secret: 'sk-lb' },
    ];
    await enqueue('learn1', 1);
    let left: Promise<number> = Promise.resolve(-3);
    const first = await work({
      run: 'learn1',
      keys,
      provider: scriptedProvider(new Set(['learn-a'])),
      concurrency: 1,
      onStart: (w) => w.events.on('attempt', (a) => void (a.ok ? undefined : (left = cooldownLeft('learn-a')))),
    });
    expect(first.attempts.map((a) => [a.key, a.ok])).toEqual([
      ['learn-a', false],
      ['learn-b', true],
    ]);
    // -2 (already expired) is a short cooldown too; -1 (no expiry) or anything over 1 s is not.
    const ms = await left;
    expect(ms).not.toBe(-1);
    expect(ms).not.toBe(-3);
    expect(ms).toBeLessThanOrEqual(1000);
  });
});
