import { describe, expect, it } from 'vitest';
import { constantBackoff, exponentialBackoff, scheduleBackoff, takeDelays, toBackoff } from '../../src/attempt/backoff.js';
import {
  applyJitter,
  checkJitter,
  decorrelatedJitter,
  equalJitter,
  fullJitter,
  proportionalJitter,
} from '../../src/attempt/jitter.js';

describe('backoff', () => {
  it('exponential grows by factor and caps at maxMs', () => {
    const b = exponentialBackoff({ initialMs: 1000, factor: 2, maxMs: 5000 });
    expect(takeDelays(b, 5)).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(b.delayMs(10_000)).toBe(5000); // no overflow to Infinity or NaN
  });

  it('is a pure iterable: two iterations give the same delays', () => {
    const b = exponentialBackoff({ initialMs: 10, factor: 3, maxMs: 1000 });
    const first: number[] = [];
    for (const d of b) {
      first.push(d);
      if (first.length === 4) break;
    }
    const again: number[] = [];
    for (const d of b) {
      again.push(d);
      if (again.length === 4) break;
    }
    expect(first).toEqual([10, 30, 90, 270]);
    expect(again).toEqual(first);
  });

  it('schedule repeats its last value beyond the list', () => {
    const b = scheduleBackoff([30_000, 60_000, 120_000]);
    expect(takeDelays(b, 5)).toEqual([30_000, 60_000, 120_000, 120_000, 120_000]);
    expect(b.maxMs).toBe(120_000);
  });

  it('constant returns the same delay', () => {
    expect(takeDelays(constantBackoff(250), 3)).toEqual([250, 250, 250]);
  });

  it('rejects bad options naming the field', () => {
    expect(() => exponentialBackoff({ initialMs: 2000, maxMs: 1000 })).toThrow(/maxMs must be >= initialMs \(2000\), got 1000/);
    expect(() => exponentialBackoff({ initialMs: Number.NaN })).toThrow(/initialMs must be a finite number >= 0, got NaN/);
    expect(() => exponentialBackoff({ factor: 0.5 })).toThrow(/factor must be a finite number >= 1/);
    expect(() => scheduleBackoff([])).toThrow(/delaysMs must be a non-empty array/);
    expect(() => scheduleBackoff([1, -1])).toThrow(/delaysMs\[1\] must be a finite number >= 0, got -1/);
    expect(() => toBackoff({ type: 'linear' } as never, 'x.backoff')).toThrow(/x\.backoff\.type must be one of/);
    expect(() => toBackoff({ type: 'exponential', inital: 5 } as never, 'x.backoff')).toThrow(/x\.backoff\.inital is not a known option/);
  });
});

describe('jitter', () => {
  const fixed = (v: number) => () => v;

  it('full, equal and proportional span their ranges', () => {
    expect(fullJitter(1000, fixed(0))).toBe(0);
    expect(fullJitter(1000, fixed(0.5))).toBe(500);
    expect(equalJitter(1000, fixed(0))).toBe(500);
    expect(equalJitter(1000, fixed(0.999))).toBeCloseTo(999.5);
    expect(proportionalJitter(1000, 0.2, fixed(0))).toBe(800);
    expect(proportionalJitter(1000, 0.2, fixed(1))).toBe(1200);
    expect(proportionalJitter(1000, 0.2, fixed(0.5))).toBe(1000);
  });

  it('decorrelated grows from the previous delay and respects the cap', () => {
    expect(decorrelatedJitter(100, undefined, 10_000, fixed(0))).toBe(100);
    expect(decorrelatedJitter(100, 1000, 10_000, fixed(1))).toBe(3000);
    expect(decorrelatedJitter(100, 5000, 10_000, fixed(1))).toBe(10_000);
  });

  it('applyJitter dispatches by spec', () => {
    const input = { delayMs: 1000, baseMs: 100, capMs: 5000, random: fixed(0.5) };
    expect(applyJitter('none', input)).toBe(1000);
    expect(applyJitter('full', input)).toBe(500);
    expect(applyJitter('equal', input)).toBe(750);
    expect(applyJitter('decorrelated', { ...input, previousDelayMs: 1000 })).toBe(1550);
    expect(applyJitter({ type: 'proportional', ratio: 0.1 }, input)).toBe(1000);
  });

  it('validates specs', () => {
    expect(checkJitter('full', 'j')).toBe('full');
    expect(() => checkJitter('fuzzy', 'p.jitter')).toThrow(/p\.jitter must be 'none'/);
    expect(() => checkJitter({ type: 'proportional', ratio: 2 }, 'p.jitter')).toThrow(/p\.jitter\.ratio must be between 0 and 1/);
  });
});
