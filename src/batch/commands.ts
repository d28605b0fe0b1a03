/** `status`, `retry-failed` and `export` on an existing state. (Signatures first; implementation follows.) */
import type { JobStore } from './store.js';
import type { BatchSummary, ExportOptions, RetryFailedBatchOptions, StoreOption } from './types.js';

/** The default state file beside an input: `<input>.sluice.db`. */
export function defaultStatePath(input: string): string {
  return `${input}.sluice.db`;
}

/** Opens a state: a path opens the SQLite store (must exist unless `create`), a store is returned as is. */
export async function openStore(state: StoreOption, options: { create?: boolean } = {}): Promise<JobStore> {
  void state;
  void options;
  throw new Error('openStore: not implemented yet');
}

/** Counts by state, error kind and key, read from the state. */
export async function batchStatus(options: { state: StoreOption }): Promise<BatchSummary['counts']> {
  void options;
  throw new Error('batchStatus: not implemented yet');
}

/** Returns failed items (of `kinds`, default all) to pending; the next `runBatch` runs them. Returns how many. */
export async function retryFailed(options: RetryFailedBatchOptions): Promise<number> {
  void options;
  throw new Error('retryFailed: not implemented yet');
}

/** Rewrites the full results JSONL from the store. Returns the number of lines written. */
export async function exportResults(options: ExportOptions): Promise<number> {
  void options;
  throw new Error('exportResults: not implemented yet');
}
