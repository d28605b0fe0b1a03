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
 *
 * Random refusals (a gateway's or a provider's 429s that do not depend on load) must not leave a cap
 * behind. Before 2026-12-07, a cap decided on a coincidence of the first refusals stayed for the whole
 * run: a lift waited for 5 s without any refusal, which steady random 429s never leave, and any refusal
 * above a lifted cap put it back. With 10 % random refusals at 1-16 calls in flight, 27 % of 500 seeded
 * runs ended with a cap, 6 % with one of 4 or less; and a slow start, whose calls in flight rise with
 * time, put the first random refusals at the newest level (bench adaptive, 10 % random faults: a cap of
 * 15, 0.48 of the best fixed concurrency). So now the shares of a split are bounded (Wilson, 95 %), not
 * taken as counted; only the refusals the cap is about (above it) hold a lift back; a lift is put back
 * when its level is refused twice and clearly more than the levels below it; and a cap whose own levels
 * are refused, since it was set, nearly as often as the levels above it were when it was decided is
 * dropped: the split was a coincidence. After: 2 of 500 such runs end with a cap (one lifted to 54),
 * the bench 0.99; a real cap of 4 with 10 % random refusals is kept in 200 of 200 runs (before, 25
 * ended below it).
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
  /**
   * Refusals above the cap and outcomes at or below it needed before deciding. Defaults 2 and 10. Two, not
   * three: a first burst over a cap of 2 on each of 3 keys is refused once or twice per key, so with three
   * the cap waited for the learned rate's second overshoot, seconds later (bench concurrency/blind/3key).
   * A wrong cap costs little: it is lifted by one after `liftAfterMs` without a refusal above it.
   */
  minRefusedAbove?: number;
  minOutcomesBelow?: number;
  /** A cap is lifted by one after this long without a refusal above it, ms; doubled after each refused lift up to `maxLiftAfterMs`. Defaults 5 s and 60 s. */
  liftAfterMs?: number;
  maxLiftAfterMs?: number;
}

/**
 * How many times {@link LearnedInFlightCapOptions.minOutcomesBelow} outcomes at or below a cap its drop is
 * weighed on: with 10, three random refusals in ten (7 % likely at a 10 % rate) dropped real caps.
 */
const DROP_SAMPLE = 4;

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

/** Outcomes of calls: served and refused. */
interface Tally {
  ok: number;
  refused: number;
}

/** z of the score interval a share is bounded with (95 %, two-sided). */
const Z = 1.96;

/** Wilson's score interval of the refused share of `t`, lower (`sign` -1) or upper (+1) bound; 0 or 1 with no outcomes. */
function shareBound(t: Tally, sign: -1 | 1): number {
  const n = t.ok + t.refused;
  if (n === 0) return sign < 0 ? 0 : 1;
  const p = t.refused / n;
  const z2 = Z * Z;
  return (p + z2 / (2 * n) + sign * Z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}

/**
 * How clearly calls above a level are refused more than those at or below it, or undefined when not
 * clearly: the one test of a split, for a cap's decision and a lift's trial. The shares are bounded, not
 * taken as counted: in a slow start the calls in flight rise with time, so two random refusals among
 * the few calls at the newest level read as 2 in 8 against 3 in 100 below, and a cap of 15 was learned
 * from 10 % random faults (bench adaptive: 0.48 of the best fixed concurrency).
 */
function splitGap(above: Tally, below: Tally, o: Required<Pick<LearnedInFlightCapOptions, 'minShareAbove' | 'contrast'>>): number | undefined {
  const low = shareBound(above, -1);
  const belowShare = below.refused / Math.max(1, below.ok + below.refused);
  if (low < o.minShareAbove || low < o.contrast * belowShare || low <= shareBound(below, 1)) return undefined;
  return low - belowShare;
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
    const gap = splitGap({ ok: okAbove, refused: refusedAbove }, { ok: okBelow, refused: refusedBelow }, o);
    if (gap !== undefined && gap > bestGap) {
      best = c;
      bestGap = gap;
    }
  }
  return best;
}

export class LearnedInFlightCap implements InFlightCapLearner {
  private readonly ok = new Float64Array(MAX_TRACKED + 1);
  private readonly refused = new Float64Array(MAX_TRACKED + 1);
  private outcomes = 0;
  /** The refusals counted (the sum of `refused`): a served call is weighed for a split only once there are enough. */
  private refusedCount = 0;
  private capValue: number | undefined;
  private capSince = 0;
  /** The latest refusal of a call above the cap (any refusal while there is none): what holds a lift back. */
  private lastRefusedAt = Number.NEGATIVE_INFINITY;
  /** The refused share above the cap when it was decided: what it claims calls beyond it get. */
  private claimedShare = 1;
  /** Outcomes at or below the cap since it was last set (learned, lifted, put back, taken). */
  private readonly below: Tally = { ok: 0, refused: 0 };
  /** Outcomes above the cap before a lift on trial, since that lift. */
  private readonly trial: Tally = { ok: 0, refused: 0 };
  private liftAfter: number;
  /** The cap before the latest lift, while that lift is on trial. */
  private lifted: number | undefined;
  /** Whether the lift on trial is withdrawn (the cap is `lifted` again) since a refusal at its level, until a call is served. */
  private withdrawn = false;
  private readonly o: Required<LearnedInFlightCapOptions>;

  constructor(options: LearnedInFlightCapOptions = {}) {
    this.o = {
      minShareAbove: options.minShareAbove ?? 0.2,
      contrast: options.contrast ?? 4,
      minRefusedAbove: options.minRefusedAbove ?? 2,
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
      if (this.withdrawn) this.offerLift();
      this.lifted = undefined;
      this.liftAfter = this.o.liftAfterMs;
    }
    if (quiet >= this.liftAfter) {
      this.lifted = this.capValue;
      this.setCap(this.capValue + 1, now);
    }
    return this.capValue;
  }


  /** Records the outcome of a call that started with `inFlight` of the key's calls in flight (itself included). */
  record(inFlight: number, refused: boolean, now: number): void {
    const k = inFlightLevel(inFlight);
    (refused ? this.refused : this.ok)[k]! += 1;
    if (refused) this.refusedCount++;
    if (++this.outcomes % HALVE_EVERY === 0) {
      for (let i = 0; i <= MAX_TRACKED; i++) {
        this.ok[i]! /= 2;
        this.refused[i]! /= 2;
      }
      this.refusedCount /= 2;
    }
    if (!refused && this.withdrawn) this.offerLift();
    if (this.capValue !== undefined && this.judge(k, refused, now)) return;
    if (refused) {
      // While a lift is withdrawn, refusals at its level are its trial's, as while it is in force.
      const standing = this.standingCap();
      if (standing === undefined || k > standing) this.lastRefusedAt = now;
    } else if (this.capValue !== undefined || this.refusedCount < this.o.minRefusedAbove) {
      // A cap in force is lowered by refusals only; without a cap, a split needs its refusals first.
      return;
    }
    // Decided on a served call too, not only on a refusal: the first refusals over a cap cut the learned
    // rate, which then keeps the calls in flight at or below the cap, so no refusal comes to decide on
    // until the rate has climbed back (bench concurrency/blind/1key: the cap learned at 3.6 s, not 1 s).
    // A lift on trial is judged by its own evidence above ({@link judge}), not undone by the split it lifted.
    const c = this.split();
    const floor = this.lifted ?? this.capValue;
    if (c !== undefined && (floor === undefined || c < floor)) {
      this.claimedShare = this.shareAbove(c);
      this.lifted = undefined;
      this.setCap(c, now);
    }
  }

  /**
   * Weighs an outcome at level `k` against the cap in force: a lift on trial is put back when its level
   * is refused clearly more than the levels below it, twice at least (one refusal in one call is as
   * likely random; then the next lift waits twice as long), and withdrawn from its first refusal until a
   * call is served while it is not yet clear; a cap is dropped when its own levels are
   * refused nearly as often as it claims calls beyond it are. Returns whether the cap was changed.
   */
  private judge(k: number, refused: boolean, now: number): boolean {
    const base = this.lifted ?? this.capValue!;
    const tally = k > base ? this.trial : this.below;
    tally[refused ? 'refused' : 'ok']++;
    if (this.lifted !== undefined && k > this.lifted && refused && this.trial.refused >= this.o.minRefusedAbove && this.clearlyAbove(this.trial, this.tallyOf(1, this.lifted))) {
      this.setCap(this.lifted, now);
      this.lifted = undefined;
      this.liftAfter = Math.min(this.liftAfter * 2, this.o.maxLiftAfterMs);
      return true;
    }
    if (this.lifted !== undefined && k > this.lifted && refused && !this.withdrawn) {
      // Not yet clear, but the server refused the lifted level just now: the key goes back to the calls
      // in flight that were served at once, so this 429 is the cap's (the limiter then neither lowers
      // the rate nor cools the key for it). Before, the lift stayed while it was weighed: each of its
      // refusals cut the learned rate below what the cap allows, which made the lifted level rarer and
      // the trial longer (bench concurrency/blind/3key: trials of 1-3.6 s at 18/s per key). The lift
      // is offered again at the next served call, so the trial still gets the refusals it decides on.
      this.withdrawn = true;
      this.capValue = this.lifted;
      return true;
    }
    const n = this.below.ok + this.below.refused;
    if (refused && k <= base && n >= DROP_SAMPLE * this.o.minOutcomesBelow && this.o.contrast * (this.below.refused / n) >= this.claimedShare) {
      // The cap's own levels are refused as the ones beyond it were: the refusals do not depend on the
      // calls in flight. The evidence starts afresh, so the same coincidence is not decided again.
      this.capValue = undefined;
      this.lifted = undefined;
      this.withdrawn = false;
      this.liftAfter = this.o.liftAfterMs;
      this.ok.fill(0);
      this.refused.fill(0);
      this.refusedCount = 0;
      this.lastRefusedAt = now;
      return true;
    }
    return false;
  }

  /** Whether outcomes above a level are refused clearly more than those at or below it ({@link splitGap}). */
  private clearlyAbove(above: Tally, below: Tally): boolean {
    return splitGap(above, below, this.o) !== undefined;
  }

  /** The counted outcomes at levels `from..to`. */
  private tallyOf(from: number, to: number): Tally {
    const t: Tally = { ok: 0, refused: 0 };
    for (let i = from; i <= to; i++) {
      t.ok += this.ok[i]!;
      t.refused += this.refused[i]!;
    }
    return t;
  }

  /** The refused share of the counted outcomes above level `c` (1 with none). */
  private shareAbove(c: number): number {
    const t = this.tallyOf(c + 1, MAX_TRACKED);
    return t.ok + t.refused > 0 ? t.refused / (t.ok + t.refused) : 1;
  }

  /** The lift on trial, withdrawn after a refusal, is in force again (its trial goes on). */
  private offerLift(): void {
    this.capValue = this.standingCap();
    this.withdrawn = false;
  }

  /** The cap this learner stands by: the lift on trial while it is withdrawn, else the cap in force. */
  private standingCap(): number | undefined {
    return this.withdrawn ? this.lifted! + 1 : this.capValue;
  }

  /** Puts cap `c` in force from `now`. */
  private setCap(c: number, now: number): void {
    this.withdrawn = false;
    this.capValue = c;
    this.capSince = now;
    this.weighAfresh();
  }

  /** The outcomes weighed against the cap in force ({@link judge}) start afresh: a cap was set or taken. */
  private weighAfresh(): void {
    this.below.ok = this.below.refused = 0;
    this.trial.ok = this.trial.refused = 0;
  }

  /** The in-flight count that splits refused calls from served ones best, if a split is clear ({@link inFlightSplit}). */
  private split(): number | undefined {
    return inFlightSplit({ ok: this.ok, refused: this.refused }, this.o);
  }

  /** Where this learner stands (for a fleet's: what it proposes to the others). */
  state(): InFlightCapState {
    // A withdrawn lift is this process's pause within the trial, not a change to propose to a fleet.
    return { cap: this.standingCap(), trialOf: this.lifted, liftAfterMs: this.liftAfter, since: this.capSince, lastRefusedAt: this.lastRefusedAt };
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
    // The same cap and trial as this learner's (its own, as a fleet answers it back) is weighed on: only
    // a cap or a trial that differs starts afresh. Not `since` too: a fleet's comes back as ms ago, a few
    // ms off each time, which reset a lift's trial at every lease answer, so it never reached the two
    // refusals it decides on; with a refused lift withdrawn (its 429s then lower no rate), a worker on a
    // server capped at 2 sent 10-15 % 429s (BENCH=redis, SLUICE_BENCH_REDIS_MAX_CONCURRENT=2, 1 worker).
    const same = state.cap === this.standingCap() && state.trialOf === this.lifted;
    this.withdrawn = same && this.withdrawn;
    this.capValue = this.withdrawn ? this.lifted : state.cap;
    this.lifted = state.cap === undefined ? undefined : state.trialOf;
    this.liftAfter = state.liftAfterMs;
    this.capSince = state.since;
    this.lastRefusedAt = state.lastRefusedAt;
    if (counts) {
      for (let i = 0; i <= MAX_TRACKED; i++) {
        this.ok[i] = counts.ok[i] ?? 0;
        this.refused[i] = counts.refused[i] ?? 0;
      }
      this.refusedCount = this.tallyOf(1, MAX_TRACKED).refused;
      this.outcomes = counts.outcomes;
    }
    if (same || state.cap === undefined) return;
    // A cap taken from elsewhere is weighed from here on, against what its evidence shows beyond it.
    this.claimedShare = this.shareAbove(this.lifted ?? state.cap);
    this.weighAfresh();
  }
}
