import { secondsText } from '../format.js';
import type { Rejection } from '../simulated-key.js';
import { bearer } from './openai.js';
import { GEMINI_API_KEY_INVALID, GEMINI_DAILY_QUOTA, GEMINI_OVERLOADED, GEMINI_QUOTA_MESSAGE, VERTEX_DAILY_QUOTA, VERTEX_MINUTE_QUOTA_MESSAGE } from './samples.js';
import type { Dialect, Reply } from './types.js';

const JSON_UTF8 = { 'content-type': 'application/json; charset=UTF-8' };

/**
 * google.rpc.Status as Google APIs send it: `{"error":{"code","message","status","details"?}}`, indented by two
 * spaces with a final newline, byte for byte as the Google front end writes it (and as SDKs that wrap it as text show it).
 */
export function googleError(code: number, status: string, message: string, details?: unknown[]): Reply {
  const error: Record<string, unknown> = { code, message, status };
  if (details) error['details'] = details;
  return { status: code, headers: JSON_UTF8, body: `${JSON.stringify({ error }, null, 2)}\n` };
}

const QUOTA_IDS: Record<Rejection['kind'], [metric: string, id: string]> = {
  requests: ['generativelanguage.googleapis.com/generate_content_requests', 'GenerateRequestsPerMinutePerProjectPerModel'],
  concurrency: ['generativelanguage.googleapis.com/generate_content_requests', 'GenerateRequestsPerMinutePerProjectPerModel'],
  tokens: ['generativelanguage.googleapis.com/generate_content_input_token_count', 'GenerateContentInputTokensPerModelPerMinute'],
  day: ['generativelanguage.googleapis.com/generate_content_requests_per_day', 'GenerateRequestsPerDayPerProjectPerModel'],
};

/**
 * The Gemini API's 429 in the shape of corpus gemini-429-minute-input-tokens-retryinfo-26s-genai-stream:
 * its message, QuotaFailure naming the per-minute (or per-day) quota with this key's limit, Help, and RetryInfo
 * when hinting.
 */
function geminiQuota(r: Rejection, model: string, hint: boolean): Reply {
  const [metric, id] = QUOTA_IDS[r.kind];
  const details: unknown[] = [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [{ quotaMetric: metric, quotaId: id, quotaDimensions: { location: 'global', model }, quotaValue: String(r.limit) }],
    },
    { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
  ];
  if (hint) details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: secondsText(r.retryAfterMs) });
  return googleError(429, 'RESOURCE_EXHAUSTED', GEMINI_QUOTA_MESSAGE, details);
}

const common = {
  successHeaders: JSON_UTF8,
  invalidJson: () => googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unexpected token.'),
  badRequest: (message: string) => googleError(400, 'INVALID_ARGUMENT', message),
  tooLarge: () => googleError(413, 'FAILED_PRECONDITION', 'Request payload size exceeds the limit.'),
  notFound: () => googleError(404, 'NOT_FOUND', 'Requested entity was not found.'),
  // Corpus gemini-503-model-overloaded-genai-stream, byte for byte.
  overloaded: () => ({ status: 503, headers: JSON_UTF8, body: GEMINI_OVERLOADED }),
  serverError: () =>
    googleError(500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'),
  // Google sends no rate-limit headers: clients learn only from 429s.
  limitHeaders: () => ({}),
};

/** The Gemini API (generativelanguage.googleapis.com): key in `x-goog-api-key` or `?key=`. */
export const geminiDialect: Dialect = {
  ...common,
  provider: 'gemini',
  credential: (headers, query) => {
    const h = headers['x-goog-api-key'];
    if (typeof h === 'string' && h.length > 0) return h;
    const q = query?.get('key');
    return q ? q : undefined;
  },
  missingKey: () =>
    googleError(
      403,
      'PERMISSION_DENIED',
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    ),
  // The real API answers an invalid key with 400 INVALID_ARGUMENT, ErrorInfo API_KEY_INVALID (corpus gemini-400-api-key-invalid-pretty).
  invalidKey: () => ({ status: 400, headers: JSON_UTF8, body: GEMINI_API_KEY_INVALID }),
  missingField: (field) => googleError(400, 'INVALID_ARGUMENT', `* GenerateContentRequest.${field}: ${field} is not specified\n`),
  rateLimited: ({ rejection, hint }, ctx) => geminiQuota(rejection, ctx.model, hint),
  // A spent daily (free-tier) quota: only a Help detail, no QuotaFailure, no RetryInfo (corpus gemini-429-help-only-exceeded-quota-genai-stream).
  quotaExhausted: () => ({ status: 429, headers: JSON_UTF8, body: GEMINI_DAILY_QUOTA }),
};

/** Vertex AI (aiplatform.googleapis.com): OAuth `Bearer` token, 401 UNAUTHENTICATED, 429 without details. */
export const vertexDialect: Dialect = {
  ...common,
  provider: 'vertex',
  credential: (headers) => bearer(headers),
  missingKey: () => vertexUnauthenticated(),
  invalidKey: () => vertexUnauthenticated(),
  missingField: (field) => googleError(400, 'INVALID_ARGUMENT', `Unable to submit request because it is missing a required field: ${field}.`),
  // This key's per-minute quota (corpus vertex-429-quota-exceeded-per-minute-per-base-model-grpc). Vertex's "Resource
  // exhausted. Please try again later." is the shared pool out of capacity, not this key's limit.
  rateLimited: (_r, ctx) => googleError(429, 'RESOURCE_EXHAUSTED', VERTEX_MINUTE_QUOTA_MESSAGE.replace('{model}', ctx.model)),
  // A per-day quota (corpus codeassist-429-gemini-25-pro-requests-per-day, byte for byte).
  quotaExhausted: () => ({ status: 429, headers: JSON_UTF8, body: VERTEX_DAILY_QUOTA }),
};

function vertexUnauthenticated(): Reply {
  return googleError(
    401,
    'UNAUTHENTICATED',
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
  );
}
