import type { RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';

/**
 * An API key as Sluice holds it. Only `name` is ever logged, stored or reported; `secret` goes into
 * request headers and nowhere else.
 */
export interface ApiKey {
  readonly name: string;
  readonly secret: string;
}

/** Token usage a response reported. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** What one successful call produced. */
export interface ProviderResponse<R = unknown> {
  result: R;
  usage?: Usage;
  /** Rate-limit headers of the response, parsed. */
  rateLimit?: RateLimitSnapshot;
  /** HTTP status, when there was one. */
  status?: number;
}

/** Context of one attempt, given by the executor to the adapter. */
export interface CallContext {
  key: ApiKey;
  /** Fires on cancellation, attempt timeout or shutdown; every request must carry it. */
  signal: AbortSignal;
  /** 1-based attempt number of this job. */
  attempt: number;
}

/**
 * Turns a job's payload into a request and the response into a result. On failure it throws: either a
 * `SluiceError` (already classified) or any error that `classify()` understands.
 */
export interface ProviderAdapter<P = unknown, R = unknown> {
  /** Adapter name for logs, e.g. `openai`, `anthropic`, `gemini`, `function`. */
  readonly name: string;
  call(payload: P, ctx: CallContext): Promise<ProviderResponse<R>>;
  /** Tokens to reserve before the call: input estimate plus max output tokens. */
  estimateTokens?(payload: P): number;
}
