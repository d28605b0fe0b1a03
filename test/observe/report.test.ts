import { describe, expect, it } from 'vitest';
import { RunRecorder } from '../../src/observe/report/recorder.js';
import type { RunEvent } from '../../src/observe/report/run-events.js';
import { formatSummary } from '../../src/observe/report/summary.js';

const T0 = 1_700_000_000_000;

function sampleRun(): RunRecorder {
  const r = new RunRecorder();
  const ev: RunEvent[] = [
    { type: 'concurrency', at: T0, limit: 4 },
    { type: 'attempt_start', at: T0 + 10, id: 'a', attempt: 1, key: 'KEY_1' },
    { type: 'attempt_start', at: T0 + 20, id: 'b', attempt: 1, key: 'KEY_2' },
    { type: 'attempt_end', at: T0 + 300, id: 'a', attempt: 1, key: 'KEY_1', ok: true, latencyMs: 290 },
    { type: 'item', at: T0 + 300, id: 'a', state: 'succeeded' },
    { type: 'attempt_end', at: T0 + 1500, id: 'b', attempt: 1, key: 'KEY_2', ok: false, kind: 'rate_limited', status: 429, latencyMs: 40 },
    { type: 'key_state', at: T0 + 1500, key: 'KEY_2', state: 'cooling', until: T0 + 4500, reason: 'rate_limited' },
    { type: 'retry', at: T0 + 1500, id: 'b', attempt: 1, kind: 'rate_limited', delayMs: 0 },
    { type: 'attempt_start', at: T0 + 1510, id: 'b', attempt: 2, key: 'KEY_1' },
    { type: 'attempt_end', at: T0 + 1900, id: 'b', attempt: 2, key: 'KEY_1', ok: false, kind: 'invalid_request', status: 400 },
    { type: 'item', at: T0 + 1900, id: 'b', state: 'failed', kind: 'invalid_request' },
    { type: 'key_state', at: T0 + 4500, key: 'KEY_2', state: 'active' },
    { type: 'quota_alert', at: T0 + 4600, key: 'KEY_1', alertLevel: 0.8, usage: 0.81 },
  ];
  for (const e of ev) r.observe(e);
  return r;
}

describe('RunRecorder', () => {
  it('buckets attempts, 429s, failures by kind and each key timeline', () => {
    const run = sampleRun().finish(T0 + 5000);
    expect(run.buckets[0]).toMatchObject({ attempts: 2, succeeded: 1, inFlightMax: 2, concurrency: 4 });
    expect(run.buckets[1]).toMatchObject({ attempts: 1, failed: 2, rateLimited: 1, retries: 1 });
    expect(run.attemptFailuresByKind).toEqual({ rate_limited: 1, invalid_request: 1 });
    expect(run.finalFailuresByKind).toEqual({ invalid_request: 1 });
    expect(run.keys.KEY_2!.segments).toEqual([{ state: 'cooling', from: T0 + 1500, to: T0 + 4500, until: T0 + 4500, reason: 'rate_limited' }]);
    expect(run.keys.KEY_2!.rateLimited).toBe(1);
    expect(run.latency.count).toBe(2);
    expect(run.latency.maxMs).toBe(290);
    expect(run.alerts).toHaveLength(1);
  });

  it('closes a cooldown at its announced end when no end event comes', () => {
    const r = new RunRecorder();
    r.observe({ type: 'key_state', at: T0, key: 'K', state: 'cooling', until: T0 + 1000 });
    r.observe({ type: 'key_state', at: T0 + 5000, key: 'K', state: 'cooling', until: T0 + 6000 });
    const run = r.finish(T0 + 10_000);
    expect(run.keys.K!.segments.map((s) => [s.from - T0, s.to! - T0])).toEqual([
      [0, 1000],
      [5000, 6000],
    ]);
  });

  it('stays bounded on a long run by doubling the bucket width', () => {
    const r = new RunRecorder({ maxBuckets: 10 });
    for (let s = 0; s < 1000; s++) {
      r.observe({ type: 'attempt_start', at: T0 + s * 1000, id: String(s), attempt: 1 });
      r.observe({ type: 'attempt_end', at: T0 + s * 1000 + 1, id: String(s), attempt: 1, ok: true });
    }
    const run = r.finish();
    expect(run.buckets.length).toBeLessThanOrEqual(10);
    expect(run.bucketMs).toBeGreaterThanOrEqual(100_000);
    expect(run.buckets.reduce((s, b) => s + b.succeeded, 0)).toBe(1000);
  });
});

describe('terminal summary', () => {
  it('summarises counts, 429 share and failures by kind', () => {
    const text = formatSummary(
      { total: 2, succeeded: 1, failed: 1, cancelled: 0, pending: 0, rejected: 0, durationMs: 5000, interrupted: false },
      sampleRun().finish(T0 + 5000),
    );
    expect(text).toContain('1 succeeded, 1 failed');
    expect(text).toContain('1 answered 429 (33.33 %)');
    expect(text).toContain('failed by kind: invalid_request 1');
  });
});
