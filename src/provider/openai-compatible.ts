import type { ProviderName } from '../classify/kinds.js';
import { systemClock } from '../clock/system-clock.js';
import {
  baseUrl as checkBaseUrl,
  estimateBodyTokens,
  headerRecord,
  payloadObject,
  prop,
  usage,
  type AdapterBaseOptions,
} from './common.js';
import { adapterFailure, defaultHttpClient, type FailureContext, type HttpClient } from './http.js';
import { allChoicesFiltered } from './sdk-result.js';
import type { CallContext, ProviderAdapter, ProviderResponse, Usage } from './types.js';

/** The OpenAI endpoints the adapter speaks. */
export const OPENAI_OPERATIONS = ['chat.completions', 'responses', 'embeddings', 'images.generations'] as const;
/** One of {@link OPENAI_OPERATIONS}. */
export type OpenAIOperation = (typeof OPENAI_OPERATIONS)[number];

/** A request body of the chosen operation, as the OpenAI API documents it (`model`, `messages`, ...). */
export type OpenAIPayload = Record<string, unknown>;
/** The parsed JSON answer (a chat completion, a response, an embedding list, an image list). */
export type OpenAIResult = Record<string, unknown>;

/** How the key is sent. */
export type OpenAIAuth = 'bearer' | 'api-key' | 'none';

/** Options of {@link openAICompatibleAdapter}. */
export interface OpenAICompatibleOptions extends AdapterBaseOptions<OpenAIPayload> {
  /** Default `chat.completions`. */
  operation?: OpenAIOperation;
  /** `bearer` (`Authorization: Bearer <key>`, default), `api-key` (Azure style header) or `none` (local servers). */
  auth?: OpenAIAuth;
  /**
   * Fail with `content_filtered` when every choice of a chat completion stopped with
   * `finish_reason: "content_filter"` (the answer is empty or cut). Default true.
   */
  failOnContentFilter?: boolean;
  /** Classifier family for error bodies. Default `openai-compatible` (`openai` for the default base URL). */
  provider?: ProviderName;
}

const PATHS: Record<OpenAIOperation, string> = {
  'chat.completions': '/chat/completions',
  responses: '/responses',
  embeddings: '/embeddings',
  'images.generations': '/images/generations',
};

const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/**
 * An adapter for the OpenAI API and every server speaking its wire format (Groq, Mistral, OpenRouter,
 * DeepSeek, xAI, vLLM, Ollama, LiteLLM...): set `baseUrl` to the server's `/v1` root. The payload is the
 * request body; the result is the parsed answer, with usage and the rate-limit snapshot of its headers.
 *
 * ```ts
 * const groq = openAICompatibleAdapter({ baseUrl: 'https://api.groq.com/openai/v1' });
 * await groq.call({ model: 'llama-3.1-8b-instant', messages: [{ role: 'user', content: 'hi' }] }, ctx);
 * ```
 */
export function openAICompatibleAdapter(options: OpenAICompatibleOptions = {}): ProviderAdapter<OpenAIPayload, OpenAIResult> {
  const root = checkBaseUrl('openai.baseUrl', options.baseUrl, OPENAI_BASE_URL);
  const operation = options.operation ?? 'chat.completions';
  if (!OPENAI_OPERATIONS.includes(operation)) {
    throw new TypeError(`openai.operation must be one of ${OPENAI_OPERATIONS.join(', ')}, got ${JSON.stringify(operation)}`);
  }
  const provider = options.provider ?? (root === OPENAI_BASE_URL ? 'openai' : 'openai-compatible');
  return openAIStyleAdapter({
    name: options.name ?? (provider === 'openai' ? 'openai' : 'openai-compatible'),
    provider,
    url: () => `${root}${PATHS[operation]}`,
    operation,
    auth: options.auth ?? 'bearer',
    headers: headerRecord('openai.headers', options.headers),
    failOnContentFilter: options.failOnContentFilter ?? true,
    options,
  });
}

/** What differs between the OpenAI-style adapters (plain, Azure). */
export interface OpenAIStyleSpec {
  name: string;
  provider: ProviderName;
  operation: OpenAIOperation;
  url: (payload: OpenAIPayload) => string;
  auth: OpenAIAuth;
  headers: Record<string, string>;
  failOnContentFilter: boolean;
  /** Fields removed from the payload before sending (Azure's `deployment` override). */
  stripFields?: readonly string[];
  options: AdapterBaseOptions<OpenAIPayload>;
}

/** Builds an adapter from an {@link OpenAIStyleSpec}. Exported for the Azure adapter. */
export function openAIStyleAdapter(spec: OpenAIStyleSpec): ProviderAdapter<OpenAIPayload, OpenAIResult> {
  const clock = spec.options.clock ?? systemClock;
  const http = (): HttpClient => spec.options.http ?? defaultHttpClient();
  return {
    name: spec.name,
    async call(payload: OpenAIPayload, ctx: CallContext): Promise<ProviderResponse<OpenAIResult>> {
      const body = payloadObject(spec.name, payload);
      const fail: FailureContext = { provider: spec.provider, adapter: spec.name, secrets: [ctx.key.secret], clock };
      const sent = spec.stripFields ? omit(body, spec.stripFields) : body;
      const res = await http().json<OpenAIResult>(
        { method: 'POST', url: spec.url(body), headers: { ...spec.headers, ...authHeaders(spec.auth, ctx.key.secret) }, json: sent, signal: ctx.signal },
        fail,
      );
      if (spec.failOnContentFilter && spec.operation === 'chat.completions' && allChoicesFiltered(res.body)) {
        throw adapterFailure(
          { kind: 'content_filtered', retryable: false, status: res.status, code: 'content_filter', message: `${spec.name}: every choice stopped with finish_reason "content_filter"` },
          fail,
          res.rateLimit,
        );
      }
      const u = openAIUsage(spec.operation, res.body);
      return { result: res.body, status: res.status, ...(u ? { usage: u } : {}), ...(res.rateLimit ? { rateLimit: res.rateLimit } : {}) };
    },
    estimateTokens:
      spec.options.estimateTokens ??
      ((payload: OpenAIPayload) => estimateBodyTokens(payload, ['max_completion_tokens', 'max_tokens', 'max_output_tokens'])),
  };
}

/** Usage fields of each operation (`prompt_tokens`/`completion_tokens` or `input_tokens`/`output_tokens`). */
export function openAIUsage(operation: OpenAIOperation, body: unknown): Usage | undefined {
  const u = prop(body, 'usage');
  if (u === undefined || u === null) return undefined;
  switch (operation) {
    case 'chat.completions':
      return usage(prop(u, 'prompt_tokens'), prop(u, 'completion_tokens'));
    case 'embeddings':
      return usage(prop(u, 'prompt_tokens'), 0);
    case 'responses':
    case 'images.generations':
      return usage(prop(u, 'input_tokens') ?? prop(u, 'prompt_tokens'), prop(u, 'output_tokens') ?? prop(u, 'completion_tokens'));
  }
}

/** The auth header for a key. */
export function authHeaders(auth: OpenAIAuth, secret: string): Record<string, string> {
  if (auth === 'bearer') return { authorization: `Bearer ${secret}` };
  if (auth === 'api-key') return { 'api-key': secret };
  return {};
}

function omit(body: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out = { ...body };
  for (const f of fields) delete out[f];
  return out;
}
