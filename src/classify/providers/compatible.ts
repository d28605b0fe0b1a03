/**
 * OpenAI-compatible servers whose errors are not quite OpenAI's: OpenRouter
 * (`{"error":{"code":429,"message":"...","metadata":{...}}}`, numeric code, 402 for credits), xAI
 * (`{"code":"...","error":"..."}`), Mistral (`{"object":"error","message":...}` or `{"message":"..."}`),
 * Groq's 498 capacity status, and FastAPI-style `{"detail":...}` (vLLM and friends). DeepSeek and Groq
 * otherwise speak OpenAI's format exactly and are read by the OpenAI classifier (402 "Insufficient
 * Balance" and 503 "Server overloaded" included).
 */
import type { ProviderClassifier, Verdict } from '../failure.js';
import { field, isRecord, messageText, stringField } from '../json.js';
import { parseResetTime } from '../retry-after.js';
import { mentionsSharedCapacity } from '../phrases.js';
import { openAIVerdict, readOpenAIError } from './openai.js';

/** Groq: "Flex Tier Capacity Exceeded". */
const GROQ_CAPACITY_STATUS = 498;

/** Recognises the compatible servers' own shapes; plain OpenAI-shaped bodies are left to the OpenAI classifier. */
export const classifyCompatible: ProviderClassifier = (f) => {
  if (f.status === GROQ_CAPACITY_STATUS) {
    const message = readOpenAIError(f.status, f.body)?.message ?? 'capacity exceeded';
    return { kind: 'overloaded', provider: 'openai-compatible', code: String(GROQ_CAPACITY_STATUS), message };
  }
  // A bare JSON string body (xAI: corpus xai-429-credits-or-monthly-spending-limit, xai-400-incorrect-api-key-bare-string)
  // is read like a message.
  if (f.bareString) return openAIVerdict({ status: f.status, code: undefined, type: undefined, message: f.text }, 'openai-compatible');
  return openRouter(f.status, f.body, f.now) ?? flatError(f.status, f.body);
};

/** OpenRouter's marker of a 429 from the upstream provider's pool shared by all its users (corpus openrouter-429-upstream-shared-pool). */
const UPSTREAM_SHARED_POOL = 'upstream_provider_shared_pool';

/** OpenRouter: `error.code` is a number (the status); `metadata` explains moderation and upstream limits. */
function openRouter(status: number | undefined, body: unknown, now: number): Verdict | undefined {
  const err = field(body, 'error');
  const code = field(err, 'code');
  if (!isRecord(err) || typeof code !== 'number') return undefined;
  const message = messageText(field(err, 'message')) ?? '';
  const metadata = field(err, 'metadata');
  const effective = status ?? code;
  const base = (kind: Verdict['kind'], extra: Partial<Verdict> = {}): Verdict => ({ kind, provider: 'openai-compatible', code: String(code), message, ...extra });
  if (effective === 403 && (field(metadata, 'reasons') !== undefined || field(metadata, 'flagged_input') !== undefined)) {
    return base('content_filtered');
  }
  if (effective === 402) return base('quota_exhausted', { quotaScope: 'billing' });
  // "Provider returned error" with the upstream's words in metadata.raw: a pool shared by every OpenRouter user,
  // not this key's limit (corpus openrouter-429-temporarily-rate-limited-upstream-chutes).
  const raw = stringField(metadata, 'raw') ?? '';
  if (effective === 429 && (field(metadata, 'limit_source') === UPSTREAM_SHARED_POOL || mentionsSharedCapacity(raw))) return base('overloaded');
  const reset = effective === 429 ? headerInMetadata(metadata, 'x-ratelimit-reset') : undefined;
  const resetAt = reset === undefined ? undefined : parseResetTime(reset, now);
  const at = resetAt === undefined ? {} : { resetAt };
  const verdict = openAIVerdict({ status: effective, code: undefined, type: undefined, message }, 'openai-compatible');
  return { ...verdict, code: String(code), ...at };
}

/** `metadata.headers` copied from the upstream response, matched case-insensitively. */
function headerInMetadata(metadata: unknown, name: string): string | undefined {
  const headers = field(metadata, 'headers');
  if (!isRecord(headers)) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : stringField(headers, key);
}

/** Flat shapes: xAI `{code, error: "..."}`, Mistral `{message}` / `{object:"error", message, type, code}`, FastAPI `{detail}`. */
function flatError(status: number | undefined, body: unknown): Verdict | undefined {
  if (!isRecord(body)) return undefined;
  const error = field(body, 'error');
  const message =
    (typeof error === 'string' ? error : undefined) ??
    (error === undefined ? messageText(field(body, 'message')) ?? messageText(field(body, 'detail')) : undefined);
  if (message === undefined) return undefined;
  const code = stringField(body, 'code');
  const type = stringField(body, 'type');
  const verdict = openAIVerdict({ status, code: undefined, type, message }, 'openai-compatible');
  return code === undefined && type === undefined ? verdict : { ...verdict, code: code ?? type };
}
