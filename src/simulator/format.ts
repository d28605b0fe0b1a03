/** Formatting of durations and times the way providers put them in headers and bodies. */

/**
 * Go-style duration as OpenAI sends in `x-ratelimit-reset-*`: `20ms`, `1s`, `8.64s`, `6m0s`, `1h2m3s`.
 */
export function goDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = (total % 60_000) / 1000;
  const s = `${Number(seconds.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${s}`;
  if (minutes > 0) return `${minutes}m${s}`;
  return s;
}

/** Seconds as in OpenAI's "Please try again in 1.5s" and Google's RetryInfo `retryDelay` ("37s", "0.5s"). */
export function secondsText(ms: number): string {
  return `${Number((Math.max(0, ms) / 1000).toFixed(3))}s`;
}

/** Whole seconds, rounded up, for `retry-after`. At least 1 when there is any wait. */
export function ceilSeconds(ms: number): number {
  return ms <= 0 ? 0 : Math.max(1, Math.ceil(ms / 1000));
}

/** RFC 3339 time with second precision, as Anthropic sends in `anthropic-ratelimit-*-reset`: `2026-01-01T00:01:00Z`. */
export function rfc3339(epochMs: number): string {
  return new Date(Math.ceil(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
