/** Shared flow state in Redis (Lua): limiter buckets, key states, quota counters. */
export { RedisFlowBackend, RedisLimiterStore, RedisKeyStateStore, RedisQuotaStore, RoundTripCounter, checkPrefix, deleteByPattern } from './redis-flow-backend.js';
export type { RedisFlowBackendOptions } from './redis-flow-backend.js';
export { connectRedis, parseRedisUrl, redactRedisUrl, reconnectDelay, RedisConnectError } from './connect.js';
export type { ConnectRedisOptions } from './connect.js';
export { SharedDailyQuota } from './shared-quota.js';
export type { SharedDailyQuotaOptions, DailyTake } from './shared-quota.js';
export type { QuotaTake } from './redis-flow-backend.js';
export { RedisCircuitBreaker } from './shared-breaker.js';
export type { RedisCircuitBreakerOptions, BreakerTicket, SharedBreakerState } from './shared-breaker.js';
