/**
 * Failures that come back as successful answers: content filters in a 200 body, and OpenAI Responses answers or
 * stream events that report a failure. One place for these rules, used by the HTTP adapters (raw bodies) and by
 * `functionAdapter` (the official SDKs' results, which carry the same fields).
 */
import { classify } from '../classify/classify.js';
import type { Classification, ProviderName } from '../classify/kinds.js';
import { classifyVeoOperation } from '../classify/operation.js';
import { prop } from './common.js';

/** Finish reasons that mean the answer was blocked rather than produced. */
const BLOCKED_FINISH_REASONS = new Set(['SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'RECITATION', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT']);

/**
 * Why a Gemini generateContent answer is blocked, or undefined when it is not: the prompt's `blockReason`, or
 * the finish reason shared by every candidate when none carries any content. Reads the REST body and the
 * `@google/genai` `GenerateContentResponse` alike (same field names).
 */
export function geminiBlockReason(body: unknown): string | undefined {
  const promptBlock = prop(prop(body, 'promptFeedback'), 'blockReason');
  if (typeof promptBlock === 'string' && promptBlock !== '' && promptBlock !== 'BLOCK_REASON_UNSPECIFIED') return promptBlock;
  const candidates = prop(body, 'candidates');
  if (!Array.isArray(candidates) || candidates.length === 0) return undefined;
  const reasons = candidates.map((c) => prop(c, 'finishReason'));
  const first = reasons[0];
  const allBlocked = reasons.every((r) => typeof r === 'string' && BLOCKED_FINISH_REASONS.has(r));
  const noContent = candidates.every((c) => {
    const parts = prop(prop(c, 'content'), 'parts');
    return !Array.isArray(parts) || parts.length === 0;
  });
  return allBlocked && noContent && typeof first === 'string' ? first : undefined;
}

/** Whether an Anthropic message stopped because the model refused (`stop_reason: "refusal"`). */
export function anthropicRefused(body: unknown): boolean {
  return prop(body, 'stop_reason') === 'refusal';
}

/** Whether every choice of an OpenAI chat completion stopped with `finish_reason: "content_filter"`. */
export function allChoicesFiltered(body: unknown): boolean {
  const choices = prop(body, 'choices');
  return Array.isArray(choices) && choices.length > 0 && choices.every((c) => prop(c, 'finish_reason') === 'content_filter');
}

/** Which wire family a provider's answers follow, for reading their bodies. */
type Family = 'openai' | 'anthropic' | 'gemini' | undefined;

function familyOf(provider: ProviderName): Family {
  if (provider === 'anthropic') return 'anthropic';
  if (provider === 'gemini' || provider === 'vertex') return 'gemini';
  if (provider === 'openai' || provider === 'azure' || provider === 'openai-compatible') return 'openai';
  return undefined;
}

/**
 * The classification of a result that reports a failure, or undefined when it reports none:
 * - a content filter (`content_filtered`, never retried): Anthropic `stop_reason: "refusal"`, Gemini
 *   `promptFeedback.blockReason` or every candidate stopped for SAFETY and the like, a finished Veo operation
 *   with `raiMediaFilteredCount` and no video, OpenAI every choice
 *   stopped with `content_filter` or a Responses answer `incomplete` for `content_filter`;
 * - an OpenAI Responses answer with `status: "failed"` (or its `response.failed` stream event), or a stream
 *   `error` event: its `error` classified as the same error in an HTTP body would be (`server_error`,
 *   `rate_limit_exceeded` with its "try again in" wait, ...).
 */
export function resultFailure(provider: ProviderName, result: unknown, now: number): Classification | undefined {
  const family = familyOf(provider);
  if (family === 'anthropic' && anthropicRefused(result)) {
    return filtered(provider, 'refusal', 'the model refused (stop_reason "refusal")');
  }
  if (family === 'gemini') {
    const blocked = geminiBlockReason(result);
    if (blocked) return filtered(provider, blocked, `blocked by safety filters (${blocked})`);
    // A finished Veo operation (REST or `@google/genai`'s GenerateVideosOperation) whose every video was filtered.
    const video = classifyVeoOperation(result);
    return video ? { ...video, provider } : undefined;
  }
  if (family !== 'openai') return undefined;
  if (allChoicesFiltered(result)) return filtered(provider, 'content_filter', 'every choice stopped with finish_reason "content_filter"');
  return openAIResponseFailure(provider, result, now);
}

/** A Responses answer, a `response.failed` / `response.incomplete` event, or an `error` event / chunk that says it failed. */
function openAIResponseFailure(provider: ProviderName, value: unknown, now: number): Classification | undefined {
  const type = prop(value, 'type');
  // A stream event: `error` (its fields flat, as documented, or nested under `error`, as sent) or a chat chunk's `error`.
  if (type === 'error') {
    const nested = prop(value, 'error');
    return streamError(provider, nested !== undefined && nested !== null ? nested : value, now);
  }
  if (type === undefined && prop(value, 'object') === 'chat.completion.chunk' && prop(value, 'error') !== undefined) return streamError(provider, prop(value, 'error'), now);
  const response = type === 'response.failed' || type === 'response.incomplete' || type === 'response.completed' ? prop(value, 'response') : value;
  if (prop(response, 'object') !== 'response') return undefined;
  const status = prop(response, 'status');
  if (status === 'incomplete' && prop(prop(response, 'incomplete_details'), 'reason') === 'content_filter') {
    return filtered(provider, 'content_filter', 'the response was cut by the content filter (incomplete_details.reason "content_filter")');
  }
  if (status === 'failed') return streamError(provider, prop(response, 'error') ?? { message: 'the response failed without an error' }, now);
  return undefined;
}

function streamError(provider: ProviderName, error: unknown, now: number): Classification {
  return classify({ body: { error } }, { provider, now });
}

function filtered(provider: ProviderName, code: string, message: string): Classification {
  return { kind: 'content_filtered', retryable: false, status: 200, code, message, provider };
}
