/**
 * `RateLimiter`: one API key's request and token budget, minimum spacing and in-flight cap, on an
 * injected clock. See `bucket.ts` for the algorithm and why it was chosen.
 */
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import { abortError } from '../clock/abort.js';
import { TypedEmitter } from '../observe/typed-emitter.js';
import { refillOf, type RateLimitSnapshot, type RateLimitWindow } from '../classify/rate-limit/snapshot.js';
import { DEFAULT_WINDOW_MS, validateLimits, type KeyLimits } from './limits.js';
import { MemoryLimiterStore, isPending, whenReady, type LimiterStore, type MaybePromise } from './backend.js';
import { SAME_WINDOW_MS, type BucketSpec, type CapWindow, type ServerCap } from './bucket.js';
import { LearnedInFlightCap, type InFlightCapLearner } from './learned-in-flight-cap.js';
import { LearnedRate, type LearnedRateOptions, type LearnedRateState } from './learned-rate.js';
import { SlidingLogWatch } from './sliding-log.js';

/** A granted start. Hold it while the call runs; `release()` when it ends, `settle()` when usage is known. */
export interface Permit {
  /** Name of the key the permit is for. */
  readonly key: string;
  /** Tokens reserved. */
  readonly tokens: number;
  /** When it was granted (clock ms). */
  readonly startedAt: number;
  /** Its place among this limiter's starts (1, 2, …): an answer's remainder is lowered by the starts made after it. */
  readonly seq: number;
  /** Whether {@link Permit.release} was called: the call is no longer in flight. */
  readonly released: boolean;
  /** Charges or refunds the difference between `actualTokens` and the reservation. Only the first call counts. */
  settle(actualTokens: number): void;
  /**
   * Frees the in-flight slot. Idempotent. `outcome` says whether the server served the call or refused
   * it (429): the limiter learns a concurrency cap from which starts were refused.
   */
  release(outcome?: PermitOutcome): void;
}

/** What became of a permit's call, for the concurrency cap learned from 429s ({@link LearnedInFlightCap}). */
export type PermitOutcome = 'served' | 'refused';

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions extends KeyLimits {
  /** Key name, for the shared store and events (never the secret). Default `default`. */
  key?: string;
  /** Time source. Default the system clock. */
  clock?: Clock;
  /** Where the buckets live. Default: in memory. */
  store?: LimiterStore;
  /**
   * Learn the request rate from 429s when the server sends no limits (multiplicative decrease, cubic
   * recovery, like the AWS SDK's adaptive mode). Default on; `false` turns it off.
   */
  learn?: boolean | LearnedRateOptions;
}

/** Options of {@link RateLimiter.acquire}. */
export interface AcquireOptions {
  /** Tokens to reserve (input estimate + max output). Default 0. */
  tokens?: number;
  /** Higher runs first; FIFO within a priority. Default 0. */
  priority?: number;
  /** Gives up at once when it fires: the waiter is removed and the promise rejects with an `AbortError`. */
  signal?: AbortSignal;
}

/** Result of {@link RateLimiter.reserve}: a permit now, or how long until one could be had. */
export interface ReserveOutcome {
  permit?: Permit;
  /** 0 with a permit; else ms until a start could be granted (`Infinity` when only a release can help). */
  waitMs: number;
}

/** Events of a {@link RateLimiter}. */
export interface RateLimiterEvents {
  /** The effective request rate changed (learned from 429s, or announced by the server): requests per `windowMs` (the key's limits window; a minute unless configured). */
  rate: { key: string; from: number | undefined; to: number | undefined; windowMs: number; reason: string };
  /** The calls in flight allowed on the key changed (a concurrency cap learned from 429s, or lifted to probe it). */
  inFlightCap: { key: string; from: number | undefined; to: number | undefined; reason: string };
}

interface Waiter {
  readonly tokens: number;
  readonly priority: number;
  readonly seq: number;
  resolve(p: Permit): void;
  reject(e: unknown): void;
  cleanup(): void;
}

/**
 * Rate limiter of one key. Non-blocking `tryAcquire`/`waitTimeMs`/`reserve` for a dispatcher choosing
 * among keys, and a queued `acquire` (FIFO within priority, one timer for the head waiter only).
 */
export class RateLimiter {
  /** Key name. */
  readonly key: string;
  /** Rate changes. */
  readonly events = new TypedEmitter<RateLimiterEvents>();
  private readonly clock: Clock;
  private readonly store: LimiterStore;
  private configured: KeyLimits;
  /** Limits the server announced, converted to this limiter's window. */
  private announced: { requests?: number; tokens?: number } = {};
  /** Longest reset seen from a family that states no window (legacy `X-RateLimit-*`): its implied window, ms. */
  private impliedWindowMs = 0;
  /** Starts granted so far (permits carry their number). */
  private starts = 0;
  /** When the request window in force was first answered (its remainder last rose then, or a probe got through): it ends by then + its length. */
  private windowAnsweredAt: number | undefined;
  /** The remainder of the latest window answer (less the starts the server had not counted yet). */
  private lastRemaining: number | undefined;
  /** The reset the last window answer named, to tell a remainder that rose within one window. */
  private lastNamedReset: number | undefined;
  /** Own starts, weighed against the answers to tell a sliding log from a fixed window (memory stores only). */
  private readonly slidingLog = new SlidingLogWatch();
  /** From when until when the next start probes what the window holds (see {@link Probe}). */
  private probePhase: { from: number; until: number; kind: Probe } | undefined;
  /** The probes not answered yet, by start number. */
  private readonly probes = new Map<number, Probe>();
  /** Off once a probe of a window whose length the server states was refused: its resets are then taken as named. */
  private earliestEnds = true;
  /**
   * At 0 remaining with the reset within a second, hold one refill interval (a bucket refilled
   * continuously, which shows 0 on almost every answer); off once such a probe was refused (a sliding
   * log just filled frees nothing before its earliest end).
   */
  private unitHolds = true;
  private readonly learned: LearnedRate | undefined;
  private readonly learnedCap: InFlightCapLearner | undefined;
  /** The learned concurrency cap last announced (see the `inFlightCap` event). */
  private announcedCap: number | undefined;
  /**
   * Whether a bare 429 was ever answered on this key: from then on its bucket keeps the learned rate's
   * burst ({@link LEARNED_BURST}), also once the learned rate is back at the configured limit. A server
   * that refused calls at that rate refuses bursts (a token bucket of 10/s with a burst of 1): with the
   * configured burst of 2, every idle second (a Retry-After's cooldown) ended in two starts at once, the
   * second refused, and another cooldown (BENCH=cli: 2.4-3.2x of the minimum).
   */
  private refusedBare = false;
  /** When the latest start was granted (see {@link computeSpec}: a paused key's burst). */
  private lastGrantAt = Number.NEGATIVE_INFINITY;
  /** Start time of the latest refused call that started above the learned concurrency cap. */
  private refusedAboveCapAt: number | undefined;
  private inFlightCount = 0;
  private readonly waiters: Waiter[] = [];
  private seq = 0;
  private cancelTimer: (() => void) | undefined;
  private busy = false;
  private closed = false;

  constructor(options: RateLimiterOptions = {}) {
    const { key = 'default', clock = systemClock, store, learn = true, ...limits } = options;
    validateLimits(limits, `rate limiter "${key}"`);
    this.key = key;
    this.clock = clock;
    this.store = store ?? new MemoryLimiterStore();
    this.configured = { ...limits };
    this.learned = learn === false ? undefined : new LearnedRate({ windowMs: limits.windowMs ?? DEFAULT_WINDOW_MS, ...(learn === true ? {} : learn) });
    this.learnedCap = learn === false ? undefined : (this.store.inFlightCap?.(key) ?? new LearnedInFlightCap());
  }

  /** The limits as configured (after `setLimits`). */
  get limits(): Readonly<KeyLimits> {
    return this.configured;
  }

  /** Calls holding a permit now. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Waiters queued in `acquire`. */
  get pending(): number {
    return this.waiters.length;
  }

  /** Requests per window in force now: the lowest of configured, announced by the server and learned from 429s. */
  effectiveRequestsPerWindow(): number | undefined {
    return minDefined(this.configured.requestsPerMinute, this.announced.requests, this.learned?.rate(this.clock.now()));
  }

  /** Tokens per window in force now: the lower of configured and announced. */
  effectiveTokensPerWindow(): number | undefined {
    return minDefined(this.configured.tokensPerMinute, this.announced.tokens);
  }

  /** Changes limits at run time (validated); waiters are re-examined at once. */
  setLimits(partial: Partial<KeyLimits>): void {
    const next = { ...this.configured, ...partial };
    validateLimits(next, `rate limiter "${this.key}"`);
    this.cachedSpec = undefined;
    this.configured = next;
    this.rearm();
  }

  /** Takes a permit now if the buckets, spacing and in-flight cap allow and nobody waits; else `undefined`. Needs a synchronous store. */
  tryAcquire(tokens = 0): Permit | undefined {
    const outcome = this.reserve(tokens);
    if (isPending(outcome)) throw new TypeError(`rate limiter "${this.key}": tryAcquire needs a synchronous store; use reserve() or acquire()`);
    return outcome.permit;
  }

  /** ms until `tryAcquire(tokens)` could succeed (0 = now; `Infinity` = only a release can help). Needs a synchronous store. */
  waitTimeMs(tokens = 0): number {
    if (this.isFull()) return Infinity;
    const now = this.clock.now();
    const wait = this.store.waitMs(this.key, tokens, this.spec(), now);
    if (isPending(wait)) throw new TypeError(`rate limiter "${this.key}": waitTimeMs needs a synchronous store`);
    return Math.max(wait, this.slidingLog.waitMs(now));
  }

  /** Non-blocking reserve that works with any store: a permit now, or the wait. Queued waiters go first. */
  reserve(tokens = 0): MaybePromise<ReserveOutcome> {
    checkTokens(tokens, this.key);
    if (this.closed) return { waitMs: Infinity };
    if (this.isFull()) return { waitMs: Infinity };
    const now = this.clock.now();
    // Queued waiters go first: report the wait, at least 1 ms, so a dispatcher does not spin.
    if (this.waiters.length > 0) {
      return whenReady(this.store.waitMs(this.key, tokens, this.spec(), now), (w) => ({ waitMs: Math.max(1, w, this.slidingLog.waitMs(now)) }));
    }
    const own = this.slidingLog.waitMs(now);
    if (own > 0) return { waitMs: own };
    return whenReady(this.store.reserve(this.key, tokens, this.spec(), now), (r) =>
      r.ok ? { permit: this.grant(tokens), waitMs: 0 } : { waitMs: r.waitMs },
    );
  }

  /** Waits for a permit. FIFO within `priority` (higher first); rejects with an `AbortError` when `signal` fires. */
  acquire(options: AcquireOptions = {}): Promise<Permit> {
    const { tokens = 0, priority = 0, signal } = options;
    checkTokens(tokens, this.key);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.closed) return Promise.reject(closedError(this.key));
    return new Promise<Permit>((resolve, reject) => {
      const onAbort = (): void => {
        this.removeWaiter(waiter);
        reject(abortError(signal));
      };
      const waiter: Waiter = {
        tokens,
        priority,
        seq: ++this.seq,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.insertWaiter(waiter);
      this.pump();
    });
  }

  /**
   * Adopts what the server announced: its limits, converted from the window it states (IETF `w=`,
   * per minute for OpenAI, Azure and Anthropic, implied by the resets for legacy headers) to this
   * limiter's window and never above the configured ones; and what it says remains, as a cap.
   * `from` is the permit of the call that brought the answer: starts made after it, and other calls
   * still in flight, may not have been counted in the remainder yet, so they are taken off it.
   */
  observe(snapshot: RateLimitSnapshot, from?: { readonly seq?: number; readonly released?: boolean }, refused = false): void {
    const before = this.effectiveRequestsPerWindow();
    const windowMs = this.configured.windowMs ?? DEFAULT_WINDOW_MS;
    const r = snapshot.requests;
    const t = snapshot.tokens ?? snapshot.inputTokens;
    const probe = this.answeredProbe(from?.seq, refused, r?.windowMs !== undefined);
    const requestWindow = r?.windowMs ?? this.implyWindow(r, snapshot.at);
    if (r?.limit !== undefined && r.limit > 0 && requestWindow !== undefined) this.announced.requests = (r.limit * windowMs) / requestWindow;
    if (t?.limit !== undefined && t.limit > 0) this.announced.tokens = (t.limit * windowMs) / (t.windowMs ?? DEFAULT_WINDOW_MS);
    // The server counted what had reached it when the answering call did. Starts made after that call
    // had not; nor, where calls overtake each other on the way (a new connection is slower), had calls
    // still in flight that were started before it. Either can be the larger share.
    const othersInFlight = this.inFlightCount - (from?.released === false ? 1 : 0);
    const unseen = from?.seq !== undefined ? Math.max(0, this.starts - from.seq, othersInFlight) : 0;
    const cap: ServerCap = {};
    const window = refillOf(snapshot) === 'window';
    if (window) this.weighSlidingLog(r, requestWindow, unseen, from?.seq, refused);
    const spend = window && !this.slidingLog.active();
    const end = spend && r?.remaining !== undefined ? this.windowEnd(remainderOf(r, unseen), snapshot.at, requestWindow, probe, refused) : undefined;
    if (window && !spend && r?.remaining !== undefined) this.lastRemaining = remainderOf(r, unseen);
    const requestsCap = capOf(r, snapshot.at, unseen, spend, requestWindow, { end, unitHolds: this.unitHolds });
    if (requestsCap?.lateResetAt !== undefined) this.probeFrom(requestsCap.resetAt, requestsCap.lateResetAt, 'end', snapshot.at);
    else if (requestsCap?.unitHold && r?.resetAt !== undefined) this.probeFrom(requestsCap.resetAt, r.resetAt, 'unit', snapshot.at);
    if (requestsCap) {
      const { unitHold: _, ...window } = requestsCap;
      cap.requests = from?.seq !== undefined ? { ...window, seq: from.seq } : window;
    }
    const tokensCap = capOf(t, snapshot.at, 0, false, t?.windowMs ?? DEFAULT_WINDOW_MS);
    if (tokensCap) cap.tokens = tokensCap;
    if (cap.requests || cap.tokens) void this.store.cap(this.key, cap, this.clock.now());
    this.cachedSpec = undefined;
    this.emitRate(before, 'announced by the server');
    this.rearm();
  }

  /**
   * Weighs a window answer against the key's own starts ({@link SlidingLogWatch}): a remainder that
   * rose while the named reset stayed the same, and that equals the limit less our own starts of the
   * last window, is a sliding log's; then our own starts are spent, not the named reset.
   */
  private weighSlidingLog(r: RateLimitWindow | undefined, windowMs: number | undefined, unseen: number, seq: number | undefined, refused: boolean): void {
    if (!this.store.keepsEarliestEnds || r?.remaining === undefined || r.limit === undefined || r.limit <= 0) return;
    const adjusted = remainderOf(r, unseen);
    const sameWindow = r.resetAt !== undefined && this.lastNamedReset !== undefined && Math.abs(r.resetAt - this.lastNamedReset) < SAME_WINDOW_MS;
    const rose = sameWindow && this.lastRemaining !== undefined && adjusted > this.lastRemaining;
    if (r.resetAt !== undefined) this.lastNamedReset = r.resetAt;
    if (seq === undefined || windowMs === undefined) return;
    if (this.slidingLog.answer(seq, this.clock.now(), r.limit, windowMs, r.remaining, rose, refused)) this.cachedSpec = undefined;
  }

  /**
   * The earliest time the request window in force can end, for a family whose resets are whole seconds
   * rounded up (up to a second late, as long as a 1 s window itself). A window of `windowMs` first
   * answered at `t` has ended by `t + windowMs`: a fixed window began at or before that request arrived,
   * a sliding log frees its slot then. A window opens when the remainder rises or a probe gets through.
   * Undefined when not known.
   */
  private windowEnd(remaining: number, at: number, windowMs: number | undefined, probe: Probe | undefined, refused: boolean): number | undefined {
    if (this.lastRemaining === undefined || remaining > this.lastRemaining || (probe !== undefined && !refused)) this.windowAnsweredAt = at;
    this.lastRemaining = remaining;
    if (!this.earliestEnds || !this.store.keepsEarliestEnds || windowMs === undefined || this.windowAnsweredAt === undefined) return undefined;
    return this.windowAnsweredAt + windowMs;
  }

  /**
   * The probe the answer to start `seq` was, if any, and what its refusal teaches: an early end was too
   * early, so an implied window is a second longer than thought and a stated one (IETF `w`) keeps its
   * named resets from then on; a refill interval was too short, so none is held at 0 any more.
   */
  private answeredProbe(seq: number | undefined, refused: boolean, stated: boolean): Probe | undefined {
    if (seq === undefined) return undefined;
    const probe = this.probes.get(seq);
    this.probes.delete(seq);
    if (probe === 'end' && refused) {
      if (stated) this.earliestEnds = false;
      else this.impliedWindowMs += 1000;
    }
    if (probe === 'unit' && refused) this.unitHolds = false;
    return probe;
  }

  /** The first start from `from` until `until` is a probe of `kind` (the earliest such phase is kept). */
  private probeFrom(from: number, until: number, kind: Probe, at: number): void {
    const p = this.probePhase;
    if (!p || p.until <= at || from < p.from) this.probePhase = { from, until, kind };
  }

  /**
   * The window a legacy family implies: the longest time to reset seen (a fresh window shows all of
   * it), in whole seconds rounded down. Resets come in whole seconds, often as an epoch rounded up
   * (express-rate-limit, rate-limiter-flexible's README), which puts the reset up to a second late: a
   * rolling 1 s window shows resets of up to 1.99 s, which rounded up read as a 2 s window and halved
   * the rate (bench sliding-window/headers: 1.8x of N/rate).
   */
  private implyWindow(w: RateLimitWindow | undefined, at: number): number | undefined {
    if (w?.resetAt === undefined) return this.impliedWindowMs > 0 ? this.impliedWindowMs : undefined;
    const left = Math.floor((w.resetAt - at) / 1000) * 1000;
    if (left > this.impliedWindowMs && left <= 86_400_000) this.impliedWindowMs = left;
    return this.impliedWindowMs > 0 ? this.impliedWindowMs : undefined;
  }

  /**
   * Whether the refusal of the call started at `startedAt` is explained by the concurrency cap learned
   * since: it started with more calls in flight than the cap allows. Such a 429 needs no lower rate
   * and no cooldown; the cap already keeps the next calls from it.
   */
  refusalExplainedByInFlightCap(startedAt: number | undefined): boolean {
    return startedAt !== undefined && startedAt === this.refusedAboveCapAt;
  }

  /**
   * Tells the limiter a call on this key was answered 429: the learned request rate drops
   * multiplicatively. `startedAt` (the permit's) makes 429s of calls started before the last decrease
   * count once, not once each.
   */
  onRateLimited(startedAt?: number): void {
    if (!this.learned) return;
    if (!this.refusedBare) this.cachedSpec = undefined;
    this.refusedBare = true;
    const now = this.clock.now();
    const before = this.effectiveRequestsPerWindow();
    // The new rate is cut from what got through (the goodput), never raised above the rate in force.
    if (!this.learned.decrease(now, before, this.learnedCeiling(), startedAt)) return;
    this.cachedSpec = undefined;
    this.emitRate(before, 'rate limited (429): cut to 0.95 of what got through');
  }

  /**
   * Counts a success for the learned rate: once a call started after the last decrease (`startedAt`,
   * the permit's) succeeds, the next 429 is a new congestion event. A success that ends a refusal which
   * outlasted the cooldowns paces the key at its window's average ({@link LearnedRate.paceAfterRefusal}).
   */
  onSuccess(startedAt?: number): void {
    if (!this.learned) return;
    const now = this.clock.now();
    this.learned.onSuccess(startedAt, now);
    // Checked first: the rate in force is computed (on every success) only when a refusal just ended.
    if (!this.learned.refusalEnded()) return;
    const before = this.effectiveRequestsPerWindow();
    if (!this.learned.paceAfterRefusal(now, startedAt ?? now, before, this.learnedCeiling())) return;
    this.cachedSpec = undefined;
    this.emitRate(before, 'a refusal outlasted its cooldowns (a window): paced at 0.95 of what its cycle let through');
  }

  /** The ceiling of a learned rate: the configured or announced limit (it recovers up to it, then they govern again). */
  private learnedCeiling(): number | undefined {
    return minDefined(this.configured.requestsPerMinute, this.announced.requests);
  }

  /** ms between starts at the rate learned from 429s, while one is in force; else undefined. */
  learnedSpacingMs(): number | undefined {
    const rate = this.learned?.rate(this.clock.now());
    return rate === undefined ? undefined : (this.configured.windowMs ?? DEFAULT_WINDOW_MS) / rate;
  }

  /** The learned rate's congestion event in force, for processes that share this key's limit (batch/redis); else undefined. */
  learnedState(): LearnedRateState | undefined {
    return this.learned?.snapshot();
  }

  /** Adopts a congestion event another process sharing this key's limit decided: one decrease for the fleet, the same rate everywhere. */
  adoptLearned(state: LearnedRateState): void {
    if (!this.learned) return;
    const before = this.effectiveRequestsPerWindow();
    this.learned.adopt(state, this.learnedCeiling());
    this.cachedSpec = undefined;
    this.emitRate(before, 'rate limited (429): the rate the fleet learned');
    this.rearm();
  }

  /** Counts starts and successes other processes made on this key now: the fleet's goodput and sending rate, which its learned rate is cut from. */
  countOthers(starts: number, successes: number): void {
    if (!this.learned) return;
    const now = this.clock.now();
    if (starts > 0) this.learned.count(now, starts);
    if (successes > 0) this.learned.onSuccess(now, now, successes);
  }

  /** Rejects every waiter with an `AbortError` and cancels the timer. Permits already granted stay valid. */
  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    for (const w of this.waiters.splice(0)) {
      w.cleanup();
      w.reject(closedError(this.key));
    }
  }

  /** The bucket parameters in force now (cached while nothing that changes them happened). */
  spec(): BucketSpec {
    if (this.cachedSpec) return this.cachedSpec;
    const spec = this.computeSpec();
    // A learned rate moves with time, and a key refused bare keeps its burst only while it sends: never
    // cache a spec computed while either holds.
    if (!this.learned?.active() && !this.refusedBare) this.cachedSpec = spec;
    return spec;
  }

  private cachedSpec: BucketSpec | undefined;

  private computeSpec(): BucketSpec {
    const windowMs = this.configured.windowMs ?? DEFAULT_WINDOW_MS;
    // Where a sliding log was seen, its announced limit is held by our own starts (slidingLog.waitMs), not paced.
    const requests = this.slidingLog.active()
      ? minDefined(this.configured.requestsPerMinute, this.learned?.rate(this.clock.now()))
      : this.effectiveRequestsPerWindow();
    const tokens = this.effectiveTokensPerWindow();
    const spaced = this.refusedBare || this.learned?.active() === true;
    // After a pause longer than a start's spacing (a cooldown), the half start of credit is not the
    // server's: the first start takes the whole bucket, so the next waits a full spacing. With 1.5 kept,
    // a key resuming after a Retry-After of 1 s sent two starts 52 ms apart to a bucket of 10/s with a
    // burst of 1, was refused the second, and cooled another second (BENCH=cli: 3x of the minimum).
    // A configured burst holds all the same: the user said what the server takes.
    const paused = spaced && requests !== undefined && this.clock.now() - this.lastGrantAt > (LEARNED_BURST * windowMs) / requests;
    const spec: BucketSpec = {
      windowMs,
      requestBurst: requests === undefined ? 1 : Math.max(1, Math.min(this.configured.burst ?? (paused ? 1 : defaultBurst(requests, windowMs, spaced)), requests)),
      tokenBurst: tokens === undefined ? 0 : Math.max(1, tokens * (this.configured.tokenBurstFraction ?? 1 / 60)),
    };
    if (requests !== undefined) spec.requests = requests;
    if (tokens !== undefined) spec.tokens = tokens;
    if (this.configured.minSpacingMs) spec.minSpacingMs = this.configured.minSpacingMs;
    return spec;
  }

  private isFull(): boolean {
    const max = minDefined(this.configured.maxInFlight, this.inFlightCapNow());
    return max !== undefined && this.inFlightCount >= max;
  }

  /** The learned concurrency cap in force now; announces each change. */
  private inFlightCapNow(): number | undefined {
    if (!this.learnedCap) return undefined;
    const cap = this.learnedCap.cap(this.clock.now());
    if (cap !== this.announcedCap) {
      const from = this.announcedCap;
      this.announcedCap = cap;
      const reason = from === undefined || (cap ?? Infinity) < from
        ? `429s come when more than ${String(cap)} calls are in flight`
        : `probing: ${String(cap)} in flight allowed again`;
      this.events.emit('inFlightCap', { key: this.key, from, to: cap, reason });
    }
    return cap;
  }

  private grant(tokens: number): Permit {
    this.inFlightCount++;
    this.lastGrantAt = this.clock.now();
    const inFlightAtStart = this.learnedCap?.atStart?.(this.inFlightCount) ?? this.inFlightCount;
    const seq = ++this.starts;
    if (this.store.keepsEarliestEnds) this.slidingLog.start(seq, this.clock.now());
    const p = this.probePhase;
    if (p && this.clock.now() >= p.from && this.clock.now() < p.until) {
      // Probes whose answers never came (cancelled calls) are forgotten beyond a few.
      if (this.probes.size >= 8) this.probes.clear();
      this.probes.set(seq, p.kind);
      this.probePhase = undefined;
    }
    this.learned?.count(this.clock.now());
    let released = false;
    let settled = false;
    const permit: Permit = {
      key: this.key,
      tokens,
      startedAt: this.clock.now(),
      seq,
      get released() {
        return released;
      },
      settle: (actual: number) => {
        if (settled || !(actual >= 0) || !Number.isFinite(actual)) return;
        settled = true;
        const delta = actual - tokens;
        if (delta !== 0) void this.store.settle(this.key, delta, this.spec(), this.clock.now());
        if (delta < 0) this.rearm();
      },
      release: (outcome?: PermitOutcome) => {
        if (released) return;
        released = true;
        this.inFlightCount--;
        if (outcome) {
          this.learnedCap?.record(inFlightAtStart, outcome === 'refused', this.clock.now());
          const cap = this.inFlightCapNow();
          if (outcome === 'refused' && cap !== undefined && inFlightAtStart > cap) this.refusedAboveCapAt = permit.startedAt;
        }
        this.pump();
      },
    };
    return permit;
  }

  private insertWaiter(w: Waiter): void {
    // Sorted by priority (desc) then arrival; binary search keeps inserts O(log n) + splice.
    let lo = 0;
    let hi = this.waiters.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.waiters[mid]!.priority >= w.priority) lo = mid + 1;
      else hi = mid;
    }
    this.waiters.splice(lo, 0, w);
    if (lo === 0) this.rearm();
  }

  private removeWaiter(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    w.cleanup();
    if (i === 0) this.rearm();
  }

  /** Drops the head timer and re-examines the head waiter (limits or the head changed). */
  private rearm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.pump();
  }

  /** Grants to head waiters while possible; then sets one timer for the head, or waits for a release. */
  private pump(): void {
    if (this.busy || this.cancelTimer || this.closed) return;
    while (this.waiters.length > 0) {
      if (this.isFull()) return; // a release() pumps again
      const head = this.waiters[0]!;
      const own = this.slidingLog.waitMs(this.clock.now());
      if (own > 0) return void this.afterReserveSync(head, false, own);
      const answer = this.store.reserve(this.key, head.tokens, this.spec(), this.clock.now());
      if (isPending(answer)) {
        this.busy = true;
        answer.then(
          (r) => {
            this.busy = false;
            this.afterReserve(head, r.ok, r.waitMs);
          },
          (e: unknown) => {
            this.busy = false;
            this.failHead(head, e);
          },
        );
        return;
      }
      if (!this.afterReserveSync(head, answer.ok, answer.waitMs)) return;
    }
  }

  /** Handles a reserve answer for `head`; returns whether the pump may continue with the next waiter. */
  private afterReserveSync(head: Waiter, ok: boolean, waitMs: number): boolean {
    if (!ok) {
      if (Number.isFinite(waitMs)) this.cancelTimer = this.clock.setTimer(Math.max(1, waitMs), () => {
        this.cancelTimer = undefined;
        this.pump();
      });
      return false;
    }
    const i = this.waiters.indexOf(head);
    if (i < 0) {
      // Aborted while an async reserve was in flight: give the tokens back.
      if (head.tokens > 0) void this.store.settle(this.key, -head.tokens, this.spec(), this.clock.now());
      return true;
    }
    this.waiters.splice(i, 1);
    head.cleanup();
    head.resolve(this.grant(head.tokens));
    return true;
  }

  private afterReserve(head: Waiter, ok: boolean, waitMs: number): void {
    if (this.afterReserveSync(head, ok, waitMs)) this.pump();
  }

  private failHead(head: Waiter, error: unknown): void {
    const i = this.waiters.indexOf(head);
    if (i >= 0) {
      this.waiters.splice(i, 1);
      head.cleanup();
      head.reject(error);
    }
    this.pump();
  }

  private emitRate(before: number | undefined, reason: string): void {
    const after = this.effectiveRequestsPerWindow();
    if (after !== before) this.events.emit('rate', { key: this.key, from: before, to: after, windowMs: this.configured.windowMs ?? DEFAULT_WINDOW_MS, reason });
  }
}

/**
 * The cap an answer's window puts on the next starts. A fixed window (`spend`) holds its remainder
 * until its reset, or, where its earliest possible end (`end`, {@link RateLimiter.windowEnd}) comes
 * first, until then and from then on one probe until the reset (`lateResetAt`). A continuous refill
 * holds it only until one more unit is back (`windowMs / limit`, at most a second, at most the reset),
 * since "reset" there is when the bucket is full again: at 0 remaining the next start waits one refill
 * interval, not the whole reset.
 */
function capOf(
  w: RateLimitWindow | undefined,
  at: number,
  unseen: number,
  spend: boolean,
  windowMs: number | undefined,
  window: { end?: number | undefined; unitHolds?: boolean } = {},
): (CapWindow & { unitHold?: boolean }) | undefined {
  if (w?.remaining === undefined) return undefined;
  const remaining = remainderOf(w, unseen);
  const unitMs = w.limit !== undefined && w.limit > 0 && windowMs !== undefined ? Math.ceil(windowMs / w.limit) : 1_000;
  if (spend && w.resetAt !== undefined) {
    // Resets in whole seconds: "1" says only "within a second". A bucket that refills faster than that
    // (a leaky bucket behind IETF headers) says 0 remaining on almost every answer, so at 0 with a
    // reset that close, hold only one refill interval of the announced rate; a window in its last
    // second answers that probe 429 with its wait. Once such a probe was refused (a sliding log that
    // was just filled), hold until the window's earliest end, else its reset.
    const known = window.end !== undefined && window.end > at ? window.end : undefined;
    if (remaining < 1 && w.resetAt - at <= SAME_WINDOW_MS) {
      if (window.unitHolds !== false) return { remaining, resetAt: Math.min(w.resetAt, at + unitMs), unitHold: true };
      return { remaining, resetAt: Math.min(w.resetAt, known ?? w.resetAt) };
    }
    if (known !== undefined && known < w.resetAt) return { remaining, resetAt: known, lateResetAt: w.resetAt, spend: true };
    return { remaining, resetAt: w.resetAt, spend: true };
  }
  if (spend) return undefined;
  const untilFull = w.resetAt !== undefined ? w.resetAt - at : Infinity;
  const holdMs = Math.min(unitMs, 1_000, untilFull);
  return holdMs > 0 && Number.isFinite(holdMs) ? { remaining, resetAt: at + holdMs } : undefined;
}

/**
 * A start that tests what a window holds: at its earliest possible end (`end`, CapWindow.lateResetAt)
 * or one refill interval after an answer of 0 remaining (`unit`). Its answer decides whether such
 * starts are made again.
 */
type Probe = 'end' | 'unit';

/** What an answer says remains, less the starts made after its call (the server had not counted them). */
function remainderOf(w: RateLimitWindow, unseen: number): number {
  return Math.max(0, (w.remaining ?? 0) - unseen);
}

/** Limits from which the default burst is 2: its cost, one start per window, is at most 1 % of the rate. */
const BURST_TWO_FROM = 100;

/**
 * The burst of a learned rate: half a start of credit kept beyond the one a start needs, so that a timer
 * firing late (and the wait rounded up to a whole ms) is made up by the next start, while two starts at
 * once never fit. With 1 every late tick was lost (bench sliding-window/blind: starts at 0.93 of the
 * learned rate).
 */
const LEARNED_BURST = 1.5;

/**
 * Default request burst: one ms worth, so very high rates are not capped by the clock's resolution;
 * and, for a known rate, at least 2 from {@link BURST_TWO_FROM} per window, so that a timer firing a
 * millisecond late is made up by the next start instead of lost (with burst 1 every late tick was lost:
 * the demo's keys, a start every 25 ms, ran at 96 % of their limit). A learned rate keeps less than 2
 * ({@link LEARNED_BURST}): it probes a server whose limit is unknown, where even spacing is what gets
 * through (two starts at once against a concurrency cap of 2 doubled the run: bench concurrency/blind
 * 1.37 -> 2.1x).
 */
function defaultBurst(requests: number, windowMs: number, learning: boolean): number {
  return Math.max(Math.ceil(requests / windowMs), learning ? LEARNED_BURST : requests >= BURST_TWO_FROM ? 2 : 1);
}

function minDefined(...values: (number | undefined)[]): number | undefined {
  let min: number | undefined;
  for (const v of values) if (v !== undefined && (min === undefined || v < min)) min = v;
  return min;
}

function checkTokens(tokens: number, key: string): void {
  if (typeof tokens !== 'number' || !Number.isFinite(tokens) || tokens < 0) {
    throw new RangeError(`rate limiter "${key}": tokens must be a finite number >= 0, got ${String(tokens)}`);
  }
}

function closedError(key: string): Error {
  const err = new Error(`rate limiter "${key}" is closed`);
  err.name = 'AbortError';
  return err;
}
