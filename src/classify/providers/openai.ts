/**
 * OpenAI's error format, `{"error":{"message","type","param","code"}}`, also spoken by Azure OpenAI
 * and most OpenAI-compatible servers (Groq, DeepSeek, Together, vLLM). See
 * https://platform.openai.com/docs/guides/error-codes.
 */
import type { ErrorKind, ProviderName } from '../kinds.js';
import type { ProviderClassifier, Verdict } from '../failure.js';
import { field, isRecord, messageText, stringField } from '../json.js';
import { requestExceedsLimit, scopeFromMessage } from '../message.js';
import { mentionsAuth, mentionsBilling, mentionsContentPolicy, mentionsOverload, mentionsSharedCapacity } from '../phrases.js';
import { kindFromStatus } from '../status.js';

/** The fields of an OpenAI-style error object. */
export interface OpenAIErrorFields {
  status: number | undefined;
  code: string | undefined;
  type: string | undefined;
  message: string;
}

/** Reads `{"error":{...}}`; `undefined` when the body is not in this shape. */
export function readOpenAIError(status: number | undefined, body: unknown): OpenAIErrorFields | undefined {
  const err = field(body, 'error');
  if (!isRecord(err)) return undefined;
  const message = messageText(field(err, 'message'));
  const code = stringField(err, 'code');
  const type = stringField(err, 'type');
  if (message === undefined && code === undefined && type === undefined) return undefined;
  return { status, code, type, message: message ?? '' };
}

/** Recognises an OpenAI-format error body, or a completion whose every choice was stopped by the content filter. */
export const classifyOpenAI: ProviderClassifier = (f) => {
  const fields = readOpenAIError(f.status, f.body) ?? failedResponse(f.status, f.body);
  return fields ? openAIVerdict(fields, 'openai') : filteredCompletion(f.body);
};

/**
 * A Responses API `response.failed` stream event carries its error in `response.error`
 * (corpus openai-responses-stream-response-failed-overloaded).
 */
function failedResponse(status: number | undefined, body: unknown): OpenAIErrorFields | undefined {
  if (field(body, 'type') !== 'response.failed') return undefined;
  return readOpenAIError(status, { error: field(field(body, 'response'), 'error') });
}

/** A 200 chat completion (OpenAI, Azure output filtering) with `finish_reason: "content_filter"` on every choice. */
function filteredCompletion(body: unknown): Verdict | undefined {
  const choices = field(body, 'choices');
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const filtered = choices.slice(0, 16).every((c) => field(c, 'finish_reason') === 'content_filter');
  return filtered ? { kind: 'content_filtered', provider: 'openai', code: 'content_filter', message: 'completion stopped by the content filter (finish_reason content_filter)' } : undefined;
}

/**
 * Decides the kind of an OpenAI-style error from its status, code, type and message. The order
 * matters: `insufficient_quota` and "Request too large" both arrive as 429, and must not be taken for
 * an ordinary rate limit.
 */
export function openAIVerdict(e: OpenAIErrorFields, provider: ProviderName): Verdict {
  const tags = `${e.code ?? ''} ${e.type ?? ''}`.toLowerCase();
  const code = e.code ?? e.type;
  const verdict = (kind: ErrorKind, extra: Partial<Verdict> = {}): Verdict => ({ kind, provider, code, message: e.message, ...extra });
  const serverSide = e.status !== undefined && e.status >= 500;

  if (tags.includes('insufficient_quota') || (!serverSide && mentionsBilling(e.message))) {
    return verdict('quota_exhausted', { quotaScope: 'billing' });
  }
  if (tags.includes('content_policy') || tags.includes('content_filter') || tags.includes('moderation')) {
    return verdict('content_filtered');
  }
  if (tags.includes('invalid_api_key') || tags.includes('authentication') || e.status === 401 || e.status === 403) {
    return verdict('auth');
  }
  if (e.status !== 429 && !serverSide && mentionsAuth(e.message)) return verdict('auth');
  if (e.status === 404 || tags.includes('model_not_found') || tags.includes('not_found')) return verdict('not_found');
  if (e.status === 413 || requestExceedsLimit(e.message)) return verdict('invalid_request');
  if (e.status === 429 || tags.includes('rate_limit')) {
    // Shared capacity (Azure "high demand ... peak load", a gateway's upstream pool) is not this key's limit.
    if (mentionsOverload(e.message) || mentionsSharedCapacity(e.message)) return verdict('overloaded');
    const scope = scopeFromMessage(e.message);
    return verdict('rate_limited', scope ? { quotaScope: scope } : {});
  }
  if (e.status === 400 && mentionsContentPolicy(e.message)) return verdict('content_filtered');
  // A stream's error event has no status of its own (corpus azure-sse-overloaded-server-error-proxy22).
  if (e.status === 503 || tags.includes('overloaded') || ((serverSide || e.status === undefined) && mentionsOverload(e.message))) return verdict('overloaded');
  if (e.status === undefined && tags.includes('server_error')) return verdict('server_error');
  return verdict(kindFromStatus(e.status));
}
