/**
 * Classification of an HTTP failure: the provider classifiers recognise the body, then the server's
 * waits and reset times are read from the headers (which win over anything written in the body or
 * the message), and the message is made safe to log.
 */
import { RETRYABLE_BY_DEFAULT, type Classification, type ErrorKind, type ProviderName } from './kinds.js';
import type { HttpFailure, ProviderClassifier, Verdict } from './failure.js';
import type { HeaderMap } from './headers.js';
import { bodySnippetMessage, cleanMessage, monthlyAllowance, waitFromMessage } from './message.js';
import { parseResetTime, parseRetryAfter, parseRetryAfterMs } from './retry-after.js';
import { kindFromStatus } from './status.js';
import { firstOfNextMonthUtc } from './zone-time.js';
import { classifyAnthropic } from './providers/anthropic.js';
import { classifyAzure } from './providers/azure.js';
import { classifyCompatible } from './providers/compatible.js';
import { classifyGemini } from './providers/gemini.js';
import { classifyOpenAI } from './providers/openai.js';

/**
 * Recognisers in the order tried when the provider is not known. Distinctive shapes first: Google's
 * `error.status` names, Anthropic's envelope, Azure's string codes and API Management shape, OpenRouter's
 * numeric code and the flat shapes; the plain OpenAI shape last because the others resemble it.
 */
const AUTO_ORDER: readonly ProviderClassifier[] = [classifyGemini, classifyAnthropic, classifyAzure, classifyCompatible, classifyOpenAI];

/** Which recogniser to try first for a declared provider. */
const FIRST: Readonly<Record<ProviderName, ProviderClassifier | undefined>> = {
  openai: classifyOpenAI,
  azure: classifyAzure,
  anthropic: classifyAnthropic,
  gemini: classifyGemini,
  vertex: classifyGemini,
  'openai-compatible': classifyCompatible,
  http: undefined,
};

/**
 * A stated wait of this long or more parks the key until then rather than retrying on it every few minutes:
 * Azure's "Please retry after 86400 seconds" (corpus azure-429-tpm-retry-after-86400s-dbchat), Code Assist's
 * "Your quota will reset after 12h34m16s" (codeassist-429-capacity-quota-resets-after-12h).
 */
export const PARK_AFTER_WAIT_MS = 3_600_000;

/** Classifies a normalised HTTP failure. Never throws. */
export function classifyHttpFailure(f: HttpFailure, provider?: ProviderName): Classification {
  const verdict = recognise(f, provider);
  const kind = verdict?.kind ?? kindFromStatus(f.status);
  const rawMessage = verdict?.message || fallbackMessage(f);
  const retryAfterMs = headerWait(f.headers, f.now) ?? verdict?.retryAfterMs ?? waitFromMessage(rawMessage);
  const resetAt = verdict?.resetAt ?? (kind === 'rate_limited' || kind === 'quota_exhausted' ? headerReset(f.headers, f.now) : undefined);
  const quotaScope = verdict?.quotaScope ?? (kind === 'quota_exhausted' ? quotaScopeFor(f.status) : undefined);
  const monthly = f.status !== undefined && f.status < 500 && monthlyAllowance(rawMessage);
  const parked = kind === 'rate_limited' ? parkedRateLimit(f, retryAfterMs, resetAt, quotaScope, monthly) : undefined;
  // A spent cap that comes back next month (Cohere "Your billing capacity will reset at the beginning of next month").
  const resumeAt = parked ? parked.resumeAt : (verdict?.resumeAt ?? (kind === 'quota_exhausted' && monthly ? firstOfNextMonthUtc(f.now) : undefined));
  return finish({
    kind: parked ? 'quota_exhausted' : kind,
    status: f.status,
    code: verdict?.code,
    rawMessage,
    provider: provider ?? verdict?.provider,
    retryAfterMs,
    resetAt,
    resumeAt,
    quotaScope: parked ? parked.quotaScope : quotaScope,
  });
}

/**
 * A rate limit that is really a quota for now: the server's wait is an hour or more (park until it ends), or
 * a 429 names a per-day limit and no wait (OpenRouter-style "free-models-per-day", corpus
 * opengateway-429-free-models-per-day-high-balance: nothing to gain before the daily reset). A per-day limit
 * that states a short wait (OpenAI RPD "Please try again in 8.64s") stays a rate limit. A 429 that names a
 * monthly allowance and no wait (Cohere's trial key "limited to 1000 API calls / month", corpus
 * cohere-429-trial-key-1000-calls-per-month) parks until 00:00 UTC on the first of the next month.
 */
function parkedRateLimit(
  f: HttpFailure,
  retryAfterMs: number | undefined,
  resetAt: number | undefined,
  quotaScope: Classification['quotaScope'],
  monthly: boolean,
): { quotaScope: Classification['quotaScope']; resumeAt: number | undefined } | undefined {
  const wait = retryAfterMs ?? (resetAt !== undefined ? resetAt - f.now : undefined);
  // A per-minute scope would make the key pool cool rather than park: a long wait is not per minute.
  if (wait !== undefined && wait >= PARK_AFTER_WAIT_MS) return { quotaScope: quotaScope === 'day' ? 'day' : 'unknown', resumeAt: f.now + wait };
  if (wait === undefined && quotaScope === 'day' && f.status === 429) return { quotaScope: 'day', resumeAt: undefined };
  if (wait === undefined && monthly && f.status === 429) return { quotaScope: 'unknown', resumeAt: firstOfNextMonthUtc(f.now) };
  return undefined;
}

/** The parts of a classification before hygiene; `finish` drops absent fields and cleans the message. */
export interface Draft {
  kind: ErrorKind;
  rawMessage: string;
  status?: number | undefined;
  code?: string | undefined;
  provider?: ProviderName | undefined;
  retryAfterMs?: number | undefined;
  resetAt?: number | undefined;
  resumeAt?: number | undefined;
  quotaScope?: Classification['quotaScope'] | undefined;
}

/** Builds the final classification: default retryability, a clean message, no `undefined` fields. */
export function finish(d: Draft): Classification {
  const c: Classification = { kind: d.kind, retryable: RETRYABLE_BY_DEFAULT.has(d.kind), message: cleanMessage(d.rawMessage) || d.kind };
  if (d.status !== undefined) c.status = d.status;
  if (d.code !== undefined && d.code !== '') c.code = cleanMessage(d.code).slice(0, 100);
  if (d.retryAfterMs !== undefined) c.retryAfterMs = d.retryAfterMs;
  if (d.resetAt !== undefined) c.resetAt = d.resetAt;
  if (d.resumeAt !== undefined && d.kind === 'quota_exhausted') c.resumeAt = d.resumeAt;
  if (d.quotaScope !== undefined) c.quotaScope = d.quotaScope;
  if (d.provider !== undefined) c.provider = d.provider;
  return c;
}

function recognise(f: HttpFailure, provider: ProviderName | undefined): Verdict | undefined {
  const first = provider === undefined ? undefined : FIRST[provider];
  const order = first ? [first, ...AUTO_ORDER.filter((c) => c !== first)] : AUTO_ORDER;
  for (const classifier of order) {
    const verdict = classifier(f);
    if (verdict) return verdict;
  }
  return undefined;
}

function fallbackMessage(f: HttpFailure): string {
  if (f.text.length > 0 || f.body === undefined) return bodySnippetMessage(f.status, f.text);
  let json = '';
  try {
    json = JSON.stringify(f.body) ?? '';
  } catch {
    json = '';
  }
  return bodySnippetMessage(f.status, json);
}

/** `retry-after-ms` (OpenAI, Azure; more precise) then `retry-after` (seconds or HTTP-date). */
function headerWait(headers: HeaderMap, now: number): number | undefined {
  return parseRetryAfterMs(headers.get('retry-after-ms')) ?? parseRetryAfter(headers.get('retry-after'), now);
}

/** Reset header families: a window's reset counts only when that window is exhausted. */
const WINDOWS: readonly (readonly [remaining: string, reset: string])[] = [
  ['x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'],
  ['x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'],
  ['anthropic-ratelimit-requests-remaining', 'anthropic-ratelimit-requests-reset'],
  ['anthropic-ratelimit-tokens-remaining', 'anthropic-ratelimit-tokens-reset'],
  ['anthropic-ratelimit-input-tokens-remaining', 'anthropic-ratelimit-input-tokens-reset'],
  ['anthropic-ratelimit-output-tokens-remaining', 'anthropic-ratelimit-output-tokens-reset'],
  ['x-ratelimit-remaining', 'x-ratelimit-reset'],
  ['ratelimit-remaining', 'ratelimit-reset'],
];

/**
 * When the exhausted limit resets (ms since epoch): the latest reset among windows whose remaining
 * is 0. A bare `x-ratelimit-reset` without a remaining count counts too (OpenRouter, many gateways);
 * an epoch there (`1767225600`) is a time, not a wait.
 */
function headerReset(headers: HeaderMap, now: number): number | undefined {
  let latest: number | undefined;
  for (const [remainingName, resetName] of WINDOWS) {
    const remaining = headers.get(remainingName);
    if (remaining !== undefined && Number(remaining.trim()) !== 0) continue;
    if (remaining === undefined && resetName !== 'x-ratelimit-reset') continue;
    const at = parseResetTime(headers.get(resetName), now);
    if (at !== undefined && (latest === undefined || at > latest)) latest = at;
  }
  return latest;
}

function quotaScopeFor(status: number | undefined): Classification['quotaScope'] {
  return status === 402 ? 'billing' : 'unknown';
}
