import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { QuotaMonitor, type QuotaMonitorEvents } from '../../src/flow/quota/quota-monitor.js';

function record(monitor: QuotaMonitor): string[] {
  const log: string[] = [];
  const fmt = (t: keyof QuotaMonitorEvents, e: QuotaMonitorEvents[keyof QuotaMonitorEvents]): string =>
    t === 'alert' && 'level' in e ? `alert ${e.limit} ${e.level}` : t === 'pause' && 'until' in e ? `pause ${e.until}` : t;
  monitor.events.onAny((t, e) => log.push(fmt(t, e)));
  return log;
}

describe('QuotaMonitor', () => {
  it('alerts once per crossing and re-arms when usage falls', () => {
    const clock = new VirtualClock();
    const m = new QuotaMonitor({ key: 'k1', clock });
    const log = record(m);
    const snap = (remaining: number) => ({ at: clock.now(), source: 'openai' as const, requests: { limit: 100, remaining } });
    m.observe(snap(50));
    m.observe(snap(39)); // 61 %
    m.observe(snap(38)); // still above 60 %: no new alert
    m.observe(snap(3)); // 97 %: crosses 80 and 95
    expect(log).toEqual(['alert requests 0.6', 'alert requests 0.8', 'alert requests 0.95']);
    m.observe(snap(60)); // 40 %: all re-armed
    m.observe(snap(35));
    expect(log.slice(3)).toEqual(['alert requests 0.6']);
    expect(m.usage().requests).toBeCloseTo(0.65);
  });

  it('pauses at the threshold until the reset time, then resumes by itself', async () => {
    const clock = new VirtualClock();
    const m = new QuotaMonitor({ key: 'k1', clock, pauseOn: ['requests'], alertLevels: [] });
    const log = record(m);
    const resetAt = clock.now() + 30_000;
    m.observe({ at: clock.now(), source: 'openai', requests: { limit: 100, remaining: 21, resetAt } });
    expect(m.pausedUntil()).toBeUndefined();
    m.observe({ at: clock.now(), source: 'openai', requests: { limit: 100, remaining: 20, resetAt } });
    expect(m.pausedUntil()).toBe(resetAt);
    await clock.advance(29_999);
    expect(log).toEqual([`pause ${resetAt}`]);
    await clock.advance(1);
    expect(log).toEqual([`pause ${resetAt}`, 'resume']);
    expect(m.pausedUntil()).toBeUndefined();
    expect(clock.pendingCount).toBe(0);
  });

  it('daily budget: pauses at 80 % until the UTC day ends, and the day rollover resets the counters', async () => {
    const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1, 22, 0) });
    const m = new QuotaMonitor({ key: 'k1', clock, requestsPerDay: 10 });
    const log = record(m);
    for (let i = 0; i < 8; i++) m.recordRequest();
    const midnight = Date.UTC(2026, 0, 2);
    expect(m.pausedUntil()).toBe(midnight);
    expect(log).toEqual(['alert daily 0.6', 'alert daily 0.8', `pause ${midnight}`]);
    await clock.advance(2 * 3_600_000);
    expect(log.at(-1)).toBe('resume');
    expect(m.requestsToday).toBe(0);
    expect(m.usage().daily).toBe(0);
    for (let i = 0; i < 6; i++) m.recordRequest();
    expect(log.at(-1)).toBe('alert daily 0.6'); // re-armed by the new day
  });

  it('pauseDurationMs bounds a daily pause; a day offset moves the day boundary', () => {
    const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1, 7, 0) });
    const m = new QuotaMonitor({ key: 'k', clock, requestsPerDay: 2, pauseDurationMs: 3_600_000 });
    m.recordRequest();
    m.recordRequest();
    expect(m.pausedUntil()).toBe(clock.now() + 3_600_000);
    const pacific = new QuotaMonitor({ key: 'p', clock, requestsPerDay: 2, dayOffsetMinutes: -480 });
    pacific.recordRequest();
    pacific.recordRequest();
    expect(pacific.pausedUntil()).toBe(Date.UTC(2026, 0, 1, 8, 0)); // midnight at UTC-8
    m.close();
    pacific.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('save/restore: a restarted run knows the day\'s usage and its pause; another day starts fresh', async () => {
    const clock = new VirtualClock();
    const a = new QuotaMonitor({ key: 'k', clock, requestsPerDay: 100 });
    for (let i = 0; i < 85; i++) a.recordRequest(10);
    const saved = JSON.parse(JSON.stringify(a.save())) as ReturnType<QuotaMonitor['save']>;
    a.close();
    expect(saved).toMatchObject({ key: 'k', requests: 85, tokens: 850, day: '2026-01-01' });
    const b = new QuotaMonitor({ key: 'k', clock, requestsPerDay: 100 });
    const log = record(b);
    b.restore(saved);
    expect(b.requestsToday).toBe(85);
    expect(b.pausedUntil()).toBe(Date.UTC(2026, 0, 2));
    expect(log.filter((l) => l.startsWith('alert'))).toEqual([]); // already alerted before the restart
    b.close();
    await clock.advance(86_400_000);
    const c = new QuotaMonitor({ key: 'k', clock, requestsPerDay: 100 });
    c.restore(saved);
    expect(c.requestsToday).toBe(0);
    expect(c.pausedUntil()).toBeUndefined();
  });

  it('monitoring: false disables alerts and pauses; bad options name the field', () => {
    const clock = new VirtualClock();
    const m = new QuotaMonitor({ key: 'k', clock, requestsPerDay: 1, monitoring: false });
    const log = record(m);
    m.recordRequest();
    expect(log).toEqual([]);
    expect(m.pausedUntil()).toBeUndefined();
    expect(() => new QuotaMonitor({ key: 'k', pauseThreshold: 1.5 })).toThrow(/pauseThreshold must be a number between 0 and 1, got 1.5/);
    expect(() => new QuotaMonitor({ key: 'k', alertLevels: [0.5, -1] })).toThrow(/alertLevels/);
    expect(() => new QuotaMonitor({ key: 'k', requestsPerDay: 0 })).toThrow(/requestsPerDay/);
  });
});
