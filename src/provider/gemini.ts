import { systemClock } from '../clock/system-clock.js';
import { count, estimateBodyTokens, headerRecord, payloadObject, prop, requiredString, type AdapterBaseOptions } from './common.js';
import { googleEndpoint, type GoogleEndpointOptions } from './google-endpoint.js';
import { adapterFailure, defaultHttpClient, type FailureContext } from './http.js';
import { geminiBlockReason } from './sdk-result.js';
import type { CallContext, ProviderAdapter, ProviderResponse, Usage } from './types.js';

export { geminiBlockReason } from './sdk-result.js';

/** The Gemini methods the adapter speaks. */
export const GEMINI_OPERATIONS = ['generateContent', 'embedContent'] as const;
/** One of {@link GEMINI_OPERATIONS}. */
export type GeminiOperation = (typeof GEMINI_OPERATIONS)[number];

/** A request body (`contents`, `generationConfig`, ...; for embedContent `content`). A `model` field picks the model per job and is not sent. */
export type GeminiPayload = Record<string, unknown>;
/** The parsed answer (`GenerateContentResponse` or `EmbedContentResponse`). */
export type GeminiResult = Record<string, unknown>;

/** Options of {@link geminiAdapter}. */
export interface GeminiOptions extends Omit<AdapterBaseOptions<GeminiPayload>, 'baseUrl'>, GoogleEndpointOptions {
  /** Model used when the payload has no `model` field, e.g. `gemini-2.5-flash`. */
  model?: string;
  /** Default `generateContent`. */
  operation?: GeminiOperation;
}

/**
 * An adapter for the Gemini API and Vertex AI: `models/{model}:generateContent` or `:embedContent`.
 * A prompt blocked by safety settings (`promptFeedback.blockReason`) or an answer whose every candidate
 * stopped for SAFETY / PROHIBITED_CONTENT / RECITATION... fails as `content_filtered` (never retried).
 */
export function geminiAdapter(options: GeminiOptions = {}): ProviderAdapter<GeminiPayload, GeminiResult> {
  const family = options.backend === 'vertex' ? 'vertex' : 'gemini';
  const endpoint = googleEndpoint(family, options);
  const operation = options.operation ?? 'generateContent';
  if (!GEMINI_OPERATIONS.includes(operation)) {
    throw new TypeError(`${family}.operation must be one of ${GEMINI_OPERATIONS.join(', ')}, got ${JSON.stringify(operation)}`);
  }
  if (options.model !== undefined) requiredString(`${family}.model`, options.model);
  const name = options.name ?? family;
  const clock = options.clock ?? systemClock;
  const extra = headerRecord(`${family}.headers`, options.headers);
  return {
    name,
    async call(payload: GeminiPayload, ctx: CallContext): Promise<ProviderResponse<GeminiResult>> {
      const { model: payloadModel, ...body } = payloadObject(name, payload);
      const model = typeof payloadModel === 'string' && payloadModel !== '' ? payloadModel : options.model;
      if (!model) throw new TypeError(`${name}: no model (set ${family}.model or a \`model\` field in the payload)`);
      const fail: FailureContext = { provider: family, adapter: name, secrets: [ctx.key.secret], clock };
      const res = await (options.http ?? defaultHttpClient()).json<GeminiResult>(
        { method: 'POST', url: endpoint.modelUrl(model, operation), headers: { ...extra, ...endpoint.authHeaders(ctx.key.secret) }, json: body, signal: ctx.signal },
        fail,
      );
      if (operation === 'generateContent') {
        const blocked = geminiBlockReason(res.body);
        if (blocked) {
          throw adapterFailure(
            { kind: 'content_filtered', retryable: false, status: res.status, code: blocked, message: `${name}: blocked by safety filters (${blocked})` },
            fail,
            res.rateLimit,
          );
        }
      }
      const u = geminiUsage(res.body);
      return { result: res.body, status: res.status, ...(u ? { usage: u } : {}), ...(res.rateLimit ? { rateLimit: res.rateLimit } : {}) };
    },
    estimateTokens:
      options.estimateTokens ?? ((payload: GeminiPayload) => estimateBodyTokens(payload, ['generationConfig.maxOutputTokens', 'config.maxOutputTokens'])),
  };
}

/** `usageMetadata.promptTokenCount` and `candidatesTokenCount + thoughtsTokenCount`. */
export function geminiUsage(body: unknown): Usage | undefined {
  const u = prop(body, 'usageMetadata');
  if (typeof u !== 'object' || u === null) return undefined;
  return {
    inputTokens: count(prop(u, 'promptTokenCount')),
    outputTokens: count(prop(u, 'candidatesTokenCount')) + count(prop(u, 'thoughtsTokenCount')),
  };
}
