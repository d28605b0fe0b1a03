import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseRateLimitHeaders } from '../../src/classify/rate-limit/parse-headers.js';
import { refillOf } from '../../src/classify/rate-limit/snapshot.js';

const now = Date.UTC(2026, 0, 1);

describe('parseRateLimitHeaders', () => {
  it('OpenAI: limits, remaining and Go-style reset durations', () => {
    const snap = parseRateLimitHeaders(
      new Headers({
        'x-ratelimit-limit-requests': '5000',
        'x-ratelimit-remaining-requests': '4999',
        'x-ratelimit-reset-requests': '12ms',
        'x-ratelimit-limit-tokens': '4000000',
        'x-ratelimit-remaining-tokens': '3999000',
        'x-ratelimit-reset-tokens': '1m30.5s',
      }),
      now,
    );
    expect(snap).toEqual({
      at: now,
      source: 'openai',
      requests: { limit: 5000, remaining: 4999, resetAt: now + 12, windowMs: 60_000 },
      tokens: { limit: 4_000_000, remaining: 3_999_000, resetAt: now + 90_500, windowMs: 60_000 },
    });
    expect(parseRateLimitHeaders({ 'x-ratelimit-reset-requests': '6m0s', 'x-ratelimit-limit-requests': '3' }, now)?.requests?.resetAt).toBe(now + 360_000);
  });

  it('Azure: remaining only', () => {
    const snap = parseRateLimitHeaders([['x-ratelimit-remaining-requests', '99'], ['x-ratelimit-remaining-tokens', '1000']], now);
    expect(snap).toEqual({ at: now, source: 'azure', requests: { remaining: 99, windowMs: 60_000 }, tokens: { remaining: 1000, windowMs: 60_000 } });
  });

  it('Anthropic: requests, tokens, input and output tokens with RFC 3339 resets', () => {
    const snap = parseRateLimitHeaders(
      {
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '49',
        'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:30Z',
        'anthropic-ratelimit-input-tokens-limit': '40000',
        'anthropic-ratelimit-input-tokens-remaining': '39000',
        'anthropic-ratelimit-input-tokens-reset': '2026-01-01T00:00:02Z',
        'anthropic-ratelimit-output-tokens-limit': '8000',
        'anthropic-ratelimit-output-tokens-remaining': '7900',
        'anthropic-ratelimit-tokens-remaining': '46900',
      },
      now,
    );
    expect(snap?.source).toBe('anthropic');
    expect(snap?.requests).toEqual({ limit: 50, remaining: 49, resetAt: now + 30_000, windowMs: 60_000 });
    expect(snap?.inputTokens).toEqual({ limit: 40_000, remaining: 39_000, resetAt: now + 2_000, windowMs: 60_000 });
    expect(snap?.outputTokens).toEqual({ limit: 8_000, remaining: 7_900, windowMs: 60_000 });
    expect(snap?.tokens).toEqual({ remaining: 46_900, windowMs: 60_000 });
    expect(refillOf(snap!)).toBe('continuous');
  });

  it('IETF draft 7 dictionary and draft 8+ list with policy, and draft 6 separate fields', () => {
    expect(parseRateLimitHeaders({ RateLimit: 'limit=100, remaining=50, reset=30' }, now)).toEqual({
      at: now,
      source: 'ietf',
      requests: { limit: 100, remaining: 50, resetAt: now + 30_000 },
    });
    expect(parseRateLimitHeaders({ RateLimit: '"default";r=50;t=30', 'RateLimit-Policy': '"default";q=100;w=60' }, now)).toEqual({
      at: now,
      source: 'ietf',
      requests: { limit: 100, remaining: 50, resetAt: now + 30_000, windowMs: 60_000 },
    });
    expect(parseRateLimitHeaders({ 'RateLimit-Limit': '10', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '7' }, now)?.requests).toEqual({
      limit: 10,
      remaining: 0,
      resetAt: now + 7_000,
    });
  });

  // The forms express-rate-limit 8 writes (source/headers.ts: setDraft6Headers, setDraft7Headers,
  // setDraft8Headers) for `limit: 100, windowMs: 5000`: the window is `w`, in seconds.
  it('IETF windows: draft 6 and 7 policies (bare quota;w=) and draft 8 (q=; w=; pk=), as express-rate-limit sends them', () => {
    const draft6 = { 'RateLimit-Policy': '100;w=5', 'RateLimit-Limit': '100', 'RateLimit-Remaining': '99', 'RateLimit-Reset': '5' };
    expect(parseRateLimitHeaders(draft6, now)?.requests).toEqual({ limit: 100, remaining: 99, resetAt: now + 5_000, windowMs: 5_000 });
    const draft7 = { 'RateLimit-Policy': '100;w=5', RateLimit: 'limit=100, remaining=42, reset=3' };
    expect(parseRateLimitHeaders(draft7, now)?.requests).toEqual({ limit: 100, remaining: 42, resetAt: now + 3_000, windowMs: 5_000 });
    const draft8 = { 'RateLimit-Policy': '"100-in-5sec"; q=100; w=5; pk=:ZGVmYXVsdA==:', RateLimit: '"100-in-5sec"; r=0; t=2' };
    const snap = parseRateLimitHeaders(draft8, now);
    expect(snap?.requests).toEqual({ limit: 100, remaining: 0, resetAt: now + 2_000, windowMs: 5_000 });
    expect(refillOf(snap!)).toBe('window');
  });

  it('legacy X-RateLimit-*: epoch seconds when large, else delta seconds', () => {
    const epoch = now / 1000 + 120;
    expect(parseRateLimitHeaders({ 'X-RateLimit-Limit': '60', 'X-RateLimit-Remaining': '59', 'X-RateLimit-Reset': String(epoch) }, now)).toEqual({
      at: now,
      source: 'legacy',
      requests: { limit: 60, remaining: 59, resetAt: now + 120_000 },
    });
    expect(parseRateLimitHeaders({ 'X-RateLimit-Remaining': '3', 'X-RateLimit-Reset': '45' }, now)?.requests).toEqual({ remaining: 3, resetAt: now + 45_000 });
  });

  it('ignores malformed values and unrelated headers', () => {
    expect(parseRateLimitHeaders({ 'content-type': 'application/json' }, now)).toBeUndefined();
    expect(parseRateLimitHeaders({ 'x-ratelimit-limit-requests': '-5', 'x-ratelimit-remaining-requests': 'lots' }, now)).toBeUndefined();
    expect(parseRateLimitHeaders({ 'x-ratelimit-limit-requests': '10', 'x-ratelimit-reset-requests': 'soon' }, now)).toEqual({
      at: now,
      source: 'openai',
      requests: { limit: 10, windowMs: 60_000 },
    });
    expect(parseRateLimitHeaders(null, now)).toBeUndefined();
    expect(parseRateLimitHeaders('x-ratelimit-limit: 5', now)).toBeUndefined();
  });

  const headerName = fc.constantFrom(
    'x-ratelimit-limit-requests', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-requests', 'anthropic-ratelimit-requests-reset',
    'anthropic-ratelimit-tokens-limit', 'ratelimit', 'ratelimit-policy', 'ratelimit-reset', 'x-ratelimit-reset', 'x-ratelimit-limit',
  );
  const garbage = fc.oneof(fc.string(), fc.constantFrom('-1', 'NaN', 'Infinity', '1e99', '', ' ', '"";r=', 'limit=,remaining', '99999999999999999999'));

  it('never throws on garbage, and yields no NaN, negative or infinite number', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(headerName, fc.string()), garbage), { maxLength: 12 }), fc.integer(), (pairs, offset) => {
        const snap = parseRateLimitHeaders(pairs, now + offset);
        for (const w of [snap?.requests, snap?.tokens, snap?.inputTokens, snap?.outputTokens]) {
          for (const v of [w?.limit, w?.remaining, w?.resetAt]) if (v !== undefined) expect(Number.isFinite(v) && v >= 0).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips valid OpenAI and Anthropic values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 86_400 }), (limit, remaining, seconds) => {
        const openaiSnap = parseRateLimitHeaders({ 'x-ratelimit-limit-tokens': String(limit), 'x-ratelimit-remaining-tokens': String(remaining), 'x-ratelimit-reset-tokens': `${seconds}s` }, now);
        expect(openaiSnap?.tokens).toEqual({ limit, remaining, resetAt: now + seconds * 1000, windowMs: 60_000 });
        const at = new Date(now + seconds * 1000).toISOString();
        const anthropicSnap = parseRateLimitHeaders({ 'anthropic-ratelimit-requests-limit': String(limit), 'anthropic-ratelimit-requests-remaining': String(remaining), 'anthropic-ratelimit-requests-reset': at }, now);
        expect(anthropicSnap?.requests).toEqual({ limit, remaining, resetAt: now + seconds * 1000, windowMs: 60_000 });
      }),
    );
  });
});
