/**
 * Where per-key flow state lives: the limiter buckets, the key states (cooling / parked / disabled) and
 * the quota counters. The default {@link MemoryFlowBackend} keeps them in this process; `flow/redis/`
 * implements the same interfaces in Redis (Lua) so that N processes share one quota.
 *
 * Every operation returns {@link MaybePromise}: the in-memory store answers synchronously (the limiter's
 * fast path stays free of promises), the Redis store answers with a promise, and callers handle both
 * through the one helper {@link whenReady}, so the executor has a single code path.
 */
import {
  capBucket,
  bucketWaitMs,
  newBucketState,
  reserveBucket,
  settleBucket,
  type BucketSpec,
  type BucketState,
  type ReserveResult,
  type ServerCap,
} from './bucket.js';
import type { RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';
import type { InFlightCapLearner } from './learned-in-flight-cap.js';

export type { BucketSpec, ReserveResult, ServerCap } from './bucket.js';

/** A value, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** Calls `fn` with the value at once when it is not a promise, else after it resolves. */
export function whenReady<T, U>(value: MaybePromise<T>, fn: (v: T) => U): MaybePromise<U> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

/** Whether a store answer is still pending (an async backend). */
export function isPending<T>(value: MaybePromise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/**
 * Storage of the limiter buckets of each key (`key` is the API key *name*, never its secret).
 * All methods are atomic per key; `now` is the caller's clock so that virtual time works everywhere.
 */
export interface LimiterStore {
  /** Takes one request start and `tokens` from `key`'s buckets if possible at `now`; else says how long to wait. */
  reserve(key: string, tokens: number, spec: BucketSpec, now: number): MaybePromise<ReserveResult>;
  /** ms until a reserve of `tokens` could succeed, without taking anything. */
  waitMs(key: string, tokens: number, spec: BucketSpec, now: number): MaybePromise<number>;
  /** Charges (`delta > 0`) or refunds (`delta < 0`) tokens once the real usage is known. */
  settle(key: string, delta: number, spec: BucketSpec, now: number): MaybePromise<void>;
  /** Adopts what the server said remains until its reset; no more is let through until then. */
  cap(key: string, cap: ServerCap, now: number): MaybePromise<void>;
  /**
   * Whether {@link cap} keeps a window's earliest end apart from the reset the server named
   * (`CapWindow.lateResetAt`, bucket.ts). A store that does not is given the named reset only, so
   * nothing starts before it.
   */
  readonly keepsEarliestEnds?: boolean;
  /**
   * The learner of `key`'s concurrency cap, for a store whose keys several processes share: it counts
   * their calls in flight as well as this process's, and its cap is theirs together. Absent (or
   * undefined for a key): the limiter learns from its own calls alone.
   */
  inFlightCap?(key: string): InFlightCapLearner | undefined;
}

/** A key's availability. `until` is ms since epoch. */
export type KeyState =
  | { readonly state: 'active' }
  | { readonly state: 'cooling'; readonly until: number; readonly reason: string }
  | { readonly state: 'parked'; readonly until: number; readonly reason: string }
  | { readonly state: 'disabled'; readonly reason: string };

/** Storage of key states, shared by every process using the same keys. */
export interface KeyStateStore {
  /** The state of `key` (active when never set or expired). */
  get(key: string, now: number): MaybePromise<KeyState>;
  /** Sets `key`'s state; an `active` state clears it. A later `until` never shortens an existing cooldown. */
  set(key: string, state: KeyState, now: number): MaybePromise<void>;
  /** Non-active states of all keys, expired ones removed. */
  states(now: number): MaybePromise<Map<string, KeyState>>;
}

/** What the quota monitor persists per key (JSON-able). */
export interface QuotaRecord {
  /** Day the counters belong to, `YYYY-MM-DD` in the monitor's day offset. */
  day: string;
  /** Requests started that day. */
  requests: number;
  /** Tokens used that day (settled usage). */
  tokens: number;
  /** Latest rate-limit snapshot seen. */
  snapshot?: RateLimitSnapshot;
  /** A quota pause in force until this time, ms. */
  pausedUntil?: number;
  /** Why the key is paused. */
  pauseReason?: string;
}

/** Storage of quota counters per key. */
export interface QuotaStore {
  load(key: string): MaybePromise<QuotaRecord | undefined>;
  save(key: string, record: QuotaRecord): MaybePromise<void>;
  /** Adds to the counters of `day` (resetting them when the stored day differs) and returns the new record. */
  add(key: string, day: string, requests: number, tokens: number): MaybePromise<QuotaRecord>;
}

/** The three stores a key pool needs. */
export interface FlowBackend {
  readonly limiter: LimiterStore;
  readonly keys: KeyStateStore;
  readonly quota: QuotaStore;
  /** Releases connections (Redis); the memory backend has nothing to release. */
  close?(): Promise<void>;
}

/** In-memory {@link LimiterStore}: plain objects, synchronous answers. */
export class MemoryLimiterStore implements LimiterStore {
  private readonly buckets = new Map<string, BucketState>();
  readonly keepsEarliestEnds = true;

  private bucket(key: string, spec: BucketSpec, now: number): BucketState {
    let state = this.buckets.get(key);
    if (!state) {
      state = newBucketState(spec, now);
      this.buckets.set(key, state);
      const cap = this.pendingCaps.get(key);
      if (cap) {
        capBucket(state, cap, now);
        this.pendingCaps.delete(key);
      }
    }
    return state;
  }

  reserve(key: string, tokens: number, spec: BucketSpec, now: number): ReserveResult {
    return reserveBucket(this.bucket(key, spec, now), spec, tokens, now);
  }

  waitMs(key: string, tokens: number, spec: BucketSpec, now: number): number {
    return bucketWaitMs(this.bucket(key, spec, now), spec, tokens, now);
  }

  settle(key: string, delta: number, spec: BucketSpec, now: number): void {
    settleBucket(this.bucket(key, spec, now), spec, delta, now);
  }

  cap(key: string, cap: ServerCap, now: number): void {
    const state = this.buckets.get(key);
    if (state) capBucket(state, cap, now);
    else this.pendingCaps.set(key, cap);
  }

  /** Caps that arrive before the first reserve are applied when the bucket is created. */
  private readonly pendingCaps = new Map<string, ServerCap>();
}

const isExpired = (state: KeyState, now: number): boolean =>
  (state.state === 'cooling' || state.state === 'parked') && state.until <= now;

/** In-memory {@link KeyStateStore}. */
export class MemoryKeyStateStore implements KeyStateStore {
  private readonly map = new Map<string, KeyState>();

  get(key: string, now: number): KeyState {
    const state = this.map.get(key);
    if (!state) return ACTIVE;
    if (isExpired(state, now)) {
      this.map.delete(key);
      return ACTIVE;
    }
    return state;
  }

  set(key: string, state: KeyState, now: number): void {
    if (state.state === 'active') {
      this.map.delete(key);
      return;
    }
    const current = this.get(key, now);
    if (current.state === 'disabled') return;
    // A shorter cooldown never overrides a longer cooldown or park already in force.
    if (state.state !== 'disabled' && current.state !== 'active' && current.until >= state.until) return;
    this.map.set(key, state);
  }

  states(now: number): Map<string, KeyState> {
    for (const [key, state] of this.map) if (isExpired(state, now)) this.map.delete(key);
    return new Map(this.map);
  }
}

/** In-memory {@link QuotaStore}. */
export class MemoryQuotaStore implements QuotaStore {
  private readonly map = new Map<string, QuotaRecord>();

  load(key: string): QuotaRecord | undefined {
    const r = this.map.get(key);
    return r ? { ...r } : undefined;
  }

  save(key: string, record: QuotaRecord): void {
    this.map.set(key, { ...record });
  }

  add(key: string, day: string, requests: number, tokens: number): QuotaRecord {
    const current = this.map.get(key);
    const record: QuotaRecord =
      current && current.day === day ? { ...current } : { ...current, day, requests: 0, tokens: 0 };
    record.requests += requests;
    record.tokens += tokens;
    this.map.set(key, record);
    return { ...record };
  }
}

/** The default backend: everything in this process. */
export class MemoryFlowBackend implements FlowBackend {
  readonly limiter = new MemoryLimiterStore();
  readonly keys = new MemoryKeyStateStore();
  readonly quota = new MemoryQuotaStore();
}

/** The `active` state (shared instance). */
export const ACTIVE: KeyState = Object.freeze({ state: 'active' });
