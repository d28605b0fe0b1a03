/**
 * Turns a stored timeline (and the run's counts, failed items and settings) into what the HTML report
 * draws: series on one time axis at a display resolution, each key's state lanes, totals, tokens and
 * the cost estimate. Pure: no I/O, so the page is the same whether drawn at the end of a run or later
 * by `sluice report`.
 */
import { redactSecrets } from '../../classify/redact.js';
import type { KeyStateName } from './run-events.js';
import { estimateCost, type PriceTable } from './prices.js';
import { RUN_ROW, histogramQuantile, mergeHistogram, type FailedItemRow, type StoredTimeline, type TimelineSession } from './timeline.js';

/** Item counts of the run, from the state. */
export interface ReportCounts {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  pending: number;
  running: number;
}

/** What {@link buildReportData} needs. Nothing in it may be a secret: keys appear by name only. */
export interface ReportSource {
  title: string;
  timeline: StoredTimeline;
  counts: ReportCounts;
  failed: { total: number; items: FailedItemRow[] };
  prices: PriceTable;
  /** Non-secret settings of the run (limits, concurrency, model), by the CLI's option names (`requestsPerMinute`, ...). */
  settings?: Record<string, unknown>;
  /** Input, output, state paths. */
  files?: Record<string, string>;
  /** When the report is drawn (ms since epoch). */
  generatedAt: number;
  /** True when a process still holds the run (the report is a snapshot). */
  running?: boolean;
  /** The step the buckets were already added up to when read (see {@link displayResolution}); the points are never finer. */
  minStepMs?: number;
}

/** One interval of a key's state in a lane. */
export interface LaneSegment {
  state: KeyStateName | 'stopped';
  from: number;
  to: number;
  reason?: string;
}

/** Tokens and estimated cost of one model. */
export interface ModelCost {
  model: string;
  tokensIn: number;
  tokensOut: number;
  calls: number;
  /** Undefined: the price table has no price for this model. */
  cost?: number;
}

/** What the HTML page draws. */
export interface ReportData {
  title: string;
  generatedAt: number;
  running: boolean;
  startedAt: number;
  endedAt: number;
  /** Width of one point of the series, ms. */
  stepMs: number;
  /** Point times, seconds since `startedAt`. */
  x: number[];
  /** Series aligned with `x`; null where no process ran (between sessions). */
  series: {
    succeededPerSec: (number | null)[];
    failedPerSec: (number | null)[];
    rateLimited: (number | null)[];
    p50Ms: (number | null)[];
    p95Ms: (number | null)[];
    inFlight: (number | null)[];
    limit: (number | null)[];
    perKeySucceededPerSec: Record<string, (number | null)[]>;
  };
  keys: string[];
  lanes: Record<string, LaneSegment[]>;
  sessions: { from: number; to: number; finished: boolean }[];
  totals: {
    counts: ReportCounts;
    attempts: number;
    rateLimited: number;
    retries: number;
    p50Ms?: number;
    p95Ms?: number;
    perKey: Record<string, { attempts: number; succeeded: number; rateLimited: number; tokensIn: number; tokensOut: number }>;
  };
  tokens: { models: ModelCost[]; tokensIn: number; tokensOut: number; cost?: number; costPartial: boolean; currency: string; source: string };
  failed: { total: number; items: FailedItemRow[] };
  pauses: { at: number; until?: number; reason: string }[];
  concurrencyChanges: { at: number; limit: number; reason?: string }[];
  /** Honest notes on what a number means (e.g. the demo's shortened minute). */
  notes: string[];
  settings: Record<string, unknown>;
  files: Record<string, string>;
}

/** Display steps (ms): the smallest that keeps the series at most {@link MAX_POINTS} points. */
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400].map((s) => s * 1000);
const MAX_POINTS = 360;

/** The smallest display step that keeps a span at most {@link MAX_POINTS} points. */
function stepFor(spanMs: number): number {
  return STEPS.find((s) => spanMs / s <= MAX_POINTS) ?? STEPS[STEPS.length - 1]!;
}

function sessionWindows(sessions: readonly TimelineSession[], generatedAt: number, running: boolean): { from: number; to: number; finished: boolean }[] {
  return sessions.map((s) => ({ from: s.startedAt, to: s.finished || !running ? s.lastAt : Math.max(s.lastAt, generatedAt), finished: s.finished }));
}

/**
 * Where the points start and how wide they are, from the sessions alone: a store can add its one-second
 * buckets up to this step as it reads them (a ten-hour run is 144,000 rows per key otherwise).
 */
export function displayResolution(sessions: readonly TimelineSession[], generatedAt: number, running = false): { origin: number; stepMs: number } | undefined {
  if (sessions.length === 0) return undefined;
  const w = sessionWindows(sessions, generatedAt, running);
  const origin = Math.min(...w.map((s) => s.from));
  const end = Math.max(origin + 1, ...w.map((s) => s.to));
  return { origin, stepMs: stepFor(end - origin) };
}

/** Builds the page's data from a stored run. */
export function buildReportData(src: ReportSource): ReportData {
  const { timeline } = src;
  const sessions = sessionWindows(timeline.sessions, src.generatedAt, src.running ?? false);
  const startedAt = sessions.length ? Math.min(...sessions.map((s) => s.from)) : src.generatedAt;
  // (A loop, not a spread: a long run has hundreds of thousands of buckets.)
  let endedAt = Math.max(startedAt + 1, ...sessions.map((s) => s.to));
  for (const b of timeline.buckets) if (b.start + 1 > endedAt) endedAt = b.start + 1;
  const span = endedAt - startedAt;
  const stepMs = Math.max(stepFor(span), src.minStepMs ?? 0);
  const n = Math.max(1, Math.ceil(span / stepMs));
  const idx = (t: number): number => Math.min(n - 1, Math.max(0, Math.floor((t - startedAt) / stepMs)));
  const x = Array.from({ length: n }, (_, i) => (i * stepMs) / 1000);

  // Which points fall inside a session (others are gaps: nothing ran).
  const live = new Array<boolean>(n).fill(false);
  for (const s of sessions) for (let i = idx(s.from); i <= idx(Math.max(s.from, s.to - 1)); i++) live[i] = true;
  const zeros = (): (number | null)[] => live.map((l) => (l ? 0 : null));

  const succeeded = zeros();
  const failed = zeros();
  const rateLimited = zeros();
  const inFlightStart = new Array<number>(n).fill(-1);
  const limitMax = new Array<number>(n).fill(-1);
  const inFlightEnd = new Array<number>(n).fill(-1);
  const latency: Record<number, number>[] = Array.from({ length: n }, () => ({}));
  const allLatency: Record<number, number> = {};
  const keys = new Set<string>();
  for (const k of keyNames(src.settings)) keys.add(k);
  const perKey: ReportData['totals']['perKey'] = {};
  const perKeySeries: Record<string, (number | null)[]> = {};
  let attempts = 0;
  let limited = 0;
  let retries = 0;
  const ensureKey = (k: string): void => {
    keys.add(k);
    perKey[k] ??= { attempts: 0, succeeded: 0, rateLimited: 0, tokensIn: 0, tokensOut: 0 };
    perKeySeries[k] ??= zeros();
  };
  for (const b of timeline.buckets) {
    const i = idx(b.start);
    if (b.key === RUN_ROW) {
      succeeded[i] = (succeeded[i] ?? 0) + b.succeeded;
      failed[i] = (failed[i] ?? 0) + b.failed;
      rateLimited[i] = (rateLimited[i] ?? 0) + b.rateLimited;
      if (b.attempts > 0) inFlightStart[i] = Math.max(inFlightStart[i]!, b.inFlightMax);
      limitMax[i] = Math.max(limitMax[i]!, b.limitMax);
      inFlightEnd[i] = b.inFlightEnd;
      mergeHistogram(latency[i]!, b.latency);
      mergeHistogram(allLatency, b.latency);
      attempts += b.attempts;
      limited += b.rateLimited;
      retries += b.retries;
    } else {
      ensureKey(b.key);
      const k = perKey[b.key]!;
      k.attempts += b.attempts;
      k.succeeded += b.succeeded;
      k.rateLimited += b.rateLimited;
      k.tokensIn += b.tokensIn;
      k.tokensOut += b.tokensOut;
      const s = perKeySeries[b.key]!;
      s[i] = (s[i] ?? 0) + b.succeeded;
    }
  }
  for (const k of keys) ensureKey(k);
  // A rate is a count over the time the point covers: the last point may be shorter than a step.
  const pointMs = (i: number): number => Math.max(1, Math.min(stepMs, endedAt - (startedAt + i * stepMs)));
  // (A last point shorter than half a step is too short to be a rate: left out.)
  const rateAt = (v: number | null, i: number): number | null =>
    v === null || (i === n - 1 && pointMs(i) < stepMs / 2) ? null : round((v * 1000) / pointMs(i));

  // In flight and the limit: carried through points without events, within sessions only.
  const inFlight: (number | null)[] = [];
  const limit: (number | null)[] = [];
  let lastLimit = 0;
  let lastEnd = 0;
  for (let i = 0; i < n; i++) {
    if (!live[i]) {
      inFlight.push(null);
      limit.push(null);
      lastEnd = 0;
      continue;
    }
    const l = limitMax[i]! >= 0 ? Math.max(limitMax[i]!, lastLimit) : lastLimit;
    // Sampled when requests start, the count is bounded by the limit then; without a start in the
    // point, it is what was left in flight, which after a lowered limit drains to below the line.
    const f = inFlightStart[i]! >= 0 ? inFlightStart[i]! : Math.min(lastEnd, l > 0 ? l : lastEnd);
    inFlight.push(f);
    limit.push(l > 0 ? l : null);
    if (limitMax[i]! >= 0) lastLimit = limitMax[i]!;
    if (inFlightEnd[i]! >= 0) lastEnd = inFlightEnd[i]!;
  }

  const q = (h: Record<number, number>, p: number): number | null => {
    const v = histogramQuantile(h, p);
    return v === undefined ? null : round(v);
  };
  const models: ModelCost[] = timeline.tokens.map((t) => {
    const cost = estimateCost(src.prices, t.model, t.tokensIn, t.tokensOut);
    return { ...t, ...(cost !== undefined ? { cost } : {}) };
  });
  const costKnown = models.filter((m) => m.cost !== undefined);
  const orderedKeys = [...keys].sort();
  const perKeySucceededPerSec: Record<string, (number | null)[]> = {};
  for (const k of orderedKeys) perKeySucceededPerSec[k] = perKeySeries[k]!.map(rateAt);
  const p50 = histogramQuantile(allLatency, 0.5);
  const p95 = histogramQuantile(allLatency, 0.95);
  return {
    title: src.title,
    generatedAt: src.generatedAt,
    running: src.running ?? false,
    startedAt,
    endedAt,
    stepMs,
    x,
    series: {
      succeededPerSec: succeeded.map(rateAt),
      failedPerSec: failed.map(rateAt),
      rateLimited,
      p50Ms: latency.map((h, i) => (live[i] ? q(h, 0.5) : null)),
      p95Ms: latency.map((h, i) => (live[i] ? q(h, 0.95) : null)),
      inFlight,
      limit,
      perKeySucceededPerSec,
    },
    keys: orderedKeys,
    lanes: buildLanes(src, orderedKeys, sessions),
    sessions,
    totals: {
      counts: src.counts,
      attempts,
      rateLimited: limited,
      retries,
      ...(p50 !== undefined ? { p50Ms: p50 } : {}),
      ...(p95 !== undefined ? { p95Ms: p95 } : {}),
      perKey,
    },
    tokens: {
      models,
      tokensIn: models.reduce((s, m) => s + m.tokensIn, 0),
      tokensOut: models.reduce((s, m) => s + m.tokensOut, 0),
      ...(costKnown.length > 0 ? { cost: costKnown.reduce((s, m) => s + m.cost!, 0) } : {}),
      costPartial: costKnown.length < models.length,
      currency: src.prices.currency,
      source: src.prices.source,
    },
    failed: { total: src.failed.total, items: src.failed.items.map((f) => ({ ...f, message: redactSecrets(f.message), id: redactSecrets(f.id) })) },
    pauses: pauses(timeline),
    concurrencyChanges: timeline.marks.flatMap((m) => (m.type === 'concurrency' ? [{ at: m.at, limit: m.limit, ...(m.reason ? { reason: m.reason } : {}) }] : [])),
    notes: notes(src),
    settings: src.settings ?? {},
    files: src.files ?? {},
  };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

function keyNames(settings: Record<string, unknown> | undefined): string[] {
  const k = settings?.keys;
  return Array.isArray(k) ? k.filter((n): n is string => typeof n === 'string') : [];
}

/** Each key's states over time: active from each session's start, changed by its marks, stopped between sessions. */
function buildLanes(src: ReportSource, keys: readonly string[], sessions: { from: number; to: number }[]): Record<string, LaneSegment[]> {
  const lanes: Record<string, LaneSegment[]> = {};
  const bySession = new Map<number, { from: number; to: number }>();
  src.timeline.sessions.forEach((s, i) => bySession.set(s.id, sessions[i]!));
  for (const key of keys) {
    const segs: LaneSegment[] = [];
    for (const [id, win] of bySession) {
      let cur: LaneSegment = { state: 'active', from: win.from, to: win.to };
      let until: number | undefined;
      for (const m of src.timeline.marks) {
        if (m.session !== id || m.type !== 'key_state' || m.key !== key) continue;
        // A cooldown that announced its end and saw no later event ended then.
        if (until !== undefined && until < m.at && cur.state !== 'active') {
          segs.push({ ...cur, to: until });
          cur = { state: 'active', from: until, to: win.to };
        }
        if (m.state === cur.state) {
          until = m.until;
          continue;
        }
        if (m.at > cur.from) segs.push({ ...cur, to: m.at });
        cur = { state: m.state, from: m.at, to: win.to, ...(m.reason ? { reason: m.reason } : {}) };
        until = m.until;
      }
      if (until !== undefined && until < win.to && cur.state !== 'active' && cur.state !== 'disabled') {
        segs.push({ ...cur, to: until });
        cur = { state: 'active', from: until, to: win.to };
      }
      if (win.to > cur.from) segs.push(cur);
    }
    lanes[key] = segs;
  }
  return lanes;
}

function pauses(t: StoredTimeline): ReportData['pauses'] {
  const out: ReportData['pauses'] = [];
  for (const m of t.marks) {
    if (m.type === 'pause') out.push({ at: m.at, reason: m.detail ? `${m.reason}: ${m.detail}` : m.reason, ...(m.until !== undefined ? { until: m.until } : {}) });
  }
  return out;
}

function notes(src: ReportSource): string[] {
  const out: string[] = [];
  if (src.timeline.sessions.length === 0) {
    out.push('This state holds no time series (its run started before Sluice stored one, or has not started yet): the charts are empty; the counts, tokens and failed items below are from the state.');
  }
  const windowMs = src.timeline.sessions.map((s) => s.info.limitsWindowMs).find((w): w is number => typeof w === 'number' && w !== 60_000);
  if (windowMs !== undefined) {
    const scale = 60_000 / windowMs;
    const rpm = typeof src.settings?.requestsPerMinute === 'number' ? src.settings.requestsPerMinute : undefined;
    const tpm = typeof src.settings?.tokensPerMinute === 'number' ? src.settings.tokensPerMinute : undefined;
    const per = (v: number, unit: string): string => `${unit} ${v} counts per ${windowMs / 1000} s, i.e. ${Math.round(v * scale).toLocaleString('en')} per real minute`;
    out.push(
      `This run used a shortened limit window: its "minute" is ${windowMs / 1000} s (the simulator's demo scales time by ${scale}). ` +
        [rpm !== undefined ? per(rpm, 'requestsPerMinute') : '', tpm !== undefined ? per(tpm, 'tokensPerMinute') : ''].filter(Boolean).join('; ') +
        (rpm !== undefined || tpm !== undefined ? '.' : ''),
    );
  }
  if (src.running) out.push('A process still holds this run: the report is a snapshot (the last few seconds may be missing); regenerate it with `sluice report`.');
  return out;
}
