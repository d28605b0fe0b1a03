import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseResetTime, parseRetryAfter, parseRetryAfterMs } from '../../src/classify/retry-after.js';
import { MAX_DURATION_MS } from '../../src/classify/duration.js';

const NOW = Date.UTC(2026, 0, 1, 0, 0, 0); // 1767225600000

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 6 ', NOW)).toBe(6000);
    expect(parseRetryAfter('1.5', NOW)).toBe(1500);
  });

  it('reads an HTTP-date as the time until then', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('2026-01-01T00:01:00Z', NOW)).toBe(60_000);
  });

  it('a date already past means no wait', () => {
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', NOW)).toBe(0);
  });

  it('an epoch (seconds or ms) is a time, not a wait', () => {
    expect(parseRetryAfter(String(NOW / 1000 + 10), NOW)).toBe(10_000);
    expect(parseRetryAfter(String(NOW + 2500), NOW)).toBe(2500);
  });

  it.each([null, undefined, '', 'soon', '-5', 'NaN', 'Infinity', '1e3', '99999999', 'Mon, 99 Foo 2026 GMT', '1 2'])(
    'rejects %j',
    (value) => {
      expect(parseRetryAfter(value, NOW)).toBeUndefined();
    },
  );

  it('rejects dates more than a year away', () => {
    expect(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', NOW)).toBeUndefined();
  });

  it('never throws; results are whole ms within a year', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.double().map(String), fc.date().map((d) => (isNaN(d.getTime()) ? 'x' : d.toUTCString()))), fc.double(), (value, now) => {
        const ms = parseRetryAfter(value, now);
        return ms === undefined || (Number.isInteger(ms) && ms >= 0 && ms <= MAX_DURATION_MS);
      }),
      { numRuns: 2000 },
    );
  });

  it('delta-seconds round-trip', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 999_999 }), (s) => parseRetryAfter(String(s), NOW) === s * 1000));
  });

  it('HTTP-dates round-trip to the second', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 * 86_400 }), (s) => parseRetryAfter(new Date(NOW + s * 1000).toUTCString(), NOW) === s * 1000),
    );
  });
});

describe('parseRetryAfterMs', () => {
  it('reads milliseconds', () => {
    expect(parseRetryAfterMs('644')).toBe(644);
    expect(parseRetryAfterMs('6000.5')).toBe(6001);
  });
  it.each([null, undefined, '', '-1', 'x', '1e3', '99999999999999'])('rejects %j', (v) => {
    expect(parseRetryAfterMs(v)).toBeUndefined();
  });
});

describe('parseResetTime', () => {
  it('a duration is relative to now', () => {
    expect(parseResetTime('2m59.56s', NOW)).toBe(NOW + 179_560);
    expect(parseResetTime('20ms', NOW)).toBe(NOW + 20);
  });
  it('an epoch in seconds is a time', () => {
    expect(parseResetTime('1767225660', NOW)).toBe(NOW + 60_000);
  });
  it('an epoch in ms is a time', () => {
    expect(parseResetTime(String(NOW + 5), NOW)).toBe(NOW + 5);
  });
  it('a small number is delta-seconds', () => {
    expect(parseResetTime('60', NOW)).toBe(NOW + 60_000);
  });
  it('an RFC 3339 date is a time', () => {
    expect(parseResetTime('2026-01-01T00:00:42Z', NOW)).toBe(NOW + 42_000);
  });
  it.each([null, '', 'never', '-3', '4102444800'])('rejects %j', (v) => {
    expect(parseResetTime(v, NOW)).toBeUndefined();
  });
  it('never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), fc.integer(), (v, now) => {
      const at = parseResetTime(v, now);
      return at === undefined || Number.isFinite(at);
    }));
  });
});
