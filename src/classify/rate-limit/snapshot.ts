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
  /** When the window resets, ms since epoch (durations like `6m0s` are converted using the response time). */
  resetAt?: number;
}

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
