/**
 * The flow backend in Redis: every key's request and token buckets, key states (cooling / parked with
 * expiry, disabled) and daily quota counters live in Redis and change only through atomic Lua scripts,
 * so N processes on N machines share one quota. Bucket arithmetic runs on the Redis server's clock
 * (TIME); cooldowns are stored as "ms from now" with PX expiry, so workers' clocks never need to agree.
 *
 * Key layout (P = the prefix, default `sluice`):
 * - `P:flow:bucket:<key>`  hash of the bucket state (levels, last refill, last start, server caps)
 * - `P:flow:state:<key>`   JSON `{ state, reason }` of a non-active key, expiring when the cooldown ends
 * - `P:flow:states`        set of key names that have a state (cleaned as they expire)
 * - `P:flow:quota:<key>`   JSON quota record (day, requests, tokens, latest snapshot), expiring at the day's rollover
 */
import type { Redis } from 'ioredis';
import type { BucketSpec, ReserveResult, ServerCap } from '../bucket.js';
import type { FlowBackend, KeyState, KeyStateStore, LimiterStore, QuotaRecord, QuotaStore } from '../backend.js';
import type { RateLimitSnapshot } from '../../classify/rate-limit/snapshot.js';
import { connectRedis, type ConnectRedisOptions } from './connect.js';
import { defineScript, type ScriptCommand } from './scripts.js';

const HERE = import.meta.url;

/** Options of {@link RedisFlowBackend}. */
export interface RedisFlowBackendOptions {
  /** Prefix of every Redis key. Default `sluice`. */
  prefix?: string;
}

/** Counts the round trips a component makes to Redis (for the benchmark and for metrics). */
export class RoundTripCounter {
  /** Round trips so far. */
  count = 0;
}

/** A bucket spec as the arguments the bucket scripts read, in their order (reserve.lua, and the lease script that calls it). */
export const specArgs = (spec: BucketSpec): (string | number)[] => [
  spec.windowMs,
  spec.requests ?? '',
  spec.requestBurst,
  spec.tokens ?? '',
  spec.tokenBurst,
  spec.minSpacingMs ?? '',
];

/** {@link LimiterStore} in Redis (reserve, wait, settle and cap are each one atomic script call). */
export class RedisLimiterStore implements LimiterStore {
  private readonly reserveScript: ScriptCommand;
  private readonly settleScript: ScriptCommand;
  private readonly capScript: ScriptCommand;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly trips = new RoundTripCounter(),
  ) {
    this.reserveScript = defineScript(redis, HERE, 'sluiceReserve', ['bucket-lib', 'reserve'], 1);
    this.settleScript = defineScript(redis, HERE, 'sluiceSettle', ['bucket-lib', 'settle'], 1);
    this.capScript = defineScript(redis, HERE, 'sluiceCap', ['bucket-lib', 'cap'], 1);
  }

  private bucketKey(key: string): string {
    return `${this.prefix}:flow:bucket:${key}`;
  }

  /** Ignores `_now`: the bucket runs on the Redis server's clock. */
  async reserve(key: string, tokens: number, spec: BucketSpec, _now?: number): Promise<ReserveResult> {
    this.trips.count++;
    const [ok, wait] = (await this.reserveScript(this.bucketKey(key), 'reserve', tokens, ...specArgs(spec))) as [number, number];
    return { ok: ok === 1, waitMs: wait };
  }

  async waitMs(key: string, tokens: number, spec: BucketSpec, _now?: number): Promise<number> {
    this.trips.count++;
    const [, wait] = (await this.reserveScript(this.bucketKey(key), 'wait', tokens, ...specArgs(spec))) as [number, number];
    return wait;
  }

  async settle(key: string, delta: number, spec: BucketSpec, _now?: number): Promise<void> {
    this.trips.count++;
    await this.settleScript(this.bucketKey(key), delta, ...specArgs(spec));
  }

  /** `now` (the caller's clock) only turns the caller's reset times into "ms from now". */
  async cap(key: string, cap: ServerCap, now: number): Promise<void> {
    this.trips.count++;
    const r = cap.requests;
    const t = cap.tokens;
    await this.capScript(
      this.bucketKey(key),
      r ? r.remaining : '',
      r ? r.resetAt - now : '',
      t ? t.remaining : '',
      t ? t.resetAt - now : '',
      r?.spend ? '1' : '',
    );
  }
}

/** {@link KeyStateStore} in Redis: a cooldown set by one worker is seen by all at once and ends by expiry. */
export class RedisKeyStateStore implements KeyStateStore {
  private readonly setScript: ScriptCommand;
  private readonly statesScript: ScriptCommand;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly trips = new RoundTripCounter(),
  ) {
    this.setScript = defineScript(redis, HERE, 'sluiceKeySet', ['key-set'], 2);
    this.statesScript = defineScript(redis, HERE, 'sluiceKeyStates', ['key-states'], 1);
  }

  private stateKey(key: string): string {
    return `${this.prefix}:flow:state:${key}`;
  }

  /** The set of key names with a state (lease calls that write a state name it too). */
  get namesKey(): string {
    return `${this.prefix}:flow:states`;
  }

  async get(key: string, now: number): Promise<KeyState> {
    this.trips.count++;
    const [value, ttl] = (await this.redis.multi().get(this.stateKey(key)).pttl(this.stateKey(key)).exec()) ?? [];
    return toKeyState(value?.[1] as string | null, Number(ttl?.[1] ?? -2), now);
  }

  async set(key: string, state: KeyState, now: number): Promise<void> {
    this.trips.count++;
    const ms = state.state === 'cooling' || state.state === 'parked' ? Math.max(0, state.until - now) : 0;
    const reason = state.state === 'active' ? '' : state.reason;
    await this.setScript(this.stateKey(key), this.namesKey, key, state.state, ms, reason);
  }

  async states(now: number): Promise<Map<string, KeyState>> {
    this.trips.count++;
    const flat = (await this.statesScript(this.namesKey, `${this.prefix}:flow:state:`)) as (string | number)[];
    const out = new Map<string, KeyState>();
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const name = String(flat[i]);
      const state = toKeyState(String(flat[i + 1]), Number(flat[i + 2]), now);
      if (state.state !== 'active') out.set(name, state);
    }
    return out;
  }
}

/** Turns a stored state and its remaining ms into a {@link KeyState} on the caller's clock. */
function toKeyState(raw: string | null | undefined, remainingMs: number, now: number): KeyState {
  if (!raw) return { state: 'active' };
  let parsed: { state?: string; reason?: string };
  try {
    parsed = JSON.parse(raw) as { state?: string; reason?: string };
  } catch {
    return { state: 'active' };
  }
  const reason = parsed.reason ?? '';
  if (parsed.state === 'disabled') return { state: 'disabled', reason };
  if ((parsed.state === 'cooling' || parsed.state === 'parked') && remainingMs > 0) {
    return { state: parsed.state, until: now + remainingMs, reason };
  }
  return { state: 'active' };
}

/** What {@link RedisQuotaStore.take} answers: whether the request may start, and the shared record after it. */
export interface QuotaTake {
  /** False when the day's budget was already spent (nothing was counted). */
  granted: boolean;
  /** The key's shared record: the fleet's counters of the day and the latest snapshot any worker stored. */
  record: QuotaRecord;
}

/**
 * {@link QuotaStore} in Redis: daily counters added atomically, a request taken from the day's budget
 * in one script call ({@link take}: the fleet never exceeds it), and the latest rate-limit snapshot
 * ({@link observe}), so every worker reads the same day and the same quota.
 */
export class RedisQuotaStore implements QuotaStore {
  private readonly addScript: ScriptCommand;
  private readonly takeScript: ScriptCommand;
  private readonly observeScript: ScriptCommand;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly trips = new RoundTripCounter(),
  ) {
    this.addScript = defineScript(redis, HERE, 'sluiceQuotaAdd', ['quota-lib', 'quota-add'], 1);
    this.takeScript = defineScript(redis, HERE, 'sluiceQuotaTake', ['quota-lib', 'quota-take'], 1);
    this.observeScript = defineScript(redis, HERE, 'sluiceQuotaObserve', ['quota-lib', 'quota-observe'], 1);
  }

  private quotaKey(key: string): string {
    return `${this.prefix}:flow:quota:${key}`;
  }

  async load(key: string): Promise<QuotaRecord | undefined> {
    this.trips.count++;
    const raw = await this.redis.get(this.quotaKey(key));
    return raw ? (JSON.parse(raw) as QuotaRecord) : undefined;
  }

  async save(key: string, record: QuotaRecord): Promise<void> {
    this.trips.count++;
    await this.redis.set(this.quotaKey(key), JSON.stringify(record), 'PX', 172_800_000);
  }

  async add(key: string, day: string, requests: number, tokens: number): Promise<QuotaRecord> {
    this.trips.count++;
    return JSON.parse((await this.addScript(this.quotaKey(key), day, requests, tokens)) as string) as QuotaRecord;
  }

  /**
   * Takes one request (and its estimated `tokens`) from `key`'s budget of `day`, atomically: refused,
   * without counting, once `budget` requests were taken that day by all workers (no budget: only
   * counts). The record expires `ttlMs` from now (the day's rollover).
   */
  async take(key: string, day: string, tokens: number, budget: number | undefined, ttlMs: number): Promise<QuotaTake> {
    this.trips.count++;
    const [granted, raw] = (await this.takeScript(this.quotaKey(key), day, tokens, budget ?? '', Math.max(1000, Math.ceil(ttlMs)))) as [number, string];
    return { granted: granted === 1, record: JSON.parse(raw) as QuotaRecord };
  }

  /** Stores `snapshot` as `key`'s latest, beside the counters of `day` (record expiring `ttlMs` from now). */
  async observe(key: string, day: string, snapshot: RateLimitSnapshot, ttlMs: number): Promise<void> {
    this.trips.count++;
    await this.observeScript(this.quotaKey(key), day, JSON.stringify(snapshot), Math.max(1000, Math.ceil(ttlMs)));
  }
}

/**
 * The {@link FlowBackend} in Redis. Give it to a `KeyPool` (`backend`) or a `RateLimiter` (`store`) in
 * each process; processes with the same prefix share one quota.
 *
 * ```ts
 * const backend = await RedisFlowBackend.connect('redis://127.0.0.1:6379', { prefix: 'sluice' });
 * const pool = new KeyPool({ keys, limits: { requestsPerMinute: 600 }, backend });
 * ```
 */
export class RedisFlowBackend implements FlowBackend {
  readonly limiter: RedisLimiterStore;
  readonly keys: RedisKeyStateStore;
  readonly quota: RedisQuotaStore;
  /** Round trips made through this backend. */
  readonly trips = new RoundTripCounter();
  /** Key prefix in use. */
  readonly prefix: string;

  /** Wraps an open client; `close()` then leaves it open when `ownsClient` is false. */
  constructor(
    readonly redis: Redis,
    options: RedisFlowBackendOptions = {},
    private readonly ownsClient = false,
  ) {
    this.prefix = checkPrefix(options.prefix ?? 'sluice');
    this.limiter = new RedisLimiterStore(redis, this.prefix, this.trips);
    this.keys = new RedisKeyStateStore(redis, this.prefix, this.trips);
    this.quota = new RedisQuotaStore(redis, this.prefix, this.trips);
  }

  /** Connects to `url` (failing at once with a clear message when Redis does not answer). */
  static async connect(url: string, options: RedisFlowBackendOptions & ConnectRedisOptions = {}): Promise<RedisFlowBackend> {
    const redis = await connectRedis(url, options);
    return new RedisFlowBackend(redis, options, true);
  }

  /** Deletes every flow key under the prefix (tests, `--reset`). */
  async clear(): Promise<number> {
    return deleteByPattern(this.redis, `${this.prefix}:flow:*`);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Validates a key prefix: non-empty, no spaces, no glob characters. */
export function checkPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.:{}-]+$/.test(prefix)) {
    throw new TypeError(`redis prefix must be letters, digits, _ . : { } - only, got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

/** Deletes keys matching `pattern` with SCAN (never KEYS, never FLUSH). Returns how many. */
export async function deleteByPattern(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
