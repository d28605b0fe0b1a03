/**
 * What a response's rate-limit headers said about one key's quota at one moment.
 * Produced by `parseRateLimitHeaders`, consumed by the quota monitor and the limiter.
 * Every field is optional: a missing or malformed header yields nothing rather than a guess.
 */
export interface RateLimitWindow {
  /** The limit for this window (requests or tokens). */
  limit?: number;
  /** What remains in the current window. */
  remaining?: number;
  /**
   * When the window resets, ms since epoch (durations like `6m0s` are converted using the response time).
   * What "reset" means depends on the family: see {@link RateLimitSnapshot.refill}.
   */
  resetAt?: number;
  /**
   * The period `limit` refers to, ms, where the family states or implies it: IETF `w=`, 60 000 for the
   * per-minute families (OpenAI, Azure, Anthropic). Absent for legacy `X-RateLimit-*`, which states no
   * window (the limiter infers one from the resets it sees).
   */
  windowMs?: number;
}

/**
 * How the server gives capacity back, which decides what `resetAt` means.
 * - `window`: nothing returns until `resetAt`, then the whole limit does (a fixed window: IETF
 *   `RateLimit`, legacy `X-RateLimit-*`). What remains may be spent at once.
 * - `continuous`: capacity returns evenly over the window and `resetAt` is when it is full again
 *   (OpenAI: "time until the rate limit resets to its initial state"; Anthropic: "fully replenished").
 *   At 0 remaining the next unit is back after `windowMs / limit`, not at `resetAt`.
 */
export type RefillMeaning = 'window' | 'continuous';

export interface RateLimitSnapshot {
  /** ms since epoch when the headers were read. */
  at: number;
  requests?: RateLimitWindow;
  /** Total tokens (OpenAI) or the combined token limit. */
  tokens?: RateLimitWindow;
  /** Anthropic reports input and output tokens separately. */
  inputTokens?: RateLimitWindow;
  outputTokens?: RateLimitWindow;
  /** Which header family was recognised. */
  source: 'openai' | 'azure' | 'anthropic' | 'ietf' | 'legacy';

}

/** What `resetAt` means for a snapshot's family (the one place this rule lives). */
export function refillOf(snapshot: Pick<RateLimitSnapshot, 'source'>): RefillMeaning {
  return snapshot.source === 'ietf' || snapshot.source === 'legacy' ? 'window' : 'continuous';
}

/** Requests a 429's headers must still report left for the refusal to contradict them (one more than a request in flight). */
const REQUESTS_LEFT = 2;

/**
 * Whether a 429's own rate-limit headers show the key able to start more now: at least
 * {@link REQUESTS_LEFT} requests left and, where tokens are reported, some tokens left. The server
 * counts a request at its start, so the remainder it reports already excludes the calls in flight.
 * Such a refusal did not come from the limits the headers describe (a stray or per-shard 429: Vertex's
 * shared capacity, a gateway in front, the demo's injected faults), so it does not stop the key while
 * other calls on it succeed; the job still moves to another key or waits the server's time.
 */
export function showsQuotaLeft(s: RateLimitSnapshot | undefined): boolean {
  const requests = s?.requests?.remaining;
  const tokens = s?.tokens ?? s?.inputTokens;
  return requests !== undefined && requests >= REQUESTS_LEFT && (tokens?.remaining === undefined || tokens.remaining > 0);
}
