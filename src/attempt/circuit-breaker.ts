import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import { ERROR_KINDS, isErrorKind } from '../classify/kinds.js';
import type { ErrorKind } from '../classify/kinds.js';
import { TypedEmitter } from '../observe/typed-emitter.js';
import type { Listener } from '../observe/typed-emitter.js';
import type { BreakerEvents, BreakerState, BreakerStateEvent } from './events.js';
import { standardClassifier, type Classifier } from '../classify/classify.js';
import { checkInteger, checkKnownKeys, checkNumber, checkObject, show } from './validate.js';

/** Opens after `failures` consecutive counted failures. */
export interface ConsecutiveStrategy {
  type: 'consecutive';
  /** Default 5. */
  failures?: number;
}

/** Opens when the share of counted failures in the sampling window reaches `threshold`. */
export interface RatioStrategy {
  type: 'ratio';
  /** Failure share in (0, 1] that opens the circuit. Default 0.5. */
  threshold?: number;
  /** Sampling window in ms. Default 60,000. */
  windowMs?: number;
  /** Fewest calls in the window before the ratio counts. Default 10. */
  minThroughput?: number;
}

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Name for events, logs and error messages. */
  name?: string;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: `{ type: 'consecutive', failures: 5 }`. */
  strategy?: ConsecutiveStrategy | RatioStrategy;
  /** How long the circuit stays open before one probe is let through, in ms. Default 30,000. */
  breakDurationMs?: number;
  /** Kinds that open the circuit at once (a revoked key will not heal by retrying). Default `['auth']`. */
  openOnKinds?: readonly ErrorKind[];
  /**
   * Kinds counted as failures of the service. Other kinds (a 404, a bad request) mean the service
   * answered, so they count as successes; `cancelled` counts as nothing.
   * Default: overloaded, server_error, timeout, network, unknown.
   */
  failureKinds?: readonly ErrorKind[];
  /** Classifier used by {@link CircuitBreaker.execute}. Default: `classify()` from `src/classify`. */
  classify?: Classifier;
}

/**
 * Thrown instead of calling when the circuit is open or isolated. Says when a probe will be let
 * through, as an ISO time and in ms.
 */
export class BrokenCircuitError extends Error {
  override readonly name = 'BrokenCircuitError';
  /** When the circuit half-opens (ms since epoch); undefined while isolated (only `reset()` closes it). */
  readonly halfOpenAt: number | undefined;
  /** Milliseconds until then. */
  readonly retryInMs: number | undefined;

  constructor(name: string | undefined, halfOpenAt: number | undefined, now: number) {
    const which = name ? `circuit "${name}"` : 'circuit';
    super(
      halfOpenAt === undefined
        ? `${which} is isolated: no call until reset()`
        : `${which} is open: half-opens at ${new Date(halfOpenAt).toISOString()} (in ${Math.max(0, halfOpenAt - now)} ms)`,
    );
    this.halfOpenAt = halfOpenAt;
    this.retryInMs = halfOpenAt === undefined ? undefined : Math.max(0, halfOpenAt - now);
  }
}

const DEFAULT_FAILURE_KINDS: readonly ErrorKind[] = ['overloaded', 'server_error', 'timeout', 'network', 'unknown'];
const BUCKETS = 10;

/** Counts of one slice of the ratio strategy's sampling window. */
interface Bucket {
  start: number;
  successes: number;
  failures: number;
}

/**
 * A circuit breaker: after repeated failures it fails fast for `breakDurationMs`, then lets one probe
 * through (half-open); the probe's outcome closes or re-opens it. Open-to-half-open happens lazily
 * on the next `canExecute()`, so the breaker holds no timer.
 *
 * Use `execute(fn)` directly, or `canExecute()` / `recordSuccess()` / `recordFailure(kind)` from a
 * loop that classifies by itself (as `retry()` and the executor do).
 */
export class CircuitBreaker {
  /** State change events (`breakerState`). */
  readonly events = new TypedEmitter<BreakerEvents>();
  private readonly name: string | undefined;
  private readonly clock: Clock;
  private readonly breakDurationMs: number;
  private readonly openOnKinds: ReadonlySet<ErrorKind>;
  private readonly failureKinds: ReadonlySet<ErrorKind>;
  private readonly classify: Classifier;
  private readonly consecutiveLimit: number | undefined;
  private readonly ratio: { threshold: number; windowMs: number; minThroughput: number; bucketMs: number } | undefined;
  private readonly buckets: Bucket[] = [];
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private openUntil = 0;
  private probeInFlight = false;

  constructor(options: CircuitBreakerOptions = {}) {
    const where = 'circuit breaker';
    checkKnownKeys(checkObject(options, where), ['name', 'clock', 'strategy', 'breakDurationMs', 'openOnKinds', 'failureKinds', 'classify'], where);
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.classify = options.classify ?? standardClassifier;
    this.breakDurationMs = checkNumber(options.breakDurationMs ?? 30_000, `${where}: breakDurationMs`, 0);
    this.openOnKinds = new Set(checkKinds(options.openOnKinds ?? ['auth'], `${where}: openOnKinds`));
    this.failureKinds = new Set(checkKinds(options.failureKinds ?? DEFAULT_FAILURE_KINDS, `${where}: failureKinds`));
    const strategy = options.strategy ?? { type: 'consecutive' };
    checkObject(strategy, `${where}: strategy`);
    if (strategy.type === 'consecutive') {
      checkKnownKeys(strategy as unknown as Record<string, unknown>, ['type', 'failures'], `${where}: strategy`);
      this.consecutiveLimit = checkInteger(strategy.failures ?? 5, `${where}: strategy.failures`, 1);
    } else if (strategy.type === 'ratio') {
      checkKnownKeys(strategy as unknown as Record<string, unknown>, ['type', 'threshold', 'windowMs', 'minThroughput'], `${where}: strategy`);
      const threshold = checkNumber(strategy.threshold ?? 0.5, `${where}: strategy.threshold`, 0);
      if (threshold <= 0 || threshold > 1) {
        throw new RangeError(`${where}: strategy.threshold must be in (0, 1], got ${threshold}`);
      }
      const windowMs = checkNumber(strategy.windowMs ?? 60_000, `${where}: strategy.windowMs`, 1);
      const minThroughput = checkInteger(strategy.minThroughput ?? 10, `${where}: strategy.minThroughput`, 1);
      this.ratio = { threshold, windowMs, minThroughput, bucketMs: windowMs / BUCKETS };
    } else {
      throw new TypeError(`${where}: strategy.type must be 'consecutive' or 'ratio', got ${show((strategy as { type?: unknown }).type)}`);
    }
  }

  /** The current state (an open circuit whose break has elapsed reads as half-open). */
  get state(): BreakerState {
    this.refresh();
    return this.current;
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onStateChange(listener: Listener<BreakerStateEvent>): () => void {
    return this.events.on('breakerState', listener);
  }

  /**
   * Whether a call may go ahead now. In half-open state only one probe is let through: this returns
   * true once, then false until the probe's outcome is recorded.
   */
  canExecute(): boolean {
    this.refresh();
    if (this.current === 'closed') return true;
    if (this.current === 'half-open' && !this.probeInFlight) {
      this.probeInFlight = true;
      return true;
    }
    return false;
  }

  /** The error a refused call gets. */
  brokenError(): BrokenCircuitError {
    return new BrokenCircuitError(this.name, this.current === 'isolated' ? undefined : this.openUntil, this.clock.now());
  }

  /** Records a successful call. */
  recordSuccess(): void {
    if (this.current === 'half-open') {
      this.close('probe succeeded');
      return;
    }
    if (this.current !== 'closed') return;
    this.consecutive = 0;
    if (this.ratio) this.bucket().successes++;
  }

  /** Records a failed call by kind: opens at once for `openOnKinds`, counts `failureKinds`, else counts a success. */
  recordFailure(kind: ErrorKind): void {
    if (kind === 'cancelled') {
      // A cancelled call says nothing about the service; free the probe slot for the next caller.
      this.probeInFlight = false;
      return;
    }
    const opensNow = this.openOnKinds.has(kind);
    const counted = opensNow || this.failureKinds.has(kind);
    if (this.current === 'half-open') {
      if (counted) this.open(`probe failed: ${kind}`);
      else this.close(`probe answered: ${kind}`);
      return;
    }
    if (this.current !== 'closed') return;
    if (opensNow) {
      this.open(`${kind} opens the circuit at once`);
      return;
    }
    if (!counted) {
      this.recordSuccess();
      return;
    }
    if (this.consecutiveLimit !== undefined) {
      this.consecutive++;
      if (this.consecutive >= this.consecutiveLimit) this.open(`consecutive failures ${this.consecutive}/${this.consecutiveLimit}`);
      return;
    }
    this.bucket().failures++;
    this.checkRatio();
  }

  /** Runs `fn` through the breaker: fails fast with {@link BrokenCircuitError} when open, records the outcome otherwise. */
  async execute<T>(fn: () => Promise<T> | T): Promise<T> {
    if (!this.canExecute()) throw this.brokenError();
    try {
      const value = await fn();
      this.recordSuccess();
      return value;
    } catch (err) {
      this.recordFailure(this.classify(err, this.clock.now()).kind);
      throw err;
    }
  }

  /** Holds the circuit open until {@link reset} (maintenance, a revoked key being replaced). */
  isolate(): void {
    this.transition('isolated', 'isolate()');
  }

  /** Closes the circuit and clears its counts. */
  reset(): void {
    this.close('reset()');
  }

  private open(reason: string): void {
    this.openUntil = this.clock.now() + this.breakDurationMs;
    this.transition('open', reason, this.openUntil);
  }

  private close(reason: string): void {
    this.consecutive = 0;
    this.buckets.length = 0;
    this.transition('closed', reason);
  }

  private transition(to: BreakerState, reason: string, halfOpenAt?: number): void {
    const from = this.current;
    this.current = to;
    this.probeInFlight = false;
    const event: BreakerStateEvent = { name: this.name, from, to, reason };
    if (halfOpenAt !== undefined) event.halfOpenAt = halfOpenAt;
    this.events.emit('breakerState', event);
  }

  /** Lazily turns an open circuit whose break has elapsed into half-open. */
  private refresh(): void {
    if (this.current === 'open' && this.clock.now() >= this.openUntil) this.transition('half-open', 'break elapsed');
  }

  /** The ratio window's current bucket, recycling an expired slot. */
  private bucket(): Bucket {
    const { bucketMs } = this.ratio!;
    const start = Math.floor(this.clock.now() / bucketMs) * bucketMs;
    const slot = Math.floor(start / bucketMs) % BUCKETS;
    let b = this.buckets[slot];
    if (!b) {
      b = { start, successes: 0, failures: 0 };
      this.buckets[slot] = b;
    } else if (b.start !== start) {
      b.start = start;
      b.successes = 0;
      b.failures = 0;
    }
    return b;
  }

  private checkRatio(): void {
    const { threshold, windowMs, minThroughput } = this.ratio!;
    const since = this.clock.now() - windowMs;
    let failures = 0;
    let total = 0;
    for (const b of this.buckets) {
      if (!b || b.start <= since) continue;
      failures += b.failures;
      total += b.failures + b.successes;
    }
    if (total >= minThroughput && failures / total >= threshold) {
      this.open(`failure ratio ${(failures / total).toFixed(2)} >= ${threshold} over ${total} calls`);
    }
  }
}

function checkKinds(value: readonly unknown[], field: string): ErrorKind[] {
  if (!Array.isArray(value)) throw new TypeError(`${field} must be an array of error kinds, got ${show(value)}`);
  return value.map((k, i) => {
    if (!isErrorKind(k)) throw new TypeError(`${field}[${i}] is not an error kind (known: ${ERROR_KINDS.join(', ')}), got ${show(k)}`);
    return k;
  });
}
