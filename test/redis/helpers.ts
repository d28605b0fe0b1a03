/** Shared helpers of the Redis tests: a unique prefix per test file and cleanup of its keys. */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisFlowBackend, deleteByPattern } from '../../src/flow/redis/redis-flow-backend.js';
import { enqueueBatch, type EnqueueSummary } from '../../src/batch/redis/enqueue.js';
import { openRunQueue } from '../../src/batch/redis/queue.js';
import { RedisJobStore } from '../../src/batch/redis/redis-store.js';

/** The test server (started by .ci/run when none answers). */
export const REDIS_URL = process.env.SLUICE_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** A prefix no other test file (or person) uses: `sluice-test-<pid>-<random>`. */
export function uniquePrefix(tag: string): string {
  return `sluice-test-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A plain client for the test itself. */
export function testClient(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: false });
}

/** Deletes every key under `prefix` (SCAN + UNLINK; never FLUSH). */
export async function cleanup(redis: Redis, prefix: string): Promise<void> {
  await deleteByPattern(redis, `${prefix}:*`);
}

/** A test file's own client and flow backend under a fresh prefix: opened before its tests, its keys deleted after. */
export interface RedisFlowFixture {
  readonly prefix: string;
  readonly admin: Redis;
  readonly flow: RedisFlowBackend;
}

/** Registers the file's `beforeAll`/`afterAll` for a {@link RedisFlowFixture}; read `admin` and `flow` inside tests. */
export function redisFlowFixture(tag: string): RedisFlowFixture {
  const prefix = uniquePrefix(tag);
  let admin: Redis | undefined;
  let flow: RedisFlowBackend | undefined;
  beforeAll(() => {
    admin = testClient();
    flow = new RedisFlowBackend(admin, { prefix });
  });
  afterAll(async () => {
    await cleanup(admin!, prefix);
    await admin!.quit();
  });
  return {
    prefix,
    get admin() {
      return admin!;
    },
    get flow() {
      return flow!;
    },
  };
}

/**
 * Writes `items` as a JSONL input `<dir>/<run>.jsonl` and enqueues it as run `run` under `prefix`,
 * on `connection` (which the caller keeps and closes). Returns the store of the run and the summary.
 */
export async function enqueueItems(
  connection: Redis,
  where: { dir: string; prefix: string; run: string },
  items: readonly object[],
): Promise<{ store: RedisJobStore; summary: EnqueueSummary }> {
  const input = join(where.dir, `${where.run}.jsonl`);
  writeFileSync(input, items.map((item) => JSON.stringify(item)).join('\n') + '\n');
  const store = new RedisJobStore(connection, { prefix: where.prefix, run: where.run });
  const queue = openRunQueue(connection, where.prefix, where.run);
  try {
    return { store, summary: await enqueueBatch({ input, store, queue }) };
  } finally {
    await queue.close();
  }
}

/** `n` chat items `{ id: <idPrefix><i>, model, messages }`, the usual test input. */
export function chatItems(n: number, idPrefix: string, text = 'hi'): object[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${idPrefix}${i}`, model: 'm', messages: [{ role: 'user', content: `${text} ${i}` }] }));
}
