/** Shared helpers of the Redis tests: a unique prefix per test file and cleanup of its keys. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteByPattern } from '../../src/flow/redis/redis-flow-backend.js';

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
