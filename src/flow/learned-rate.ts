/**
 * A request rate learned from 429s alone, for servers that send no rate-limit headers (a plain
 * rate-limiting proxy). Like the AWS SDK's adaptive retry mode (CUBIC): on a 429 the rate drops to
 * `beta` times what was in force (or measured), then grows back along a cubic curve that is flat near
 * the rate that failed (so most time is spent just below capacity) and probes above it afterwards.
 */

/** Options of the learned rate. */
export interface LearnedRateOptions {
  /** Multiplicative decrease factor on a 429, in (0, 1). Default 0.7 (AWS SDK). */
  beta?: number;
  /** Time to climb back to the rate that failed, ms. Default 20 000. */
  recoveryMs?: number;
  /** The learned rate never goes below this (requests per window). Default 1. */
  minRate?: number;
  /** Window over which throughput is measured, ms. Default 60 000 (same unit as the limits). */
  windowMs?: number;
}

/** State of the learned request rate (requests per window). */
export class LearnedRate {
  private readonly beta: number;
  private readonly recoveryMs: number;
  private readonly minRate: number;
  private readonly windowMs: number;
  /** Rate in force when the last 429 arrived. */
  private lastMax: number | undefined;
  private lastDecreaseAt = -Infinity;
  private ceiling: number | undefined;
  /** Two-bucket throughput counter. */
  private bucketStart = 0;
  private current = 0;
  private previous = 0;

  constructor(options: LearnedRateOptions = {}) {
    this.beta = options.beta ?? 0.7;
    this.recoveryMs = options.recoveryMs ?? 20_000;
    this.minRate = options.minRate ?? 1;
    this.windowMs = options.windowMs ?? 60_000;
    if (!(this.beta > 0 && this.beta < 1)) throw new RangeError(`learned rate: beta must be in (0, 1), got ${this.beta}`);
    if (!(this.recoveryMs > 0)) throw new RangeError(`learned rate: recoveryMs must be > 0, got ${this.recoveryMs}`);
    if (!(this.minRate > 0)) throw new RangeError(`learned rate: minRate must be > 0, got ${this.minRate}`);
  }

  /** The learned rate at `now` (requests per window), or `undefined` before the first 429 or once back at the ceiling. */
  rate(now: number): number | undefined {
    if (this.lastMax === undefined) return undefined;
    const t = (now - this.lastDecreaseAt) / this.recoveryMs;
    const r = this.lastMax * (1 + (1 - this.beta) * (t - 1) ** 3);
    if (this.ceiling !== undefined && r >= this.ceiling) {
      this.lastMax = undefined; // fully recovered: the configured/announced limit governs again
      return undefined;
    }
    return Math.max(this.minRate, r);
  }

  /** Whether a learned rate is in force (the limiter then recomputes its bucket spec on each use). */
  active(): boolean {
    return this.lastMax !== undefined;
  }

  /** Counts one granted start for the throughput measurement. */
  count(now: number): void {
    this.roll(now);
    this.current++;
  }

  /** Measured starts per window around `now` (sliding estimate from two fixed buckets). */
  measured(now: number): number {
    this.roll(now);
    const frac = Math.min(1, (now - this.bucketStart) / this.windowMs);
    return Math.max(this.minRate, this.current + this.previous * (1 - frac));
  }

  /**
   * A 429 arrived. `inForce` is the rate in force (or measured); `ceiling` the configured/announced
   * limit. A 429 of a call started before the last decrease is the same congestion: ignored.
   */
  decrease(now: number, inForce: number, ceiling: number | undefined, startedAt?: number): void {
    if (startedAt !== undefined && startedAt < this.lastDecreaseAt) return;
    if (startedAt === undefined && now - this.lastDecreaseAt < 1000) return;
    this.ceiling = ceiling;
    this.lastMax = Math.max(this.minRate, inForce);
    this.lastDecreaseAt = now;
  }

  private roll(now: number): void {
    if (now - this.bucketStart < this.windowMs) return;
    const windows = Math.floor((now - this.bucketStart) / this.windowMs);
    this.previous = windows === 1 ? this.current : 0;
    this.current = 0;
    this.bucketStart += windows * this.windowMs;
  }
}
