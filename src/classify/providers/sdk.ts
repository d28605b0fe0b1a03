/**
 * Errors thrown by the provider SDKs and by HTTP clients, turned into either a network verdict or an
 * {@link RawHttpFailure} for the HTTP classifiers. Duck-typed on purpose: the SDKs are optional peers,
 * and several copies of one SDK can be loaded at once, so `instanceof` would miss.
 *
 * - `openai` and `@anthropic-ai/sdk` `APIError`: `status`, `headers` (a `Headers`), `error` (openai:
 *   the inner `error` object; Anthropic: the whole body). `APIConnectionError`,
 *   `APIConnectionTimeoutError`, `APIUserAbortError` have no status.
 * - `@google/genai` `ApiError`: `name: 'ApiError'`, `status`, and a `message` that is the JSON body
 *   (or `got status: ... {json}` when streaming).
 * - axios / got style: `response.status|statusCode`, `response.headers`, `response.data|body`.
 */
import type { RawHttpFailure, Verdict } from '../failure.js';
import { field, isRecord, parseEmbeddedJson, tryParseJson } from '../json.js';
import { classifyNetworkError } from './network.js';

/** What an SDK error turned out to be. */
export type SdkReading = { http: RawHttpFailure } | { verdict: Verdict } | undefined;

/** Reads a thrown SDK or HTTP-client error. `undefined` when it is neither. */
export function readSdkError(error: unknown): SdkReading {
  if (!(error instanceof Error) && !isRecord(error)) return undefined;
  const className = constructorName(error);
  const message = typeof field(error, 'message') === 'string' ? (field(error, 'message') as string) : '';
  if (className === 'APIUserAbortError') return { verdict: { kind: 'cancelled', code: 'APIUserAbortError', message } };
  if (className === 'APIConnectionTimeoutError') return { verdict: { kind: 'timeout', code: 'APIConnectionTimeoutError', message } };
  if (className === 'APIConnectionError') {
    const inner = classifyNetworkError(field(error, 'cause'));
    return { verdict: inner && inner.kind !== 'cancelled' ? { ...inner, message: `${message}: ${inner.message}` } : { kind: 'network', code: 'APIConnectionError', message } };
  }
  if (className === 'ContentFilterFinishReasonError') return { verdict: { kind: 'content_filtered', code: 'content_filter', message } };
  return stainlessApiError(error, message) ?? googleApiError(error, message) ?? responseCarrier(error) ?? statusCarrier(error, message);
}

/**
 * openai / @anthropic-ai/sdk `APIError` with a status, or without one when the SDK raised an error event of a
 * 200 stream (openai: a chunk's `error` object; Anthropic: the data of `event: error`): its body is then all there is.
 */
function stainlessApiError(error: object, message: string): SdkReading {
  const status = field(error, 'status');
  const inner = field(error, 'error');
  const midStream = status === undefined && isRecord(inner);
  if ((typeof status !== 'number' && !midStream) || !('error' in error) || !('headers' in error)) return undefined;
  const headers = field(error, 'headers');
  // openai passes the inner `error` object, Anthropic the whole body: rebuild the body as the server sent it.
  const body = isRecord(inner) ? (field(inner, 'error') !== undefined ? inner : { error: inner }) : undefined;
  return { http: { status, headers, body: body ?? (typeof status === 'number' ? stripStatus(message, status) : message) } };
}

/**
 * @google/genai `ApiError`: the message is the JSON body, or `got status: ... {json}` for an error chunk of
 * a stream. When the answer was not `application/json` (a streaming call's 429 comes as text on an SSE
 * endpoint) the SDK wraps the text as `{"error":{"message":"<the body text>","code":429,"status":"Too Many
 * Requests"}}`: the google.rpc.Status to classify is that inner text (corpus
 * gemini-429-minute-input-tokens-retryinfo-26s-genai-stream), not the wrapper's HTTP reason phrase.
 */
function googleApiError(error: object, message: string): SdkReading {
  const status = field(error, 'status');
  if (field(error, 'name') !== 'ApiError' || typeof status !== 'number') return undefined;
  const body = parseEmbeddedJson(message);
  return { http: { status, body: unwrapTextBody(body) ?? body ?? message } };
}

/** The body text @google/genai wrapped in `{ error: { message: text } }`, parsed, when it is itself a Google error. */
function unwrapTextBody(body: unknown): unknown {
  const inner = field(field(body, 'error'), 'message');
  if (typeof inner !== 'string') return undefined;
  const parsed = tryParseJson(inner);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  return isRecord(field(first, 'error')) ? parsed : undefined;
}

/** axios (`response.status`, `response.data`) and got (`response.statusCode`, `response.body`). */
function responseCarrier(error: object): SdkReading {
  const response = field(error, 'response');
  const status = field(response, 'status') ?? field(response, 'statusCode');
  if (typeof status !== 'number') return undefined;
  return { http: { status, headers: field(response, 'headers'), body: field(response, 'data') ?? field(response, 'body') } };
}

/** Any error carrying a numeric `status` or `statusCode` (fetch wrappers, ky, custom adapters). */
function statusCarrier(error: object, message: string): SdkReading {
  const status = field(error, 'status') ?? field(error, 'statusCode');
  if (typeof status !== 'number') return undefined;
  return { http: { status, headers: field(error, 'headers'), body: field(error, 'body') ?? stripStatus(message, status) } };
}

/** The SDKs prefix messages with the status ("429 Rate limit..."); the body text is what follows. */
function stripStatus(message: string, status: number): string {
  const prefix = `${status} `;
  const rest = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  return rest === 'status code (no body)' ? '' : rest;
}

function constructorName(error: object): string | undefined {
  try {
    const ctor = (error as { constructor?: { name?: unknown } }).constructor;
    return typeof ctor?.name === 'string' ? ctor.name : undefined;
  } catch {
    return undefined;
  }
}
