/**
 * Sluice: run generative-AI API calls at the full rate quotas allow — classified, bounded retries;
 * per-key limits, cooldowns and quota-aware pause/resume; durable batches; Redis scale-out.
 *
 * This entry point is the light core: clock, classify, attempt, flow, scheduler, provider, and the
 * observe layer's events and logger. It loads no native module, no Redis client and no BullMQ (and
 * loads pino, undici and js-tiktoken only on first use). The rest lives under subpaths:
 * - `sluice/batch`: durable batches on an embedded SQLite store (`runBatch`, `SqliteJobStore`, …);
 * - `sluice/redis`: scale-out on Redis and BullMQ (`RedisFlowBackend`, `runRedisWorker`, …);
 * - `sluice/simulator`: the provider simulator (`startSimulator`);
 * - `sluice/testing`: `VirtualClock`, `FakeProvider`.
 * Internal modules not exported from an entry point are not part of the public API (see
 * docs/ARCHITECTURE.md for the layers).
 * @packageDocumentation
 */

// clock
export * from './clock/index.js';

// classify
export { ERROR_KINDS, PROVIDERS, RETRYABLE_BY_DEFAULT, isErrorKind } from './classify/kinds.js';
export type { ErrorKind, ProviderName, Classification } from './classify/kinds.js';
export { SluiceError, isSluiceError } from './classify/sluice-error.js';
export { classify, classifyResponse, classifyVeoOperation, parseDuration, parseRetryAfter, parseRetryAfterMs, parseResetTime, redactSecrets } from './classify/index.js';
export type { ClassifyOptions, RawHttpFailure } from './classify/index.js';
export { standardClassifier } from './classify/classify.js';
export type { Classifier } from './classify/classify.js';

// attempt
export { retry } from './attempt/retry.js';
export type { RetryOptions, RetryHooks, RetryResult, AttemptContext } from './attempt/retry.js';
export { RetryError, isRetryError } from './attempt/retry-error.js';
export { retryPolicy, defaultRetryPolicy } from './attempt/policy.js';
export type {
  RetryPolicy,
  RetryPolicyOptions,
  KindPolicyOptions,
  DefaultPolicyOptions,
  DecideInput,
  RetryDecision,
  GiveUpReason,
  GiveUpInfo,
} from './attempt/policy.js';
export { exponentialBackoff, constantBackoff, scheduleBackoff, takeDelays } from './attempt/backoff.js';
export type { Backoff, BackoffSpec, ExponentialBackoffOptions } from './attempt/backoff.js';
export type { JitterSpec, Random } from './attempt/jitter.js';
export { CircuitBreaker, BrokenCircuitError } from './attempt/circuit-breaker.js';
export type { CircuitBreakerOptions, ConsecutiveStrategy, RatioStrategy } from './attempt/circuit-breaker.js';
export type { RetryEvents, BreakerEvents, BreakerState, RetryEvent, SuccessEvent, GiveUpEvent, AttemptRecord } from './attempt/events.js';
export { presets, presetOptions, isEmptyResult } from './attempt/presets.js';

// flow
export { RateLimiter } from './flow/rate-limiter.js';
export type { Permit, RateLimiterOptions, AcquireOptions } from './flow/rate-limiter.js';
export type { KeyLimits } from './flow/limits.js';
export { estimateTokens, countTextTokens } from './flow/token-estimate.js';
export { parseRateLimitHeaders } from './classify/rate-limit/parse-headers.js';
export type { RateLimitSnapshot, RateLimitWindow } from './classify/rate-limit/snapshot.js';
export { QuotaMonitor } from './flow/quota/quota-monitor.js';
export type { QuotaMonitorOptions, QuotaMonitorEvents, QuotaMonitorState } from './flow/quota/quota-monitor.js';
export { KeyPool } from './flow/key-pool.js';
export type { KeyPoolOptions, KeyPoolEvents } from './flow/key-pool.js';
export { AdaptiveConcurrency } from './flow/adaptive-concurrency.js';
export type { AdaptiveConcurrencyOptions, ConcurrencyChange } from './flow/adaptive-concurrency.js';

// scheduler
export { createSluice, Executor } from './scheduler/index.js';
export type { SluiceOptions, RunOptions, JobResult, RunAllOptions, RunAllSummary, ExecutorEvents, AttemptStartInfo, AttemptEndInfo } from './scheduler/index.js';

// provider
export {
  openAICompatibleAdapter,
  azureOpenAIAdapter,
  anthropicAdapter,
  geminiAdapter,
  veoAdapter,
  functionAdapter,
  keyedClients,
  sdkStreamFailure,
  answerText,
  createProvider,
  PROVIDER_TYPES,
} from './provider/index.js';
export type {
  ApiKey,
  Usage,
  ProviderResponse,
  CallContext,
  ProviderAdapter,
  ProviderConfig,
  OpenAICompatibleOptions,
  AzureOpenAIOptions,
  AnthropicOptions,
  GeminiOptions,
  VeoOptions,
  FunctionAdapterOptions,
} from './provider/index.js';

// observe
export { TypedEmitter } from './observe/typed-emitter.js';
export type { Listener } from './observe/typed-emitter.js';
export { createLogger } from './observe/logger.js';
export type { LoggerOptions, Logger } from './observe/logger.js';
export { retryLogHooks, logRetryEvents, logBreakerEvents } from './attempt/retry-logging.js';
export type { RetryLogOptions } from './attempt/retry-logging.js';
