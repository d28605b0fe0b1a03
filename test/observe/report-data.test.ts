import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderReportPage } from '../../src/observe/report/page.js';
import { BUILTIN_PRICES, PriceFileError, estimateCost, parsePriceFile, priceFor } from '../../src/observe/report/prices.js';
import { buildReportData, type ReportSource } from '../../src/observe/report/report-data.js';
import type { RunEvent } from '../../src/observe/report/run-events.js';
import {
  RUN_ROW,
  TimelineBuffer,
  histogramQuantile,
  latencyBin,
  timelineInMemory,
  type StoredTimeline,
} from '../../src/observe/report/timeline.js';

const T0 = 1_700_000_000_000;

function source(timeline: StoredTimeline, extra: Partial<ReportSource> = {}): ReportSource {
  return {
    title: 'Run <demo>',
    timeline,
    counts: { total: 3, succeeded: 2, failed: 1, cancelled: 0, pending: 0, running: 0 },
    failed: { total: 1, items: [{ id: 'row-7', line: 7, attempts: 1, kind: 'invalid_request', status: 400, message: 'bad: api_key=sk-abcdef1234567890 refused', key: 'K1' }] },
    prices: BUILTIN_PRICES,
    settings: { keys: ['K1', 'K2'], requestsPerMinute: 600 },
    generatedAt: T0 + 10_000,
    ...extra,
  };
}

describe('TimelineBuffer', () => {
  it('counts attempts, 429s, latency and tokens per second for the run and per key', () => {
    const b = new TimelineBuffer({ initialLimit: 4 });
    const ev: RunEvent[] = [
      { type: 'attempt_start', at: T0 + 10, id: 'a', attempt: 1, key: 'K1' },
      { type: 'attempt_start', at: T0 + 20, id: 'b', attempt: 1, key: 'K2' },
      { type: 'attempt_end', at: T0 + 300, id: 'a', attempt: 1, key: 'K1', ok: true, latencyMs: 290 },
      { type: 'attempt_end', at: T0 + 1500, id: 'b', attempt: 1, key: 'K2', ok: false, kind: 'rate_limited', status: 429, latencyMs: 40 },
      { type: 'retry', at: T0 + 1500, id: 'b', attempt: 1, kind: 'rate_limited', delayMs: 0 },
    ];
    for (const e of ev) b.observe(e);
    b.addTokens(T0 + 300, 'gpt-4o-mini', 100, 20, 'K1');
    const d = b.drain(T0 + 5000, true);
    const run0 = d.buckets.find((x) => x.key === RUN_ROW && x.start === T0)!;
    expect(run0).toMatchObject({ attempts: 2, succeeded: 1, inFlightMax: 2, limitMax: 4, tokensIn: 100, tokensOut: 20 });
    const run1 = d.buckets.find((x) => x.key === RUN_ROW && x.start === T0 + 1000)!;
    expect(run1).toMatchObject({ failed: 1, rateLimited: 1, retries: 1, inFlightEnd: 0 });
    expect(d.buckets.find((x) => x.key === 'K2' && x.start === T0 + 1000)).toMatchObject({ rateLimited: 1, failed: 1 });
    expect(d.tokens).toEqual([{ model: 'gpt-4o-mini', tokensIn: 100, tokensOut: 20, calls: 1 }]);
  });

  it('drains only the seconds that are over; a late event lands in a bucket not yet drained', () => {
    const b = new TimelineBuffer();
    b.observe({ type: 'attempt_start', at: T0 + 100, id: 'a', attempt: 1 });
    b.observe({ type: 'attempt_start', at: T0 + 1100, id: 'b', attempt: 1 });
    const first = b.drain(T0 + 1500);
    expect(first.buckets.map((x) => x.start)).toEqual([T0]);
    b.observe({ type: 'attempt_end', at: T0 + 900, id: 'a', attempt: 1, ok: true }); // late: its second is drained
    const rest = b.drain(T0 + 2500, true);
    expect(rest.buckets.map((x) => [x.start - T0, x.attempts, x.succeeded])).toEqual([[1000, 1, 1]]);
  });

  it('histogram quantiles are within the bin ratio of the true value', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 2, max: 100_000 }), { minLength: 1, maxLength: 200 }), (values) => {
        const h: Record<number, number> = {};
        for (const v of values) h[latencyBin(v)] = (h[latencyBin(v)] ?? 0) + 1;
        const sorted = [...values].sort((a, b) => a - b);
        const truth = sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)]!;
        const est = histogramQuantile(h, 0.95)!;
        expect(est / truth).toBeGreaterThan(1 / 1.16);
        expect(est / truth).toBeLessThan(1.16);
      }),
    );
  });
});

describe('prices', () => {
  it('finds dated snapshots by their base name and never guesses an unknown model', () => {
    expect(priceFor(BUILTIN_PRICES, 'gpt-4o-mini-2024-07-18')).toEqual({ inputPerMTok: 0.15, outputPerMTok: 0.6 });
    expect(priceFor(BUILTIN_PRICES, 'gpt-4o-2024-08-06')).toEqual({ inputPerMTok: 2.5, outputPerMTok: 10 });
    expect(priceFor(BUILTIN_PRICES, 'claude-sonnet-4-5-20250929')).toEqual({ inputPerMTok: 3, outputPerMTok: 15 });
    expect(priceFor(BUILTIN_PRICES, 'models/gemini-2.5-flash')).toEqual({ inputPerMTok: 0.3, outputPerMTok: 2.5 });
    expect(priceFor(BUILTIN_PRICES, 'gemini-2.5-flash-lite')).toEqual({ inputPerMTok: 0.1, outputPerMTok: 0.4 });
    expect(priceFor(BUILTIN_PRICES, 'my-finetune')).toBeUndefined();
    expect(priceFor(BUILTIN_PRICES, 'gpt-4o-minis')).toBeUndefined();
    expect(priceFor(BUILTIN_PRICES, 'gpt-4o-realtime-preview')).toBeUndefined();
    expect(priceFor(BUILTIN_PRICES, 'gemini-2.0-flash-001')).toEqual({ inputPerMTok: 0.1, outputPerMTok: 0.4 });
    expect(estimateCost(BUILTIN_PRICES, 'gpt-4o-mini', 1_000_000, 1_000_000)).toBeCloseTo(0.75, 10);
    expect(estimateCost(BUILTIN_PRICES, 'unknown-model', 10, 10)).toBeUndefined();
  });

  it('validates a --prices file and names the file and the field', () => {
    const ok = parsePriceFile('p.json', JSON.stringify({ currency: 'EUR', models: { 'my-model': { inputPerMTok: 1, outputPerMTok: 2 } } }));
    expect(ok.currency).toBe('EUR');
    expect(ok.models['my-model']).toEqual({ inputPerMTok: 1, outputPerMTok: 2 });
    expect(() => parsePriceFile('p.json', '{')).toThrow(/prices file p\.json: not valid JSON/);
    expect(() => parsePriceFile('p.json', JSON.stringify({ models: { m: { inputPerMTok: -1, outputPerMTok: 2 } } }))).toThrow(
      /prices file p\.json: field models\.m\.inputPerMTok: /,
    );
    expect(() => parsePriceFile('p.json', JSON.stringify({ models: { m: { input: 1 } } }))).toThrow(PriceFileError);
    expect(() => parsePriceFile('p.json', JSON.stringify({ model: {} }))).toThrow(/field (models|\(top level\))/);
  });
});

function demoTimeline(): StoredTimeline {
  const b = new TimelineBuffer({ initialLimit: 8 });
  let inFlight = 0;
  let limit = 8;
  // A limit that moves up and down while requests run: in flight never drawn above it.
  for (let t = 0; t < 30_000; t += 50) {
    if (t % 5000 === 0) {
      limit = t % 10_000 === 0 ? 8 : 4;
      b.observe({ type: 'concurrency', at: T0 + t, limit });
    }
    while (inFlight < limit) {
      b.observe({ type: 'attempt_start', at: T0 + t, id: `${t}-${inFlight}`, attempt: 1, key: inFlight % 2 ? 'K2' : 'K1' });
      inFlight++;
    }
    b.observe({ type: 'attempt_end', at: T0 + t + 40, id: `${t}`, attempt: 1, key: 'K1', ok: t % 700 !== 0, ...(t % 700 === 0 ? { kind: 'rate_limited' as const, status: 429 } : {}), latencyMs: 100 + (t % 300) });
    inFlight--;
    if (t % 200 === 0) {
      b.observe({ type: 'attempt_end', at: T0 + t + 45, id: `${t}x`, attempt: 1, key: 'K2', ok: true, latencyMs: 150 });
      inFlight--;
    }
  }
  b.observe({ type: 'key_state', at: T0 + 3000, key: 'K2', state: 'cooling', until: T0 + 6000, reason: 'rate_limited' });
  b.observe({ type: 'key_state', at: T0 + 20_000, key: 'K1', state: 'parked', reason: 'quota_exhausted' });
  b.addTokens(T0 + 100, 'gpt-4o-mini', 1000, 500, 'K1');
  b.addTokens(T0 + 200, 'my-model', 10, 5, 'K2');
  return timelineInMemory(b, T0, T0 + 30_000, { limitsWindowMs: 15_000 });
}

describe('report data', () => {
  it('keeps in flight at or below the limit, counts with integers, lanes from marks', () => {
    const d = buildReportData(source(demoTimeline()));
    expect(d.stepMs).toBe(1000);
    expect(d.x.length).toBe(30);
    d.series.inFlight.forEach((v, i) => expect(v!).toBeLessThanOrEqual(d.series.limit[i]!));
    expect(d.series.rateLimited.every((v) => v === null || Number.isInteger(v))).toBe(true);
    expect(d.lanes.K2!.map((s) => [s.state, s.from - T0, s.to - T0])).toEqual([
      ['active', 0, 3000],
      ['cooling', 3000, 6000],
      ['active', 6000, 30_000],
    ]);
    expect(d.lanes.K1!.map((s) => s.state)).toEqual(['active', 'parked']);
    expect(d.totals.p50Ms).toBeGreaterThan(100);
  });

  it('says the demo minute is shortened, prices known models and leaves the unknown one unknown', () => {
    const d = buildReportData(source(demoTimeline()));
    expect(d.notes.join(' ')).toMatch(/"minute" is 15 s .*requestsPerMinute 600 counts per 15 s, i\.e\. 2,400 per real minute/);
    const mini = d.tokens.models.find((m) => m.model === 'gpt-4o-mini')!;
    expect(mini.cost).toBeCloseTo((1000 * 0.15 + 500 * 0.6) / 1e6, 12);
    expect(d.tokens.models.find((m) => m.model === 'my-model')!.cost).toBeUndefined();
    expect(d.tokens.costPartial).toBe(true);
    expect(d.tokens.cost).toBeCloseTo(mini.cost!, 12);
  });

  it('draws gaps between sessions as null, not zero', () => {
    const t = demoTimeline();
    const second = { ...t.sessions[0]!, id: 2, startedAt: T0 + 60_000, lastAt: T0 + 70_000 };
    const d = buildReportData(source({ ...t, sessions: [t.sessions[0]!, second] }));
    const at = (s: number): number => d.x.indexOf(s);
    expect(d.series.succeededPerSec[at(45)]).toBeNull();
    expect(d.series.succeededPerSec[at(65)]).toBe(0);
    expect(d.lanes.K2!.some((s) => s.from === T0 + 60_000 && s.state === 'active')).toBe(true);
  });

  it('page: self-contained, the failed-items table redacted, cost called an estimate, text escaped', () => {
    const html = renderReportPage(buildReportData(source(demoTimeline())));
    expect(html).toContain('Run &#60;demo&#62;');
    expect(html).toContain('id="failed-items"');
    expect(html).toContain('row-7');
    expect(html).not.toContain('sk-abcdef1234567890');
    expect(html).toMatch(/\$0\.\d+ estimate/);
    expect(html).toContain('unknown (no price)');
    for (const chart of ['throughput', '429', 'latency', 'concurrency', 'keys']) expect(html).toContain(`data-chart="${chart}"`);
    // Nothing is loaded: no external script, stylesheet, image or font.
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?https?:/i);
  });

  it('cost is unknown, not zero, when no response reported usage', () => {
    const t = demoTimeline();
    const html = renderReportPage(buildReportData(source({ ...t, tokens: [] })));
    expect(html).toContain('unknown: no response reported token usage');
  });
});

describe('a long run', () => {
  it('builds from hundreds of thousands of buckets (ten hours, three keys and the run) into a bounded number of points', () => {
    const buckets: StoredTimeline['buckets'] = [];
    const hours = 10;
    for (let s = 0; s < hours * 3600; s++) {
      for (const key of [RUN_ROW, 'K1', 'K2', 'K3']) {
        buckets.push({ session: 1, start: T0 + s * 1000, key, attempts: 3, succeeded: 3, failed: 0, rateLimited: 0, retries: 0, inFlightMax: 2, inFlightEnd: 1, limitMax: 4, latency: { 30: 3 }, tokensIn: 0, tokensOut: 0 });
      }
    }
    const d = buildReportData(
      source({ sessions: [{ id: 1, startedAt: T0, lastAt: T0 + hours * 3_600_000, finished: true, bucketMs: 1000, info: {} }], buckets, marks: [], tokens: [] }),
    );
    expect(d.x.length).toBeLessThanOrEqual(360);
    expect(d.totals.attempts).toBe(hours * 3600 * 3);
    expect(d.series.succeededPerSec[10]).toBe(3);
  });
});
