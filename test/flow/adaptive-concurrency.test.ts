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
  /** One window of `n` outcomes at the current limit: `errorAt(limit, i)` says which fail (as a 503). */
  async function window(clock: VirtualClock, ac: AdaptiveConcurrency, errorAt: (limit: number, i: number) => boolean, latencyMs = 100, n = 20): Promise<void> {
    await clock.advance(1_000);
    for (let i = 0; i < n; i++) {
      if (errorAt(ac.limit, i)) ac.recordFailure('overloaded');
      else ac.recordSuccess(latencyMs);
    }
  }

  it('defaults: start 4; one 429 changes nothing by itself; slow start doubles each clean window to the ceiling', async () => {
    const { clock, ac, changes } = setup();
    expect(ac.limit).toBe(4);
    ac.recordFailure('rate_limited');
    expect(ac.limit).toBe(4);
    for (let w = 0; w < 2; w++) await window(clock, ac, () => false);
    expect(changes.map((c) => c.to)).toEqual([8, 16]);
    for (let w = 0; w < 5; w++) await window(clock, ac, () => false);
    expect(ac.limit).toBe(16);
  });

  it('after the first sign of load, clean windows step up by one (slow start is over)', async () => {
    const { clock, ac, changes } = setup({ initial: 8, max: 64 });
    await window(clock, ac, () => false, 100);
    expect(ac.limit).toBe(16);
    await window(clock, ac, () => false, 350); // latency 3.5x the lowest: one step down, slow start ends
    expect(ac.limit).toBe(15);
    for (let w = 0; w < 4; w++) await window(clock, ac, () => false, 100);
    expect(changes.slice(-4).map((c) => c.to)).toEqual([16, 17, 18, 19]);
  });

  it('slow start judges windows of a quarter of windowMs: from 4 to 64 in about a second of clean outcomes', async () => {
    const { clock, ac } = setup({ max: 64 });
    for (let step = 0; step < 4; step++) {
      await clock.advance(250);
      for (let i = 0; i < 20; i++) ac.recordSuccess(100);
    }
    expect(ac.limit).toBe(64);
  });

  it('a steady 10 % of random faults at every level is noise: the limit still climbs to the ceiling', async () => {
    const { clock, ac, changes } = setup();
    let seed = 11;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let w = 0; w < 60; w++) await window(clock, ac, () => random() < 0.1);
    expect(ac.limit).toBeGreaterThanOrEqual(14);
    const downs = changes.filter((c) => c.to < c.from);
    expect(downs.length).toBeLessThanOrEqual(2);
  });

  it('errors that grow with concurrency step it down, saying why: a server that refuses beyond 6 in flight', async () => {
    const { clock, ac, changes } = setup();
    const overCap = (limit: number, i: number) => limit > 6 && i % limit >= 6; // the calls beyond 6 fail
    for (let w = 0; w < 30; w++) await window(clock, ac, overCap);
    expect(ac.limit).toBeLessThanOrEqual(7);
    expect(ac.limit).toBeGreaterThanOrEqual(5);
    expect(changes.some((c) => c.to < c.from && /errors rose with concurrency/.test(c.reason))).toBe(true);
  });

  it('latency rising well above the lowest seen steps down; quota use above 90 % steps down; high quota blocks step-up; caller faults are not load', async () => {
    const { clock, ac, changes } = setup({ initial: 8 });
    await window(clock, ac, () => false, 100);
    expect(ac.limit).toBe(16);
    await window(clock, ac, () => false, 350);
    expect(ac.limit).toBe(15);
    expect(changes.at(-1)!.reason).toMatch(/latency 350 ms, 3.5x the lowest/);
    await clock.advance(1_000);
    ac.observeQuota(0.93);
    expect(ac.limit).toBe(7);
    expect(changes.at(-1)!.reason).toMatch(/quota use 93% above 90%/);
    ac.observeQuota(0.7);
    await window(clock, ac, () => false, 100);
    expect(ac.limit).toBe(7);
    ac.recordFailure('invalid_request');
    ac.recordFailure('content_filtered');
    expect(ac.limit).toBe(7);
    expect(clock.pendingCount).toBe(0);
  });

  it("adopts a limit decided elsewhere (a fleet's): within its bounds, announced with its reason, never proposed as a step of its own", async () => {
    const { clock, ac, changes } = setup({ max: 32 });
    const steps: ConcurrencyChange[] = [];
    ac.events.on('step', (c) => steps.push(c));
    ac.adopt(10, "the fleet's limit: 40 in flight over 4 workers");
    expect(ac.limit).toBe(10);
    expect(changes).toEqual([{ from: 4, to: 10, reason: "the fleet's limit: 40 in flight over 4 workers" }]);
    ac.adopt(100, 'more than the ceiling');
    expect(ac.limit).toBe(32);
    ac.adopt(32, 'the same');
    expect(changes).toHaveLength(2);
    expect(steps).toHaveLength(0);
    // Its own step (a clean slow-start window) is a change and a step.
    ac.adopt(8, 'back to 8');
    await clock.advance(250);
    for (let i = 0; i < 20; i++) ac.recordSuccess(100);
    expect(ac.limit).toBe(16);
    expect(steps).toEqual([{ from: 8, to: 16, reason: expect.stringMatching(/error rate 0%/) as unknown as string }]);
  });

  it("a step adopted from elsewhere starts a new window (the old one judged the old limit); the fleet's end of slow start ends its own", async () => {
    const { clock, ac } = setup({ max: 64 });
    await clock.advance(250);
    for (let i = 0; i < 19; i++) ac.recordSuccess(100);
    ac.adopt(8, "the fleet's step", { step: true });
    // One more outcome would have completed the window of 20: after the step it is the first of a new one.
    ac.recordSuccess(100);
    expect(ac.limit).toBe(8);
    await clock.advance(250);
    for (let i = 0; i < 19; i++) ac.recordSuccess(100);
    expect(ac.limit).toBe(16); // the new window: 20 outcomes, slow start doubles
    // The fleet stepped down elsewhere: slow start is over here too, so a clean window adds one.
    ac.adopt(12, "the fleet's step down", { step: true, slowStart: false });
    await clock.advance(1_000);
    for (let i = 0; i < 20; i++) ac.recordSuccess(100);
    expect(ac.limit).toBe(13);
  });

  it('rejects bad options naming the field', () => {
    expect(() => new AdaptiveConcurrency({ min: 5, max: 2 })).toThrow(/max must be >= min/);
    expect(() => new AdaptiveConcurrency({ initial: 0 })).toThrow(/initial must be an integer >= 1/);
    expect(() => new AdaptiveConcurrency({ maxErrorRate: 2 })).toThrow(/maxErrorRate must be a number between 0 and 1/);
    expect(() => new AdaptiveConcurrency({ windowMs: -1 })).toThrow(/windowMs/);
  });
});
