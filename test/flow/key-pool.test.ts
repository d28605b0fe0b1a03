import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { KeyPool, type PickResult } from '../../src/flow/key-pool.js';
import type { Classification } from '../../src/classify/kinds.js';
import type { ApiKey } from '../../src/provider/types.js';

const keys: ApiKey[] = ['p1', 'p2', 'p3', 'p4'].map((name) => ({ name, secret: `sk-secret-${name}` }));
const limited: Classification = { kind: 'rate_limited', retryable: true, status: 429, message: '429' };

async function pickName(pool: KeyPool): Promise<string | undefined> {
  const r = await pool.pick();
  if (!r.ok) return undefined;
  r.permit.release();
  return r.key.name;
}

describe('KeyPool', () => {
  it('per-profile story: a 429 cools only that key for 30 s; the others keep working; it rejoins by itself', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys, clock });
    const log: string[] = [];
    pool.events.onAny((type, e) => log.push(`${String(type)} ${'key' in e ? e.key : ''}`));
    expect(await pickName(pool)).toBe('p1');
    const effect = pool.reportFailure('p1', limited);
    expect(effect).toEqual({ state: 'cooling', until: clock.now() + 30_000 });
    // The scene goes at once to another profile; p1 is skipped for 30 s.
    const used = [];
    for (let i = 0; i < 6; i++) used.push(await pickName(pool));
    expect(used).toEqual(['p2', 'p3', 'p4', 'p2', 'p3', 'p4']);
    expect(pool.candidates()).toEqual(['p2', 'p3', 'p4']);
    await clock.advance(29_999);
    expect(pool.stateOf('p1').state).toBe('cooling');
    await clock.advance(1);
    expect(log).toEqual(['cooldownStart p1', 'cooldownEnd p1']);
    expect(pool.stateOf('p1')).toEqual({ state: 'active' });
    expect(pool.candidates()).toContain('p1');
    expect(clock.pendingCount).toBe(0);
    expect(JSON.stringify(log)).not.toContain('sk-secret');
  });

  it('honours the server wait, else the reset time', () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys, clock, defaultCooldownMs: 5_000 });
    expect(pool.reportFailure('p1', { ...limited, retryAfterMs: 6_000 }).until).toBe(clock.now() + 6_000);
    expect(pool.reportFailure('p2', { ...limited, resetAt: clock.now() + 9_000 }).until).toBe(clock.now() + 9_000);
    expect(pool.reportFailure('p3', limited).until).toBe(clock.now() + 5_000);
    // A shorter cooldown never shortens a longer one.
    expect(pool.reportFailure('p2', { ...limited, retryAfterMs: 1_000 }).until).toBe(clock.now() + 9_000);
    pool.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('all keys cooling: pick says when the earliest returns (no polling), and keys rejoin in rolling fashion', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys: keys.slice(0, 3), clock });
    const all: unknown[] = [];
    pool.events.on('allUnavailable', (e) => all.push(e));
    pool.reportFailure('p1', { ...limited, retryAfterMs: 20_000 });
    await clock.advance(5_000);
    pool.reportFailure('p2', { ...limited, retryAfterMs: 7_000 });
    pool.reportFailure('p3', limited);
    const r = (await pool.pick()) as Extract<PickResult, { ok: false }>;
    expect(r.ok).toBe(false);
    expect(r.waitMs).toBe(7_000);
    expect(r.waiting).toEqual([
      { key: 'p1', state: 'cooling', untilMs: clock.now() + 15_000 },
      { key: 'p2', state: 'cooling', untilMs: clock.now() + 7_000 },
      { key: 'p3', state: 'cooling', untilMs: clock.now() + 30_000 },
    ]);
    expect(all).toHaveLength(1);
    await pool.pick(); // same wait: not announced twice
    expect(all).toHaveLength(1);
    expect(pool.nextAvailableAt()).toBe(clock.now() + 7_000);
    expect(clock.pendingCount).toBe(3); // one rejoin timer per cooling key, nothing else
    await clock.advance(7_000);
    expect(await pickName(pool)).toBe('p2');
    await clock.advance(8_000);
    expect(pool.candidates().sort()).toEqual(['p1', 'p2']);
  });

  it('quota_exhausted parks until the reset or the end of the UTC day; auth disables once', () => {
    const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1, 15, 0) });
    const pool = new KeyPool({ keys, clock });
    const log: string[] = [];
    pool.events.onAny((type) => log.push(String(type)));
    const quota: Classification = { kind: 'quota_exhausted', retryable: false, message: 'insufficient_quota', quotaScope: 'billing' };
    expect(pool.reportFailure('p1', quota)).toEqual({ state: 'parked', until: Date.UTC(2026, 0, 2) });
    expect(pool.reportFailure('p2', { ...quota, resetAt: clock.now() + 3_600_000 }).until).toBe(clock.now() + 3_600_000);
    expect(pool.reportFailure('p3', { ...quota, quotaScope: 'minute', retryAfterMs: 10_000 })).toEqual({ state: 'cooling', until: clock.now() + 10_000 });
    const auth: Classification = { kind: 'auth', retryable: false, status: 401, message: 'invalid key' };
    expect(pool.reportFailure('p4', auth)).toEqual({ state: 'disabled', until: Infinity });
    pool.reportFailure('p4', auth);
    expect(log).toEqual(['parked', 'parked', 'cooldownStart', 'disabled']);
    expect(pool.reportFailure('p4', { ...limited })).toEqual({ state: 'disabled', until: Infinity });
    expect(pool.reportFailure('p2', { kind: 'server_error', retryable: true, message: '500' }).state).toBe('parked');
    expect(pool.states().get('p4')).toMatchObject({ state: 'disabled' });
    pool.close();
  });

  it('least-loaded and most-headroom selection', async () => {
    const clock = new VirtualClock();
    const least = new KeyPool({ keys: keys.slice(0, 3), clock, selection: 'least-loaded' });
    const held = [];
    for (let i = 0; i < 3; i++) {
      const r = await least.pick();
      if (r.ok) held.push(r);
    }
    expect(held.map((r) => r.key.name)).toEqual(['p1', 'p2', 'p3']);
    held[1]!.permit.release();
    const next = await least.pick();
    expect(next.ok && next.key.name).toBe('p2');

    const head = new KeyPool({ keys: keys.slice(0, 3), clock, selection: 'most-headroom' });
    head.reportSuccess('p1', { rateLimit: { at: clock.now(), source: 'openai', requests: { limit: 100, remaining: 10 } } });
    head.reportSuccess('p2', { rateLimit: { at: clock.now(), source: 'openai', requests: { limit: 100, remaining: 90 } } });
    head.reportSuccess('p3', { rateLimit: { at: clock.now(), source: 'openai', requests: { limit: 100, remaining: 50 } } });
    expect(head.candidates()).toEqual(['p2', 'p3', 'p1']);
    expect(() => new KeyPool({ keys, selection: 'random' as never })).toThrow(/selection must be one of/);
    expect(() => new KeyPool({ keys: [] })).toThrow(/keys must be a non-empty array/);
    expect(() => new KeyPool({ keys, limits: { requestsPerMinute: -1 } })).toThrow(/key "p1": requestsPerMinute/);
  });

  it('a key limited by its rate reports when it can start; another key is used meanwhile', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys: keys.slice(0, 2), clock, limits: { requestsPerMinute: 6 } });
    expect(await pickName(pool)).toBe('p1');
    expect(await pickName(pool)).toBe('p2');
    const r = (await pool.pick()) as Extract<PickResult, { ok: false }>;
    expect(r).toMatchObject({ ok: false, waitMs: 10_000 });
    expect(r.waiting.map((w) => w.state)).toEqual(['limited', 'limited']);
    await clock.advance(10_000);
    expect(await pickName(pool)).toBe('p1');
  });

  it('daily budget pause stops starts on that key until the day ends', async () => {
    const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1, 23, 0) });
    const pool = new KeyPool({ keys: keys.slice(0, 2), clock, perKey: { p1: { requestsPerDay: 5 } } });
    const names = [];
    for (let i = 0; i < 10; i++) names.push(await pickName(pool));
    expect(names.filter((n) => n === 'p1')).toHaveLength(4); // paused at 4/5 = 80 %
    expect(pool.stateOf('p1')).toEqual({ state: 'parked', until: Date.UTC(2026, 0, 2) });
    await clock.advance(3_600_000);
    expect(pool.candidates()).toEqual(expect.arrayContaining(['p1', 'p2']));
  });
});
