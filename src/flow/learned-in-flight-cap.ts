/**
 * A key's concurrency cap, learned from which calls were refused. Many servers limit calls in flight
 * per key rather than calls per window (vLLM and Ollama queues, gateways, a provider's concurrent-
 * request limit), and answer the call beyond the cap with a bare 429. A rate learned from those 429s
 * saws around cap / latency and pays a 429 on every tooth (bench concurrency/blind: 1.2-1.3x of the
 * minimum); the cap itself is exact.
 *
 * The evidence: the number of the key's calls in flight when each call started (itself included),
 * and whether it was refused. Under a concurrency cap of `c`, calls started with more than `c` in flight
 * are refused often and those with at most `c` almost never; under a rate limit refusals do not
 * depend on that number so sharply. When the split is clear, at most `c` are let in flight. Every so
 * often one more is allowed again (a probe, as the learned rate probes above its estimate), so a cap
 * that was raised, or a split that was a coincidence, is found out; a probe refused again waits twice
 * as long for the next.
 */

/**
 * What a {@link RateLimiter} learns its key's concurrency cap with: {@link LearnedInFlightCap} in one
 * process; a store whose key is shared by several processes (batch/redis) may give one that counts
 * their calls too (`LimiterStore.inFlightCap`).
 */
export interface InFlightCapLearner {
  /** Calls in flight allowed now, or undefined when no cap was learned. */
  cap(now: number): number | undefined;
  /** Records the outcome of a call that started with `inFlight` of the key's calls in flight (itself included). */
  record(inFlight: number, refused: boolean, now: number): void;
  /** The key's calls in flight at a start, itself included, given this process's (`own`). Absent: `own`. */
  atStart?(own: number): number;
}

/** Options of {@link LearnedInFlightCap}. */
export interface LearnedInFlightCapOptions {
  /** Refused share above the cap, at least. Default 0.2. */
  minShareAbove?: number;
  /** How many times the refused share at or below the cap the share above it must be. Default 4. */
  contrast?: number;
  /** Refusals above the cap and outcomes at or below it needed before deciding. Defaults 3 and 10. */
  minRefusedAbove?: number;
  minOutcomesBelow?: number;
  /** A cap is lifted by one after this long without a refusal, ms; doubled after each refused lift up to `maxLiftAfterMs`. Defaults 5 s and 60 s. */
  liftAfterMs?: number;
  maxLiftAfterMs?: number;
}

/** In-flight counts above this are counted together. */
export const MAX_TRACKED = 64;
/** Counts are halved after this many outcomes, so the evidence follows the server. */
export const HALVE_EVERY = 256;

/**
 * The evidence of a cap: outcomes by the key's calls in flight at their start (index 1..
 * {@link MAX_TRACKED}; index 0 unused), and how many outcomes were recorded since the counts began
 * (they are halved at each multiple of {@link HALVE_EVERY}).
 */
export interface InFlightCounts {
  readonly ok: ArrayLike<number>;
  readonly refused: ArrayLike<number>;
  readonly outcomes: number;
}

/** Where a {@link LearnedInFlightCap} stands (times on its clock), to be taken by another learner with {@link LearnedInFlightCap.restore}. */
export interface InFlightCapState {
  /** The cap, or undefined when none was learned. */
  readonly cap: number | undefined;
  /** The cap before the latest lift, while that lift is on trial. */
  readonly trialOf: number | undefined;
  /** How long without a refusal before the next lift, ms. */
  readonly liftAfterMs: number;
  /** When the cap was last set (learned, lifted, put back). */
  readonly since: number;
  /** The latest refusal. */
  readonly lastRefusedAt: number;
}

/** The in-flight count a call started with, as the counts index it. */
export function inFlightLevel(inFlight: number): number {
  return Math.max(1, Math.min(MAX_TRACKED, Math.floor(inFlight)));
}

/**
 * The in-flight count that splits refused calls from served ones best, if a split is clear: the one
 * rule of a learned cap, for one process's counts and for a fleet's pooled ones (batch/redis).
 */
export function inFlightSplit(counts: Pick<InFlightCounts, 'ok' | 'refused'>, o: Required<Pick<LearnedInFlightCapOptions, 'minShareAbove' | 'contrast' | 'minRefusedAbove' | 'minOutcomesBelow'>>): number | undefined {
  const ok = (i: number): number => counts.ok[i] ?? 0;
  const refused = (i: number): number => counts.refused[i] ?? 0;
  let best: number | undefined;
  let bestGap = 0;
  let okBelow = 0;
  let refusedBelow = 0;
  let okAbove = 0;
  let refusedAbove = 0;
  for (let i = 1; i <= MAX_TRACKED; i++) {
    okAbove += ok(i);
    refusedAbove += refused(i);
  }
  for (let c = 1; c < MAX_TRACKED; c++) {
    okBelow += ok(c);
    refusedBelow += refused(c);
    okAbove -= ok(c);
    refusedAbove -= refused(c);
    if (refusedAbove < o.minRefusedAbove) break;
    if (okBelow + refusedBelow < o.minOutcomesBelow) continue;
    const below = refusedBelow / (okBelow + refusedBelow);
    const above = refusedAbove / (okAbove + refusedAbove);
    if (above >= o.minShareAbove && above >= o.contrast * below && above - below > bestGap) {
      best = c;
      bestGap = above - below;
    }
  }
  return best;
}

export class LearnedInFlightCap implements InFlightCapLearner {
  private readonly ok = new Float64Array(MAX_TRACKED + 1);
  private readonly refused = new Float64Array(MAX_TRACKED + 1);
  private outcomes = 0;
  private capValue: number | undefined;
  private capSince = 0;
  private lastRefusedAt = Number.NEGATIVE_INFINITY;
  private liftAfter: number;
  /** The cap before the latest lift, while that lift is on trial. */
  private lifted: number | undefined;
  private readonly o: Required<LearnedInFlightCapOptions>;

  constructor(options: LearnedInFlightCapOptions = {}) {
    this.o = {
      minShareAbove: options.minShareAbove ?? 0.2,
      contrast: options.contrast ?? 4,
      minRefusedAbove: options.minRefusedAbove ?? 3,
      minOutcomesBelow: options.minOutcomesBelow ?? 10,
      liftAfterMs: options.liftAfterMs ?? 5_000,
      maxLiftAfterMs: options.maxLiftAfterMs ?? 60_000,
    };
    this.liftAfter = this.o.liftAfterMs;
  }

  /** Calls in flight allowed now, or undefined when no cap was learned. */
  cap(now: number): number | undefined {
    if (this.capValue === undefined) return undefined;
    const quiet = now - Math.max(this.capSince, this.lastRefusedAt);
    if (this.lifted !== undefined && quiet >= this.o.liftAfterMs) {
      // A lift not refused for the base interval stands: the next one comes at the base interval.
      this.lifted = undefined;
      this.liftAfter = this.o.liftAfterMs;
    }
    if (quiet >= this.liftAfter) {
      this.lifted = this.capValue;
      this.capValue++;
      this.capSince = now;
    }
    return this.capValue;
  }


  /** Records the outcome of a call that started with `inFlight` of the key's calls in flight (itself included). */
  record(inFlight: number, refused: boolean, now: number): void {
    const k = inFlightLevel(inFlight);
    (refused ? this.refused : this.ok)[k]! += 1;
    if (++this.outcomes % HALVE_EVERY === 0) {
      for (let i = 0; i <= MAX_TRACKED; i++) {
        this.ok[i]! /= 2;
        this.refused[i]! /= 2;
      }
    }
    if (!refused) return;
    this.lastRefusedAt = now;
    if (this.lifted !== undefined && k > this.lifted) {
      // The lift was refused: back to the cap it lifted, and the next lift waits twice as long.
      this.capValue = this.lifted;
      this.lifted = undefined;
      this.capSince = now;
      this.liftAfter = Math.min(this.liftAfter * 2, this.o.maxLiftAfterMs);
      return;
    }
    const c = this.split();
    if (c !== undefined && (this.capValue === undefined || c < this.capValue)) {
      this.capValue = c;
      this.capSince = now;
      this.lifted = undefined;
    }
  }

  /** The in-flight count that splits refused calls from served ones best, if a split is clear ({@link inFlightSplit}). */
  private split(): number | undefined {
    return inFlightSplit({ ok: this.ok, refused: this.refused }, this.o);
  }

  /** Where this learner stands (for a fleet's: what it proposes to the others). */
  state(): InFlightCapState {
    return { cap: this.capValue, trialOf: this.lifted, liftAfterMs: this.liftAfter, since: this.capSince, lastRefusedAt: this.lastRefusedAt };
  }

  /** Its evidence so far. */
  counts(): InFlightCounts {
    return { ok: this.ok, refused: this.refused, outcomes: this.outcomes };
  }

  /**
   * Takes `state` (another learner's, or a fleet's: batch/redis) as this one's, and `counts` as its
   * evidence when given (the fleet's pooled counts): from then on it records and decides as if it had
   * seen them itself.
   */
  restore(state: InFlightCapState, counts?: InFlightCounts): void {
    this.capValue = state.cap;
    this.lifted = state.cap === undefined ? undefined : state.trialOf;
    this.liftAfter = state.liftAfterMs;
    this.capSince = state.since;
    this.lastRefusedAt = state.lastRefusedAt;
    if (!counts) return;
    for (let i = 0; i <= MAX_TRACKED; i++) {
      this.ok[i] = counts.ok[i] ?? 0;
      this.refused[i] = counts.refused[i] ?? 0;
    }
    this.outcomes = counts.outcomes;
  }
}
