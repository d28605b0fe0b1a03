/** `run --dry-run`: what a run would send, and how long it would take at the given limits. */
import { estimateTokens, maxOutputTokens as payloadMaxOutputTokens } from '../flow/token-estimate.js';
import { readInput } from './ingest.js';
import type { DryRunOptions, DryRunReport } from './types.js';

/** Output tokens assumed per request when the payload names no maximum. */
const DEFAULT_MAX_OUTPUT_TOKENS = 256;

/**
 * Parses the input (streamed) and estimates requests, tokens and time at the given limits. Calls
 * nothing and writes nothing (rejects and duplicates within the file are counted, not written).
 * Duplicate ids are detected with an in-memory set of ids, the one structure that grows with the input.
 */
export async function dryRun(options: DryRunOptions): Promise<DryRunReport> {
  for (const field of ['requestsPerMinute', 'tokensPerMinute'] as const) {
    const v = options[field];
    if (v !== undefined && !(v > 0)) throw new RangeError(`dryRun: ${field} must be > 0, got ${String(v)}`);
  }
  const reserve = options.estimateTokens ?? estimateTokens;
  const shape = options.shapePayload ?? ((payload: unknown): unknown => payload);
  const defaultOut = options.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
  const report: DryRunReport = {
    requests: 0,
    rejected: 0,
    rejectReasons: {},
    estimatedInputTokens: 0,
    estimatedOutputTokens: 0,
    bindingLimit: 'none',
  };
  const ids = new Set<string>();
  const rejectWith = (reason: string): void => {
    report.rejected++;
    const key = reason.split(':')[0] ?? reason;
    report.rejectReasons[key] = (report.rejectReasons[key] ?? 0) + 1;
  };
  for await (const record of readInput(options)) {
    if ('reject' in record) rejectWith(record.reject);
    else if (ids.has(record.item.id)) rejectWith('duplicate id');
    else {
      ids.add(record.item.id);
      report.requests++;
      // The estimator reserves input + output cap; the cap is counted once, as output.
      const payload = shape(record.item.payload);
      const cap = payloadMaxOutputTokens(payload);
      report.estimatedInputTokens += Math.max(0, reserve(payload) - cap);
      report.estimatedOutputTokens += cap > 0 ? cap : defaultOut;
    }
  }
  const byRequests = options.requestsPerMinute ? (report.requests / options.requestsPerMinute) * 60_000 : undefined;
  // A token limit counts what a request reserves: its input and its output cap, each once.
  const tokens = report.estimatedInputTokens + report.estimatedOutputTokens;
  const byTokens = options.tokensPerMinute ? (tokens / options.tokensPerMinute) * 60_000 : undefined;
  if (byRequests !== undefined || byTokens !== undefined) {
    report.estimatedMs = Math.max(byRequests ?? 0, byTokens ?? 0);
    report.bindingLimit = (byTokens ?? 0) > (byRequests ?? 0) ? 'tokens' : 'requests';
  }
  return report;
}

