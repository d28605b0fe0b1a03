import type { ErrorKind } from '../../classify/kinds.js';
import { answeredRateLimited, type KeyStateName, type RunEvent, type RunObserver } from './run-events.js';

/** One time bucket of the recorded series. */
export interface SeriesBucket {
  /** Bucket start, ms since epoch. */
  start: number;
  attempts: number;
  /** Attempts that succeeded. */
  succeeded: number;
  /** Attempts that failed (any kind). */
  failed: number;
  /** Attempts answered with a rate limit (429 / rate_limited). */
  rateLimited: number;
  retries: number;
  /** Most requests in flight at once during the bucket. */
  inFlightMax: number;
  /** Concurrency limit at the end of the bucket. */
  concurrency: number;
}

/** One interval of a key's state. `to` is undefined while it lasts. */
export interface KeySegment {
  state: KeyStateName;
  from: number;
  to?: number;
  /** The announced end of a cooldown; it ends there if no later event closes it. */
  until?: number;
  reason?: string;
}

/** Latency summary of attempts. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** Everything a report needs, as recorded. */
export interface RecordedRun {
  startedAt: number;
  endedAt: number;
  bucketMs: number;
  buckets: SeriesBucket[];
  keys: Record<string, { attempts: number; succeeded: number; rateLimited: number; segments: KeySegment[] }>;
  attemptFailuresByKind: Partial<Record<ErrorKind, number>>;
  finalFailuresByKind: Partial<Record<ErrorKind, number>>;
  items: { succeeded: number; failed: number; cancelled: number };
  latency: LatencySummary;
  alerts: { at: number; key: string; alertLevel: number; usage: number }[];
  pauses: { from: number; to?: number; reason: string }[];
}

/** Options of {@link RunRecorder}. */
export interface RunRecorderOptions {
  /** Initial bucket width (default 1,000 ms); doubles whenever `maxBuckets` would be exceeded. */
  bucketMs?: number;
  /** Most buckets kept (default 600): memory is bounded however long the run. */
  maxBuckets?: number;
  /** Most state segments kept per key (default 500; the oldest go first). */
  maxSegmentsPerKey?: number;
  /** Most alerts kept (default 200). */
  maxAlerts?: number;
}

/** Latency histogram bounds (ms) for quantile estimates. */
const LATENCY_BOUNDS = [5, 10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 20000, 60000, Infinity];

/**
 * Collects the time series of a run from {@link RunEvent}s in bounded memory: counts per time bucket
 * (the width doubles as the run grows, so a ten-hour run keeps the same number of buckets as a minute),
 * each key's state timeline, failures by kind, and a latency histogram.
 */
export class RunRecorder implements RunObserver {
  private bucketMs: number;
  private readonly maxBuckets: number;
  private readonly maxSegments: number;
  private readonly maxAlerts: number;
  private origin: number | undefined;
  private last = 0;
  private buckets: SeriesBucket[] = [];
  private inFlight = 0;
  private concurrency = 0;
  private readonly keys = new Map<string, RecordedRun['keys'][string]>();
  private readonly attemptFailures: Partial<Record<ErrorKind, number>> = {};
  private readonly finalFailures: Partial<Record<ErrorKind, number>> = {};
  private readonly items = { succeeded: 0, failed: 0, cancelled: 0 };
  private readonly latencyCounts = new Array<number>(LATENCY_BOUNDS.length).fill(0);
  private latencySum = 0;
  private latencyMax = 0;
  private readonly alerts: RecordedRun['alerts'] = [];
  private readonly pauses: RecordedRun['pauses'] = [];

  constructor(options: RunRecorderOptions = {}) {
    this.bucketMs = options.bucketMs ?? 1000;
    this.maxBuckets = options.maxBuckets ?? 600;
    this.maxSegments = options.maxSegmentsPerKey ?? 500;
    this.maxAlerts = options.maxAlerts ?? 200;
    if (!(this.bucketMs > 0)) throw new RangeError(`recorder: bucketMs must be > 0, got ${this.bucketMs}`);
    if (!(this.maxBuckets >= 2)) throw new RangeError(`recorder: maxBuckets must be >= 2, got ${this.maxBuckets}`);
  }

  /** Marks the start of the run (otherwise the first event does). */
  start(at: number): void {
    this.origin ??= at;
    this.last = Math.max(this.last, at);
  }

  observe(e: RunEvent): void {
    this.start(e.at);
    this.last = Math.max(this.last, e.at);
    switch (e.type) {
      case 'attempt_start': {
        this.inFlight++;
        const b = this.bucket(e.at);
        b.attempts++;
        b.inFlightMax = Math.max(b.inFlightMax, this.inFlight);
        if (e.key) this.key(e.key).attempts++;
        break;
      }
      case 'attempt_end':
        this.attemptEnd(e);
        break;
      case 'retry':
        this.bucket(e.at).retries++;
        break;
      case 'item':
        if (e.state === 'succeeded') this.items.succeeded++;
        else if (e.state === 'failed') {
          this.items.failed++;
          const kind = e.kind ?? 'unknown';
          this.finalFailures[kind] = (this.finalFailures[kind] ?? 0) + 1;
        } else if (e.state === 'cancelled') this.items.cancelled++;
        break;
      case 'key_state':
        this.keyState(e.key, e.state, e.at, e.reason, e.until);
        break;
      case 'concurrency':
        this.concurrency = e.limit;
        this.bucket(e.at).concurrency = e.limit;
        break;
      case 'quota_alert':
        if (this.alerts.length < this.maxAlerts) this.alerts.push({ at: e.at, key: e.key, alertLevel: e.alertLevel, usage: e.usage });
        break;
      case 'pause':
        this.pauses.push({ from: e.at, reason: e.reason });
        if (this.pauses.length > this.maxAlerts) this.pauses.shift();
        break;
      case 'resume': {
        const open = this.pauses[this.pauses.length - 1];
        if (open && open.to === undefined) open.to = e.at;
        break;
      }
      default:
        break;
    }
  }

  /** Marks the end of the run and returns the recorded data (the recorder can keep recording). */
  finish(at?: number): RecordedRun {
    const end = Math.max(at ?? this.last, this.last);
    const keys: RecordedRun['keys'] = {};
    for (const [name, k] of this.keys) {
      // Close open cooldowns at their announced end (or the end of the run).
      const segments = k.segments.map((s) => (s.to === undefined && s.until !== undefined && s.until <= end ? { ...s, to: s.until } : { ...s }));
      keys[name] = { ...k, segments };
    }
    return {
      startedAt: this.origin ?? end,
      endedAt: end,
      bucketMs: this.bucketMs,
      buckets: this.buckets.map((b) => ({ ...b })),
      keys,
      attemptFailuresByKind: { ...this.attemptFailures },
      finalFailuresByKind: { ...this.finalFailures },
      items: { ...this.items },
      latency: this.latencySummary(),
      alerts: [...this.alerts],
      pauses: this.pauses.map((p) => ({ ...p })),
    };
  }

  private attemptEnd(e: Extract<RunEvent, { type: 'attempt_end' }>): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    const b = this.bucket(e.at);
    const key = e.key ? this.key(e.key) : undefined;
    if (e.ok) {
      b.succeeded++;
      if (key) key.succeeded++;
    } else {
      b.failed++;
      const kind = e.kind ?? 'unknown';
      this.attemptFailures[kind] = (this.attemptFailures[kind] ?? 0) + 1;
      if (answeredRateLimited(e)) {
        b.rateLimited++;
        if (key) key.rateLimited++;
      }
    }
    if (e.latencyMs !== undefined && e.latencyMs >= 0) {
      this.latencySum += e.latencyMs;
      this.latencyMax = Math.max(this.latencyMax, e.latencyMs);
      const i = LATENCY_BOUNDS.findIndex((bound) => e.latencyMs! <= bound);
      this.latencyCounts[i]!++;
    }
  }

  private keyState(name: string, state: KeyStateName, at: number, reason?: string, until?: number): void {
    const k = this.key(name);
    const open = k.segments[k.segments.length - 1];
    if (open && open.to === undefined) {
      const expired = open.until !== undefined && open.until <= at;
      if (open.state === state && !expired) {
        if (until !== undefined) open.until = until;
        return;
      }
      open.to = expired ? open.until : at;
    }
    if (state === 'active') return; // only non-active intervals are drawn
    k.segments.push({ state, from: at, ...(until !== undefined ? { until } : {}), ...(reason ? { reason } : {}) });
    if (k.segments.length > this.maxSegments) k.segments.shift();
  }

  private key(name: string): RecordedRun['keys'][string] {
    let k = this.keys.get(name);
    if (!k) {
      k = { attempts: 0, succeeded: 0, rateLimited: 0, segments: [] };
      this.keys.set(name, k);
    }
    return k;
  }

  /** The bucket holding time `at`, creating empty buckets up to it and coarsening when too many. */
  private bucket(at: number): SeriesBucket {
    const origin = this.origin ?? at;
    let index = Math.max(0, Math.floor((at - origin) / this.bucketMs));
    while (index >= this.maxBuckets) {
      this.coarsen(origin);
      index = Math.max(0, Math.floor((at - origin) / this.bucketMs));
    }
    while (this.buckets.length <= index) {
      const start = origin + this.buckets.length * this.bucketMs;
      this.buckets.push({ start, attempts: 0, succeeded: 0, failed: 0, rateLimited: 0, retries: 0, inFlightMax: 0, concurrency: this.concurrency });
    }
    return this.buckets[index]!;
  }

  /** Doubles the bucket width, merging neighbours. */
  private coarsen(origin: number): void {
    this.bucketMs *= 2;
    const merged: SeriesBucket[] = [];
    for (let i = 0; i < this.buckets.length; i += 2) {
      const a = this.buckets[i]!;
      const b = this.buckets[i + 1];
      merged.push(
        b
          ? {
              start: origin + merged.length * this.bucketMs,
              attempts: a.attempts + b.attempts,
              succeeded: a.succeeded + b.succeeded,
              failed: a.failed + b.failed,
              rateLimited: a.rateLimited + b.rateLimited,
              retries: a.retries + b.retries,
              inFlightMax: Math.max(a.inFlightMax, b.inFlightMax),
              concurrency: b.concurrency,
            }
          : { ...a, start: origin + merged.length * this.bucketMs },
      );
    }
    this.buckets = merged;
  }

  private latencySummary(): LatencySummary {
    const count = this.latencyCounts.reduce((s, c) => s + c, 0);
    const quantile = (q: number): number => {
      if (count === 0) return 0;
      const target = q * count;
      let seen = 0;
      for (let i = 0; i < this.latencyCounts.length; i++) {
        seen += this.latencyCounts[i]!;
        if (seen >= target) return Math.min(LATENCY_BOUNDS[i]!, this.latencyMax);
      }
      return this.latencyMax;
    };
    return {
      count,
      meanMs: count === 0 ? 0 : this.latencySum / count,
      p50Ms: quantile(0.5),
      p95Ms: quantile(0.95),
      maxMs: this.latencyMax,
    };
  }
}
