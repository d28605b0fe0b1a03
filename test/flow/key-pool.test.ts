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
  it('a 429 that its own headers contradict (requests and tokens left) leaves the key working while its calls succeed; a later call refused with no success between cools it', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys, clock });
    const at = clock.now();
    const plenty = { at, source: 'openai' as const, requests: { limit: 600, remaining: 450, windowMs: 60_000 }, tokens: { limit: 100_000, remaining: 90_000, windowMs: 60_000 } };
    const stray = { ...limited, retryAfterMs: 1_000 };
    expect(pool.reportFailure('p1', stray, { rateLimit: plenty })).toMatchObject({ state: 'active', changed: false });
    expect(pool.candidates()).toContain('p1');
    // A call succeeds: the next contradicted 429 is noise again.
    await clock.advance(10);
    pool.onSuccess('p1', clock.now(), clock.now() - 1);
    expect(pool.reportFailure('p1', stray, { rateLimit: plenty, startedAt: clock.now() - 1 })).toMatchObject({ state: 'active', changed: false });
    // Calls in flight when it came are the same event, with or without a success since.
    const firstAt = clock.now();
    await clock.advance(10);
    expect(pool.reportFailure('p1', stray, { rateLimit: plenty, startedAt: firstAt - 5 })).toMatchObject({ state: 'active', changed: false });
    // A call started after it, refused with no success since: the key cools.
    expect(pool.reportFailure('p1', stray, { rateLimit: plenty, startedAt: firstAt + 5 })).toEqual({ state: 'cooling', until: clock.now() + 1_000, changed: true });
    // Headers that agree with the 429 (no tokens left, one request left) or no headers: the key cools.
    const spent = { ...plenty, tokens: { limit: 100_000, remaining: 0, windowMs: 60_000 } };
    expect(pool.reportFailure('p2', stray, { rateLimit: spent })).toMatchObject({ state: 'cooling', changed: true });
    expect(pool.reportFailure('p3', stray, { rateLimit: { ...plenty, requests: { limit: 600, remaining: 1, windowMs: 60_000 } } })).toMatchObject({ state: 'cooling', changed: true });
    expect(pool.reportFailure('p4', stray)).toMatchObject({ state: 'cooling', changed: true });
  });

  it('a failure that changes nothing says so: a 503 on a key cooling from a 429, a shorter 429, a second 401', () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys, clock, defaultCooldownMs: 30_000 });
    expect(pool.reportFailure('p1', { ...limited, retryAfterMs: 5_000 })).toMatchObject({ state: 'cooling', changed: true });
    expect(pool.reportFailure('p1', { kind: 'overloaded', retryable: true, status: 503, message: '503' })).toEqual({ state: 'cooling', until: clock.now() + 5_000, changed: false });
    expect(pool.reportFailure('p1', { ...limited, retryAfterMs: 1_000 })).toMatchObject({ state: 'cooling', changed: false });
    expect(pool.reportFailure('p1', { ...limited, retryAfterMs: 9_000 })).toEqual({ state: 'cooling', until: clock.now() + 9_000, changed: true });
    const auth: Classification = { kind: 'auth', retryable: false, status: 401, message: '401' };
    expect(pool.reportFailure('p2', auth)).toMatchObject({ state: 'disabled', changed: true });
    expect(pool.reportFailure('p2', auth)).toMatchObject({ state: 'disabled', changed: false });
    expect(pool.reportFailure('p3', { kind: 'server_error', retryable: true, status: 500, message: '500' })).toEqual({ state: 'active', changed: false });
  });

  it('per-profile story: a 429 cools only that key for 30 s; the others keep working; it rejoins by itself', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys, clock, defaultCooldownMs: 30_000 });
    const log: string[] = [];
    pool.events.onAny((type, e) => log.push(`${String(type)} ${'key' in e ? e.key : ''}`));
    expect(await pickName(pool)).toBe('p1');
    const effect = pool.reportFailure('p1', limited);
    expect(effect).toEqual({ state: 'cooling', until: clock.now() + 30_000, changed: true });
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
    const pool = new KeyPool({ keys: keys.slice(0, 3), clock, defaultCooldownMs: 30_000 });
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
    expect(pool.reportFailure('p1', quota)).toEqual({ state: 'parked', until: Date.UTC(2026, 0, 2), changed: true });
    expect(pool.reportFailure('p2', { ...quota, resetAt: clock.now() + 3_600_000 }).until).toBe(clock.now() + 3_600_000);
    expect(pool.reportFailure('p3', { ...quota, quotaScope: 'minute', retryAfterMs: 10_000 })).toEqual({ state: 'cooling', until: clock.now() + 10_000, changed: true });
    const auth: Classification = { kind: 'auth', retryable: false, status: 401, message: 'invalid key' };
    expect(pool.reportFailure('p4', auth)).toEqual({ state: 'disabled', until: Infinity, changed: true });
    pool.reportFailure('p4', auth);
    expect(log).toEqual(['parked', 'parked', 'cooldownStart', 'disabled']);
    expect(pool.reportFailure('p4', { ...limited })).toEqual({ state: 'disabled', until: Infinity, changed: false });
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
    expect(() => new KeyPool({ keys, defaultCooldownMs: -1 })).toThrow(/defaultCooldownMs/);
    expect(() => new KeyPool({ keys, parkMs: Number.NaN })).toThrow(/parkMs/);
    expect(() => new KeyPool({ keys, learnRate: 'yes' as never })).toThrow(/learnRate/);
    expect(() => new KeyPool({ keys, learnRate: { beta: 1.5 } })).toThrow(/beta/);
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

  // From the scheduler's former KeyStates tests: the same assertions, now on the pool that does the job.
  it('port form (the calls the executor makes): cools on 429 for the server wait, parks on quota until reset or day end, disables on auth', () => {
    const T0 = Date.UTC(2026, 0, 1);
    const clock = new VirtualClock({ start: T0 });
    const ks = new KeyPool({ keys: ['a', 'b', 'c', 'd'].map((name) => ({ name, secret: '' })), clock, defaultCooldownMs: 30_000 });
    expect(ks.onFailure('a', { kind: 'rate_limited', retryable: true, message: '', retryAfterMs: 5_000 }, T0)).toEqual({ state: 'cooling', until: T0 + 5_000, changed: true });
    expect(ks.onFailure('b', { kind: 'rate_limited', retryable: true, message: '' }, T0)).toEqual({ state: 'cooling', until: T0 + 30_000, changed: true });
    expect(ks.onFailure('c', { kind: 'quota_exhausted', retryable: false, message: '', quotaScope: 'day' }, T0)).toEqual({ state: 'parked', until: T0 + 86_400_000, changed: true });
    expect(ks.onFailure('d', { kind: 'auth', retryable: false, message: '' }, T0)).toEqual({ state: 'disabled', until: Infinity, changed: true });
    expect(ks.candidates(T0)).toEqual([]);
    expect(ks.candidates(T0 + 5_000)).toEqual(['a']);
    expect(ks.candidates(T0 + 30_000)).toEqual(['a', 'b']);
    expect(ks.onFailure('a', { kind: 'server_error', retryable: true, message: '' }, T0 + 30_000)).toEqual({ state: 'active', changed: false });
    // A zero wait cools nothing.
    expect(ks.onFailure('a', { kind: 'rate_limited', retryable: true, message: '', retryAfterMs: 0 }, T0 + 30_000)).toEqual({ state: 'active', changed: false });
    ks.close();
  });

  it('round robin moves past the key last started; fixed-order always tries the first; least-recently-used the stalest', () => {
    const clock = new VirtualClock();
    const abc = ['a', 'b', 'c'].map((name) => ({ name, secret: '' }));
    const rr = new KeyPool({ keys: abc, clock });
    rr.onStart('a');
    expect(rr.candidates()).toEqual(['b', 'c', 'a']);
    rr.onStart('c');
    expect(rr.candidates()).toEqual(['a', 'b', 'c']);
    const fixed = new KeyPool({ keys: abc, clock, selection: 'fixed-order' });
    fixed.onStart('a');
    expect(fixed.candidates()).toEqual(['a', 'b', 'c']);
    fixed.onFailure('a', limited);
    expect(fixed.candidates()).toEqual(['b', 'c']);
    const lru = new KeyPool({ keys: abc, clock, selection: 'least-recently-used' });
    lru.onStart('b');
    lru.onStart('a');
    expect(lru.candidates()).toEqual(['c', 'b', 'a']);
    lru.onStart('c');
    expect(lru.candidates()).toEqual(['b', 'a', 'c']);
    for (const p of [rr, fixed, lru]) p.close();
  });

  it('parkMs bounds a park that names no reset', () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys, clock, parkMs: 60_000 });
    const quota: Classification = { kind: 'quota_exhausted', retryable: false, message: '', quotaScope: 'day' };
    expect(pool.reportFailure('p1', quota)).toEqual({ state: 'parked', until: clock.now() + 60_000, changed: true });
    expect(pool.reportFailure('p2', { ...quota, retryAfterMs: 5_000 })).toEqual({ state: 'parked', until: clock.now() + 5_000, changed: true });
    pool.close();
  });

  it('without rejoin timers the owner drives rejoins: nextRejoinAt says when, rejoin() lets keys back and announces them', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys: keys.slice(0, 3), clock, rejoinTimers: false });
    const ends: string[] = [];
    pool.events.on('cooldownEnd', (e) => ends.push(e.key));
    pool.reportFailure('p1', { ...limited, retryAfterMs: 9_000 });
    pool.reportFailure('p2', { ...limited, retryAfterMs: 4_000 });
    expect(clock.pendingCount).toBe(0);
    expect(pool.nextRejoinAt()).toBe(clock.now() + 4_000);
    await clock.advance(4_000);
    // Available at once, announced when the owner asks.
    expect(pool.candidates()).toEqual(['p2', 'p3']);
    expect(ends).toEqual([]);
    expect(pool.rejoin()).toEqual(['p2']);
    expect(ends).toEqual(['p2']);
    expect(pool.rejoin()).toEqual([]);
    expect(pool.nextRejoinAt()).toBe(clock.now() + 5_000);
    await clock.advance(5_000);
    expect(pool.rejoin()).toEqual(['p1']);
    expect(pool.nextRejoinAt()).toBeUndefined();
  });
});

describe('KeyPool: rate learned from 429s', () => {
  const rateOf = (pool: KeyPool, name = 'p1') => pool.limiter(name).effectiveRequestsPerWindow();

  /** `n` successes of `name`, one every 100 ms (600 per minute), each started when it succeeded. */
  async function succeed(clock: VirtualClock, pool: KeyPool, name: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      pool.onSuccess(name, clock.now(), clock.now());
      await clock.advance(100);
    }
  }

  it('learns from every 429 whose headers announce no limit (bare or naming its wait), from what got through; a 429 announcing the limit is left to the limiter', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys, clock, limits: { requestsPerMinute: 600 } });
    for (let i = 0; i < 10; i++) {
      for (const k of ['p1', 'p3', 'p4']) pool.onSuccess(k, clock.now(), clock.now());
      await clock.advance(100);
    }
    const started = clock.now();
    pool.reportFailure('p1', { ...limited, retryAfterMs: 2_000 }, { startedAt: started });
    pool.reportFailure('p3', limited, { startedAt: started, rateLimit: { at: clock.now(), source: 'openai', requests: { limit: 600, remaining: 0 } } });
    pool.reportFailure('p4', limited, { startedAt: started });
    // p1 and p4: 600/min got through in the last second; cut to 0.95 of it.
    for (const k of ['p1', 'p4']) {
      expect(rateOf(pool, k)).toBeGreaterThan(0.85 * 600);
      expect(rateOf(pool, k)).toBeLessThan(600);
    }
    expect(rateOf(pool, 'p3')).toBe(600);
    pool.close();
  });

  it('learnRate: false keeps exactly the configured limits and a 30 s default cooldown; learning shortens the default cooldown to 100 ms', () => {
    const clock = new VirtualClock();
    const fixed = new KeyPool({ keys, clock, limits: { requestsPerMinute: 600 }, learnRate: false });
    expect(fixed.learning).toBe(false);
    expect(fixed.reportFailure('p1', limited, { startedAt: clock.now() }).until).toBe(clock.now() + 30_000);
    expect(rateOf(fixed)).toBe(600);
    const learning = new KeyPool({ keys, clock, limits: { requestsPerMinute: 600 } });
    expect(learning.learning).toBe(true);
    expect(learning.reportFailure('p1', limited, { startedAt: clock.now() }).until).toBe(clock.now() + 100);
    fixed.close();
    learning.close();
  });

  it('a fresh key without limits: the first 429 sets the rate from what got through, not from one request a minute; nothing got through yet means no rate', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys: keys.slice(0, 1), clock });
    // Nothing answered yet: no evidence of a rate, only the cooldown.
    pool.reportFailure('p1', limited, { startedAt: clock.now() });
    expect(rateOf(pool)).toBeUndefined();
    await clock.advance(1_000);
    await succeed(clock, pool, 'p1', 30); // 600 per minute for 3 s
    const last = clock.now() - 100;
    pool.reportFailure('p1', limited, { startedAt: last });
    expect(rateOf(pool)).toBeGreaterThan(0.85 * 600);
    expect(rateOf(pool)).toBeLessThan(600);
    // A 429 of a call started before the decrease is the same congestion: not counted again.
    const before = rateOf(pool);
    pool.reportFailure('p1', limited, { startedAt: last });
    expect(rateOf(pool)).toBe(before);
    pool.close();
  });

  it('429s in a row: one decrease and one cooldown step per congestion event (calls in flight at a 429 do not double it); a later probe that fails too doubles it, probing at least every second or a quarter of the refusal so far', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys: keys.slice(0, 1), clock, limits: { requestsPerMinute: 6_000 }, rejoinTimers: false });
    await succeed(clock, pool, 'p1', 10);
    const decreases: (number | undefined)[] = [];
    pool.limiter('p1').events.on('rate', (e) => decreases.push(e.to));
    const burstStart = clock.now() - 50;
    const now0 = clock.now();
    // A burst: ten calls started together, all answered 429 — one event.
    const burst = Array.from({ length: 10 }, () => pool.reportFailure('p1', limited, { startedAt: burstStart }));
    // One cooldown for the burst: 100 ms, or one start's spacing at the rate just learned where that is shorter.
    expect(decreases).toHaveLength(1);
    const firstStrike = Math.min(100, 60_000 / decreases[0]!);
    expect(firstStrike).toBeLessThan(100);
    for (const e of burst) expect(e.until! - now0).toBeCloseTo(firstStrike, 3);
    // None of them was a probe: they were sent before the key was known to refuse.
    expect(burst.some((e) => e.probe === true)).toBe(false);
    expect(decreases).toHaveLength(1);
    await clock.advance(100);
    const cools: number[] = [];
    for (let i = 0; i < 8; i++) {
      const now = clock.now();
      const effect = pool.reportFailure('p1', limited, { startedAt: now });
      expect(effect.probe).toBe(true);
      cools.push(effect.until! - now);
      await clock.advance(cools[i]!);
    }
    // Doubling (0.1, 0.2, 0.4, 0.8 s), then at least one probe a second; from 4 s of refusal on, a
    // quarter of it (4.5 s -> 1.125 s, 5.625 s -> 1.406 s).
    expect(cools).toEqual([200, 400, 800, 1_000, 1_000, 1_000, 1_125, 1_406.25]);
    // No call got through since the decrease: the same congestion, still one decrease.
    expect(decreases).toHaveLength(1);
    // A call started after the last 429 got through: the next 429 is a first strike again.
    pool.onSuccess('p1', clock.now(), clock.now());
    const again = pool.reportFailure('p1', limited, { startedAt: clock.now() + 1 }).until! - clock.now();
    expect(again).toBeLessThanOrEqual(100);
    expect(again).toBeCloseTo(Math.min(100, 60_000 / pool.limiter('p1').effectiveRequestsPerWindow()!), 3);
    pool.close();
  });

  it('a key that refuses for a minute is probed about 20 times, never more than a quarter of the refusal past its end', async () => {
    const clock = new VirtualClock();
    const pool = new KeyPool({ keys: keys.slice(0, 1), clock, rejoinTimers: false });
    const first = clock.now();
    let probes = 0;
    while (clock.now() - first < 60_000) {
      const now = clock.now();
      const wait = pool.reportFailure('p1', limited, { startedAt: now }).until! - now;
      expect(wait).toBeLessThanOrEqual(Math.max(1_000, (now - first) / 4));
      probes++;
      await clock.advance(wait);
    }
    expect(probes).toBeGreaterThanOrEqual(15);
    expect(probes).toBeLessThanOrEqual(25);
    pool.close();
  });
});
