import { secondsText } from '../format.js';
import type { Rejection } from '../key-state.js';
import { bearer } from './openai.js';
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

const QUOTA_MESSAGE =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.';

/** The Gemini API's 429: QuotaFailure naming a per-minute or per-day quota, Help, and RetryInfo when hinting. */
function geminiQuota(r: Rejection, model: string, hint: boolean): Reply {
  const [metric, id] = QUOTA_IDS[r.kind];
  const details: unknown[] = [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [{ quotaMetric: metric, quotaId: id, quotaDimensions: { location: 'global', model }, quotaValue: String(r.limit) }],
    },
    { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
  ];
  let message = `${QUOTA_MESSAGE}\n* Quota exceeded for metric: ${metric}, limit: ${r.limit}, model: ${model}`;
  if (hint) {
    details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: secondsText(r.retryAfterMs) });
    message += `\nPlease retry in ${secondsText(r.retryAfterMs)}.`;
  }
  return googleError(429, 'RESOURCE_EXHAUSTED', message, details);
}

const common = {
  successHeaders: JSON_UTF8,
  invalidJson: () => googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unexpected token.'),
  badRequest: (message: string) => googleError(400, 'INVALID_ARGUMENT', message),
  tooLarge: () => googleError(413, 'FAILED_PRECONDITION', 'Request payload size exceeds the limit.'),
  notFound: () => googleError(404, 'NOT_FOUND', 'Requested entity was not found.'),
  overloaded: () => googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
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
  // The real API answers an invalid key with 400 INVALID_ARGUMENT and ErrorInfo reason API_KEY_INVALID.
  invalidKey: () =>
    googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
    ]),
  missingField: (field) => googleError(400, 'INVALID_ARGUMENT', `* GenerateContentRequest.${field}: ${field} is not specified\n`),
  rateLimited: ({ rejection, hint }, ctx) => geminiQuota(rejection, ctx.model, hint),
  quotaExhausted: (ctx) => geminiQuota({ kind: 'day', limit: 0, used: 0, requested: 1, retryAfterMs: 0 }, ctx.model, false),
};

/** Vertex AI (aiplatform.googleapis.com): OAuth `Bearer` token, 401 UNAUTHENTICATED, 429 without details. */
export const vertexDialect: Dialect = {
  ...common,
  provider: 'vertex',
  credential: (headers) => bearer(headers),
  missingKey: () => vertexUnauthenticated(),
  invalidKey: () => vertexUnauthenticated(),
  missingField: (field) => googleError(400, 'INVALID_ARGUMENT', `Unable to submit request because it is missing a required field: ${field}.`),
  rateLimited: () =>
    googleError(
      429,
      'RESOURCE_EXHAUSTED',
      'Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.',
    ),
  quotaExhausted: (ctx) =>
    googleError(429, 'RESOURCE_EXHAUSTED', `Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_day_per_project_per_base_model with base model: ${ctx.model}. Please submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.`),
};

function vertexUnauthenticated(): Reply {
  return googleError(
    401,
    'UNAUTHENTICATED',
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
  );
}
