/**
 * A distributed batch worker: takes item jobs from the run's BullMQ queue and runs one attempt per job
 * through the shared flow state (a {@link KeyPool} on the {@link RedisFlowBackend}: one quota, one set
 * of cooldowns for every worker). Per job:
 *
 * 1. read the item; a final item is skipped (its result is recorded already: exactly once);
 * 2. pick a key and a permit from the shared limiter; a long wait (every key cooling / over its limit)
 *    moves the job to BullMQ's delayed set instead of holding a slot;
 * 3. persist the attempt count (`beginAttempt`, atomic, once across workers) before the request;
 * 4. call the provider; record the attempt and the outcome in one step (`finishAttempt`);
 * 5. a retryable failure becomes a delayed job at its not-before time (the retry policy's delay).
 *
 * A worker killed at any instant loses nothing: its active jobs' locks expire and another worker's
 * stalled-job check puts them back in the queue (`lockDurationMs`); the item's attempts stay counted.
 */
import { DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { classify } from '../../classify/classify.js';
import { isSluiceError } from '../../classify/sluice-error.js';
import type { Classification, ErrorKind, ProviderName } from '../../classify/kinds.js';
import { PROVIDERS } from '../../classify/kinds.js';
import type { RateLimitSnapshot } from '../../classify/rate-limit/snapshot.js';
import { retryPolicy, type RetryPolicy, type RetryPolicyOptions } from '../../attempt/policy.js';
import { makeConcurrency, type ConcurrencyOption } from '../../scheduler/concurrency.js';
import { KeyPool, type KeyPoolOptions, type KeySelection } from '../../flow/key-pool.js';
import type { LearnedRateOptions } from '../../flow/learned-rate.js';
import type { KeyLimits } from '../../flow/limits.js';
import type { Permit } from '../../flow/rate-limiter.js';
import type { RedisFlowBackend } from '../../flow/redis/redis-flow-backend.js';
import { SharedDailyQuota } from '../../flow/redis/shared-quota.js';
import { RedisCircuitBreaker, type BreakerTicket, type RedisCircuitBreakerOptions } from '../../flow/redis/shared-breaker.js';
import type { QuotaRecord } from '../../flow/backend.js';
import type { ApiKey, ProviderAdapter, ProviderResponse } from '../../provider/types.js';
import { TypedEmitter } from '../../observe/typed-emitter.js';
import type { Clock } from '../../clock/clock.js';
import { systemClock } from '../../clock/system-clock.js';
import type { ExecutorEvents } from '../../scheduler/events.js';
import { decideAfterFailure, type FailureDecision } from '../../scheduler/failure-decision.js';
import { recordFailure, recordSuccess, timeoutClassification, timeoutErrorFor, type OutcomeSinks } from '../../scheduler/outcome.js';
import type { SchedulerConcurrency } from '../../scheduler/ports.js';
import { quotaPort } from '../../scheduler/quota-port.js';
import { FINAL_STATES, type Completion } from '../store.js';
import type { BatchEvents } from '../types.js';
import { bullPrefix, type ItemJobData } from './queue.js';
import type { RedisJobStore } from './redis-store.js';

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
   * A circuit breaker shared by every worker (Redis), consulted before each attempt: per provider
   * (`scope: 'provider'`, the default: every key stops) or per key (`scope: 'key'`: a key whose breaker
   * is open cools for every worker until its half-open time). Off when absent.
   */
  breaker?: Omit<RedisCircuitBreakerOptions, 'scope' | 'prefix' | 'trips'> & { scope?: 'provider' | 'key' };
  /** Quota monitoring of every key (alerts, pause threshold, day offset); the daily pause applies to the fleet. */
  quota?: KeyPoolOptions['quota'];
  retry?: RetryPolicy | RetryPolicyOptions;
  /**
   * Jobs processed at once by this worker: a number (default 16), or adaptive (AIMD between `min` and
   * `max`, as in `createSluice`): BullMQ's concurrency follows the limit as it changes.
   */
  concurrency?: ConcurrencyOption;
  /** Move a job to another key after key-scoped failures (429, quota, auth), as in `createSluice`. Default true. */
  failover?: boolean;
  /** Time source (tests: a virtual clock; BullMQ's own timers stay on the system clock). Default the system clock. */
  clock?: Clock;
  /** Per-attempt timeout, ms. Default the policy's `timeoutMs`, else none. */
  attemptTimeoutMs?: number;
  /** Lock of an active job, ms: a dead worker's jobs return to the queue after about this long. Default 15,000. */
  lockDurationMs?: number;
  /** A wait for a key longer than this moves the job to the delayed set, ms. Default 2,000. */
  maxInlineWaitMs?: number;
  /**
   * Let each key's limiter learn its request rate from bare 429s (no wait, no reset, no rate-limit
   * headers), as in `createSluice`. Default true. The learned rate is this worker's own (it lowers
   * the rate this worker asks the shared bucket for); cooldowns are shared by every worker at once.
   */
  learnRate?: boolean | LearnedRateOptions;
  /**
   * Cooldown after a 429 that named no wait and no reset, ms; every worker sees it at once. Default, as
   * in the key pool and `createSluice` (constants in `flow/key-pool.ts`): with `learnRate` on, 1,000
   * (`LEARNING_COOLDOWN_MS`), doubled for each further bare 429 in a row on this worker up to 8,000
   * (`LEARNING_MAX_COOLDOWN_MS`); with `learnRate: false`, a fixed 30,000 (`DEFAULT_COOLDOWN_MS`).
   */
  defaultCooldownMs?: number;
}

/** Events of a {@link RedisBatchWorker}. */
export interface RedisWorkerEvents {
  attempt: { id: string; attempt: number; key: string; ok: boolean; kind?: string; status?: number };
  item: { id: string; state: Completion['state']; attempts: number };
  /** A job waits for a key (moved to delayed) or for its retry. */
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

/** What one job carries between its attempts (BullMQ job data beside the item id; see failure-decision.ts). */
interface JobMemory {
  /** Free moves to another key so far. */
  keyMoves: number;
  /** The delay before the last retry, ms (decorrelated jitter). */
  previousDelayMs?: number;
  /** When the first attempt started, on this worker's clock (the policy's deadline counts from it). */
  firstAt?: number;
}

/** A key and permit for one attempt, or why none. */
type KeyPick = { ok: true; key: ApiKey; permit: Permit; probes: Probes } | { ok: false; waitMs: number; allDisabled: boolean; limited?: boolean };

/**
 * A wait on a key's limiter (not a cooldown) is re-examined at least this often, in line: a rate-limit
 * snapshot from any worker's next response may lift a server cap ("0 remaining until the reset") long
 * before the reset, and a job parked in BullMQ's delayed set until then would not notice.
 */
const LIMITED_RECHECK_MS = 1_000;

/** One worker process's share of a distributed run. */
export class RedisBatchWorker {
  /** Attempts and items as they happen. */
  readonly events = new TypedEmitter<RedisWorkerEvents>();
  /**
   * The executor's decisions, as the embedded executor emits them (same event map): key chosen, attempt
   * failed, cooldowns, retries, items succeeded or failed, concurrency and rate changes, quota alerts.
   * The CLI turns them into logs, metrics and the report, as for an embedded run.
   */
  readonly executorEvents = new TypedEmitter<ExecutorEvents>();
  /** Attempt starts and ends and final items in the batch runner's event shape (for the same observers). */
  readonly batchEvents = new TypedEmitter<BatchEvents>();
  /** Counters so far. */
  readonly stats: RedisWorkerStats = { attempts: 0, succeeded: 0, failed: 0, retried: 0, rateLimited: 0, skipped: 0 };
  private readonly clock: Clock;
  private readonly pool: KeyPool;
  private readonly policy: RetryPolicy;
  private readonly worker: Worker<ItemJobData>;
  private readonly concurrency: SchedulerConcurrency;
  private readonly providerName: ProviderName | undefined;
  private readonly keysByName: Map<string, ApiKey>;
  /** Each key's fleet-wide daily budget (its own `requestsPerDay`, from `perKey` or `limits`). */
  private readonly daily = new Map<string, SharedDailyQuota>();
  /** The provider's shared breaker (scope 'provider'). */
  private readonly providerBreaker: RedisCircuitBreaker | undefined;
  /** Each key's shared breaker (scope 'key'). */
  private readonly keyBreakers = new Map<string, RedisCircuitBreaker>();
  /** Jobs waiting for a key in {@link waitForKey}'s queue (only its head polls Redis). */
  private waitingForKey = 0;

  constructor(private readonly o: RedisBatchWorkerOptions) {
    if (!o.keys || o.keys.length === 0) throw new TypeError('redis worker: keys must be a non-empty array');
    this.clock = o.clock ?? systemClock;
    this.concurrency = makeConcurrency(o.concurrency, this.clock, this.executorEvents, 'redis worker');
    const lockDuration = o.lockDurationMs ?? 15_000;
    if (!(lockDuration >= 1000)) throw new RangeError(`redis worker: lockDurationMs must be >= 1000, got ${String(o.lockDurationMs)}`);
    this.policy = o.retry && typeof (o.retry as RetryPolicy).decide === 'function' ? (o.retry as RetryPolicy) : retryPolicy((o.retry ?? {}) as RetryPolicyOptions);
    this.pool = new KeyPool({
      keys: o.keys,
      backend: o.flow,
      clock: this.clock,
      ...(o.limits ? { limits: withSharedBurst(o.limits) } : {}),
      ...(o.perKey ? { perKey: Object.fromEntries(Object.entries(o.perKey).map(([k, l]) => [k, withSharedBurst({ ...o.limits, ...l })])) } : {}),
      ...(o.selection ? { selection: o.selection } : {}),
      // Explicit, as createSluice does: the pool derives the bare-429 cooldown from learnRate when none is given.
      learnRate: o.learnRate ?? true,
      ...(o.defaultCooldownMs !== undefined ? { defaultCooldownMs: o.defaultCooldownMs } : {}),
      ...(o.quota ? { quota: o.quota } : {}),
    });
    for (const name of this.pool.names) {
      this.pool.limiter(name).events.on('rate', (r) => this.executorEvents.emit('rateChange', r));
      this.pool.monitor(name).events.on('alert', (a) => this.executorEvents.emit('quotaAlert', { key: a.key, level: a.level, usage: a.usage, window: a.limit }));
    }
    for (const name of this.pool.names) {
      const perDay = o.perKey?.[name]?.requestsPerDay ?? o.limits?.requestsPerDay;
      this.daily.set(name, new SharedDailyQuota({ ...o.quota, quota: o.flow.quota, keys: o.flow.keys, clock: this.clock, ...(perDay !== undefined ? { requestsPerDay: perDay } : {}) }));
    }
    this.keysByName = new Map(o.keys.map((k) => [k.name, k]));
    if (o.breaker) {
      const { scope = 'provider', ...rest } = o.breaker;
      if (scope !== 'provider' && scope !== 'key') throw new TypeError(`redis worker: breaker.scope must be 'provider' or 'key', got ${String(scope)}`);
      const make = (name: string) => new RedisCircuitBreaker(o.flow.redis, { ...rest, scope: name, prefix: o.flow.prefix, trips: o.flow.trips });
      if (scope === 'provider') this.providerBreaker = make(`provider:${o.provider.name}`);
      else for (const k of o.keys) this.keyBreakers.set(k.name, make(`key:${k.name}`));
    }
    this.providerName = (PROVIDERS as readonly string[]).includes(o.provider.name) ? (o.provider.name as ProviderName) : undefined;
    this.worker = new Worker<ItemJobData>(o.run, (job, token) => this.process(job, token), {
      connection: o.connection,
      prefix: bullPrefix(o.prefix ?? 'sluice'),
      concurrency: this.concurrency.limit,
      lockDuration,
      stalledInterval: Math.max(500, Math.floor(lockDuration / 2)),
      // A job whose worker died is put back, however often that happens; it never fails for it.
      maxStalledCount: 1000,
      autorun: true,
    });
    // Adaptive concurrency: BullMQ takes as many jobs at once as the AIMD limit says.
    this.executorEvents.on('concurrencyChange', (c) => {
      this.worker.concurrency = c.to;
    });
    this.worker.on('error', (e) => this.events.emit('error', { message: e.message }));
  }

  /** Jobs this worker takes at once now (the adaptive limit when adaptive). */
  get concurrencyLimit(): number {
    return this.concurrency.limit;
  }

  /** Stops taking jobs; waits for the active ones (`force`: does not wait, their locks expire instead). */
  async close(force = false): Promise<void> {
    await this.worker.close(force);
    this.pool.close();
  }

  private async process(job: Job<ItemJobData>, token: string | undefined): Promise<string> {
    const id = job.data.id;
    const item = await this.o.store.get(id);
    if (!item || FINAL.has(item.state)) {
      this.stats.skipped++;
      return 'final';
    }
    const tokens = this.o.provider.estimateTokens ? safeEstimate(this.o.provider, item.payload) : 0;
    const picked = await this.waitForKey(tokens);
    if (!picked.ok) {
      if (picked.allDisabled) return this.failWithoutAttempt(id, item.attempts);
      return this.delay(job, token, id, this.clock.now() + picked.waitMs, 'waiting for a key');
    }
    const { key, permit, probes } = picked;
    const attempt = await this.o.store.beginAttempt(id, key.name).catch(async (e: unknown) => {
      permit.release();
      await this.releaseBreakers(key.name, probes);
      throw e;
    });
    if (attempt === 0) {
      permit.release();
      await this.releaseBreakers(key.name, probes);
      this.stats.skipped++;
      return 'final';
    }
    this.stats.attempts++;
    this.executorEvents.emit('keyChosen', { jobId: id, attempt, key: key.name });
    this.batchEvents.emit('attemptStart', { id, attempt, key: key.name });
    const startedAt = permit.startedAt;
    const memory = memoryOf(job.data, attempt, startedAt);
    let response: ProviderResponse | undefined;
    let failure: unknown;
    let timedOut = false;
    const timeoutMs = this.o.attemptTimeoutMs ?? this.policy.timeoutMs;
    const controller = new AbortController();
    const cancelTimeout =
      timeoutMs !== undefined
        ? this.clock.setTimer(timeoutMs, () => {
            timedOut = true;
            controller.abort(timeoutErrorFor(timeoutMs));
          })
        : undefined;
    try {
      response = await this.o.provider.call(item.payload, { key: this.keysByName.get(key.name)!, signal: controller.signal, attempt });
      // The policy's validator may refuse a result (presets: an empty download): then it is a failure of the thrown kind.
      this.policy.validate?.(response.result, attempt);
    } catch (error) {
      failure = error;
    } finally {
      cancelTimeout?.();
    }
    const now = this.clock.now();
    const facts = { key: key.name, permit, tokens, startedAt, now };
    const sinks = this.sinks(key.name);
    if (failure === undefined && response) {
      recordSuccess(sinks, facts, response);
      if (response.rateLimit) this.daily.get(key.name)!.observe(key.name, response.rateLimit).catch((e: unknown) => this.events.emit('error', { message: `quota snapshot: ${String(e)}` }));
      await this.recordBreakers(key.name, probes, undefined);
      await this.finish(id, attempt, { ok: true, key: key.name }, { id, state: 'succeeded', result: response.result ?? null });
      this.executorEvents.emit('jobSucceeded', { jobId: id, attempts: attempt, key: key.name });
      this.stats.succeeded++;
      return 'succeeded';
    }
    const c = timedOut ? timeoutClassification(timeoutMs ?? 0) : classify(failure, { ...(this.providerName ? { provider: this.providerName } : {}), now });
    const rateLimit: RateLimitSnapshot | undefined = (isSluiceError(failure) ? failure.rateLimit : undefined) ?? response?.rateLimit;
    const effect = recordFailure(sinks, facts, c, rateLimit);
    if (effect && effect.state !== 'active') {
      const until = effect.until ?? Infinity;
      this.executorEvents.emit('cooldownStart', { key: key.name, state: effect.state, until, waitMs: Math.max(0, until - now), kind: c.kind });
    }
    await this.recordBreakers(key.name, probes, c.kind);
    this.executorEvents.emit('attemptFailed', { jobId: id, attempt, key: key.name, classification: c });
    return this.failed(job, token, id, attempt, key.name, c, memory, now);
  }

  /** Where an attempt's outcome is recorded: the same bookkeeping as the embedded executor (scheduler/outcome.ts). */
  private sinks(key: string): OutcomeSinks {
    return { limiter: this.pool.limiter(key), quota: quotaPort(this.pool.monitor(key)), pool: this.pool, concurrency: this.concurrency };
  }

  /** The decision after a failure: the one of the embedded executor (scheduler/failure-decision.ts), fed the same inputs. */
  private async failed(job: Job<ItemJobData>, token: string | undefined, id: string, attempt: number, key: string, c: Classification, memory: JobMemory, now: number): Promise<string> {
    if (c.kind === 'rate_limited') this.stats.rateLimited++;
    const others = this.pool.candidates(now).filter((name) => name !== key);
    const d: FailureDecision = decideAfterFailure(
      {
        classification: c,
        attempt,
        keyMoves: memory.keyMoves,
        ...(memory.previousDelayMs !== undefined ? { previousDelayMs: memory.previousDelayMs } : {}),
        ...(memory.firstAt !== undefined ? { elapsedMs: now - memory.firstAt } : {}),
        now,
        keys: {
          key,
          keyCount: this.pool.names.length,
          otherAvailableNow: others.length > 0,
          otherMayReturn: this.pool.names.some((name) => name !== key && this.pool.stateOf(name, now).state !== 'disabled'),
          ...(this.o.failover !== undefined ? { failover: this.o.failover } : {}),
        },
      },
      this.policy,
    );
    const outcome = { ok: false as const, key, kind: c.kind, message: d.action === 'fail' ? d.message : c.message, ...(c.status !== undefined && { status: c.status }) };
    if (d.action === 'fail') {
      const error = { kind: c.kind, message: d.message, ...(c.status !== undefined && { status: c.status }) };
      await this.finish(id, attempt, outcome, { id, state: c.kind === 'cancelled' ? 'cancelled' : 'failed', error });
      this.executorEvents.emit('jobFailed', { jobId: id, attempts: attempt, kind: c.kind, message: d.message, key });
      this.stats.failed++;
      return 'failed';
    }
    await this.finish(id, attempt, outcome, { id, state: 'pending' });
    this.stats.retried++;
    const delayMs = d.action === 'later' ? d.delayMs : 0;
    this.executorEvents.emit('retryScheduled', { jobId: id, attempt, delayMs, kind: c.kind, key, reason: d.reason, maxAttempts: d.maxAttempts });
    // What the next attempt's decision needs travels with the job (any worker may run it).
    const next: JobMemory = { keyMoves: d.keyMoves, previousDelayMs: delayMs, ...(memory.firstAt !== undefined ? { firstAt: memory.firstAt } : {}) };
    await job.updateData({ ...job.data, ...next });
    return this.delay(job, token, id, now + delayMs, d.reason);
  }

  /** Every key is disabled: the item can never run; it fails as the embedded executor fails its queued jobs. */
  private async failWithoutAttempt(id: string, attempts: number): Promise<string> {
    const message = 'every key is disabled';
    await this.o.store.complete([{ id, state: 'failed', error: { kind: 'auth', message } }]);
    this.events.emit('item', { id, state: 'failed', attempts });
    this.batchEvents.emit('item', { id, state: 'failed', attempts, kind: 'auth' });
    this.executorEvents.emit('jobFailed', { jobId: id, attempts, kind: 'auth', message });
    this.stats.failed++;
    return 'failed';
  }

  private async finish(id: string, attempt: number, outcome: Parameters<RedisJobStore['finishAttempt']>[2], completion: Completion): Promise<void> {
    await this.o.store.finishAttempt(id, attempt, outcome, completion);
    const kind = outcome.ok ? undefined : outcome.kind;
    this.events.emit('attempt', { id, attempt, key: outcome.key ?? '', ok: outcome.ok, ...(kind && { kind }), ...(!outcome.ok && outcome.status !== undefined && { status: outcome.status }) });
    this.batchEvents.emit('attemptEnd', { id, attempt, ...(outcome.key ? { key: outcome.key } : {}), ok: outcome.ok, ...(kind ? { kind } : {}), ...(!outcome.ok && outcome.status !== undefined ? { status: outcome.status } : {}) });
    if (completion.state !== 'pending') {
      this.events.emit('item', { id, state: completion.state, attempts: attempt });
      this.batchEvents.emit('item', { id, state: completion.state, attempts: attempt, ...(kind ? { kind } : {}) });
    }
  }

  /** Moves the job to BullMQ's delayed set until `untilMs` (its not-before time) and ends this processing. */
  private async delay(job: Job<ItemJobData>, token: string | undefined, id: string, untilMs: number, reason: string): Promise<never> {
    this.events.emit('delayed', { id, untilMs, reason });
    // BullMQ keeps delayed jobs on the Redis server's time: convert the wait, not the clock reading.
    await job.moveToDelayed(systemClock.now() + Math.max(0, untilMs - this.clock.now()), token);
    throw new DelayedError();
  }

  /**
   * Picks a key for one job. While nobody waits, a job tries at once (concurrent picks are atomic in
   * Redis, so the fast path costs no queueing); a job that must wait joins a FIFO queue of which only
   * the head polls Redis, so N waiting jobs cost one poll, not N.
   */
  private async waitForKey(tokens: number): Promise<KeyPick> {
    if (this.waitingForKey === 0) {
      const first = await this.pickOnce(tokens);
      if (first.ok || first.allDisabled || (first.waitMs > (this.o.maxInlineWaitMs ?? 2_000) && !first.limited)) return first;
    }
    this.waitingForKey++;
    const turn = this.gate.then(() => this.pickLoop(tokens));
    this.gate = turn.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await turn;
    } finally {
      this.waitingForKey--;
    }
  }

  private gate: Promise<void> = Promise.resolve();

  /**
   * The picked key's own shared breaker (scope 'key': open, the key cools for every worker until its
   * half-open time), then the fleet's daily budget (one atomic take; refused, the key is parked for
   * every worker). False: try another key.
   */
  private async takeKey(name: string, tokens: number, probes: Probes): Promise<boolean> {
    const breaker = this.keyBreakers.get(name);
    if (breaker) {
      const ticket = await breaker.acquire();
      if (!ticket.ok) {
        const now = this.clock.now();
        await this.o.flow.keys.set(name, { state: 'cooling', until: now + breakerWait(ticket), reason: `circuit ${ticket.state}` }, now);
        return false;
      }
      probes.key = ticket.probe;
    }
    const daily = await this.daily.get(name)!.take(name, tokens);
    this.adopt(name, daily.record);
    return daily.ok;
  }

  /** Reports an attempt's outcome to the shared breakers (before the job ends, so every worker sees it at once). */
  private async recordBreakers(key: string, probes: Probes, kind: ErrorKind | undefined): Promise<void> {
    const record = (b: RedisCircuitBreaker | undefined, probe: boolean) => (b ? (kind === undefined ? b.recordSuccess(probe) : b.recordFailure(kind, probe)) : undefined);
    await Promise.all([record(this.providerBreaker, probes.provider), record(this.keyBreakers.get(key), probes.key)]);
  }

  /** Frees the probe leases of a call that never reached the provider. */
  private async releaseBreakers(key: string, probes: Probes): Promise<void> {
    const tasks: Promise<unknown>[] = [];
    if (probes.provider) tasks.push(this.providerBreaker!.release(true));
    if (probes.key) tasks.push(this.keyBreakers.get(key)!.release(true));
    await Promise.all(tasks);
  }

  /** Gives the key's monitor the fleet's counters (alerts, pause) and a snapshot newer than its own. */
  private adopt(key: string, record: QuotaRecord): void {
    const monitor = this.pool.monitor(key);
    const { snapshot, ...counters } = record;
    const newer = snapshot && snapshot.at > (monitor.snapshot?.at ?? -Infinity);
    monitor.restore(newer ? { ...counters, snapshot } : counters);
  }

  /** One try: the provider's breaker, then a key and permit from the shared pool, then the key's breaker and daily budget. */
  private async pickOnce(tokens: number): Promise<KeyPick | { ok: false; waitMs: number; allDisabled: false; limited?: undefined; retryNow: true }> {
    // The provider's shared breaker first: open, nothing is asked of the pool, the quota or the provider.
    const gate = this.providerBreaker ? await this.providerBreaker.acquire() : CLOSED;
    if (!gate.ok) return { ok: false, waitMs: breakerWait(gate), allDisabled: false };
    const r = await this.pool.pick(tokens);
    if (r.ok) {
      const probes: Probes = { provider: gate.probe, key: false };
      const taken = await this.takeKey(r.key.name, tokens, probes).catch(async (e: unknown) => {
        r.permit.release();
        await this.releaseBreakers(r.key.name, probes);
        throw e;
      });
      if (taken) return { ...r, probes };
      r.permit.release();
      await this.releaseBreakers(r.key.name, probes);
      // That key's daily budget is spent (now parked): another key may serve at once.
      return { ok: false, waitMs: 0, allDisabled: false, retryNow: true };
    }
    if (gate.probe) await this.providerBreaker!.release(true);
    const allDisabled = r.waiting.length > 0 && r.waiting.every((w) => w.state === 'disabled');
    // The earliest key back is one whose limiter refuses (no cooldown, no park): a snapshot may lift it.
    const now = this.clock.now();
    const limited = r.waiting.some((w) => w.state === 'limited' && (w.untilMs === undefined || w.untilMs - now <= r.waitMs + 1));
    return { ok: false, waitMs: Number.isFinite(r.waitMs) ? r.waitMs : 60_000, allDisabled, limited };
  }

  /** Picks a key, waiting in-line for short waits; a long wait is returned (the job is then delayed). */
  private async pickLoop(tokens: number): Promise<KeyPick> {
    const maxInline = this.o.maxInlineWaitMs ?? 2_000;
    for (let spins = 0; spins < 10_000; spins++) {
      const r = await this.pickOnce(tokens);
      if (r.ok || r.allDisabled) return r;
      if ('retryNow' in r) continue;
      if (r.waitMs > maxInline && !r.limited) return r;
      await this.clock.sleep(Math.max(1, r.limited ? Math.min(r.waitMs, LIMITED_RECHECK_MS) : r.waitMs));
    }
    return { ok: false, waitMs: 1000, allDisabled: false };
  }
}

/** The job's memory for the decision after attempt `attempt` (started at `startedAt`). */
function memoryOf(data: ItemJobData, attempt: number, startedAt: number): JobMemory {
  return {
    keyMoves: data.keyMoves ?? 0,
    ...(data.previousDelayMs !== undefined ? { previousDelayMs: data.previousDelayMs } : {}),
    ...(data.firstAt !== undefined ? { firstAt: data.firstAt } : attempt === 1 ? { firstAt: startedAt } : {}),
  };
}

/** Whether a call holds the half-open probe of the provider's and of the key's breaker. */
interface Probes {
  provider: boolean;
  key: boolean;
}

const CLOSED: BreakerTicket = { ok: true, probe: false };

/** How long to wait after a refusal: until half-open; while another worker's probe is out, a short poll for its outcome. */
function breakerWait(ticket: Extract<BreakerTicket, { ok: false }>): number {
  return ticket.state === 'half-open' ? Math.min(ticket.retryInMs, 250) : ticket.retryInMs;
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

function safeEstimate(provider: ProviderAdapter, payload: unknown): number {
  try {
    const n = provider.estimateTokens!(payload);
    return Number.isFinite(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}
