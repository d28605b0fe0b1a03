import type { Classification, ErrorKind } from '../classify/kinds.js';
import type { GiveUpReason } from './policy.js';

/** One failed attempt, as kept in a retry loop's history. */
export interface AttemptRecord {
  /** 1-based attempt number. */
  attempt: number;
  /** Kind of its failure. */
  kind: ErrorKind;
  /** The classifier's message (never a secret). */
  message: string;
  /** The wait planned after it, in ms (0 for the last one). */
  delayMs: number;
}

/** Emitted when an attempt starts. */
export interface AttemptStartEvent {
  label: string | undefined;
  attempt: number;
}

/**
 * Emitted before each sleep between attempts. As in every decision and event, `attempt` is the
 * attempt concerned (1-based) and `attempts` the bound (the policy's `attempts` option).
 */
export interface RetryEvent {
  label: string | undefined;
  /** Number of the attempt that failed. */
  attempt: number;
  /** The attempt limit of the failure's kind (the policy's `attempts`). */
  attempts: number;
  /** The wait before the next attempt, in ms. */
  delayMs: number;
  classification: Classification;
  error: unknown;
}

/** Emitted when the call succeeds. */
export interface SuccessEvent {
  label: string | undefined;
  /** Number of the attempt that succeeded (so the attempts used, it included). */
  attempt: number;
}

/** Emitted when the loop stops without success. */
export interface GiveUpEvent {
  label: string | undefined;
  /** Number of the last attempt made (so the attempts made; 0 when none was, e.g. a breaker refused the first). */
  attempt: number;
  /** The attempt limit (the policy's `attempts`) of the last failure's kind, else of this give-up's kind. */
  attempts: number;
  reason: GiveUpReason;
  /** The last error. */
  error: unknown;
  classification: Classification;
  /** Each failed attempt's kind and planned delay. */
  history: readonly AttemptRecord[];
}

/** Events of a retry loop (`retry(fn, policy, { events })`). */
export interface RetryEvents {
  attempt: AttemptStartEvent;
  retry: RetryEvent;
  success: SuccessEvent;
  giveUp: GiveUpEvent;
}

/** A circuit breaker's states. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** Emitted when a circuit breaker changes state. */
export interface BreakerStateEvent {
  /** The breaker's name, for logs. */
  name: string | undefined;
  from: BreakerState;
  to: BreakerState;
  /** Why: `consecutive failures 5/5`, `failure ratio 0.6 >= 0.5`, `auth opens at once`, `probe succeeded`, `isolate()`. */
  reason: string;
  /** When an open circuit will let a probe through (ms since epoch), for `open`. */
  halfOpenAt?: number;
}

/** Events of a {@link CircuitBreaker}. */
export interface BreakerEvents {
  breakerState: BreakerStateEvent;
}
