/**
 * The single source of time for everything in Sluice that waits or measures.
 *
 * Every timed component takes a `Clock` so that tests (and whole simulated runs) can use the
 * {@link VirtualClock} from `sluice/testing` and advance 30 s of backoff in microseconds.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds. Rejects with an `AbortError` (see {@link abortError}) as soon as
   * `signal` aborts, and removes its timer at once, so an aborted sleep leaves nothing behind.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `callback` after `ms` milliseconds unless the returned cancel function is called first.
   * Used where a component keeps a single wake-up timer (limiters, cooldown expiry).
   */
  setTimer(ms: number, callback: () => void): CancelTimer;
}

/** Cancels a timer created by {@link Clock.setTimer}; calling it twice is harmless. */
export type CancelTimer = () => void;
