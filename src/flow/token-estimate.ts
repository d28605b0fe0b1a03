/**
 * `estimateTokens`: the tokens to reserve before a call, i.e. its input tokens plus the most it may
 * generate. Input: a real tokenizer (`js-tiktoken`, `o200k_base` for GPT-4o/4.1/5 and o-series,
 * `cl100k_base` for GPT-4/3.5 and embeddings) for OpenAI-family models; for other models (Claude,
 * Gemini, unknown) the documented approximation `ceil(chars / 4)`. Output: `max_tokens`,
 * `max_completion_tokens`, `max_output_tokens` or `generationConfig.maxOutputTokens`.
 * The tokenizer is loaded on first use and cached. Never throws on odd payloads.
 */
import { createRequire } from 'node:module';
import type { Tiktoken } from 'js-tiktoken';

// js-tiktoken (with its rank tables, several MB) is required on the first OpenAI-family estimate only,
// so that importing `sluice` stays light.
const require = createRequire(import.meta.url);

/** Tokenizer encodings used. */
export type EncodingName = 'o200k_base' | 'cl100k_base';

/** Per-message framing tokens of the chat format (role, separators), as in OpenAI's counting guide. */
const MESSAGE_OVERHEAD = 3;
/** Tokens that prime the assistant's reply. */
const REPLY_PRIMING = 3;
/** Fields whose string values are text the model reads. */
const TEXT_FIELDS = new Set(['content', 'text', 'input', 'instructions', 'system', 'prompt', 'arguments', 'name', 'description']);
/** Guards against hostile, deeply nested payloads. */
const MAX_DEPTH = 12;

const cache = new Map<EncodingName, Tiktoken>();

/** The encoding for an OpenAI-family model, or undefined for other models. */
export function encodingForModel(model: string | undefined): EncodingName | undefined {
  if (typeof model !== 'string') return undefined;
  const m = model.toLowerCase().replace(/^(openai\/|azure\/)/, '');
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss)/.test(m)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5|text-embedding-|davinci|babbage|ft:gpt-3\.5|ft:gpt-4)/.test(m)) return 'cl100k_base';
  return undefined;
}

function encoder(name: EncodingName): Tiktoken {
  let enc = cache.get(name);
  if (!enc) {
    const { getEncoding } = require('js-tiktoken') as typeof import('js-tiktoken');
    enc = getEncoding(name);
    cache.set(name, enc);
  }
  return enc;
}

/** Tokens of `text` in `encoding`, or `ceil(chars / 4)` without one. */
export function countTextTokens(text: string, encoding?: EncodingName): number {
  if (!encoding) return Math.ceil(text.length / 4);
  return encoder(encoding).encode(text, 'all').length;
}

/** The request's cap on generated tokens, 0 when it has none. */
export function maxOutputTokens(payload: unknown): number {
  if (!isObject(payload)) return 0;
  const gen = isObject(payload.generationConfig) ? payload.generationConfig : isObject(payload.config) ? payload.config : undefined;
  for (const v of [payload.max_completion_tokens, payload.max_tokens, payload.max_output_tokens, gen?.maxOutputTokens, gen?.max_output_tokens]) {
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.ceil(v);
  }
  return 0;
}

/**
 * Tokens to reserve for `payload`: input (tokenizer or approximation) plus max output tokens.
 * `model` overrides `payload.model`. A plain string payload is counted as text.
 */
export function estimateTokens(payload: unknown, model?: string): number {
  try {
    const m = model ?? (isObject(payload) && typeof payload.model === 'string' ? payload.model : undefined);
    const encoding = encodingForModel(m);
    if (typeof payload === 'string') return countTextTokens(payload, encoding);
    if (!isObject(payload)) return 0;
    const texts: string[] = [];
    collect(payload, texts, 0, false);
    let input = 0;
    for (const t of texts) input += countTextTokens(t, encoding);
    const messages = Array.isArray(payload.messages) ? payload.messages.length : Array.isArray(payload.contents) ? payload.contents.length : 0;
    if (messages > 0) input += messages * MESSAGE_OVERHEAD + REPLY_PRIMING;
    return input + maxOutputTokens(payload);
  } catch {
    return 0;
  }
}

/** Gathers the strings under text fields (and every string inside arrays or objects under them). */
function collect(value: unknown, out: string[], depth: number, inText: boolean): void {
  if (depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    if (inText) out.push(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, depth + 1, inText);
    return;
  }
  if (!isObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (k === 'model' || k === 'role' || k === 'type') continue;
    collect(v, out, depth + 1, inText || TEXT_FIELDS.has(k) || k === 'messages' || k === 'contents' || k === 'parts');
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
