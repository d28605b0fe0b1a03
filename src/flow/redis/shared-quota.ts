/**
 * `SharedDailyQuota`: one key's daily request budget and its quota pause, shared by every worker in
 * Redis. Each worker's `QuotaMonitor` only sees its own requests, so with 4 workers and 1,000 a day the
 * fleet could send 4,000; here every start first takes one request from the key's shared counter
 * (`quota-take.lua`, atomic), so the fleet never sends more than the budget, and the pause the budget
 * triggers (the monitor's `pauseThreshold` on `daily`) is written as a `parked` key state that every
 * worker sees before its next start.
 */
import type { Clock } from '../../clock/clock.js';
import { systemClock } from '../../clock/system-clock.js';
import type { KeyStateStore, QuotaRecord } from '../backend.js';
import type { QuotaMonitorOptions } from '../quota/quota-monitor.js';
import type { RateLimitSnapshot } from '../../classify/rate-limit/snapshot.js';
import type { RedisQuotaStore } from './redis-flow-backend.js';

const DAY_MS = 86_400_000;
/** A worker stores a key's snapshot at most this often (each response carries one). */
const SNAPSHOT_EVERY_MS = 1_000;

/** Options of {@link SharedDailyQuota}: the quota monitor's options, as given to the key pool. */
export interface SharedDailyQuotaOptions extends Pick<QuotaMonitorOptions, 'monitoring' | 'pauseThreshold' | 'pauseOn' | 'pauseDurationMs' | 'dayOffsetMinutes'> {
  /** The shared counters. */
  quota: RedisQuotaStore;
  /** The shared key states (a spent budget parks the key there). */
  keys: KeyStateStore;
  /** Requests allowed per key and day, by the whole fleet; absent = counted, never refused. */
  requestsPerDay?: number;
  clock?: Clock;
}

/** What {@link SharedDailyQuota.take} answers. */
export interface DailyTake {
  /** False: the day's budget is spent; do not start (nothing was counted). */
  ok: boolean;
  /** The fleet's record of the key (counters of the day, latest snapshot). */
  record: QuotaRecord;
  /** Set when this take parked the key for every worker (budget spent or pause threshold reached), ms since epoch. */
  parkedUntil?: number;
}

/** The fleet-wide daily budget and quota pause of every key. */
export class SharedDailyQuota {
  private readonly clock: Clock;
  private readonly offsetMs: number;
  /** Requests after which the key pauses (the monitor's threshold), when the daily pause applies. */
  private readonly pauseAt: number | undefined;
  /**
   * Requests the fleet may take today: the pause point when the pause lasts until the rollover (nothing
   * more today, so workers racing past the threshold are refused too), else the whole budget.
   */
  private readonly budget: number | undefined;
  private readonly lastSnapshot = new Map<string, number>();

  constructor(private readonly o: SharedDailyQuotaOptions) {
    this.clock = o.clock ?? systemClock;
    this.offsetMs = (o.dayOffsetMinutes ?? 0) * 60_000;
    const n = o.requestsPerDay;
    const pauses = o.monitoring !== false && (o.pauseOn ?? ['daily']).includes('daily');
    this.pauseAt = n !== undefined && pauses ? Math.max(1, Math.ceil((o.pauseThreshold ?? 0.8) * n - 1e-9)) : undefined;
    this.budget = this.pauseAt !== undefined && o.pauseDurationMs === undefined ? this.pauseAt : n;
  }

  /** `YYYY-MM-DD` of the quota day containing `t` (the monitor's day offset). */
  dayOf(t: number): string {
    return new Date(t + this.offsetMs).toISOString().slice(0, 10);
  }

  /** Start of the quota day after `t`, ms since epoch. */
  nextRollover(t: number): number {
    return Math.floor((t + this.offsetMs) / DAY_MS) * DAY_MS + DAY_MS - this.offsetMs;
  }

  /**
   * Takes one request (and `tokens`) from `key`'s budget of today. Refused when the fleet spent it
   * (or reached the pause threshold, when the pause lasts until the rollover): the key is parked until the rollover. Granted at the pause threshold: the key is parked (for
   * `pauseDurationMs`, else until the rollover) after this request.
   */
  async take(key: string, tokens: number): Promise<DailyTake> {
    const now = this.clock.now();
    const rollover = this.nextRollover(now);
    const { granted, record } = await this.o.quota.take(key, this.dayOf(now), tokens, this.budget, rollover - now);
    const n = this.o.requestsPerDay;
    if (!granted) {
      await this.park(key, rollover, `daily quota reached: ${record.requests}/${String(n)} requests by all workers`, now);
      return { ok: false, record, parkedUntil: rollover };
    }
    if (this.pauseAt !== undefined && record.requests >= this.pauseAt) {
      const until = this.o.pauseDurationMs !== undefined ? now + this.o.pauseDurationMs : rollover;
      await this.park(key, until, `daily quota at ${Math.round((record.requests / n!) * 100)}% (${record.requests}/${n!} requests by all workers)`, now);
      return { ok: true, record, parkedUntil: until };
    }
    return { ok: true, record };
  }

  /** Stores `snapshot` as `key`'s latest for every worker (at most once a second per key from this worker). */
  async observe(key: string, snapshot: RateLimitSnapshot): Promise<void> {
    const now = this.clock.now();
    if (now - (this.lastSnapshot.get(key) ?? -Infinity) < SNAPSHOT_EVERY_MS) return;
    this.lastSnapshot.set(key, now);
    await this.o.quota.observe(key, this.dayOf(now), snapshot, this.nextRollover(now) - now);
  }

  private async park(key: string, until: number, reason: string, now: number): Promise<void> {
    await this.o.keys.set(key, { state: 'parked', until, reason }, now);
  }
}
