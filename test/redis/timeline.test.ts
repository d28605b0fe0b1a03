/**
 * The run's time series on real Redis: two workers' drains merge into one timeline (counts summed per
 * second, the run row's gauges summed over workers, each worker's highest kept when one second is written
 * twice), overlapping sessions are one session of the fleet, a gap is a gap, marks and tokens are read back
 * with the fleet's sessions, and grouping to the page's step draws the same page data as the one-second rows.
 * Times are given, never read from a clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { RedisTimelineWriter, TIMELINE_STALE_MS, readRedisTimeline, readRedisTimelineSessions, redisTimelineRunning } from '../../src/batch/redis/timeline.js';
import { BUILTIN_PRICES } from '../../src/observe/report/prices.js';
import { buildReportData, displayResolution } from '../../src/observe/report/report-data.js';
import { RUN_ROW, TimelineBuffer, startTimelineFlush, type StoredTimeline } from '../../src/observe/report/timeline.js';
import { cleanup, testClient, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('timeline');
const T0 = 1_700_000_000_000;
let redis: Redis;

beforeAll(() => {
  redis = testClient();
});
afterAll(async () => {
  await cleanup(redis, prefix);
  await redis.quit();
});

/** One attempt of `id` on `key`, from `at` for `ms`. */
function attempt(b: TimelineBuffer, at: number, id: string, key: string, ms: number, ok = true): void {
  b.observe({ type: 'attempt_start', at, id, attempt: 1, key });
  b.observe({ type: 'attempt_end', at: at + ms, id, attempt: 1, key, ok, ...(ok ? {} : { kind: 'rate_limited' as const, status: 429 }), latencyMs: ms });
}

describe('the run timeline on Redis', () => {
  it('merges two workers into one timeline and one session of the fleet', async () => {
    const base = `${prefix}:run:merge`;
    const a = new TimelineBuffer({ initialLimit: 4 });
    const b = new TimelineBuffer({ initialLimit: 2 });
    const wa = await RedisTimelineWriter.open(redis, base, { startedAt: T0, bucketMs: 1000, info: { limitsWindowMs: 60_000 } });
    const wb = await RedisTimelineWriter.open(redis, base, { startedAt: T0 + 300, bucketMs: 1000 });
    expect([wa.session, wb.session]).toEqual([1, 2]);
    // Second 0: A has two calls in flight at once, B one; a 429 on B. Second 1: one call each.
    a.observe({ type: 'attempt_start', at: T0 + 10, id: 'a1', attempt: 1, key: 'K1' });
    a.observe({ type: 'attempt_start', at: T0 + 20, id: 'a2', attempt: 1, key: 'K2' });
    a.observe({ type: 'attempt_end', at: T0 + 60, id: 'a1', attempt: 1, key: 'K1', ok: true, latencyMs: 50 });
    a.observe({ type: 'attempt_end', at: T0 + 70, id: 'a2', attempt: 1, key: 'K2', ok: true, latencyMs: 50 });
    attempt(b, T0 + 400, 'b1', 'K1', 100, false);
    b.observe({ type: 'retry', at: T0 + 500, id: 'b1', attempt: 1, kind: 'rate_limited', delayMs: 100 });
    b.observe({ type: 'key_state', at: T0 + 500, key: 'K1', state: 'cooling', until: T0 + 1500, reason: 'rate_limited' });
    b.observe({ type: 'concurrency', at: T0 + 600, limit: 3, reason: 'adaptive increase' });
    a.addTokens(T0 + 60, 'gpt-4o-mini', 10, 5, 'K1');
    b.addTokens(T0 + 500, 'gpt-4o-mini', 1, 2, 'K1');
    attempt(a, T0 + 1100, 'a3', 'K1', 30);
    attempt(b, T0 + 1200, 'b1', 'K1', 30);
    await wa.write(a.drain(T0 + 2000), T0 + 2000);
    await wb.write(b.drain(T0 + 2000), T0 + 2000);
    // Nothing more from A; B writes its last second and both finish.
    attempt(b, T0 + 2100, 'b2', 'K2', 40);
    await wa.write(a.drain(T0 + 3000, true), T0 + 3000, true);
    await wb.write(b.drain(T0 + 3500, true), T0 + 3500, true);

    const t = await readRedisTimeline(redis, base);
    expect(t.sessions).toEqual([{ id: 1, startedAt: T0, lastAt: T0 + 3500, finished: true, bucketMs: 1000, info: { limitsWindowMs: 60_000, workers: 2 } }]);
    const run = (start: number) => t.buckets.find((x) => x.key === RUN_ROW && x.start === T0 + start)!;
    // Counts add up over workers; in flight and the limit are the fleet's (A's 2 + B's 1; A's 4 + B's 3).
    expect(run(0)).toMatchObject({ session: 1, attempts: 3, succeeded: 2, failed: 1, rateLimited: 1, retries: 1, inFlightMax: 3, limitMax: 7, tokensIn: 11, tokensOut: 7 });
    expect(Object.values(run(0).latency).reduce((s, n) => s + n, 0)).toBe(3);
    expect(run(1000)).toMatchObject({ attempts: 2, succeeded: 2, inFlightMax: 2 });
    expect(run(2000)).toMatchObject({ attempts: 1, succeeded: 1 });
    const k1 = t.buckets.filter((x) => x.key === 'K1');
    expect(k1.reduce((s, x) => s + x.attempts, 0)).toBe(4);
    expect(k1.reduce((s, x) => s + x.rateLimited, 0)).toBe(1);
    expect(t.marks.map((m) => [m.type, m.session])).toEqual([
      ['key_state', 1],
      ['concurrency', 1],
    ]);
    // Each worker sets its own concurrency: the change says whose it was.
    expect(t.marks[1]).toMatchObject({ type: 'concurrency', limit: 3, reason: 'worker 2: adaptive increase' });
    expect(t.tokens).toEqual([{ model: 'gpt-4o-mini', tokensIn: 11, tokensOut: 7, calls: 2 }]);
    // The page: the fleet's totals, one session.
    const page = buildReportData({ title: 't', timeline: t, counts: { total: 4, succeeded: 4, failed: 0, cancelled: 0, pending: 0, running: 0 }, failed: { total: 0, items: [] }, prices: BUILTIN_PRICES, generatedAt: T0 + 4000 });
    expect(page.totals).toMatchObject({ attempts: 6, rateLimited: 1, retries: 1 });
    expect(page.totals.perKey).toMatchObject({ K1: { attempts: 4, succeeded: 3, rateLimited: 1 }, K2: { attempts: 2, succeeded: 2 } });
    expect(page.sessions).toHaveLength(1);
    expect(await redisTimelineRunning(redis, base, T0 + 4000)).toBe(false);
  });

  it('a second written twice by one worker keeps its highest gauges; a worker after a gap is a session of its own', async () => {
    const base = `${prefix}:run:gap`;
    const w = await RedisTimelineWriter.open(redis, base, { startedAt: T0, bucketMs: 1000 });
    const row = { start: T0, key: RUN_ROW, attempts: 1, succeeded: 1, failed: 0, rateLimited: 0, retries: 0, inFlightMax: 5, inFlightEnd: 2, limitMax: 8, latency: { 10: 1 }, tokensIn: 0, tokensOut: 0 };
    await w.write({ buckets: [row], marks: [], tokens: [] }, T0 + 1000);
    await w.write({ buckets: [{ ...row, inFlightMax: 3, inFlightEnd: 1, limitMax: 6, latency: { 10: 1, 12: 1 } }], marks: [], tokens: [] }, T0 + 1500, true);
    // Another worker, a minute after the first finished, and still running (its last write 5 s ago).
    const late = await RedisTimelineWriter.open(redis, base, { startedAt: T0 + 60_000, bucketMs: 1000 });
    await late.write({ buckets: [{ ...row, start: T0 + 61_000 }], marks: [{ at: T0 + 61_500, type: 'resume' }], tokens: [] }, T0 + 62_000);
    const t = await readRedisTimeline(redis, base);
    expect(t.sessions.map((s) => [s.id, s.startedAt - T0, s.lastAt - T0, s.finished])).toEqual([
      [1, 0, 1500, true],
      [2, 60_000, 62_000, false],
    ]);
    expect(t.buckets.find((b) => b.start === T0)).toMatchObject({ session: 1, attempts: 2, inFlightMax: 5, inFlightEnd: 1, limitMax: 8, latency: { 10: 2, 12: 1 } });
    expect(t.buckets.find((b) => b.start === T0 + 61_000)).toMatchObject({ session: 2 });
    expect(t.marks).toEqual([{ at: T0 + 61_500, type: 'resume', session: 2 }]);
    expect(await redisTimelineRunning(redis, base, T0 + 67_000)).toBe(true);
    expect(await redisTimelineRunning(redis, base, T0 + 62_000 + TIMELINE_STALE_MS)).toBe(false);
    // No worker ever wrote: an empty timeline.
    expect(await readRedisTimeline(redis, `${prefix}:run:none`)).toEqual({ sessions: [], buckets: [], marks: [], tokens: [] });
  });

  it('added up per display step as read, a long fleet run draws the same page data as from its one-second rows', async () => {
    const base = `${prefix}:run:long`;
    const buffers = [new TimelineBuffer({ initialLimit: 4 }), new TimelineBuffer({ initialLimit: 4 })];
    const writers = await Promise.all(buffers.map((_, i) => RedisTimelineWriter.open(redis, base, { startedAt: T0 + i * 100, bucketMs: 1000 })));
    for (let s = 0; s < 1500; s++) {
      const b = buffers[s % 2]!;
      attempt(b, T0 + s * 1000 + 200, String(s), s % 3 ? 'K1' : 'K2', 20 + (s % 97) * 7, s % 11 !== 0);
      if (s % 100 === 99) for (const [i, w] of writers.entries()) await w.write(buffers[i]!.drain(T0 + s * 1000 + 500), T0 + s * 1000 + 500);
    }
    for (const [i, w] of writers.entries()) await w.write(buffers[i]!.drain(T0 + 1_500_000, true), T0 + 1_500_000, true);
    const at = T0 + 1_600_000;
    const page = (timeline: StoredTimeline, minStepMs?: number) =>
      buildReportData({ title: 't', timeline, counts: { total: 1500, succeeded: 1363, failed: 137, cancelled: 0, pending: 0, running: 0 }, failed: { total: 0, items: [] }, prices: BUILTIN_PRICES, generatedAt: at, ...(minStepMs ? { minStepMs } : {}) });
    const resolution = displayResolution(await readRedisTimelineSessions(redis, base), at)!;
    expect(resolution.stepMs).toBe(5000);
    const grouped = await readRedisTimeline(redis, base, resolution);
    expect(grouped.buckets.filter((b) => b.key === RUN_ROW)).toHaveLength(300);
    const exact = page(await readRedisTimeline(redis, base));
    const fromGrouped = page(grouped, resolution.stepMs);
    expect(fromGrouped.series).toEqual(exact.series);
    expect(fromGrouped.totals).toEqual(exact.totals);
    expect(exact.totals.attempts).toBe(1500);
    expect(exact.totals.rateLimited).toBe(137);
  }, 30_000);

  it('startTimelineFlush writes one call per drain, and while idle only a heartbeat', async () => {
    const base = `${prefix}:run:flush`;
    const buffer = new TimelineBuffer();
    const writer = await RedisTimelineWriter.open(redis, base, { startedAt: T0, bucketMs: 1000 });
    let now = T0;
    const flush = startTimelineFlush(buffer, writer, () => now, { intervalMs: 3_600_000, heartbeatMs: 10_000 });
    attempt(buffer, T0 + 100, 'x', 'K', 10);
    now = T0 + 1500;
    flush.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(writer.calls).toBe(3); // open (2) + the drain
    // Idle: nothing to write, no call until the heartbeat is due.
    for (const t of [3000, 5000, 9000]) {
      now = T0 + t;
      flush.flush();
    }
    expect(writer.calls).toBe(3);
    now = T0 + 12_000;
    flush.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(writer.calls).toBe(4);
    expect((await readRedisTimelineSessions(redis, base))[0]).toMatchObject({ lastAt: T0 + 12_000, finished: false });
    attempt(buffer, T0 + 12_100, 'y', 'K', 10);
    await flush.stop(T0 + 13_000, true);
    const t = await readRedisTimeline(redis, base);
    expect(t.sessions[0]).toMatchObject({ lastAt: T0 + 13_000, finished: true });
    expect(t.buckets.filter((b) => b.key === 'K').map((b) => [b.start - T0, b.attempts])).toEqual([
      [0, 1],
      [12_000, 1],
    ]);
  });
});
