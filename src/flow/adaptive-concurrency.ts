/**
 * `AdaptiveConcurrency`: how many calls may run at once, adjusted between a floor and a ceiling
 * (defaults from the quota story: start 4, max 16, min 1). It reacts to what load causes and not to
 * noise, so a steady share of random faults does not hold it down:
 *
 * - Errors are judged against the error rate measured at lower limits: a window whose rate of 429s,
 *   overloads and server errors is well above what lower concurrency saw (beyond chance, for the
 *   window's sample size) steps down; errors at the same rate at every level are noise and change
 *   nothing. At the lowest level seen, only an error rate above `maxErrorRate` (0.2) steps down, which
 *   then gives the comparison a baseline.
 * - Latency: a window whose mean latency is more than `latencyRise` (2) times the lowest seen steps
 *   down (calls queue somewhere).
 * - Quota use reported above `quotaHigh` (0.9) steps down at once.
 * - Otherwise a window steps up by one while quota use is below `quotaLow` (0.5).
 * - At most one step per window: `windowMs` (1 s) and at least `minSamples` (20) outcomes, evaluated as
 *   outcomes are recorded (no timer). Clear signals halve (or step by one with `decrease:
 *   'decrement'`); a rise just past chance steps down by one.
 *
 * Rate limits per key are the learned rate's business (`learned-rate.ts`); this limit only answers
 * "how many at once".
 *
 * A fleet of processes (batch/redis/shared-concurrency.ts) keeps one such limit for its calls in
 * flight: each process runs its share, proposes its own steps (the `step` event) and {@link
 * AdaptiveConcurrency.adopt adopts} the fleet's limit, so one overload seen by every process is one
 * step down for the fleet.
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
  /** One step at most per window, ms. Default 1 000. */
  windowMs?: number;
  /** `halve` (multiplicative, default) or `decrement` (−1). */
  decrease?: 'halve' | 'decrement';
  /** At the lowest limit seen (no lower level to compare with), error rate above which a window steps down. Default 0.2. */
  maxErrorRate?: number;
  /** Mean latency of a window above this multiple of the lowest seen steps down. Default 2. */
  latencyRise?: number;
  /** Quota use above which to step down. Default 0.9. */
  quotaHigh?: number;
  /** Quota use below which stepping up is allowed. Default 0.5. */
  quotaLow?: number;
  /** Fewest outcomes in a window before it is judged. Default 20. */
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
  /** Every change of the limit: its own steps and adopted limits. */
  change: ConcurrencyChange;
  /** Its own steps only (after their `change`): what a fleet is proposed (batch/redis/shared-concurrency.ts). */
  step: ConcurrencyChange;
}

/** How {@link AdaptiveConcurrency.adopt} takes a limit. */
export interface AdoptOptions {
  /** The limit comes from a step taken elsewhere: a new window starts, as after a step of its own. Default false (only the share changed). */
  step?: boolean;
  /** False ends slow start (the fleet has stepped down). Default: unchanged. */
  slowStart?: boolean;
}

/** Kinds that can grow with load (the others are the caller's, the content's or the key's business). */
const LOAD_ERRORS: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['rate_limited', 'overloaded', 'server_error', 'timeout']);

/**
 * Slow start, as TCP's: the limit doubles each good window of a quarter of `windowMs` until the first
 * sign of load. Climbing from 4 to 64 one step a second took a minute. {@link AdaptiveConcurrency}
 * takes one step per judged window; a fleet of processes that shares one key (batch/redis) steps its
 * cap on calls in flight by the same rule.
 */
export function slowStartStep(limit: number): number {
  return limit * 2;
}

/** The length of a slow-start window: a quarter of `windowMs` (its windows fill fast). */
function slowStartSpanMs(windowMs: number): number {
  return windowMs / 4;
}

/** Error counts seen at one limit, decayed so that old windows weigh less. */
interface LevelStats {
  outcomes: number;
  errors: number;
}

/** Concurrency limit that tells load from noise. Read {@link limit} before starting a call; record every outcome. */
export class AdaptiveConcurrency {
  /** Every change of the limit, with its reason. */
  readonly events = new TypedEmitter<AdaptiveConcurrencyEvents>();
  private current: number;
  private readonly o: Required<Omit<AdaptiveConcurrencyOptions, 'clock' | 'initial'>>;
  private readonly clock: Clock;
  private windowStart: number;
  private lastStepAt = -Infinity;
  private outcomes = 0;
  private errors = 0;
  private latencySum = 0;
  private latencyCount = 0;
  private lowestLatency = Infinity;
  private quota = 0;
  private readonly levels = new Map<number, LevelStats>();
  /** Doubling until the first step down (see {@link evaluate}). */
  private slowStart = true;

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
    const windowMs = options.windowMs ?? 1_000;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`${where}: windowMs must be a finite number > 0, got ${String(windowMs)}`);
    const decrease = options.decrease ?? 'halve';
    if (decrease !== 'halve' && decrease !== 'decrement') throw new TypeError(`${where}: decrease must be 'halve' or 'decrement', got ${String(decrease)}`);
    const latencyRise = options.latencyRise ?? 2;
    if (!(latencyRise > 1) || !Number.isFinite(latencyRise)) throw new RangeError(`${where}: latencyRise must be a finite number > 1, got ${String(latencyRise)}`);
    const minSamples = options.minSamples ?? 20;
    if (!Number.isInteger(minSamples) || minSamples < 1) throw new RangeError(`${where}: minSamples must be an integer >= 1, got ${String(minSamples)}`);
    this.o = {
      min,
      max,
      windowMs,
      decrease,
      maxErrorRate: options.maxErrorRate ?? 0.2,
      latencyRise,
      quotaHigh: options.quotaHigh ?? 0.9,
      quotaLow: options.quotaLow ?? 0.5,
      minSamples,
    };
    for (const f of ['maxErrorRate', 'quotaHigh', 'quotaLow'] as const) checkFraction(this.o[f], f, where);
    if (this.o.quotaLow > this.o.quotaHigh) throw new RangeError(`${where}: quotaLow must be <= quotaHigh, got ${this.o.quotaLow} > ${this.o.quotaHigh}`);
    this.current = initial;
    this.clock = options.clock ?? systemClock;
    this.windowStart = this.clock.now();
  }

  /** Calls allowed in flight now. */
  get limit(): number {
    return this.current;
  }

  /** The floor and the ceiling. */
  get bounds(): { min: number; max: number } {
    return { min: this.o.min, max: this.o.max };
  }

  /**
   * Takes a limit decided elsewhere (a fleet's, batch/redis): `limit` within the floor and the ceiling,
   * announced as a `change` with `reason` when it differs, and never proposed (no `step` event).
   */
  adopt(limit: number, reason: string, options: AdoptOptions = {}): void {
    if (!Number.isFinite(limit)) return;
    if (options.slowStart === false) this.slowStart = false;
    const to = Math.max(this.o.min, Math.min(this.o.max, Math.round(limit)));
    const now = this.clock.now();
    if (options.step) {
      // The window judged outcomes at the limit before the step: start one at the new limit.
      this.lastStepAt = now;
      this.resetWindow(now);
    }
    if (to === this.current) return;
    const from = this.current;
    this.current = to;
    this.events.emit('change', { from, to, reason });
  }

  /** Records a success, with the call's latency in ms when known. */
  recordSuccess(latencyMs?: number): void {
    this.outcomes++;
    if (latencyMs !== undefined && Number.isFinite(latencyMs) && latencyMs >= 0) {
      this.latencySum += latencyMs;
      this.latencyCount++;
    }
    this.evaluate();
  }

  /** Records a failure of `kind`. Only kinds that can grow with load count as errors; the window judges them. */
  recordFailure(kind: ErrorKind, _latencyMs?: number): void {
    if (!LOAD_ERRORS.has(kind)) return;
    this.outcomes++;
    this.errors++;
    this.evaluate();
  }

  /** Reports the quota use (0..1, the highest fraction of any limit); above `quotaHigh` steps down. */
  observeQuota(usage: number): void {
    if (!Number.isFinite(usage)) return;
    this.quota = usage;
    if (usage > this.o.quotaHigh) this.stepDown(true, `quota use ${pct(usage)} above ${pct(this.o.quotaHigh)}`);
  }

  private evaluate(): void {
    const now = this.clock.now();
    if (now - this.windowStart < this.spanMs() || this.outcomes < this.o.minSamples) return;
    const n = this.outcomes;
    const rate = this.errors / n;
    const latency = this.latencyCount > 0 ? this.latencySum / this.latencyCount : undefined;
    const verdict = this.judge(rate, n, latency);
    this.record(rate, n, latency);
    this.resetWindow(now);
    if (verdict.down) this.stepDown(verdict.strong, verdict.reason);
    else if (this.quota < this.o.quotaLow) {
      // Slow start (slowStartStep) until the first sign of load, then one more a window.
      const up = this.slowStart ? slowStartStep(this.current) : this.current + 1;
      this.step(Math.min(this.o.max, up), verdict.reason);
    }
  }

  /** Whether this window's errors or latency show load, compared with lower limits and the lowest latency. */
  private judge(rate: number, n: number, latency: number | undefined): { down: boolean; strong: boolean; reason: string } {
    if (latency !== undefined && Number.isFinite(this.lowestLatency) && latency > this.o.latencyRise * this.lowestLatency) {
      return { down: true, strong: false, reason: `latency ${Math.round(latency)} ms, ${(latency / this.lowestLatency).toFixed(1)}x the lowest seen` };
    }
    const lower = this.below(this.current);
    if (lower === undefined) {
      if (rate > this.o.maxErrorRate) return { down: true, strong: true, reason: `error rate ${pct(rate)} above ${pct(this.o.maxErrorRate)}` };
      return { down: false, strong: false, reason: `error rate ${pct(rate)}, quota use ${pct(this.quota)}` };
    }
    const below = lower.rate;
    // Beyond chance: a two-proportion test, since the lower levels' rate is a sample too (a baseline of
    // 40 outcomes at 5 % made 14 % of 80 at the next level look like load, under 10 % random faults).
    const pooled = (rate * n + below * lower.outcomes) / (n + lower.outcomes);
    const margin = Math.max(0.05, 2 * Math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / lower.outcomes)));
    if (rate > below + margin) {
      return { down: true, strong: rate > below + 4 * margin, reason: `errors rose with concurrency: ${pct(rate)} at ${this.current} in flight vs ${pct(below)} below` };
    }
    return { down: false, strong: false, reason: `error rate ${pct(rate)} as at lower concurrency (${pct(below)}), quota use ${pct(this.quota)}` };
  }

  /**
   * The error rate of the lower limit that did best (with at least `minSamples` outcomes) and the
   * outcomes it rests on. Not all lower limits pooled: those above a server's cap already carry its
   * errors, and pooling them let the baseline creep up with the limit.
   */
  private below(limit: number): { rate: number; outcomes: number } | undefined {
    let best: { rate: number; outcomes: number } | undefined;
    for (const [level, st] of this.levels) {
      if (level >= limit || st.outcomes < this.o.minSamples) continue;
      const rate = st.errors / st.outcomes;
      if (best === undefined || rate < best.rate) best = { rate, outcomes: st.outcomes };
    }
    return best;
  }

  private record(rate: number, n: number, latency: number | undefined): void {
    const st = this.levels.get(this.current) ?? { outcomes: 0, errors: 0 };
    // Decay: a level's record follows the server as it is now, not as it was an hour ago.
    st.outcomes = st.outcomes * 0.8 + n;
    st.errors = st.errors * 0.8 + rate * n;
    this.levels.set(this.current, st);
    if (latency !== undefined && latency < this.lowestLatency) this.lowestLatency = latency;
  }

  /** Length of a judged window: a quarter of `windowMs` in slow start (its windows fill fast), else `windowMs`. */
  private spanMs(): number {
    return this.slowStart ? slowStartSpanMs(this.o.windowMs) : this.o.windowMs;
  }

  private resetWindow(now: number): void {
    this.windowStart = now;
    this.outcomes = 0;
    this.errors = 0;
    this.latencySum = 0;
    this.latencyCount = 0;
  }

  private stepDown(strong: boolean, reason: string): void {
    this.slowStart = false;
    const to = strong && this.o.decrease === 'halve' ? Math.floor(this.current / 2) : this.current - 1;
    this.step(Math.max(this.o.min, to), reason);
  }

  private step(to: number, reason: string): void {
    const now = this.clock.now();
    if (to === this.current || now - this.lastStepAt < this.spanMs()) return;
    const from = this.current;
    this.current = to;
    this.lastStepAt = now;
    // A new window starts with the new limit: its outcomes are judged on their own.
    this.resetWindow(now);
    this.events.emit('change', { from, to, reason });
    this.events.emit('step', { from, to, reason });
  }
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;
