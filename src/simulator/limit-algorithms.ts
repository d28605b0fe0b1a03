/**
 * The rate-limiting algorithms the simulator can enforce, one counter per key and budget (requests or
 * tokens). Real servers differ, and a client tuned against the most forgiving one (a sliding window that
 * admits a whole window's allowance at once) is slow or noisy against the others, so the algorithm is a
 * choice and the default is the strictest common one:
 *
 * | algorithm | admits | what headers report as reset | seen in |
 * |---|---|---|---|
 * | `token-bucket` (default) | a burst of `burst`, then `limit / window` evenly | time until the bucket is full again | OpenAI ("resets to its initial state"), Anthropic ("continuously replenished"), rate-limiter-flexible's BurstyRateLimiter, the `limiter` package |
 * | `leaky-bucket` | `limit / window` evenly, a burst of one unit | time until the bucket is empty | GCRA / leaky bucket as a meter (rate-limiter-flexible `RateLimiterQueue` without waiting, nginx `limit_req` without `burst`) |
 * | `fixed-window` | `limit` per window aligned to the epoch, all at once if asked | time until the window ends | express-rate-limit's memory store, rate-limiter-flexible `RateLimiterMemory` |
 * | `sliding-window` | `limit` in any window of `windowMs` (a log) | time until the newest entry leaves | rolling-rate-limiter, Redis sorted-set logs |
 */
import { SlidingWindow } from './sliding-window.js';

/** Every algorithm, for validation and docs. */
export const LIMIT_ALGORITHMS = ['token-bucket', 'leaky-bucket', 'fixed-window', 'sliding-window'] as const;

/** One of {@link LIMIT_ALGORITHMS}. */
export type LimitAlgorithm = (typeof LIMIT_ALGORITHMS)[number];

/** The algorithm the simulator enforces when none is chosen. */
export const DEFAULT_LIMIT_ALGORITHM: LimitAlgorithm = 'token-bucket';

/** What a counter tells rate-limit headers. */
export interface CounterStatus {
  /** Whole units that may be used now. */
  remaining: number;
  /** Ms until the reset this algorithm reports (see the table above). */
  resetMs: number;
}

/** The usage of one budget of one key. */
export interface LimitCounter {
  /** Ms from `now` until `amount` fits (0 if it fits now). An amount larger than the whole budget fits once the budget is untouched. */
  waitFor(now: number, amount: number): number;
  /** Records `amount` admitted at `now`. */
  add(now: number, amount: number): void;
  /** Units counted against the budget at `now` (for 429 messages). */
  used(now: number): number;
  status(now: number): CounterStatus;
  clear(): void;
}

/** Parameters of a counter. */
export interface CounterSpec {
  algorithm: LimitAlgorithm;
  /** Units per window. */
  limit: number;
  windowMs: number;
  /**
   * Bucket capacity as a share of `limit` (token bucket only). Default 1/60: one second's worth of a
   * per-minute limit, as providers that count "per minute" in sub-minute slices behave.
   */
  burstFraction?: number;
}

/** Builds the counter of one budget. */
export function makeCounter(spec: CounterSpec): LimitCounter {
  switch (spec.algorithm) {
    case 'token-bucket':
      return new BucketCounter(spec.limit, spec.windowMs, Math.max(1, spec.limit * (spec.burstFraction ?? 1 / 60)));
    case 'leaky-bucket':
      return new BucketCounter(spec.limit, spec.windowMs, 1);
    case 'fixed-window':
      return new FixedWindowCounter(spec.limit, spec.windowMs);
    case 'sliding-window':
      return new SlidingLogCounter(spec.limit, spec.windowMs);
  }
}

/**
 * A bucket of `capacity` refilled at `limit / windowMs` (a token bucket; the leaky bucket as a meter is
 * the same arithmetic seen from the other side, with a capacity of one unit). The level may go below 0
 * when a request larger than the capacity is admitted from a full bucket.
 */
class BucketCounter implements LimitCounter {
  private level: number;
  private at = -Infinity;
  private readonly rate: number;

  constructor(
    private readonly limit: number,
    windowMs: number,
    private readonly capacity: number,
  ) {
    this.rate = limit / windowMs;
    this.level = capacity;
  }

  waitFor(now: number, amount: number): number {
    this.refill(now);
    const need = Math.min(amount, this.capacity);
    return this.level >= need - 1e-9 ? 0 : Math.max(1, Math.ceil((need - this.level) / this.rate));
  }

  add(now: number, amount: number): void {
    this.refill(now);
    this.level -= amount;
  }

  used(now: number): number {
    this.refill(now);
    return Math.max(0, Math.min(this.limit, this.capacity - this.level));
  }

  status(now: number): CounterStatus {
    this.refill(now);
    return { remaining: Math.max(0, Math.floor(this.level + 1e-9)), resetMs: Math.max(0, Math.ceil((this.capacity - this.level) / this.rate)) };
  }

  clear(): void {
    this.level = this.capacity;
    this.at = -Infinity;
  }

  private refill(now: number): void {
    if (this.at !== -Infinity && now > this.at) this.level = Math.min(this.capacity, this.level + (now - this.at) * this.rate);
    this.at = now;
  }
}

/** `limit` per window; windows start at multiples of `windowMs` since the epoch. */
class FixedWindowCounter implements LimitCounter {
  private start = -Infinity;
  private count = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  waitFor(now: number, amount: number): number {
    this.roll(now);
    if (this.count + amount <= this.limit || (this.count === 0 && amount > this.limit)) return 0;
    return Math.max(1, this.start + this.windowMs - now);
  }

  add(now: number, amount: number): void {
    this.roll(now);
    this.count += amount;
  }

  used(now: number): number {
    this.roll(now);
    return this.count;
  }

  status(now: number): CounterStatus {
    this.roll(now);
    return { remaining: Math.max(0, Math.floor(this.limit - this.count)), resetMs: Math.max(0, this.start + this.windowMs - now) };
  }

  clear(): void {
    this.start = -Infinity;
    this.count = 0;
  }

  private roll(now: number): void {
    const start = Math.floor(now / this.windowMs) * this.windowMs;
    if (start !== this.start) {
      this.start = start;
      this.count = 0;
    }
  }
}

/** A log of admitted amounts over the last `windowMs`. */
class SlidingLogCounter implements LimitCounter {
  private readonly log: SlidingWindow;

  constructor(
    private readonly limit: number,
    windowMs: number,
  ) {
    this.log = new SlidingWindow(windowMs);
  }

  waitFor(now: number, amount: number): number {
    return this.log.waitFor(now, amount, this.limit);
  }

  add(now: number, amount: number): void {
    this.log.add(now, amount);
  }

  used(now: number): number {
    return this.log.used(now);
  }

  status(now: number): CounterStatus {
    return { remaining: Math.max(0, Math.floor(this.limit - this.log.used(now))), resetMs: this.log.resetIn(now) };
  }

  clear(): void {
    this.log.clear();
  }
}
