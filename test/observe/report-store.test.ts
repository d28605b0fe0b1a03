import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteJobStore } from '../../src/batch/sqlite-store.js';
import { SqliteTimelineWriter, readFailedItems, readTimeline, readTimelineSessions } from '../../src/batch/timeline-store.js';
import { BUILTIN_PRICES } from '../../src/observe/report/prices.js';
import { buildReportData, displayResolution } from '../../src/observe/report/report-data.js';
import { RUN_ROW, TimelineBuffer, startTimelineFlush } from '../../src/observe/report/timeline.js';

const T0 = 1_700_000_000_000;
const dir = mkdtempSync(join(tmpdir(), 'sluice-timeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function stateFile(name: string): Promise<string> {
  const path = join(dir, name);
  const store = SqliteJobStore.open(path);
  await store.ingest(
    [
      { id: 'a', line: 1, priority: 0, payload: {} },
      { id: 'b', line: 2, priority: 0, payload: {} },
    ],
    { throughLine: 2, rejectsOffset: 0, done: true },
  );
  await store.complete([
    { id: 'a', state: 'succeeded', result: { ok: true } },
    { id: 'b', state: 'failed', error: { kind: 'invalid_request', message: 'bad prompt', status: 400 } },
  ]);
  await store.close();
  return path;
}

describe('timeline in the SQLite state', () => {
  it('is readable while a session writes, merges a second drained twice, and keeps sessions apart', async () => {
    const path = await stateFile('s.db');
    const buffer = new TimelineBuffer({ initialLimit: 2 });
    const writer = SqliteTimelineWriter.open(path, { startedAt: T0, bucketMs: 1000, info: { limitsWindowMs: 15_000 } });
    let now = T0;
    const flush = startTimelineFlush(buffer, writer, () => now, { intervalMs: 60_000 });
    buffer.observe({ type: 'attempt_start', at: T0 + 10, id: 'a', attempt: 1, key: 'K' });
    buffer.observe({ type: 'attempt_end', at: T0 + 20, id: 'a', attempt: 1, key: 'K', ok: true, latencyMs: 10 });
    buffer.addTokens(T0 + 20, 'gpt-4o-mini', 7, 3);
    now = T0 + 1500;
    flush.flush();
    // Read mid-run: the first second is stored, the session not finished.
    const mid = readTimeline(path);
    expect(mid.sessions).toMatchObject([{ startedAt: T0, lastAt: T0 + 1500, finished: false, info: { limitsWindowMs: 15_000 } }]);
    expect(mid.buckets.filter((b) => b.key === RUN_ROW).map((b) => [b.start - T0, b.attempts, b.succeeded])).toEqual([[0, 1, 1]]);
    expect(mid.tokens).toEqual([{ model: 'gpt-4o-mini', tokensIn: 7, tokensOut: 3, calls: 1 }]);
    // The same second written again (a late event) is added to what is stored.
    writer.write({ buckets: [{ ...mid.buckets.find((b) => b.key === RUN_ROW)!, attempts: 2, succeeded: 1, latency: { 5: 1 } }], marks: [], tokens: [] }, T0 + 1600);
    buffer.observe({ type: 'key_state', at: T0 + 1700, key: 'K', state: 'cooling', until: T0 + 2700, reason: 'rate_limited' });
    buffer.addTokens(T0 + 1800, 'gpt-4o-mini', 1, 1);
    await flush.stop(T0 + 3000, true);
    const second = SqliteTimelineWriter.open(path, { startedAt: T0 + 10_000, bucketMs: 1000 });
    second.write({ buckets: [], marks: [{ at: T0 + 10_500, type: 'resume' }], tokens: [] }, T0 + 11_000, true);
    second.close();
    const all = readTimeline(path);
    expect(all.sessions.map((s) => [s.id, s.finished])).toEqual([
      [1, true],
      [2, true],
    ]);
    const first = all.buckets.find((b) => b.key === RUN_ROW && b.start === T0)!;
    expect(first).toMatchObject({ attempts: 3, succeeded: 2 });
    expect(Object.values(first.latency).reduce((s, n) => s + n, 0)).toBe(2);
    expect(all.marks.map((m) => [m.type, m.session])).toEqual([
      ['key_state', 1],
      ['resume', 2],
    ]);
    expect(all.tokens).toEqual([{ model: 'gpt-4o-mini', tokensIn: 8, tokensOut: 4, calls: 2 }]);
    // The job store still opens the file (its own schema untouched).
    const store = SqliteJobStore.open(path, { create: false });
    expect((await store.counts()).total).toBe(2);
    await store.close();
  });

  it('added up per display step in SQL, a stored run draws the same page data as from its one-second rows', async () => {
    const path = await stateFile('g.db');
    const buffer = new TimelineBuffer({ initialLimit: 4 });
    const writer = SqliteTimelineWriter.open(path, { startedAt: T0, bucketMs: 1000 });
    for (let s = 0; s < 1500; s++) {
      const at = T0 + s * 1000;
      buffer.observe({ type: 'attempt_start', at, id: String(s), attempt: 1, key: s % 3 ? 'K1' : 'K2' });
      const limited = s % 11 === 0;
      buffer.observe({ type: 'attempt_end', at: at + 5, id: String(s), attempt: 1, key: s % 3 ? 'K1' : 'K2', ok: !limited, ...(limited ? { kind: 'rate_limited' as const, status: 429 } : {}), latencyMs: 20 + (s % 97) * 7 });
      if (s % 100 === 0) writer.write(buffer.drain(at + 500), at + 500);
    }
    writer.write(buffer.drain(T0 + 1_500_000, true), T0 + 1_500_000, true);
    writer.close();
    const source = (timeline: ReturnType<typeof readTimeline>, minStepMs?: number) =>
      buildReportData({
        title: 't',
        timeline,
        counts: { total: 1500, succeeded: 1363, failed: 137, cancelled: 0, pending: 0, running: 0 },
        failed: { total: 0, items: [] },
        prices: BUILTIN_PRICES,
        generatedAt: T0 + 1_600_000,
        ...(minStepMs ? { minStepMs } : {}),
      });
    const resolution = displayResolution(readTimelineSessions(path), T0 + 1_600_000)!;
    expect(resolution.stepMs).toBe(5000);
    const grouped = readTimeline(path, resolution);
    expect(grouped.buckets.filter((b) => b.key === RUN_ROW)).toHaveLength(300);
    const exact = source(readTimeline(path));
    const fromGrouped = source(grouped, resolution.stepMs);
    expect(fromGrouped.series).toEqual(exact.series);
    expect(fromGrouped.totals).toEqual(exact.totals);
  });

  it('lists failed items in line order with kind, status and message; a state without a timeline reads as empty', async () => {
    const path = await stateFile('f.db');
    expect(readFailedItems(path)).toEqual({ total: 1, items: [{ id: 'b', line: 2, attempts: 0, kind: 'invalid_request', message: 'bad prompt', status: 400 }] });
    expect(readTimeline(path)).toEqual({ sessions: [], buckets: [], marks: [], tokens: [] });
    const d = buildReportData({
      title: 'old',
      timeline: readTimeline(path),
      counts: { total: 2, succeeded: 1, failed: 1, cancelled: 0, pending: 0, running: 0 },
      failed: readFailedItems(path),
      prices: BUILTIN_PRICES,
      generatedAt: T0,
    });
    expect(d.notes.join(' ')).toContain('holds no time series');
  });
});
