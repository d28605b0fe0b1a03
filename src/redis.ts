/**
 * `sluice/redis`: scale-out on Redis (see docs/SCALING.md). The shared flow state (limiter buckets,
 * key states, daily quota, circuit breaker) in atomic Lua, and the distributed job store and queue on
 * BullMQ. Kept out of the `sluice` entry point so that the core loads no Redis client and no BullMQ.
 * @packageDocumentation
 */
export * from './flow/redis/index.js';
export * from './batch/redis/index.js';
export { RunNotFoundError, requireRun, checkRun } from './batch/redis/run-check.js';
