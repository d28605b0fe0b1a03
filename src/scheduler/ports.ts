/**
 * The narrow interfaces the executor needs from the flow and attempt layers. The executor talks only
 * to these; `createSluice` plugs in the flow layer's KeyPool (which implements {@link SchedulerKeyPool}
 * and owns every key's state, selection and learned rate), its RateLimiters and QuotaMonitors.
 */
import type { GiveUpReason } from '../attempt/policy.js';
import type { Classification, ErrorKind } from '../classify/kinds.js';
import type { RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';

/** What became of a permit's call: the server served it or refused it (429); the limiter learns a concurrency cap from it. */
export type PermitOutcome = 'served' | 'refused';

/** A granted start on one key's limiter. */
export interface SchedulerPermit {
  /** Charges or refunds the difference between the reserved and the actual tokens. */
  settle(actualTokens: number): void;
  /** Frees the in-flight slot. Idempotent. `outcome`: whether the server served the call or refused it (429). */
  release(outcome?: PermitOutcome): void;
  /** The permit's place among its limiter's starts (the limiter takes later starts off an answer's remainder). */
  readonly seq?: number;
}

/** One key's limiter, non-blocking side only (the executor keeps the single timer). */
export interface SchedulerLimiter {
  tryAcquire(tokens: number): SchedulerPermit | undefined;
  /** ms until `tryAcquire(tokens)` could succeed; 0 = now; Infinity = never with the current limits. */
  waitTimeMs(tokens: number): number;
  /** Adopts what the server announced (never above the configured limits); `from` is the permit of the call that brought it. */
  observe?(snapshot: RateLimitSnapshot, from?: SchedulerPermit, refused?: boolean): void;
  /** Drops timers and listeners. */
  close?(): void;
}

/** Availability of a key as the pool sees it. */
export type KeyAvailability = 'active' | 'cooling' | 'parked' | 'disabled';

/** What the pool did to a key after a failure. */
export interface KeyFailureEffect {
  state: KeyAvailability;
  /** Until when (ms since epoch) the key is unavailable; absent for active, Infinity for disabled. */
  until?: number;
  /** True when this failure started (or lengthened) the state; false when it was already so (announce `cooldownStart` only when true). Absent counts as true. */
  changed?: boolean;
  /**
   * The refused call was the key's probe: it started after the key's last bare 429, with no success
   * since, so its refusal says the key still refuses and nothing about the item (see `decideAfterFailure`).
   */
  probe?: boolean;
}

/** What the executor knows about a failed attempt beyond its classification. */
export interface SchedulerFailureDetail {
  /** When the attempt started (a learned rate counts 429s of calls started before its last decrease once). */
  startedAt?: number;
  /** Rate-limit headers of the failed response, if any. */
  rateLimit?: RateLimitSnapshot;
}

/**
 * The key pool: states, cooldowns, the selection order, and (through the keys' limiters) the rate
 * learned from 429s that name no wait. The flow layer's KeyPool implements it.
 */
export interface SchedulerKeyPool {
  /** Key names in the order to try them for the next start (selection strategy), available ones only. */
  candidates(now: number): string[];
  /** State of one key now (expired cooldowns count as active). */
  stateOf(name: string, now: number): { state: KeyAvailability; until?: number };
  /** Told that an attempt started on `name` (round robin, least recently used). */
  onStart?(name: string, now: number): void;
  /** Told about a success of a call started at `startedAt` (ends a run of 429s; a learned rate counts it). */
  onSuccess(name: string, now: number, startedAt?: number): void;
  /** Earliest end of a cooldown or park not yet announced (the executor's single timer wakes then). */
  nextRejoinAt(): number | undefined;
  /** Lets back in the keys whose cooldown or park has ended; returns their names (the executor announces them). */
  rejoin(now: number): string[];
  /** Cools, parks or disables the key as the failure says; a 429 that names no wait also lowers the key's learned rate. */
  onFailure(name: string, classification: Classification, now: number, detail?: SchedulerFailureDetail): KeyFailureEffect;
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
  /** The attempt limit that applied (the policy's `attempts` of the failure's kind). */
  attempts: number;
  reason: string;
  /** Why the policy gave up (`not_retryable`, `exhausted`, `deadline`, ...), when `retry` is false. */
  giveUp?: string;
}

/** Input of {@link SchedulerPolicy.decide}. */
export interface SchedulerDecideInput {
  classification: Classification;
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  previousDelayMs?: number;
  elapsedMs?: number;
  /** Now, ms since epoch (a `resetAt` then counts as the server's wait). */
  now?: number;
  /** Random source of the jitter, `[0, 1)`. */
  random?: () => number;
}

/** The retry policy, as far as the executor needs it. */
export interface SchedulerPolicy {
  decide(input: SchedulerDecideInput): SchedulerRetryDecision;
  /** Checks a successful result: a throw turns the success into a failure of the thrown error's kind (presets use it, e.g. an empty download). */
  readonly validate?: ((value: unknown, attempt: number) => void) | undefined;
  /** Builds the message of a job given up (presets set it); default: the failure's own message. */
  readonly giveUpMessage?: ((info: { reason: GiveUpReason; classification: Classification; attempts: number }) => string) | undefined;
}

/** The concurrency limit: fixed, or adaptive (AIMD) fed with outcomes. */
export interface SchedulerConcurrency {
  readonly limit: number;
  /** A call started at `startedAt` succeeded (its latency tells queueing from noise). */
  onSuccess?(now: number, startedAt?: number): void;
  onFailure?(kind: ErrorKind, now: number, startedAt?: number): void;
  close?(): void;
}

/** Turns anything thrown by a call into a classification (the classify layer's one shape). */
export type { Classifier } from '../classify/classify.js';
