/**
 * `QuotaMonitor`: one key's quota as the server reports it, plus a daily request budget.
 * (Interface first; implementation follows.)
 */
import type { Clock } from '../../clock/clock.js';
import { TypedEmitter } from '../../observe/typed-emitter.js';
import type { RateLimitSnapshot } from './snapshot.js';
import type { QuotaRecord } from '../backend.js';

/** Options of {@link QuotaMonitor}. */
export interface QuotaMonitorOptions {
  /** Key name (never the secret). */
  key: string;
  clock?: Clock;
  /** `false` disables alerts and pauses (counters still kept). Default true. */
  monitoring?: boolean;
  /** Requests allowed per day; absent = no daily budget. */
  requestsPerDay?: number;
  /** Alert levels as fractions of a limit. Default [0.6, 0.8, 0.95]. */
  alertLevels?: number[];
  /** Usage fraction at which new starts on the key stop until the limit resets. Default 0.8. */
  pauseThreshold?: number;
  /** Pause length when the daily budget is used and no reset time is known, ms. Default: until the day ends. */
  pauseDurationMs?: number;
  /** Offset of the quota day from UTC, minutes (e.g. -480 for Pacific time). Default 0. */
  dayOffsetMinutes?: number;
}

/** Which limit a usage fraction refers to. */
export type QuotaLimitName = 'requests' | 'tokens' | 'inputTokens' | 'outputTokens' | 'daily';

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

/** Per-key quota tracking, alerts, pause and resume. */
export class QuotaMonitor {
  readonly key: string;
  readonly events = new TypedEmitter<QuotaMonitorEvents>();

  constructor(options: QuotaMonitorOptions) {
    this.key = options.key;
    throw new Error('QuotaMonitor: not implemented yet');
  }

  /** Feeds a parsed rate-limit snapshot. */
  observe(_snapshot: RateLimitSnapshot): void {}
  /** Counts a started request (daily budget). */
  recordRequest(_tokens = 0): void {}
  /** Latest snapshot. */
  get snapshot(): RateLimitSnapshot | undefined {
    return undefined;
  }
  /** Usage fraction (0..1) per limit known. */
  usage(): Partial<Record<QuotaLimitName, number>> {
    return {};
  }
  /** Highest usage fraction of any limit (0 when nothing is known). */
  maxUsage(): number {
    return 0;
  }
  /** Time until which starts are paused, or undefined. */
  pausedUntil(): number | undefined {
    return undefined;
  }
  /** JSON-able state. */
  save(): QuotaMonitorState {
    throw new Error('not implemented');
  }
  /** Restores a saved state (ignored if from another day). */
  restore(_state: QuotaMonitorState): void {}
  /** Cancels the resume timer. */
  close(): void {}
}
