import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { goDuration, rfc3339, secondsText } from '../../src/simulator/format.js';
import { latencySampler, mulberry32 } from '../../src/simulator/random.js';
import { SlidingWindow } from '../../src/simulator/sliding-window.js';
import { readRequestText, replyFor } from '../../src/simulator/text.js';

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('simulator units', () => {
  it('formats durations like the providers', () => {
    expect(goDuration(20)).toBe('20ms');
    expect(goDuration(1000)).toBe('1s');
    expect(goDuration(8640)).toBe('8.64s');
    expect(goDuration(360_000)).toBe('6m0s');
    expect(goDuration(3_723_000)).toBe('1h2m3s');
    expect(secondsText(37_000)).toBe('37s');
    expect(secondsText(1500)).toBe('1.5s');
    expect(rfc3339(Date.UTC(2026, 0, 1, 0, 1, 0, 200))).toBe('2026-01-01T00:01:01Z');
  });

  it('samples latency distributions with the requested mean and p99, replayably', () => {
    const n = 20_000;
    const draw = (sampler: () => number): number[] => Array.from({ length: n }, sampler);
    const normal = draw(latencySampler({ type: 'normal', mean: 100, p99: 200 }, mulberry32(1)));
    expect(mean(normal)).toBeCloseTo(100, -1);
    expect(quantile(normal, 0.99)).toBeGreaterThan(185);
    expect(quantile(normal, 0.99)).toBeLessThan(215);
    const lognormal = draw(latencySampler({ type: 'lognormal', mean: 100, p99: 400 }, mulberry32(2)));
    expect(mean(lognormal)).toBeGreaterThan(90);
    expect(mean(lognormal)).toBeLessThan(110);
    expect(quantile(lognormal, 0.99)).toBeGreaterThan(340);
    expect(quantile(lognormal, 0.99)).toBeLessThan(460);
    const uniform = draw(latencySampler({ type: 'uniform', min: 10, max: 20 }, mulberry32(3)));
    expect(Math.min(...uniform)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...uniform)).toBeLessThan(20);
    expect(draw(latencySampler({ type: 'normal', mean: 5, p99: 50 }, mulberry32(4))).every((x) => x >= 0)).toBe(true);
    expect(draw(latencySampler({ type: 'normal', mean: 100, p99: 200 }, mulberry32(1)))).toEqual(normal);
  });

  it('sliding window never admits more than the limit within any window', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 200 }), fc.integer({ min: 1, max: 10 }), (gaps, limit) => {
        const w = new SlidingWindow(1000);
        const admitted: number[] = [];
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          const wait = w.waitFor(now, 1, limit);
          if (wait > 0) {
            // The wait it announces is exact: just before, still refused; at it, admitted. (Time only moves forward.)
            now += wait - 1;
            expect(w.waitFor(now, 1, limit)).toBeGreaterThan(0);
            now += 1;
            expect(w.waitFor(now, 1, limit)).toBe(0);
          }
          w.add(now, 1);
          admitted.push(now);
        }
        for (let i = limit; i < admitted.length; i++) expect(admitted[i]! - admitted[i - limit]!).toBeGreaterThanOrEqual(1000);
      }),
      { numRuns: 200 },
    );
  });

  it('reads prompt text, tokens and markers from any provider body, never throwing', () => {
    expect(readRequestText({ messages: [{ role: 'user', content: [{ type: 'text', text: 'abcd [[fault:503]]' }] }], max_completion_tokens: 7 })).toMatchObject({
      marker: '503',
      maxOutputTokens: 7,
    });
    expect(readRequestText({ contents: [{ parts: [{ text: 'abcdefgh' }] }], generationConfig: { maxOutputTokens: 5 } })).toMatchObject({ inputTokens: 2, maxOutputTokens: 5 });
    expect(readRequestText({ instances: [{ prompt: '[[fault:nonsense]]' }] }).marker).toBeUndefined();
    fc.assert(fc.property(fc.jsonValue(), (v) => typeof readRequestText(v).inputTokens === 'number'));
    expect(replyFor('x'.repeat(400), 3)).toMatchObject({ tokens: 3, truncated: true });
  });
});
