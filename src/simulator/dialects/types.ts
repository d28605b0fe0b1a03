import type { IncomingHttpHeaders } from 'node:http';
import type { LimitStatus, Rejection } from '../simulated-key.js';

/** An answer ready to send. `body` is the exact bytes (as a string). */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Provider families the simulator imitates. */
export type SimProvider = 'openai' | 'azure' | 'anthropic' | 'gemini' | 'vertex';

/** What error messages mention: the model, the operation and (Azure) the API version. */
export interface ErrorContext {
  model: string;
  /** Azure operation id, e.g. `ChatCompletions_Create`. */
  operation: string;
  apiVersion: string | undefined;
}

/** A limit refusal as the dialect must render it. `hint: false` removes every wait hint. */
export interface RateLimited {
  rejection: Rejection;
  hint: boolean;
}

/**
 * One provider's wire conventions: where the key travels, and every error body and header set,
 * byte for byte as the provider documents them.
 */
export interface Dialect {
  readonly provider: SimProvider;
  /** Headers of JSON success answers beyond the defaults (Google sends `application/json; charset=UTF-8`). */
  readonly successHeaders?: Record<string, string>;
  /** The credential the request carries, or undefined when it carries none. */
  credential(headers: IncomingHttpHeaders, query: URLSearchParams | undefined): string | undefined;
  /** Problems other than the key (Anthropic's `anthropic-version`, Azure's `api-version`), checked after the key. */
  checkRequest?(headers: IncomingHttpHeaders, query: URLSearchParams | undefined): Reply | undefined;
  missingKey(): Reply;
  invalidKey(): Reply;
  invalidJson(): Reply;
  missingField(field: string): Reply;
  badRequest(message: string): Reply;
  tooLarge(): Reply;
  notFound(): Reply;
  rateLimited(r: RateLimited, ctx: ErrorContext, now: number): Reply;
  /** Billing/quota exhausted: not cured by waiting a minute. */
  quotaExhausted(ctx: ErrorContext): Reply;
  /** 503, or 529 where the provider has it (Anthropic). */
  overloaded(status: 503 | 529): Reply;
  serverError(): Reply;
  /** Headers describing the key's limits, sent on every answer unless disabled. */
  limitHeaders(status: LimitStatus, now: number): Record<string, string>;
}

/** Builds a JSON reply. */
export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers, body: JSON.stringify(body) };
}
