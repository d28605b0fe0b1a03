import type { Clock } from '../clock/clock.js';
import type { Classification } from '../classify/kinds.js';
import { SluiceError } from '../classify/sluice-error.js';
import type { RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';
import type { CallContext, ProviderAdapter, ProviderResponse } from '../provider/types.js';
import { makeCounter, type LimitAlgorithm, type LimitCounter } from '../simulator/limit-algorithms.js';

/** The hidden limits of one key on a {@link FakeProvider}: requests and tokens per window, by the provider's `algorithm`. */
export interface FakeKeyLimits {
  /** Requests admitted per window. Default: unlimited. */
  requests?: number;
  /** Tokens admitted per window (each request costs its payload's `tokens`, default 1). Default: unlimited. */
  tokens?: number;
  /** Window length in ms. Default 60,000. */
  windowMs?: number;
}

/** A payload the fake provider understands; any other value is treated as `{}`. */
export interface FakePayload {
  /** Tokens this request consumes (prompt plus output). Default 1. */
  tokens?: number;
  /** Anything; echoed back in the result. */
  value?: unknown;
}

/** A scripted failure: the classification the fake throws as a {@link SluiceError}. */
export type FakeFault = Partial<Classification> & Pick<Classification, 'kind'>;

/** Options for {@link FakeProvider}. */
export interface FakeProviderOptions {
  clock: Clock;
  /** Hidden limits, one for all keys or per key name. Default: no limit. */
  limits?: FakeKeyLimits | Record<string, FakeKeyLimits>;
  /** Latency of every call in ms, or a function of the payload. Default 0 (answers on the next timer turn). */
  latencyMs?: number | ((payload: unknown, ctx: CallContext) => number);
  /**
   * How the hidden limits are enforced (see the simulator's `limit-algorithms.ts`). Default
   * `sliding-window`, the most forgiving (a whole window's allowance at once); tests of how fast a
   * client finds a limit should run against the others too.
   */
  algorithm?: LimitAlgorithm;
  /** Token bucket capacity as a share of the limit. Default 1/60. */
  burstFraction?: number;
  /**
   * Send rate-limit information (as a parsed snapshot) with every answer: `true` or `'openai'` for
   * OpenAI-style `x-ratelimit-*` (per minute, reset = time to refill), `'ietf'` for IETF `RateLimit` /
   * `RateLimit-Policy` (limit per `windowMs`, reset = end of the window). Default false.
   */
  rateLimitHeaders?: boolean | 'openai' | 'ietf';
  /** Send a Retry-After (the time until the window frees a slot) with each 429. Default true. */
  retryAfter?: boolean;
  /** Scripted faults, consulted before the limits: return a fault to fail this call. */
  fault?: (payload: unknown, ctx: CallContext, callNumber: number) => FakeFault | undefined;
}

/** Counters a {@link FakeProvider} keeps; read them to check a run. */
export interface FakeProviderStats {
  /** Calls received (including rejected ones). */
  calls: number;
  succeeded: number;
  /** Calls answered 429 because a hidden limit was exceeded. */
  rateLimited: number;
  /** Calls failed by the `fault` script. */
  faulted: number;
  /** Calls aborted by their signal while in flight. */
  aborted: number;
  /** Highest number of calls in flight at once. */
  maxInFlight: number;
  /** Time of the first and last call received (ms since epoch). */
  firstCallAt?: number;
  lastCallAt?: number;
  /** Time of the last successful answer. */
  lastSuccessAt?: number;
  /** Per key name: calls received, succeeded and rate limited. */
  byKey: Record<string, { calls: number; succeeded: number; rateLimited: number }>;
  /** Call times per key, in order (virtual ms since epoch). */
  callTimes: Record<string, number[]>;
}

/** The result of a successful fake call. */
export interface FakeResult {
  key: string;
  attempt: number;
  at: number;
  value: unknown;
}

/**
 * An in-memory provider for tests and simulations on a virtual clock. Each key has hidden limits over a
 * sliding window; a call over the limit is answered 429 (a `rate_limited` {@link SluiceError}) with the
 * time until the window frees room as `retryAfterMs`. Latency runs on the injected clock and honours the
 * call's AbortSignal. Faults can be scripted per call.
 */
export class FakeProvider implements ProviderAdapter<unknown, FakeResult> {
  readonly name = 'fake';
  readonly stats: FakeProviderStats = {
    calls: 0,
    succeeded: 0,
    rateLimited: 0,
    faulted: 0,
    aborted: 0,
    maxInFlight: 0,
    byKey: {},
    callTimes: {},
  };
  private readonly counters = new Map<string, { requests?: LimitCounter; tokens?: LimitCounter }>();
  private inFlight = 0;

  constructor(private readonly options: FakeProviderOptions) {}

  estimateTokens(payload: unknown): number {
    return tokensOf(payload);
  }

  async call(payload: unknown, ctx: CallContext): Promise<ProviderResponse<FakeResult>> {
    const { clock } = this.options;
    const now = clock.now();
    const key = ctx.key.name;
    const s = this.stats;
    const perKey = (s.byKey[key] ??= { calls: 0, succeeded: 0, rateLimited: 0 });
    s.calls++;
    perKey.calls++;
    (s.callTimes[key] ??= []).push(now);
    s.firstCallAt ??= now;
    s.lastCallAt = now;

    const fault = this.options.fault?.(payload, ctx, s.calls);
    if (fault) {
      s.faulted++;
      // Like a real server's error answers, a fault carries the key's rate-limit headers when they are on.
      throw new SluiceError({ retryable: false, message: `fake ${fault.kind}`, ...fault }, this.options.rateLimitHeaders ? { rateLimit: this.snapshot(key, now) } : {});
    }
    const counters = this.countersFor(key);
    const tokens = tokensOf(payload);
    const wait = Math.max(counters.requests?.waitFor(now, 1) ?? 0, counters.tokens?.waitFor(now, tokens) ?? 0);
    if (wait > 0) {
      s.rateLimited++;
      perKey.rateLimited++;
      throw new SluiceError(
        {
          kind: 'rate_limited',
          retryable: true,
          status: 429,
          code: 'rate_limit_exceeded',
          message: `fake: rate limit exceeded on key ${key}`,
          ...(this.options.retryAfter === false ? {} : { retryAfterMs: wait }),
        },
        this.options.rateLimitHeaders ? { rateLimit: this.snapshot(key, now) } : {},
      );
    }
    counters.requests?.add(now, 1);
    counters.tokens?.add(now, tokens);
    const rateLimit = this.options.rateLimitHeaders ? this.snapshot(key, now) : undefined;

    this.inFlight++;
    s.maxInFlight = Math.max(s.maxInFlight, this.inFlight);
    try {
      const latency = this.latency(payload, ctx);
      await clock.sleep(latency, ctx.signal);
    } catch (err) {
      s.aborted++;
      throw err;
    } finally {
      this.inFlight--;
    }
    s.succeeded++;
    perKey.succeeded++;
    s.lastSuccessAt = clock.now();
    const value = isObject(payload) ? payload.value : undefined;
    return {
      result: { key, attempt: ctx.attempt, at: now, value },
      usage: { inputTokens: tokens, outputTokens: 0 },
      status: 200,
      ...(rateLimit ? { rateLimit } : {}),
    };
  }

  /** Share of calls answered 429 by the hidden limits. */
  get rateLimitedShare(): number {
    return this.stats.calls === 0 ? 0 : this.stats.rateLimited / this.stats.calls;
  }

  private limitsFor(key: string): FakeKeyLimits {
    const l = this.options.limits;
    if (!l) return {};
    if (isLimits(l)) return l;
    return (l as Record<string, FakeKeyLimits>)[key] ?? {};
  }

  /** The counters of `key`'s hidden limits, made on first use. */
  private countersFor(key: string): { requests?: LimitCounter; tokens?: LimitCounter } {
    let c = this.counters.get(key);
    if (!c) {
      const limits = this.limitsFor(key);
      const spec = { algorithm: this.options.algorithm ?? 'sliding-window', windowMs: limits.windowMs ?? 60_000, ...(this.options.burstFraction !== undefined ? { burstFraction: this.options.burstFraction } : {}) } as const;
      c = {};
      if (limits.requests !== undefined) c.requests = makeCounter({ ...spec, limit: limits.requests });
      if (limits.tokens !== undefined) c.tokens = makeCounter({ ...spec, limit: limits.tokens });
      this.counters.set(key, c);
    }
    return c;
  }

  private snapshot(key: string, now: number): RateLimitSnapshot {
    const limits = this.limitsFor(key);
    const windowMs = limits.windowMs ?? 60_000;
    const c = this.countersFor(key);
    const ietf = this.options.rateLimitHeaders === 'ietf';
    const snap: RateLimitSnapshot = { at: now, source: ietf ? 'ietf' : 'openai' };
    const window = (limit: number, counter: LimitCounter) => {
      const st = counter.status(now);
      // IETF resets are whole seconds, rounded up, as servers send them.
      const resetAt = ietf ? now + Math.ceil(st.resetMs / 1000) * 1000 : now + st.resetMs;
      return { limit, remaining: st.remaining, resetAt, windowMs };
    };
    if (limits.requests !== undefined && c.requests) snap.requests = window(limits.requests, c.requests);
    if (limits.tokens !== undefined && c.tokens && !ietf) snap.tokens = window(limits.tokens, c.tokens);
    return snap;
  }

  private latency(payload: unknown, ctx: CallContext): number {
    const l = this.options.latencyMs ?? 0;
    return typeof l === 'function' ? l(payload, ctx) : l;
  }
}

const LIMIT_FIELDS = new Set(['requests', 'tokens', 'windowMs']);

function isLimits(value: object): value is FakeKeyLimits {
  const keys = Object.keys(value);
  return keys.length === 0 || keys.every((k) => LIMIT_FIELDS.has(k));
}

function isObject(value: unknown): value is FakePayload {
  return typeof value === 'object' && value !== null;
}

function tokensOf(payload: unknown): number {
  const t = isObject(payload) ? payload.tokens : undefined;
  return typeof t === 'number' && t >= 0 ? t : 1;
}
