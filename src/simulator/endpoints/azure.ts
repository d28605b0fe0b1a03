import { azureDialect, azureV1Dialect } from '../dialects/azure.js';
import { AZURE_CONTENT_FILTER } from '../dialects/samples.js';
import type { Endpoint } from './types.js';
import { openaiEndpoints } from './openai.js';

/**
 * Azure OpenAI deployments: OpenAI bodies, Azure conventions. The deployment name is the model; `responses`
 * (`/openai/responses?api-version=`) takes the model from the body, as the `AzureOpenAI` client sends it.
 */
export function azureEndpoints(): Record<'chat' | 'embeddings' | 'images' | 'responses', Endpoint> {
  const all = azureFiltered(openaiEndpoints(azureDialect, 'azure'));
  // Azure takes the model from the deployment in the path, so `model` is not required in the body.
  const noModel = (e: Endpoint): Endpoint => ({ ...e, required: e.required.filter((f) => f !== 'model') });
  return { chat: noModel(all.chat), embeddings: noModel(all.embeddings), images: noModel(all.images), responses: all.responses };
}

/** Azure's own content filter answers a filtered prompt (corpus azure-400-content-filter-jailbreak-innererror). */
function azureFiltered<K extends string>(endpoints: Record<K, Endpoint>): Record<K, Endpoint> {
  const out = {} as Record<K, Endpoint>;
  for (const k of Object.keys(endpoints) as K[]) out[k] = { ...endpoints[k], filtered: () => ({ status: 400, headers: {}, body: AZURE_CONTENT_FILTER }) };
  return out;
}

/** Azure OpenAI's v1 API (`/openai/v1/chat/completions`, `/responses`, `/embeddings`, `/images/generations`): the model in the body. */
export function azureV1Endpoints(): Record<'chat' | 'embeddings' | 'images' | 'responses', Endpoint> {
  const all = azureFiltered(openaiEndpoints(azureV1Dialect, 'azure.v1'));
  return { chat: all.chat, embeddings: all.embeddings, images: all.images, responses: all.responses };
}
