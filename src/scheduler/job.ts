import type { Classification, ErrorKind } from '../classify/kinds.js';
import type { GiveUpReason } from '../attempt/policy.js';
import { RetryError } from '../attempt/retry-error.js';
import type { JobId } from './events.js';
import type { QueuedItem } from './queues.js';

/** What an attempt-start hook receives. */
export interface AttemptStartInfo {
  jobId: JobId;
  /** 1-based attempt number (continues from `startAttempt`). */
  attempt: number;
  /** Key name (never the secret). */
  key: string;
}

/** What an attempt-end hook receives. */
export interface AttemptEndInfo extends AttemptStartInfo {
  ok: boolean;
  /** `success`, `retry` (another attempt follows after `delayMs`), `failed` (job given up), `cancelled`. */
  outcome: 'success' | 'retry' | 'failed' | 'cancelled';
  classification?: Classification;
  kind?: ErrorKind;
  message?: string;
  status?: number;
  /** For `retry`: the wait before the next attempt (0: at once on another key). */
  delayMs?: number;
}

/** Per-attempt hooks; a returned promise is awaited before the next decision (so a store can persist first). */
export interface AttemptHooks {
  onAttemptStart?: (info: AttemptStartInfo) => void | Promise<void>;
  onAttemptEnd?: (info: AttemptEndInfo) => void | Promise<void>;
}

/** Options of one job. */
export interface RunOptions extends AttemptHooks {
  /** Identifier reported in events and hooks. Default: a sequence number. */
  id?: JobId;
  /** Higher runs first (default 0); first in, first out within a priority. */
  priority?: number;
  /** Cancels the job: removed from the queue, or its attempt aborted; no further attempt. */
  signal?: AbortSignal;
  /** Tokens to reserve on the key's limiter. Default: the provider's `estimateTokens`, else 0. */
  tokens?: number;
  /** Attempts already made (a resumed job): the next attempt is numbered `startAttempt + 1`. Default 0. */
  startAttempt?: number;
}

/**
 * How a job ended, for result mode (`runSettled`, `runAll`'s `onResult`). Like every result, error and
 * stored row, `attempts` counts the attempts made (not the policy's bound, as in decisions and events).
 */
export type JobResult<R> =
  | { ok: true; id: JobId; value: R; attempts: number; key: string }
  | { ok: false; id: JobId; error: unknown; kind: ErrorKind; attempts: number; cancelled: boolean; key?: string };

/**
 * The error a job rejects with when it is given up: the one give-up error, {@link RetryError}, carrying
 * the last attempt's classification (so `kind`, `status` are the provider's), the give-up message
 * with the job and the number of attempts (`slow down (job j1, 3 attempts)`), and the last key's name.
 */
export function jobGiveUpError(
  classification: Classification,
  info: { jobId: JobId; attempts: number; reason: GiveUpReason; key?: string | undefined; cause?: unknown },
): RetryError {
  const message = `${classification.message} (job ${String(info.jobId)}, ${info.attempts} attempt${info.attempts === 1 ? '' : 's'})`;
  const last = { attempt: info.attempts, kind: classification.kind, message: classification.message, delayMs: 0 };
  return new RetryError(message, { cause: info.cause, attempts: info.attempts, history: [last], classification, reason: info.reason, jobId: info.jobId, key: info.key });
}

/** Job states inside the executor. */
export const JobState = {
  Queued: 0,
  WaitingRetry: 1,
  Running: 2,
  /** Between attempts: the attempt-end hook is being awaited. */
  Deciding: 3,
  Done: 4,
} as const;
/** One of {@link JobState}. */
export type JobState = (typeof JobState)[keyof typeof JobState];

/**
 * One job inside the executor. Classes with a fixed shape and no per-job closures, so that a million
 * queued jobs cost little more than their payloads (see bench/executor.bench.ts). The two subclasses
 * differ only in how the outcome is delivered: to a callback, or to the promise `run()` returned.
 */
export abstract class Job<P, R> implements QueuedItem {
  heapIndex = -1;
  notBefore = 0;
  state: JobState = JobState.Queued;
  /** Attempts made so far (including `startAttempt`). */
  attempt: number;
  previousDelayMs: number | undefined = undefined;
  /** Moves to another key after key failures (auth, quota) not charged to the retry budget (see failure-decision.ts). */
  keyMoves = 0;
  /** Aborts the running attempt (only for jobs that can be aborted alone). */
  controller: AbortController | undefined = undefined;
  /** Listener on the caller's signal, removed when the job ends. */
  onAbort: (() => void) | undefined = undefined;
  /** Set when the job is cancelled (its signal or close()). */
  cancelReason: unknown = undefined;
  lastKey: string | undefined = undefined;

  constructor(
    readonly id: JobId,
    readonly payload: P,
    public priority: number,
    public seq: number,
    readonly tokens: number,
    readonly createdAt: number,
    readonly options: RunOptions | undefined,
  ) {
    this.attempt = options?.startAttempt ?? 0;
  }

  /** Delivers the outcome (called once). */
  abstract settle(result: JobResult<R>): void;
}

/** A job whose outcome goes to a callback (`submit`, `runAll`). */
export class CallbackJob<P, R> extends Job<P, R> {
  constructor(
    id: JobId,
    payload: P,
    priority: number,
    seq: number,
    tokens: number,
    createdAt: number,
    options: RunOptions | undefined,
    private readonly callback: (result: JobResult<R>) => void,
  ) {
    super(id, payload, priority, seq, tokens, createdAt, options);
  }

  settle(result: JobResult<R>): void {
    this.callback(result);
  }
}

/** A job whose outcome settles the promise `run()` returned (value, or the error). */
export class PromiseJob<P, R> extends Job<P, R> {
  resolve: (value: R) => void = noop;
  reject: (error: unknown) => void = noop;

  settle(result: JobResult<R>): void {
    if (result.ok) this.resolve(result.value);
    else this.reject(result.error);
  }
}

const noop = (): void => undefined;
