/** `status`, `retry-failed` and `export` on an existing state. */
import { existsSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { openReplacement } from '../observe/replace-file.js';
import { SqliteJobStore } from './sqlite-store.js';
import { DEFAULT_ID_COLUMN } from './input/record.js';
import { formatResult, resultCsvHeader, resultCsvRow } from './output.js';
import { acquireFileLocks, acquireRunLock } from './run-lock.js';
import type { BatchCounts, JobStore, RunMeta } from './store.js';
import type { ExportOptions, RetryFailedBatchOptions, StoreOption } from './types.js';

/** The default state file beside an input: `<input>.sluice.db`. */
export function defaultStatePath(input: string): string {
  return `${input}.sluice.db`;
}

/**
 * Opens a state: a path opens the SQLite store (it must exist unless `create`; a corrupt or foreign
 * file is a `StateFileError`); an open store is returned as is.
 */
export async function openStore(state: StoreOption, options: { create?: boolean } = {}): Promise<JobStore> {
  if (typeof state !== 'string') return state;
  return SqliteJobStore.open(state, { create: options.create ?? false });
}

/**
 * The metadata of the run in a state file, or undefined when the file does not exist yet (nothing is
 * created). A corrupt or foreign file is a `StateFileError`.
 */
export async function readRunMeta(state: string): Promise<RunMeta | undefined> {
  if (!existsSync(state)) return undefined;
  return withStore(state, (store) => store.getMeta());
}

/** Runs `fn` on the store, closing it afterwards when it was opened here from a path. */
async function withStore<T>(state: StoreOption, fn: (store: JobStore) => Promise<T>): Promise<T> {
  const store = await openStore(state);
  try {
    return await fn(store);
  } finally {
    if (typeof state === 'string') await store.close();
  }
}

/** Counts by state, error kind and key, read from the state. */
export async function batchStatus(options: { state: StoreOption }): Promise<BatchCounts> {
  return withStore(options.state, (store) => store.counts());
}

/**
 * Returns failed items (of `kinds`, default all) to pending; the next `runBatch` on the same input runs
 * them. Attempts are reset to 0 unless `resetAttempts: false`. Because the output already holds those
 * items' failure lines, the output is marked for a full rewrite: the next run writes every item again,
 * once, with its new outcome. Returns how many items were returned to pending. Throws `StateInUseError`
 * while a run holds the state file.
 */
export async function retryFailed(options: RetryFailedBatchOptions): Promise<number> {
  // Not while a run holds the state: it would write the reset items a second time.
  const release = typeof options.state === 'string' ? acquireRunLock(options.state) : undefined;
  try {
    return await retryFailedIn(options);
  } finally {
    release?.();
  }
}

async function retryFailedIn(options: RetryFailedBatchOptions): Promise<number> {
  return withStore(options.state, async (store) => {
    const retryOptions: Parameters<JobStore['retryFailed']>[0] = {};
    if (options.kinds) retryOptions.kinds = options.kinds;
    if (options.resetAttempts !== undefined) retryOptions.resetAttempts = options.resetAttempts;
    const n = await store.retryFailed(retryOptions);
    if (n > 0) await store.resetWritten();
    return n;
  });
}

/**
 * Rewrites the full results from the store (every item in a final state, in input order), through a
 * temporary file renamed into place: JSONL lines as in the run's results file (default), or with
 * `format: 'csv'` a CSV whose first column, named `idColumn` (default `id`), holds each item's id, then
 * line, status, text, error_kind, error_message, error_status, attempts: joinable to a CSV input on its id column. Exporting over the run's own results file is safe: the next run
 * then rewrites that file in full.
 * Returns the number of results written.
 */
export async function exportResults(options: ExportOptions): Promise<number> {
  // Not into a results file a run is appending to: the two writers would interleave.
  const lock = acquireFileLocks([{ path: resolve(options.output), role: 'results file' }]);
  try {
    return await exportTo(options);
  } finally {
    lock.release();
  }
}

async function exportTo(options: ExportOptions): Promise<number> {
  return withStore(options.state, async (store) => {
    // csv-stringify is loaded by a CSV export only, not with the batch layer that every `sluice run`
    // loads (about 14 ms of its start-up; docs/PERFORMANCE.md, "CLI fixed cost").
    const stringify = options.format === 'csv' ? (await import('csv-stringify/sync')).stringify : undefined;
    const out = openReplacement(options.output);
    const fd = out.fd;
    let lines = 0;
    try {
      let buffer: string[] = [];
      const flush = (): void => {
        if (buffer.length > 0) writeSync(fd, buffer.join(''));
        buffer = [];
      };
      if (stringify) buffer.push(stringify([resultCsvHeader(options.idColumn ?? DEFAULT_ID_COLUMN)]));
      for await (const item of store.finalItems()) {
        buffer.push(stringify ? stringify([resultCsvRow(item)]) : formatResult(item) + '\n');
        lines++;
        if (buffer.length >= 1000) flush();
      }
      flush();
    } catch (err) {
      out.abort();
      throw err;
    }
    out.commit();
    // Exported over the run's own results file: its recorded length no longer describes it, so the
    // next run rewrites it in full (still one line per item).
    const meta = await store.getMeta();
    if (meta?.outputPath !== undefined && meta.outputPath === resolve(options.output)) await store.resetWritten();
    return lines;
  });
}
