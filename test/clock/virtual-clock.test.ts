import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { SystemClock } from '../../src/clock/system-clock.js';
import { linkSignals } from '../../src/clock/abort.js';

describe('VirtualClock', () => {
  it('completes a 30 s + 60 s + 120 s schedule instantly and in order', async () => {
    const clock = new VirtualClock({ start: 0 });
    const seen: number[] = [];
    const work = (async () => {
      for (const ms of [30_000, 60_000, 120_000]) {
        await clock.sleep(ms);
        seen.push(clock.now());
      }
      return 'done';
    })();
    await expect(clock.run(work)).resolves.toBe('done');
    expect(seen).toEqual([30_000, 90_000, 210_000]);
    expect(clock.pendingCount).toBe(0);
  });

  it('fires timers due at the same instant in creation order', async () => {
    const clock = new VirtualClock({ start: 0 });
    const order: string[] = [];
    clock.setTimer(10, () => order.push('a'));
    clock.setTimer(5, () => order.push('b'));
    clock.setTimer(10, () => order.push('c'));
    await clock.advance(9);
    expect(order).toEqual(['b']);
    await clock.advance(1);
    expect(order).toEqual(['b', 'a', 'c']);
  });

  it('removes the timer of an aborted sleep at once and rejects with AbortError', async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(60_000, controller.signal);
    expect(clock.pendingCount).toBe(1);
    controller.abort();
    await expect(sleeping).rejects.toMatchObject({ name: 'AbortError' });
    expect(clock.pendingCount).toBe(0);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('cancels setTimer timers and reports pending ones with their remaining time', async () => {
    const clock = new VirtualClock({ start: 1000 });
    const cancel = clock.setTimer(500, () => {
      throw new Error('must not fire');
    });
    clock.setTimer(200, () => undefined);
    expect(clock.pendingTimers().map((t) => t.inMs)).toEqual([200, 500]);
    cancel();
    cancel();
    await clock.runAll();
    expect(clock.now()).toBe(1200);
  });

  it('reports a deadlock instead of hanging when a promise can never settle', async () => {
    const clock = new VirtualClock();
    const never = new Promise<void>(() => undefined);
    await expect(clock.run(never)).rejects.toThrow(/deadlock/);
  });

  it('rejects a negative advance', async () => {
    await expect(new VirtualClock().advance(-1)).rejects.toThrow(RangeError);
  });
});

describe('SystemClock and linkSignals', () => {
  it('aborts a real sleep immediately', async () => {
    const clock = new SystemClock();
    const controller = new AbortController();
    const p = clock.sleep(10_000, controller.signal);
    controller.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('links signals and removes its listeners on dispose', () => {
    const parent = new AbortController();
    const linked = linkSignals(parent.signal);
    linked.dispose();
    parent.abort();
    expect(linked.signal.aborted).toBe(false);
    const again = linkSignals(parent.signal);
    expect(again.signal.aborted).toBe(true);
  });
});

describe('VirtualClock memory', () => {
  it("keeps order when most timers are cancelled, and cancelled ones leave at once", async () => {
    const clock = new VirtualClock({ start: 0 });
    const fired: number[] = [];
    const cancels = Array.from({ length: 1000 }, (_, i) => clock.setTimer(1000 + i, () => fired.push(i)));
    for (let i = 0; i < 1000; i++) if (i % 10 !== 0) cancels[i]!();
    expect(clock.pendingCount).toBe(100);
    expect(clock.pendingTimers()).toHaveLength(100);
    await clock.runAll();
    expect(fired).toEqual(Array.from({ length: 100 }, (_, i) => i * 10));
  });
});
