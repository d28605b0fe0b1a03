/**
 * A request rate learned from 429s alone, for servers that send no rate-limit headers (a plain
 * rate-limiting proxy). A 429 says only "too fast"; what says how fast is allowed is what got
 * through. So, like TCP's congestion control driven by delivery rate (BBR) and the AWS SDK's
 * adaptive mode (CUBIC) for the shape of the recovery:
 *
 * - Successes are counted by the time their call started. At a congestion event the server's
 *   capacity is estimated as the goodput: successful starts per ms over the last second, the span in
 *   which the probe went above the limit (a server over its limit admits exactly its rate). After a
 *   refusal that outlasted the cooldown (a window that refuses everything until it ends, which also
 *   lets a whole allowance through in an instant), over the last `measureMs` (5 s) instead, which spans
 *   the refusal and so averages the window. Spans longer than the key's use are cut to it.
 * - The rate drops to `beta` (0.95) of that estimate, never above the rate in force.
 * - It then climbs along a cubic curve: back at the estimate after `recoveryMs` (2 s), flat there, then
 *   doubling every `recoveryMs` above it, so a limit that was raised is found. The next 429 is the next event.
 * - One event per congestion: 429s of calls started before the last decrease, or with no success since
 *   it (a window that refuses everything until it ends), do not lower the rate again.
 */

/** Options of the learned rate. */
export interface LearnedRateOptions {
  /** Multiplicative decrease: the rate after a 429 is this share of the measured goodput, in (0, 1). Default 0.95. */
  beta?: number;
  /** Time to climb back to the estimated capacity, ms; beyond it the probe above it speeds up. Default 2,000. */
  recoveryMs?: number;
  /** The learned rate never goes below this (requests per window). Default 1. */
  minRate?: number;
  /** Window the rates are expressed in, ms. Default 60 000 (the limiter passes its own `windowMs`). */
  windowMs?: number;
  /** How far back the goodput is measured after a long refusal, ms. Default 5,000 (else one second). */
  measureMs?: number;
}

/**
 * A congestion event, as processes that share one key's limit pass it to one another (batch/redis):
 * one decrease for the fleet, adopted by every process, so that all use the same learned rate.
 */
export interface LearnedRateState {
  /** Estimated capacity at the event (requests per window). */
  max: number;
  /** The rate set at the event (requests per window). */
  base: number;
  /** When the event was (this process's clock). */
  at: number;
  /** Whether the estimate was guessed before any answer (the climb back runs faster). */
  guessed: boolean;
  /**
   * Whether the event followed a refusal that outlasted the cooldown (a fixed window refusing until it
   * ends): its estimate is the window's average, so the probe above it climbs {@link WINDOWED_CLIMB} times slower.
   */
  windowed?: boolean;
}

/** How many congestion events' times are kept (a few seconds' worth at one event per second or more). */
const MAX_EVENTS = 8;
/** Resolution of the goodput record, ms. */
const SLOT_MS = 100;
/** The span the goodput is measured over after an ordinary 429, ms. */
const SHORT_SPAN_MS = 1_000;
/**
 * How many times slower the probe above the estimate climbs after a window's refusal. That estimate
 * (over the window's whole cycle, see {@link LearnedRate.paceAfterRefusal}) is its average rate: a probe
 * doubling every 2 s burst through the next window's allowance in its first second and sat out the rest
 * of it on ~7 refused probes (bench fixed-window-ietf/blind: 5.9 % answered 429). Doubling every 8 s
 * (4) still spent each window of rate-limiter-flexible's 100 per 5 s some 0.4 s early: 21 of 421
 * answered 429 (5.0 %) in every run; every 16 s, 13-16 (3.1-3.8 %) for 1.00 -> 1.02-1.03x, and a sliding
 * log that counts refused calls 1.11-1.13 -> 1.08-1.09x (A/B traces, 2026-12-07). It still finds a
 * raised limit: twice the rate within 18 s.
 */
const WINDOWED_CLIMB = 8;
/**
 * Where in the gap between the last refused probe and the served one a window is taken to have turned
 * (0 = at the refused probe). The middle (0.5) read a sliding log's first refusal as 13/s for a limit
 * of 20 (bench sliding-window/blind: 1.14-1.20x); the refused probe itself (0) paced fixed windows a
 * little fast, each exhausted early (5 % answered 429 against 3.6-4.8 % at 0.25).
 */
const TURN_SHARE = 0.25;
/**
 * The least share of a window's cycle that its refusal must last to pace the key at the cycle's average
 * ({@link LearnedRate.paceAfterRefusal}): a fixed window burst through refuses for most of its cycle, a
 * rate just above a window's allowance for a few per cent of it (then the ordinary decrease suffices).
 */
const MIN_REFUSED_SHARE = 0.1;
/** Fewest successes since the last decrease that a decrease is cut from; with fewer, the last second's. */
const MIN_SAMPLE = 4;
/** The longest window cycle (allowance and refusal) whose average {@link LearnedRate.paceAfterRefusal} reads, ms: a minute's window. */
const CYCLE_RING_MS = 61_000;
/** How long without a decrease at the ceiling before the ceiling's share climbs back a step (see {@link LearnedRate.ceilingShare}), ms. */
const CEILING_LIFT_MS = 60_000;
/** The least share of the ceiling it is lowered to. */
const MIN_CEILING_SHARE = 0.5;
/** The shortest span a goodput is measured over, ms: a handful of first answers says little about a rate. */
const MIN_SPAN_MS = SLOT_MS;

/** State of the learned request rate (requests per window). */
export class LearnedRate {
  private readonly beta: number;
  private readonly recoveryMs: number;
  private readonly minRate: number;
  private readonly windowMs: number;
  private readonly measureMs: number;
  /** Estimated capacity at the last congestion event (requests per window). */
  private lastMax: number | undefined;
  /** The rate set at that event (requests per window). */
  private base = 0;
  private lastDecreaseAt = -Infinity;
  /** When the last {@link MAX_EVENTS} congestion events were, oldest first: where {@link decrease} measures from. */
  private readonly events: number[] = [];
  /** Whether a call started after the last decrease succeeded (else a new 429 is still the same congestion). */
  private succeededSince = true;
  /** 429s of calls started after the last decrease, before any success: the server refuses for longer than a cooldown. */
  private refusals = 0;
  /** Starts granted and 429s received so far: before any answer succeeds, all there is to go on. */
  private grants = 0;
  private rejections = 0;
  /** Whether the estimate in force was guessed from the starts not refused, before any answer (see {@link provisional}). */
  private guessed = false;
  /** Start of the served call that ended the last refusal: where the next window's cycle begins (see {@link paceAfterRefusal}). */
  private cycleStart: number | undefined;
  /** Start of the latest refused call of a refusal (a 429 after the decrease and before any success). */
  private lastRefusedStart: number | undefined;
  /** Whether the event in force followed a window's refusal (see {@link LearnedRateState.windowed}). */
  private windowed = false;
  private ceiling: number | undefined;
  /**
   * The share of the ceiling (the configured or announced limit) the rate climbs back to: `beta` less for
   * each decrease made at the ceiling itself, a step back up after {@link CEILING_LIFT_MS} without one.
   * A server that refuses the very rate it was configured at (a token bucket of 10/s with a burst of 1,
   * told 600/min: any start a little early is refused) otherwise had the key climb back to it in 2 s and
   * be refused again, each refusal with a Retry-After of 1 s (BENCH=cli: 10 % answered 429).
   */
  private ceilingShare = 1;
  private ceilingCutAt = -Infinity;
  /** How long a success takes to be answered, smoothed (ms; 0 before the first): see {@link goodput}. */
  private answerMs = 0;
  /** Successful starts per slot of {@link SLOT_MS}, a ring over `measureMs`. */
  private readonly slots: Float64Array;
  private slotsAt = -Infinity;
  private firstStartAt: number | undefined;
  /** Starts in the current measurement slot and the smoothed sending rate, for the probe's cap. */
  private sentSlotStart: number | undefined;
  private sentInSlot = 0;
  private sendingPerMs: number | undefined;

  constructor(options: LearnedRateOptions = {}) {
    this.beta = options.beta ?? 0.95;
    this.minRate = options.minRate ?? 1;
    this.windowMs = options.windowMs ?? 60_000;
    this.recoveryMs = options.recoveryMs ?? 2_000;
    this.measureMs = options.measureMs ?? 5_000;
    if (!(this.beta > 0 && this.beta < 1)) throw new RangeError(`learned rate: beta must be in (0, 1), got ${String(options.beta)}`);
    if (!(this.recoveryMs > 0) || !Number.isFinite(this.recoveryMs)) throw new RangeError(`learned rate: recoveryMs must be a finite number > 0, got ${String(options.recoveryMs)}`);
    if (!(this.minRate > 0) || !Number.isFinite(this.minRate)) throw new RangeError(`learned rate: minRate must be a finite number > 0, got ${String(options.minRate)}`);
    if (!(this.windowMs > 0) || !Number.isFinite(this.windowMs)) throw new RangeError(`learned rate: windowMs must be a finite number > 0, got ${String(options.windowMs)}`);
    if (!(this.measureMs >= MIN_SPAN_MS) || !Number.isFinite(this.measureMs)) throw new RangeError(`learned rate: measureMs must be a finite number >= ${MIN_SPAN_MS}, got ${String(options.measureMs)}`);
    this.slots = new Float64Array(Math.ceil(Math.max(this.measureMs, CYCLE_RING_MS) / SLOT_MS) + 2);
  }

  /** The learned rate at `now` (requests per window), or `undefined` before the first 429 or once back at the ceiling. */
  rate(now: number): number | undefined {
    if (this.lastMax === undefined) return undefined;
    if (this.ceilingShare < 1 && now - this.ceilingCutAt >= CEILING_LIFT_MS) {
      this.ceilingShare = Math.min(1, this.ceilingShare / this.beta);
      this.ceilingCutAt = now;
    }
    // An estimate guessed before any answer is checked four times as fast: a leaky bucket that refused
    // the second start of the first instant said almost nothing about its rate.
    const t = (now - this.lastDecreaseAt) / (this.guessed ? this.recoveryMs / 4 : this.recoveryMs);
    const k = 1 - this.base / this.lastMax;
    // Below the estimate: the cubic, flat as it nears it. Above it: doubling every `recoveryMs`,
    // so that an estimate made from thin evidence (the first instants) or a raised limit is found in
    // seconds, not minutes.
    let r = t <= 1 ? this.lastMax * (1 + k * (t - 1) ** 3) : this.lastMax * 2 ** ((t - 1) / (this.windowed ? WINDOWED_CLIMB : 1));
    // AWS SDK: above the estimate, never more than twice what is really being sent, so that the probe
    // cannot run far ahead of the traffic (a rate nobody sends at proves nothing).
    const sending = this.measured();
    if (sending !== undefined && t > 1) r = Math.min(r, Math.max(this.lastMax, 2 * sending));
    if (this.ceiling !== undefined && r >= this.ceiling * this.ceilingShare) {
      if (this.ceilingShare < 1) return Math.max(this.minRate, this.ceiling * this.ceilingShare);
      this.lastMax = undefined; // fully recovered: the configured/announced limit governs again
      return undefined;
    }
    return Math.max(this.minRate, r);
  }

  /** Whether a learned rate is in force (the limiter then recomputes its bucket spec on each use). */
  active(): boolean {
    return this.lastMax !== undefined;
  }

  /** Counts `n` (default 1) granted starts, for the sending rate that caps the probe. */
  count(now: number, n = 1): void {
    this.firstStartAt ??= now;
    this.grants += n;
    if (this.sentSlotStart === undefined) this.sentSlotStart = now;
    else if (now - this.sentSlotStart >= 500) {
      const perMs = this.sentInSlot / (now - this.sentSlotStart);
      this.sendingPerMs = this.sendingPerMs === undefined ? perMs : 0.8 * perMs + 0.2 * this.sendingPerMs;
      this.sentSlotStart = now;
      this.sentInSlot = 0;
    }
    this.sentInSlot += n;
  }

  /** The smoothed sending rate (requests per window), or `undefined` before half a second of sending. */
  measured(): number | undefined {
    return this.sendingPerMs === undefined ? undefined : this.sendingPerMs * this.windowMs;
  }

  /**
   * A call started at `startedAt` succeeded at `now`: it counts toward the goodput, and if it started
   * after the last decrease, the next 429 is a new congestion event.
   */
  onSuccess(startedAt?: number, now?: number, n = 1): void {
    if (startedAt === undefined || startedAt >= this.lastDecreaseAt) this.succeededSince = true;
    const at = startedAt ?? now;
    if (at !== undefined) this.record(at, now ?? at, n);
  }

  /**
   * Whether a refusal that outlasted the cooldown has just ended (see {@link refusalEnded}): a window
   * that refuses until it ends. The rate is then set at once to `beta` of what the window's cycle let
   * through (its average), and climbs slowly ({@link WINDOWED_CLIMB}); else the climb of the event
   * before burst through the next window's allowance at its start and sat out the rest on refused
   * probes. `at` is the start of the served call. Returns whether the rate was set. `inForce` and
   * `ceiling` are as for {@link decrease}.
   */
  paceAfterRefusal(now: number, at: number, inForce: number | undefined, ceiling: number | undefined): boolean {
    if (!this.refusalEnded()) return false;
    const from = this.cycleStart ?? this.firstStartAt;
    if (from === undefined) return false;
    // The window turned between the last refused start and this served one: take a point early in that
    // gap ({@link TURN_SHARE}), so that a late probe (up to a second, and 0.8 s after a sliding log's
    // first burst) does not read as a longer window; a pace too fast is corrected by the next 429, one
    // too slow only by a slow climb.
    // Its cycle held the allowance and the refusal, from the first served start after the previous
    // turn (or the first start): a window that starts at a key's first request after the last one
    // began there, an aligned window a probe's gap before it at most.
    const turn = this.lastRefusedStart === undefined || this.lastRefusedStart > at ? at : this.lastRefusedStart + TURN_SHARE * (at - this.lastRefusedStart);
    this.cycleStart = at;
    // One refusal, one pace at most. A key whose refusals outlast cooldowns keeps the slow climb above
    // its estimate through later ordinary decreases too (see WINDOWED_CLIMB).
    this.refusals = 0;
    this.windowed = true;
    const span = turn - from;
    if (span < MIN_SPAN_MS || now - from >= CYCLE_RING_MS) return false;
    // A refusal short against its cycle is an overshoot that the ordinary decrease already cut, not a
    // window's allowance spent: a sliding log that counts refused calls refused two probes 0.3 s after a
    // cycle of 5 s spent climbing from below the limit, whose average then paced it at 0.82 of it.
    if (turn - this.lastDecreaseAt < MIN_REFUSED_SHARE * span) return false;
    const served = this.servedSince(now, from);
    if (served === 0) return false;
    const average = (served / span) * this.windowMs;
    const target = Math.max(this.minRate, Math.min(inForce ?? Infinity, this.beta * average));
    this.begin({ max: Math.max(target, average), base: target, at: now, guessed: false, windowed: true }, ceiling);
    return true;
  }

  /** Whether a call started after the last decrease succeeded after 429s of such calls (a refusal that outlasted the cooldown ended). */
  refusalEnded(): boolean {
    return this.refusals > 0 && this.succeededSince;
  }

  /** The congestion event in force (to share), or `undefined` before the first or once recovered. */
  snapshot(): LearnedRateState | undefined {
    if (this.lastMax === undefined) return undefined;
    return { max: this.lastMax, base: this.base, at: this.lastDecreaseAt, guessed: this.guessed, windowed: this.windowed };
  }

  /**
   * Adopts a congestion event another process sharing the key's limit decided (its decrease, in place
   * of this one's own): the rate then climbs back from it here too, and 429s of calls started before it
   * are that event's. `ceiling` is the configured/announced limit, as for {@link decrease}.
   */
  adopt(state: LearnedRateState, ceiling: number | undefined): void {
    if (!(state.max > 0) || !(state.base > 0) || !Number.isFinite(state.at)) return;
    this.begin(state, ceiling);
  }

  /**
   * Successful starts per window over the last `spanMs` (at most `measureMs`) at `now`, from no earlier
   * than `notBefore`'s slot, or `undefined` with none.
   */
  goodput(now: number, spanMs = this.measureMs, notBefore = -Infinity): number | undefined {
    const s = this.sample(now, spanMs, notBefore);
    return s === undefined ? undefined : s.perWindow;
  }

  /** The successes {@link goodput} counts and their rate per window, or `undefined` with none. */
  private sample(now: number, spanMs: number, notBefore: number): { successes: number; perWindow: number } | undefined {
    this.advance(now);
    if (this.firstStartAt === undefined) return undefined;
    // Calls started within the last answer time are mostly unanswered yet: the span ends that much
    // before now. Ending at now read a concurrency cap of 2 with 100 ms answers, 300 ms after its first
    // 429, as 6/s instead of 20/s (bench concurrency/blind, a warm process: 1.07 -> 1.19x).
    const end = now - Math.min(this.answerMs, spanMs / 2);
    const span = Math.min(spanMs, this.measureMs, Math.max(MIN_SPAN_MS, end - this.firstStartAt));
    // Whole slots from the one holding `end - span` (or `notBefore`) to the last that ends by `end`, over
    // the time they cover; the one holding `end` too, up to `end`, where no whole slot is there yet.
    const first = Math.max(Math.floor(now / SLOT_MS) - this.slots.length + 1, Math.floor((end - span) / SLOT_MS), Math.floor(notBefore / SLOT_MS));
    const whole = Math.floor(end / SLOT_MS) - 1;
    const head = whole >= first ? whole : whole + 1;
    const sum = this.sumSlots(first, head);
    const covered = whole >= first ? (head + 1 - first) * SLOT_MS : Math.max(MIN_SPAN_MS, end - first * SLOT_MS);
    if (sum > 0) return { successes: sum, perWindow: (sum / covered) * this.windowMs };
    // Nothing before `end`: what was answered since is better than no evidence.
    const recent = this.sumSlots(head + 1, Math.floor(now / SLOT_MS));
    return recent === 0 ? undefined : { successes: recent, perWindow: (recent / Math.max(MIN_SPAN_MS, now - first * SLOT_MS)) * this.windowMs };
  }

  /**
   * A 429 arrived. `inForce` is the rate in force (the limit, or undefined when none is known);
   * `ceiling` the configured/announced limit. One decrease per congestion event. Returns whether the
   * rate was lowered.
   */
  decrease(now: number, inForce: number | undefined, ceiling: number | undefined, startedAt?: number): boolean {
    this.rejections++;
    if (startedAt !== undefined && startedAt <= this.lastDecreaseAt) return false;
    if (!this.succeededSince) {
      this.refusals++;
      this.lastRefusedStart = startedAt ?? now;
      return false;
    }
    if (startedAt === undefined && now - this.lastDecreaseAt < 1000) return false;
    const refused = this.refusals > 0;
    // Nothing answered yet (the first burst is still in flight): assume the starts not refused so far
    // are what the server takes in that time, so the key resumes at a pace, not with a burst.
    // The goodput in the whole slots after the oldest decrease of the last `measureMs` (the last second
    // at the first event): what the server admitted since it was last full, not the burst it had saved
    // before. A refusal leaves a token bucket empty, so what got through between two refusals is its
    // rate over that time, where the last second also counted the tokens it had saved while the key was
    // paced below it. Read over one second, a bucket of 20/s with a burst of 10 read as 21-22/s, so each cut
    // landed at the limit, the climb passed it 1.5 s later and was refused again (bench
    // token-bucket/blind/3key: 4.4 % answered 429 over four interleaved runs; 3.1 % from the oldest
    // event, at the same speed, and sliding logs alike within the runs' noise, 2026-12-08).
    const first = this.lastDecreaseAt === -Infinity;
    const anchorAt = this.events.find((at) => at >= now - this.measureMs) ?? this.lastDecreaseAt;
    const afterDecrease = (Math.floor(anchorAt / SLOT_MS) + 1) * SLOT_MS;
    const span = refused ? this.measureMs : first ? SHORT_SPAN_MS : Math.min(this.measureMs, Math.max(2 * MIN_SPAN_MS, now - afterDecrease));
    // Too few successes since the decrease say nothing (one 100 ms slot read a token bucket of 20/s as
    // 15/s): then the last second, across the decrease.
    const since = this.sample(now, span, refused ? -Infinity : afterDecrease);
    // Before the first event `since` is the last second already: with fewer than MIN_SAMPLE answers its
    // goodput is a guess (below), not a measurement. One early success (`sluice run` answers its first
    // item with its probe's answer) read a concurrency cap of 2 at 100 ms as 6.25/s, climbed back slowly: 1.21x.
    // Too few answers in the last second too (a key that sat out a cooldown and was refused
    // again as it resumed): nothing to measure, so the rate in force, which was too fast, is cut by beta.
    // Extrapolated from one or two answers, a bucket of 10/s read as 1.3/s (BENCH=cli).
    const sinceCounts = since !== undefined && (refused || since.successes >= MIN_SAMPLE);
    const last = sinceCounts || first ? undefined : this.sample(now, SHORT_SPAN_MS, -Infinity);
    const measured = sinceCounts ? since.perWindow : last === undefined ? undefined : last.successes >= MIN_SAMPLE ? last.perWindow : (inForce ?? last.perWindow);
    const goodput = measured ?? this.provisional(now);
    if (goodput === undefined) return false;
    // A server that refuses the first start above its rate (a leaky bucket) answers 429 while the last
    // second was still spent climbing toward it, so the goodput reads low; the rate in force was just
    // above the limit. Take 0.95 of it, but at most 1.5 times the goodput (a probe that ran far ahead, or
    // a limit nobody sent at, proves nothing), except after a long refusal, where the sending came in a
    // burst.
    // Never above what was really sent lately, though: a rate in force that the traffic did not reach
    // (it was still climbing) says nothing, and taking it kept the rate above a sliding log's for
    // four events in a row (bench sliding-window/blind).
    const sending = this.measured() ?? Infinity;
    const capacity = refused || inForce === undefined ? goodput : Math.max(goodput, Math.min(0.95 * inForce, 1.5 * goodput, sending));
    // A 429 at the rate in force says it is too fast: the cut is at least `beta` of it. A goodput above it
    // (a short span after the last cut, a token bucket's refill of the cooldown in it) otherwise set the
    // rate back to the same 0.95 of that goodput every 0.4 s, above the limit (token-bucket/blind/3key
    // through the CLI: 7.6-8.7 % 429s in some runs).
    const target = Math.max(this.minRate, this.beta * Math.min(inForce ?? Infinity, capacity));
    if (ceiling !== undefined && inForce !== undefined && inForce >= ceiling * this.ceilingShare * (1 - 1e-9)) {
      // Refused at the ceiling itself: the configured or announced limit is too fast for this server.
      this.ceilingShare = Math.max(MIN_CEILING_SHARE, this.ceilingShare * this.beta);
      this.ceilingCutAt = now;
    }
    // A first estimate from under a second of answers is checked four times as fast, as a guessed one
    // ({@link rate}): in the first instants connections are still opening and the executor's
    // concurrency is still climbing, so what got through is what was sent, not what the server takes.
    // A concurrency cap of 2 at 100 ms (20/s) answered its first 429s at 0.8 s, when 4 calls in flight
    // over 3 keys had let 10/s through: 4 s to climb back to 20/s (bench concurrency/blind/3key
    // 1.17-1.21x -> 1.10-1.15x in interleaved traces on a loaded machine, 2026-12-07).
    const guessed = measured === undefined || (first && this.answeredFor(now) < SHORT_SPAN_MS);
    this.begin({ max: Math.max(target, Math.min(capacity, inForce ?? Infinity)), base: target, at: now, guessed, windowed: refused || this.windowed }, ceiling);
    return true;
  }

  /** Puts a congestion event in force (this process's decrease, or the fleet's): the rate climbs back from it, and 429s of calls started before it are its own. */
  private begin(event: LearnedRateState, ceiling: number | undefined): void {
    this.lastMax = event.max;
    this.base = Math.min(event.base, event.max);
    this.lastDecreaseAt = event.at;
    this.events.push(event.at);
    if (this.events.length > MAX_EVENTS) this.events.shift();
    this.guessed = event.guessed;
    this.windowed = event.windowed === true;
    this.ceiling = ceiling;
    this.succeededSince = false;
    this.refusals = 0;
  }

  /** How long answers have been coming, ms: from the first start to an answer time before `now` (0 before any start). */
  private answeredFor(now: number): number {
    return this.firstStartAt === undefined ? 0 : Math.max(0, now - this.answerMs - this.firstStartAt);
  }

  /** Starts not refused per window since the first start (at least one slot), or undefined with none. */
  private provisional(now: number): number | undefined {
    if (this.firstStartAt === undefined) return undefined;
    const accepted = this.grants - this.rejections;
    return accepted > 0 ? (accepted / Math.max(SLOT_MS, now - this.firstStartAt)) * this.windowMs : undefined;
  }

  /** Adds `n` successes started at `at` to the goodput record. */
  private record(at: number, now: number, n: number): void {
    this.advance(now);
    if (now > at) this.answerMs = this.answerMs === 0 ? now - at : 0.8 * this.answerMs + 0.2 * (now - at);
    if (this.firstStartAt === undefined || at < this.firstStartAt) this.firstStartAt = at;
    const head = Math.floor(now / SLOT_MS);
    const slot = Math.floor(at / SLOT_MS);
    if (slot > head || head - slot >= this.slots.length) return;
    this.slots[slot % this.slots.length]! += n;
  }

  /** Successes started from `from` (its slot on) to `now`, as far back as the record goes. */
  private servedSince(now: number, from: number): number {
    this.advance(now);
    const head = Math.floor(now / SLOT_MS);
    return this.sumSlots(Math.max(head - this.slots.length + 1, Math.floor(from / SLOT_MS)), head);
  }

  /** Successes recorded in slots `first..last` (absolute slot numbers, within the ring). */
  private sumSlots(first: number, last: number): number {
    let sum = 0;
    for (let slot = first; slot <= last; slot++) sum += this.slots[slot % this.slots.length]!;
    return sum;
  }

  /** Clears the slots that fell out of the record since it was last touched. */
  private advance(now: number): void {
    const head = Math.floor(now / SLOT_MS);
    if (this.slotsAt === -Infinity) {
      this.slotsAt = head;
      return;
    }
    const steps = Math.min(head - this.slotsAt, this.slots.length);
    for (let i = 1; i <= steps; i++) this.slots[(this.slotsAt + i) % this.slots.length] = 0;
    if (head > this.slotsAt) this.slotsAt = head;
  }
}
