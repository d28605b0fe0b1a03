/** `run --dry-run`: what a run would send, and how long it would take at the given limits. */
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

/** Rough input estimate (about 4 characters per token over the payload's text) when no estimator is given. */
export function estimateInputTokens(payload: unknown): number {
  return Math.ceil(JSON.stringify(payload ?? '').length / 4);
}

/** The payload's own output cap, under the names the providers use. */
function maxOutputTokens(payload: unknown): number | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  const config = p['generationConfig'] as Record<string, unknown> | undefined;
  for (const v of [p['max_tokens'], p['max_completion_tokens'], p['max_output_tokens'], config?.['maxOutputTokens']]) {
    if (typeof v === 'number' && v >= 0) return v;
  }
  return undefined;
}
