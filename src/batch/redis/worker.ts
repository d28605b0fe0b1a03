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
import { retryPolicy, type RetryPolicy, type RetryPolicyOptions } from '../../attempt/policy.js';
import { KeyPool, type FailureDetail, type KeyPoolOptions } from '../../flow/key-pool.js';
import type { LearnedRateOptions } from '../../flow/learned-rate.js';
import type { KeyLimits } from '../../flow/limits.js';
import type { Permit } from '../../flow/rate-limiter.js';
import type { RedisFlowBackend } from '../../flow/redis/redis-flow-backend.js';
import { SharedDailyQuota } from '../../flow/redis/shared-quota.js';
import { RedisCircuitBreaker, type BreakerTicket, type RedisCircuitBreakerOptions } from '../../flow/redis/shared-breaker.js';
import type { QuotaRecord } from '../../flow/backend.js';
import type { ApiKey, ProviderAdapter, ProviderResponse } from '../../provider/types.js';
import { TypedEmitter } from '../../observe/typed-emitter.js';
import { systemClock } from '../../clock/system-clock.js';
import { FINAL_STATES, type Completion } from '../store.js';
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
  /**
   * A circuit breaker shared by every worker (Redis), consulted before each attempt: per provider
   * (`scope: 'provider'`, the default: every key stops) or per key (`scope: 'key'`: a key whose breaker
   * is open cools for every worker until its half-open time). Off when absent.
   */
  breaker?: Omit<RedisCircuitBreakerOptions, 'scope' | 'prefix' | 'trips'> & { scope?: 'provider' | 'key' };
  /** Quota monitoring of every key (alerts, pause threshold, day offset); the daily pause applies to the fleet. */
  quota?: KeyPoolOptions['quota'];
  retry?: RetryPolicy | RetryPolicyOptions;
  /** Jobs processed at once by this worker. Default 16. */
  concurrency?: number;
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

/** One worker process's share of a distributed run. */
export class RedisBatchWorker {
  /** Attempts and items as they happen. */
  readonly events = new TypedEmitter<RedisWorkerEvents>();
  /** Counters so far. */
  readonly stats: RedisWorkerStats = { attempts: 0, succeeded: 0, failed: 0, retried: 0, rateLimited: 0, skipped: 0 };
  private readonly pool: KeyPool;
  private readonly policy: RetryPolicy;
  private readonly worker: Worker<ItemJobData>;
  private readonly providerName: ProviderName | undefined;
  private readonly keysByName: Map<string, ApiKey>;
  private readonly daily: SharedDailyQuota;
  /** The provider's shared breaker (scope 'provider'). */
  private readonly providerBreaker: RedisCircuitBreaker | undefined;
  /** Each key's shared breaker (scope 'key'). */
  private readonly keyBreakers = new Map<string, RedisCircuitBreaker>();

  constructor(private readonly o: RedisBatchWorkerOptions) {
    if (!o.keys || o.keys.length === 0) throw new TypeError('redis worker: keys must be a non-empty array');
    const concurrency = o.concurrency ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`redis worker: concurrency must be an integer >= 1, got ${String(o.concurrency)}`);
    const lockDuration = o.lockDurationMs ?? 15_000;
    if (!(lockDuration >= 1000)) throw new RangeError(`redis worker: lockDurationMs must be >= 1000, got ${String(o.lockDurationMs)}`);
    this.policy = o.retry && typeof (o.retry as RetryPolicy).decide === 'function' ? (o.retry as RetryPolicy) : retryPolicy((o.retry ?? {}) as RetryPolicyOptions);
    this.pool = new KeyPool({
      keys: o.keys,
      backend: o.flow,
      ...(o.limits ? { limits: withSharedBurst(o.limits) } : {}),
      // Explicit, as createSluice does: the pool derives the bare-429 cooldown from learnRate when none is given.
      learnRate: o.learnRate ?? true,
      ...(o.defaultCooldownMs !== undefined ? { defaultCooldownMs: o.defaultCooldownMs } : {}),
      ...(o.quota ? { quota: o.quota } : {}),
    });
    this.daily = new SharedDailyQuota({
      ...o.quota,
      quota: o.flow.quota,
      keys: o.flow.keys,
      ...(o.limits?.requestsPerDay !== undefined ? { requestsPerDay: o.limits.requestsPerDay } : {}),
    });
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
      concurrency,
      lockDuration,
      stalledInterval: Math.max(500, Math.floor(lockDuration / 2)),
      // A job whose worker died is put back, however often that happens; it never fails for it.
      maxStalledCount: 1000,
      autorun: true,
    });
    this.worker.on('error', (e) => this.events.emit('error', { message: e.message }));
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
    if (!picked.ok) return this.delay(job, token, id, systemClock.now() + picked.waitMs, 'waiting for a key');
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
    let response: ProviderResponse | undefined;
    let failure: Classification | undefined;
    let failed: FailureDetail = { startedAt: permit.startedAt };
    try {
      const timeout = this.o.attemptTimeoutMs ?? this.policy.timeoutMs;
      const signal = timeout !== undefined ? AbortSignal.timeout(timeout) : new AbortController().signal;
      response = await this.o.provider.call(item.payload, { key: this.keysByName.get(key.name)!, signal, attempt });
    } catch (error) {
      failure = classify(error, { ...(this.providerName ? { provider: this.providerName } : {}), now: systemClock.now() });
      if (isSluiceError(error) && error.rateLimit) failed = { startedAt: permit.startedAt, rateLimit: error.rateLimit };
    } finally {
      if (response?.usage) permit.settle(response.usage.inputTokens + response.usage.outputTokens);
      permit.release();
    }
    await this.recordBreakers(key.name, probes, failure?.kind);
    if (!failure) {
      this.reportSuccess(key.name, permit.startedAt, response);
      await this.finish(id, attempt, { ok: true, key: key.name }, { id, state: 'succeeded', result: response?.result ?? null });
      this.stats.succeeded++;
      return 'succeeded';
    }
    return this.failed(job, token, id, attempt, key.name, failure, failed);
  }

  /**
   * As the executor does: only a call started after the key's last bare 429 ends its run of strikes
   * (so the cooldown doubling is not undone by calls that were already on the wire), and the
   * response's rate-limit headers and usage feed the key's limiter and quota monitor.
   */
  private reportSuccess(key: string, startedAt: number, response: ProviderResponse | undefined): void {
    this.pool.onSuccess(key, undefined, startedAt);
    if (response?.rateLimit) {
      this.pool.limiter(key).observe(response.rateLimit);
      this.pool.monitor(key).observe(response.rateLimit);
      this.daily.observe(key, response.rateLimit).catch((e: unknown) => this.events.emit('error', { message: `quota snapshot: ${String(e)}` }));
    }
    if (response?.usage) this.pool.monitor(key).recordTokens(response.usage.inputTokens + response.usage.outputTokens);
  }

  private async failed(job: Job<ItemJobData>, token: string | undefined, id: string, attempt: number, key: string, c: Classification, detail: FailureDetail): Promise<string> {
    if (c.kind === 'rate_limited') this.stats.rateLimited++;
    // A 429 carrying rate-limit headers is not learned from (its snapshot says what the server allows).
    if (detail.rateLimit) this.pool.limiter(key).observe(detail.rateLimit);
    this.pool.reportFailure(key, c, detail);
    const decision = this.policy.decide({ classification: c, attempt });
    const outcome = { ok: false as const, key, kind: c.kind, message: c.message, ...(c.status !== undefined && { status: c.status }) };
    const error = { kind: c.kind, message: c.message, ...(c.status !== undefined && { status: c.status }) };
    if (!decision.retry) {
      await this.finish(id, attempt, outcome, { id, state: c.kind === 'cancelled' ? 'cancelled' : 'failed', error });
      this.stats.failed++;
      return 'failed';
    }
    await this.finish(id, attempt, outcome, { id, state: 'pending' });
    this.stats.retried++;
    // A rate-limited job runs at once on another key when one is available (failover), else at its time.
    const failover = c.kind === 'rate_limited' && this.pool.candidates().length > 0;
    return this.delay(job, token, id, systemClock.now() + (failover ? 0 : decision.delayMs), decision.reason);
  }

  private async finish(id: string, attempt: number, outcome: Parameters<RedisJobStore['finishAttempt']>[2], completion: Completion): Promise<void> {
    await this.o.store.finishAttempt(id, attempt, outcome, completion);
    this.events.emit('attempt', { id, attempt, key: outcome.key ?? '', ok: outcome.ok, ...(!outcome.ok && { kind: outcome.kind }), ...(!outcome.ok && outcome.status !== undefined && { status: outcome.status }) });
    if (completion.state !== 'pending') this.events.emit('item', { id, state: completion.state, attempts: attempt });
  }

  /** Moves the job to BullMQ's delayed set until `untilMs` (its not-before time) and ends this processing. */
  private async delay(job: Job<ItemJobData>, token: string | undefined, id: string, untilMs: number, reason: string): Promise<never> {
    this.events.emit('delayed', { id, untilMs, reason });
    await job.moveToDelayed(Math.max(untilMs, systemClock.now()), token);
    throw new DelayedError();
  }

  /**
   * Picks a key for one job at a time: jobs of this worker queue here (FIFO), and only the head asks
   * Redis, so N waiting jobs cost one poll, not N.
   */
  private waitForKey(tokens: number): ReturnType<RedisBatchWorker['pickLoop']> {
    const turn = this.gate.then(() => this.pickLoop(tokens));
    this.gate = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
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
        const now = systemClock.now();
        await this.o.flow.keys.set(name, { state: 'cooling', until: now + breakerWait(ticket), reason: `circuit ${ticket.state}` }, now);
        return false;
      }
      probes.key = ticket.probe;
    }
    const daily = await this.daily.take(name, tokens);
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

  /** Picks a key, waiting in-line for short waits; a long wait is returned (the job is then delayed). */
  private async pickLoop(tokens: number): Promise<{ ok: true; key: ApiKey; permit: Permit; probes: Probes } | { ok: false; waitMs: number }> {
    const maxInline = this.o.maxInlineWaitMs ?? 2_000;
    for (let spins = 0; spins < 10_000; spins++) {
      // The provider's shared breaker first: open, nothing is asked of the pool, the quota or the provider.
      const gate = this.providerBreaker ? await this.providerBreaker.acquire() : CLOSED;
      if (!gate.ok) {
        const waitMs = breakerWait(gate);
        if (waitMs > maxInline) return { ok: false, waitMs };
        await systemClock.sleep(waitMs);
        continue;
      }
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
        continue;
      }
      if (gate.probe) await this.providerBreaker!.release(true);
      const waitMs = Number.isFinite(r.waitMs) ? r.waitMs : 60_000;
      if (waitMs > maxInline) return { ok: false, waitMs };
      await systemClock.sleep(Math.max(1, waitMs));
    }
    return { ok: false, waitMs: 1000 };
  }
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
