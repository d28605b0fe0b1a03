/**
 * The Redis side of the CLI, loaded only when a command names a `redis://` backend: BullMQ and ioredis
 * cost about a quarter of a second of start-up, which every embedded `sluice run` paid (bench
 * `BENCH=limiters`, the CLI's fixed cost). Commands take it through {@link loadRedisSide}; their types
 * are imported statically, which costs nothing at run time.
 */
export { enqueueBatch } from '../batch/redis/enqueue.js';
export { openRunQueue } from '../batch/redis/queue.js';
export { RedisJobStore } from '../batch/redis/redis-store.js';
export { checkRun, requireRun } from '../batch/redis/run-check.js';
export { runRedisWorker } from '../batch/redis/run-worker.js';
export { readRedisFailedItems, readRedisTimeline, readRedisTimelineSessions, redisTimelineRunning } from '../batch/redis/timeline.js';
export { RedisConnectError, connectRedis, reconnectMessage, redactRedisUrl } from '../flow/redis/connect.js';
