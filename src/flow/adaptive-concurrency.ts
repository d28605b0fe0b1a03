/**
 * `AdaptiveConcurrency`: how many calls may run at once, adjusted by AIMD between a floor and a ceiling
 * (defaults from the quota story: start 4, max 16, min 1).
 *
 * - Step down (halve by default, or −1 with `decrease: 'decrement'`) at once on a 429 or an overload,
 *   when the quota use reported is above `quotaHigh` (0.9), or when a window ends with an error rate
 *   above `maxErrorRate` (0.2).
 * - Step up (+1) when a window ends with success above `minSuccessRate` (0.95) and quota use below
 *   `quotaLow` (0.5).
 * - At most one step per window (`windowMs`, default 10 s), measured on the clock: no timer is used,
 *   windows are evaluated as outcomes are recorded.
 */
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import type { ErrorKind } from '../classify/kinds.js';
import { TypedEmitter } from '../observe/typed-emitter.js';
import { checkFraction } from './limits.js';

/** Options of {@link AdaptiveConcurrency}. */
export interface AdaptiveConcurrencyOptions {
  /** Starting limit. Default 4. */
  initial?: number;
  /** Floor. Default 1. */
  min?: number;
  /** Ceiling. Default 16. */
  max?: number;
  /** One step at most per window, ms. Default 10 000. */
  windowMs?: number;
  /** `halve` (multiplicative, default) or `decrement` (−1). */
  decrease?: 'halve' | 'decrement';
  /** Error rate above which a window steps down. Default 0.2. */
  maxErrorRate?: number;
  /** Success rate above which a window may step up. Default 0.95. */
  minSuccessRate?: number;
  /** Quota use above which to step down. Default 0.9. */
  quotaHigh?: number;
  /** Quota use below which stepping up is allowed. Default 0.5. */
  quotaLow?: number;
  /** Fewest outcomes in a window before its rates are judged. Default 5. */
  minSamples?: number;
  clock?: Clock;
}

/** A change of the concurrency limit, with its reason. */
export interface ConcurrencyChange {
  from: number;
  to: number;
  reason: string;
}

/** Events of {@link AdaptiveConcurrency}. */
export interface AdaptiveConcurrencyEvents {
  change: ConcurrencyChange;
}

/** Kinds that step down at once (congestion signals). */
const CONGESTION: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['rate_limited', 'overloaded']);
/** Kinds that say nothing about load (the caller's or the content's fault); not counted as errors. */
const NEUTRAL: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['invalid_request', 'content_filtered', 'not_found', 'cancelled']);

/** AIMD concurrency limit. Read {@link limit} before starting a call; record every outcome. */
export class AdaptiveConcurrency {
  /** Every change of the limit. */
  readonly events = new TypedEmitter<AdaptiveConcurrencyEvents>();
  private current: number;
  private readonly o: Required<Omit<AdaptiveConcurrencyOptions, 'clock' | 'initial'>>;
  private readonly clock: Clock;
  private windowStart: number;
  private lastStepAt = -Infinity;
  private successes = 0;
  private errors = 0;
  private quota = 0;

  constructor(options: AdaptiveConcurrencyOptions = {}) {
    const where = 'adaptive concurrency';
    const min = options.min ?? 1;
    const max = options.max ?? 16;
    const initial = options.initial ?? Math.min(max, Math.max(min, 4));
    for (const [field, v] of [['min', min], ['max', max], ['initial', initial]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${where}: ${field} must be an integer >= 1, got ${String(v)}`);
    }
    if (max < min) throw new RangeError(`${where}: max must be >= min, got max ${max} < min ${min}`);
    if (initial < min || initial > max) throw new RangeError(`${where}: initial must be between min ${min} and max ${max}, got ${initial}`);
    const windowMs = options.windowMs ?? 10_000;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`${where}: windowMs must be a finite number > 0, got ${String(windowMs)}`);
    const decrease = options.decrease ?? 'halve';
    if (decrease !== 'halve' && decrease !== 'decrement') throw new TypeError(`${where}: decrease must be 'halve' or 'decrement', got ${String(decrease)}`);
    this.o = {
      min,
      max,
      windowMs,
      decrease,
      maxErrorRate: options.maxErrorRate ?? 0.2,
      minSuccessRate: options.minSuccessRate ?? 0.95,
      quotaHigh: options.quotaHigh ?? 0.9,
      quotaLow: options.quotaLow ?? 0.5,
      minSamples: options.minSamples ?? 5,
    };
    for (const f of ['maxErrorRate', 'minSuccessRate', 'quotaHigh', 'quotaLow'] as const) checkFraction(this.o[f], f, where);
    if (this.o.quotaLow > this.o.quotaHigh) throw new RangeError(`${where}: quotaLow must be <= quotaHigh, got ${this.o.quotaLow} > ${this.o.quotaHigh}`);
    this.current = initial;
    this.clock = options.clock ?? systemClock;
    this.windowStart = this.clock.now();
  }

  /** Calls allowed in flight now. */
  get limit(): number {
    return this.current;
  }

  /** Records a success. */
  recordSuccess(): void {
    this.successes++;
    this.evaluate();
  }

  /** Records a failure of `kind`: rate limits and overloads step down at once (once per window). */
  recordFailure(kind: ErrorKind): void {
    if (NEUTRAL.has(kind)) return;
    this.errors++;
    if (CONGESTION.has(kind)) this.stepDown(kind === 'rate_limited' ? 'rate limited' : 'provider overloaded');
    else this.evaluate();
  }

  /** Reports the quota use (0..1, the highest fraction of any limit); above `quotaHigh` steps down. */
  observeQuota(usage: number): void {
    if (!Number.isFinite(usage)) return;
    this.quota = usage;
    if (usage > this.o.quotaHigh) this.stepDown(`quota use ${pct(usage)} above ${pct(this.o.quotaHigh)}`);
  }

  private evaluate(): void {
    const now = this.clock.now();
    if (now - this.windowStart < this.o.windowMs) return;
    const total = this.successes + this.errors;
    if (total >= this.o.minSamples) {
      const errorRate = this.errors / total;
      if (errorRate > this.o.maxErrorRate) this.stepDown(`error rate ${pct(errorRate)} above ${pct(this.o.maxErrorRate)}`);
      else if (1 - errorRate > this.o.minSuccessRate && this.quota < this.o.quotaLow) {
        this.step(Math.min(this.o.max, this.current + 1), `success ${pct(1 - errorRate)}, quota use ${pct(this.quota)}`);
      }
    }
    this.windowStart = now;
    this.successes = 0;
    this.errors = 0;
  }

  private stepDown(reason: string): void {
    const to = this.o.decrease === 'halve' ? Math.floor(this.current / 2) : this.current - 1;
    this.step(Math.max(this.o.min, to), reason);
  }

  private step(to: number, reason: string): void {
    const now = this.clock.now();
    if (to === this.current || now - this.lastStepAt < this.o.windowMs) return;
    const from = this.current;
    this.current = to;
    this.lastStepAt = now;
    // A new window starts with the new limit: its rates are judged on their own.
    this.windowStart = now;
    this.successes = 0;
    this.errors = 0;
    this.events.emit('change', { from, to, reason });
  }
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;
