/**
 * A distributed batch worker: a BullMQ job source feeding THE executor of `createSluice`, exactly as
 * the embedded batch runner (batch/runner.ts) feeds it from SQLite. Every per-attempt decision (key
 * choice, failover, retries, backoff, jitter, deadline, validator, give-up message, cooldowns, learned
 * rate, adaptive concurrency, quota monitors) is the executor's; this file only moves work in and
 * results out:
 *
 * 1. a job is taken from the run's BullMQ queue; its item is the one the job carries (queue.ts) on the
 *    job's first delivery, else it is read; a final item is skipped (its result is recorded already:
 *    exactly once; `beginAttempt` refuses a final item, and a carried copy whose attempts are stale);
 * 2. the item runs in the executor (`run`, with `startAttempt` = the attempts already persisted, so
 *    the retry budget holds across workers and crashes);
 * 3. each attempt is persisted before its request (`beginAttempt`: atomic, once across workers) and
 *    after it when it is retried (`recordAttemptEnd`); the last attempt's end and the item's result
 *    are one atomic step (`finishAttempt`: the first final result wins);
 * 4. a stop (close) hands the items that have not finished back to the queue.
 *
 * The fleet shares one quota through leases (leases.ts: the executor's limiters are answered from a
 * small local allowance of the shared Redis bucket, refilled in the background) and one set of key
 * states (shared-pool.ts: a key cooled, parked or disabled by any worker is out for all); an adaptive
 * concurrency limit is the fleet's, each worker running its share (shared-concurrency.ts). The daily
 * budget of `requestsPerDay` and the shared circuit breaker are asked just before each request, in the
 * attempt-start hook.
 *
 * A worker killed at any instant loses nothing: its active jobs' locks expire and another worker's
 * stalled-job check puts them back in the queue (`lockDurationMs`); the item's attempts stay counted.
 */
import { DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ErrorKind } from '../../classify/kinds.js';
import { SluiceError } from '../../classify/sluice-error.js';
import { retryPolicy, type RetryPolicy, type RetryPolicyOptions } from '../../attempt/policy.js';
import type { ConcurrencyOption } from '../../scheduler/concurrency.js';
import { createSluice } from '../../scheduler/create-sluice.js';
import type { Executor } from '../../scheduler/executor.js';
import type { KeyPool, KeyPoolOptions, KeySelection } from '../../flow/key-pool.js';
import type { LearnedRateOptions } from '../../flow/learned-rate.js';
import type { KeyLimits } from '../../flow/limits.js';
import type { RedisFlowBackend } from '../../flow/redis/redis-flow-backend.js';
import { SharedDailyQuota } from '../../flow/redis/shared-quota.js';
import { RedisCircuitBreaker, type BreakerTicket, type RedisCircuitBreakerOptions } from '../../flow/redis/shared-breaker.js';
import type { QuotaRecord } from '../../flow/backend.js';
import type { ApiKey, ProviderAdapter } from '../../provider/types.js';
import { TypedEmitter } from '../../observe/typed-emitter.js';
import type { Clock } from '../../clock/clock.js';
import { systemClock } from '../../clock/system-clock.js';
import type { ExecutorEvents } from '../../scheduler/events.js';
import type { AttemptEndInfo } from '../../scheduler/job.js';
import { toItemError } from '../item-error.js';
import { FINAL_STATES, type AttemptOutcome, type Completion } from '../store.js';
import type { BatchEvents } from '../types.js';
import { LeaseEngine } from './leases.js';
import { bullPrefix, type CarriedItem, type ItemJobData } from './queue.js';
import { BEGIN_STALE, type JobLock, type RedisJobStore } from './redis-store.js';
import { FleetConcurrency } from './shared-concurrency.js';
import { FleetKeyPool } from './shared-pool.js';

/** Options of {@link RedisBatchWorker}. */
export interface RedisBatchWorkerOptions {
  /** The run's store (its prefix and run name select the queue too). */
  store: RedisJobStore;
  /** Shared flow state (same prefix for every worker of the run). */
  flow: RedisFlowBackend;
  /** A connection for BullMQ (it opens a blocking duplicate of it). Must have `maxRetriesPerRequest: null`. */
  connection: Redis;
  /** Key prefix (BullMQ keys go under `<prefix>:bull`). Default `sluice`. */
  prefix?: string;
  /** Run name (= queue name). */
  run: string;
  provider: ProviderAdapter;
  keys: readonly ApiKey[];
  /**
   * Limits of every key: the global quota every worker shares. `requestsPerDay` is the fleet's daily
   * budget per key (counted in Redis, never exceeded), not each worker's.
   */
  limits?: KeyLimits;
  /** Per-key overrides of `limits` (`--key-limits` / `keyLimits`), by key name. */
  perKey?: Record<string, KeyLimits>;
  /** Key selection, as in `createSluice` (`--selection`). Default `round-robin`. */
  selection?: KeySelection;
  /**
   * A circuit breaker shared by every worker (Redis), asked before each request: per provider
   * (`scope: 'provider'`, the default) or per key (`scope: 'key'`). While it is open, the attempt waits
   * at it until its half-open time (one probe at a time). Off when absent.
   */
  breaker?: Omit<RedisCircuitBreakerOptions, 'scope' | 'prefix' | 'trips'> & { scope?: 'provider' | 'key' };
  /** Quota monitoring of every key (alerts, pause threshold, day offset); the daily pause applies to the fleet. */
  quota?: KeyPoolOptions['quota'];
  retry?: RetryPolicy | RetryPolicyOptions;
  /** Calls in flight at once in this worker: a number (default 16), or adaptive (AIMD), as in `createSluice`; adaptive, the limit is the fleet's, each worker running its share (shared-concurrency.ts). */
  concurrency?: ConcurrencyOption;
  /** Items this worker holds at once (taken from the queue, queued or running in the executor). Default 2 x the (maximum) concurrency, at least 4: a job held waits for its start with its lock renewed. */
  window?: number;
  /** Move a job to another key after key-scoped failures (429, quota, auth), as in `createSluice`. Default true. */
  failover?: boolean;
  /** Time source of the executor (BullMQ's own timers stay on the system clock). Default the system clock. */
  clock?: Clock;
  /** Per-attempt timeout, ms. Default the policy's `timeoutMs`, else none. */
  attemptTimeoutMs?: number;
  /** Lock of an active job, ms: a dead worker's jobs return to the queue after about this long. Default 15,000. */
  lockDurationMs?: number;
  /** Grace for calls in flight when the worker stops, ms; then they are aborted and their items go back. Default 10,000. */
  shutdownGraceMs?: number;
  /** Let each key's limiter learn its request rate from bare 429s, as in `createSluice`. Default true. */
  learnRate?: boolean | LearnedRateOptions;
  /** Cooldown after a 429 that named no wait and no reset, ms, as in `createSluice`; every worker sees it. */
  defaultCooldownMs?: number;
}

/** Events of a {@link RedisBatchWorker}. */
export interface RedisWorkerEvents {
  attempt: { id: string; attempt: number; key: string; ok: boolean; kind?: string; status?: number };
  item: { id: string; state: Completion['state']; attempts: number };
  /** An item waits: for its retry time, or for a key (a spent daily budget parks the key until the rollover). */
  delayed: { id: string; untilMs: number; reason: string };
  error: { message: string };
}

/** Counters of one worker. */
export interface RedisWorkerStats {
  attempts: number;
  succeeded: number;
  failed: number;
  retried: number;
  rateLimited: number;
  /** Jobs whose item was already final when they arrived (a rerun after a kill). */
  skipped: number;
}

const FINAL = new Set<string>(FINAL_STATES);

/** A run from the job's copy of its item found the copy stale. */
const STALE = 'stale';

/** One item in this worker. */
interface Held {
  controller: AbortController;
  /** An attempt is on the wire (not queued or waiting for a retry in the executor). */
  attemptActive: boolean;
}

/** One worker process's share of a distributed run. */
export class RedisBatchWorker {
  /** Attempts and items as they happen. */
  readonly events = new TypedEmitter<RedisWorkerEvents>();
  /** The executor's own events (the same map and the same executor as an embedded run). */
  readonly executorEvents: TypedEmitter<ExecutorEvents>;
  /** Attempt starts and ends and final items in the batch runner's event shape (for the same observers). */
  readonly batchEvents = new TypedEmitter<BatchEvents>();
  /** Counters so far. */
  readonly stats: RedisWorkerStats = { attempts: 0, succeeded: 0, failed: 0, retried: 0, rateLimited: 0, skipped: 0 };
  /** The lease engine (its `calls` count Sluice's own flow commands). */
  readonly leases: LeaseEngine;
  private readonly clock: Clock;
  private readonly executor: Executor;
  private pool!: KeyPool;
  private readonly worker: Worker<ItemJobData>;
  private readonly held = new Map<string, Held>();
  private readonly daily = new Map<string, SharedDailyQuota>();
  private readonly providerBreaker: RedisCircuitBreaker | undefined;
  private readonly keyBreakers = new Map<string, RedisCircuitBreaker>();
  private readonly maxConcurrency: number;
  private readonly lockDuration: number;
  private closing = false;

  constructor(private readonly o: RedisBatchWorkerOptions) {
    if (!o.keys || o.keys.length === 0) throw new TypeError('redis worker: keys must be a non-empty array');
    this.clock = o.clock ?? systemClock;
    const lockDuration = o.lockDurationMs ?? 15_000;
    if (!(lockDuration >= 1000)) throw new RangeError(`redis worker: lockDurationMs must be >= 1000, got ${String(o.lockDurationMs)}`);
    this.lockDuration = lockDuration;
    const policy = o.retry && typeof (o.retry as RetryPolicy).decide === 'function' ? (o.retry as RetryPolicy) : retryPolicy((o.retry ?? {}) as RetryPolicyOptions);
    const names = o.keys.map((k) => k.name);
    this.limit = typeof o.concurrency === 'number' ? o.concurrency : (o.concurrency?.initial ?? o.concurrency?.max ?? 16);
    // Until something limits a key, the fleet starts on it as this worker alone would: its calls at once, spread over its keys.
    const fleetStart = Math.max(1, Math.ceil(this.limit / names.length));
    this.leases = new LeaseEngine(o.flow.redis, o.flow.prefix, names, this.clock, o.flow.keys, {
      onError: (e) => this.events.emit('error', { message: `shared limiter: ${e instanceof Error ? e.message : String(e)}` }),
    }, { fleetStart });
    const limits = Object.fromEntries(names.map((name) => [name, withSharedBurst({ ...o.limits, ...o.perKey?.[name] })]));
    this.executor = createSluice<unknown, unknown>({
      provider: this.observed(o.provider),
      keys: o.keys,
      limits,
      retry: policy,
      learnRate: o.learnRate ?? true,
      backend: this.leases.backend(),
      wrapKeyPool: (pool) => {
        this.pool = pool;
        return new FleetKeyPool(pool, names, this.leases);
      },
      // An adaptive limit is the fleet's, split over its workers (shared-concurrency.ts).
      shareConcurrency: (limit) => this.leases.attachConcurrency(new FleetConcurrency(limit), `${o.store.base}:conc`),
      clock: this.clock,
      ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
      ...(o.selection ? { selection: o.selection } : {}),
      ...(o.quota ? { quota: o.quota } : {}),
      ...(o.defaultCooldownMs !== undefined ? { defaultCooldownMs: o.defaultCooldownMs } : {}),
      ...(o.attemptTimeoutMs !== undefined ? { attemptTimeoutMs: o.attemptTimeoutMs } : {}),
      ...(o.failover !== undefined ? { failover: o.failover } : {}),
      ...(o.shutdownGraceMs !== undefined ? { shutdownGraceMs: o.shutdownGraceMs } : {}),
    });
    this.executorEvents = this.executor.events;
    this.maxConcurrency = o.concurrency === undefined ? 16 : typeof o.concurrency === 'number' ? o.concurrency : (o.concurrency.max ?? 64);
    this.executorEvents.on('retryScheduled', (r) => {
      if (r.kind === 'rate_limited') this.stats.rateLimited++;
      if (r.delayMs > 0) this.events.emit('delayed', { id: String(r.jobId), untilMs: this.clock.now() + r.delayMs, reason: r.reason });
    });
    this.executorEvents.on('concurrencyChange', (c) => (this.limit = c.to));
    // No key can take work (cooling, parked, disabled, paused): every item held here waits for one.
    this.executorEvents.on('allKeysUnavailable', (u) => {
      if (!Number.isFinite(u.waitMs)) return;
      const until = this.clock.now() + u.waitMs;
      const why = u.keys.map((k) => `${k.key} ${k.state}`).join(', ');
      for (const [id, h] of this.held) if (!h.attemptActive) this.events.emit('delayed', { id, untilMs: until, reason: `waiting for a key (${why})` });
    });
    for (const name of names) {
      const perDay = o.perKey?.[name]?.requestsPerDay ?? o.limits?.requestsPerDay;
      // Only a key with a daily budget pays the take (one command per request); without one there is nothing to refuse.
      if (perDay !== undefined) {
        this.daily.set(name, new SharedDailyQuota({ ...o.quota, quota: o.flow.quota, keys: this.leases.keys, clock: this.clock, ...(perDay !== undefined ? { requestsPerDay: perDay } : {}) }));
      }
    }
    if (o.breaker) {
      const { scope = 'provider', ...rest } = o.breaker;
      if (scope !== 'provider' && scope !== 'key') throw new TypeError(`redis worker: breaker.scope must be 'provider' or 'key', got ${String(scope)}`);
      const make = (name: string) => new RedisCircuitBreaker(o.flow.redis, { ...rest, scope: name, prefix: o.flow.prefix, trips: o.flow.trips });
      if (scope === 'provider') this.providerBreaker = make(`provider:${o.provider.name}`);
      else for (const k of o.keys) this.keyBreakers.set(k.name, make(`key:${k.name}`));
    }
    const window = o.window ?? Math.min(512, Math.max(4, 2 * this.maxConcurrency));
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`redis worker: window must be an integer >= 1, got ${String(o.window)}`);
    this.worker = new Worker<ItemJobData>(o.run, (job, token) => this.process(job, token), {
      connection: o.connection,
      prefix: bullPrefix(o.prefix ?? 'sluice'),
      concurrency: window,
      lockDuration,
      stalledInterval: Math.max(500, Math.floor(lockDuration / 2)),
      // A job whose worker died is put back, however often that happens; it never fails for it.
      maxStalledCount: 1000,
      autorun: true,
    });
    this.worker.on('error', (e) => this.events.emit('error', { message: e.message }));
    // A processing error that is not the item's (Redis lost mid-job): BullMQ tries the job again.
    this.worker.on('failed', (job, e) => this.events.emit('error', { message: `job ${job?.data.id ?? '?'}: ${e.message} (tried again)` }));
  }

  /** Calls this worker sends at once now (the adaptive limit when adaptive). */
  get concurrencyLimit(): number {
    return this.limit;
  }

  /** Items this worker holds waiting in its executor (for the metrics' `sluice_items_queued`). */
  get queued(): number {
    return this.executor.queued;
  }

  /** The executor's quota monitors' state per key (for the metrics' quota use). */
  quotaState(): Record<string, unknown> {
    return this.executor.quotaState();
  }

  private limit: number;

  /**
   * Stops taking jobs; items not on the wire go back to the queue at once, calls in flight get the
   * grace period (`force`: none). Resolves when every held item is back or final.
   */
  async close(force = false): Promise<void> {
    this.closing = true;
    const closed = this.worker.close(force);
    for (const h of this.held.values()) if (force || !h.attemptActive) h.controller.abort(stopReason());
    const grace = force ? 0 : (this.o.shutdownGraceMs ?? 10_000);
    const cancel = this.clock.setTimer(Math.max(1, grace), () => {
      for (const h of this.held.values()) h.controller.abort(stopReason());
    });
    try {
      await closed;
    } finally {
      cancel();
      await this.executor.close({ graceMs: 0 });
      await this.leases.close();
    }
  }

  /**
   * One job: its first run starts from the item the job carries (no read; `begin-attempt.lua` refuses it
   * when the item's attempts moved since the job was added), otherwise, or after that refusal, from the
   * item read from the store.
   */
  private async process(job: Job<ItemJobData>, token: string | undefined): Promise<string> {
    const id = job.data.id;
    // A job delivered again (stalled, delayed back, retried by BullMQ) has a history its copy lacks: read it.
    const carried = (job.attemptsStarted ?? 0) <= 1 ? job.data.item : undefined;
    if (carried) {
      const state = await this.runItem(job, token, carried, true);
      if (state !== STALE) return state;
    }
    const item = await this.o.store.get(id);
    if (!item || FINAL.has(item.state)) {
      this.stats.skipped++;
      return 'final';
    }
    return this.runItem(job, token, item, false);
  }

  /** Runs `item` in the executor and records its result; {@link STALE} when `fromCopy` and the copy was stale (nothing sent, nothing recorded). */
  private async runItem(job: Job<ItemJobData>, token: string | undefined, item: CarriedItem, fromCopy: boolean): Promise<string> {
    const id = job.data.id;
    const held: Held = { controller: new AbortController(), attemptActive: false };
    if (this.closing) held.controller.abort(stopReason());
    this.held.set(id, held);
    /** Attempts persisted (the store's count). */
    let attempts = item.attempts;
    let last: AttemptOutcome | undefined;
    let lastAttempt = 0;
    let alreadyFinal = false;
    let stale = false;
    let completion: Completion;
    try {
      const value = await this.executor.run(item.payload, {
        id,
        priority: item.priority,
        signal: held.controller.signal,
        startAttempt: item.attempts,
        onAttemptStart: async ({ attempt, key }) => {
          await this.gate(id, key, held.controller.signal);
          const n = await this.o.store.beginAttempt(id, key, undefined, this.lockOf(job, token), fromCopy ? attempt : undefined);
          if (n === BEGIN_STALE) {
            stale = true;
            held.controller.abort(stopReason());
            throw stopReason();
          }
          if (n <= 0) {
            // Another worker recorded its result, or took the job over (this one stalled): send nothing.
            alreadyFinal = true;
            held.controller.abort(stopReason());
            throw stopReason();
          }
          attempts = n;
          held.attemptActive = true;
          this.stats.attempts++;
          this.batchEvents.emit('attemptStart', { id, attempt, key });
        },
        onAttemptEnd: async (info) => {
          held.attemptActive = false;
          const outcome = outcomeOf(info);
          if (info.outcome !== 'cancelled') await this.recordBreakers(info.key ?? '', info.ok ? undefined : info.kind);
          if (info.outcome === 'retry') {
            await this.o.store.recordAttemptEnd(id, attempts, outcome);
            this.stats.retried++;
            this.attemptEnded(id, attempts, outcome);
            // Stopping after a failed attempt: no further attempt; the item goes back to the queue.
            if (this.closing) held.controller.abort(stopReason());
          } else {
            last = outcome;
            lastAttempt = attempts;
          }
        },
      });
      completion = { id, state: 'succeeded', result: value ?? null };
    } catch (error) {
      if (stale) {
        this.held.delete(id);
        return STALE;
      }
      if (alreadyFinal) {
        this.held.delete(id);
        this.stats.skipped++;
        return 'final';
      }
      if (held.controller.signal.aborted && this.closing) completion = { id, state: 'pending' };
      else {
        const e = toItemError(error);
        completion = e.kind === 'cancelled' ? { id, state: 'cancelled', error: e } : { id, state: 'failed', error: e };
      }
    } finally {
      this.held.delete(id);
    }
    if (last && lastAttempt > 0) {
      await this.o.store.finishAttempt(id, lastAttempt, last, completion);
      this.attemptEnded(id, lastAttempt, last);
    } else {
      await this.o.store.complete([completion]);
    }
    if (completion.state === 'pending') {
      // Back to the queue for any worker (BullMQ keeps delayed jobs on the Redis server's time).
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    const kind = 'error' in completion ? completion.error?.kind : undefined;
    if (completion.state === 'succeeded') this.stats.succeeded++;
    else this.stats.failed++;
    this.events.emit('item', { id, state: completion.state, attempts });
    this.batchEvents.emit('item', { id, state: completion.state, attempts, ...(kind ? { kind } : {}) });
    return completion.state;
  }

  /** The provider, with each answer's rate-limit snapshot shared as the key's latest (the fleet's daily record; throttled in SharedDailyQuota). */
  private observed(provider: ProviderAdapter): ProviderAdapter {
    const call: ProviderAdapter['call'] = async (payload, ctx) => {
      const response = await provider.call(payload, ctx);
      const daily = response.rateLimit ? this.daily.get(ctx.key.name) : undefined;
      if (daily) daily.observe(ctx.key.name, response.rateLimit!).catch((e: unknown) => this.events.emit('error', { message: `quota snapshot: ${String(e)}` }));
      return response;
    };
    return { name: provider.name, call, ...(provider.estimateTokens ? { estimateTokens: (p: unknown) => provider.estimateTokens!(p) } : {}) };
  }

  /** The BullMQ lock this worker holds on `job` (beginAttempt checks it, and takes an expired one back). */
  private lockOf(job: Job<ItemJobData>, token: string | undefined): JobLock | undefined {
    if (!token || !job.id) return undefined;
    const base = `${bullPrefix(this.o.prefix ?? 'sluice')}:${this.o.run}`;
    return { lockKey: `${base}:${job.id}:lock`, token, activeKey: `${base}:active`, jobId: job.id, lockMs: this.lockDuration };
  }

  private attemptEnded(id: string, attempt: number, outcome: AttemptOutcome): void {
    const kind = outcome.ok ? undefined : outcome.kind;
    const status = outcome.ok ? undefined : outcome.status;
    this.events.emit('attempt', { id, attempt, key: outcome.key ?? '', ok: outcome.ok, ...(kind && { kind }), ...(status !== undefined && { status }) });
    this.batchEvents.emit('attemptEnd', { id, attempt, ...(outcome.key ? { key: outcome.key } : {}), ok: outcome.ok, ...(kind ? { kind } : {}), ...(status !== undefined ? { status } : {}) });
  }

  /**
   * Just before a request: the shared breakers (open: the attempt waits at them until the half-open
   * time, one probe at a time), then the fleet's daily budget of the key (spent: the key is parked for
   * every worker until the rollover, and the attempt fails as `quota_exhausted`, which the executor
   * answers as it answers the provider's: another key, or a wait for one).
   */
  private async gate(id: string, key: string, signal: AbortSignal): Promise<void> {
    await this.waitForBreaker(this.providerBreaker, signal);
    await this.waitForBreaker(this.keyBreakers.get(key), signal);
    const daily = this.daily.get(key);
    if (!daily) return;
    const taken = await daily.take(key, 0);
    this.adopt(key, taken.record);
    if (!taken.ok) {
      const until = taken.parkedUntil ?? daily.nextRollover(this.clock.now());
      this.events.emit('delayed', { id, untilMs: until, reason: `daily quota of ${key} spent by the fleet` });
      throw new SluiceError({ kind: 'quota_exhausted', retryable: false, quotaScope: 'day', resumeAt: until, message: `daily quota reached on key ${key} (all workers)` });
    }
  }

  private async waitForBreaker(breaker: RedisCircuitBreaker | undefined, signal: AbortSignal): Promise<void> {
    if (!breaker) return;
    for (let i = 0; i < 100_000; i++) {
      const ticket = await breaker.acquire();
      if (ticket.ok) {
        this.probes.set(breaker, (this.probes.get(breaker) ?? 0) + (ticket.probe ? 1 : 0));
        return;
      }
      await this.clock.sleep(Math.max(1, breakerWait(ticket)), signal);
    }
  }

  /** Probe leases held per breaker (the outcome of the call that holds one closes or reopens it). */
  private readonly probes = new Map<RedisCircuitBreaker, number>();

  /** Reports an attempt's outcome to the shared breakers. */
  private async recordBreakers(key: string, kind: ErrorKind | undefined): Promise<void> {
    const record = async (b: RedisCircuitBreaker | undefined): Promise<void> => {
      if (!b) return;
      const probe = (this.probes.get(b) ?? 0) > 0;
      if (probe) this.probes.set(b, this.probes.get(b)! - 1);
      await (kind === undefined ? b.recordSuccess(probe) : b.recordFailure(kind, probe));
    };
    await Promise.all([record(this.providerBreaker), record(this.keyBreakers.get(key))]);
  }

  /** Gives the key's monitor the fleet's counters (alerts, pause) and a snapshot newer than its own. */
  private adopt(key: string, record: QuotaRecord): void {
    const monitor = this.pool.monitor(key);
    const { snapshot, ...counters } = record;
    const newer = snapshot && snapshot.at > (monitor.snapshot?.at ?? -Infinity);
    monitor.restore(newer ? { ...counters, snapshot } : counters);
  }
}

function outcomeOf(info: AttemptEndInfo): AttemptOutcome {
  if (info.ok) return { ok: true, ...(info.key !== undefined && { key: info.key }) };
  return {
    ok: false,
    kind: info.kind ?? 'unknown',
    message: info.message ?? '',
    ...(info.key !== undefined && { key: info.key }),
    ...(info.status !== undefined && { status: info.status }),
  };
}

/** How long to wait after a refusal: until half-open; while another worker's probe is out, a short poll for its outcome. */
function breakerWait(ticket: Extract<BreakerTicket, { ok: false }>): number {
  return ticket.state === 'half-open' ? Math.min(ticket.retryInMs, 250) : ticket.retryInMs;
}

function stopReason(): Error {
  const error = new Error('worker stopping');
  error.name = 'AbortError';
  return error;
}

/**
 * Workers reach a shared bucket over the network, a little late each time; with a bucket of one start
 * that lateness is lost capacity. A burst of 100 ms worth (at least 2) absorbs it, at a refill rate of
 * `(n - burst + 1) / window`, so no window ever holds more than `n` (see flow/bucket.ts).
 */
export function withSharedBurst(limits: KeyLimits): KeyLimits {
  const n = limits.requestsPerMinute;
  if (n === undefined || limits.burst !== undefined) return limits;
  const windowMs = limits.windowMs ?? 60_000;
  if (n < 100) return limits;
  return { ...limits, burst: Math.max(2, Math.ceil((n * 100) / windowMs)) };
}
