import { classify } from '../classify/classify.js';
import type { ProviderName } from '../classify/kinds.js';
import { SluiceError } from '../classify/sluice-error.js';
import { abortError } from '../clock/abort.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import { parseRateLimitHeaders } from '../classify/rate-limit/parse-headers.js';
import type { RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';
import { redact } from './redact.js';
import { resultFailure } from './sdk-result.js';
import type { ApiKey, CallContext, ProviderAdapter, ProviderResponse, Usage } from './types.js';

/** Options of {@link functionAdapter}. */
export interface FunctionAdapterOptions<P, R> {
  /** Adapter name for logs, e.g. `openai-sdk`. */
  name: string;
  /** Classifier family for errors whose shape is ambiguous (the SDK errors are recognised anyway). */
  provider?: ProviderName;
  /** Tokens to reserve before the call (input estimate plus max output tokens). */
  estimateTokens?: (payload: P) => number;
  /** Reads the token usage from the function's result (e.g. `r => ({ inputTokens: r.usage.prompt_tokens, ... })`). */
  extractUsage?: (result: R) => Usage | undefined;
  /**
   * Reads response headers from the result, so rate-limit headers feed the quota monitor. Default: the headers
   * of a `{ data, response }` result, which is what openai's and Anthropic's `.withResponse()` return.
   */
  extractHeaders?: (result: R) => Headers | Record<string, string> | undefined;
  /**
   * The official SDK's answer inside your result (e.g. `(r) => r.completion`), read when `provider` is set.
   * Default: the result itself, or its `data` when it is a `.withResponse()` `{ data, response }`.
   */
  sdkResult?: (result: R) => unknown;
  /**
   * When `provider` is set, fail a result that reports a failure although the call returned (see
   * {@link resultFailure}): a content filter (Anthropic `stop_reason: "refusal"`, Gemini `promptFeedback.blockReason`
   * or finishReason SAFETY, OpenAI `finish_reason: "content_filter"`) as `content_filtered`, and an OpenAI Responses
   * answer or stream event with `status: "failed"` as its classified error. Default true.
   */
  checkResult?: boolean;
  /** Clock for snapshot times. Default: the system clock. */
  clock?: Clock;
}

/**
 * Runs any function (typically an official SDK call) under Sluice. The function receives the key chosen
 * by Sluice and the attempt's signal, and must pass both to the SDK, with the SDK's own retries off so
 * that retries do not multiply. Whatever it throws is classified by `classify()` (the SDKs' error classes
 * of `openai`, `@anthropic-ai/sdk` and `@google/genai` are recognised) and rethrown as a `SluiceError`
 * carrying the rate-limit headers of the failed response when the error has them. Aborts are rethrown as
 * `AbortError`. With `provider` set, a result that reports a content filter or a failed Responses answer
 * fails too (see `checkResult`). Returning `.withResponse()` (`{ data, response }`) lets the rate-limit
 * headers of every success reach the quota monitor.
 *
 * ```ts
 * const client = keyedClients((key) => new OpenAI({ apiKey: key.secret, maxRetries: 0 }));
 * const chat = functionAdapter(
 *   (p: ChatCompletionCreateParamsNonStreaming, { key, signal }) => client(key).chat.completions.create(p, { signal }).withResponse(),
 *   { name: 'openai-sdk', provider: 'openai', extractUsage: (r) => ({ inputTokens: r.data.usage?.prompt_tokens ?? 0, outputTokens: r.data.usage?.completion_tokens ?? 0 }) },
 * );
 * ```
 */
export function functionAdapter<P, R>(
  fn: (payload: P, ctx: CallContext) => Promise<R>,
  options: FunctionAdapterOptions<P, R>,
): ProviderAdapter<P, R> {
  if (typeof fn !== 'function') throw new TypeError(`functionAdapter: fn must be a function, got ${typeof fn}`);
  if (typeof options?.name !== 'string' || options.name.trim() === '') {
    throw new TypeError(`functionAdapter: options.name must be a non-empty string, got ${JSON.stringify(options?.name)}`);
  }
  const clock = options.clock ?? systemClock;
  const adapter: ProviderAdapter<P, R> = {
    name: options.name,
    async call(payload: P, ctx: CallContext): Promise<ProviderResponse<R>> {
      let result: R;
      try {
        result = await fn(payload, ctx);
      } catch (err) {
        throw functionFailure(err, ctx, options, clock);
      }
      const headers = options.extractHeaders ? options.extractHeaders(result) : withResponseHeaders(result);
      const rateLimit = headers ? snapshot(headers, clock.now()) : undefined;
      if (options.provider && options.checkResult !== false) {
        const answer = options.sdkResult ? options.sdkResult(result) : withResponseData(result);
        const failure = resultFailure(options.provider, answer, clock.now());
        if (failure) throw new SluiceError({ ...failure, message: `${options.name}: ${redact(failure.message, [ctx.key.secret])}` }, rateLimit ? { rateLimit } : {});
      }
      const usage = options.extractUsage?.(result);
      return { result, ...(usage ? { usage } : {}), ...(rateLimit ? { rateLimit } : {}) };
    },
  };
  if (options.estimateTokens) adapter.estimateTokens = options.estimateTokens;
  return adapter;
}

function functionFailure<P, R>(err: unknown, ctx: CallContext, options: FunctionAdapterOptions<P, R>, clock: Clock): Error {
  if (ctx.signal.aborted) {
    const reason: unknown = ctx.signal.reason;
    return reason instanceof Error && reason.name === 'TimeoutError' ? reason : abortError(ctx.signal);
  }
  if (err instanceof SluiceError) return err;
  const c = classify(err, { ...(options.provider ? { provider: options.provider } : {}), now: clock.now() });
  const headers = prop(err, 'headers');
  const rateLimit = isHeaderBag(headers) ? snapshot(headers, clock.now()) : undefined;
  return new SluiceError({ ...c, message: redact(c.message, [ctx.key.secret]) }, { cause: err, ...(rateLimit ? { rateLimit } : {}) });
}

/**
 * The failure an official SDK's stream event reports, as a `SluiceError` to throw from the function, or undefined.
 * The SDKs throw some mid-stream errors themselves (openai: an `error` object in a chunk; Anthropic: `event: error`;
 * genai: an error chunk), and those reach `classify()` as thrown; others they yield as ordinary events: an OpenAI
 * Responses `response.failed` (or a flat `error` event). Check each event with this:
 *
 * ```ts
 * for await (const event of await client(key).responses.create({ ...p, stream: true }, { signal })) {
 *   const failure = sdkStreamFailure('openai', event);
 *   if (failure) throw failure;
 * }
 * ```
 */
export function sdkStreamFailure(provider: ProviderName, event: unknown, now: number = systemClock.now()): SluiceError | undefined {
  const failure = resultFailure(provider, event, now);
  return failure ? new SluiceError(failure) : undefined;
}

/** `.withResponse()` results are `{ data, response }`: the SDK's answer is `data`. */
function withResponseData(result: unknown): unknown {
  return isWithResponse(result) ? result.data : result;
}

function withResponseHeaders(result: unknown): Headers | undefined {
  return isWithResponse(result) ? result.response.headers : undefined;
}

function isWithResponse(value: unknown): value is { data: unknown; response: { headers: Headers } } {
  // `response` first: genai's GenerateContentResponse has a `data` getter that logs a warning when read.
  return prop(prop(value, 'response'), 'headers') instanceof Headers && typeof value === 'object' && value !== null && 'data' in value;
}

function snapshot(headers: Headers | Record<string, string>, now: number): RateLimitSnapshot | undefined {
  try {
    return parseRateLimitHeaders(headers instanceof Headers ? headers : new Headers(headers), now);
  } catch {
    return undefined;
  }
}

function isHeaderBag(value: unknown): value is Headers | Record<string, string> {
  if (value instanceof Headers) return true;
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}

function prop(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * One SDK client per key, built on first use and cached by key name (rebuilt if the key's secret
 * changes), so each request goes out with the key Sluice chose without building a client per call.
 */
export function keyedClients<C>(factory: (key: ApiKey) => C): (key: ApiKey) => C {
  const cache = new Map<string, { secret: string; client: C }>();
  return (key) => {
    const hit = cache.get(key.name);
    if (hit && hit.secret === key.secret) return hit.client;
    const client = factory(key);
    cache.set(key.name, { secret: key.secret, client });
    return client;
  };
}
