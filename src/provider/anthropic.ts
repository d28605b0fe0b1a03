import { systemClock } from '../clock/system-clock.js';
import {
  baseUrl as checkBaseUrl,
  count,
  estimateBodyTokens,
  headerRecord,
  payloadObject,
  prop,
  type AdapterBaseOptions,
} from './common.js';
import { adapterFailure, defaultHttpClient, type FailureContext } from './http.js';
import { anthropicRefused } from './sdk-result.js';
import type { CallContext, ProviderAdapter, ProviderResponse, Usage } from './types.js';

/** A Messages API request body (`model`, `max_tokens`, `messages`, ...). */
export type AnthropicPayload = Record<string, unknown>;
/** The parsed Messages API answer. */
export type AnthropicResult = Record<string, unknown>;

/** Options of {@link anthropicAdapter}. */
export interface AnthropicOptions extends AdapterBaseOptions<AnthropicPayload> {
  /** The `anthropic-version` header. Default `2023-06-01`. */
  version?: string;
  /** `anthropic-beta` features, joined with commas. */
  betas?: string[];
  /** Fail with `content_filtered` when the model answers with `stop_reason: "refusal"`. Default true. */
  failOnRefusal?: boolean;
}

const ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

/**
 * An adapter for Anthropic's Messages API: `POST {baseUrl}/v1/messages` with `x-api-key` and
 * `anthropic-version`. Usage counts cache writes as input (they count against the input-token limit);
 * the `anthropic-ratelimit-*` headers become the rate-limit snapshot.
 */
export function anthropicAdapter(options: AnthropicOptions = {}): ProviderAdapter<AnthropicPayload, AnthropicResult> {
  const root = checkBaseUrl('anthropic.baseUrl', options.baseUrl, ANTHROPIC_BASE_URL);
  const name = options.name ?? 'anthropic';
  const clock = options.clock ?? systemClock;
  const fixed: Record<string, string> = {
    ...headerRecord('anthropic.headers', options.headers),
    'anthropic-version': options.version ?? '2023-06-01',
  };
  if (options.betas?.length) fixed['anthropic-beta'] = options.betas.join(',');
  const failOnRefusal = options.failOnRefusal ?? true;
  return {
    name,
    async call(payload: AnthropicPayload, ctx: CallContext): Promise<ProviderResponse<AnthropicResult>> {
      const body = payloadObject(name, payload);
      const fail: FailureContext = { provider: 'anthropic', adapter: name, secrets: [ctx.key.secret], clock };
      const res = await (options.http ?? defaultHttpClient()).json<AnthropicResult>(
        { method: 'POST', url: `${root}/v1/messages`, headers: { ...fixed, 'x-api-key': ctx.key.secret }, json: body, signal: ctx.signal },
        fail,
      );
      if (failOnRefusal && anthropicRefused(res.body)) {
        throw adapterFailure(
          { kind: 'content_filtered', retryable: false, status: res.status, code: 'refusal', message: `${name}: the model refused (stop_reason "refusal")` },
          fail,
          res.rateLimit,
        );
      }
      const u = anthropicUsage(res.body);
      return { result: res.body, status: res.status, ...(u ? { usage: u } : {}), ...(res.rateLimit ? { rateLimit: res.rateLimit } : {}) };
    },
    estimateTokens: options.estimateTokens ?? ((payload: AnthropicPayload) => estimateBodyTokens(payload, ['max_tokens'])),
  };
}

/** `usage.input_tokens (+ cache_creation_input_tokens)` and `usage.output_tokens`. */
export function anthropicUsage(body: unknown): Usage | undefined {
  const u = prop(body, 'usage');
  if (typeof u !== 'object' || u === null) return undefined;
  return {
    inputTokens: count(prop(u, 'input_tokens')) + count(prop(u, 'cache_creation_input_tokens')),
    outputTokens: count(prop(u, 'output_tokens')),
  };
}
