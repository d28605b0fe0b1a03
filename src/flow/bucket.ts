/**
 * The limiter's bucket algorithm as pure functions over a small state record, so that the in-memory
 * store and the Redis (Lua) store run the very same arithmetic.
 *
 * Why a token bucket with a smooth refill and a small burst (default 1 request, one second of tokens):
 * providers count either a sliding window of 60 s or a bucket replenished continuously, and some
 * enforce "60 000/min" as "1 000/s". A smooth refill never bursts into the short-term limit, and the
 * refill rates below are chosen so that no window of `windowMs` ever holds more than the limit, so a
 * sliding-window server never sees one request too many, while throughput stays at the limit
 * (requests, burst 1) or within the burst share of it (tokens).
 * A sliding log would be exact too but bursts the whole minute's quota at once, which trips the
 * short-term enforcement.
 */

/** What one reserve is checked against. Computed by the limiter from configured, announced and learned limits. */
export interface BucketSpec {
  /** Window the rates refer to, ms. */
  windowMs: number;
  /** Requests per window (absent: unlimited). */
  requests?: number;
  /** Request bucket capacity. */
  requestBurst: number;
  /** Tokens per window (absent: unlimited). */
  tokens?: number;
  /** Token bucket capacity. */
  tokenBurst: number;
  /** Minimum spacing between starts, ms. */
  minSpacingMs?: number;
}

/** Persistent state of one key's buckets. Levels are "available now"; they may go negative (debt). */
export interface BucketState {
  /** Request bucket level at `updatedAt`. */
  requestLevel: number;
  /** Token bucket level at `updatedAt`. */
  tokenLevel: number;
  /** Time of the last refill computation, ms. */
  updatedAt: number;
  /** Time of the last granted start, ms (for min spacing). */
  lastStartAt?: number;
  /** Server-announced cap: at most `requestsRemaining` more starts until `requestsResetAt`. */
  requestsRemaining?: number;
  requestsResetAt?: number;
  /**
   * The reset the server named, when `requestsResetAt` is only the earliest the window can have ended
   * (see {@link CapWindow.lateResetAt}): from `requestsResetAt` until this, one start may go (a probe)
   * besides what was left, and the answer to it says what the window really holds.
   */
  requestsLateResetAt?: number;
  /** The cap is a window's remainder that may be spent at once (see {@link CapWindow.spend}). */
  requestsSpend?: boolean;
  /** Start number of the call whose answer set the request cap (see {@link CapWindow.seq}). */
  requestsSeq?: number;
  /** Server-announced cap on tokens until `tokensResetAt`. */
  tokensRemaining?: number;
  tokensResetAt?: number;
}

/** Result of {@link reserveBucket}: granted, or how long until it could be. */
export interface ReserveResult {
  ok: boolean;
  /** 0 when `ok`; else ms until the reserve could succeed (may be Infinity for an impossible request). */
  waitMs: number;
}

/** A fresh state: both buckets full. */
export function newBucketState(spec: BucketSpec, now: number): BucketState {
  return { requestLevel: spec.requestBurst, tokenLevel: spec.tokenBurst, updatedAt: now };
}

/**
 * Request refill rate per ms. A bucket of capacity `b` refilled at `(n - b + 1) / window` grants at most
 * `n` starts in any half-open window `(t - window, t]`, the window servers count (a grant needs a whole
 * unit, so at most `b - 1 + refill` fit after one just outside). With the default `b = 1` this is exactly
 * `n / window`: full throughput, one start every `window / n` (waits are rounded up to whole ms).
 */
export const requestRate = (spec: BucketSpec): number =>
  spec.requests === undefined ? Infinity : Math.max(spec.requests - spec.requestBurst + 1, 1e-9) / spec.windowMs;

/** Token refill rate per ms: `(t - burst) / window`, so a window never holds more than `t` tokens. */
export const tokenRate = (spec: BucketSpec): number =>
  spec.tokens === undefined ? Infinity : Math.max(spec.tokens - spec.tokenBurst, spec.tokens * 0.01) / spec.windowMs;

/** Float slack: levels computed from elapsed ms are off by ~1e-12. */
const EPS = 1e-9;

/** Refills both buckets up to `now` (mutates `state`). */
export function refill(state: BucketState, spec: BucketSpec, now: number): void {
  const elapsed = now - state.updatedAt;
  if (elapsed > 0) {
    if (spec.requests !== undefined) {
      state.requestLevel = Math.min(spec.requestBurst, state.requestLevel + elapsed * requestRate(spec));
    }
    if (spec.tokens !== undefined) {
      state.tokenLevel = Math.min(spec.tokenBurst, state.tokenLevel + elapsed * tokenRate(spec));
    }
    state.updatedAt = now;
  }
  // Limits can shrink at run time: never keep more than the (new) capacity.
  if (state.requestLevel > spec.requestBurst) state.requestLevel = spec.requestBurst;
  if (state.tokenLevel > spec.tokenBurst) state.tokenLevel = spec.tokenBurst;
  if (state.requestsResetAt !== undefined && now >= state.requestsResetAt) {
    if (state.requestsLateResetAt !== undefined && now < state.requestsLateResetAt) {
      state.requestsRemaining = Math.max(state.requestsRemaining ?? 0, 1);
      state.requestsResetAt = state.requestsLateResetAt;
      delete state.requestsLateResetAt;
    } else {
      delete state.requestsRemaining;
      delete state.requestsResetAt;
      delete state.requestsLateResetAt;
      delete state.requestsSpend;
      delete state.requestsSeq;
    }
  }
  if (state.tokensResetAt !== undefined && now >= state.tokensResetAt) {
    delete state.tokensRemaining;
    delete state.tokensResetAt;
  }
}

/** ms until one start with `tokens` could be granted (0 = now). Does not change the buckets except for refill. */
export function bucketWaitMs(state: BucketState, spec: BucketSpec, tokens: number, now: number): number {
  refill(state, spec, now);
  let wait = 0;
  if (spec.minSpacingMs !== undefined && state.lastStartAt !== undefined) {
    wait = Math.max(wait, state.lastStartAt + spec.minSpacingMs - now);
  }
  if (spec.requests !== undefined && state.requestLevel < 1 - EPS && !spendsCap(state, now)) {
    wait = Math.max(wait, (1 - state.requestLevel) / requestRate(spec));
  }
  if (spec.tokens !== undefined && tokens > 0) {
    // A request larger than the bucket passes when the bucket is full (and leaves a debt).
    const need = Math.min(tokens, spec.tokenBurst);
    if (state.tokenLevel < need - EPS) {
      wait = Math.max(wait, (need - state.tokenLevel) / tokenRate(spec));
    }
  }
  if (state.requestsRemaining !== undefined && state.requestsResetAt !== undefined && state.requestsRemaining < 1) {
    wait = Math.max(wait, state.requestsResetAt - now);
  }
  if (state.tokensRemaining !== undefined && state.tokensResetAt !== undefined && tokens > 0 && state.tokensRemaining < Math.min(tokens, spec.tokenBurst)) {
    wait = Math.max(wait, state.tokensResetAt - now);
  }
  // Round up to whole ms so that a timer set for `wait` finds the capacity there (no 0.3 ms re-arms).
  return wait > 0 ? Math.ceil(wait - 1e-9) : 0;
}

/** Takes one start and `tokens` if possible now (mutates `state`). */
export function reserveBucket(state: BucketState, spec: BucketSpec, tokens: number, now: number): ReserveResult {
  const waitMs = bucketWaitMs(state, spec, tokens, now);
  if (waitMs > 0) return { ok: false, waitMs };
  // A start spent from a window's announced remainder does not draw on the smooth bucket: after the
  // reset the bucket is whole again for the new window's first starts.
  if (spec.requests !== undefined && !spendsCap(state, now)) state.requestLevel -= 1;
  if (spec.tokens !== undefined) state.tokenLevel -= tokens;
  if (state.requestsRemaining !== undefined) state.requestsRemaining -= 1;
  if (state.tokensRemaining !== undefined) state.tokensRemaining -= tokens;
  state.lastStartAt = now;
  return { ok: true, waitMs: 0 };
}

/** Gives back (`delta < 0`) or charges (`delta > 0`) tokens after the response reported its real usage. */
export function settleBucket(state: BucketState, spec: BucketSpec, delta: number, now: number): void {
  refill(state, spec, now);
  if (spec.tokens !== undefined) state.tokenLevel = Math.min(spec.tokenBurst, state.tokenLevel - delta);
  if (state.tokensRemaining !== undefined) state.tokensRemaining -= delta;
}

/** The server's word on what remains of one budget until when. */
export interface CapWindow {
  /** Starts (or tokens) that remain, already lowered by the starts the server had not yet counted. */
  remaining: number;
  /** Until when the cap holds, ms since epoch. */
  resetAt: number;
  /**
   * The reset the server named, when it is later than `resetAt`: resets in whole seconds are rounded
   * up, so a window can end up to a second before the one named, and a window of `w` that answered
   * at `t` has ended by `t + w` (a fixed window began at or before that answer's arrival; a sliding log
   * frees that request's slot then). `resetAt` is then that earliest end: from it one start may go
   * as a probe, and nothing more before an answer or this reset.
   */
  lateResetAt?: number;
  /**
   * The server counts a fixed window that ends at `resetAt` and said what remains of it (IETF
   * `RateLimit`, legacy `X-RateLimit-*`): the remainder may be spent at once, so the smooth refill does
   * not hold it back, and nothing more starts once it is spent. Without it the cap only bounds the
   * smooth bucket (a continuous refill, as OpenAI and Anthropic describe theirs).
   */
  spend?: boolean;
  /**
   * The start number of the call that brought the answer. Of two answers from one window, the one to a
   * later start is the fresher view of the server (it counts other clients of the key too); an answer
   * to an earlier start that arrives late only tightens the reset.
   */
  seq?: number;
}

/** The server's word on what remains until when; adopted as a cap (never raised by us). */
export interface ServerCap {
  requests?: CapWindow;
  tokens?: CapWindow;
}

/**
 * Two resets less than this apart name the same window: IETF and legacy resets are whole seconds
 * rounded up, so answers from one window name resets up to a second apart.
 */
export const SAME_WINDOW_MS = 1_000;

/** Whether a start may be taken from a window's announced remainder now, bypassing the smooth bucket. */
function spendsCap(state: BucketState, now: number): boolean {
  return state.requestsSpend === true && state.requestsResetAt !== undefined && now < state.requestsResetAt && (state.requestsRemaining ?? 0) >= 1;
}

/**
 * Records a server cap in the state (mutates `state`).
 *
 * Answers of one window arrive out of order, so a window cap is merged rather than overwritten: the
 * answer to the latest start is the freshest view of the server, so its remainder (less the starts made
 * after it) is kept, while every answer's rounded-up reset is an upper bound of the real one, so the
 * earliest is kept. An answer naming an earlier window than the one held arrived late and is ignored.
 */
export function capBucket(state: BucketState, cap: ServerCap, now: number): void {
  if (cap.requests && cap.requests.resetAt > now) {
    const c = cap.requests;
    // Windows are told apart by the resets the servers named; the earliest ends are merged beside them.
    const held = state.requestsResetAt;
    const heldNamed = state.requestsLateResetAt ?? held;
    const named = c.lateResetAt ?? c.resetAt;
    const holding = c.spend === true && state.requestsSpend === true && held !== undefined && held > now && heldNamed !== undefined;
    if (holding && Math.abs(named - heldNamed) < SAME_WINDOW_MS) {
      const fresher = c.seq === undefined || state.requestsSeq === undefined || c.seq >= state.requestsSeq;
      if (fresher) {
        state.requestsRemaining = c.remaining;
        if (c.seq !== undefined) state.requestsSeq = c.seq;
        else delete state.requestsSeq;
      }
      state.requestsResetAt = Math.min(held, c.resetAt);
      setLateReset(state, Math.min(heldNamed, named));
    } else if (!(holding && named < heldNamed)) {
      state.requestsRemaining = c.remaining;
      state.requestsResetAt = c.resetAt;
      setLateReset(state, named);
      if (c.spend) state.requestsSpend = true;
      else delete state.requestsSpend;
      if (c.seq !== undefined) state.requestsSeq = c.seq;
      else delete state.requestsSeq;
    }
  }
  if (cap.tokens && cap.tokens.resetAt > now) {
    state.tokensRemaining = cap.tokens.remaining;
    state.tokensResetAt = cap.tokens.resetAt;
  }
}

/** Keeps the named reset only while it is later than the cap's own (else the cap ends there anyway). */
function setLateReset(state: BucketState, named: number): void {
  if (state.requestsResetAt !== undefined && named > state.requestsResetAt) state.requestsLateResetAt = named;
  else delete state.requestsLateResetAt;
}
