/** `run --dry-run`. (Signature first; implementation follows.) */
import type { DryRunOptions, DryRunReport } from './types.js';

/** Parses the input and estimates requests, tokens and time at the given limits. Calls nothing, writes nothing. */
export async function dryRun(options: DryRunOptions): Promise<DryRunReport> {
  void options;
  throw new Error('dryRun: not implemented yet');
}
