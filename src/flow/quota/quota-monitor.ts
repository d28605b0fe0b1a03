/**
 * `QuotaMonitor`: one key's quota as the server reports it, plus a daily request budget.
 *
 * - Usage of each limit is `1 - remaining / limit` from the latest snapshot; the daily budget's is
 *   `requests today / requestsPerDay`.
 * - Alerts (default 60 %, 80 %, 95 %) fire once per upward crossing of each limit and re-arm when usage
 *   falls 5 points below the level or the day rolls over.
 * - The pause threshold (default 0.8) stops new starts on the key until the limit resets, then a
 *   single timer resumes it. By default it applies to the daily budget only (`pauseOn: ['daily']`):
 *   per-minute limits are already paced by the rate limiter, which never lets more through than the
 *   server says remains, and a key used at its full per-minute rate sits near 100 % of that window all
 *   the time, so pausing on it would idle a healthy key. Add `'requests'`/`'tokens'` to `pauseOn` to
 *   pause on them too.
 * - `save()` / `restore()` carry the day's counters across a restart.
 */
import type { Clock } from '../../clock/clock.js';
import { systemClock } from '../../clock/system-clock.js';
import { TypedEmitter } from '../../observe/typed-emitter.js';
import type { RateLimitSnapshot, RateLimitWindow } from '../../classify/rate-limit/snapshot.js';
import type { QuotaRecord } from '../backend.js';
import { checkFraction } from '../limits.js';

/** Which limit a usage fraction refers to. */
export type QuotaLimitName = 'requests' | 'tokens' | 'inputTokens' | 'outputTokens' | 'daily';

/** Options of {@link QuotaMonitor}. */
export interface QuotaMonitorOptions {
  /** Key name (never the secret). */
  key: string;
  clock?: Clock;
  /** `false` disables alerts and pauses (counters are still kept). Default true. */
  monitoring?: boolean;
  /** Requests allowed per day; absent = no daily budget. */
  requestsPerDay?: number;
  /** Alert levels as fractions of a limit. Default [0.6, 0.8, 0.95]. */
  alertLevels?: number[];
  /** Usage fraction at which new starts on the key stop until the limit resets. Default 0.8. */
  pauseThreshold?: number;
  /** Limits the pause threshold applies to. Default `['daily']` (see the module comment). */
  pauseOn?: QuotaLimitName[];
  /** Pause length when the daily budget is reached, ms (the quota story's `pause_duration_hours`). Default: until the quota day ends. */
  pauseDurationMs?: number;
  /** Offset of the quota day from UTC, minutes (e.g. -480 for a day that starts at 08:00 UTC). Default 0. */
  dayOffsetMinutes?: number;
}

/** Events of a {@link QuotaMonitor}. */
export interface QuotaMonitorEvents {
  /** Usage of `limit` crossed `level` upward (once per crossing). */
  alert: { key: string; level: number; usage: number; limit: QuotaLimitName };
  /** New starts on the key stop until `until`. */
  pause: { key: string; until: number; reason: string };
  /** The pause ended. */
  resume: { key: string };
}

/** The saved state of a monitor: JSON-able. */
export type QuotaMonitorState = QuotaRecord & { key: string };

const DAY_MS = 86_400_000;
/** Usage must fall this far below a level before its alert can fire again. */
const REARM_GAP = 0.05;

/** Per-key quota tracking, alerts, pause and resume. */
export class QuotaMonitor {
  /** Key name. */
  readonly key: string;
  /** alert, pause, resume. */
  readonly events = new TypedEmitter<QuotaMonitorEvents>();
  private readonly clock: Clock;
  private readonly monitoring: boolean;
  private readonly requestsPerDay: number | undefined;
  private readonly levels: number[];
  private readonly threshold: number;
  private readonly pauseOn: ReadonlySet<QuotaLimitName>;
  private readonly pauseDurationMs: number | undefined;
  private readonly offsetMs: number;
  private latest: RateLimitSnapshot | undefined;
  private day: string;
  private requests = 0;
  private tokens = 0;
  /** Levels already alerted, per limit. */
  private readonly fired = new Map<QuotaLimitName, Set<number>>();
  private paused: { until: number; reason: string } | undefined;
  private cancelResume: (() => void) | undefined;

  constructor(options: QuotaMonitorOptions) {
    const where = `quota monitor "${String(options?.key)}"`;
    if (!options || typeof options.key !== 'string' || options.key.length === 0) throw new TypeError(`${where}: key must be a non-empty string`);
    this.key = options.key;
    this.clock = options.clock ?? systemClock;
    this.monitoring = options.monitoring ?? true;
    if (options.requestsPerDay !== undefined && !(options.requestsPerDay > 0 && Number.isFinite(options.requestsPerDay))) {
      throw new RangeError(`${where}: requestsPerDay must be a finite number > 0, got ${String(options.requestsPerDay)}`);
    }
    this.requestsPerDay = options.requestsPerDay;
    this.levels = [...(options.alertLevels ?? [0.6, 0.8, 0.95])].sort((a, b) => a - b);
    this.levels.forEach((l, i) => checkFraction(l, `alertLevels[${i}]`, where));
    this.threshold = options.pauseThreshold ?? 0.8;
    checkFraction(this.threshold, 'pauseThreshold', where);
    this.pauseOn = new Set(options.pauseOn ?? ['daily']);
    if (options.pauseDurationMs !== undefined && !(options.pauseDurationMs > 0 && Number.isFinite(options.pauseDurationMs))) {
      throw new RangeError(`${where}: pauseDurationMs must be a finite number > 0, got ${String(options.pauseDurationMs)}`);
    }
    this.pauseDurationMs = options.pauseDurationMs;
    const offset = options.dayOffsetMinutes ?? 0;
    if (!Number.isFinite(offset) || Math.abs(offset) > 24 * 60) throw new RangeError(`${where}: dayOffsetMinutes must be between -1440 and 1440, got ${offset}`);
    this.offsetMs = offset * 60_000;
    this.day = this.dayOf(this.clock.now());
  }

  /** Latest snapshot fed with {@link observe}. */
  get snapshot(): RateLimitSnapshot | undefined {
    return this.latest;
  }

  /** Requests counted today (quota day). */
  get requestsToday(): number {
    this.rollover();
    return this.requests;
  }

  /** Feeds a parsed rate-limit snapshot: usage, alerts, pause. */
  observe(snapshot: RateLimitSnapshot): void {
    this.rollover();
    this.latest = snapshot;
    this.check();
  }

  /** Counts a started request (and its tokens, when known) against the daily budget. */
  recordRequest(tokens = 0): void {
    this.rollover();
    this.requests++;
    if (Number.isFinite(tokens) && tokens > 0) this.tokens += tokens;
    this.check();
  }

  /** Adds settled tokens to today's count (no request counted). */
  recordTokens(tokens: number): void {
    this.rollover();
    if (Number.isFinite(tokens) && tokens > 0) this.tokens += tokens;
  }

  /** Usage fraction (0..1) of every limit known now. */
  usage(): Partial<Record<QuotaLimitName, number>> {
    this.rollover();
    const out: Partial<Record<QuotaLimitName, number>> = {};
    const s = this.latest;
    const now = this.clock.now();
    if (s) {
      for (const name of ['requests', 'tokens', 'inputTokens', 'outputTokens'] as const) {
        const u = windowUsage(s[name], now);
        if (u !== undefined) out[name] = u;
      }
    }
    if (this.requestsPerDay !== undefined) out.daily = Math.min(1, this.requests / this.requestsPerDay);
    return out;
  }

  /** Highest usage fraction of any limit (0 when nothing is known). */
  maxUsage(): number {
    return Math.max(0, ...Object.values(this.usage()));
  }

  /** Time until which new starts are paused, or undefined when not paused. */
  pausedUntil(): number | undefined {
    if (this.paused && this.paused.until <= this.clock.now()) this.resume();
    return this.paused?.until;
  }

  /** JSON-able state for {@link restore}. */
  save(): QuotaMonitorState {
    this.rollover();
    const state: QuotaMonitorState = { key: this.key, day: this.day, requests: this.requests, tokens: this.tokens };
    if (this.latest) state.snapshot = this.latest;
    if (this.paused) {
      state.pausedUntil = this.paused.until;
      state.pauseReason = this.paused.reason;
    }
    return state;
  }

  /** Restores a saved state: the day's counters if it is still the same quota day, and a pause still in force. */
  restore(state: QuotaRecord): void {
    this.rollover();
    if (!state || typeof state !== 'object') return;
    if (state.snapshot) this.latest = state.snapshot;
    if (state.day === this.day) {
      if (Number.isFinite(state.requests) && state.requests >= 0) this.requests = Math.max(this.requests, state.requests);
      if (Number.isFinite(state.tokens) && state.tokens >= 0) this.tokens = Math.max(this.tokens, state.tokens);
      this.primeAlerts();
    }
    if (this.monitoring && typeof state.pausedUntil === 'number' && state.pausedUntil > this.clock.now()) {
      this.pause(state.pausedUntil, state.pauseReason ?? 'restored pause');
    }
    this.check();
  }

  /** Cancels the resume timer (the pause, if any, stays recorded). */
  close(): void {
    this.cancelResume?.();
    this.cancelResume = undefined;
  }

  /** `YYYY-MM-DD` of the quota day containing `t`. */
  private dayOf(t: number): string {
    return new Date(t + this.offsetMs).toISOString().slice(0, 10);
  }

  /** Start of the next quota day after `t`, ms since epoch. */
  private nextDayStart(t: number): number {
    const shifted = t + this.offsetMs;
    return Math.floor(shifted / DAY_MS) * DAY_MS + DAY_MS - this.offsetMs;
  }

  private rollover(): void {
    const today = this.dayOf(this.clock.now());
    if (today === this.day) return;
    this.day = today;
    this.requests = 0;
    this.tokens = 0;
    this.fired.delete('daily');
    if (this.paused?.reason.startsWith('daily')) this.resume();
  }

  /** After a restore, levels already passed are not alerted again. */
  private primeAlerts(): void {
    const u = this.usage().daily;
    if (u === undefined) return;
    const set = this.firedSet('daily');
    for (const level of this.levels) if (u >= level) set.add(level);
  }

  private firedSet(name: QuotaLimitName): Set<number> {
    let set = this.fired.get(name);
    if (!set) {
      set = new Set();
      this.fired.set(name, set);
    }
    return set;
  }

  private check(): void {
    if (!this.monitoring) return;
    const now = this.clock.now();
    for (const [name, u] of Object.entries(this.usage()) as [QuotaLimitName, number][]) {
      const set = this.firedSet(name);
      for (const level of this.levels) {
        if (u >= level && !set.has(level)) {
          set.add(level);
          this.events.emit('alert', { key: this.key, level, usage: u, limit: name });
        } else if (u < level - REARM_GAP) set.delete(level);
      }
      if (u >= this.threshold && this.pauseOn.has(name)) {
        const until = this.pauseEnd(name, now);
        if (until !== undefined && until > now) this.pause(until, `${name} quota at ${Math.round(u * 100)}% (threshold ${Math.round(this.threshold * 100)}%)`);
      }
    }
  }

  private pauseEnd(name: QuotaLimitName, now: number): number | undefined {
    if (name === 'daily') return this.pauseDurationMs !== undefined ? now + this.pauseDurationMs : this.nextDayStart(now);
    return this.latest?.[name]?.resetAt;
  }

  private pause(until: number, reason: string): void {
    if (this.paused && this.paused.until >= until) return;
    this.paused = { until, reason };
    this.cancelResume?.();
    this.cancelResume = this.clock.setTimer(until - this.clock.now(), () => {
      this.cancelResume = undefined;
      this.rollover();
      this.resume();
    });
    this.events.emit('pause', { key: this.key, until, reason });
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = undefined;
    this.cancelResume?.();
    this.cancelResume = undefined;
    this.events.emit('resume', { key: this.key });
  }
}

/** `1 - remaining/limit`, when both are known and the window has not reset yet. */
function windowUsage(w: RateLimitWindow | undefined, now: number): number | undefined {
  if (!w || w.limit === undefined || w.remaining === undefined || w.limit <= 0) return undefined;
  if (w.resetAt !== undefined && w.resetAt <= now) return 0;
  return Math.min(1, Math.max(0, 1 - w.remaining / w.limit));
}
