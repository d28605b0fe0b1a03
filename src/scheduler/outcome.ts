/**
 * The bookkeeping of one attempt's outcome, in one place for the embedded executor and the Redis
 * worker: settle or refund the tokens reserved on the key's limiter, free its slot, adopt the
 * response's rate-limit headers, record the quota, tell the key pool (which cools, parks or disables
 * the key, and keeps the learned rate), and feed the concurrency limit. The order matters and is the
 * same on both paths: the limiter first (so the next start sees the real usage), then the quota, then
 * the pool.
 */
import type { Classification, ErrorKind } from '../classify/kinds.js';
import { showsQuotaLeft, type RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';
import type { ProviderResponse } from '../provider/types.js';
import type { KeyFailureEffect, PermitOutcome, SchedulerConcurrency, SchedulerKeyPool, SchedulerLimiter, SchedulerPermit, SchedulerQuota } from './ports.js';

/** Where an outcome is written: the key's limiter and quota port, the pool, the concurrency limit. */
export interface OutcomeSinks {
  limiter: Pick<SchedulerLimiter, 'observe'>;
  quota?: SchedulerQuota | undefined;
  pool: Pick<SchedulerKeyPool, 'onSuccess' | 'onFailure'>;
  concurrency?: Pick<SchedulerConcurrency, 'onSuccess' | 'onFailure'> | undefined;
}

/** The attempt whose outcome is recorded. */
export interface AttemptFacts {
  key: string;
  permit: SchedulerPermit;
  /** Tokens reserved at the start (the estimate). */
  tokens: number;
  /** When the attempt started (the learned rate counts 429s of calls started before its last decrease once). */
  startedAt: number;
  now: number;
}

/**
 * Kinds where the server refused the request before doing any work: the reserved tokens are refunded.
 * For the other kinds the estimate stays charged (the server may have counted the request).
 */
export const REFUNDED_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['rate_limited', 'quota_exhausted', 'auth', 'invalid_request', 'not_found']);

/** Records a success; returns the tokens charged (the response's usage, else the estimate). */
export function recordSuccess(sinks: OutcomeSinks, a: AttemptFacts, response: Pick<ProviderResponse, 'usage' | 'rateLimit'>): number {
  const used = response.usage ? response.usage.inputTokens + response.usage.outputTokens : a.tokens;
  a.permit.settle(used);
  a.permit.release('served');
  if (response.rateLimit) sinks.limiter.observe?.(response.rateLimit, a.permit);
  sinks.quota?.record({ ok: true, ...(response.rateLimit ? { rateLimit: response.rateLimit } : {}), tokens: used, now: a.now });
  sinks.pool.onSuccess(a.key, a.now, a.startedAt);
  sinks.concurrency?.onSuccess?.(a.now, a.startedAt);
  return used;
}

/**
 * Records a failure; returns what the pool did to the key. A cancelled attempt (the caller's or the
 * shutdown's abort) is not the key's fault: its slot is freed, its estimate stays charged (the request
 * may have reached the server) and nothing else is recorded.
 */
export function recordFailure(sinks: OutcomeSinks, a: AttemptFacts, classification: Classification, rateLimit?: RateLimitSnapshot): KeyFailureEffect | undefined {
  a.permit.settle(REFUNDED_KINDS.has(classification.kind) ? 0 : a.tokens);
  a.permit.release(permitOutcome(classification.kind, rateLimit));
  if (classification.kind === 'cancelled') return undefined;
  if (rateLimit) sinks.limiter.observe?.(rateLimit, a.permit, classification.kind === 'rate_limited');
  sinks.quota?.record({ ok: false, ...(rateLimit ? { rateLimit } : {}), now: a.now });
  // The pool decides what the key learns: only a 429 that names no wait lowers its rate.
  const effect = sinks.pool.onFailure(a.key, classification, a.now, rateLimit ? { startedAt: a.startedAt, rateLimit } : { startedAt: a.startedAt });
  sinks.concurrency?.onFailure?.(classification.kind, a.now, a.startedAt);
  return effect;
}

/**
 * What a failed call tells the key's learned concurrency cap: a 429 is a refusal unless its headers say
 * the window ran out (that refusal is the window's, which the limiter follows from the headers); a
 * cancelled call tells nothing; any other failure was served (the server took the call).
 */
export function permitOutcome(kind: ErrorKind, rateLimit: RateLimitSnapshot | undefined): PermitOutcome | undefined {
  if (kind === 'cancelled') return undefined;
  if (kind !== 'rate_limited') return 'served';
  const left = rateLimit?.requests?.remaining;
  return left === undefined || showsQuotaLeft(rateLimit) ? 'refused' : undefined;
}
