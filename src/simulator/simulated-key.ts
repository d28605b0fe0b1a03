import type { KeyLimits } from './options.js';
import { makeCounter, type LimitAlgorithm, type LimitCounter } from './limit-algorithms.js';

/** Which limit refused a request. `day` is a quota (per-day) refusal; the others are rate limits. */
export type LimitKind = 'requests' | 'tokens' | 'day' | 'concurrency';

/** Why a request was refused, with what the providers put in their 429 messages. */
export interface Rejection {
  kind: LimitKind;
  /** The configured limit. */
  limit: number;
  /** Used within the window at the time of the request. */
  used: number;
  /** What the request asked for (1 request, or its tokens). */
  requested: number;
  /** Ms until the request would fit. */
  retryAfterMs: number;
}

/** One window's state for rate-limit headers. */
export interface WindowStatus {
  limit: number;
  remaining: number;
  /** Ms until the reset the algorithm reports: the bucket full again, or the window over (see `limit-algorithms.ts`). */
  resetMs: number;
}

/** What rate-limit headers report: only the limits that are configured. */
export interface LimitStatus {
  requests?: WindowStatus;
  tokens?: WindowStatus;
}

/** Limits and usage of one key, on the simulator's clock. */
export class SimulatedKey {
  /** Requests being served now. */
  inFlight = 0;
  /** Requests received with this key (also those refused), for `revokeAfter`. */
  received = 0;
  private readonly requests: LimitCounter | undefined;
  private readonly tokens: LimitCounter | undefined;
  private day = -1;
  /** Windows per minute: headers state per-minute limits (OpenAI, Anthropic), so a shortened window's limit is scaled to a minute. */
  private readonly perMinute: number;
  private dayCount = 0;

  constructor(
    readonly name: string,
    readonly limits: KeyLimits,
    windowMs: number,
    private readonly dayMs: number,
    algorithm: { algorithm: LimitAlgorithm; burstFraction?: number } = { algorithm: 'token-bucket' },
  ) {
    this.perMinute = 60_000 / windowMs;
    const counter = (limit: number | undefined): LimitCounter | undefined =>
      limit === undefined ? undefined : makeCounter({ ...algorithm, limit, windowMs });
    this.requests = counter(limits.requestsPerMinute);
    this.tokens = counter(limits.tokensPerMinute);
  }

  /** Whether the key has a per-minute limit (so rate-limit headers have something to say). */
  get hasWindowLimits(): boolean {
    return this.limits.requestsPerMinute !== undefined || this.limits.tokensPerMinute !== undefined;
  }

  /** True once the key has received more than `revokeAfter` requests. */
  get revoked(): boolean {
    return this.limits.revokeAfter !== undefined && this.received > this.limits.revokeAfter;
  }

  /** The first limit a request of `tokens` tokens would break at `now`, or undefined if it may pass. */
  check(now: number, tokens: number): Rejection | undefined {
    const l = this.limits;
    if (l.requestsPerDay !== undefined) {
      const used = this.usedToday(now);
      if (used + 1 > l.requestsPerDay) {
        const nextDay = (Math.floor(now / this.dayMs) + 1) * this.dayMs;
        return { kind: 'day', limit: l.requestsPerDay, used, requested: 1, retryAfterMs: nextDay - now };
      }
    }
    if (l.maxConcurrent !== undefined && this.inFlight >= l.maxConcurrent) {
      return { kind: 'concurrency', limit: l.maxConcurrent, used: this.inFlight, requested: 1, retryAfterMs: 1000 };
    }
    if (l.requestsPerMinute !== undefined && this.requests) {
      const wait = this.requests.waitFor(now, 1);
      if (wait > 0) {
        return { kind: 'requests', limit: l.requestsPerMinute, used: this.requests.used(now), requested: 1, retryAfterMs: wait };
      }
    }
    if (l.tokensPerMinute !== undefined && this.tokens) {
      const wait = this.tokens.waitFor(now, tokens);
      if (wait > 0) {
        return { kind: 'tokens', limit: l.tokensPerMinute, used: this.tokens.used(now), requested: tokens, retryAfterMs: wait };
      }
    }
    return undefined;
  }

  /** Records an admitted request of `tokens` tokens. */
  admit(now: number, tokens: number): void {
    this.requests?.add(now, 1);
    this.tokens?.add(now, tokens);
    if (this.limits.requestsPerDay !== undefined) {
      this.usedToday(now);
      this.dayCount++;
    }
  }

  /** Remaining capacity for rate-limit headers. */
  status(now: number): LimitStatus {
    const l = this.limits;
    const out: LimitStatus = {};
    // The providers' headers are per minute by definition: with a window shortened for a demo or a test,
    // announce the same rate per real minute (600 per 15 s is 2,400 per minute), or a client that
    // believes the headers would send at a quarter of the allowed rate.
    const perMinute = (limit: number): number => Math.round(limit * this.perMinute);
    if (l.requestsPerMinute !== undefined && this.requests) out.requests = { ...this.requests.status(now), limit: perMinute(l.requestsPerMinute) };
    if (l.tokensPerMinute !== undefined && this.tokens) out.tokens = { ...this.tokens.status(now), limit: perMinute(l.tokensPerMinute) };
    return out;
  }

  /** Forgets all usage (stats reset). */
  reset(): void {
    this.requests?.clear();
    this.tokens?.clear();
    this.day = -1;
    this.dayCount = 0;
    this.received = 0;
  }

  private usedToday(now: number): number {
    const day = Math.floor(now / this.dayMs);
    if (day !== this.day) {
      this.day = day;
      this.dayCount = 0;
    }
    return this.dayCount;
  }
}
