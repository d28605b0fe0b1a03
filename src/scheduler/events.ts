import type { Classification, ErrorKind } from '../classify/kinds.js';
import type { KeyAvailability } from './ports.js';

/** A job's identifier: the one given to `run`, else a sequence number. */
export type JobId = string | number;

/**
 * Every decision the executor takes, as events (feed them to a logger, metrics, a progress bar).
 * `attempt` is always the job's attempt concerned (1-based, free moves to another key included), and
 * `attempts` the bound of the retry policy (its `attempts` option for the failure's kind).
 */
export interface ExecutorEvents {
  /** A key was chosen for an attempt. */
  keyChosen: { jobId: JobId; attempt: number; key: string };
  /** An attempt failed (whatever happens next). */
  attemptFailed: { jobId: JobId; attempt: number; key: string; classification: Classification };
  /** A key stopped taking work: cooling (rate limited), parked (quota exhausted) or disabled (auth). */
  cooldownStart: { key: string; state: KeyAvailability; until: number; waitMs: number; kind: ErrorKind };
  /** A cooling or parked key takes work again. */
  cooldownEnd: { key: string };
  /** Starts stopped: `manual` (pause()), `quota` (every key over its quota threshold), `shutdown`. */
  pause: { reason: 'manual' | 'quota' | 'shutdown'; until?: number; key?: string; detail?: string };
  /** Starts resumed (`key`: only that key's quota pause ended). */
  resume: { reason: 'manual' | 'quota'; key?: string };
  /** The concurrency limit changed. */
  concurrencyChange: { from: number; to: number; reason: string };
  /** A key's limiter changed its request rate (learned from 429s, or announced by the server); forwarded from the flow layer. */
  rateChange: { key: string; from: number | undefined; to: number | undefined; windowMs: number; reason: string };
  /** A key's calls in flight were capped (a concurrency cap learned from which calls got 429s) or the cap lifted by one to probe it; forwarded from the flow layer. */
  inFlightCapChange: { key: string; from: number | undefined; to: number | undefined; reason: string };
  /** A key's quota use crossed an alert level (forwarded from its quota monitor). */
  quotaAlert: { key: string; level: number; usage: number; window: string };
  /** A failed job will be attempted again after `delayMs` (0: at once on another key). */
  retryScheduled: { jobId: JobId; attempt: number; delayMs: number; kind: ErrorKind; key: string; reason: string; attempts: number };
  /** A job succeeded on its `attempt`. */
  jobSucceeded: { jobId: JobId; attempt: number; key: string };
  /** A job was given up after its `attempt` (the last made); `attempts` is absent when no policy decided (every key disabled). */
  jobFailed: { jobId: JobId; attempt: number; attempts?: number; kind: ErrorKind; message: string; key?: string };
  /** A job was cancelled; `attempt` is the last one started (0: none). */
  jobCancelled: { jobId: JobId; attempt: number };
  /** No key can take work: which keys wait, in which state, for how long. */
  allKeysUnavailable: { keys: { key: string; state: KeyAvailability; waitMs: number }[]; waitMs: number };
  /** Queue and in-flight both empty. */
  idle: Record<string, never>;
}
