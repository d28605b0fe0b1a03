import type { ProviderAdapter } from '../provider/types.js';
import type { SluiceConfig } from './options.js';

type Payload = Record<string, unknown>;

/**
 * Turns a templated item (`{ prompt, ... }`, what CSV rows and JSONL template lines become) into the
 * provider's request body, and fills the model and max output tokens when the item does not set them.
 * A payload that already has `messages` / `input` / `contents` is left as the user wrote it.
 */
export function shapePayload(provider: SluiceConfig['provider'], payload: Payload, config: Pick<SluiceConfig, 'model' | 'maxOutputTokens'>): Payload {
  const { provider: _p, prompt, ...rest } = payload;
  const body: Payload = { ...rest };
  if (config.model !== undefined && body.model === undefined) body.model = config.model;
  const text = typeof prompt === 'string' ? prompt : undefined;
  switch (provider) {
    case 'anthropic':
      if (text !== undefined && body.messages === undefined) body.messages = [{ role: 'user', content: text }];
      if (body.max_tokens === undefined) body.max_tokens = config.maxOutputTokens;
      return body;
    case 'gemini':
      if (text !== undefined && body.contents === undefined) body.contents = [{ role: 'user', parts: [{ text }] }];
      return body;
    default:
      if (text !== undefined && body.messages === undefined && body.input === undefined) body.messages = [{ role: 'user', content: text }];
      if (body.max_tokens === undefined && body.max_completion_tokens === undefined && body.input === undefined) {
        body.max_tokens = config.maxOutputTokens;
      }
      return body;
  }
}

/** Wraps an adapter so every payload is shaped by {@link shapePayload} first. */
export function shapingAdapter(
  adapter: ProviderAdapter<Payload, unknown>,
  provider: SluiceConfig['provider'],
  config: Pick<SluiceConfig, 'model' | 'maxOutputTokens'>,
): ProviderAdapter<Payload, unknown> {
  const shape = (p: Payload): Payload => shapePayload(provider, p, config);
  const estimate = adapter.estimateTokens?.bind(adapter);
  return {
    name: adapter.name,
    call: (payload, ctx) => adapter.call(shape(payload), ctx),
    ...(estimate ? { estimateTokens: (payload: Payload) => estimate(shape(payload)) } : {}),
  };
}
