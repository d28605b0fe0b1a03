import { classify } from '../classify/classify.js';
import type { ProviderName } from '../classify/kinds.js';
import { SluiceError } from '../classify/sluice-error.js';
import { abortError } from '../clock/abort.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import { parseRateLimitHeaders } from '../classify/rate-limit/parse-headers.js';
import type { RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';
import { redact } from './redact.js';
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
  /** Reads response headers from the result (e.g. from openai's `.withResponse()`), so rate-limit headers feed the quota monitor. */
  extractHeaders?: (result: R) => Headers | Record<string, string> | undefined;
  /** Clock for snapshot times. Default: the system clock. */
  clock?: Clock;
}

/**
 * Runs any function (typically an official SDK call) under Sluice. The function receives the key chosen
 * by Sluice and the attempt's signal, and must pass both to the SDK, with the SDK's own retries off so
 * that retries do not multiply. Whatever it throws is classified by `classify()` (the SDKs' error classes
 * of `openai`, `@anthropic-ai/sdk` and `@google/genai` are recognised) and rethrown as a `SluiceError`
 * carrying the rate-limit headers of the failed response when the error has them. Aborts are rethrown as
 * `AbortError`.
 *
 * ```ts
 * const client = keyedClients((key) => new OpenAI({ apiKey: key.secret, maxRetries: 0 }));
 * const chat = functionAdapter(
 *   (p: ChatCompletionCreateParamsNonStreaming, { key, signal }) => client(key).chat.completions.create(p, { signal }),
 *   { name: 'openai-sdk', extractUsage: (r) => ({ inputTokens: r.usage?.prompt_tokens ?? 0, outputTokens: r.usage?.completion_tokens ?? 0 }) },
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
      const usage = options.extractUsage?.(result);
      const headers = options.extractHeaders?.(result);
      const rateLimit = headers ? snapshot(headers, clock.now()) : undefined;
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
