import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ProgressDisplay, ProgressTracker, formatWait, progressLines, progressRecord } from '../../src/observe/progress.js';
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

  it('draws a block with the bar, counts, 429s, the concurrency limit and why it moved, and each key', () => {
    const clock = new VirtualClock();
    const tracker = new ProgressTracker(clock);
    tracker.setCounts({ total: 10, succeeded: 5, failed: 1, cancelled: 0, pending: 4 });
    tracker.setKeys(['KEY_1']);
    tracker.setConcurrencyRange(1, 16);
    tracker.observe({ type: 'concurrency', at: clock.now(), limit: 8, from: 16, reason: 'rate limited' });
    tracker.observe({ type: 'attempt_end', at: clock.now(), id: 'a', attempt: 1, ok: false, kind: 'rate_limited', status: 429 });
    tracker.observe({ type: 'key_state', at: clock.now(), key: 'KEY_3', state: 'parked', until: clock.now() + 3_600_000, reason: 'quota_exhausted' });
    tracker.observe({ type: 'key_state', at: clock.now(), key: 'KEY_5', state: 'cooling', until: clock.now() + 400, reason: 'rate_limited' });
    const lines = progressLines(tracker.snapshot(), 120);
    expect(lines[0]).toContain('60.0%');
    expect(lines[0]).toContain('6/10');
    expect(lines[1]).toContain('429s 1');
    expect(lines[2]).toBe('in flight 0 of limit 8 (adaptive 1..16, down from 16 0s ago: rate limited)');
    expect(lines[3]).toMatch(/KEY_1\s+active$/);
    expect(lines[4]).toMatch(/KEY_3\s+parked until 01:00 UTC \(in 1h00m\): quota_exhausted/);
    // A wait still running is never shown as 0s.
    expect(lines[5]).toMatch(/KEY_5\s+cooling 0\.4s \(rate_limited\)/);
    tracker.observe({ type: 'key_state', at: clock.now(), key: 'KEY_4', state: 'cooling', until: clock.now() - 1 });
    expect(tracker.snapshot().keys.find((k) => k.name === 'KEY_4')).toEqual({ name: 'KEY_4', state: 'active' });
    const out = new Capture();
    out.isTTY = true;
    const display = new ProgressDisplay({ clock, tracker, stream: out });
    display.draw();
    display.draw();
    // The second draw goes back over the first block's rows and clears below it.
    expect(out.chunks[1]!.startsWith('\r\x1b[7A\x1b[J')).toBe(true);
  });

  it('shows a pause by the daily quota with its cause and when it ends, and counts the wait in the ETA', async () => {
    const clock = new VirtualClock({ start: Date.parse('2026-12-02T20:00:00Z') });
    const tracker = new ProgressTracker(clock, 1000);
    tracker.setCounts({ total: 100, succeeded: 0, failed: 0, cancelled: 0, pending: 100 });
    tracker.setKeys(['k1', 'k2']);
    tracker.snapshot();
    for (let i = 0; i < 10; i++) tracker.observe({ type: 'item', at: clock.now(), id: String(i), state: 'succeeded' });
    await clock.advance(1000);
    tracker.snapshot(); // 10 items/s
    const midnight = Date.parse('2026-12-03T00:00:00Z');
    for (const key of ['k1', 'k2']) {
      tracker.observe({ type: 'key_state', at: clock.now(), key, state: 'paused', until: midnight, reason: 'daily quota at 80% (threshold 80%)' });
    }
    await clock.advance(5000);
    const s = tracker.snapshot();
    expect(s.pause).toEqual({ reason: 'quota', detail: 'daily quota at 80% (threshold 80%)', until: midnight });
    // 90 items at the last rate, after the pause.
    expect(s.etaMs).toBe(midnight - clock.now() + 9000);
    const lines = progressLines(s, 160);
    expect(lines[3]).toBe('PAUSED: quota (daily quota at 80% (threshold 80%)), resumes Dec 3 00:00 UTC (in 3h59m)');
    expect(lines[4]).toMatch(/k1\s+paused until Dec 3 00:00 UTC \(in 3h59m\): daily quota at 80%/);
    expect(progressRecord(s)).toContain('"pause":{"reason":"quota","detail":"daily quota at 80% (threshold 80%)","until":"2026-12-03T00:00:00.000Z"}');
  });

  it('never draws a line wider than the terminal, whatever the width and the keys', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 20, max: 300 }),
        fc.integer({ min: 3, max: 60 }),
        fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('active', 'cooling', 'parked', 'disabled', 'paused')), { maxLength: 30 }),
        fc.nat({ max: 1_000_000 }),
        (columns, rows, keys, total) => {
          const clock = new VirtualClock();
          const tracker = new ProgressTracker(clock);
          tracker.setCounts({ total, succeeded: Math.floor(total / 3), failed: Math.floor(total / 7), cancelled: 0, pending: total });
          tracker.setConcurrencyRange(1, 10_000);
          tracker.observe({ type: 'concurrency', at: 0, limit: 9999, from: 10_000, reason: 'quota use 93% above 90%' });
          for (const [name, state] of keys) {
            tracker.observe({ type: 'key_state', at: 0, key: name.replace(/[^\x20-\x7e]/g, '?'), state: state as never, until: 86_400_000 * 3, reason: 'daily quota at 80% (threshold 80%)' });
          }
          tracker.observe({ type: 'pause', at: 0, reason: 'quota', until: 90_000_000, detail: 'every key over its quota threshold' });
          const lines = progressLines(tracker.snapshot(), columns, rows);
          for (const l of lines) expect(l.length).toBeLessThanOrEqual(columns);
          expect(lines.length).toBeLessThanOrEqual(Math.max(rows, 5));
        },
      ),
    );
  });

  it('formats waits without ever showing a running wait as 0s', () => {
    expect(formatWait(1)).toBe('0.1s');
    expect(formatWait(400)).toBe('0.4s');
    expect(formatWait(9_999)).toBe('10.0s');
    expect(formatWait(42_000)).toBe('42s');
    expect(formatWait(187_000)).toBe('3m07s');
    expect(formatWait(86_400_000 + 3_600_000)).toBe('1d01h');
  });
});
