import { azureDialect } from '../dialects/azure.js';
import type { Endpoint } from './types.js';
import { openaiEndpoints } from './openai.js';

/** Azure OpenAI deployments: OpenAI bodies, Azure conventions. The deployment name is the model. */
export function azureEndpoints(): Record<'chat' | 'embeddings' | 'images', Endpoint> {
  const all = openaiEndpoints(azureDialect, 'azure');
  // Azure takes the model from the deployment in the path, so `model` is not required in the body.
  const noModel = (e: Endpoint): Endpoint => ({ ...e, required: e.required.filter((f) => f !== 'model') });
  return { chat: noModel(all.chat), embeddings: noModel(all.embeddings), images: noModel(all.images) };
}
