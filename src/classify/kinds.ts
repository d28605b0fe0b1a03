/**
 * The kinds every failure is classified into (see DESIGN.md, "Error kinds").
 * The classifier's output drives every decision: retry or not, which delay, cool or park or disable the key.
 */
export const ERROR_KINDS = [
  'rate_limited',
  'quota_exhausted',
  'overloaded',
  'server_error',
  'timeout',
  'network',
  'auth',
  'invalid_request',
  'content_filtered',
  'not_found',
  'cancelled',
  'unknown',
] as const;

/** One of {@link ERROR_KINDS}. */
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Provider families the classifier and the adapters know. */
export const PROVIDERS = ['openai', 'azure', 'anthropic', 'gemini', 'vertex', 'openai-compatible', 'http'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** Kinds retried by default (DESIGN.md). `quota_exhausted` is retryable only on another key, so it is not here. */
export const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  'rate_limited',
  'overloaded',
  'server_error',
  'timeout',
  'network',
]);

/** The classifier's verdict on one failure. */
export interface Classification {
  kind: ErrorKind;
  /** Whether another attempt can succeed (on the same or another key), by default policy. */
  retryable: boolean;
  /** HTTP status, when there was a response. */
  status?: number;
  /** Provider or system error code (`rate_limit_exceeded`, `RESOURCE_EXHAUSTED`, `ECONNRESET`, ...). */
  code?: string;
  /** Human-readable message, never containing a secret. */
  message: string;
  /** The server's requested wait before the next attempt, in ms (Retry-After, retry-after-ms, RetryInfo, "try again in 6m0s"). */
  retryAfterMs?: number;
  /** An absolute time (ms since epoch) at which the limit resets, when the server gave one as a time rather than a wait. */
  resetAt?: number;
  /**
   * For `quota_exhausted`: when the key can serve again (ms since epoch), when that is known: a stated
   * regain date ("You will regain access on 2026-04-01 at 00:00 UTC"), the end of a stated wait of an hour
   * or more ("Please retry after 86400 seconds", "Your quota will reset after 12h34m16s"), or the daily reset
   * of a per-day quota. The key pool parks the key until then.
   */
  resumeAt?: number;
  /** For quota failures: whether the exhausted quota is per-minute (cool) or per-day or billing (park). */
  quotaScope?: 'minute' | 'day' | 'billing' | 'unknown';
  /** Which provider's format was recognised. */
  provider?: ProviderName;
}

/** Type guard for error kind strings from untrusted input (config, CLI flags, stored rows). */
export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && (ERROR_KINDS as readonly string[]).includes(value);
}
