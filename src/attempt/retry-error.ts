import type { Classification } from '../classify/kinds.js';
import type { AttemptRecord } from './events.js';
import type { GiveUpReason } from './policy.js';

/**
 * Thrown by `retry()` (throw mode) when it gives up. `cause` is the last error, so the chain reaches
 * the original failure; `history` lists each failed attempt's kind and planned delay.
 */
export class RetryError extends Error {
  override readonly name = 'RetryError';
  /** Attempts made. */
  readonly attempts: number;
  /** Each failed attempt. */
  readonly history: readonly AttemptRecord[];
  /** Classification of the last failure. */
  readonly classification: Classification;
  /** Why the loop stopped. */
  readonly reason: GiveUpReason;
  /** The loop's label, if any. */
  readonly label: string | undefined;

  constructor(
    message: string,
    details: {
      cause: unknown;
      attempts: number;
      history: readonly AttemptRecord[];
      classification: Classification;
      reason: GiveUpReason;
      label?: string;
    },
  ) {
    super(message, { cause: details.cause });
    this.attempts = details.attempts;
    this.history = details.history;
    this.classification = details.classification;
    this.reason = details.reason;
    this.label = details.label;
  }

  /** The last failure's kind. */
  get kind(): Classification['kind'] {
    return this.classification.kind;
  }
}

/** Whether `value` is a {@link RetryError}. */
export function isRetryError(value: unknown): value is RetryError {
  return value instanceof RetryError;
}

/** The default give-up message: `<label> failed after 3 attempts: network: socket hang up`. */
export function defaultGiveUpMessage(info: {
  reason: GiveUpReason;
  classification: Classification;
  attempts: number;
  label?: string | undefined;
}): string {
  const what = info.label ?? 'call';
  const { kind, message } = info.classification;
  if (info.reason === 'not_retryable') return `${what} failed with non-retryable ${kind}: ${message}`;
  if (info.reason === 'circuit_open') return `${what} not attempted: ${message}`;
  const n = info.attempts === 1 ? '1 attempt' : `${info.attempts} attempts`;
  return `${what} failed after ${n}: ${kind}: ${message}`;
}
