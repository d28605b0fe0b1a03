/**
 * The durable state of one batch run, behind an interface so that the embedded SQLite store
 * (`SqliteJobStore`) and the distributed Redis store implement the same contract.
 *
 * Every method returns a promise, even where SQLite could answer synchronously, so that a store
 * that talks to a server fits. The runner never keeps more than a bounded window of items in memory:
 * everything else lives in the store.
 */
import type { ErrorKind } from '../classify/kinds.js';

/** Lifecycle of one item. `succeeded`, `failed` and `cancelled` are final (until `retryFailed`). */
export type ItemState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Every {@link ItemState}, in lifecycle order. */
export const ITEM_STATES: readonly ItemState[] = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];

/** States whose items have a final result and belong in the output file. */
export const FINAL_STATES: readonly ItemState[] = ['succeeded', 'failed', 'cancelled'];

/** One input record as ingested: the id is unique within a run. */
export interface NewItem {
  /** The line's `id`, or `#<line>` when the line had none. */
  id: string;
  /** 1-based line (JSONL) or record (CSV) number in the input file. */
  line: number;
  /** Higher runs first; ties are broken by line order. Default 0. */
  priority: number;
  /** What the executor receives (provider payload, or the rendered template). JSON-serialisable. */
  payload: unknown;
  /** The input row's fields by column (CSV), carried into the item's results line. JSONL items have none (their `id` is the join key). */
  input?: Record<string, string>;
}

/** The last failure of an item, as persisted. Never contains a secret. */
export interface ItemError {
  kind: ErrorKind;
  message: string;
  /** HTTP status of the last failed attempt, when there was one. */
  status?: number;
}

/** An item as read back from the store. */
export interface StoredItem extends NewItem {
  state: ItemState;
  /** Attempts made so far, persisted as each one starts (so a crash mid-attempt still counts it). */
  attempts: number;
  /** Last failure (kept after a later success for diagnosis; cleared by `retryFailed`). */
  lastError?: ItemError;
  /** Name (never the secret) of the key used by the last attempt. */
  lastKey?: string;
  /** The result of a succeeded item. */
  result?: unknown;
}

/** Size and streamed sha256 of an input file: a different fingerprint on resume means the input changed. */
export interface InputFingerprint {
  path: string;
  size: number;
  sha256: string;
}

/** Run-level metadata, persisted with the items. */
export interface RunMeta {
  fingerprint?: InputFingerprint;
  /** Options the run was started with (never secrets), for `status` and for the report. */
  options?: Record<string, unknown>;
  /**
   * The run's resolved settings (never secrets): what a resume with fewer flags falls back to. Written
   * by the caller (the CLI), by option name.
   */
  settings?: Record<string, unknown>;
  /** Per-key quota state (daily counters, pauses) saved as attempts start, so a restart knows the day's usage. */
  quotaState?: Record<string, unknown>;
  /** True once the whole input has been ingested. */
  ingestDone: boolean;
  /** Last input line (record) whose outcome (item or reject) is committed: ingestion resumes after it. */
  ingestedThroughLine: number;
  /** Byte length of the rejects file that matches the committed ingestion. */
  rejectsOffset: number;
  /** Byte length of the output file that matches the items marked as written. */
  outputOffset: number;
  /** The results file of the run (so `exportResults` to the same file can keep it consistent). */
  outputPath?: string;
  /** Time the run was created (ms since epoch, from the run's clock). */
  createdAt?: number;
}

/** Counts for `status`, progress and the final summary. */
export interface BatchCounts {
  total: number;
  byState: Record<ItemState, number>;
  /** Final failures by the kind of their last error. */
  failedByKind: Partial<Record<ErrorKind, number>>;
  /** Per key name: attempts, successes, and failed attempts by kind. */
  perKey: Record<string, KeyCounts>;
  /** Items whose final line is in the output file. */
  written: number;
}

/** Attempt outcomes of one key. */
export interface KeyCounts {
  attempts: number;
  succeeded: number;
  failedByKind: Partial<Record<ErrorKind, number>>;
}

/** How one attempt ended, as reported by the executor's `onAttemptEnd` hook. */
export type AttemptOutcome =
  | { ok: true; key?: string }
  | { ok: false; key?: string; kind: ErrorKind; message: string; status?: number };

/** A final state for one item, applied in a batch by {@link JobStore.complete}. */
export type Completion =
  | { id: string; state: 'succeeded'; result: unknown }
  | { id: string; state: 'failed'; error: ItemError }
  | { id: string; state: 'cancelled'; error?: ItemError }
  /** Give the item back (interrupted by shutdown): it runs again on resume with its attempts kept. */
  | { id: string; state: 'pending' };

/** Progress of ingestion committed together with a chunk of items. */
export interface IngestCheckpoint {
  /** Last input line covered by this chunk (items and rejects). */
  throughLine: number;
  /** Rejects file length after this chunk's rejects were appended. */
  rejectsOffset: number;
  /** True when this chunk ends the input. */
  done: boolean;
}

/** Options of {@link JobStore.retryFailed}. */
export interface RetryFailedOptions {
  /** Only failed items whose last error is one of these kinds (default: all failed items). */
  kinds?: readonly ErrorKind[];
  /**
   * Reset the attempt count to 0 (default true): the retry policy gets its full budget again.
   * With `false` attempts are kept, so an item already at its policy's maximum fails on its next failure.
   */
  resetAttempts?: boolean;
  /** Also return cancelled items to pending (default false). */
  includeCancelled?: boolean;
}

/**
 * Durable state of a batch run. Implementations: `SqliteJobStore` (embedded, one process) and the
 * Redis store (`src/batch/redis/`, several workers).
 *
 * Guarantees the runner relies on:
 * - every method that changes state is atomic (all of it or none of it survives a crash);
 * - `claimPending` never hands the same item to two callers;
 * - `markWritten` records the output offset in the same atomic step that marks the items written,
 *   which is what makes the output exactly-once (see `src/batch/output.ts`).
 */
export interface JobStore {
  /** Metadata, or `undefined` for a new, empty store. */
  getMeta(): Promise<RunMeta | undefined>;
  /** Creates or updates run metadata (shallow merge). */
  setMeta(patch: Partial<RunMeta>): Promise<void>;

  /** Which of `ids` already exist (duplicate detection during ingestion). */
  existingIds(ids: readonly string[]): Promise<Set<string>>;
  /**
   * Inserts a chunk of new items as pending and commits the ingestion checkpoint in the same atomic
   * step. Ids must not exist yet (check with {@link existingIds}); an existing id is ignored and returned.
   */
  ingest(items: readonly NewItem[], checkpoint: IngestCheckpoint): Promise<{ inserted: number; duplicates: string[] }>;

  /**
   * Moves up to `limit` pending items to running and returns them, highest priority first, then by line.
   * (Running items of a previous process are reset by {@link resetRunning} first.)
   */
  claimPending(limit: number): Promise<StoredItem[]>;
  /** Persists that attempt number `attempt` of item `id` started (with the key's name, when known). */
  recordAttemptStart(id: string, attempt: number, key?: string): Promise<void>;
  /** Persists how an attempt ended: last error of the item and per-key counters. */
  recordAttemptEnd(id: string, attempt: number, outcome: AttemptOutcome): Promise<void>;
  /** Applies final states (or gives items back as pending) in one atomic step. */
  complete(completions: readonly Completion[]): Promise<void>;
  /** Returns every running item to pending (resume after a crash); returns how many. */
  resetRunning(): Promise<number>;
  /** Returns failed items (of the given kinds) to pending and unwritten; returns how many. */
  retryFailed(options?: RetryFailedOptions): Promise<number>;

  /** Counts by state, by error kind and per key. */
  counts(): Promise<BatchCounts>;
  /** Up to `limit` items in a final state that are not yet in the output file (any order). */
  unwritten(limit: number): Promise<StoredItem[]>;
  /** Marks items as written and records the output length, atomically. */
  markWritten(ids: readonly string[], outputOffset: number): Promise<void>;
  /** Marks every item as unwritten and the output offset as 0 (the output will be rewritten in full). */
  resetWritten(): Promise<void>;
  /** Every item in a final state, in line order, streamed in pages (for `export`). */
  finalItems(pageSize?: number): AsyncIterable<StoredItem>;
  /** One item by id. */
  get(id: string): Promise<StoredItem | undefined>;
  /**
   * Up to `limit` items on lines after `afterLine`, in line order (any state). Optional: a forced resume
   * of a changed input compares lines with it; a store without it refuses such a resume.
   */
  itemsInLineOrder?(afterLine: number, limit: number): Promise<StoredItem[]>;
  /**
   * Removes the items `removeIds` and inserts `add` as pending, atomically (a forced resume re-running
   * changed lines). An `add` id that exists after the removal is skipped and returned. Optional.
   */
  replaceItems?(removeIds: readonly string[], add: readonly NewItem[]): Promise<{ duplicates: string[] }>;

  /** Releases the store (flushes, closes files or connections). Idempotent. */
  close(): Promise<void>;
}
