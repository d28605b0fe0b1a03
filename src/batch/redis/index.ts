/** The distributed job store and queue on Redis / BullMQ. */
export { RedisJobStore, checkRunName } from './redis-store.js';
export type { RedisJobStoreOptions } from './redis-store.js';
export { enqueueBatch } from './enqueue.js';
export type { EnqueueBatchOptions, EnqueueSummary } from './enqueue.js';
export { enqueuePending, openRunQueue, jobIdFor, bullPriority, bullPrefix, ITEM_JOB_OPTIONS } from './queue.js';
export type { ItemJobData } from './queue.js';
export { RedisBatchWorker, withSharedBurst } from './worker.js';
export type { RedisBatchWorkerOptions, RedisWorkerEvents, RedisWorkerStats } from './worker.js';
export { runRedisWorker, runFinished } from './run-worker.js';
export type { RunRedisWorkerOptions, RedisWorkerSummary } from './run-worker.js';
