import { abortError } from '../clock/abort.js';
import type { CancelTimer, Clock } from '../clock/clock.js';

interface VirtualTimer {
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
  /** Live timers by id; the heap may still hold cancelled ones, skipped lazily when they surface. */
  private readonly timers = new Map<number, VirtualTimer>();
  private readonly heap = new TimerHeap();

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
    return [...this.timers.values()]
      .sort(compareTimers)
      .map((t) => ({ at: t.at, inMs: t.at - this.current, label: t.label }));
  }

  /** Number of timers still waiting. */
  get pendingCount(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer due on the way in order, and lets their continuations run. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`VirtualClock.advance: ms must be >= 0, got ${ms}`);
    const target = this.current + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.peek();
      if (!next || next.at > target) break;
      await this.fire(next);
    }
    this.current = target;
    await flushMicrotasks();
  }

  /** Moves time to the next timer and fires it (and any due at the same instant). Returns false if none is pending. */
  async next(): Promise<boolean> {
    await flushMicrotasks();
    const next = this.peek();
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
      const next = this.peek();
      if (!next) {
        // Real I/O (a loopback socket, a file) may still be in progress: give it a few turns.
        for (let i = 0; i < 50 && !settled; i++) await new Promise((r) => setTimeout(r, 1));
        if (settled) return tracked;
        if (this.timers.size === 0) throw new Error('VirtualClock.run: promise is pending but no timer is scheduled (deadlock)');
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
    const timer = { at: this.current + delay, seq: id, callback, label };
    this.timers.set(id, timer);
    this.heap.push(timer);
    return () => {
      if (this.timers.delete(id)) this.compactIfMostlyCancelled();
    };
  }

  private async fire(timer: VirtualTimer): Promise<void> {
    this.timers.delete(timer.seq);
    this.heap.pop();
    if (timer.at > this.current) this.current = timer.at;
    timer.callback();
    await flushMicrotasks();
  }

  /**
   * Cancelled timers stay in the heap until they surface; rebuild it when they outnumber the live ones,
   * so 100,000 cancelled sleeps do not hold their closures (and memory) until time passes them.
   */
  private compactIfMostlyCancelled(): void {
    if (this.heap.size > 64 && this.heap.size > 2 * this.timers.size) this.heap.rebuild(this.timers.values());
  }

  /** Earliest live timer, discarding cancelled ones found at the top of the heap. */
  private peek(): VirtualTimer | undefined {
    for (;;) {
      const top = this.heap.peek();
      if (!top) return undefined;
      if (this.timers.has(top.seq)) return top;
      this.heap.pop();
    }
  }
}

const compareTimers = (a: VirtualTimer, b: VirtualTimer): number => a.at - b.at || a.seq - b.seq;

/** Binary min-heap ordered by (time, creation order), so a run with 100,000 timers stays fast. */
class TimerHeap {
  private items: VirtualTimer[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Replaces the content with `live`, in heap order (a sorted array is a valid min-heap). */
  rebuild(live: Iterable<VirtualTimer>): void {
    this.items = [...live].sort(compareTimers);
  }

  peek(): VirtualTimer | undefined {
    return this.items[0];
  }

  push(item: VirtualTimer): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareTimers(a[i]!, a[parent]!) >= 0) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): VirtualTimer | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && compareTimers(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && compareTimers(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
