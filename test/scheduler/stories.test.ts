/**
 * The seed stories (../shared/seeds/) replayed on the virtual clock against the fake provider.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { FakeProvider } from '../../src/testing/fake-provider.js';
import type { FakeFault } from '../../src/testing/fake-provider.js';
import { createSluice } from '../../src/scheduler/create-sluice.js';
import type { ExecutorEvents } from '../../src/scheduler/events.js';
import type { Clock } from '../../src/clock/clock.js';

const T0 = Date.UTC(2026, 0, 1);
const keys = (...names: string[]) => names.map((name) => ({ name, secret: `secret-of-${name}` }));

/** A clock that counts the timers set through it (the executor's wake-ups). */
class CountingClock implements Clock {
  timers = 0;
  constructor(readonly inner: VirtualClock) {}
  now(): number {
    return this.inner.now();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.inner.sleep(ms, signal);
  }
  setTimer(ms: number, cb: () => void): () => void {
    this.timers++;
    return this.inner.setTimer(ms, cb);
  }
}

function record<K extends keyof ExecutorEvents>(events: { on: (k: K, l: (e: ExecutorEvents[K]) => void) => unknown }, type: K): ExecutorEvents[K][] {
  const list: ExecutorEvents[K][] = [];
  events.on(type, (e) => list.push(e));
  return list;
}

describe('story: Veo sequential submission', () => {
  const veoRetry = {
    byKind: {
      rate_limited: { attempts: 4, backoff: { type: 'schedule' as const, delaysMs: [30_000, 60_000, 120_000] }, jitter: 'none' as const, honourRetryAfter: false },
      overloaded: { attempts: 4, backoff: { type: 'schedule' as const, delaysMs: [30_000, 60_000, 120_000] }, jitter: 'none' as const },
    },
  };

  it('submits one job every 5 s, backs off 30/60/120 s on 429 and 503, fails 400 at once, counts per job', async () => {
    const clock = new VirtualClock();
    const faults: Record<string, (attempt: number) => FakeFault | undefined> = {
      // 429 three times, then accepted on the 4th attempt.
      a: (n) => (n <= 3 ? { kind: 'rate_limited', status: 429, code: 'RESOURCE_EXHAUSTED', retryable: true } : undefined),
      b: () => ({ kind: 'invalid_request', status: 400, code: 'INVALID_ARGUMENT', retryable: false, message: 'INVALID_ARGUMENT: prompt blocked' }),
      c: (n) => (n === 1 ? { kind: 'overloaded', status: 503, code: 'UNAVAILABLE', retryable: true } : undefined),
      d: () => ({ kind: 'rate_limited', status: 429, code: 'RESOURCE_EXHAUSTED', retryable: true }),
      e: () => undefined,
    };
    const provider = new FakeProvider({
      clock,
      latencyMs: 2_000,
      fault: (p, ctx) => faults[(p as { value: string }).value]?.(ctx.attempt),
    });
    const starts: Record<string, number[]> = {};
    const sluice = createSluice({
      clock,
      provider,
      keys: keys('veo'),
      limits: { minSpacingMs: 5_000 },
      concurrency: 1,
      defaultCooldownMs: 0,
      learnRate: false,
      retry: veoRetry,
      onAttemptStart: ({ jobId }) => void (starts[String(jobId)] ??= []).push(clock.now() - T0),
    });
    const retries = record(sluice.events, 'retryScheduled');
    const failed = record(sluice.events, 'jobFailed');
    const succeeded = record(sluice.events, 'jobSucceeded');
    const results = await clock.run(Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => sluice.runSettled({ value: id }, { id }))));
    const byId = Object.fromEntries(results.map((r) => [r.id, r]));

    // Sequential with 5 s between submissions, never two at once.
    const all = Object.values(starts).flat().sort((x, y) => x - y);
    for (let i = 1; i < all.length; i++) expect(all[i]! - all[i - 1]!).toBeGreaterThanOrEqual(5_000);
    expect(provider.stats.maxInFlight).toBe(1);
    expect(starts.a!.slice(0, 1).concat(starts.b!, starts.c!.slice(0, 1))).toEqual([0, 5_000, 10_000]);

    // a: 30 s, 60 s, 120 s between attempts (the 5 s spacing may add a little).
    // The fake answers faults at once (no latency), so a gap is measured from the failed start.
    const gaps = (t: number[]) => t.slice(1).map((v, i) => v - t[i]!);
    expect(gaps(starts.a!).map((g, i) => g - [30_000, 60_000, 120_000][i]!).every((x) => x >= 0 && x < 5_000)).toBe(true);
    expect(byId.a).toMatchObject({ ok: true, attempts: 4 });
    // b: 400 fails at once, one attempt.
    expect(byId.b).toMatchObject({ ok: false, kind: 'invalid_request', attempts: 1 });
    expect(starts.b).toHaveLength(1);
    // c: 503 retried after 30 s.
    expect(byId.c).toMatchObject({ ok: true, attempts: 2 });
    expect(gaps(starts.c!)[0]! - 30_000).toBeGreaterThanOrEqual(0);
    // d: given up after 4 attempts as rate_limited; its failures did not use up a's or c's counters.
    expect(byId.d).toMatchObject({ ok: false, kind: 'rate_limited', attempts: 4 });
    expect(byId.e).toMatchObject({ ok: true, attempts: 1 });
    // Every retry is logged with its delay, attempt number and the bound (the policy's `attempts`).
    expect(retries.filter((r) => r.jobId === 'a').map((r) => [r.attempt, r.delayMs, r.attempts])).toEqual([
      [1, 30_000, 4],
      [2, 60_000, 4],
      [3, 120_000, 4],
    ]);
    // The events carry the attempt concerned and the bound; the results above count attempts made.
    expect(failed.find((f) => f.jobId === 'd')).toMatchObject({ attempt: 4, attempts: 4, kind: 'rate_limited' });
    expect(succeeded.find((s) => s.jobId === 'c')).toMatchObject({ attempt: 2 });
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });
});

describe('story: per-profile 429 cooldown', () => {
  it('cools only the profile that got 429; the scene runs at once on another profile; the profile rejoins', async () => {
    const clock = new VirtualClock();
    const provider: FakeProvider = new FakeProvider({
      clock,
      latencyMs: 10_000,
      // Profile 1 answers 429 (no Retry-After) to the first scene it gets after t=15 s.
      fault: (_p, ctx): FakeFault | undefined =>
        ctx.key.name === 'profile-1' && clock.now() - T0 >= 15_000 && provider.stats.byKey['profile-1']!.rateLimited === 0 && !hit++
          ? { kind: 'rate_limited', status: 429, retryable: true }
          : undefined,
    });
    let hit = 0;
    const sluice = createSluice({
      clock,
      provider,
      keys: keys('profile-1', 'profile-2', 'profile-3', 'profile-4'),
      concurrency: 4,
      defaultCooldownMs: 30_000,
    });
    const chosen = record(sluice.events, 'keyChosen');
    const coolStarts = record(sluice.events, 'cooldownStart');
    const coolEnds = record(sluice.events, 'cooldownEnd');
    const results = await clock.run(Promise.all(Array.from({ length: 24 }, (_, i) => sluice.runSettled({ value: i }, { id: `scene-${i}` }))));
    expect(results.every((r) => r.ok)).toBe(true);

    // Exactly one cooldown, on profile 1, for 30 s.
    expect(coolStarts).toHaveLength(1);
    expect(coolStarts[0]).toMatchObject({ key: 'profile-1', state: 'cooling', waitMs: 30_000 });
    const t429 = coolStarts[0]!.until - 30_000;
    // The failed scene went at once (same instant) to another profile.
    const retried = chosen.filter((c) => c.attempt === 2);
    expect(retried).toHaveLength(1);
    const otherCallsAt429 = Object.entries(provider.stats.callTimes).filter(([k, ts]) => k !== 'profile-1' && ts.includes(t429));
    expect(otherCallsAt429.length).toBeGreaterThanOrEqual(1);
    expect(retried[0]!.key).not.toBe('profile-1');
    // Profile 1 got nothing during its cooldown, then rejoined; the others kept working meanwhile.
    const p1 = provider.stats.callTimes['profile-1']!;
    expect(p1.filter((t) => t > t429 && t < t429 + 30_000)).toEqual([]);
    expect(p1.some((t) => t >= t429 + 30_000)).toBe(true);
    for (const k of ['profile-2', 'profile-3', 'profile-4']) {
      expect(provider.stats.callTimes[k]!.some((t) => t > t429 && t < t429 + 30_000)).toBe(true);
    }
    expect(coolEnds.map((e) => e.key)).toEqual(['profile-1']);
    expect(provider.stats.faulted).toBe(1);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('all profiles 429: waits for the earliest one, names who waits, rejoins in rolling fashion, no 3 s polling', async () => {
    const virtual = new VirtualClock();
    const clock = new CountingClock(virtual);
    const waits: Record<string, number> = { 'profile-1': 40_000, 'profile-2': 10_000, 'profile-3': 20_000, 'profile-4': 30_000 };
    const first = new Set<string>();
    const provider = new FakeProvider({
      clock: virtual,
      latencyMs: 1_000,
      // Each profile answers its first call with 429 and its own Retry-After.
      fault: (_p, ctx) => {
        if (first.has(ctx.key.name)) return undefined;
        first.add(ctx.key.name);
        return { kind: 'rate_limited', status: 429, retryable: true, retryAfterMs: waits[ctx.key.name]! };
      },
    });
    const sluice = createSluice({
      clock,
      provider,
      keys: keys('profile-1', 'profile-2', 'profile-3', 'profile-4'),
      concurrency: 4,
      retry: { byKind: { rate_limited: { attempts: 10 } } },
    });
    const unavailable = record(sluice.events, 'allKeysUnavailable');
    const ends = record(sluice.events, 'cooldownEnd');
    const endTimes: number[] = [];
    sluice.events.on('cooldownEnd', () => endTimes.push(virtual.now() - T0));
    const timersBefore = clock.timers;
    const results = await virtual.run(Promise.all(Array.from({ length: 4 }, (_, i) => sluice.runSettled({ value: i }))));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(unavailable.length).toBeGreaterThanOrEqual(1);
    const named = unavailable[0]!.keys.map((k) => [k.key, k.state, k.waitMs]);
    expect(named).toEqual([
      ['profile-1', 'cooling', 40_000],
      ['profile-2', 'cooling', 10_000],
      ['profile-3', 'cooling', 20_000],
      ['profile-4', 'cooling', 30_000],
    ]);
    expect(unavailable[0]!.waitMs).toBe(10_000);
    // Rolling rejoin in cooldown order, each announced when its cooldown ends.
    await virtual.advance(60_000);
    expect(ends.map((e) => e.key)).toEqual(['profile-2', 'profile-3', 'profile-4', 'profile-1']);
    expect(endTimes).toEqual([10_000, 20_000, 30_000, 40_000]);
    // The executor's own wake-ups over 40 s of cooldowns: one per rejoin or retry time, never a 3 s poll (which would be >= 13).
    expect(clock.timers - timersBefore).toBeLessThanOrEqual(8);
    await sluice.close();
    expect(virtual.pendingCount).toBe(0);
  });
});

describe('story: quota management', () => {
  it('pauses a key at the daily threshold, resumes when the quota day rolls over, alerts once per crossing', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 1_000 });
    const sluice = createSluice({
      clock,
      provider,
      keys: keys('tier3'),
      limits: { requestsPerDay: 100 },
      quota: { pauseThreshold: 0.8, alertLevels: [0.6, 0.8, 0.95] },
      concurrency: 4,
    });
    const alerts = record(sluice.events, 'quotaAlert');
    const pauses = record(sluice.events, 'pause');
    const resumes = record(sluice.events, 'resume');
    const results = await clock.run(Promise.all(Array.from({ length: 150 }, (_, i) => sluice.runSettled({ value: i }))));
    expect(results.every((r) => r.ok)).toBe(true);

    const nextDay = T0 + 86_400_000;
    const calls = provider.stats.callTimes.tier3!;
    // 80 % of the daily 100 were used on day one, then nothing until the day rolled over.
    expect(calls.filter((t) => t < nextDay)).toHaveLength(80);
    expect(calls.filter((t) => t >= nextDay)).toHaveLength(70);
    expect(Math.min(...calls.filter((t) => t >= nextDay))).toBe(nextDay);
    // One pause (the key's) naming its end, and the matching resume.
    const keyPauses = pauses.filter((p) => p.key === 'tier3');
    expect(keyPauses).toHaveLength(1);
    expect(keyPauses[0]).toMatchObject({ reason: 'quota', until: nextDay });
    expect(resumes.some((r) => r.key === 'tier3')).toBe(true);
    // Alerts once per crossing: 60 % and 80 % on day one, 60 % again on day two (new counters).
    expect(alerts.map((a) => [a.level, a.window])).toEqual([
      [0.6, 'daily'],
      [0.8, 'daily'],
      [0.6, 'daily'],
    ]);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('pauses at the threshold of the per-minute quota the headers report and resumes at its reset: no 429', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 500, limits: { requests: 10 }, rateLimitHeaders: true });
    const sluice = createSluice({
      clock,
      provider,
      keys: keys('k'),
      quota: { pauseThreshold: 0.8, pauseOn: ['requests'] },
      concurrency: 1,
    });
    const pauses = record(sluice.events, 'pause');
    const results = await clock.run(Promise.all(Array.from({ length: 30 }, (_, i) => sluice.runSettled({ value: i }))));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(provider.stats.rateLimited).toBe(0);
    expect(pauses.filter((p) => p.key === 'k').length).toBeGreaterThanOrEqual(2);
    // Never more than 8 (80 % of 10) requests in any 60 s window.
    const calls = provider.stats.callTimes.k!;
    for (const t of calls) expect(calls.filter((u) => u >= t && u < t + 60_000).length).toBeLessThanOrEqual(8);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });
});
