import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import { abortError } from '../clock/abort.js';
import type { Classification } from '../classify/kinds.js';
import { AttemptTimeoutError } from './attempt-timeout.js';
import type { TypedEmitter } from '../observe/typed-emitter.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { AttemptRecord, GiveUpEvent, RetryEvent, RetryEvents, SuccessEvent } from './events.js';
import { subscribeAbort } from './abort-hub.js';
import { standardClassifier, type Classifier } from '../classify/classify.js';
import type { Random } from './jitter.js';
import type { GiveUpReason, RetryPolicy } from './policy.js';
import { RetryError, defaultGiveUpMessage } from './retry-error.js';

/** What the retried function receives. */
export interface AttemptContext {
  /** 1-based attempt number of this call. */
  readonly attempt: number;
  /** Aborts when the caller's signal aborts or the attempt times out; pass it to fetch / the SDK. */
  readonly signal: AbortSignal;
}

/** Callbacks of a retry loop (the same payloads as {@link RetryEvents}). */
export interface RetryHooks {
  /** Before each sleep: `attempt` n of `attempts` N failed, the delay, the classification. */
  onRetry?: (event: RetryEvent) => void;
  /** On success: the `attempt` that succeeded. */
  onSuccess?: (event: SuccessEvent) => void;
  /** On give-up: the last `attempt` made and the bound `attempts`, last error, each attempt's kind and delay. */
  onGiveUp?: (event: GiveUpEvent) => void;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Default: the system clock. Tests pass a `VirtualClock`. */
  clock?: Clock;
  /** Cancels the current attempt and any pending sleep at once; no attempt starts after it. */
  signal?: AbortSignal;
  /** Names the work in events, logs and the give-up message (`clip 42`, `veo job 3`). */
  label?: string;
  hooks?: RetryHooks;
  /** Receives `attempt`, `retry`, `success` and `giveUp` events. */
  events?: TypedEmitter<RetryEvents>;
  /** `throw` (default): reject with {@link RetryError} on give-up. `result`: resolve a {@link RetryResult}. */
  mode?: 'throw' | 'result';
  /** Turns errors into classifications, given the clock's time. Default: `classify()` from `src/classify` (`standardClassifier`). */
  classify?: Classifier;
  /** Random source for jitter. Default `Math.random`. */
  random?: Random;
  /** Each attempt goes through this breaker; an open circuit stops the loop (`circuit_open`). */
  breaker?: CircuitBreaker;
}

/** Outcome of {@link retry} in `result` mode. A result's `attempts` counts the attempts made (the bound is in the events). */
export type RetryResult<T> =
  | { ok: true; value: T; attempts: number; history: readonly AttemptRecord[] }
  | {
      ok: false;
      /** A {@link RetryError} (cause: the last error), or the `AbortError` when cancelled. */
      error: Error;
      attempts: number;
      history: readonly AttemptRecord[];
      classification: Classification;
      reason: GiveUpReason;
    };

const NO_OPTIONS: RetryOptions = {};
const NO_HISTORY: readonly AttemptRecord[] = Object.freeze([]);

/**
 * The context of an attempt without a caller signal or timeout. Its signal is created only if the
 * function reads it, so the fast path (first attempt succeeds) allocates no AbortController.
 */
class LazyContext implements AttemptContext {
  private lazySignal: AbortSignal | undefined;
  constructor(readonly attempt: number) {}
  get signal(): AbortSignal {
    return (this.lazySignal ??= new AbortController().signal);
  }
}

/**
 * Calls `fn` until it succeeds or the policy says stop, sleeping on the clock between attempts.
 *
 * ```ts
 * const text = await retry(({ signal }) => fetchClip(id, { signal }), presets.clipDownload(), { label: `clip ${id}` });
 * const r = await retry(fn, policy, { mode: 'result' }); // { ok: false, error, attempts, history } on give-up
 * ```
 * Counts are per call: concurrent calls with one policy never share attempts.
 */
export function retry<T>(
  fn: (ctx: AttemptContext) => Promise<T> | T,
  policy: RetryPolicy,
  options: RetryOptions & { mode: 'result' },
): Promise<RetryResult<T>>;
export function retry<T>(
  fn: (ctx: AttemptContext) => Promise<T> | T,
  policy: RetryPolicy,
  options?: RetryOptions & { mode?: 'throw' },
): Promise<T>;
export function retry<T>(
  fn: (ctx: AttemptContext) => Promise<T> | T,
  policy: RetryPolicy,
  options?: RetryOptions,
): Promise<T | RetryResult<T>>;
export async function retry<T>(
  fn: (ctx: AttemptContext) => Promise<T> | T,
  policy: RetryPolicy,
  options: RetryOptions = NO_OPTIONS,
): Promise<T | RetryResult<T>> {
  // Fast path: nothing to race or link, so the first attempt is a plain call. Any failure, or any
  // option that needs the full loop, goes to `loop`.
  if (
    options.signal === undefined &&
    options.breaker === undefined &&
    options.events === undefined &&
    policy.timeoutMs === undefined &&
    policy.deadlineMs === undefined &&
    policy.validate === undefined
  ) {
    let value: T;
    try {
      value = await fn(new LazyContext(1));
    } catch (err) {
      return loop(fn, policy, options, true, err);
    }
    options.hooks?.onSuccess?.({ label: options.label, attempt: 1 });
    return options.mode === 'result' ? { ok: true, value, attempts: 1, history: NO_HISTORY } : value;
  }
  return loop(fn, policy, options, false, undefined);
}

/**
 * The full loop. `firstFailed` is set when the fast path's first attempt already failed with
 * `firstError`. Not `async` itself: one async frame (in `run`) per waiting loop is enough.
 */
function loop<T>(
  fn: (ctx: AttemptContext) => Promise<T> | T,
  policy: RetryPolicy,
  options: RetryOptions,
  firstFailed: boolean,
  firstError: unknown,
): Promise<T | RetryResult<T>> {
  const clock = options.clock ?? systemClock;
  const classify = options.classify ?? standardClassifier;
  const parent = options.signal;
  if (parent === undefined || parent.aborted) return run(fn, policy, options, clock, classify, parent, firstFailed, firstError);
  // The loop listens to its own signal, linked to the caller's through the shared hub, so the
  // caller's signal carries one listener however many loops wait on it.
  const controller = new AbortController();
  const unsubscribe = subscribeAbort(parent, () => controller.abort(parent.reason));
  return run(fn, policy, options, clock, classify, controller.signal, firstFailed, firstError).finally(unsubscribe);
}

/** The attempts and sleeps of one call; `signal` is the loop's own (linked) signal. */
async function run<T>(
  fn: (ctx: AttemptContext) => Promise<T> | T,
  policy: RetryPolicy,
  options: RetryOptions,
  clock: Clock,
  classify: Classifier,
  signal: AbortSignal | undefined,
  firstFailed: boolean,
  firstError: unknown,
): Promise<T | RetryResult<T>> {
  const { label, hooks, events, breaker } = options;
  const resultMode = options.mode === 'result';
  // With a fast-path failure the first attempt started "just now": close enough for the deadline.
  const started = clock.now();
  const history: AttemptRecord[] = [];
  let previousDelayMs: number | undefined;
  // The bound of the last failure's kind, for a give-up that no decision made (cancelled, breaker open).
  let lastBound: number | undefined;

  const giveUp = (attempt: number, error: unknown, classification: Classification, reason: GiveUpReason): RetryResult<T> => {
    const bound = lastBound ?? policy.settingsFor(classification.kind).attempts;
    const event: GiveUpEvent = { label, attempt, attempts: bound, reason, error, classification, history };
    hooks?.onGiveUp?.(event);
    events?.emit('giveUp', event);
    let finalError: Error;
    if (reason === 'cancelled' && signal?.aborted) {
      finalError = abortError(signal);
    } else {
      const info = { reason, classification, attempts: attempt, label };
      const message = policy.giveUpMessage ? policy.giveUpMessage(info) : defaultGiveUpMessage(info);
      finalError = new RetryError(message, { cause: error, attempts: attempt, history, classification, reason, label });
    }
    if (!resultMode) throw finalError;
    return { ok: false, error: finalError, attempts: attempt, history, classification, reason };
  };

  for (let attempt = 1; ; attempt++) {
    let error: unknown;
    if (attempt === 1 && firstFailed) {
      error = firstError;
    } else {
      if (signal?.aborted) {
        const err = abortError(signal);
        return giveUp(attempt - 1, err, classify(err, clock.now()), 'cancelled');
      }
      if (breaker && !breaker.canExecute()) {
        const err = breaker.brokenError();
        const cl: Classification = { kind: 'unknown', retryable: false, message: err.message };
        return giveUp(attempt - 1, err, cl, 'circuit_open');
      }
      events?.emit('attempt', { label, attempt });
      try {
        const value = await runAttempt(fn, attempt, signal, remainingTimeout(policy, clock, started), clock);
        policy.validate?.(value, attempt);
        breaker?.recordSuccess();
        const event: SuccessEvent = { label, attempt };
        hooks?.onSuccess?.(event);
        events?.emit('success', event);
        return resultMode ? { ok: true, value, attempts: attempt, history } : value;
      } catch (err) {
        error = err;
      }
    }
    // A caller's abort wins over whatever the attempt threw on its way out.
    const classification: Classification = signal?.aborted ? classify(abortError(signal), clock.now()) : classify(error, clock.now());
    breaker?.recordFailure(classification.kind);
    const decision = policy.decide({
      classification,
      attempt,
      previousDelayMs,
      elapsedMs: clock.now() - started,
      random: options.random,
      now: clock.now(),
    });
    history.push({ attempt, kind: classification.kind, message: classification.message, delayMs: decision.retry ? decision.delayMs : 0 });
    lastBound = decision.attempts;
    if (!decision.retry) {
      return giveUp(attempt, error, classification, decision.giveUp ?? 'not_retryable');
    }
    if (hooks?.onRetry || events) {
      const event: RetryEvent = { label, attempt, attempts: decision.attempts, delayMs: decision.delayMs, classification, error };
      hooks?.onRetry?.(event);
      events?.emit('retry', event);
    }
    const { delayMs } = decision;
    try {
      await clock.sleep(delayMs, signal);
    } catch (err) {
      return giveUp(attempt, err, classify(abortError(signal), clock.now()), 'cancelled');
    }
    previousDelayMs = delayMs;
  }
}

/** The attempt's timeout: the policy's, shortened so that no attempt runs past the deadline. */
function remainingTimeout(policy: RetryPolicy, clock: Clock, started: number): number | undefined {
  const { timeoutMs, deadlineMs } = policy;
  if (deadlineMs === undefined) return timeoutMs;
  const left = Math.max(1, deadlineMs - (clock.now() - started));
  return timeoutMs === undefined ? left : Math.min(timeoutMs, left);
}

/**
 * Runs one attempt. With a caller signal or a timeout, the attempt gets its own signal and the
 * returned promise settles as soon as that signal aborts, even if `fn` ignores it: a cancelled or
 * timed-out attempt never holds the loop.
 */
function runAttempt<T>(
  fn: (ctx: AttemptContext) => Promise<T> | T,
  attempt: number,
  parent: AbortSignal | undefined,
  timeoutMs: number | undefined,
  clock: Clock,
): Promise<T> {
  if (parent === undefined && timeoutMs === undefined) {
    try {
      return Promise.resolve(fn(new LazyContext(attempt)));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  // Without a timeout the loop's own signal (per call, linked to the caller's) is the attempt's
  // signal: no controller per attempt.
  const controller = timeoutMs === undefined ? undefined : new AbortController();
  const signal = controller ? controller.signal : parent!;
  return new Promise<T>((resolve, reject) => {
    let cancelTimer: (() => void) | undefined;
    const onParentAbort = (): void => controller?.abort(abortError(parent));
    const onAbort = (): void => {
      cleanup();
      reject(controller ? signal.reason : abortError(signal));
    };
    const cleanup = (): void => {
      cancelTimer?.();
      if (controller) parent?.removeEventListener('abort', onParentAbort);
      signal.removeEventListener('abort', onAbort);
    };
    if (signal.aborted || parent?.aborted) {
      reject(abortError(parent ?? signal));
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    if (controller) {
      parent?.addEventListener('abort', onParentAbort, { once: true });
      cancelTimer = clock.setTimer(timeoutMs!, () => controller.abort(new AttemptTimeoutError(attempt, timeoutMs!)));
    }
    let pending: Promise<T> | T;
    try {
      pending = fn({ attempt, signal });
    } catch (err) {
      cleanup();
      reject(err);
      return;
    }
    Promise.resolve(pending).then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (err: unknown) => {
        cleanup();
        reject(err);
      },
    );
  });
}

