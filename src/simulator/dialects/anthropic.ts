import type { IncomingHttpHeaders } from 'node:http';
import { ceilSeconds, rfc3339 } from '../format.js';
import type { LimitStatus } from '../key-state.js';
import { jsonReply, type Dialect, type Reply } from './types.js';

let requestCounter = 0;

/** Anthropic's error envelope: `{"type":"error","error":{"type","message"},"request_id"}` plus a `request-id` header. */
export function anthropicError(status: number, type: string, message: string, headers: Record<string, string> = {}): Reply {
  const id = `req_sim${String(++requestCounter).padStart(12, '0')}`;
  return jsonReply(status, { type: 'error', error: { type, message }, request_id: id }, { 'request-id': id, ...headers });
}

const UNITS = { requests: 'requests per minute', tokens: 'tokens per minute', day: 'requests per day', concurrency: 'concurrent requests' } as const;

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
    const message = `This request would exceed your organization's rate limit of ${r.limit} ${UNITS[r.kind]}. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.`;
    return anthropicError(429, 'rate_limit_error', message, hint ? { 'retry-after': String(ceilSeconds(r.retryAfterMs)) } : {});
  },
  // Anthropic has no per-day quota: an empty prepaid balance is a 400.
  quotaExhausted: () =>
    anthropicError(400, 'invalid_request_error', 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.'),
  overloaded: (status) =>
    status === 529 ? anthropicError(529, 'overloaded_error', 'Overloaded') : anthropicError(503, 'api_error', 'Service unavailable'),
  serverError: () => anthropicError(500, 'api_error', 'Internal server error'),
  limitHeaders: (status, now) => anthropicLimitHeaders(status, now),
};

/** `anthropic-ratelimit-{requests,tokens,input-tokens}-{limit,remaining,reset}` with RFC 3339 resets. */
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
  }
  return h;
}
