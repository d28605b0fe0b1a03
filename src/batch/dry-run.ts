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
  const estimate = options.estimateTokens ?? estimateInputTokens;
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
      report.estimatedInputTokens += estimate(record.item.payload);
      report.estimatedOutputTokens += maxOutputTokens(record.item.payload) ?? defaultOut;
    }
  }
  const byRequests = options.requestsPerMinute ? (report.requests / options.requestsPerMinute) * 60_000 : undefined;
  const tokens = report.estimatedInputTokens + report.estimatedOutputTokens;
  const byTokens = options.tokensPerMinute ? (tokens / options.tokensPerMinute) * 60_000 : undefined;
  if (byRequests !== undefined || byTokens !== undefined) {
    report.estimatedMs = Math.max(byRequests ?? 0, byTokens ?? 0);
    report.bindingLimit = (byTokens ?? 0) > (byRequests ?? 0) ? 'tokens' : 'requests';
  }
  return report;
}

/**
 * Input tokens of a payload by the flow layer's estimator (the model's tokenizer when known, else about
 * four characters per token), without the output cap it also counts.
 */
export function estimateInputTokens(payload: unknown): number {
  return Math.max(0, estimateTokens(payload) - payloadMaxOutputTokens(payload));
}

/** The payload's own output cap (`max_tokens`, `maxOutputTokens`, ...), when it has one. */
function maxOutputTokens(payload: unknown): number | undefined {
  const cap = payloadMaxOutputTokens(payload);
  return cap > 0 ? cap : undefined;
}
