import type { IncomingHttpHeaders } from 'node:http';
import { ceilSeconds, rfc3339 } from '../format.js';
import type { LimitStatus } from '../simulated-key.js';
import { ANTHROPIC_ACCOUNT_RATE_LIMIT, ANTHROPIC_CREDIT_BALANCE_TOO_LOW, ANTHROPIC_OVERLOADED, ANTHROPIC_SERVER_ERROR } from './samples.js';
import { jsonReply, type Dialect, type Reply } from './types.js';

let requestCounter = 0;

/** Anthropic's error envelope: `{"type":"error","error":{"type","message"},"request_id"}` plus a `request-id` header. */
export function anthropicError(status: number, type: string, message: string, headers: Record<string, string> = {}): Reply {
  const id = `req_sim${String(++requestCounter).padStart(12, '0')}`;
  return jsonReply(status, { type: 'error', error: { type, message }, request_id: id }, { 'request-id': id, ...headers });
}

const UNITS = { requests: 'requests per minute', tokens: 'input tokens per minute', day: 'requests per day', concurrency: 'concurrent requests' } as const;

/** The organization id the simulated messages name (the real ones name the caller's). */
const ORGANIZATION = '00000000-0000-4000-8000-000000000000';

/** Sent on retryable errors: the `@anthropic-ai/sdk` obeys it (when its own retries are on). */
const SHOULD_RETRY = { 'x-should-retry': 'true' };

/** A corpus body sent as is, with a fresh `request-id` header. */
function sampleReply(status: number, body: string, headers: Record<string, string> = {}): Reply {
  const id = `req_sim${String(++requestCounter).padStart(12, '0')}`;
  return { status, headers: { 'request-id': id, ...headers }, body };
}

/** Anthropic Messages API conventions: `x-api-key`, `anthropic-version`, `anthropic-ratelimit-*`, 529 overloaded. */
export const anthropicDialect: Dialect = {
  provider: 'anthropic',
  credential: (headers) => {
    const key = headers['x-api-key'];
    return typeof key === 'string' && key.length > 0 ? key : undefined;
  },
  checkRequest: (headers: IncomingHttpHeaders) =>
    typeof headers['anthropic-version'] === 'string' && headers['anthropic-version'].length > 0
      ? undefined
      : anthropicError(400, 'invalid_request_error', 'anthropic-version: header is required'),
  missingKey: () => anthropicError(401, 'authentication_error', 'x-api-key header is required'),
  invalidKey: () => anthropicError(401, 'authentication_error', 'invalid x-api-key'),
  invalidJson: () => anthropicError(400, 'invalid_request_error', 'There was an issue with the format of your request: Request body is not valid JSON'),
  missingField: (field) => anthropicError(400, 'invalid_request_error', `${field}: Field required`),
  badRequest: (message) => anthropicError(400, 'invalid_request_error', message),
  tooLarge: () => anthropicError(413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.'),
  notFound: () => anthropicError(404, 'not_found_error', 'Not found'),
  rateLimited: ({ rejection: r, hint }) => {
    // Without a hint: the bare account-level 429 that states no limit and no wait (corpus anthropic-429-account-rate-limit-cc45257).
    if (!hint) return sampleReply(429, ANTHROPIC_ACCOUNT_RATE_LIMIT, SHOULD_RETRY);
    // The wording of corpus anthropic-429-input-tokens-per-minute-org, with this key's limit.
    const message = `This request would exceed the rate limit for your organization (${ORGANIZATION}) of ${r.limit.toLocaleString('en-US')} ${UNITS[r.kind]}. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.`;
    return anthropicError(429, 'rate_limit_error', message, { 'retry-after': String(ceilSeconds(r.retryAfterMs)), ...SHOULD_RETRY });
  },
  // Anthropic has no per-day quota: an empty prepaid balance is a 400 (corpus anthropic-400-credit-balance-too-low-request-id).
  quotaExhausted: () => sampleReply(400, ANTHROPIC_CREDIT_BALANCE_TOO_LOW),
  // 529: corpus anthropic-529-overloaded-error. Anthropic documents no 503; a proxy's would say "Service unavailable".
  overloaded: (status) => (status === 529 ? sampleReply(529, ANTHROPIC_OVERLOADED, SHOULD_RETRY) : anthropicError(503, 'api_error', 'Service unavailable', SHOULD_RETRY)),
  // Corpus anthropic-500-api-error-cc61368.
  serverError: () => sampleReply(500, ANTHROPIC_SERVER_ERROR, SHOULD_RETRY),
  limitHeaders: (status, now) => anthropicLimitHeaders(status, now),
};

/**
 * `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}` with RFC 3339 resets,
 * the families the rate-limits page documents. The simulator keeps one token window (input plus requested output),
 * so the token families report that window.
 */
function anthropicLimitHeaders(status: LimitStatus, now: number): Record<string, string> {
  const h: Record<string, string> = {};
  const put = (name: string, w: { limit: number; remaining: number; resetMs: number }): void => {
    h[`anthropic-ratelimit-${name}-limit`] = String(w.limit);
    h[`anthropic-ratelimit-${name}-remaining`] = String(w.remaining);
    h[`anthropic-ratelimit-${name}-reset`] = rfc3339(now + w.resetMs);
  };
  if (status.requests) put('requests', status.requests);
  if (status.tokens) {
    put('tokens', status.tokens);
    put('input-tokens', status.tokens);
    put('output-tokens', status.tokens);
  }
  return h;
}
