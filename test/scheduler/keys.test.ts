import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { FakeProvider } from '../../src/testing/fake-provider.js';
import { createSluice } from '../../src/scheduler/create-sluice.js';
import { ReadyQueue, RetryQueue } from '../../src/scheduler/queues.js';
import type { QueuedItem } from '../../src/scheduler/queues.js';
import type { ExecutorEvents } from '../../src/scheduler/events.js';
import type { FakeFault } from '../../src/testing/fake-provider.js';

const T0 = Date.UTC(2026, 0, 1);
const keys = (...names: string[]) => names.map((name) => ({ name, secret: `sk-${name}-0123456789` }));

describe('queues', () => {
  const item = (priority: number, seq: number, notBefore = 0): QueuedItem & { name: string } => ({ heapIndex: -1, priority, seq, notBefore, name: `${priority}/${seq}` });

  it('ready queue: priority first, stable within a priority, pushFront ahead of its priority, O(log n) removal', () => {
    const q = new ReadyQueue<ReturnType<typeof item>>();
    const items = [item(0, 1), item(1, 2), item(0, 3), item(1, 4), item(0, 5)];
    for (const i of items) q.push(i);
    const front = item(0, 6);
    q.pushFront(front);
    expect(q.remove(items[2]!)).toBe(true);
    expect(q.remove(items[2]!)).toBe(false);
    const out: string[] = [];
    for (let i = q.pop(); i; i = q.pop()) out.push(i.name);
    expect(out).toEqual(['1/2', '1/4', front.name, '0/1', '0/5']);
  });

  it('retry queue: releases jobs whose time has come, earliest first', () => {
    const q = new RetryQueue<ReturnType<typeof item>>();
    q.push(item(0, 1, 300));
    q.push(item(0, 2, 100));
    q.push(item(0, 3, 200));
    expect(q.nextAt()).toBe(100);
    expect(q.takeDue(250).map((i) => i.seq)).toEqual([2, 3]);
    expect(q.size).toBe(1);
  });
});

describe('Executor and keys', () => {
  it('disables a key on auth with one event naming it (never the secret); the job moves at once to another key', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({
      clock,
      fault: (_p, ctx) => (ctx.key.name === 'revoked' ? { kind: 'auth', status: 401, retryable: false, message: 'invalid api key' } : undefined),
    });
    const sluice = createSluice({ clock, provider, keys: keys('revoked', 'good'), concurrency: 1 });
    const cool: ExecutorEvents['cooldownStart'][] = [];
    sluice.events.on('cooldownStart', (e) => cool.push(e));
    const first = await clock.run(sluice.runSettled({ value: 1 }));
    // Key failures move work (issue 13): the revoked key's attempt counts as made, not against the budget.
    expect(first).toMatchObject({ ok: true, attempts: 2, key: 'good' });
    const rest = await clock.run(Promise.all([1, 2, 3].map((v) => sluice.runSettled({ value: v }))));
    expect(rest.every((r) => r.ok && r.key === 'good')).toBe(true);
    expect(cool).toEqual([{ key: 'revoked', state: 'disabled', until: Infinity, waitMs: Infinity, kind: 'auth' }]);
    expect(JSON.stringify(cool)).not.toContain('sk-');
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('fails queued jobs when every key is disabled instead of waiting forever', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, fault: () => ({ kind: 'auth', status: 401, retryable: false }) });
    const sluice = createSluice({ clock, provider, keys: keys('a', 'b'), concurrency: 1 });
    const results = await clock.run(Promise.all([1, 2, 3, 4].map((v) => sluice.runSettled({ value: v }))));
    expect(results.map((r) => r.ok)).toEqual([false, false, false, false]);
    expect(provider.stats.calls).toBe(2);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('quota_exhausted parks the key and the job runs at once on another key', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({
      clock,
      fault: (_p, ctx) => (ctx.key.name === 'a' ? { kind: 'quota_exhausted', status: 429, code: 'insufficient_quota', quotaScope: 'billing', retryable: false } : undefined),
    });
    const sluice = createSluice({ clock, provider, keys: keys('a', 'b'), concurrency: 1, selection: 'fixed-order' });
    const r = await clock.run(sluice.runSettled({ value: 1 }));
    expect(r).toMatchObject({ ok: true, attempts: 2, key: 'b' });
    expect(provider.stats.callTimes).toEqual({ a: [T0], b: [T0] });
    const again = await clock.run(sluice.runSettled({ value: 2 }));
    expect(again).toMatchObject({ ok: true, attempts: 1, key: 'b' });
    await sluice.close();
  });

  it('times out a hung attempt (its signal aborts), classifies it as timeout and retries', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: (_p, ctx) => (ctx.attempt === 1 ? 3_600_000 : 100) });
    const sluice = createSluice({
      clock,
      provider,
      attemptTimeoutMs: 10_000,
      retry: { byKind: { timeout: { attempts: 2, backoff: { type: 'constant', delayMs: 1_000 }, jitter: 'none' } } },
    });
    const r = await clock.run(sluice.runSettled({ value: 1 }));
    expect(r).toMatchObject({ ok: true, attempts: 2 });
    expect(provider.stats.aborted).toBe(1);
    expect(clock.now() - T0).toBe(10_000 + 1_000 + 100);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('adaptive concurrency leaves a per-window rate limit to the learned rate: 429s of a rate limit do not hold it down; each change is an event with its reason', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 1_000, limits: { requests: 20 } });
    const sluice = createSluice({ clock, provider, concurrency: { initial: 8, max: 16, adaptive: true }, retry: { byKind: { rate_limited: { attempts: 50 } } } });
    const changes: ExecutorEvents['concurrencyChange'][] = [];
    sluice.events.on('concurrencyChange', (c) => changes.push(c));
    const results = await clock.run(Promise.all(Array.from({ length: 40 }, (_, i) => sluice.runSettled({ value: i }))));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(provider.stats.rateLimited).toBeGreaterThan(0);
    // The 429s come at the same rate whatever the concurrency: not a load signal for this limit.
    expect(changes.every((c) => c.to >= c.from && c.reason.length > 0)).toBe(true);
    expect(provider.stats.maxInFlight).toBeLessThanOrEqual(16);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('drain resolves when everything has ended; pause holds starts and emits events', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 100 });
    const sluice = createSluice({ clock, provider, concurrency: 2 });
    const seen: string[] = [];
    sluice.events.on('pause', (e) => seen.push(`pause:${e.reason}`));
    sluice.events.on('resume', (e) => seen.push(`resume:${e.reason}`));
    sluice.pause();
    for (let i = 0; i < 5; i++) void sluice.run({ value: i });
    await clock.advance(1_000);
    expect(provider.stats.calls).toBe(0);
    expect(clock.pendingCount).toBe(0);
    sluice.resume();
    await clock.run(sluice.drain());
    expect(provider.stats.succeeded).toBe(5);
    expect(seen).toEqual(['pause:manual', 'resume:manual']);
    await sluice.close();
  });
});

describe('quota_exhausted with every key parked', () => {
  it('waits for the park to end (the day rolls over) and runs then; a billing quota fails at once', async () => {
    const clock = new VirtualClock();
    let daily = 0;
    const provider = new FakeProvider({
      clock,
      fault: (p) => {
        if ((p as { value: string }).value === 'billing') return { kind: 'quota_exhausted', status: 429, quotaScope: 'billing', retryable: false };
        return daily++ === 0 ? { kind: 'quota_exhausted', status: 429, quotaScope: 'day', retryable: false, message: 'per-day quota' } : undefined;
      },
    });
    const sluice = createSluice({ clock, provider, keys: keys('only') });
    const r = await clock.run(sluice.runSettled({ value: 'daily' }));
    expect(r).toMatchObject({ ok: true, attempts: 2 });
    expect(clock.now()).toBe(T0 + 86_400_000);
    const b = await clock.run(sluice.runSettled({ value: 'billing' }));
    expect(b).toMatchObject({ ok: false, kind: 'quota_exhausted', attempts: 1 });
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('rejects bad run options naming the field', async () => {
    const clock = new VirtualClock();
    const sluice = createSluice({ clock, provider: async () => 1 });
    await expect(sluice.run({}, { priority: Number.NaN })).rejects.toThrow(/priority/);
    await expect(sluice.run({}, { tokens: -1 })).rejects.toThrow(/tokens/);
    await expect(sluice.runSettled({}, { startAttempt: 1.5 })).rejects.toThrow(/startAttempt/);
    expect(() => sluice.submit({}, { id: {} as never }, () => undefined)).toThrow(/id/);
    expect(sluice.size).toBe(0);
    await sluice.close();
  });
});

describe('createSluice on the flow layer KeyPool', () => {
  it('cools only the 429 key, runs the job at once on another, announces the rejoin, leaves no timer', async () => {
    const clock = new VirtualClock();
    let once = 0;
    const provider = new FakeProvider({
      clock,
      latencyMs: 100,
      fault: (_p, ctx) => (ctx.key.name === 'a' && once++ === 0 ? { kind: 'rate_limited', status: 429, retryable: true, retryAfterMs: 5_000 } : undefined),
    });
    const sluice = createSluice({ clock, provider, keys: keys('a', 'b'), selection: 'least-loaded', concurrency: 1 });
    const ends: number[] = [];
    sluice.events.on('cooldownEnd', (e) => ends.push(clock.now() - T0) && void e);
    const r = await clock.run(sluice.runSettled({ value: 1 }));
    expect(r).toMatchObject({ ok: true, attempts: 2, key: 'b' });
    expect(provider.stats.callTimes).toEqual({ a: [T0], b: [T0] });
    await clock.advance(10_000);
    expect(ends).toEqual([5_000]);
    const rest = await clock.run(Promise.all([1, 2].map((v) => sluice.runSettled({ value: v }))));
    expect(rest.every((x) => x.ok)).toBe(true);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('rejects an unknown selection naming the field', () => {
    expect(() => createSluice({ provider: async () => 1, selection: 'random' as never })).toThrow(/selection/);
  });

  it('learns the rate from 429s that announce no limit (bare or naming a wait), from what got through; learnRate: false learns nothing', async () => {
    const run = async (fault: FakeFault, learnRate?: boolean) => {
      const clock = new VirtualClock();
      let n = 0;
      const provider = new FakeProvider({ clock, latencyMs: 100, fault: () => (n++ === 3 ? fault : undefined) });
      const sluice = createSluice({ clock, provider, limits: { requestsPerMinute: 600 }, concurrency: 1, ...(learnRate !== undefined ? { learnRate } : {}) });
      const rates: ExecutorEvents['rateChange'][] = [];
      sluice.events.on('rateChange', (r) => rates.push(r));
      const cools: ExecutorEvents['cooldownStart'][] = [];
      sluice.events.on('cooldownStart', (c) => cools.push(c));
      const results = await clock.run(Promise.all([1, 2, 3, 4, 5].map((v) => sluice.runSettled({ value: v }))));
      expect(results.every((r) => r.ok)).toBe(true);
      await sluice.close();
      expect(clock.pendingCount).toBe(0);
      return { rates, cools };
    };
    const bare: FakeFault = { kind: 'rate_limited', status: 429, retryable: true };
    const learned = await run(bare);
    // One call at a time at 100 ms: 600/min got through; the cut starts there, not at the floor.
    expect(learned.rates).toHaveLength(1);
    expect(learned.rates[0]!.to!).toBeGreaterThan(0.5 * 600);
    expect(learned.rates[0]!.to!).toBeLessThan(600);
    expect(learned.cools[0]).toMatchObject({ state: 'cooling', waitMs: 100 });
    const waited = await run({ ...bare, retryAfterMs: 2_000 });
    expect(waited.rates).toHaveLength(1);
    expect(waited.cools[0]).toMatchObject({ state: 'cooling', waitMs: 2_000 });
    const fixed = await run(bare, false);
    expect(fixed.rates).toEqual([]);
    expect(fixed.cools[0]).toMatchObject({ state: 'cooling', waitMs: 30_000 });
  });

  it('least-recently-used selection spreads starts over the keys', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 100 });
    const sluice = createSluice({ clock, provider, keys: keys('a', 'b', 'c'), concurrency: 1, selection: 'least-recently-used' });
    const chosen: string[] = [];
    sluice.events.on('keyChosen', (e) => chosen.push(e.key));
    for (let i = 0; i < 4; i++) await clock.run(sluice.runSettled({ value: i }));
    expect(chosen).toEqual(['a', 'b', 'c', 'a']);
    await sluice.close();
  });
});
