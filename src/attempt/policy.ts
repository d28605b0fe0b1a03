import { ERROR_KINDS, isErrorKind } from '../classify/kinds.js';
import type { Classification, ErrorKind } from '../classify/kinds.js';
import { exponentialBackoff, toBackoff } from './backoff.js';
import type { Backoff, BackoffSpec } from './backoff.js';
import { applyJitter, checkJitter } from './jitter.js';
import type { JitterSpec, Random } from './jitter.js';
import { checkBoolean, checkFunction, checkInteger, checkKnownKeys, checkNumber, checkObject, show } from './validate.js';

/** What to do when the server asks to wait longer than `maxRetryAfterMs`. */
export type RetryAfterAboveCap = 'clamp' | 'give-up';

/** Settings of one error kind (or of every kind, under `default`). Every field is optional. */
export interface KindPolicyOptions {
  /** Whether failures of this kind are retried. Defaults follow DESIGN.md's kinds table. Only in `byKind`. */
  retry?: boolean;
  /** Maximum number of attempts, the first included (3 = one call and up to two retries). */
  attempts?: number;
  /** Delay before each retry: a {@link Backoff} or a spec such as `{ type: 'schedule', delaysMs: [30000, 60000, 120000] }`. */
  backoff?: Backoff | BackoffSpec;
  /** Jitter applied to the backoff delay (not to a server-requested wait). */
  jitter?: JitterSpec;
  /** Wait at least as long as the server asks (Retry-After, retry-after-ms, RetryInfo). Default true. */
  honourRetryAfter?: boolean;
  /** Largest server-requested wait honoured, in ms. Default 300,000 (5 min). */
  maxRetryAfterMs?: number;
  /** When the server asks for more than `maxRetryAfterMs`: wait the cap (`clamp`, default) or stop (`give-up`). */
  retryAfterAboveCap?: RetryAfterAboveCap;
}

/** Settings shared by every kind: all of {@link KindPolicyOptions} except `retry`, which is per kind. */
export type DefaultPolicyOptions = Omit<KindPolicyOptions, 'retry'>;

/** Information given to {@link RetryPolicyOptions.giveUpMessage}. */
export interface GiveUpInfo {
  /** Why the loop stopped. */
  reason: GiveUpReason;
  /** Classification of the last failure. */
  classification: Classification;
  /** Attempts made. */
  attempts: number;
  /** The label passed to `retry()`, if any. */
  label?: string;
}

/**
 * Why a retry loop stopped without success: the kind is not retried, attempts ran out, the next
 * wait would pass the deadline, the server asked for a wait above the cap, the caller cancelled, or
 * a circuit breaker is open.
 */
export type GiveUpReason = 'not_retryable' | 'exhausted' | 'deadline' | 'retry_after_above_cap' | 'cancelled' | 'circuit_open';

/** Options of {@link retryPolicy}. */
export interface RetryPolicyOptions {
  /** Settings for every kind; `byKind` overrides them field by field. */
  default?: DefaultPolicyOptions;
  /** Per-kind settings, e.g. `{ rate_limited: { attempts: 6, honourRetryAfter: true } }`. */
  byKind?: Partial<Record<ErrorKind, KindPolicyOptions>>;
  /** Per-attempt timeout in ms (used by `retry()`; the attempt's signal aborts and it counts as `timeout`). */
  timeoutMs?: number;
  /** Overall deadline in ms from the first attempt: no sleep goes past it. */
  deadlineMs?: number;
  /**
   * Overrides the kind's `retry` flag: return true/false to decide, undefined to keep the policy's
   * answer. Attempt limits, the deadline and cancellation still apply.
   */
  shouldRetry?: (classification: Classification, attempt: number) => boolean | undefined;
  /**
   * Checks a successful result (used by `retry()`): throw to reject it, e.g. a `SluiceError` of kind
   * `invalid_request` for an empty download, which is then handled as that kind (retried or not).
   */
  validate?: (value: unknown, attempt: number) => void;
  /** The message of the `RetryError` on give-up. Default: `<label> failed after N attempts: <kind>: <message>`. */
  giveUpMessage?: (info: GiveUpInfo) => string;
}

/** A kind's settings after defaults are applied and validated. */
export interface ResolvedKindPolicy {
  readonly retry: boolean;
  readonly attempts: number;
  readonly backoff: Backoff;
  readonly jitter: JitterSpec;
  readonly honourRetryAfter: boolean;
  readonly maxRetryAfterMs: number;
  readonly retryAfterAboveCap: RetryAfterAboveCap;
}

/** Input of {@link RetryPolicy.decide}. */
export interface DecideInput {
  /** Classification of the failure. */
  classification: Classification;
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  /** The delay used before the failed attempt (decorrelated jitter starts from it). */
  previousDelayMs?: number;
  /** Time since the first attempt started, in ms (checked against `deadlineMs`). */
  elapsedMs?: number;
  /** Random source for jitter, `[0, 1)`. Default `Math.random`. */
  random?: Random;
  /** Current time in ms since the epoch: lets a `resetAt` in the classification count as a server wait. */
  now?: number;
}

/** Output of {@link RetryPolicy.decide}. */
export interface RetryDecision {
  /** Whether to make another attempt. */
  retry: boolean;
  /** Wait before that attempt, in ms (0 when not retrying). */
  delayMs: number;
  /** The attempt limit that applied: the `attempts` of the failure's kind. */
  attempts: number;
  /** Human-readable reason, for logs: `rate_limited: retry 1/3 in 30000ms`, `auth is not retried`. */
  reason: string;
  /** Set when `retry` is false. */
  giveUp?: GiveUpReason;
}

/** A validated retry policy. Immutable and shareable between any number of loops and executors. */
export interface RetryPolicy {
  /** Decides, purely, whether and when to retry after a failure. Used by `retry()` and the executor's retry queue. */
  decide(input: DecideInput): RetryDecision;
  /** The resolved settings of a kind. */
  settingsFor(kind: ErrorKind): ResolvedKindPolicy;
  /** Per-attempt timeout in ms, if any. */
  readonly timeoutMs: number | undefined;
  /** Overall deadline in ms, if any. */
  readonly deadlineMs: number | undefined;
  /** Result validator, if any (see {@link RetryPolicyOptions.validate}). */
  readonly validate: ((value: unknown, attempt: number) => void) | undefined;
  /** Give-up message builder, if any. */
  readonly giveUpMessage: ((info: GiveUpInfo) => string) | undefined;
}

/**
 * Built-in settings per kind, following DESIGN.md: rate limits retried patiently and honouring the
 * server's wait, overload and server errors with backoff, timeouts and network errors retried, and
 * everything that another attempt cannot fix (auth, bad request, content filter, 404, quota on this
 * key, cancellation, unknown) not retried.
 */
const BUILTIN: Record<ErrorKind, DefaultPolicyOptions & { retry: boolean }> = {
  rate_limited: { retry: true, attempts: 5, backoff: { type: 'exponential', initialMs: 1000, factor: 2, maxMs: 60_000 } },
  // Overload is the provider's shared capacity, not the key's: its own SDKs retry it after 0.375-0.5 s,
  // then 0.75-1 s, 1.5-2 s (openai-node 6.x and @anthropic-ai/sdk 0.68 `calculateDefaultRetryTimeoutMillis`:
  // 0.5 s x 2^n, up to 25 % less). 1 s with equal jitter (0.5-1 s, 1-2 s, 2-4 s) stays at or above them;
  // 2 s made every late 503 of a batch its last two seconds (the demo ended 1.11-1.14 of its minimum).
  overloaded: { retry: true, attempts: 4, backoff: { type: 'exponential', initialMs: 1000, factor: 2, maxMs: 60_000 } },
  server_error: { retry: true, attempts: 3, backoff: { type: 'exponential', initialMs: 500, factor: 2, maxMs: 10_000 } },
  timeout: { retry: true, attempts: 3 },
  network: { retry: true, attempts: 3 },
  quota_exhausted: { retry: false },
  auth: { retry: false },
  invalid_request: { retry: false },
  content_filtered: { retry: false },
  not_found: { retry: false },
  cancelled: { retry: false },
  unknown: { retry: false },
};

const BASE = {
  attempts: 3,
  jitter: 'equal' as JitterSpec,
  honourRetryAfter: true,
  maxRetryAfterMs: 300_000,
  retryAfterAboveCap: 'clamp' as RetryAfterAboveCap,
};

const KIND_KEYS = ['retry', 'attempts', 'backoff', 'jitter', 'honourRetryAfter', 'maxRetryAfterMs', 'retryAfterAboveCap'] as const;
const TOP_KEYS = ['default', 'byKind', 'timeoutMs', 'deadlineMs', 'shouldRetry', 'validate', 'giveUpMessage'] as const;
const PREFIX = 'retry policy: ';

/**
 * Validates one settings object; returns only the fields it sets. `field` is the object's path in
 * messages (`retry policy: byKind.rate_limited`, or a config file's `retry.rate_limited`).
 */
function checkKindOptions(value: unknown, field: string, allowRetry: boolean): KindPolicyOptions {
  const obj = checkObject(value, field);
  const allowed = allowRetry ? KIND_KEYS : KIND_KEYS.filter((k) => k !== 'retry');
  if (!allowRetry && 'retry' in obj) {
    throw new TypeError(`${field}.retry is not allowed: whether a kind is retried is set per kind in byKind`);
  }
  checkKnownKeys(obj, allowed, field);
  const out: KindPolicyOptions = {};
  const f = (name: string): string => `${field}.${name}`;
  if (obj.retry !== undefined) out.retry = checkBoolean(obj.retry, f('retry'));
  if (obj.attempts !== undefined) out.attempts = checkInteger(obj.attempts, f('attempts'), 1);
  if (obj.backoff !== undefined) out.backoff = toBackoff(obj.backoff as BackoffSpec, f('backoff'));
  if (obj.jitter !== undefined) out.jitter = checkJitter(obj.jitter, f('jitter'));
  if (obj.honourRetryAfter !== undefined) out.honourRetryAfter = checkBoolean(obj.honourRetryAfter, f('honourRetryAfter'));
  if (obj.maxRetryAfterMs !== undefined) out.maxRetryAfterMs = checkNumber(obj.maxRetryAfterMs, f('maxRetryAfterMs'), 0);
  if (obj.retryAfterAboveCap !== undefined) {
    if (obj.retryAfterAboveCap !== 'clamp' && obj.retryAfterAboveCap !== 'give-up') {
      throw new TypeError(`${f('retryAfterAboveCap')} must be 'clamp' or 'give-up', got ${show(obj.retryAfterAboveCap)}`);
    }
    out.retryAfterAboveCap = obj.retryAfterAboveCap;
  }
  return out;
}

/**
 * Validates per-kind settings, the `byKind` of {@link retryPolicy}: every key an error kind, every
 * value a {@link KindPolicyOptions}. Throws a `TypeError`/`RangeError` naming the field with its path,
 * `field` first (default `retry policy: byKind`; the CLI passes `retry` for its config file's key).
 * Returns the validated settings, backoff specs built into {@link Backoff}s.
 */
export function checkByKind(value: unknown, field = `${PREFIX}byKind`): Partial<Record<ErrorKind, KindPolicyOptions>> {
  const obj = checkObject(value, field);
  const byKind: Partial<Record<ErrorKind, KindPolicyOptions>> = {};
  for (const [kind, options] of Object.entries(obj)) {
    if (!isErrorKind(kind)) {
      throw new TypeError(`${field}.${kind} is not an error kind (known: ${ERROR_KINDS.join(', ')})`);
    }
    if (options !== undefined) byKind[kind] = checkKindOptions(options, `${field}.${kind}`, true);
  }
  return byKind;
}

/** Applies built-in, then `default`, then `byKind` settings for one kind. */
function resolveKind(kind: ErrorKind, defaults: KindPolicyOptions, own: KindPolicyOptions): ResolvedKindPolicy {
  const builtin = BUILTIN[kind];
  const pick = <K extends keyof KindPolicyOptions>(key: K): KindPolicyOptions[K] => own[key] ?? defaults[key] ?? builtin[key];
  const backoffSpec = pick('backoff');
  return Object.freeze({
    // Cancellation always stops: no override can make a cancelled job run again.
    retry: kind === 'cancelled' ? false : (own.retry ?? builtin.retry),
    attempts: pick('attempts') ?? BASE.attempts,
    backoff: backoffSpec ? toBackoff(backoffSpec) : exponentialBackoff(),
    jitter: pick('jitter') ?? BASE.jitter,
    honourRetryAfter: pick('honourRetryAfter') ?? BASE.honourRetryAfter,
    maxRetryAfterMs: pick('maxRetryAfterMs') ?? BASE.maxRetryAfterMs,
    retryAfterAboveCap: pick('retryAfterAboveCap') ?? BASE.retryAfterAboveCap,
  });
}

class ValidatedRetryPolicy implements RetryPolicy {
  constructor(
    private readonly kinds: Record<ErrorKind, ResolvedKindPolicy>,
    readonly timeoutMs: number | undefined,
    readonly deadlineMs: number | undefined,
    private readonly shouldRetry: RetryPolicyOptions['shouldRetry'],
    readonly validate: RetryPolicyOptions['validate'],
    readonly giveUpMessage: RetryPolicyOptions['giveUpMessage'],
  ) {}

  settingsFor(kind: ErrorKind): ResolvedKindPolicy {
    // An unexpected kind (a newer classifier, a stored row) is treated as unknown rather than crashing.
    return this.kinds[kind] ?? this.kinds.unknown;
  }

  decide(input: DecideInput): RetryDecision {
    const { classification, attempt } = input;
    const kind = classification.kind;
    const s = this.settingsFor(kind);
    const attempts = s.attempts;
    const stop = (giveUp: GiveUpReason, reason: string): RetryDecision => ({ retry: false, delayMs: 0, attempts, reason, giveUp });

    if (kind === 'cancelled') return stop('cancelled', 'cancelled: no further attempt');
    let retry = s.retry;
    if (this.shouldRetry) {
      const override = this.shouldRetry(classification, attempt);
      if (override !== undefined) retry = override;
    }
    if (!retry) return stop('not_retryable', `${kind} is not retried`);
    if (attempt >= attempts) return stop('exhausted', `${kind}: attempts exhausted (${attempt}/${attempts})`);

    const random = input.random ?? Math.random;
    let delay = applyJitter(s.jitter, {
      delayMs: s.backoff.delayMs(attempt),
      previousDelayMs: input.previousDelayMs,
      baseMs: s.backoff.initialMs,
      capMs: s.backoff.maxMs,
      random,
    });
    const serverWait = s.honourRetryAfter ? serverWaitMs(classification, input.now) : undefined;
    if (serverWait !== undefined) {
      let wait = serverWait;
      if (wait > s.maxRetryAfterMs) {
        if (s.retryAfterAboveCap === 'give-up') {
          return stop(
            'retry_after_above_cap',
            `${kind}: server asked to wait ${Math.round(wait)}ms, above maxRetryAfterMs ${s.maxRetryAfterMs}`,
          );
        }
        wait = s.maxRetryAfterMs;
      }
      delay = Math.max(delay, wait);
    }
    delay = Math.max(0, Math.round(delay));
    if (this.deadlineMs !== undefined && input.elapsedMs !== undefined && input.elapsedMs + delay >= this.deadlineMs) {
      return stop('deadline', `${kind}: waiting ${delay}ms would pass the ${this.deadlineMs}ms deadline`);
    }
    return { retry: true, delayMs: delay, attempts, reason: `${kind}: retry ${attempt}/${attempts - 1} in ${delay}ms` };
  }
}

/** The server's requested wait: `retryAfterMs`, else the time until `resetAt` when `now` is known. */
function serverWaitMs(c: Classification, now: number | undefined): number | undefined {
  if (c.retryAfterMs !== undefined && Number.isFinite(c.retryAfterMs)) return Math.max(0, c.retryAfterMs);
  if (c.resetAt !== undefined && now !== undefined && Number.isFinite(c.resetAt)) return Math.max(0, c.resetAt - now);
  return undefined;
}

/**
 * Builds a validated {@link RetryPolicy}. Settings resolve per kind: DESIGN.md's built-in defaults,
 * then `default`, then `byKind[kind]`. Bad options throw at once with the field's path:
 *
 * ```ts
 * const policy = retryPolicy({
 *   default: { attempts: 3, backoff: { type: 'exponential', initialMs: 1000, factor: 2, maxMs: 4000 }, jitter: 'none' },
 *   byKind: { rate_limited: { attempts: 6, maxRetryAfterMs: 120_000 } },
 *   timeoutMs: 10_000,
 * });
 * policy.decide({ classification, attempt: 1 }); // { retry: true, delayMs: 1000, attempts: 3, reason }
 * ```
 */
export function retryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  const top = checkObject(options, 'retry policy');
  checkKnownKeys(top, TOP_KEYS, 'retry policy');
  const defaults = options.default === undefined ? {} : checkKindOptions(options.default, `${PREFIX}default`, false);
  const byKind = options.byKind === undefined ? {} : checkByKind(options.byKind);
  const timeoutMs = options.timeoutMs === undefined ? undefined : checkNumber(options.timeoutMs, `${PREFIX}timeoutMs`, 1);
  const deadlineMs = options.deadlineMs === undefined ? undefined : checkNumber(options.deadlineMs, `${PREFIX}deadlineMs`, 1);
  for (const name of ['shouldRetry', 'validate', 'giveUpMessage'] as const) {
    if (options[name] !== undefined) checkFunction(options[name], `${PREFIX}${name}`);
  }
  const kinds = {} as Record<ErrorKind, ResolvedKindPolicy>;
  for (const kind of ERROR_KINDS) kinds[kind] = resolveKind(kind, defaults, byKind[kind] ?? {});
  return new ValidatedRetryPolicy(kinds, timeoutMs, deadlineMs, options.shouldRetry, options.validate, options.giveUpMessage);
}

/** The policy with every built-in default (DESIGN.md's kinds table). */
export const defaultRetryPolicy: RetryPolicy = retryPolicy();
