/**
 * Per-key limits of the rate limiter, and their validation.
 *
 * Every rate is "per window" (`windowMs`, default one minute), as providers announce them
 * (requests per minute, tokens per minute).
 */
export interface KeyLimits {
  /** Request starts allowed per window. */
  requestsPerMinute?: number;
  /** Tokens (input estimate + max output) allowed per window. */
  tokensPerMinute?: number;
  /** Length of the window the two rates refer to, in ms. Default 60 000. */
  windowMs?: number;
  /** Minimum time between two request starts on this key, in ms (the Veo story: 5 000). */
  minSpacingMs?: number;
  /** Maximum calls in flight at once on this key. */
  maxInFlight?: number;
  /** Requests allowed per day (counted by the quota monitor). */
  requestsPerDay?: number;
  /**
   * Requests the bucket may hold at once. Default: 2 from 100 requests per window (a timer firing late
   * is made up by the next start; it costs one start per window), else 1; at least one ms worth. The bucket refills at
   * `(requestsPerMinute - burst + 1) / windowMs`, so that no window of `windowMs` ever sees more than
   * `requestsPerMinute` starts (see `bucket.ts`); burst 1 means perfectly even spacing at the full rate.
   * Once a key was answered a bare 429, its default is 1.5 (never two starts at once), and 1 for the
   * first start after a pause longer than a start's spacing; a configured `burst` always holds.
   */
  burst?: number;
  /**
   * Share of `tokensPerMinute` the token bucket may hold at once (default 1/60: one second's worth).
   * A request larger than that still passes when the bucket is full, and the debt delays later ones.
   */
  tokenBurstFraction?: number;
}

/** Default window length: one minute. */
export const DEFAULT_WINDOW_MS = 60_000;

const POSITIVE_FIELDS = ['requestsPerMinute', 'tokensPerMinute', 'windowMs', 'requestsPerDay', 'burst'] as const;

/**
 * Throws a `RangeError`/`TypeError` naming the field when `limits` is not usable, e.g.
 * `key "a": requestsPerMinute must be a finite number > 0, got 0`. `where` prefixes the message.
 */
export function validateLimits(limits: KeyLimits, where = 'limits'): void {
  if (limits === null || typeof limits !== 'object') {
    throw new TypeError(`${where}: limits must be an object, got ${String(limits)}`);
  }
  for (const field of POSITIVE_FIELDS) {
    const value = limits[field];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new RangeError(`${where}: ${field} must be a finite number > 0, got ${String(value)}`);
    }
  }
  if (limits.minSpacingMs !== undefined) checkNonNegative(limits.minSpacingMs, 'minSpacingMs', where);
  if (limits.maxInFlight !== undefined) {
    const v = limits.maxInFlight;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new RangeError(`${where}: maxInFlight must be an integer >= 1, got ${String(v)}`);
    }
  }
  if (limits.tokenBurstFraction !== undefined) {
    const v = limits.tokenBurstFraction;
    if (typeof v !== 'number' || !(v > 0 && v <= 1)) {
      throw new RangeError(`${where}: tokenBurstFraction must be in (0, 1], got ${String(v)}`);
    }
  }
  if (limits.burst !== undefined && limits.requestsPerMinute !== undefined && limits.burst > limits.requestsPerMinute) {
    throw new RangeError(
      `${where}: burst must not exceed requestsPerMinute, got burst ${limits.burst} > requestsPerMinute ${limits.requestsPerMinute}`,
    );
  }
}

/** Throws naming `field` unless `value` is a number in [0, 1]. Used for thresholds. */
export function checkFraction(value: unknown, field: string, where: string): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new RangeError(`${where}: ${field} must be a number between 0 and 1, got ${String(value)}`);
  }
}

/** Throws naming `field` unless `value` is a finite number >= 0. */
export function checkNonNegative(value: unknown, field: string, where: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${where}: ${field} must be a finite number >= 0, got ${String(value)}`);
  }
}
