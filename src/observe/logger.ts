import { pino } from 'pino';
import type { DestinationStream, Level, Logger } from 'pino';
import { redactSecrets, REDACTED } from '../classify/redact.js';
import type { Clock } from '../clock/clock.js';
import type { TypedEmitter } from './typed-emitter.js';
import type { BreakerEvents, GiveUpEvent, RetryEvent, RetryEvents, SuccessEvent } from '../attempt/events.js';
import type { RetryHooks } from '../attempt/retry.js';

export type { Logger } from 'pino';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level. Default `info`. */
  level?: Level | 'silent';
  /** Logger name (the `name` field of every line). Default `sluice`. */
  name?: string;
  /** Where JSON lines go: a stream (tests read it back). Default: stdout. */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Or a file path, appended to (created with its folder). */
  file?: string;
  /** More field paths to censor, in pino's syntax (`body.token`, `*.cookie`). */
  redact?: readonly string[];
  /** Time source of the `time` field, so a run on a virtual clock logs virtual times. Default: real time. */
  clock?: Clock;
}

/**
 * Field paths whose values are replaced by `***`, at the top level and one level down. Values in
 * other fields and in messages are scrubbed by pattern (`sk-...`, `Bearer ...`, `key=...`) as well.
 */
const SECRET_FIELDS = ['key', 'secret', 'apiKey', 'api_key', 'authorization', 'Authorization', 'password', 'token', 'x-api-key', 'x-goog-api-key', 'api-key'];
const REDACT_PATHS = [
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_]\w*$/.test(f) ? f : `["${f}"]`)),
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_]\w*$/.test(f) ? `*.${f}` : `*["${f}"]`)),
  'headers.authorization',
  'headers.Authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'headers["x-goog-api-key"]',
];

/** Replaces a secret field's value; an `ApiKey` (`{ name, secret }`) keeps its name, which is safe to log. */
function censor(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string') {
    return { name: (value as { name: string }).name, secret: REDACTED };
  }
  return REDACTED;
}

/** Largest depth scrubbed in logged objects; deeper values are left to the path rules. */
const MAX_DEPTH = 6;

/** Returns a copy of `value` with every string scrubbed of secrets (bounded depth, cycles skipped). */
function scrub(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (value instanceof Error) return scrubError(value);
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1, seen);
  return out;
}

/** pino's error serializer, with message, stack and cause scrubbed. */
function scrubError(err: Error): Record<string, unknown> {
  const serialized = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(serialized)) out[k] = typeof v === 'string' ? redactSecrets(v) : scrub(v, 1);
  return out;
}

/**
 * A pino logger writing JSON lines, with secrets removed from fields (by name) and from every string
 * (by pattern), messages included.
 *
 * ```ts
 * const log = createLogger({ level: 'info', file: 'run.log' });
 * logRetryEvents(events, log, { label: 'clip 42', eventPrefix: 'clip_download_' });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  // Synchronous writes keep log lines in order with the program's other output, and lose nothing on exit.
  const destination =
    options.destination ?? (options.file ? pino.destination({ dest: options.file, mkdir: true, sync: true }) : pino.destination({ dest: 1, sync: true }));
  const clock = options.clock;
  const logger = pino(
    {
      name: options.name ?? 'sluice',
      level: options.level ?? 'info',
      ...(clock ? { timestamp: () => `,"time":${clock.now()}` } : {}),
      redact: { paths: [...REDACT_PATHS, ...(options.redact ?? [])], censor },
      serializers: { err: (e: unknown) => (e instanceof Error ? scrubError(e) : scrub(e)) },
      formatters: { log: (obj) => scrub(obj) as Record<string, unknown> },
      hooks: {
        // Messages are scrubbed too: a provider error text may echo the key.
        logMethod(args, method) {
          const clean = args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>;
          return method.apply(this, clean);
        },
      },
    },
    destination as DestinationStream | undefined,
  );
  return logger;
}

/** Options of {@link logRetryEvents} and {@link retryLogHooks}. */
export interface RetryLogOptions {
  /** Used when an event has no label of its own. */
  label?: string;
  /** Prefix of `event_type`, as the stories name them: `clip_download_` gives `clip_download_retry`. */
  eventPrefix?: string;
}

/**
 * The callbacks that write a retry loop's structured events:
 * - `retry` (warn): `attempt_number`, `max_attempts`, `wait_seconds`, `error_type`; message `retry 2/3 for <label>, waiting 60s`.
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
      const retries = Math.max(1, e.maxAttempts - 1);
      const wait = Math.round(e.delayMs) / 1000;
      logger.warn(
        {
          event_type: `${prefix}retry`,
          label: name(e.label),
          attempt_number: e.attempt,
          max_attempts: e.maxAttempts,
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
        { event_type: `${prefix}success`, label: name(e.label), total_attempts: e.attempts },
        `${name(e.label)} succeeded on attempt ${e.attempts}`,
      );
    },
    onGiveUp(e: GiveUpEvent): void {
      const base = { label: name(e.label), attempts_made: e.attempts, error_type: e.classification.kind, final_error: e.classification.message };
      if (e.reason === 'not_retryable') {
        logger.error(
          { ...base, event_type: `${prefix}non_retryable_error`, ...(e.classification.status !== undefined ? { status: e.classification.status } : {}) },
          `${name(e.label)} failed with non-retryable ${e.classification.kind}: ${e.classification.message}`,
        );
      } else if (e.reason === 'circuit_open') {
        logger.error({ ...base, event_type: `${prefix}circuit_open` }, `${name(e.label)} not attempted: ${e.classification.message}`);
      } else if (e.reason === 'cancelled') {
        logger.info({ ...base, event_type: `${prefix}cancelled` }, `${name(e.label)} cancelled after ${e.attempts} attempts`);
      } else {
        logger.error(
          { ...base, event_type: `${prefix}failed_all_retries`, reason: e.reason, history: e.history },
          `${name(e.label)} failed after ${e.attempts} attempts (${e.reason}): ${e.classification.kind}`,
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
