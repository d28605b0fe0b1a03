/**
 * Durable batch runs: the programmatic API behind `sluice run|status|retry-failed|export|run --dry-run`.
 *
 * - {@link runBatch}: ingest (streamed), resume, run every pending item through an executor, write
 *   each result exactly once.
 * - {@link batchStatus}: counts by state, error kind and key, from the state file.
 * - {@link retryFailed}: failed items (optionally of some kinds) back to pending.
 * - {@link exportResults}: rewrite the full results from the store (JSONL, or CSV joinable to the input by id).
 * - {@link dryRun}: parse the input and estimate requests, tokens and time; calls nothing.
 */
export { runBatch, DEFAULT_WINDOW, DEFAULT_MAX_CONSECUTIVE_FAILURES } from './runner.js';
export { formatResult, resultLine, RESULT_CSV_COLUMNS } from './output.js';
export type { ResultLine } from './output.js';
export { DEFAULT_MAX_LINE_BYTES, DEFAULT_ID_COLUMN, InputColumnError } from './input/record.js';
export { batchStatus, retryFailed, exportResults, openStore, defaultStatePath, readRunMeta } from './commands.js';
export { dryRun } from './dry-run.js';
export { SqliteJobStore, StateFileError } from './sqlite-store.js';
export { fingerprintFile, InputChangedError } from './fingerprint.js';
export { StateInUseError, acquireFileLocks } from './run-lock.js';
export type { RunLock, LockTarget, LockedFileRole } from './run-lock.js';
export { runLockTargets } from './runner.js';
export { RunFileError } from './output.js';
export { ITEM_STATES, FINAL_STATES } from './store.js';
export type {
  JobStore,
  ItemState,
  NewItem,
  StoredItem,
  ItemError,
  InputFingerprint,
  RunMeta,
  BatchCounts,
  KeyCounts,
  AttemptOutcome,
  Completion,
  IngestCheckpoint,
  RetryFailedOptions,
} from './store.js';
export type {
  BatchExecutor,
  BatchRunOptions,
  BatchAttemptStart,
  BatchAttemptEnd,
  StoreOption,
  InputOptions,
  RunBatchOptions,
  BatchSummary,
  BatchEvents,
  DryRunOptions,
  DryRunReport,
  ExportOptions,
  RetryFailedBatchOptions,
} from './types.js';
export { InputLinesChangedError, StateOfOtherInputError, describeChanges } from './input-change.js';
export type { ChangedLinesPolicy, LineChange } from './input-change.js';
export type { BatchHalt } from './types.js';
