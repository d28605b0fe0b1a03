import { setMaxListeners } from 'node:events';
import { abortError } from '../clock/abort.js';
import type { CancelTimer, Clock } from '../clock/clock.js';
import type { Classification } from '../classify/kinds.js';
import { isSluiceError } from '../classify/sluice-error.js';
import { TypedEmitter } from '../observe/typed-emitter.js';
import type { ProviderAdapter, ProviderResponse } from '../provider/types.js';
import type { ExecutorEvents, JobId } from './events.js';
import { CallbackJob, JobState, PromiseJob, jobGiveUpError } from './job.js';
import type { Job } from './job.js';
import type { AttemptEndInfo, AttemptHooks, JobResult, RunOptions } from './job.js';
import type { KeyLane } from './key-router.js';
import { KeyRouter } from './key-router.js';
import type { Classifier, SchedulerConcurrency, SchedulerKeyPool, SchedulerPermit, SchedulerPolicy } from './ports.js';
import { ReadyQueue, RetryQueue } from './queues.js';
import { decideAfterFailure } from './failure-decision.js';
import { recordFailure, recordSuccess, type OutcomeSinks } from './outcome.js';
import { AttemptTimeoutError } from '../attempt/attempt-timeout.js';
import type { RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';

/** Everything an {@link Executor} is built from (`createSluice` fills it from user options). */
export interface ExecutorConfig<P, R> {
  clock: Clock;
  provider: ProviderAdapter<P, R>;
  lanes: readonly KeyLane[];
  pool: SchedulerKeyPool;
  policy: SchedulerPolicy;
  classify: Classifier;
  concurrency: SchedulerConcurrency;
  /** Per-attempt timeout in ms: the attempt's signal aborts and it counts as `timeout`. */
  attemptTimeoutMs?: number;
  /** A rate-limited or quota-exhausted job runs at once on another key when one is available. Default true. */
  failover?: boolean;
  /** Grace period for in-flight calls on close/shutdown before they are aborted. Default 10,000 ms. */
  shutdownGraceMs?: number;
  /** Close gracefully on SIGINT/SIGTERM. Default false. */
  handleSignals?: boolean;
  /** `runAll` keeps at most this many of its items queued or running. Default 1,000. */
  maxQueued?: number;
  /** Hooks called for every job's attempts (in addition to the job's own). */
  hooks?: AttemptHooks;
  events?: TypedEmitter<ExecutorEvents>;
}

/** Options of {@link Executor.runAll}. */
export interface RunAllOptions<T, P, R> {
  /** Called with each item's outcome as it ends (any order). */
  onResult?: (result: JobResult<R>, item: T, index: number) => void | Promise<void>;
  /** Most items queued or running at once (backpressure on the input). Default: the executor's `maxQueued`. */
  maxQueued?: number;
  /** Maps an input item to its payload and options. Default: the item is the payload. */
  toJob?: (item: T, index: number) => { payload: P } & RunOptions;
  /** Stops taking input and cancels the items of this call. */
  signal?: AbortSignal;
}

/** Counts returned by {@link Executor.runAll}. */
export interface RunAllSummary {
  submitted: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** Options of {@link Executor.close}. */
export interface CloseOptions {
  /** How long in-flight calls may take to finish before they are aborted. Default: the executor's `shutdownGraceMs`. */
  graceMs?: number;
}

/**
 * Runs jobs against a provider with several keys as fast as their limits allow.
 *
 * A priority queue (stable within a priority) feeds a dispatcher that picks, for the job at the head, a
 * key whose limiter grants a start now. A failed attempt is classified, reported to the key pool (which
 * cools, parks or disables the key), then the retry policy decides: retry after a delay (the retry
 * queue, by not-before time), retry at once on another key (rate limits), or fail the job. When
 * nothing can start, ONE timer is set for the earliest moment something can. Retry counters are per
 * job; one job's cancellation or failure touches no other job; `close()` leaves no timer behind.
 */
export class Executor<P = unknown, R = unknown> {
  /** Every decision, as typed events. */
  readonly events: TypedEmitter<ExecutorEvents>;
  private readonly clock: Clock;
  private readonly router: KeyRouter;
  private readonly ready = new ReadyQueue<Job<P, R>>();
  private readonly retries = new RetryQueue<Job<P, R>>();
  private readonly running = new Set<Job<P, R>>();
  /** The signal of attempts that need no controller of their own; aborted when close()'s grace ends. */
  private readonly shutdown = new AbortController();
  private seq = 0;
  private inFlight = 0;
  /** Jobs submitted and not yet ended. */
  private pending = 0;
  private paused = false;
  private closing = false;
  private closed = false;
  private timerAt = Infinity;
  private cancelTimer: CancelTimer | undefined;
  private pumping = false;
  private pumpAgain = false;
  private idleWaiters: (() => void)[] = [];
  /** Called when no attempt is running any more (close's grace period). */
  private runningWaiters: (() => void)[] = [];
  private removeSignalHandlers: (() => void) | undefined;

  constructor(private readonly config: ExecutorConfig<P, R>) {
    this.clock = config.clock;
    this.events = config.events ?? new TypedEmitter<ExecutorEvents>();
    this.router = new KeyRouter(config.lanes, config.pool, this.events);
    // Every in-flight call without its own controller listens on this one signal.
    setMaxListeners(0, this.shutdown.signal);
    if (config.handleSignals) this.installSignalHandlers();
    // A limit raised between outcomes (a fleet's share arriving with a lease answer, batch/redis)
    // starts what it allows at once, not at the next outcome. After the current step: the raise may
    // come in the middle of an outcome's bookkeeping.
    this.events.on('concurrencyChange', (c) => {
      if (c.to > c.from) queueMicrotask(() => this.pump());
    });
  }

  /** Jobs waiting to start (ready or waiting for a retry time). */
  get queued(): number {
    return this.ready.size + this.retries.size;
  }

  /** Attempts in flight. */
  get active(): number {
    return this.inFlight;
  }

  /** Jobs submitted and not yet ended. */
  get size(): number {
    return this.pending;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Runs one job; resolves with its result, rejects with a `RetryError` (or an `AbortError` when cancelled). */
  run(payload: P, options?: RunOptions): Promise<R> {
    let job: PromiseJob<P, R>;
    try {
      job = new PromiseJob<P, R>(...this.jobFields(payload, options));
    } catch (err) {
      return Promise.reject(err);
    }
    const promise = new Promise<R>((resolve, reject) => {
      job.resolve = resolve;
      job.reject = reject;
    });
    this.enqueue(job);
    return promise;
  }

  /** Result mode: like {@link run} but never rejects; resolves with the job's {@link JobResult}. */
  runSettled(payload: P, options?: RunOptions): Promise<JobResult<R>> {
    try {
      return new Promise<JobResult<R>>((resolve) => this.submit(payload, options, resolve));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Low-level submission: `done` is called once with the job's outcome. No promise is made per job, so
   * a shared `done` makes queued jobs cost little more than their payloads. Returns the job id.
   */
  submit(payload: P, options: RunOptions | undefined, done: (result: JobResult<R>) => void): JobId {
    const job = new CallbackJob<P, R>(...this.jobFields(payload, options), done);
    this.enqueue(job);
    return job.id;
  }

  private jobFields(payload: P, options: RunOptions | undefined): [JobId, P, number, number, number, number, RunOptions | undefined] {
    if (options !== undefined) checkRunOptions(options);
    const seq = ++this.seq;
    const tokens = options?.tokens ?? this.config.provider.estimateTokens?.(payload) ?? 0;
    return [options?.id ?? seq, payload, options?.priority ?? 0, seq, tokens, this.clock.now(), options];
  }

  private enqueue(job: Job<P, R>): void {
    this.pending++;
    if (this.closing) {
      this.finishCancelled(job, shutdownReason());
      return;
    }
    const signal = job.options?.signal;
    if (signal) {
      if (signal.aborted) {
        this.finishCancelled(job, signal.reason);
        return;
      }
      job.onAbort = () => this.cancel(job, signal.reason);
      signal.addEventListener('abort', job.onAbort, { once: true });
    }
    this.ready.push(job);
    this.pump();
  }

  /**
   * Runs many jobs with backpressure: pulls from `items` (sync or async iterable) only while fewer than
   * `maxQueued` of them are queued or running, so a million-line input is never all in memory.
   */
  async runAll<T>(items: Iterable<T> | AsyncIterable<T>, options: RunAllOptions<T, P, R> = {}): Promise<RunAllSummary> {
    const max = options.maxQueued ?? this.config.maxQueued ?? 1000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`runAll: maxQueued must be an integer >= 1, got ${String(max)}`);
    const summary: RunAllSummary = { submitted: 0, succeeded: 0, failed: 0, cancelled: 0 };
    let outstanding = 0;
    let wake: (() => void) | undefined;
    let callbackError: unknown;
    const callbacks = new Set<Promise<void>>();
    // Plain payloads share one options object (the call's signal), instead of one per item.
    const sharedOptions: RunOptions | undefined = options.signal ? { signal: options.signal } : undefined;
    const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();
    for (let index = 0; ; index++) {
      while (outstanding >= max) await new Promise<void>((r) => (wake = r));
      if (options.signal?.aborted || this.closing || callbackError !== undefined) break;
      const next = await iterator.next();
      if (next.done) break;
      const item = next.value;
      let payload: P;
      let runOptions: RunOptions | undefined = sharedOptions;
      if (options.toJob) {
        const job = options.toJob(item, index);
        payload = job.payload;
        runOptions = options.signal ? { ...job, signal: linkOptional(job.signal, options.signal) } : job;
      } else {
        payload = item as unknown as P;
      }
      outstanding++;
      summary.submitted++;
      this.submit(payload, runOptions, (result) => {
        outstanding--;
        if (result.ok) summary.succeeded++;
        else if (result.cancelled) summary.cancelled++;
        else summary.failed++;
        if (options.onResult) {
          const p = Promise.resolve()
            .then(() => options.onResult?.(result, item, index))
            .catch((err: unknown) => {
              callbackError ??= err;
            });
          callbacks.add(p);
          void p.then(() => callbacks.delete(p));
        }
        const w = wake;
        wake = undefined;
        w?.();
      });
    }
    while (outstanding > 0) await new Promise<void>((r) => (wake = r));
    await Promise.all([...callbacks]);
    if (callbackError !== undefined) throw callbackError;
    return summary;
  }

  /** Stops starting attempts (in-flight ones continue). */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.disarm();
    this.events.emit('pause', { reason: 'manual' });
  }

  /** Starts attempts again after {@link pause}. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.events.emit('resume', { reason: 'manual' });
    this.pump();
  }

  /** Resolves when nothing is queued or running (new submissions during the wait are waited for too). */
  drain(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops: no new starts; queued jobs end as cancelled; in-flight calls get `graceMs` to finish, then
   * are aborted. Resolves when every job has ended; afterwards no timer of the executor remains.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.disarm();
      this.removeSignalHandlers?.();
      this.removeSignalHandlers = undefined;
      const reason = shutdownReason();
      for (const job of [...this.ready.drain(), ...this.retries.drain()]) this.finishCancelled(job, reason);
      if (this.running.size > 0) await this.graceThenAbort(options.graceMs ?? this.config.shutdownGraceMs ?? 10_000, reason);
      // Jobs between attempts (awaiting a hook) end as cancelled when the hook returns.
      await this.drain();
      this.router.close();
      this.config.concurrency.close?.();
      this.closed = true;
    }
    if (!this.closed) await this.drain();
  }

  /**
   * The quota monitors' state per key name (JSON-able): pass it as `createSluice({ quotaState })` to a
   * restarted run so that it knows the day's usage and any pause still in force.
   */
  quotaState(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const lane of this.config.lanes) {
      const state = lane.quota?.save?.();
      if (state !== undefined) out[lane.key.name] = state;
    }
    return out;
  }

  /** Cancels one job by id (queued: removed; running: its attempt is aborted). Returns whether it was found. */
  cancelJob(id: JobId, reason?: unknown): boolean {
    for (const job of this.running) if (job.id === id) return this.cancel(job, reason), true;
    // Queued jobs are not indexed by id (to keep them small); cancelling by id scans, which is rare.
    const found = this.findQueued(id);
    if (found) this.cancel(found, reason);
    return found !== undefined;
  }

  // ---------------------------------------------------------------- dispatch

  /** Starts what can start now and sets the single wake-up timer. Re-entrant calls are folded into one loop. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.dispatch();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private dispatch(): void {
    if (this.closing) return;
    const now = this.clock.now();
    this.router.noticeReturns(now);
    for (const job of this.retries.takeDue(now)) {
      job.state = JobState.Queued;
      this.ready.push(job);
    }
    let keyWaitMs = Infinity;
    if (!this.paused) {
      while (this.ready.size > 0 && this.inFlight < this.config.concurrency.limit) {
        const job = this.ready.peek()!;
        const route = this.router.route(job.tokens, now);
        if (route.permit) {
          this.ready.pop();
          this.startAttempt(job, route.lane, route.permit);
          continue;
        }
        keyWaitMs = route.waitMs;
        if (keyWaitMs === Infinity && this.router.allDisabled(now)) this.failAllQueued();
        break;
      }
    }
    this.arm(now, keyWaitMs);
  }

  /** One timer, at the earliest of: a retry's not-before time, the moment a key can start the head job, a key's return. */
  private arm(now: number, keyWaitMs: number): void {
    let at = Infinity;
    if (!this.paused && this.inFlight < this.config.concurrency.limit) {
      if (this.ready.size > 0 && Number.isFinite(keyWaitMs)) at = now + Math.max(1, Math.ceil(keyWaitMs));
      const retryAt = this.retries.nextAt();
      if (retryAt !== undefined) at = Math.min(at, Math.max(retryAt, now + 1));
    }
    // A key's return is announced on time (cooldownEnd) even when no job waits for it.
    const returnAt = this.router.nextReturnAt();
    if (returnAt !== undefined) at = Math.min(at, Math.max(returnAt, now + 1));
    if (at === this.timerAt) return;
    this.disarm();
    if (at === Infinity) return;
    this.timerAt = at;
    this.cancelTimer = this.clock.setTimer(at - now, () => {
      this.cancelTimer = undefined;
      this.timerAt = Infinity;
      this.pump();
    });
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
  }


  // ---------------------------------------------------------------- attempts

  private startAttempt(job: Job<P, R>, lane: KeyLane, permit: SchedulerPermit): void {
    this.inFlight++;
    job.attempt++;
    job.state = JobState.Running;
    job.lastKey = lane.key.name;
    // An own controller only where one job's attempt may have to be aborted alone (its signal, a
    // timeout); the others share the executor's shutdown signal (an AbortController per call costs
    // more than the rest of the dispatch; see bench/executor.bench.ts).
    job.controller = job.options?.signal || this.config.attemptTimeoutMs !== undefined ? new AbortController() : undefined;
    this.running.add(job);
    this.config.pool.onStart?.(lane.key.name, this.clock.now());
    lane.quota?.onStart?.(job.tokens, this.clock.now());
    this.events.emit('keyChosen', { jobId: job.id, attempt: job.attempt, key: lane.key.name });
    void this.execute(job, lane, permit, job.controller);
  }

  private async execute(job: Job<P, R>, lane: KeyLane, permit: SchedulerPermit, controller: AbortController | undefined): Promise<void> {
    const signal = controller?.signal ?? this.shutdown.signal;
    const attempt = job.attempt;
    const key = lane.key.name;
    const startedAt = this.clock.now();
    let timedOut: AttemptTimeoutError | undefined;
    let cancelTimeout: CancelTimer | undefined;
    let response: ProviderResponse<R> | undefined;
    let failure: unknown;
    try {
      if (this.config.hooks?.onAttemptStart || job.options?.onAttemptStart) await this.hookStart(job, attempt, key);
      if (signal.aborted) throw abortError(signal);
      const timeoutMs = this.config.attemptTimeoutMs;
      if (timeoutMs !== undefined && controller) {
        cancelTimeout = this.clock.setTimer(timeoutMs, () => {
          timedOut = new AttemptTimeoutError(attempt, timeoutMs);
          controller.abort(timedOut);
        });
      }
      response = await this.config.provider.call(job.payload, { key: lane.key, signal, attempt });
    } catch (err) {
      failure = err;
    }
    cancelTimeout?.();
    job.controller = undefined;
    this.running.delete(job);
    this.inFlight--;
    if (this.running.size === 0 && this.runningWaiters.length > 0) {
      for (const w of this.runningWaiters.splice(0)) w();
    }
    const now = this.clock.now();
    if (response) await this.onSuccess(job, lane, permit, response, startedAt, now);
    else await this.onFailure(job, lane, permit, failure, timedOut, startedAt, now);
  }

  private async onSuccess(job: Job<P, R>, lane: KeyLane, permit: SchedulerPermit, res: ProviderResponse<R>, startedAt: number, now: number): Promise<void> {
    if (job.cancelReason !== undefined) {
      // Cancelled while its call (on the shared signal) was running: the answer is not delivered.
      await this.onFailure(job, lane, permit, abortError(signalLike(job.cancelReason)), undefined, now, now);
      return;
    }
    const rejected = this.validate(res.result, job.attempt);
    if (rejected !== undefined) {
      // The policy's validator refused the result: the attempt is a failure of the thrown error's kind.
      await this.onFailure(job, lane, permit, rejected.error, undefined, startedAt, now, res.rateLimit);
      return;
    }
    recordSuccess(this.sinks(lane), { key: lane.key.name, permit, tokens: job.tokens, startedAt, now }, res);
    this.pump();
    job.state = JobState.Deciding;
    if (this.config.hooks?.onAttemptEnd || job.options?.onAttemptEnd) {
      await this.hookEnd(job, { jobId: job.id, attempt: job.attempt, key: lane.key.name, ok: true, outcome: 'success' });
    }
    this.events.emit('jobSucceeded', { jobId: job.id, attempt: job.attempt, key: lane.key.name });
    this.finish(job, { ok: true, id: job.id, value: res.result, attempts: job.attempt, key: lane.key.name });
  }

  /** Runs the policy's result validator; returns the error it threw, if any. */
  private validate(value: unknown, attempt: number): { error: unknown } | undefined {
    const check = this.config.policy.validate;
    if (!check) return undefined;
    try {
      check(value, attempt);
      return undefined;
    } catch (error) {
      return { error };
    }
  }

  /** Where outcomes of attempts on `lane` are recorded (see outcome.ts). */
  private sinks(lane: KeyLane): OutcomeSinks {
    return { limiter: lane.limiter, quota: lane.quota, pool: this.config.pool, concurrency: this.config.concurrency };
  }

  private async onFailure(job: Job<P, R>, lane: KeyLane, permit: SchedulerPermit, failure: unknown, timedOut: AttemptTimeoutError | undefined, startedAt: number, now: number, responseRateLimit?: RateLimitSnapshot): Promise<void> {
    const key = lane.key.name;
    const attempt = { key, permit, tokens: job.tokens, startedAt, now };
    if (job.cancelReason !== undefined) {
      recordFailure(this.sinks(lane), attempt, CANCELLED);
      this.pump();
      job.state = JobState.Deciding;
      await this.hookEnd(job, { jobId: job.id, attempt: job.attempt, key, ok: false, outcome: 'cancelled', kind: 'cancelled' });
      this.finishCancelled(job, job.cancelReason);
      return;
    }
    const classification = timedOut ? timedOut.classification : this.config.classify(failure, now);
    const rateLimit = (isSluiceError(failure) ? failure.rateLimit : undefined) ?? responseRateLimit;
    const effect = recordFailure(this.sinks(lane), attempt, classification, rateLimit);
    if (effect && effect.state !== 'active' && effect.changed !== false) {
      const until = effect.until ?? Infinity;
      this.events.emit('cooldownStart', { key, state: effect.state, until, waitMs: Math.max(0, until - now), kind: classification.kind });
    }
    this.events.emit('attemptFailed', { jobId: job.id, attempt: job.attempt, key, classification });

    const next = decideAfterFailure(
      {
        classification,
        attempt: job.attempt,
        keyMoves: job.keyMoves,
        ...(job.previousDelayMs !== undefined ? { previousDelayMs: job.previousDelayMs } : {}),
        elapsedMs: now - job.createdAt,
        now,
        keys: {
          key,
          keyCount: this.router.size,
          otherAvailableNow: this.router.hasOtherAvailable(key, now),
          otherMayReturn: this.router.hasOtherUsable(key, now),
          ...(effect?.probe === true ? { probe: true } : {}),
          ...(this.config.failover !== undefined ? { failover: this.config.failover } : {}),
        },
      },
      this.config.policy,
    );
    job.keyMoves = next.keyMoves;
    const retry = next.action !== 'fail';
    const delayMs = next.action === 'later' ? next.delayMs : 0;
    this.pump();
    job.state = JobState.Deciding;
    const message = next.action === 'fail' ? next.message : classification.message;
    const base = { jobId: job.id, attempt: job.attempt, key, ok: false, classification, kind: classification.kind, message };
    const info: AttemptEndInfo = { ...base, ...(classification.status !== undefined ? { status: classification.status } : {}), outcome: retry ? 'retry' : 'failed', ...(retry ? { delayMs } : {}) };
    if (retry) {
      this.events.emit('retryScheduled', { jobId: job.id, attempt: job.attempt, delayMs, kind: classification.kind, key, reason: next.reason, attempts: next.attempts });
    }
    await this.hookEnd(job, info);
    if (job.cancelReason !== undefined || this.closing) {
      this.finishCancelled(job, job.cancelReason ?? shutdownReason());
      return;
    }
    if (next.action === 'fail') {
      this.events.emit('jobFailed', { jobId: job.id, attempt: job.attempt, attempts: next.attempts, kind: classification.kind, message, key });
      const error = jobGiveUpError({ ...classification, message }, { jobId: job.id, attempts: job.attempt, reason: next.giveUp, key, cause: failure });
      this.finish(job, { ok: false, id: job.id, error, kind: classification.kind, attempts: job.attempt, cancelled: false, key });
      return;
    }
    job.previousDelayMs = delayMs;
    if (next.action === 'other-key') {
      job.state = JobState.Queued;
      this.ready.pushFront(job);
    } else {
      job.state = JobState.WaitingRetry;
      job.notBefore = now + delayMs;
      this.retries.push(job);
    }
    this.pump();
  }

  private async hookStart(job: Job<P, R>, attempt: number, key: string): Promise<void> {
    const info = { jobId: job.id, attempt, key };
    const g = this.config.hooks?.onAttemptStart;
    const own = job.options?.onAttemptStart;
    if (g) await g(info);
    if (own) await own(info);
  }

  /** Attempt-end hooks are awaited; a throwing hook is reported by failing nothing else (its job continues). */
  private async hookEnd(job: Job<P, R>, info: AttemptEndInfo): Promise<void> {
    const g = this.config.hooks?.onAttemptEnd;
    const own = job.options?.onAttemptEnd;
    if (!g && !own) return;
    try {
      if (g) await g(info);
      if (own) await own(info);
    } catch {
      // A hook failure (e.g. a store write) must not leave the job hanging; the job's own outcome stands.
    }
  }

  // ---------------------------------------------------------------- endings

  private cancel(job: Job<P, R>, reason: unknown): void {
    if (job.state === JobState.Done || job.cancelReason !== undefined) return;
    job.cancelReason = reason ?? abortError(undefined);
    if (job.state === JobState.Queued && this.ready.remove(job)) {
      this.finishCancelled(job, job.cancelReason);
      this.pump();
    } else if (job.state === JobState.WaitingRetry && this.retries.remove(job)) {
      this.finishCancelled(job, job.cancelReason);
      this.pump();
    } else if (job.state === JobState.Running) {
      job.controller?.abort(job.cancelReason);
    }
    // Deciding: the job ends as cancelled once its hook returns.
  }

  private finishCancelled(job: Job<P, R>, reason: unknown): void {
    const error = abortError(signalLike(reason));
    this.events.emit('jobCancelled', { jobId: job.id, attempt: job.attempt });
    this.finish(job, { ok: false, id: job.id, error, kind: 'cancelled', attempts: job.attempt, cancelled: true, ...(job.lastKey ? { key: job.lastKey } : {}) });
  }

  private finish(job: Job<P, R>, result: JobResult<R>): void {
    if (job.state === JobState.Done) return;
    job.state = JobState.Done;
    if (job.onAbort) job.options?.signal?.removeEventListener('abort', job.onAbort);
    job.onAbort = undefined;
    this.pending--;
    try {
      job.settle(result);
    } finally {
      if (this.pending === 0) {
        this.events.emit('idle', {});
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private failAllQueued(): void {
    const classification: Classification = { kind: 'auth', retryable: false, message: 'every key is disabled' };
    for (const job of [...this.ready.drain(), ...this.retries.drain()]) {
      this.events.emit('jobFailed', { jobId: job.id, attempt: job.attempt, kind: 'auth', message: classification.message });
      const error = jobGiveUpError(classification, { jobId: job.id, attempts: job.attempt, reason: 'not_retryable', ...(job.lastKey ? { key: job.lastKey } : {}) });
      this.finish(job, { ok: false, id: job.id, error, kind: 'auth', attempts: job.attempt, cancelled: false });
    }
  }

  private findQueued(id: JobId): Job<P, R> | undefined {
    const all = [...this.ready.drain(), ...this.retries.drain()];
    let found: Job<P, R> | undefined;
    for (const job of all) {
      if (job.id === id) found = job;
      if (job.state === JobState.WaitingRetry) this.retries.push(job);
      else this.ready.push(job);
    }
    return found;
  }

  private async graceThenAbort(graceMs: number, reason: unknown): Promise<void> {
    this.events.emit('pause', { reason: 'shutdown' });
    const stopGrace = new AbortController();
    const allDone = new Promise<'done'>((resolve) => this.runningWaiters.push(() => resolve('done')));
    const grace = this.clock.sleep(graceMs, stopGrace.signal).then(
      () => 'grace' as const,
      () => 'done' as const,
    );
    const winner = await Promise.race([allDone, grace]);
    stopGrace.abort(); // removes the grace timer if the calls finished first
    if (winner === 'grace') {
      for (const job of [...this.running]) this.cancel(job, reason);
      this.shutdown.abort(reason);
    }
  }

  private installSignalHandlers(): void {
    const onSignal = (): void => {
      void this.close();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    this.removeSignalHandlers = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  }
}

/** Throws a `TypeError`/`RangeError` naming the field when a job's options are unusable. */
function checkRunOptions(o: RunOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError(`run options must be an object, got ${String(o)}`);
  if (o.priority !== undefined && (typeof o.priority !== 'number' || !Number.isFinite(o.priority))) {
    throw new RangeError(`run options: priority must be a finite number, got ${String(o.priority)}`);
  }
  if (o.tokens !== undefined && (typeof o.tokens !== 'number' || !Number.isFinite(o.tokens) || o.tokens < 0)) {
    throw new RangeError(`run options: tokens must be a finite number >= 0, got ${String(o.tokens)}`);
  }
  if (o.startAttempt !== undefined && (!Number.isInteger(o.startAttempt) || o.startAttempt < 0)) {
    throw new RangeError(`run options: startAttempt must be an integer >= 0, got ${String(o.startAttempt)}`);
  }
  if (o.id !== undefined && typeof o.id !== 'string' && typeof o.id !== 'number') {
    throw new TypeError(`run options: id must be a string or a number, got ${typeof o.id}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('run options: signal must be an AbortSignal');
}

const CANCELLED: Classification = { kind: 'cancelled', retryable: false, message: 'cancelled' };


function shutdownReason(): Error {
  const err = new Error('the executor was closed');
  err.name = 'AbortError';
  return err;
}

/** abortError() reads `signal.reason`; wrap a bare reason so it can. */
function signalLike(reason: unknown): AbortSignal {
  return { reason } as AbortSignal;
}

function linkOptional(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a) return b;
  if (!b) return a;
  return AbortSignal.any([a, b]);
}
