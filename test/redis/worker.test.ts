/**
 * In-process Redis workers (`runRedisWorker`) with a scripted provider:
 * - a bare 429 (no wait, no headers) cools the key in Redis for every worker at once: 1 s with rate
 *   learning on (the default), a fixed 30 s with `learnRate: false`; a second worker never uses it;
 * - the connection lost mid-run (the test's own connections killed with CLIENT KILL, found by name):
 *   the worker reports it, reconnects, and the run finishes with every item done exactly once;
 * - a job carries its item (queue.ts): the worker reads no item on a job's first run (one round trip
 *   per request less); a stale copy (attempts counted since the job was added) is refused by
 *   begin-attempt.lua and the item is read, so the attempt numbers and the skip of a final item hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { RedisJobStore } from '../../src/batch/redis/redis-store.js';
import { runRedisWorker, type RunRedisWorkerOptions } from '../../src/batch/redis/run-worker.js';
import type { RedisWorkerEvents } from '../../src/batch/redis/worker.js';
import { connectRedis, reconnectMessage } from '../../src/flow/redis/connect.js';
import type { ProviderAdapter } from '../../src/provider/types.js';
import { CARRY_MAX_CHARS, jobIdFor, openRunQueue } from '../../src/batch/redis/queue.js';
import { REDIS_URL, cleanup, enqueueItems, testClient, uniquePrefix } from './helpers.js';

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
  const connection = await connectRedis(REDIS_URL);
  try {
    const items = Array.from({ length: n }, (_, i) => ({ id: `${run}-${i}`, tag: `${run}-${i}` }));
    const { summary } = await enqueueItems(connection, { dir, prefix, run }, items);
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
    onStart: (w, store) => {
      w.events.on('attempt', (a) => attempts.push(a));
      options.onStart?.(w, store);
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

describe('a job carries its item', () => {
  const keys = [{ name: 'carry-a', secret: 'sk-ca' }];

  /** Runs `run` with one worker, counting the store's item reads. */
  async function counted(run: string, provider: ProviderAdapter) {
    let reads = 0;
    let store: RedisJobStore | undefined;
    const done = await work({
      run,
      keys,
      provider,
      concurrency: 2,
      onStart: (_w, s) => {
        store = s;
        const get = s.get.bind(s);
        s.get = (id: string) => (reads++, get(id));
      },
    });
    return { ...done, reads, store: store! };
  }

  it("a job's first run reads no item: one command per request less", async () => {
    await enqueue('carry1', 6);
    const provider = scriptedProvider(new Set());
    const { summary, reads } = await counted('carry1', provider);
    expect(summary.counts.byState.succeeded).toBe(6);
    expect([...provider.calls.values()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(reads).toBe(0);
  });

  it('a payload over CARRY_MAX_CHARS stays in the item only (the worker reads it), a smaller one rides in the job', async () => {
    const connection = await connectRedis(REDIS_URL);
    const queue = openRunQueue(connection, prefix, 'carry3');
    try {
      const big = 'x'.repeat(CARRY_MAX_CHARS);
      await enqueueItems(connection, { dir, prefix, run: 'carry3' }, [
        { id: 'small', tag: 'small' },
        { id: 'big', tag: 'big', text: big },
      ]);
      expect((await queue.getJob(jobIdFor('small')))?.data).toEqual({ id: 'small', item: { payload: { tag: 'small' }, priority: 0, attempts: 0 } });
      expect((await queue.getJob(jobIdFor('big')))?.data).toEqual({ id: 'big' });
    } finally {
      await queue.close();
      await connection.quit();
    }
    const provider = scriptedProvider(new Set());
    const { summary, reads } = await counted('carry3', provider);
    expect(summary.counts.byState.succeeded).toBe(2);
    expect(reads).toBe(1);
  });

  it('a stale copy is refused before anything is sent; the item is read, and a final one skipped', async () => {
    await enqueue('carry2', 2);
    const store = new RedisJobStore(admin, { prefix, run: 'carry2' });
    // After the jobs were added: two attempts counted on carry2-0 (as by a worker that died), carry2-1 final.
    await admin.hset(`${store.base}:item:carry2-0`, 'attempts', 2);
    await store.complete([{ id: 'carry2-1', state: 'succeeded', result: 'earlier' }]);
    const provider = scriptedProvider(new Set());
    const { summary, attempts, reads } = await counted('carry2', provider);
    expect(attempts.map((a) => [a.id, a.attempt, a.ok])).toEqual([['carry2-0', 3, true]]);
    expect(provider.calls.get('carry2-0')).toBe(1);
    expect(provider.calls.get('carry2-1')).toBeUndefined();
    expect(reads).toBe(1);
    expect(summary.stats.skipped).toBe(1);
    const item = await store.get('carry2-0');
    expect(item).toMatchObject({ state: 'succeeded', attempts: 3, result: { echo: 'carry2-0' } });
    expect((await store.get('carry2-1'))?.result).toBe('earlier');
  });
});

/** Kills this test's connections (named under `name`) with CLIENT KILL ID; returns how many. */
async function killConnections(name: string): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  const ids = list
    .split('\n')
    .map((line) => ({ id: /\bid=(\d+)/.exec(line)?.[1], name: /\bname=(\S*)/.exec(line)?.[1] ?? '' }))
    .filter((c) => c.id !== undefined && c.name.startsWith(name));
  for (const c of ids) await admin.client('KILL', 'ID', c.id!);
  return ids.length;
}

describe('Redis lost mid-run', () => {
  it('the worker says so, reconnects with bounded backoff, and every item is done exactly once', async () => {
    const run = 'lost';
    const n = 120;
    await enqueue(run, n);
    const store = new RedisJobStore(admin, { prefix, run });
    const provider = scriptedProvider(new Set(), 15);
    const lostLines: string[] = [];
    const delays: number[] = [];
    let reconnected = 0;
    // BullMQ names its own (blocking) connection `<prefix>:bull:…`: both start with the prefix.
    const done = work({
      run,
      keys: [{ name: 'lost-a', secret: 'sk-lost' }],
      provider,
      concurrency: 4,
      redis: { connectionName: `${prefix}:worker` },
      onReconnect: (info) => {
        delays.push(info.delayMs);
        lostLines.push(reconnectMessage(info));
      },
      onReconnected: () => reconnected++,
    });
    // Once a sixth of the items are done, cut the worker's connections three times (bounded polls).
    for (let i = 0; i < 400 && (await store.counts()).byState.succeeded < n / 6; i++) await new Promise((r) => setTimeout(r, 10));
    let killed = 0;
    for (let cut = 0; cut < 3; cut++) {
      killed += await killConnections(prefix);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(killed).toBeGreaterThanOrEqual(3);
    expect((await store.counts()).byState.succeeded).toBeLessThan(n); // the cuts happened mid-run
    const { summary } = await done;
    expect(summary.finished).toBe(true);
    expect(summary.counts.byState).toEqual({ pending: 0, running: 0, succeeded: n, failed: 0, cancelled: 0 });
    expect(lostLines.length).toBeGreaterThanOrEqual(1);
    expect(lostLines[0]).toMatch(/^Redis connection lost; commands wait, nothing is dropped; reconnecting \(attempt \d+, next in \d+ ms\)$/);
    expect(Math.max(...delays)).toBeLessThanOrEqual(5_000); // bounded backoff
    expect(reconnected).toBeGreaterThanOrEqual(1);
    // Exactly once: one provider call and one counted attempt per item, one result each.
    expect(provider.calls.size).toBe(n);
    expect([...provider.calls.values()].every((c) => c === 1)).toBe(true);
    let finals = 0;
    for await (const item of store.finalItems(100)) {
      finals++;
      expect(item.attempts).toBe(1);
      expect(item.result).toEqual({ echo: item.id });
    }
    expect(finals).toBe(n);
  }, 30_000);
});
