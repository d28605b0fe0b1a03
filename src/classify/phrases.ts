/**
 * Phrases providers use in messages when the status and code alone are ambiguous (a 429 that is really a
 * billing stop, a 400 that is really a bad key, a 429 that is the provider's shared capacity). Every
 * alternative names the corpus sample (test/fixtures/corpus) that has it; see {@link wordings}.
 */
import { wordings } from './evidence.js';

/** Billing / credit / spend-limit exhaustion: no retry on this key will work until someone pays. */
const BILLING = wordings('billing', [
  ['insufficient[_ ]quota', 'openai-429-insufficient-quota-migpt'],
  ['insufficient[_ ]balance', 'deepseek-402-insufficient-balance'],
  ['credit balance is too low', 'anthropic-400-credit-balance-too-low'],
  ['exceeded your current quota', 'openai-429-insufficient-quota-code-null'],
  ['specified api usage limits', 'anthropic-400-usage-limits-regain-2026-04-01'],
  ['used all available credits', 'xai-429-credits-or-monthly-spending-limit'],
  ['monthly spending limit', 'xai-403-credits-or-monthly-spending-limit-responses'],
  ['requires more credits', 'openrouter-402-requires-more-credits'],
  ['credit limit exceeded', 'together-402-credit-limit-exceeded'],
  ['maximum billing reached', 'cohere-402-maximum-billing-reached'],
  ['budget has been exceeded', 'litellm-400-budget-has-been-exceeded'],
  ['billing hard limit', 'openai-400-billing-hard-limit-reached-images'],
]);

/** Bad or missing credentials, in answers whose status does not say so (xAI sends them as a 400). */
const AUTH = wordings('bad credentials', [
  ['incorrect(?: |%20)api(?: |%20)key', 'xai-400-incorrect-api-key-bare-string'],
  ['incorrect(?: |%20)api(?: |%20)key', 'xai-400-incorrect-api-key-urlencoded'],
  ['incorrect(?: |%20)api(?: |%20)key', 'openai-401-incorrect-api-key-continue'],
  ['api key not valid', 'gemini-400-api-key-invalid-pretty'],
  ['invalid api token', 'cohere-401-invalid-api-token'],
  ['no api key supplied', 'cohere-401-no-api-key-supplied'],
  ['api key has expired', 'cohere-401-api-key-expired'],
]);

/** Safety and content-policy blocks. */
const CONTENT = wordings('content policy', [
  ['content management policy', 'azure-400-content-filter-prompt-legacy'],
  ['responsibleaipolicyviolation', 'azure-400-content-filter-jailbreak-innererror'],
  ['flagged as potentially violating our usage policy', 'openai-400-invalid-prompt-flagged-usage-policy'],
  ['safety filter threshold', 'vertex-400-imagen-safety-filter-threshold'],
  ["responsible ai practices", 'veo-operation-error-responsible-ai-practices'],
]);

/** The provider's own capacity problem (retry later), as opposed to this caller's rate limit. */
const OVERLOADED = wordings('overloaded', [
  ['overloaded', 'azure-sse-overloaded-server-error-proxy22'],
  ['overloaded', 'gemini-503-model-overloaded-lobehub'],
  ['capacity exceeded', 'mistral-429-service-tier-capacity-exceeded'],
]);

/**
 * A 429 from capacity shared by every customer (a pay-as-you-go pool, an upstream provider behind a
 * gateway, peak-load shedding), not this key's own limit: waiting a little helps, cooling the key or
 * lowering its learned rate does not. Classified `overloaded`.
 */
const SHARED_CAPACITY = wordings('shared capacity', [
  ['high demand', 'pollinations-429-azure-high-demand-peak-load'],
  ['peak load', 'pollinations-429-azure-high-demand-peak-load'],
  ['temporarily rate-limited upstream', 'openrouter-429-temporarily-rate-limited-upstream-chutes'],
  ['resource exhausted\\. please try again later', 'vertex-429-dsq-resource-exhausted-try-again-later-continue'],
  ['resource exhausted\\. please try again later', 'vertex-429-dsq-resource-exhausted-try-again-later-codeassist'],
  ['no capacity available for model', 'codeassist-429-model-capacity-exhausted'],
]);

export function mentionsBilling(text: string): boolean {
  return BILLING.test(text);
}
export function mentionsAuth(text: string): boolean {
  return AUTH.test(text);
}
export function mentionsContentPolicy(text: string): boolean {
  return CONTENT.test(text);
}
export function mentionsOverload(text: string): boolean {
  return OVERLOADED.test(text);
}
export function mentionsSharedCapacity(text: string): boolean {
  return SHARED_CAPACITY.test(text);
}
