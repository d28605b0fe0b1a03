/**
 * Options, results and events of the batch API (`runBatch`, `batchStatus`, `retryFailed`,
 * `exportResults`, `dryRun`). Kept apart from the implementation so the CLI can depend on the shapes.
 */
import type { Clock } from '../clock/clock.js';
import type { ErrorKind } from '../classify/kinds.js';
import type { TypedEmitter } from '../observe/typed-emitter.js';
import type { ChangedLinesPolicy, LineChange } from './input-change.js';
import type { RunLock } from './run-lock.js';
import type { BatchCounts, JobStore, StoredItem } from './store.js';

/** What the executor tells the batch layer when an attempt starts. */
export interface BatchAttemptStart {
  /** 1-based attempt number (continues from `startAttempt` on resume). */
  attempt: number;
  /** Key name (never the secret), when the executor chose one. */
  key?: string;
}

/** What the executor tells the batch layer when an attempt ends. */
export interface BatchAttemptEnd extends BatchAttemptStart {
  ok: boolean;
  /** On failure: classified kind, message, HTTP status. */
  kind?: ErrorKind;
  message?: string;
  status?: number;
}

/** Options the batch runner passes to {@link BatchExecutor.run} for one item. */
export interface BatchRunOptions {
  id: string;
  priority: number;
  signal: AbortSignal;
  /** Attempts already made in earlier runs: the executor numbers the next attempt `startAttempt + 1`. */
  startAttempt: number;
  /** Awaited before the attempt's request goes out, so the start is durable first. */
  onAttemptStart: (info: BatchAttemptStart) => void | Promise<void>;
  onAttemptEnd: (info: BatchAttemptEnd) => void | Promise<void>;
}

/**
 * What runs one item to its end (retries included). `createSluice(...)` from `src/scheduler` fits
 * this shape; a plain object with a `run` method does too (tests, benchmarks, function providers).
 * Resolves with the result (stored as JSON) or rejects with the final error (a `SluiceError`, an
 * `AbortError` on cancellation, or anything `classify()` understands).
 */
export interface BatchExecutor {
  run(payload: unknown, options: BatchRunOptions): Promise<unknown>;
}

/** Where the state lives: a path for the embedded SQLite store, or an open store (Redis, tests). */
export type StoreOption = string | JobStore;

/** Input parsing options shared by `runBatch` and `dryRun`. */
export interface InputOptions {
  /** Input file (JSONL or CSV). */
  input: string;
  /** Default: from the extension (`.csv` is CSV, anything else JSONL). */
  format?: 'jsonl' | 'csv';
  /**
   * Prompt template with `{{field}}` placeholders. Required for CSV; optional for JSONL (then each
   * line holds the template variables). The rendered payload is `{ prompt }`, merged over `payloadDefaults`.
   */
  template?: string;
  /** Fields merged into every templated payload (e.g. `{ model: 'gpt-4o-mini', max_tokens: 200 }`). */
  payloadDefaults?: Record<string, unknown>;
  /** Provider names a line may ask for in its `provider` field; another name is rejected. Default: any. */
  providers?: readonly string[];
  /** Longest accepted line or record, in bytes (default 1 MiB); longer ones are rejected. */
  maxLineBytes?: number;
  /**
   * The CSV column or JSONL field holding each item's id, the key that joins a result to its input row.
   * Default: the optional `id` (absent or empty: `#<line>`). When set, every record must have it non-empty
   * (else it is rejected), a CSV header without it is an `InputColumnError` naming file, line and column,
   * and a repeated id is rejected naming the line that has it first.
   */
  idColumn?: string;
  /** Rejects file (JSONL: file, line, reason). Default `<input>.rejects.jsonl`. */
  rejects?: string;
}

/** Options of {@link runBatch}. */
export interface RunBatchOptions extends InputOptions {
  executor: BatchExecutor;
  /** State: SQLite file path (default `<input>.sluice.db`) or an open {@link JobStore}. */
  state?: StoreOption;
  /** Results JSONL. Default `<input>.results.jsonl`. */
  output?: string;
  /** Resume even if the input file changed since the state was created. */
  force?: boolean;
  /** Most items in memory (claimed and in flight) at once. Default 256. */
  window?: number;
  /** Stop starting new items when it fires; in-flight items get `graceMs` to finish, then are aborted. */
  signal?: AbortSignal;
  /** Grace period after `signal` for in-flight items (default 10,000 ms). */
  graceMs?: number;
  /** Events for progress, logs, metrics, report. */
  events?: TypedEmitter<BatchEvents>;
  /** Minimum interval between `progress` events (default 1,000 ms). */
  progressIntervalMs?: number;
  clock?: Clock;
  /** Stored with the run (for `status` and the report). Must not contain secrets. */
  runOptions?: Record<string, unknown>;
  /**
   * Locks the caller already holds on the run's files (state, results, rejects; see `acquireFileLocks`
   * and `runLockTargets`). Without it `runBatch` locks them itself for the duration of the call, so a
   * second writer of any of them is refused with a `StateInUseError` naming the file.
   */
  lock?: RunLock;
  /** The run's resolved settings (never secrets), stored in the state (`RunMeta.settings`) for a resume. */
  settings?: Record<string, unknown>;
  /**
   * Returns the executor's per-key quota state (`executor.quotaState()`); it is stored with each attempt's
   * start (`RunMeta.quotaState`), so daily budgets survive restarts. Pass the stored value back as
   * `createSluice({ quotaState })`.
   */
  quotaState?: () => Record<string, unknown> | undefined;
  /**
   * With `force` and an input whose already-run lines changed: `rerun` runs the changed lines again (their
   * old results are replaced; removed lines' results leave the output), `keep` keeps the old results.
   * Unset: such a resume is refused with an `InputLinesChangedError` listing the lines. Appended lines are
   * always ingested and run.
   */
  changedLines?: ChangedLinesPolicy;
  /**
   * Stop the run (as on `signal`) after this many identical failures in a row of a kind that is not retried
   * by default (auth, invalid_request, not_found, content_filtered, quota_exhausted, unknown). Default 20;
   * 0 turns it off. The summary's `halted` says what repeated.
   */
  maxConsecutiveFailures?: number;
}

/** Why a run stopped itself: the same non-retryable failure `count` times in a row. */
export interface BatchHalt {
  kind: ErrorKind;
  message: string;
  status?: number;
  count: number;
  /** Input line of the last of them. */
  line: number;
}

/** The outcome of a run (also of `batchStatus`). */
export interface BatchSummary {
  counts: BatchCounts;
  /** Lines rejected during ingestion in this call. */
  rejected: number;
  /** Items whose result went to the output in this call. */
  writtenThisRun: number;
  durationMs: number;
  /** Items finished per second in this call. */
  throughputPerSec: number;
  /** True when the run stopped because of `signal` before all items were final. */
  interrupted: boolean;
  /** Set when the run stopped itself after identical failures in a row (`maxConsecutiveFailures`). */
  halted?: BatchHalt;
  /** Lines of a changed input (forced resume) that differed from the state and were re-run or kept. */
  changedLines?: number;
  output: string;
  rejects: string;
  state: string;
}

/** Events of a batch run. */
export interface BatchEvents {
  /** The run opened its state: new, or resumed (with what was repaired). */
  start: { resumed: boolean; resetRunning: number; outputTruncatedBytes: number; total: number };
  /** After each ingested chunk. */
  ingest: { throughLine: number; inserted: number; rejected: number; done: boolean };
  /** A line went to the rejects file. */
  reject: { line: number; reason: string };
  attemptStart: { id: string; attempt: number; key?: string };
  attemptEnd: { id: string; attempt: number; key?: string; ok: boolean; kind?: ErrorKind; status?: number };
  /** An item reached a final state (or was given back on shutdown: `pending`). */
  item: { id: string; state: StoredItem['state']; attempts: number; kind?: ErrorKind };
  /** Periodic: counts so far and the rate. */
  progress: { counts: BatchCounts; ratePerSec: number; elapsedMs: number; inFlight: number };
  /** Shutdown requested: no new starts. */
  stopping: { inFlight: number; graceMs: number };
  /** The run stopped itself after identical non-retryable failures in a row. */
  halted: BatchHalt;
  /** A forced resume found the input changed: appended lines only, or these changed lines. */
  inputChanged: { appendOnly: boolean; changes: readonly LineChange[]; policy: ChangedLinesPolicy | undefined };
  done: BatchSummary;
}

/** Options of {@link dryRun}. */
export interface DryRunOptions extends InputOptions {
  /** Aggregate limits the run would use (sum over keys). */
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  /** Output tokens reserved per request when the payload does not say (`max_tokens`, ...). Default 256. */
  defaultMaxOutputTokens?: number;
  /**
   * Tokens to reserve for a payload: its input plus its output cap, as a provider adapter's `estimateTokens`
   * and the flow layer's `estimateTokens` return them. The payload's own cap is subtracted to count input.
   */
  estimateTokens?: (payload: unknown) => number;
  /** What the run sends for an input item's payload (the CLI's template shaping: model, messages, max_tokens). */
  shapePayload?: (payload: unknown) => unknown;
}

/** What a dry run found. Nothing is called and no state is written (rejects are counted, not written). */
export interface DryRunReport {
  requests: number;
  rejected: number;
  /** Rejects by reason prefix (`malformed JSON`, `line too long`, ...). */
  rejectReasons: Record<string, number>;
  estimatedInputTokens: number;
  estimatedOutputTokens: number;
  /** Time at the given limits: max(requests / rpm, tokens / tpm), in ms; undefined without limits. */
  estimatedMs?: number;
  /** Which limit binds: `requests`, `tokens` or `none`. */
  bindingLimit: 'requests' | 'tokens' | 'none';
}

/** Options of {@link exportResults}. */
export interface ExportOptions {
  state: StoreOption;
  /** Destination file (the full output, rewritten from the store). */
  output: string;
  /** `jsonl` (default): the results file's lines; `csv`: one row per item, joinable to the input by id. */
  format?: 'jsonl' | 'csv';
  /** CSV only: the name of the id column (the run's `idColumn`). Default `id`. */
  idColumn?: string;
}

/** Options of {@link retryFailed}. */
export interface RetryFailedBatchOptions {
  state: StoreOption;
  kinds?: readonly ErrorKind[];
  /** Default true: see `RetryFailedOptions.resetAttempts`. */
  resetAttempts?: boolean;
}
