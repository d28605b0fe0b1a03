import { abortError } from '../clock/abort.js';
import type { CancelTimer, Clock } from '../clock/clock.js';
import { IndexedHeap, type HeapItem } from '../clock/indexed-heap.js';

interface VirtualTimer extends HeapItem {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  readonly label: string;
}

/** A timer still waiting on a {@link VirtualClock}, as reported by {@link VirtualClock.pendingTimers}. */
export interface PendingTimer {
  /** Virtual time (ms since epoch) at which it fires. */
  at: number;
  /** Milliseconds from now until it fires. */
  inMs: number;
  /** `sleep` or `timer`. */
  label: string;
}

/** Options for {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** Start time in ms since the epoch. Default: 2026-01-01T00:00:00Z, so dates in headers look real. */
  start?: number;
}

/** Lets pending promise continuations run: one macrotask turn drains the whole microtask queue. */
const flushMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A clock whose time moves only when a test moves it. Sleeps of minutes complete in microseconds,
 * timers fire in time order, and {@link pendingTimers} shows what is still waiting, so a test can
 * assert that cancelled work left no timer behind.
 *
 * ```ts
 * const clock = new VirtualClock();
 * const result = retry(fn, policy, { clock });
 * await clock.run(result); // advances virtual time until `result` settles
 * ```
 */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  /** Pending timers, earliest first; a cancelled timer leaves the heap at once (no tombstones holding closures). */
  private readonly heap = new IndexedHeap<VirtualTimer>((a, b) => compareTimers(a, b) < 0);

  constructor(options: VirtualClockOptions = {}) {
    this.current = options.start ?? Date.UTC(2026, 0, 1);
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        cancel();
        reject(abortError(signal));
      };
      const cancel = this.add(ms, 'sleep', () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  setTimer(ms: number, callback: () => void): CancelTimer {
    return this.add(ms, 'timer', callback);
  }

  /** Timers not yet fired or cancelled, earliest first. */
  pendingTimers(): PendingTimer[] {
    return this.heap
      .toArray()
      .sort(compareTimers)
      .map((t) => ({ at: t.at, inMs: t.at - this.current, label: t.label }));
  }

  /** Number of timers still waiting. */
  get pendingCount(): number {
    return this.heap.size;
  }

  /** Moves time forward by `ms`, firing every timer due on the way in order, and lets their continuations run. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`VirtualClock.advance: ms must be >= 0, got ${ms}`);
    const target = this.current + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.heap.peek();
      if (!next || next.at > target) break;
      await this.fire(next);
    }
    this.current = target;
    await flushMicrotasks();
  }

  /** Moves time to the next timer and fires it (and any due at the same instant). Returns false if none is pending. */
  async next(): Promise<boolean> {
    await flushMicrotasks();
    const next = this.heap.peek();
    if (!next) return false;
    await this.advance(next.at - this.current);
    return true;
  }

  /**
   * Advances time timer by timer until `promise` settles, then returns its value (or throws its error).
   * Throws if the promise can never settle because nothing is scheduled, or after `maxTimers` firings,
   * so a test with a bug fails instead of hanging.
   */
  async run<T>(promise: Promise<T>, options: { maxTimers?: number } = {}): Promise<T> {
    const maxTimers = options.maxTimers ?? 1_000_000;
    let settled = false;
    const tracked = promise.then(
      (v) => {
        settled = true;
        return v;
      },
      (e: unknown) => {
        settled = true;
        throw e;
      },
    );
    tracked.catch(() => undefined);
    for (let fired = 0; ; fired++) {
      await flushMicrotasks();
      if (settled) return tracked;
      if (fired >= maxTimers) throw new Error(`VirtualClock.run: still pending after ${maxTimers} timers`);
      const next = this.heap.peek();
      if (!next) {
        // Real I/O (a loopback socket, a file) may still be in progress: give it a few turns.
        for (let i = 0; i < 50 && !settled; i++) await new Promise((r) => setTimeout(r, 1));
        if (settled) return tracked;
        if (this.heap.size === 0) throw new Error('VirtualClock.run: promise is pending but no timer is scheduled (deadlock)');
        continue;
      }
      await this.fire(next);
    }
  }

  /** Fires every pending timer, including ones scheduled while running, up to `maxTimers`. */
  async runAll(maxTimers = 1_000_000): Promise<void> {
    for (let i = 0; i < maxTimers; i++) {
      if (!(await this.next())) return;
    }
    throw new Error(`VirtualClock.runAll: timers still pending after ${maxTimers}`);
  }

  private add(ms: number, label: string, callback: () => void): CancelTimer {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const id = ++this.seq;
    const timer: VirtualTimer = { at: this.current + delay, seq: id, callback, label, heapIndex: -1 };
    this.heap.push(timer);
    return () => {
      this.heap.remove(timer);
    };
  }

  private async fire(timer: VirtualTimer): Promise<void> {
    this.heap.remove(timer);
    if (timer.at > this.current) this.current = timer.at;
    timer.callback();
    await flushMicrotasks();
  }
}

const compareTimers = (a: VirtualTimer, b: VirtualTimer): number => a.at - b.at || a.seq - b.seq;
