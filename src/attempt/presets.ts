import { SluiceError } from '../classify/sluice-error.js';
import type { Clock } from '../clock/clock.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import { retryPolicy } from './policy.js';
import type { KindPolicyOptions, RetryPolicy, RetryPolicyOptions } from './policy.js';
import { checkFunction, checkInteger } from './validate.js';

/**
 * Veo submission (seeds/veo3-sequential-submission.md): 429 RESOURCE_EXHAUSTED and 503 UNAVAILABLE
 * are retried after 30 s, 60 s, 120 s; 400 and anything else fail at once; exhaustion fails with
 * the kind as message (`rate_limited` for 429s, as the story's `error_message="rate_limited"`).
 *
 * Reading of the story: "exponential backoff retries starting at 30s, max 3 retries per job" and the
 * 30/60/120 s schedule describe three retries, so a job makes at most 4 attempts (the first plus 3
 * retries); "retry exhaustion after 3 attempts" is read as after 3 retry attempts. Pass
 * `{ attempts: 3 }` for the other reading (two retries, 30 s and 60 s).
 *
 * The story's 5 s spacing between submissions is a rate limit (min spacing), not a retry setting:
 * configure it on the limiter.
 */
export function veoSubmission(options: { attempts?: number } = {}): RetryPolicy {
  return retryPolicy(presetOptions.veoSubmission(options));
}

function veoSubmissionOptions(options: { attempts?: number } = {}): RetryPolicyOptions {
  const attempts = checkInteger(options.attempts ?? 4, 'presets.veoSubmission: attempts', 1);
  const transient: KindPolicyOptions = {
    retry: true,
    attempts,
    backoff: { type: 'schedule', delaysMs: [30_000, 60_000, 120_000] },
    jitter: 'none',
  };
  return {
    byKind: {
      rate_limited: transient,
      overloaded: transient,
      // "Other -> fail immediately": even kinds Sluice retries by default.
      server_error: { retry: false },
      timeout: { retry: false },
      network: { retry: false },
    },
    giveUpMessage: (info) => (info.reason === 'not_retryable' ? `${info.classification.kind}: ${info.classification.message}` : info.classification.kind),
  };
}

/** Options of {@link clipDownload}. */
export interface ClipDownloadOptions {
  /** Attempts including the first. Default 3 (the story's `stop_after_attempt(3)`). */
  attempts?: number;
  /** Per-attempt timeout in ms. Default 10,000. */
  timeoutMs?: number;
  /**
   * Whether a downloaded result is empty (an empty file is not fixed by downloading again, so it
   * fails at once). Default: null/undefined, '' , a zero-length buffer or array, or `{ size: 0 }`.
   */
  isEmpty?: (value: unknown) => boolean;
}

/** The default emptiness test of {@link clipDownload}. */
export function isEmptyResult(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return value.byteLength === 0;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object' && typeof (value as { size?: unknown }).size === 'number') return (value as { size: number }).size === 0;
  return false;
}

/**
 * Clip download (seeds/clip-download-retry.md): up to 3 attempts, waits 1 s then 2 s (exponential,
 * factor 2, capped at 4 s: the story's `wait_exponential(multiplier=1, min=1, max=4)`; 4 s is reached
 * with `attempts: 4`), 10 s per attempt; network, timeout and server errors retried; 404, auth and an
 * empty result fail at once. Use with `mode: 'result'` to get "nothing" on failure.
 */
export function clipDownload(options: ClipDownloadOptions = {}): RetryPolicy {
  return retryPolicy(presetOptions.clipDownload(options));
}

function clipDownloadOptions(options: ClipDownloadOptions = {}): RetryPolicyOptions {
  const attempts = checkInteger(options.attempts ?? 3, 'presets.clipDownload: attempts', 1);
  const isEmpty = options.isEmpty ?? isEmptyResult;
  checkFunction(isEmpty, 'presets.clipDownload: isEmpty');
  return {
    default: { attempts, backoff: { type: 'exponential', initialMs: 1000, factor: 2, maxMs: 4000 }, jitter: 'none' },
    byKind: { not_found: { retry: false }, auth: { retry: false } },
    timeoutMs: options.timeoutMs ?? 10_000,
    validate: (value) => {
      if (isEmpty(value)) {
        throw new SluiceError({ kind: 'invalid_request', retryable: false, code: 'EMPTY_RESULT', message: 'empty result' });
      }
    },
  };
}

/** Options of {@link genaiProcessing}. */
export interface GenaiProcessingOptions {
  /** Clock of the breaker (tests pass a VirtualClock). */
  clock?: Clock;
  /** Breaker settings; default: opens after 5 consecutive failures or at once on auth, 60 s break. */
  breaker?: CircuitBreakerOptions;
}

/**
 * GenAI processing fix (seeds/infinite-retry-loops.md): every loop ends after 3 attempts with waits
 * of 1 s, 2 s (4 s cap); an invalid API key (auth) is never retried and opens the breaker so that
 * the other services stop calling with it. Returns the policy and the breaker to pass to `retry()`
 * (`retry(fn, policy, { breaker })`), shared by all the services that call the same API.
 */
export function genaiProcessing(options: GenaiProcessingOptions = {}): { policy: RetryPolicy; breaker: CircuitBreaker } {
  const policy = retryPolicy(presetOptions.genaiProcessing());
  const breaker = new CircuitBreaker({
    name: 'genai',
    strategy: { type: 'consecutive', failures: 5 },
    breakDurationMs: 60_000,
    openOnKinds: ['auth'],
    ...(options.clock ? { clock: options.clock } : {}),
    ...options.breaker,
  });
  return { policy, breaker };
}

function genaiProcessingOptions(): RetryPolicyOptions {
  return {
    default: { attempts: 3, backoff: { type: 'exponential', initialMs: 1000, factor: 2, maxMs: 4000 }, jitter: 'none' },
    byKind: { auth: { retry: false } },
  };
}

/**
 * Quota plan (seeds/quota-management.md): a per-minute 429 waits 60 s, doubling to 5 min, 5 attempts;
 * quota exhaustion waits 5 min, doubling to 1 h, 3 attempts; a 5xx is retried 4 times from 500 ms;
 * 10 % jitter on each, so that many workers do not retry in step.
 */
export function quotaPlan(): RetryPolicy {
  return retryPolicy(presetOptions.quotaPlan());
}

function quotaPlanOptions(): RetryPolicyOptions {
  const jitter = { type: 'proportional', ratio: 0.1 } as const;
  return {
    byKind: {
      rate_limited: { retry: true, attempts: 5, backoff: { type: 'exponential', initialMs: 60_000, factor: 2, maxMs: 300_000 }, jitter },
      quota_exhausted: { attempts: 3, backoff: { type: 'exponential', initialMs: 300_000, factor: 2, maxMs: 3_600_000 }, jitter },
      server_error: { retry: true, attempts: 4, backoff: { type: 'exponential', initialMs: 500, factor: 2, maxMs: 4000 }, jitter },
    },
  };
}

/** The named policies that reproduce the stories in `seeds/`. */
export const presets = { veoSubmission, clipDownload, genaiProcessing, quotaPlan } as const;

/**
 * The one form of each preset: its retry-policy options (giveUpMessage and validate included), from
 * which the policy of {@link presets} is built. Use it to change a preset before building it, e.g.
 * `retryPolicy({ ...presetOptions.veoSubmission(), timeoutMs: 5000 })`; the CLI merges its
 * `--attempts` and per-kind settings into it this way.
 */
export const presetOptions = {
  veoSubmission: veoSubmissionOptions,
  clipDownload: clipDownloadOptions,
  genaiProcessing: genaiProcessingOptions,
  quotaPlan: quotaPlanOptions,
} as const;
