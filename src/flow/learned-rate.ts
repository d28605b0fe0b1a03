/**
 * A request rate learned from 429s alone, for servers that send no rate-limit headers (a plain
 * rate-limiting proxy). Like the AWS SDK's adaptive retry mode (CUBIC): the sending rate is measured
 * all along; on a 429 the rate drops to `beta` times the rate in force (the configured/announced
 * limit, or the measured sending rate when that is lower), then grows back along a cubic curve that
 * is flat near the rate that failed (so most time is spent just below capacity) and probes above it
 * afterwards.
 *
 * The decrease starts from what was really being sent, never from the floor: a first 429 on a fresh
 * key at 600 requests/min leaves it at 420/min, not at `minRate`.
 */

/** Options of the learned rate. */
export interface LearnedRateOptions {
  /** Multiplicative decrease factor on a 429, in (0, 1). Default 0.7 (AWS SDK). */
  beta?: number;
  /**
   * Time to climb back to the rate that failed, ms. Default `windowMs` (one minute): limits are counted
   * per window, so a server only shows that a rate is too high once a window has been sent at it.
   */
  recoveryMs?: number;
  /** The learned rate never goes below this (requests per window). Default 1. */
  minRate?: number;
  /** Window the rates are expressed in, ms. Default 60 000 (the limiter passes its own `windowMs`). */
  windowMs?: number;
  /** Length of the buckets the sending rate is measured in, ms. Default 500 (AWS SDK). */
  measureMs?: number;
  /** Weight of the newest bucket in the smoothed sending rate, in (0, 1]. Default 0.8 (AWS SDK). */
  smoothing?: number;
}

/** State of the learned request rate (requests per window). */
export class LearnedRate {
  private readonly beta: number;
  private readonly recoveryMs: number;
  private readonly minRate: number;
  private readonly windowMs: number;
  private readonly measureMs: number;
  private readonly smoothing: number;
  /** Rate in force when the last 429 arrived. */
  private lastMax: number | undefined;
  private lastDecreaseAt = -Infinity;
  /** Whether a call succeeded since the last decrease (else a new 429 is still the same congestion). */
  private succeededSince = true;
  private ceiling: number | undefined;
  /** Sending-rate measurement: starts in the current bucket, and the smoothed rate (per ms) of the finished ones. */
  private bucketStart: number | undefined;
  private bucketCount = 0;
  private smoothedPerMs: number | undefined;

  constructor(options: LearnedRateOptions = {}) {
    this.beta = options.beta ?? 0.7;
    this.minRate = options.minRate ?? 1;
    this.windowMs = options.windowMs ?? 60_000;
    this.recoveryMs = options.recoveryMs ?? this.windowMs;
    this.measureMs = options.measureMs ?? 500;
    this.smoothing = options.smoothing ?? 0.8;
    if (!(this.beta > 0 && this.beta < 1)) throw new RangeError(`learned rate: beta must be in (0, 1), got ${String(options.beta)}`);
    if (!(this.recoveryMs > 0) || !Number.isFinite(this.recoveryMs)) throw new RangeError(`learned rate: recoveryMs must be a finite number > 0, got ${String(options.recoveryMs)}`);
    if (!(this.minRate > 0) || !Number.isFinite(this.minRate)) throw new RangeError(`learned rate: minRate must be a finite number > 0, got ${String(options.minRate)}`);
    if (!(this.windowMs > 0) || !Number.isFinite(this.windowMs)) throw new RangeError(`learned rate: windowMs must be a finite number > 0, got ${String(options.windowMs)}`);
    if (!(this.measureMs > 0) || !Number.isFinite(this.measureMs)) throw new RangeError(`learned rate: measureMs must be a finite number > 0, got ${String(options.measureMs)}`);
    if (!(this.smoothing > 0 && this.smoothing <= 1)) throw new RangeError(`learned rate: smoothing must be in (0, 1], got ${String(options.smoothing)}`);
  }

  /** The learned rate at `now` (requests per window), or `undefined` before the first 429 or once back at the ceiling. */
  rate(now: number): number | undefined {
    if (this.lastMax === undefined) return undefined;
    const t = (now - this.lastDecreaseAt) / this.recoveryMs;
    let r = this.lastMax * (1 + (1 - this.beta) * (t - 1) ** 3);
    // AWS SDK: never more than twice what is really being sent, so that the probe above the rate that
    // failed cannot run far ahead of the traffic (a rate nobody sends at proves nothing).
    const measured = this.measured();
    if (measured !== undefined && t > 1) r = Math.min(r, Math.max(this.lastMax, 2 * measured));
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

  /** Counts one granted start for the sending-rate measurement. */
  count(now: number): void {
    if (this.bucketStart === undefined) this.bucketStart = now;
    else if (now - this.bucketStart >= this.measureMs) {
      // AWS SDK: one update per finished bucket, over the whole time since it began (idle gaps included).
      const perMs = this.bucketCount / (now - this.bucketStart);
      this.smoothedPerMs = this.smoothedPerMs === undefined ? perMs : this.smoothing * perMs + (1 - this.smoothing) * this.smoothedPerMs;
      this.bucketStart = now;
      this.bucketCount = 0;
    }
    this.bucketCount++;
  }

  /**
   * The measured sending rate (requests per window), or `undefined` while no measurement bucket has
   * finished: a handful of starts in the first instants says nothing about the rate.
   */
  measured(): number | undefined {
    return this.smoothedPerMs === undefined ? undefined : this.smoothedPerMs * this.windowMs;
  }

  /**
   * A call started at `startedAt` succeeded. Only a call started after the last decrease shows that the
   * lowered rate gets through: then the next 429 is a new congestion event.
   */
  onSuccess(startedAt?: number): void {
    if (startedAt === undefined || startedAt >= this.lastDecreaseAt) this.succeededSince = true;
  }

  /**
   * A 429 arrived. `inForce` is the rate in force (the limit, or the measured sending rate when lower);
   * `ceiling` the configured/announced limit. One decrease per congestion event, as in CUBIC: a 429 of a
   * call started before the last decrease, or with no success since it (a server with a long memory,
   * e.g. a sliding window, refuses everything for a while), is the same congestion and is ignored.
   * Returns whether the rate was lowered.
   */
  decrease(now: number, inForce: number, ceiling: number | undefined, startedAt?: number): boolean {
    if (!this.succeededSince) return false;
    if (startedAt !== undefined && startedAt < this.lastDecreaseAt) return false;
    if (startedAt === undefined && now - this.lastDecreaseAt < 1000) return false;
    this.succeededSince = false;
    this.ceiling = ceiling;
    this.lastMax = Math.max(this.minRate, inForce);
    this.lastDecreaseAt = now;
    return true;
  }
}
