import { ceilSeconds } from '../format.js';
import { bearer, openaiDialect } from './openai.js';
import { jsonReply, type Dialect, type Reply } from './types.js';

/** Azure's own error object: `{"error":{"code":"429","message":"..."}}` (code is a string). */
function azureError(status: number, message: string, headers?: Record<string, string>): Reply {
  return jsonReply(status, { error: { code: String(status), message } }, headers);
}

const INVALID_KEY =
  'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.';

/**
 * Azure OpenAI: `api-key` header (or an Entra `Bearer` token), Azure-shaped 401/429/404, and
 * OpenAI-shaped 400/500 bodies, as Azure forwards those from the model service.
 */
export const azureDialect: Dialect = {
  ...openaiDialect,
  provider: 'azure',
  credential: (headers) => {
    const key = headers['api-key'];
    if (typeof key === 'string' && key.length > 0) return key;
    return bearer(headers);
  },
  missingKey: () =>
    azureError(401, 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.'),
  invalidKey: () => azureError(401, INVALID_KEY),
  // Without `api-version` Azure does not find the resource at all.
  checkRequest: (_headers, query) => (query?.get('api-version') ? undefined : azureError(404, 'Resource not found')),
  notFound: () => azureError(404, 'Resource not found'),
  // The 2023-2025 wording (corpus azure-429-tpm-retry-after-86400s-dbchat for "token rate limit"; "call rate limit"
  // as litellm logged it, 2024-08), with Azure's `retry-after-ms` beside `retry-after`.
  rateLimited: ({ rejection: r, hint }, ctx) => {
    const what = r.kind === 'tokens' ? 'token rate limit' : r.kind === 'day' ? 'call quota' : 'call rate limit';
    const seconds = ceilSeconds(r.retryAfterMs);
    const wait = hint ? ` Please retry after ${seconds} second${seconds === 1 ? '' : 's'}.` : '';
    const message = `Requests to the ${ctx.operation} Operation under Azure OpenAI API version ${ctx.apiVersion ?? 'unknown'} have exceeded ${what} of your current OpenAI S0 pricing tier.${wait} Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`;
    const headers: Record<string, string> = hint ? { 'retry-after-ms': String(Math.ceil(r.retryAfterMs)), 'retry-after': String(seconds) } : {};
    return azureError(429, message, headers);
  },
  // A spent daily quota: the same 429 asking for a wait of a whole day (corpus azure-429-tpm-retry-after-86400s-dbchat).
  quotaExhausted: (ctx) =>
    azureError(
      429,
      `Requests to the ${ctx.operation} Operation under Azure OpenAI API version ${ctx.apiVersion ?? 'unknown'} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 86400 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`,
    ),
};

const { checkRequest: _deploymentApiVersion, ...withoutApiVersion } = azureDialect;

/**
 * Azure OpenAI's v1 API (`/openai/v1/...`, the OpenAI client with `baseURL: {endpoint}/openai/v1/`): the same keys
 * and error bodies, the model in the body, and no `api-version` needed.
 */
export const azureV1Dialect: Dialect = withoutApiVersion;
