import type { Clock } from '../clock/clock.js';
import type { HttpClient } from './http.js';
import type { Usage } from './types.js';

/** Options every HTTP adapter accepts. */
export interface AdapterBaseOptions<P = Record<string, unknown>> {
  /** Base URL of the API (scheme, host, optional path prefix), e.g. `https://api.openai.com/v1`. */
  baseUrl?: string;
  /** Extra headers sent with every request (OpenRouter's `HTTP-Referer`, a proxy's auth, ...). */
  headers?: Record<string, string>;
  /** Shared HTTP client (pool); default: the process-wide {@link defaultHttpClient}. */
  http?: HttpClient;
  /** Clock used for rate-limit snapshot times and operation polling. Default: the system clock. */
  clock?: Clock;
  /** Override of the token estimate (input estimate plus max output tokens) used for token-per-minute limits. */
  estimateTokens?: (payload: P) => number;
  /** Adapter name in logs and messages; defaults to the family name. */
  name?: string;
}

/** Validates and normalises a base URL (no trailing slash). Throws `TypeError` naming `field`. */
export function baseUrl(field: string, value: string | undefined, fallback: string): string {
  const url = value ?? fallback;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`${field} must be an absolute http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`${field} must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  return url.replace(/\/+$/, '');
}

/** Throws `TypeError` naming `field` unless `value` is a non-empty string. */
export function requiredString(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${field} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Throws `TypeError` naming `field` unless `headers` is a record of strings. */
export function headerRecord(field: string, headers: unknown): Record<string, string> {
  if (headers === undefined) return {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new TypeError(`${field} must be an object of header names to strings`);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw new TypeError(`${field}.${name} must be a string, got ${typeof value}`);
  }
  return { ...(headers as Record<string, string>) };
}

/** Throws `TypeError` unless the payload is a plain object (the request body). */
export function payloadObject(adapter: string, payload: unknown): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new TypeError(`${adapter}: payload must be an object (the request body), got ${Array.isArray(payload) ? 'array' : typeof payload}`);
  }
  return payload as Record<string, unknown>;
}

/** A finite non-negative number read from an untrusted body, else 0. */
export function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** Reads a property of an untrusted value without trusting its shape. */
export function prop(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** A usage object, or undefined when the body reported nothing. */
export function usage(inputTokens: unknown, outputTokens: unknown): Usage | undefined {
  if (inputTokens === undefined && outputTokens === undefined) return undefined;
  return { inputTokens: count(inputTokens), outputTokens: count(outputTokens) };
}

/**
 * A cheap token estimate of a request body: about 4 characters per token over its text, plus the
 * maximum output tokens it asks for. Used to reserve tokens before the call; the response's usage
 * settles the reservation, so a rough figure is enough.
 */
export function estimateBodyTokens(body: unknown, maxOutputFields: readonly string[], defaultMaxOutput = 0): number {
  const text = collectText(body, 0);
  let maxOut: number | undefined;
  for (const field of maxOutputFields) {
    const v = deepProp(body, field);
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
      maxOut = v;
      break;
    }
  }
  return Math.ceil(text / 4) + (maxOut ?? defaultMaxOutput);
}

/** Reads a dotted path (`generationConfig.maxOutputTokens`). */
function deepProp(value: unknown, path: string): unknown {
  let cur = value;
  for (const part of path.split('.')) cur = prop(cur, part);
  return cur;
}

/** Total length of the strings in a body, skipping what is obviously not text (base64 data). Depth-bounded. */
function collectText(value: unknown, depth: number): number {
  if (depth > 32) return 0;
  if (typeof value === 'string') return value.length > 100_000 && !/\s/.test(value.slice(0, 1000)) ? 0 : value.length;
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + collectText(v, depth + 1), 0);
  if (typeof value === 'object' && value !== null) {
    let n = 0;
    for (const v of Object.values(value)) n += collectText(v, depth + 1);
    return n;
  }
  return 0;
}
