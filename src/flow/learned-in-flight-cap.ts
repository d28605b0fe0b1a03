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
const MAX_TRACKED = 64;
/** Counts are halved after this many outcomes, so the evidence follows the server. */
const HALVE_EVERY = 256;

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

  /**
   * Takes a cap decided elsewhere (the fleet's, batch/redis) as this one's, from `now`: `trialOf` is the
   * cap it lifted and is on trial (a refusal above it goes back to it), undefined when none is. Lifts
   * stay this learner's business (a fleet's learner has none: `liftAfterMs` Infinity).
   */
  adopt(cap: number | undefined, trialOf: number | undefined, now: number): void {
    if (cap === this.capValue && trialOf === this.lifted) return;
    this.capValue = cap;
    this.lifted = cap === undefined ? undefined : trialOf;
    this.capSince = now;
  }

  /** Records the outcome of a call that started with `inFlight` of the key's calls in flight (itself included). */
  record(inFlight: number, refused: boolean, now: number): void {
    const k = Math.max(1, Math.min(MAX_TRACKED, Math.floor(inFlight)));
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

  /** The in-flight count that splits refused calls from served ones best, if a split is clear. */
  private split(): number | undefined {
    let best: number | undefined;
    let bestGap = 0;
    let okBelow = 0;
    let refusedBelow = 0;
    let okAbove = 0;
    let refusedAbove = 0;
    for (let i = 1; i <= MAX_TRACKED; i++) {
      okAbove += this.ok[i]!;
      refusedAbove += this.refused[i]!;
    }
    for (let c = 1; c < MAX_TRACKED; c++) {
      okBelow += this.ok[c]!;
      refusedBelow += this.refused[c]!;
      okAbove -= this.ok[c]!;
      refusedAbove -= this.refused[c]!;
      if (refusedAbove < this.o.minRefusedAbove) break;
      if (okBelow + refusedBelow < this.o.minOutcomesBelow) continue;
      const below = refusedBelow / (okBelow + refusedBelow);
      const above = refusedAbove / (okAbove + refusedAbove);
      if (above >= this.o.minShareAbove && above >= this.o.contrast * below && above - below > bestGap) {
        best = c;
        bestGap = above - below;
      }
    }
    return best;
  }
}
