/** Shared flow state in Redis (Lua): limiter buckets, key states, quota counters. */
export { RedisFlowBackend, RedisLimiterStore, RedisKeyStateStore, RedisQuotaStore, RoundTripCounter, checkPrefix, deleteByPattern } from './redis-flow-backend.js';
export type { RedisFlowBackendOptions } from './redis-flow-backend.js';
export { connectRedis, parseRedisUrl, redactRedisUrl, reconnectDelay, RedisConnectError } from './connect.js';
export type { ConnectRedisOptions } from './connect.js';
