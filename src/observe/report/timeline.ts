/**
 * The time series of a run in the form it is stored in (fixed one-second buckets, per key and for the
 * whole run, plus state marks and token counts), collected from {@link RunEvent}s by {@link TimelineBuffer}.
 *
 * `observe` only adds to counters in memory; {@link startTimelineFlush} drains the closed buckets every few
 * seconds into a {@link TimelineWriter} (one transaction in the SQLite state, `src/batch/timeline-store.ts`;
 * one script call into the run's keys on Redis, `src/batch/redis/timeline.ts`), so the hot path does no I/O
 * and `sluice report` can read the series back at any time, during a run too.
 */
import { answeredRateLimited, type KeyStateName, type RunEvent, type RunObserver } from './run-events.js';

/** Key name of the rows that count the whole run (a key's rows carry its name). */
export const RUN_ROW = '';

/** Counts of one bucket (`key` {@link RUN_ROW} for the whole run). */
export interface TimelineBucket {
  /** Bucket start, ms since epoch. */
  start: number;
  key: string;
  attempts: number;
  succeeded: number;
  /** Attempts that failed (any kind, 429s included). */
  failed: number;
  /** Attempts answered 429 / rate_limited. */
  rateLimited: number;
  retries: number;
  /** Most requests in flight when a request started in this bucket (the limit bounds it then). Run rows only. */
  inFlightMax: number;
  /** Requests in flight at the end of the bucket. Run rows only. */
  inFlightEnd: number;
  /** Highest concurrency limit in force during the bucket. Run rows only. */
  limitMax: number;
  /** Latency histogram of the attempts that ended here: bin index ({@link latencyBin}) to count. */
  latency: Record<number, number>;
  tokensIn: number;
  tokensOut: number;
}

/** A change of state at an instant: key states, the concurrency limit, run pauses, quota alerts. */
export type TimelineMark =
  | { at: number; type: 'key_state'; key: string; state: KeyStateName; until?: number; reason?: string }
  | { at: number; type: 'concurrency'; limit: number; reason?: string }
  | { at: number; type: 'pause'; reason: string; until?: number; detail?: string }
  | { at: number; type: 'resume' }
  | { at: number; type: 'alert'; key: string; alertLevel: number; usage: number };

/** Tokens reported by responses, per model (added up across drains). */
export interface TokenCount {
  model: string;
  tokensIn: number;
  tokensOut: number;
  /** Responses that reported usage. */
  calls: number;
}

/** What {@link TimelineBuffer.drain} hands over: closed buckets, marks and token deltas since the last drain. */
export interface TimelineDrain {
  buckets: TimelineBucket[];
  marks: TimelineMark[];
  tokens: TokenCount[];
}

/** One process's share of a stored run. */
export interface TimelineSession {
  id: number;
  startedAt: number;
  /** Time of its last write (its end, once finished). */
  lastAt: number;
  finished: boolean;
  bucketMs: number;
  /** Non-secret facts of the session (e.g. `limitsWindowMs`, the length of the window `rpm` counts in). */
  info: Record<string, unknown>;
}

/** Everything a stored timeline holds (all sessions of a run). */
export interface StoredTimeline {
  sessions: TimelineSession[];
  buckets: (TimelineBucket & { session: number })[];
  marks: (TimelineMark & { session: number })[];
  tokens: TokenCount[];
}

/** A failed item as the report lists it (the message as stored; the report redacts it again). */
export interface FailedItemRow {
  id: string;
  line: number;
  attempts: number;
  kind: string;
  message: string;
  status?: number;
  key?: string;
}

/** Ratio between latency bins: a quantile read from the histogram is within about ±7 %. */
export const LATENCY_BIN_RATIO = 1.15;
const LOG_RATIO = Math.log(LATENCY_BIN_RATIO);
const MAX_BIN = 120;

/** The histogram bin of a latency: bin 0 holds ≤ 1 ms, bin i holds (r^(i-1), r^i] ms. */
export function latencyBin(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(MAX_BIN, Math.ceil(Math.log(ms) / LOG_RATIO - 1e-9));
}

/** The value a bin stands for (its geometric middle). */
export function latencyBinValue(bin: number): number {
  return bin <= 0 ? 1 : LATENCY_BIN_RATIO ** (bin - 0.5);
}

/** Adds histogram `from` into `into`. */
export function mergeHistogram(into: Record<number, number>, from: Record<number, number>): void {
  for (const [bin, n] of Object.entries(from)) into[Number(bin)] = (into[Number(bin)] ?? 0) + n;
}

/** The q-quantile (0..1) of a histogram, or undefined when it is empty. */
export function histogramQuantile(h: Record<number, number>, q: number): number | undefined {
  const bins = Object.entries(h)
    .map(([b, n]) => [Number(b), n] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0]);
  const total = bins.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [bin, n] of bins) {
    seen += n;
    if (seen >= rank) return latencyBinValue(bin);
  }
  return latencyBinValue(bins[bins.length - 1]![0]);
}

/** Options of {@link TimelineBuffer}. */
export interface TimelineBufferOptions {
  /** Bucket width (default 1,000 ms). */
  bucketMs?: number;
  /** Concurrency limit in force at the start (before any `concurrency` event). */
  initialLimit?: number;
  /** Most marks held between two drains (default 10,000; the oldest go first). */
  maxMarks?: number;
}

/**
 * Collects the stored time series from run events. Memory holds only what has not been drained yet:
 * the open buckets (one per key that was active in the last second or two), marks and token deltas.
 */
export class TimelineBuffer implements RunObserver {
  readonly bucketMs: number;
  private readonly maxMarks: number;
  private readonly open = new Map<string, TimelineBucket>();
  private closed: TimelineBucket[] = [];
  private marks: TimelineMark[] = [];
  private tokenDeltas = new Map<string, TokenCount>();
  private inFlight = 0;
  private limit: number;
  /** Start of the first bucket not yet drained: later events never land before it. */
  private floor = -Infinity;

  constructor(options: TimelineBufferOptions = {}) {
    this.bucketMs = options.bucketMs ?? 1000;
    this.maxMarks = options.maxMarks ?? 10_000;
    this.limit = options.initialLimit ?? 0;
    if (!(this.bucketMs > 0)) throw new RangeError(`timeline: bucketMs must be > 0, got ${this.bucketMs}`);
  }

  observe(e: RunEvent): void {
    switch (e.type) {
      case 'attempt_start': {
        this.inFlight++;
        const run = this.bucket(e.at, RUN_ROW);
        run.attempts++;
        run.inFlightMax = Math.max(run.inFlightMax, this.inFlight);
        run.inFlightEnd = this.inFlight;
        if (e.key) this.bucket(e.at, e.key).attempts++;
        break;
      }
      case 'attempt_end': {
        this.inFlight = Math.max(0, this.inFlight - 1);
        const rows = [this.bucket(e.at, RUN_ROW), ...(e.key ? [this.bucket(e.at, e.key)] : [])];
        rows[0]!.inFlightEnd = this.inFlight;
        const limited = answeredRateLimited(e);
        for (const b of rows) {
          if (e.ok) b.succeeded++;
          else b.failed++;
          if (limited) b.rateLimited++;
          if (e.latencyMs !== undefined && e.latencyMs >= 0) {
            const bin = latencyBin(e.latencyMs);
            b.latency[bin] = (b.latency[bin] ?? 0) + 1;
          }
        }
        break;
      }
      case 'retry':
        this.bucket(e.at, RUN_ROW).retries++;
        break;
      case 'concurrency': {
        this.limit = e.limit;
        const b = this.bucket(e.at, RUN_ROW);
        b.limitMax = Math.max(b.limitMax, e.limit);
        this.mark({ at: e.at, type: 'concurrency', limit: e.limit, ...(e.reason ? { reason: e.reason } : {}) });
        break;
      }
      case 'key_state':
        this.mark({
          at: e.at,
          type: 'key_state',
          key: e.key,
          state: e.state,
          ...(e.until !== undefined ? { until: e.until } : {}),
          ...(e.reason ? { reason: e.reason } : {}),
        });
        break;
      case 'pause':
        this.mark({ at: e.at, type: 'pause', reason: e.reason, ...(e.until !== undefined ? { until: e.until } : {}), ...(e.detail ? { detail: e.detail } : {}) });
        break;
      case 'resume':
        this.mark({ at: e.at, type: 'resume' });
        break;
      case 'quota_alert':
        this.mark({ at: e.at, type: 'alert', key: e.key, alertLevel: e.alertLevel, usage: e.usage });
        break;
      default:
        break;
    }
  }

  /** Tokens a response reported (counted in its bucket and per model). */
  addTokens(at: number, model: string, tokensIn: number, tokensOut: number, key?: string): void {
    for (const b of [this.bucket(at, RUN_ROW), ...(key ? [this.bucket(at, key)] : [])]) {
      b.tokensIn += tokensIn;
      b.tokensOut += tokensOut;
    }
    const t = this.tokenDeltas.get(model) ?? { model, tokensIn: 0, tokensOut: 0, calls: 0 };
    t.tokensIn += tokensIn;
    t.tokensOut += tokensOut;
    t.calls++;
    this.tokenDeltas.set(model, t);
  }

  /**
   * Hands over what was collected since the last drain: the buckets that ended by `now` (all of them
   * with `all`, at the end of a run), the marks and the token deltas.
   */
  drain(now: number, all = false): TimelineDrain {
    const buckets = this.closed;
    this.closed = [];
    for (const [id, b] of this.open) {
      if (all || b.start + this.bucketMs <= now) {
        buckets.push(b);
        this.open.delete(id);
      }
    }
    if (all) this.floor = Math.max(this.floor, Math.floor(now / this.bucketMs) * this.bucketMs + this.bucketMs);
    else this.floor = Math.max(this.floor, Math.floor(now / this.bucketMs) * this.bucketMs);
    const marks = this.marks;
    this.marks = [];
    const tokens = [...this.tokenDeltas.values()];
    this.tokenDeltas = new Map();
    buckets.sort((a, b) => a.start - b.start || a.key.localeCompare(b.key));
    return { buckets, marks, tokens };
  }

  private mark(m: TimelineMark): void {
    this.marks.push(m);
    if (this.marks.length > this.maxMarks) this.marks.shift();
  }

  private bucket(at: number, key: string): TimelineBucket {
    const start = Math.max(this.floor, Math.floor(at / this.bucketMs) * this.bucketMs);
    const id = `${key}\u0000${start}`;
    let b = this.open.get(id);
    if (!b) {
      b = {
        start,
        key,
        attempts: 0,
        succeeded: 0,
        failed: 0,
        rateLimited: 0,
        retries: 0,
        inFlightMax: 0,
        inFlightEnd: this.inFlight,
        limitMax: key === RUN_ROW ? this.limit : 0,
        latency: {},
        tokensIn: 0,
        tokensOut: 0,
      };
      this.open.set(id, b);
    }
    return b;
  }
}

/** Where a {@link TimelineBuffer}'s drains go (the SQLite state, the run's keys on Redis). */
export interface TimelineWriter {
  /** Stores a drain and records `at` as the session's last write (`finished`: its end). */
  write(drain: TimelineDrain, at: number, finished?: boolean): void | Promise<void>;
  /** Releases the writer (after a last {@link write}). */
  close(): void | Promise<void>;
}

/** Options of {@link startTimelineFlush}. */
export interface TimelineFlushOptions {
  /** How often the buffer is drained, ms (default 2,000; a real-time timer that does not keep the process alive). */
  intervalMs?: number;
  /**
   * With nothing to write, the session's last time is still written this often, ms (default 0: at every
   * interval). A store that costs a command per write (Redis) keeps an idle process cheap with it.
   */
  heartbeatMs?: number;
  /** A failed write (the chart is not worth failing a run for); default: ignored. */
  onError?: (error: unknown) => void;
}

/** Whether a drain holds nothing to store. */
function emptyDrain(d: TimelineDrain): boolean {
  return d.buckets.length === 0 && d.marks.length === 0 && d.tokens.length === 0;
}

/**
 * Drains `buffer` into `writer` every interval, off the hot path: one write at a time (a slow write makes
 * the next tick wait for the one after it; what it would have written stays in the buffer). `stop(at)`
 * waits for a write on the way, writes everything left, marks the session finished and closes the writer;
 * with a synchronous writer (SQLite) the last write is done before `stop` returns.
 */
export function startTimelineFlush(
  buffer: TimelineBuffer,
  writer: TimelineWriter,
  now: () => number,
  options: TimelineFlushOptions = {},
): { flush: () => void; stop: (at: number, finished: boolean) => Promise<void> } {
  const intervalMs = options.intervalMs ?? 2000;
  const heartbeatMs = options.heartbeatMs ?? 0;
  const onError = options.onError ?? (() => undefined);
  let busy: Promise<void> | undefined;
  let lastWrite = -Infinity;
  const flush = (): void => {
    if (busy) return;
    try {
      const at = now();
      const drain = buffer.drain(at);
      if (emptyDrain(drain) && at - lastWrite < heartbeatMs) return;
      lastWrite = at;
      const pending = writer.write(drain, at);
      if (pending) busy = pending.catch(onError).finally(() => (busy = undefined));
    } catch (error) {
      onError(error);
    }
  };
  const timer = setInterval(flush, intervalMs);
  timer.unref();
  const last = (at: number, finished: boolean): void | Promise<void> => {
    let pending: void | Promise<void>;
    try {
      pending = writer.write(buffer.drain(at, true), at, finished);
    } catch (error) {
      void writer.close();
      throw error;
    }
    if (!pending) return writer.close();
    return pending.finally(() => writer.close());
  };
  return {
    flush,
    stop: async (at, finished) => {
      clearInterval(timer);
      if (busy) await busy;
      await last(at, finished);
    },
  };
}

/**
 * Buckets added up per `stepMs` from `origin`, per session and key (counts summed, the in-flight and limit
 * maxima kept, latency histograms merged): a store that cannot group as it reads (Redis) groups with this,
 * as the SQLite store does in SQL.
 */
export function groupBuckets<B extends TimelineBucket & { session: number }>(buckets: readonly B[], origin: number, stepMs: number): (TimelineBucket & { session: number })[] {
  const out = new Map<string, TimelineBucket & { session: number }>();
  for (const b of buckets) {
    const start = origin + Math.floor((b.start - origin) / stepMs) * stepMs;
    const id = `${b.session}\u0000${start}\u0000${b.key}`;
    const g = out.get(id);
    if (!g) {
      out.set(id, { ...b, start, latency: { ...b.latency } });
      continue;
    }
    g.attempts += b.attempts;
    g.succeeded += b.succeeded;
    g.failed += b.failed;
    g.rateLimited += b.rateLimited;
    g.retries += b.retries;
    g.inFlightMax = Math.max(g.inFlightMax, b.inFlightMax);
    g.inFlightEnd = Math.max(g.inFlightEnd, b.inFlightEnd);
    g.limitMax = Math.max(g.limitMax, b.limitMax);
    mergeHistogram(g.latency, b.latency);
    g.tokensIn += b.tokensIn;
    g.tokensOut += b.tokensOut;
  }
  return [...out.values()].sort((a, b) => a.start - b.start || a.key.localeCompare(b.key));
}

/**
 * A whole timeline kept in memory as one session (a run that stores none, tests): everything the buffer
 * holds, drained at `endedAt`.
 */
export function timelineInMemory(buffer: TimelineBuffer, startedAt: number, endedAt: number, info: Record<string, unknown> = {}): StoredTimeline {
  const d = buffer.drain(endedAt, true);
  return {
    sessions: [{ id: 1, startedAt, lastAt: endedAt, finished: true, bucketMs: buffer.bucketMs, info }],
    buckets: d.buckets.map((b) => ({ ...b, session: 1 })),
    marks: d.marks.map((m) => ({ ...m, session: 1 })),
    tokens: d.tokens,
  };
}
