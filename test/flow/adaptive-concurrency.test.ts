import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { AdaptiveConcurrency, type ConcurrencyChange } from '../../src/flow/adaptive-concurrency.js';

function setup(options: ConstructorParameters<typeof AdaptiveConcurrency>[0] = {}) {
  const clock = new VirtualClock();
  const ac = new AdaptiveConcurrency({ clock, ...options });
  const changes: ConcurrencyChange[] = [];
  ac.events.on('change', (c) => changes.push(c));
  return { clock, ac, changes };
}

describe('AdaptiveConcurrency', () => {
  it('defaults: start 4; halves on a 429, at most one step per window', async () => {
    const { clock, ac, changes } = setup();
    expect(ac.limit).toBe(4);
    ac.recordFailure('rate_limited');
    ac.recordFailure('rate_limited');
    expect(ac.limit).toBe(2);
    expect(changes).toEqual([{ from: 4, to: 2, reason: 'rate limited' }]);
    await clock.advance(10_000);
    ac.recordFailure('overloaded');
    expect(ac.limit).toBe(1);
    await clock.advance(10_000);
    ac.recordFailure('overloaded');
    expect(ac.limit).toBe(1); // floor
  });

  it('steps up by one per window while success > 95 % and quota use < 50 %, up to the ceiling', async () => {
    const { clock, ac, changes } = setup({ initial: 15 });
    for (let w = 0; w < 3; w++) {
      for (let i = 0; i < 20; i++) ac.recordSuccess();
      await clock.advance(10_000);
      ac.recordSuccess();
    }
    expect(ac.limit).toBe(16);
    expect(changes).toHaveLength(1);
    expect(changes[0]!.reason).toMatch(/success 100%/);
  });

  it('error rate above 20 % steps down; quota use above 90 % steps down; high quota blocks step-up', async () => {
    const { clock, ac, changes } = setup({ initial: 8, decrease: 'decrement' });
    for (let i = 0; i < 7; i++) ac.recordSuccess();
    for (let i = 0; i < 3; i++) ac.recordFailure('server_error');
    await clock.advance(10_000);
    ac.recordSuccess();
    expect(ac.limit).toBe(7);
    expect(changes.at(-1)!.reason).toMatch(/error rate 27% above 20%/);
    await clock.advance(10_000);
    ac.observeQuota(0.93);
    expect(ac.limit).toBe(6);
    await clock.advance(10_000);
    ac.observeQuota(0.7);
    for (let i = 0; i < 20; i++) ac.recordSuccess();
    await clock.advance(10_000);
    ac.recordSuccess();
    expect(ac.limit).toBe(6);
    ac.recordFailure('invalid_request'); // the caller's fault: not a load signal
    expect(ac.limit).toBe(6);
    expect(clock.pendingCount).toBe(0);
  });

  it('rejects bad options naming the field', () => {
    expect(() => new AdaptiveConcurrency({ min: 5, max: 2 })).toThrow(/max must be >= min/);
    expect(() => new AdaptiveConcurrency({ initial: 0 })).toThrow(/initial must be an integer >= 1/);
    expect(() => new AdaptiveConcurrency({ maxErrorRate: 2 })).toThrow(/maxErrorRate must be a number between 0 and 1/);
    expect(() => new AdaptiveConcurrency({ windowMs: -1 })).toThrow(/windowMs/);
  });
});
