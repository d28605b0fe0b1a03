/**
 * The structured log lines of a retry loop and of a circuit breaker, as the stories name them
 * (`clip_download_retry`, `failed_all_retries`, `breaker_state`, …). They live in the attempt layer,
 * beside the events they translate, and write to an observe-layer logger: observe stays below attempt.
 */
import type { Logger } from '../observe/logger.js';
import type { TypedEmitter } from '../observe/typed-emitter.js';
import type { BreakerEvents, GiveUpEvent, RetryEvent, RetryEvents, SuccessEvent } from './events.js';
import type { RetryHooks } from './retry.js';

/** Options of {@link logRetryEvents} and {@link retryLogHooks}. */
export interface RetryLogOptions {
  /** Used when an event has no label of its own. */
  label?: string;
  /** Prefix of `event_type`, as the stories name them: `clip_download_` gives `clip_download_retry`. */
  eventPrefix?: string;
}

/**
 * The callbacks that write a retry loop's structured events:
 * - `retry` (warn): `attempt_number`, `max_attempts` (the bound: the event's `attempts`; in logs `attempts` counts attempts made), `wait_seconds`, `error_type`; message `retry 2/3 for <label>, waiting 60s`.
 * - `success` (info): `total_attempts`; message `<label> succeeded on attempt N`.
 * - `failed_all_retries` (error): `attempts_made`, `final_error`, `error_type`; message `<label> failed after N attempts`.
 * - `non_retryable_error` (error): the kind and message; no retry was made.
 * - `circuit_open` (error): a breaker refused the call.
 * - `cancelled` (info).
 */
export function retryLogHooks(logger: Logger, options: RetryLogOptions = {}): Required<RetryHooks> {
  const prefix = options.eventPrefix ?? '';
  const name = (label: string | undefined): string => label ?? options.label ?? 'call';
  return {
    onRetry(e: RetryEvent): void {
      const retries = Math.max(1, e.attempts - 1);
      const wait = Math.round(e.delayMs) / 1000;
      logger.warn(
        {
          event_type: `${prefix}retry`,
          label: name(e.label),
          attempt_number: e.attempt,
          max_attempts: e.attempts,
          wait_seconds: wait,
          error_type: e.classification.kind,
          error_message: e.classification.message,
          ...(e.classification.status !== undefined ? { status: e.classification.status } : {}),
        },
        `retry ${e.attempt}/${retries} for ${name(e.label)}, waiting ${wait}s (${e.classification.kind})`,
      );
    },
    onSuccess(e: SuccessEvent): void {
      logger.info(
        { event_type: `${prefix}success`, label: name(e.label), total_attempts: e.attempt },
        `${name(e.label)} succeeded on attempt ${e.attempt}`,
      );
    },
    onGiveUp(e: GiveUpEvent): void {
      const base = { label: name(e.label), attempts_made: e.attempt, error_type: e.classification.kind, final_error: e.classification.message };
      if (e.reason === 'not_retryable') {
        logger.error(
          { ...base, event_type: `${prefix}non_retryable_error`, ...(e.classification.status !== undefined ? { status: e.classification.status } : {}) },
          `${name(e.label)} failed with non-retryable ${e.classification.kind}: ${e.classification.message}`,
        );
      } else if (e.reason === 'circuit_open') {
        logger.error({ ...base, event_type: `${prefix}circuit_open` }, `${name(e.label)} not attempted: ${e.classification.message}`);
      } else if (e.reason === 'cancelled') {
        logger.info({ ...base, event_type: `${prefix}cancelled` }, `${name(e.label)} cancelled after ${e.attempt} attempts`);
      } else {
        logger.error(
          { ...base, event_type: `${prefix}failed_all_retries`, reason: e.reason, history: e.history },
          `${name(e.label)} failed after ${e.attempt} attempts (${e.reason}): ${e.classification.kind}`,
        );
      }
    },
  };
}

/**
 * Logs a retry loop's events from its emitter (see {@link retryLogHooks} for the lines). Returns the
 * function that stops logging.
 */
export function logRetryEvents(source: TypedEmitter<RetryEvents>, logger: Logger, options: RetryLogOptions = {}): () => void {
  const hooks = retryLogHooks(logger, options);
  const offs = [source.on('retry', hooks.onRetry), source.on('success', hooks.onSuccess), source.on('giveUp', hooks.onGiveUp)];
  return () => {
    for (const off of offs) off();
  };
}

/** Logs a circuit breaker's state changes (`breaker_state`, warn when it opens). Returns the unsubscribe function. */
export function logBreakerEvents(source: TypedEmitter<BreakerEvents>, logger: Logger): () => void {
  return source.on('breakerState', (e) => {
    const fields = { event_type: 'breaker_state', breaker: e.name, from: e.from, to: e.to, reason: e.reason, ...(e.halfOpenAt !== undefined ? { half_open_at: new Date(e.halfOpenAt).toISOString() } : {}) };
    const msg = `circuit${e.name ? ` ${e.name}` : ''} ${e.from} -> ${e.to}: ${e.reason}`;
    if (e.to === 'open' || e.to === 'isolated') logger.warn(fields, msg);
    else logger.info(fields, msg);
  });
}
