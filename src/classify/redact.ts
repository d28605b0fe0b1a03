/**
 * Removes anything that looks like a credential from text that may reach a log, a store row, a report
 * or an error message. Provider error messages sometimes echo the key ("Incorrect API key provided:
 * sk-abc***wxyz"), URLs carry `?key=AIza...`, and request dumps carry `Authorization` headers.
 */

/** What a redacted value is replaced with. */
export const REDACTED = '***';

/**
 * Patterns, applied in order. Each is linear (no nested quantifiers), so redaction stays cheap on the
 * hot path of every failure and every log line.
 */
const RULES: readonly (readonly [hint: readonly string[], pattern: RegExp, replacement: string])[] = [
  // `Bearer <token>` in Authorization headers or messages.
  [['bearer'], /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, `Bearer ${REDACTED}`],
  // OpenAI / Anthropic / OpenRouter / DeepSeek keys: sk-..., sk-proj-..., sk-ant-api03-..., sk-or-v1-... (also masked forms).
  [['sk-'], /\bsk-[A-Za-z0-9_*-]{6,}/g, `sk-${REDACTED}`],
  // Google API keys.
  [['aiza'], /\bAIza[0-9A-Za-z_-]{10,}/g, `AIza${REDACTED}`],
  // xAI and Groq keys.
  [['xai-'], /\bxai-[A-Za-z0-9_*-]{10,}/g, `xai-${REDACTED}`],
  [['gsk_'], /\bgsk_[A-Za-z0-9_*-]{10,}/g, `gsk_${REDACTED}`],
  // `name: value` / `name=value` / `"name": "value"` for credential-bearing names (headers, query strings, JSON).
  [
    ['key', 'token', 'secret', 'password', 'authorization'],
    /\b(x-api-key|x-goog-api-key|api[-_]?key|subscription[-_]?key|ocp-apim-subscription-key|authorization|access[-_]?token|refresh[-_]?token|client[-_]?secret|secret|password|key|token)(["']?[ \t]*[:=][ \t]*["']?)(?!\*\*\*)[^\s"',;&}]+/gi,
    `$1$2${REDACTED}`,
  ],
];

/**
 * Returns `text` with credential-like substrings replaced by `***`: `sk-...` keys, `Bearer ...` tokens,
 * Google `AIza...` keys, `xai-`/`gsk_` keys, and the values of `x-api-key`, `api-key`, `key=`,
 * `authorization:`, `token=`, `password=` and similar fields. Never throws; non-strings become ''.
 */
export function redactSecrets(text: string): string {
  if (typeof text !== 'string') return '';
  let out = text;
  // Cheap substring hints skip the regexes that cannot match: most messages hold no credential at all.
  const lower = text.toLowerCase();
  for (const [hints, pattern, replacement] of RULES) {
    if (hints.some((h) => lower.includes(h))) out = out.replace(pattern, replacement);
  }
  return out;
}
