import { describe, expect, it } from 'vitest';
import type { Classification, ErrorKind } from '../../src/classify/kinds.js';
import { retryPolicy } from '../../src/attempt/policy.js';

const c = (kind: ErrorKind, extra: Partial<Classification> = {}): Classification => ({
  kind,
  retryable: true,
  message: kind,
  ...extra,
});

describe('retryPolicy validation', () => {
  it('names the field and the bad value', () => {
    expect(() => retryPolicy({ byKind: { rate_limited: { attempts: -1 } } })).toThrow(
      'retry policy: byKind.rate_limited.attempts must be an integer >= 1, got -1',
    );
    expect(() => retryPolicy({ default: { attempts: Number.NaN } })).toThrow(
      'retry policy: default.attempts must be an integer >= 1, got NaN',
    );
    expect(() =>
      retryPolicy({ byKind: { overloaded: { backoff: { type: 'exponential', initialMs: 5000, maxMs: 1000 } } } }),
    ).toThrow('retry policy: byKind.overloaded.backoff.maxMs must be >= initialMs (5000), got 1000');
    expect(() => retryPolicy({ byKind: { rate_limitd: {} } as never })).toThrow(/byKind\.rate_limitd is not an error kind/);
    expect(() => retryPolicy({ default: { retry: true } as never })).toThrow(/default\.retry is not allowed/);
    expect(() => retryPolicy({ timeoutMs: 0 })).toThrow(/retry policy: timeoutMs must be a finite number >= 1, got 0/);
    expect(() => retryPolicy({ byKind: { timeout: { retryAfterAboveCap: 'wait' as never } } })).toThrow(
      /byKind\.timeout\.retryAfterAboveCap must be 'clamp' or 'give-up'/,
    );
    expect(() => retryPolicy({ shouldRetry: 5 as never })).toThrow(/retry policy: shouldRetry must be a function/);
    expect(() => retryPolicy({ atempts: 3 } as never)).toThrow(/retry policy\.atempts is not a known option/);
  });
});

describe('RetryPolicy.decide', () => {
  const exact = retryPolicy({
    default: { attempts: 3, backoff: { type: 'exponential', initialMs: 1000, factor: 2, maxMs: 4000 }, jitter: 'none' },
  });

  it('follows the backoff until attempts run out', () => {
    expect(exact.decide({ classification: c('network'), attempt: 1 })).toMatchObject({ retry: true, delayMs: 1000, attempts: 3 });
    expect(exact.decide({ classification: c('network'), attempt: 2 })).toMatchObject({ retry: true, delayMs: 2000 });
    expect(exact.decide({ classification: c('network'), attempt: 3 })).toMatchObject({
      retry: false,
      giveUp: 'exhausted',
      attempts: 3,
    });
  });

  it('never retries the kinds DESIGN.md marks as permanent', () => {
    for (const kind of ['auth', 'invalid_request', 'content_filtered', 'not_found', 'quota_exhausted', 'unknown'] as const) {
      const d = exact.decide({ classification: c(kind), attempt: 1 });
      expect(d.retry, kind).toBe(false);
      expect(d.giveUp).toBe('not_retryable');
      expect(d.reason).toBe(`${kind} is not retried`);
    }
  });

  it('cancelled stops even when shouldRetry says yes', () => {
    const p = retryPolicy({ shouldRetry: () => true });
    expect(p.decide({ classification: c('cancelled'), attempt: 1 })).toMatchObject({ retry: false, giveUp: 'cancelled' });
    expect(p.decide({ classification: c('auth'), attempt: 1 }).retry).toBe(true);
  });

  it('shouldRetry can veto and undefined keeps the policy', () => {
    const p = retryPolicy({ shouldRetry: (cl) => (cl.status === 502 ? false : undefined) });
    expect(p.decide({ classification: c('server_error', { status: 502 }), attempt: 1 }).retry).toBe(false);
    expect(p.decide({ classification: c('server_error', { status: 500 }), attempt: 1 }).retry).toBe(true);
  });

  it('honours Retry-After as max(backoff, server wait), capped with clamp by default', () => {
    const p = retryPolicy({ default: { jitter: 'none', maxRetryAfterMs: 60_000 } });
    const d1 = p.decide({ classification: c('rate_limited', { retryAfterMs: 20_000 }), attempt: 1 });
    expect(d1.delayMs).toBe(20_000);
    const d2 = p.decide({ classification: c('rate_limited', { retryAfterMs: 10 }), attempt: 1 });
    expect(d2.delayMs).toBe(1000); // backoff is longer than the server's wait
    const d3 = p.decide({ classification: c('rate_limited', { retryAfterMs: 360_000 }), attempt: 1 });
    expect(d3).toMatchObject({ retry: true, delayMs: 60_000 });
  });

  it('gives up above the cap when told to', () => {
    const p = retryPolicy({ byKind: { rate_limited: { maxRetryAfterMs: 60_000, retryAfterAboveCap: 'give-up' } } });
    const d = p.decide({ classification: c('rate_limited', { retryAfterMs: 360_000 }), attempt: 1 });
    expect(d).toMatchObject({ retry: false, giveUp: 'retry_after_above_cap' });
  });

  it('ignores the server wait when honourRetryAfter is false', () => {
    const p = retryPolicy({ default: { jitter: 'none', honourRetryAfter: false } });
    expect(p.decide({ classification: c('rate_limited', { retryAfterMs: 20_000 }), attempt: 1 }).delayMs).toBe(1000);
  });

  it('uses resetAt when now is given', () => {
    const p = retryPolicy({ default: { jitter: 'none' } });
    const d = p.decide({ classification: c('rate_limited', { resetAt: 1_000_000 + 45_000 }), attempt: 1, now: 1_000_000 });
    expect(d.delayMs).toBe(45_000);
  });

  it('never plans a sleep past the deadline', () => {
    const p = retryPolicy({ default: { jitter: 'none' }, deadlineMs: 10_000 });
    expect(p.decide({ classification: c('network'), attempt: 1, elapsedMs: 8000 }).retry).toBe(true);
    expect(p.decide({ classification: c('network'), attempt: 2, elapsedMs: 8500 })).toMatchObject({
      retry: false,
      giveUp: 'deadline',
    });
  });

  it('applies jitter with the injected random, and decorrelated uses the previous delay', () => {
    const p = retryPolicy({ default: { jitter: 'full' } });
    expect(p.decide({ classification: c('network'), attempt: 2, random: () => 0.25 }).delayMs).toBe(500);
    const d = retryPolicy({ default: { jitter: 'decorrelated', backoff: { type: 'exponential', initialMs: 100, maxMs: 10_000 } } });
    expect(d.decide({ classification: c('network'), attempt: 2, previousDelayMs: 1000, random: () => 1 }).delayMs).toBe(3000);
  });

  it('resolves built-in, then default, then byKind', () => {
    const p = retryPolicy({ default: { attempts: 2 }, byKind: { rate_limited: { attempts: 7 }, unknown: { retry: true } } });
    expect(p.settingsFor('rate_limited').attempts).toBe(7);
    expect(p.settingsFor('overloaded').attempts).toBe(2);
    expect(p.settingsFor('unknown').retry).toBe(true);
    expect(retryPolicy().settingsFor('rate_limited').attempts).toBe(5);
  });

  it('treats an unexpected kind as unknown', () => {
    expect(exact.decide({ classification: c('weird' as ErrorKind), attempt: 1 }).retry).toBe(false);
  });
});
