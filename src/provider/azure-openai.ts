import { baseUrl as checkBaseUrl, headerRecord, requiredString, type AdapterBaseOptions } from './common.js';
import {
  OPENAI_OPERATIONS,
  openAIStyleAdapter,
  type OpenAIOperation,
  type OpenAIPayload,
  type OpenAIResult,
} from './openai-compatible.js';
import type { ProviderAdapter } from './types.js';

/** Options of {@link azureOpenAIAdapter}. */
export interface AzureOpenAIOptions extends Omit<AdapterBaseOptions<OpenAIPayload>, 'baseUrl'> {
  /** The resource endpoint, e.g. `https://my-resource.openai.azure.com`. */
  endpoint: string;
  /** Deployment name; a payload may override it with a `deployment` field (removed before sending). */
  deployment?: string;
  /** The `api-version` query parameter, e.g. `2024-10-21`. */
  apiVersion: string;
  /** Default `chat.completions`. `responses` goes to `/openai/responses` (the model is in the body). */
  operation?: OpenAIOperation;
  /** `api-key` header (default) or `bearer` for an Entra ID token used as the key's secret. */
  auth?: 'api-key' | 'bearer';
  /** See {@link OpenAICompatibleOptions.failOnContentFilter}. Default true. */
  failOnContentFilter?: boolean;
}

const DEPLOYMENT_PATHS: Record<Exclude<OpenAIOperation, 'responses'>, string> = {
  'chat.completions': '/chat/completions',
  embeddings: '/embeddings',
  'images.generations': '/images/generations',
};

/**
 * An adapter for Azure OpenAI: `{endpoint}/openai/deployments/{deployment}/{operation}?api-version=...`
 * with the key in the `api-key` header. Error bodies (content filter results, 429 texts with
 * "retry after N seconds") are classified with the `azure` rules.
 */
export function azureOpenAIAdapter(options: AzureOpenAIOptions): ProviderAdapter<OpenAIPayload, OpenAIResult> {
  const endpoint = checkBaseUrl('azure.endpoint', requiredString('azure.endpoint', options.endpoint), '');
  const apiVersion = encodeURIComponent(requiredString('azure.apiVersion', options.apiVersion));
  const operation = options.operation ?? 'chat.completions';
  if (!OPENAI_OPERATIONS.includes(operation)) {
    throw new TypeError(`azure.operation must be one of ${OPENAI_OPERATIONS.join(', ')}, got ${JSON.stringify(operation)}`);
  }
  if (options.deployment !== undefined) requiredString('azure.deployment', options.deployment);
  const url = (payload: OpenAIPayload): string => {
    if (operation === 'responses') return `${endpoint}/openai/responses?api-version=${apiVersion}`;
    const deployment = typeof payload.deployment === 'string' && payload.deployment !== '' ? payload.deployment : options.deployment;
    if (!deployment) throw new TypeError('azure: no deployment (set azure.deployment or a `deployment` field in the payload)');
    return `${endpoint}/openai/deployments/${encodeURIComponent(deployment)}${DEPLOYMENT_PATHS[operation]}?api-version=${apiVersion}`;
  };
  return openAIStyleAdapter({
    name: options.name ?? 'azure',
    provider: 'azure',
    operation,
    url,
    auth: options.auth ?? 'api-key',
    headers: headerRecord('azure.headers', options.headers),
    failOnContentFilter: options.failOnContentFilter ?? true,
    stripFields: ['deployment'],
    options,
  });
}
