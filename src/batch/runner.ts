/** The batch runner. (Signature committed first; implementation follows.) */
import type { BatchSummary, RunBatchOptions } from './types.js';

/**
 * Runs a batch to its end: opens or creates the state, ingests the input (streamed) or verifies its
 * fingerprint, resumes (running -> pending, output truncated to the last committed offset), feeds
 * pending items to `options.executor` through a bounded window, persists every attempt, writes each
 * result exactly once, and resolves with a summary. Stops starting new items when `options.signal` fires.
 */
export async function runBatch(options: RunBatchOptions): Promise<BatchSummary> {
  void options;
  throw new Error('runBatch: not implemented yet');
}
