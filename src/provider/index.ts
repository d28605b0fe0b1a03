/**
 * Provider adapters and the factory the CLI config uses.
 * @packageDocumentation
 */
import { anthropicAdapter, type AnthropicOptions } from './anthropic.js';
import { azureOpenAIAdapter, type AzureOpenAIOptions } from './azure-openai.js';
import { geminiAdapter, type GeminiOptions } from './gemini.js';
import { openAICompatibleAdapter, type OpenAICompatibleOptions } from './openai-compatible.js';
import type { ProviderAdapter } from './types.js';
import { veoAdapter, type VeoOptions } from './veo.js';

export * from './types.js';
export { HttpClient, defaultHttpClient } from './http.js';
export type { HttpClientOptions, HttpRequest, RawResponse, JsonResponse } from './http.js';
export { openAICompatibleAdapter, OPENAI_OPERATIONS, openAIUsage } from './openai-compatible.js';
export type { OpenAICompatibleOptions, OpenAIOperation, OpenAIPayload, OpenAIResult, OpenAIAuth } from './openai-compatible.js';
export { azureOpenAIAdapter } from './azure-openai.js';
export type { AzureOpenAIOptions } from './azure-openai.js';
export { anthropicAdapter, anthropicUsage } from './anthropic.js';
export type { AnthropicOptions, AnthropicPayload, AnthropicResult } from './anthropic.js';
export { geminiAdapter, geminiBlockReason, geminiUsage, GEMINI_OPERATIONS } from './gemini.js';
export type { GeminiOptions, GeminiOperation, GeminiPayload, GeminiResult } from './gemini.js';
export type { GoogleEndpointOptions } from './google-endpoint.js';
export { veoAdapter, veoPollDelays } from './veo.js';
export type { VeoOptions, VeoPollOptions, VeoPayload, VeoResult, VeoVideo } from './veo.js';
export { functionAdapter, keyedClients, sdkStreamFailure } from './function.js';
export { resultFailure } from './sdk-result.js';
export { answerText } from './answer-text.js';
export type { FunctionAdapterOptions } from './function.js';
export type { AdapterBaseOptions } from './common.js';

/** Provider families {@link createProvider} builds. */
export const PROVIDER_TYPES = ['openai', 'openai-compatible', 'azure', 'anthropic', 'gemini', 'vertex', 'veo'] as const;

/** The config of one provider, as the CLI config file gives it: a `type` plus that adapter's options. */
export type ProviderConfig =
  | ({ type: 'openai' | 'openai-compatible' } & OpenAICompatibleOptions)
  | ({ type: 'azure' } & AzureOpenAIOptions)
  | ({ type: 'anthropic' } & AnthropicOptions)
  | ({ type: 'gemini' | 'vertex' } & Omit<GeminiOptions, 'backend'>)
  | ({ type: 'veo' } & VeoOptions);

/**
 * Builds the adapter a config names. `openai` without `baseUrl` targets api.openai.com;
 * `openai-compatible` requires a `baseUrl`; `vertex` is the Gemini adapter on Vertex AI.
 * Throws `TypeError` naming the field on bad options.
 */
export function createProvider(config: ProviderConfig): ProviderAdapter<Record<string, unknown>, unknown> {
  if (typeof config !== 'object' || config === null) throw new TypeError('provider config must be an object');
  switch (config.type) {
    case 'openai':
      return openAICompatibleAdapter(config);
    case 'openai-compatible':
      if (!config.baseUrl) throw new TypeError('provider.baseUrl is required for type "openai-compatible"');
      return openAICompatibleAdapter({ provider: 'openai-compatible', ...config });
    case 'azure':
      return azureOpenAIAdapter(config);
    case 'anthropic':
      return anthropicAdapter(config);
    case 'gemini':
      return geminiAdapter({ ...config, backend: 'gemini' });
    case 'vertex':
      return geminiAdapter({ ...config, backend: 'vertex' });
    case 'veo':
      return veoAdapter(config);
    default: {
      const type: unknown = (config as { type?: unknown }).type;
      throw new TypeError(`provider.type must be one of ${PROVIDER_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
    }
  }
}
