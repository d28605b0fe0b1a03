/**
 * The narrow interfaces the executor needs from the flow and attempt layers. The executor talks only
 * to these, so the flow layer's RateLimiter / KeyPool / QuotaMonitor (or Redis-backed ones) plug in
 * through small adapters (see `flow-adapters.ts`), and tests can pass their own.
 */
import type { Classification, ErrorKind } from '../classify/kinds.js';
import type { RateLimitSnapshot } from '../flow/quota/snapshot.js';

/** A granted start on one key's limiter. */
export interface SchedulerPermit {
  /** Charges or refunds the difference between the reserved and the actual tokens. */
  settle(actualTokens: number): void;
  /** Frees the in-flight slot. Idempotent. */
  release(): void;
}

/** One key's limiter, non-blocking side only (the executor keeps the single timer). */
export interface SchedulerLimiter {
  tryAcquire(tokens: number): SchedulerPermit | undefined;
  /** ms until `tryAcquire(tokens)` could succeed; 0 = now; Infinity = never with the current limits. */
  waitTimeMs(tokens: number): number;
  /** Adopts what the server announced (never above the configured limits). */
  observe?(snapshot: RateLimitSnapshot): void;
  /** Told about a 429 on a request started at `startedAt` (a limiter that learns its rate from 429s). */
  onRateLimited?(startedAt?: number): void;
  /** Told about a success (keeps a learned rate's throughput measurement). */
  onSuccess?(): void;
  /** Drops timers and listeners. */
  close?(): void;
}

/** Availability of a key as the pool sees it. */
export type KeyState = 'active' | 'cooling' | 'parked' | 'disabled';

/** What the pool did to a key after a failure. */
export interface KeyFailureEffect {
  state: KeyState;
  /** Until when (ms since epoch) the key is unavailable; absent for active, Infinity for disabled. */
  until?: number;
}

/** The key pool: states, cooldowns and the selection order. */
export interface SchedulerKeyPool {
  /** Key names in the order to try them for the next start (selection strategy), available ones only. */
  candidates(now: number): string[];
  /** State of one key now (expired cooldowns count as active). */
  stateOf(name: string, now: number): { state: KeyState; until?: number };
  /** Told that an attempt started on `name` (round robin, least recently used). */
  onStart?(name: string, now: number): void;
  onSuccess(name: string, now: number): void;
  onFailure(name: string, classification: Classification, now: number): KeyFailureEffect;
  close?(): void;
}

/** One key's quota monitor, as far as scheduling goes. */
export interface SchedulerQuota {
  /** Counts a started request against the key's budgets (daily budget: counted at start, so concurrency cannot overshoot it). */
  onStart?(tokens: number, now: number): void;
  /** Records a finished request (success or failure) with what the response said. */
  record(info: { ok: boolean; rateLimit?: RateLimitSnapshot; tokens?: number; now: number }): void;
  /** When the key must not start new requests: until this time (ms since epoch), else undefined. */
  pausedUntil(now: number): number | undefined;
  /** JSON-able state (the day's usage), for a restarted run. */
  save?(): unknown;
  close?(): void;
}

/** The retry decision for one failed attempt (the attempt layer's `RetryPolicy.decide`). */
export interface SchedulerRetryDecision {
  retry: boolean;
  delayMs: number;
  maxAttempts: number;
  reason: string;
}

/** Input of {@link SchedulerPolicy.decide}. */
export interface SchedulerDecideInput {
  classification: Classification;
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  previousDelayMs?: number;
  elapsedMs?: number;
}

/** The retry policy, as far as the executor needs it. */
export interface SchedulerPolicy {
  decide(input: SchedulerDecideInput): SchedulerRetryDecision;
}

/** The concurrency limit: fixed, or adaptive (AIMD) fed with outcomes. */
export interface SchedulerConcurrency {
  readonly limit: number;
  onSuccess?(now: number): void;
  onFailure?(kind: ErrorKind, now: number): void;
  close?(): void;
}

/** Turns anything thrown by a call into a classification. */
export type Classifier = (failure: unknown, now: number) => Classification;
