import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressDisplay, ProgressTracker, progressLines } from '../../src/observe/progress.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';

class Capture extends Writable {
  chunks: string[] = [];
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.chunks.push(chunk.toString());
    cb();
  }
}

describe('progress', () => {
  it("writes one JSON record per interval when not on a terminal, with rate and ETA", async () => {
    const clock = new VirtualClock();
    const tracker = new ProgressTracker(clock);
    tracker.setCounts({ total: 100, succeeded: 0, failed: 0, cancelled: 0, pending: 100 });
    tracker.setKeys(['KEY_1', 'KEY_2']);
    const out = new Capture();
    const display = new ProgressDisplay({ clock, tracker, stream: out, intervalMs: 1000 });
    expect(display.resolvedMode).toBe('json');
    display.start();
    for (let i = 0; i < 10; i++) tracker.observe({ type: 'item', at: clock.now(), id: String(i), state: 'succeeded' });
    tracker.observe({ type: 'retry', at: clock.now(), id: 'x', attempt: 1, kind: 'rate_limited', delayMs: 100 });
    tracker.observe({ type: 'key_state', at: clock.now(), key: 'KEY_2', state: 'cooling', until: clock.now() + 30_000 });
    await clock.advance(1000);
    for (let i = 10; i < 20; i++) tracker.observe({ type: 'item', at: clock.now(), id: String(i), state: 'succeeded' });
    await clock.advance(1000);
    display.stop();
    expect(clock.pendingCount).toBe(0);
    const records = out.chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(3); // two ticks + the final draw
    const last = records[2]!;
    expect(last).toMatchObject({ type: 'progress', total: 100, succeeded: 20, retrying: 1, pending: 80 });
    expect(last.ratePerSec).toBeGreaterThan(0);
    expect(typeof last.etaSec).toBe('number');
    expect((last.keys as Record<string, string>).KEY_2).toMatch(/^cooling 2\ds$/);
    expect((last.keys as Record<string, string>).KEY_1).toBe('active');
  });

  it('draws a block with the bar, counts and each key on a terminal', () => {
    const clock = new VirtualClock();
    const tracker = new ProgressTracker(clock);
    tracker.setCounts({ total: 10, succeeded: 5, failed: 1, cancelled: 0, pending: 4 });
    tracker.observe({ type: 'concurrency', at: clock.now(), limit: 8 });
    tracker.observe({ type: 'key_state', at: clock.now(), key: 'KEY_3', state: 'parked', until: clock.now() + 3_600_000, reason: 'quota_exhausted' });
    const lines = progressLines(tracker.snapshot());
    expect(lines[0]).toContain('60.0%');
    expect(lines[0]).toContain('6/10');
    expect(lines[1]).toContain('in flight 0/8');
    expect(lines[2]).toContain('KEY_3');
    expect(lines[2]).toContain('parked 1h00m (quota_exhausted)');
    tracker.observe({ type: 'key_state', at: clock.now(), key: 'KEY_4', state: 'cooling', until: clock.now() - 1 });
    expect(tracker.snapshot().keys.find((k) => k.name === 'KEY_4')).toEqual({ name: 'KEY_4', state: 'active' });
    const out = new Capture();
    out.isTTY = true;
    const display = new ProgressDisplay({ clock, tracker, stream: out });
    display.draw();
    display.draw();
    expect(out.chunks[1]).toContain('\x1b[4A');
  });
});
