/**
 * The daily budget is the fleet's, not each worker's: two in-process workers (own connections, own
 * pools) share `requestsPerDay` through `quota-take.lua`, send no more than it allows in total to the
 * simulator, and both park the key until the day's rollover. The latest snapshot is shared too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { startSimulator, type Simulator } from '../../src/simulator/server.js';
import { runRedisWorker, type RedisWorkerSummary } from '../../src/batch/redis/run-worker.js';
import type { RedisWorkerEvents } from '../../src/batch/redis/worker.js';
import { connectRedis } from '../../src/flow/redis/connect.js';
import { RedisFlowBackend } from '../../src/flow/redis/redis-flow-backend.js';
import { SharedDailyQuota } from '../../src/flow/redis/shared-quota.js';
import { openAICompatibleAdapter } from '../../src/provider/openai-compatible.js';
import { REDIS_URL, chatItems, cleanup, enqueueItems, testClient, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('daily');
let admin: Redis;
let dir: string;
let sim: Simulator;

beforeAll(async () => {
  admin = testClient();
  dir = mkdtempSync(join(tmpdir(), 'sluice-redis-daily-'));
  sim = await startSimulator({ seed: 5, keys: [{ name: 'a', secret: 'sk-daily-a', requestsPerMinute: 6000 }], latency: { type: 'uniform', min: 2, max: 10 } });
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

/** Two workers on `run` until every item either succeeded or waits for the key; their events. */
async function twoWorkers(run: string, items: number, options: { requestsPerDay: number; pauseThreshold?: number }) {
  const controller = new AbortController();
  const delayed: RedisWorkerEvents['delayed'][][] = [[], []];
  const succeeded: string[] = [];
  const runs: Promise<RedisWorkerSummary>[] = [0, 1].map((w) =>
    runRedisWorker({
      url: REDIS_URL,
      prefix,
      run,
      provider: openAICompatibleAdapter({ baseUrl: `${sim.url}/v1` }),
      keys: [{ name: 'a', secret: 'sk-daily-a' }],
      limits: { requestsPerDay: options.requestsPerDay },
      ...(options.pauseThreshold !== undefined && { quota: { pauseThreshold: options.pauseThreshold } }),
      concurrency: 4,
      pollMs: 50,
      exitWhenDone: false,
      signal: controller.signal,
      onStart: (worker) => {
        worker.events.on('delayed', (d) => delayed[w]!.push(d));
        worker.events.on('item', (i) => void (i.state === 'succeeded' && succeeded.push(i.id)));
      },
    }),
  );
  const settled = () => succeeded.length + new Set(delayed.flat().map((d) => d.id)).size >= items;
  for (let i = 0; i < 300 && !settled(); i++) await new Promise((r) => setTimeout(r, 25));
  controller.abort();
  await Promise.all(runs);
  return { delayed, succeeded };
}

describe('daily budget shared by the fleet', () => {
  it.each([
    { name: 'the budget itself (pauseThreshold 1)', requestsPerDay: 10, pauseThreshold: 1, sent: 10 },
    { name: 'the default pause at 80 %', requestsPerDay: 10, pauseThreshold: undefined, sent: 8 },
  ])('two workers send $sent requests in total ($name), then both park the key until the rollover', async ({ requestsPerDay, pauseThreshold, sent }) => {
    sim.resetStats();
    const run = `daily-${sent}`;
    await enqueue(run, 30);
    const { delayed, succeeded } = await twoWorkers(run, 30, { requestsPerDay, ...(pauseThreshold !== undefined && { pauseThreshold }) });
    // Each worker alone would have sent up to the whole budget: together they send it once.
    expect(sim.stats({ log: false }).keys.a?.requests).toBe(sent);
    expect(succeeded).toHaveLength(sent);
    const quota = new SharedDailyQuota({ quota: undefined as never, keys: undefined as never });
    const rollover = quota.nextRollover(Date.now());
    // Both workers parked the key: each moved jobs to the delayed set until the day's rollover.
    for (const events of delayed) {
      expect(events.length).toBeGreaterThan(0);
      for (const d of events) expect(d.untilMs).toBeGreaterThanOrEqual(rollover - 1000);
    }
    const state = JSON.parse((await admin.get(`${prefix}:flow:state:a`))!) as { state: string; reason: string };
    expect(state.state).toBe('parked');
    expect(state.reason).toContain(`${sent}/10 requests by all workers`);
    const record = JSON.parse((await admin.get(`${prefix}:flow:quota:a`))!) as { requests: number; snapshot?: { source: string } };
    expect(record.requests).toBe(sent);
    // The simulator answers with OpenAI rate-limit headers: the latest snapshot is shared as well.
    expect(record.snapshot?.source).toBe('openai');
    await admin.del(`${prefix}:flow:state:a`, `${prefix}:flow:states`, `${prefix}:flow:quota:a`);
  }, 20_000);

  it('a worker whose clock is behind (the previous day) counts against the day already begun', async () => {
    const flow = new RedisFlowBackend(admin, { prefix });
    await flow.quota.take('skew', '2026-01-02', 0, 5, 60_000);
    const late = await flow.quota.take('skew', '2026-01-01', 0, 5, 60_000);
    expect(late.record).toMatchObject({ day: '2026-01-02', requests: 2 });
    const refused = await Promise.all(Array.from({ length: 6 }, () => flow.quota.take('skew', '2026-01-02', 0, 5, 60_000)));
    expect(refused.filter((t) => t.granted)).toHaveLength(3);
    expect((await flow.quota.load('skew'))?.requests).toBe(5);
  });
});
