import type { IncomingHttpHeaders } from 'node:http';
import { ceilSeconds, goDuration } from '../format.js';
import type { LimitStatus } from '../simulated-key.js';
import { OPENAI_INSUFFICIENT_QUOTA, OPENAI_SERVER_ERROR } from './samples.js';
import { jsonReply, type Dialect, type ErrorContext, type RateLimited, type Reply } from './types.js';

/** OpenAI's error object: `{"error":{"message","type","param","code"}}`. */
export function openaiError(status: number, message: string, type: string, param: string | null, code: string | null, headers?: Record<string, string>): Reply {
  return jsonReply(status, { error: { message, type, param, code } }, headers);
}

const RATE_UNITS = {
  requests: 'requests per min (RPM)',
  tokens: 'tokens per min (TPM)',
  day: 'requests per day (RPD)',
  concurrency: 'concurrent requests',
} as const;

/** Reads `Authorization: Bearer <key>`. */
export function bearer(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth === undefined || !auth.startsWith('Bearer ')) return undefined;
  const key = auth.slice(7).trim();
  return key.length > 0 ? key : undefined;
}

/** The OpenAI API's conventions (also used by every OpenAI-compatible server). */
export const openaiDialect: Dialect = {
  provider: 'openai',
  credential: (headers) => bearer(headers),
  missingKey: () =>
    openaiError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
      'invalid_request_error',
      null,
      null,
    ),
  // The real message echoes a masked key (corpus openai-401-incorrect-api-key-continue: `sk-proj-****...MxYA`);
  // the simulator masks all of it, so no secret can leak.
  invalidKey: () =>
    openaiError(
      401,
      'Incorrect API key provided: ********. You can find your API key at https://platform.openai.com/account/api-keys.',
      'invalid_request_error',
      null,
      'invalid_api_key',
    ),
  invalidJson: () =>
    openaiError(
      400,
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
      'invalid_request_error',
      null,
      null,
    ),
  missingField: (field) =>
    openaiError(400, `Missing required parameter: '${field}'.`, 'invalid_request_error', field, 'missing_required_parameter'),
  badRequest: (message) => openaiError(400, message, 'invalid_request_error', null, null),
  tooLarge: () => openaiError(413, 'Request too large: the request body exceeds the maximum allowed size.', 'invalid_request_error', null, 'request_too_large'),
  notFound: () => openaiError(404, 'Invalid URL (POST /v1/unknown)', 'invalid_request_error', null, null),
  rateLimited: (r, ctx) => openaiRateLimited(r, ctx),
  // Corpus sample openai-429-insufficient-quota-migpt, byte for byte.
  quotaExhausted: () => ({ status: 429, headers: {}, body: OPENAI_INSUFFICIENT_QUOTA }),
  overloaded: () =>
    openaiError(503, 'The server is overloaded or not ready yet.', 'server_error', null, null),
  // Corpus sample openai-500-server-error-had-an-error, byte for byte.
  serverError: () => ({ status: 500, headers: {}, body: OPENAI_SERVER_ERROR }),
  limitHeaders: (status) => openaiLimitHeaders(status),
};

function openaiRateLimited({ rejection: r, hint }: RateLimited, ctx: ErrorContext): Reply {
  if (r.kind === 'tokens' && r.requested > r.limit) {
    // Waiting cannot help: OpenAI says so in the message and gives no wait.
    const message = `Request too large for ${ctx.model} in organization org-sluicesim on ${RATE_UNITS.tokens}: Limit ${r.limit}, Requested ${r.requested}. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`;
    return openaiError(429, message, 'tokens', null, 'rate_limit_exceeded');
  }
  // Wording and Go-style wait ("644ms", "7m12s", "8.64s") of corpus openai-429-tpm-try-again-644ms and
  // openai-stream-requests-per-day-7m12s-codex.
  const wait = hint ? ` Please try again in ${goDuration(r.retryAfterMs)}.` : '';
  const message = `Rate limit reached for ${ctx.model} in organization org-sluicesim on ${RATE_UNITS[r.kind]}: Limit ${r.limit}, Used ${Math.ceil(r.used)}, Requested ${r.requested}.${wait} Visit https://platform.openai.com/account/rate-limits to learn more.`;
  // `retry-after` only: `retry-after-ms` is Azure's header (its dialect adds it), not OpenAI's.
  const headers: Record<string, string> = hint ? { 'retry-after': String(ceilSeconds(r.retryAfterMs)) } : {};
  return openaiError(429, message, r.kind === 'tokens' ? 'tokens' : 'requests', null, 'rate_limit_exceeded', headers);
}

/** `x-ratelimit-limit-*`, `x-ratelimit-remaining-*`, `x-ratelimit-reset-*` (Go durations such as `6m0s`). */
export function openaiLimitHeaders(status: LimitStatus): Record<string, string> {
  const h: Record<string, string> = {};
  if (status.requests) {
    h['x-ratelimit-limit-requests'] = String(status.requests.limit);
    h['x-ratelimit-remaining-requests'] = String(status.requests.remaining);
    h['x-ratelimit-reset-requests'] = goDuration(status.requests.resetMs);
  }
  if (status.tokens) {
    h['x-ratelimit-limit-tokens'] = String(status.tokens.limit);
    h['x-ratelimit-remaining-tokens'] = String(status.tokens.remaining);
    h['x-ratelimit-reset-tokens'] = goDuration(status.tokens.resetMs);
  }
  return h;
}
