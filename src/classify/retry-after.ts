/**
 * Parsers for the server's "wait before retrying" and "limit resets at" values:
 * `Retry-After` (RFC 9110: delta-seconds or HTTP-date), `retry-after-ms` (OpenAI, Azure), and reset
 * headers that may be a duration, a delta in seconds, an epoch, or a date.
 */
import { MAX_DURATION_MS, parseDuration, toWholeMs } from './duration.js';

/** Inputs longer than this are not Retry-After values (an HTTP-date is 29 characters). */
const MAX_INPUT_LENGTH = 64;

/** A plain non-negative decimal number (`120`, `1.5`). Linear: one digit run, optional fraction. */
const DECIMAL = /^\d+(?:\.\d+)?$/;

/** Epoch seconds from 2001 on; smaller integers are deltas. */
const MIN_EPOCH_SECONDS = 1_000_000_000;
/** Epoch milliseconds from 2001 on. */
const MIN_EPOCH_MS = 1_000_000_000_000;

/**
 * Parses a `Retry-After` value into the milliseconds to wait from `now` (ms since epoch).
 *
 * - delta-seconds (`120`, also the non-standard `1.5`) -> that many seconds;
 * - HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`) or ISO date -> time until then (0 if already past);
 * - an epoch in seconds or ms (some servers send one) -> time until then, when within a year of `now`.
 *
 * Total: never throws. Returns `undefined` for null, garbage, negatives, NaN, or waits above one year.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (typeof value !== 'string' || value.length > MAX_INPUT_LENGTH) return undefined;
  const s = value.trim();
  if (s.length === 0) return undefined;
  if (DECIMAL.test(s)) {
    const n = Number(s);
    const epochWait = waitUntilEpoch(n, now);
    if (epochWait !== undefined) return epochWait;
    return toWholeMs(n * 1000);
  }
  const at = parseDate(s);
  if (at === undefined || !Number.isFinite(now)) return undefined;
  return toWholeMs(Math.max(0, at - now));
}

/**
 * Parses a `retry-after-ms` value (OpenAI, Azure): a non-negative number of milliseconds.
 * Total: `undefined` on garbage, negatives or above one year.
 */
export function parseRetryAfterMs(value: string | null | undefined): number | undefined {
  if (typeof value !== 'string' || value.length > MAX_INPUT_LENGTH) return undefined;
  const s = value.trim();
  if (!DECIMAL.test(s)) return undefined;
  return toWholeMs(Number(s));
}

/**
 * Parses a rate-limit reset value into an absolute time (ms since epoch). Reset headers come in every
 * form: a duration (`x-ratelimit-reset-requests: 2m59.56s`, OpenAI/Groq), an RFC 3339 date
 * (`anthropic-ratelimit-requests-reset`), an epoch in seconds or ms (`x-ratelimit-reset: 1767225600`,
 * which is a time, not a wait), or a delta in seconds (`x-ratelimit-reset: 60`, IETF draft).
 *
 * Total: never throws; `undefined` on garbage or when the time is more than a year away.
 */
export function parseResetTime(value: string | null | undefined, now: number): number | undefined {
  if (typeof value !== 'string' || value.length > MAX_INPUT_LENGTH || !Number.isFinite(now)) return undefined;
  const s = value.trim();
  if (s.length === 0) return undefined;
  if (DECIMAL.test(s)) {
    const n = Number(s);
    const epoch = epochToMs(n);
    if (epoch !== undefined) return withinAYear(epoch, now) ? epoch : undefined;
    const wait = toWholeMs(n * 1000);
    return wait === undefined ? undefined : now + wait;
  }
  const duration = parseDuration(s);
  if (duration !== undefined) return now + duration;
  const at = parseDate(s);
  return at !== undefined && withinAYear(at, now) ? at : undefined;
}

/** Interprets a number as an epoch in seconds or ms, if it is large enough to be one. */
function epochToMs(n: number): number | undefined {
  if (n >= MIN_EPOCH_MS) return n;
  if (n >= MIN_EPOCH_SECONDS) return n * 1000;
  return undefined;
}

/** The wait until an epoch value, or `undefined` when `n` is not an epoch within a year of `now`. */
function waitUntilEpoch(n: number, now: number): number | undefined {
  const at = epochToMs(n);
  if (at === undefined || !Number.isFinite(now) || !withinAYear(at, now)) return undefined;
  return toWholeMs(Math.max(0, at - now));
}

function withinAYear(at: number, now: number): boolean {
  return Math.abs(at - now) <= MAX_DURATION_MS;
}

/**
 * Parses an HTTP-date or ISO 8601 date. `Date.parse` accepts odd inputs (`"1"`, `"2"`), so a
 * date must contain a month name or a `YYYY-MM-DD` form before we trust it.
 */
function parseDate(s: string): number | undefined {
  if (!/[a-z]{3}|\d{4}-\d{2}-\d{2}/i.test(s)) return undefined;
  const at = Date.parse(s);
  return Number.isFinite(at) ? at : undefined;
}
