import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_DURATION_MS, parseDuration } from '../../src/classify/duration.js';

describe('parseDuration', () => {
  it.each([
    ['6m0s', 360_000],
    ['20ms', 20],
    ['1m30.5s', 90_500],
    ['644ms', 644],
    ['0.5s', 500],
    ['2s', 2000],
    ['1h2m', 3_720_000],
    ['1h2m3s', 3_723_000],
    ['"3.5s"', 3500],
    ['37s', 37_000],
    ['2m59.56s', 179_560],
    ['0.1s', 100],
    ['0', 0],
    ['0s', 0],
    ['6 seconds', 6000],
    ['1.5 minutes', 90_000],
    [' 1.5s ', 1500],
    ['1500us', 2],
    ['1µs', 1],
    ['.5s', 500],
  ])('%s -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', ' ', 'abc', '12', '-1s', 's', '1x', 'NaNs', 'Infinitys', '1e3s', '1..5s', '1s garbage', '""', '400d', '9'.repeat(80) + 's'])(
    'rejects %j',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );

  it('rejects durations above one year', () => {
    expect(parseDuration('365d')).toBe(MAX_DURATION_MS);
    expect(parseDuration('366d')).toBeUndefined();
    expect(parseDuration('9000h')).toBeUndefined();
  });

  it('never throws and returns undefined or a whole ms count within a year', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const ms = parseDuration(text);
        return ms === undefined || (Number.isInteger(ms) && ms >= 0 && ms <= MAX_DURATION_MS);
      }),
      { numRuns: 2000 },
    );
  });

  it('parses Go-style h/m/s compositions exactly', () => {
    fc.assert(
      fc.property(fc.nat(99), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, ms) => {
        const text = `${h}h${m}m${s}s${ms}ms`;
        return parseDuration(text) === ((h * 60 + m) * 60 + s) * 1000 + ms;
      }),
    );
  });

  it('round-trips fractional seconds to whole ms (rounded up)', () => {
    fc.assert(
      fc.property(fc.nat(100_000), (ms) => parseDuration(`${(ms / 1000).toFixed(3)}s`) === ms),
    );
  });
});
