/** readWithin: a scrape's read of a count kept elsewhere answers within its time, on the virtual clock. */
import { describe, expect, it } from 'vitest';
import { readWithin } from '../../src/cli/run-metrics.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';

describe('readWithin', () => {
  it('reads afresh each time; a read that fails or is late gives the last value read, and leaves no timer', async () => {
    const clock = new VirtualClock();
    let answer: () => Promise<number> = () => Promise.resolve(7);
    const read = readWithin(() => answer(), 1000, clock);
    expect(await read()).toBe(7);
    answer = () => Promise.resolve(5);
    expect(await read()).toBe(5);
    expect(clock.pendingCount).toBe(0);
    answer = () => Promise.reject(new Error('redis away'));
    expect(await read()).toBe(5);
    // Redis does not answer: after 1 s of virtual time the last value.
    answer = () => new Promise<number>(() => undefined);
    const late = read();
    await clock.advance(999);
    let settled = false;
    void late.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await late).toBe(5);
    expect(clock.pendingCount).toBe(0);
  });
});
