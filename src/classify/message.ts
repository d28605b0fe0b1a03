/** Message hygiene (redaction, truncation, body snippets) and the facts providers only write in prose. */
import { parseDuration } from './duration.js';
import { wordings } from './evidence.js';
import { redactSecrets } from './redact.js';

/** Classification messages keep this many characters; provider messages can be pages long. */
export const MAX_MESSAGE_LENGTH = 500;

/** How much of a non-JSON body (HTML error page, proxy text) goes into the message. */
const BODY_SNIPPET_LENGTH = 200;

/** Redacts secrets, collapses whitespace and truncates to {@link MAX_MESSAGE_LENGTH} characters. */
export function cleanMessage(text: string): string {
  // Truncate a generous prefix first so redaction and whitespace work stay bounded on huge input.
  const head = text.length > MAX_MESSAGE_LENGTH * 4 ? text.slice(0, MAX_MESSAGE_LENGTH * 4) : text;
  const clean = redactSecrets(head).replace(/\s+/g, ' ').trim();
  return clean.length > MAX_MESSAGE_LENGTH ? `${clean.slice(0, MAX_MESSAGE_LENGTH)}…` : clean;
}

/** The message for a response whose body is not a recognised JSON error: status plus the body's first bytes. */
export function bodySnippetMessage(status: number | undefined, text: string): string {
  const prefix = status === undefined ? 'HTTP error' : `HTTP ${status}`;
  const snippet = text.slice(0, BODY_SNIPPET_LENGTH * 2).replace(/\s+/g, ' ').trim().slice(0, BODY_SNIPPET_LENGTH);
  return snippet.length > 0 ? `${prefix}: ${snippet}` : `${prefix} (empty body)`;
}

/**
 * Phrases after which providers write the wait: OpenAI/Groq "try again in 6m0s", Azure "retry after 6 seconds",
 * Gemini "Please retry in 51.606482386s.", Code Assist "Your quota will reset after 12h34m16s".
 */
const WAIT_PHRASES = ['try again in ', 'retry after ', 'retry in ', 'reset after '] as const;
wordings('wait', [
  ['try again in \\d', 'openai-429-tpm-try-again-644ms'],
  ['retry after \\d', 'azure-429-tpm-retry-after-45s-paperless'],
  ['retry in \\d', 'gemini-429-limit-0-free-tier-details-cut'],
  ['retry in \\d', 'gemini-429-per-day-free-tier-retryinfo-51s'],
  ['reset after \\d', 'codeassist-429-capacity-quota-resets-after-12h'],
]);

/** A duration right after a wait phrase: one or more `<number><unit>` with optional spaces. */
const WAIT_DURATION = /^((?:[ \t]?\d+(?:\.\d+)?[ \t]?[a-zµμ]+){1,4})/;

/**
 * The wait a provider wrote in its message ("Please try again in 644ms", "in 6m0s", "retry after 6 seconds"),
 * in ms, or `undefined`. Only the text after a known phrase is read, so limits such as "Limit 30000" are
 * never mistaken for waits.
 */
export function waitFromMessage(message: string): number | undefined {
  const lower = message.length > 4000 ? message.slice(0, 4000).toLowerCase() : message.toLowerCase();
  for (const phrase of WAIT_PHRASES) {
    let from = lower.indexOf(phrase);
    // Bounded: at most a few occurrences of a phrase are looked at.
    for (let i = 0; from >= 0 && i < 4; i++) {
      const match = WAIT_DURATION.exec(lower.slice(from + phrase.length, from + phrase.length + 40));
      const ms = match?.[1] === undefined ? undefined : parseDuration(match[1]);
      if (ms !== undefined) return ms;
      from = lower.indexOf(phrase, from + 1);
    }
  }
  return undefined;
}

/** "Limit 30000, Requested 50000" (Groq writes "Requested ~12903"). */
const LIMIT = wordings('limit figure', [['\\blimit:? (\\d{1,12})', 'openai-429-request-too-large-tpm']]);
const REQUESTED = wordings('requested figure', [
  ['\\brequested:? ~?(\\d{1,12})', 'openai-429-request-too-large-tpm'],
  ['\\brequested:? ~?(\\d{1,12})', 'groq-429-tpm-request-alone-above-limit'],
]);
const REQUEST_TOO_LARGE = wordings('request too large', [['\\brequest too large\\b', 'groq-413-request-too-large-tpm-podscript']]);
const MUST_REDUCE = wordings('must reduce', [
  ['\\bmust be reduced\\b', 'openai-429-request-too-large-tpm'],
  ['\\breduce your message size\\b', 'groq-413-request-too-large-tpm-podscript'],
]);

/**
 * Whether the message says the request alone is bigger than the limit ("Limit 30000, Requested 50000"),
 * which no retry can fix; "Limit 30000, Used 29000, Requested 2000" is an ordinary rate limit.
 */
export function requestExceedsLimit(message: string): boolean {
  const limit = LIMIT.exec(message);
  const requested = REQUESTED.exec(message);
  const limitValue = limit?.slice(1).find((g) => g !== undefined);
  const requestedValue = requested?.slice(1).find((g) => g !== undefined);
  if (limitValue !== undefined && requestedValue !== undefined) return Number(requestedValue) > Number(limitValue);
  return REQUEST_TOO_LARGE.test(message) && MUST_REDUCE.test(message);
}

const PER_DAY = wordings('per day', [
  ['per[ -]day', 'openai-429-requests-per-day-try-again-8.64s'],
  ['per[ -]day', 'codeassist-429-gemini-25-pro-requests-per-day'],
  ['per[ -]day', 'opengateway-429-free-models-per-day-high-balance'],
]);
const PER_MINUTE = wordings('per minute', [
  ['per[ -]min', 'openai-429-tpm-try-again-644ms'],
  ['per[ -]min', 'anthropic-429-input-tokens-per-minute-org'],
]);

const PER_MONTH = wordings('monthly allowance', [
  ['(?:calls?|requests?) ?/ ?month', 'cohere-429-trial-key-1000-calls-per-month'],
  ['reset at the beginning of next month', 'cohere-402-maximum-billing-reached'],
]);

/**
 * Whether the message names a monthly allowance ("limited to 1000 API calls / month") or says the cap
 * comes back next month: nothing is gained before the first of the next month.
 */
export function monthlyAllowance(message: string): boolean {
  return PER_MONTH.test(message);
}

/** "per day" style limits (OpenAI RPD, Code Assist daily, OpenRouter free-models-per-day) versus per-minute ones. */
export function scopeFromMessage(message: string): 'minute' | 'day' | undefined {
  if (PER_DAY.test(message)) return 'day';
  if (PER_MINUTE.test(message)) return 'minute';
  return undefined;
}
