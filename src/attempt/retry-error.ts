import type { Classification } from '../classify/kinds.js';
import { SluiceError } from '../classify/sluice-error.js';
import type { AttemptRecord } from './events.js';
import type { GiveUpReason } from './policy.js';

/**
 * The one give-up error of Sluice: `retry()` (throw mode) rejects with it, and so does a job of the
 * executor (`createSluice().run()`, the `error` of a failed `runSettled` / `runAll` result) when the
 * retry policy gives up. `cause` is the last error, so the chain reaches the original failure. It is a
 * {@link SluiceError}: `classification` (and `kind`, `classify(err)`) are the last failure's, while
 * `message` is the give-up message (the policy's `giveUpMessage`, else a default naming the attempts).
 */
export class RetryError extends SluiceError {
  override readonly name: string = 'RetryError';
  /** Attempts made. */
  readonly attempts: number;
  /**
   * The failed attempts: every one for `retry()`; the last one for an executor job (which keeps no
   * per-attempt history, so that a million queued jobs stay small).
   */
  readonly history: readonly AttemptRecord[];
  /** Why the loop stopped. */
  readonly reason: GiveUpReason;
  /** The loop's label, if any. */
  readonly label: string | undefined;
  /** The executor job's id (`RunOptions.id`); undefined for `retry()`. */
  readonly jobId: string | number | undefined;
  /** Name of the key the last attempt used (never the secret); undefined for `retry()`. */
  readonly key: string | undefined;

  constructor(
    message: string,
    details: {
      cause: unknown;
      attempts: number;
      history: readonly AttemptRecord[];
      classification: Classification;
      reason: GiveUpReason;
      label?: string | undefined;
      jobId?: string | number | undefined;
      key?: string | undefined;
    },
  ) {
    const rateLimit = details.cause instanceof SluiceError ? details.cause.rateLimit : undefined;
    super(details.classification, { cause: details.cause, ...(rateLimit ? { rateLimit } : {}) });
    this.message = message;
    this.attempts = details.attempts;
    this.history = details.history;
    this.reason = details.reason;
    this.label = details.label;
    this.jobId = details.jobId;
    this.key = details.key;
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
