/**
 * `classify()`: turns any failure (thrown error, SDK error, `{ status, headers, body }`) into a
 * {@link Classification}, the single input of every retry, cooldown and key decision.
 */
import { systemClock } from '../clock/system-clock.js';
import { isErrorKind, type Classification, type ProviderName } from './kinds.js';
import { isSluiceError } from './sluice-error.js';
import { toHttpFailure, type RawHttpFailure } from './failure.js';
import { classifyHttpFailure, finish } from './http.js';
import { field, isRecord, messageText } from './json.js';
import { classifyVeoOperation } from './operation.js';
import { classifyNetworkError } from './providers/network.js';
import { readSdkError } from './providers/sdk.js';

/** Options of {@link classify}. */
export interface ClassifyOptions {
  /** The provider the failure came from; its format is tried first. Without it, the format is detected. */
  provider?: ProviderName;
  /** Current time, ms since epoch, for turning HTTP-dates into waits. Pass `clock.now()`. Default: the system clock. */
  now?: number;
}

/**
 * Classifies a failure. Accepts:
 * - a {@link SluiceError} (returns its own classification);
 * - errors thrown by `openai`, `@anthropic-ai/sdk`, `@google/genai`, axios/got-style clients;
 * - network errors (ECONNRESET, `fetch failed` with its cause, undici codes), `AbortError` (cancelled),
 *   `TimeoutError` (timeout);
 * - `{ status, headers, body }` with headers as `Headers`, a record or `[name, value]` pairs and body as
 *   a string, bytes or parsed JSON (a Vertex array-wrapped body or a safety-blocked Gemini response too);
 * - a finished Veo operation whose videos were all filtered (see {@link classifyVeoOperation}), alone or as
 *   the body of a 200 answer.
 *
 * A fetch `Response` cannot be read synchronously: use {@link classifyResponse}; given one here, only its
 * status and headers are used.
 *
 * Total: never throws; anything unrecognised is `unknown` (not retryable). The message never contains a
 * secret and is at most ~500 characters.
 */
/**
 * Turns anything thrown into a {@link Classification}; `now` (ms since epoch, from the caller's clock)
 * turns a Retry-After given as a date into a wait. The one classifier shape of the library: `retry()`,
 * `CircuitBreaker` and `createSluice` take one as `classify` (a function of `failure` alone fits too).
 */
export type Classifier = (failure: unknown, now: number) => Classification;

/** {@link classify} as a {@link Classifier}: the default of `retry()` and `CircuitBreaker`. */
export const standardClassifier: Classifier = (failure, now) => classify(failure, { now });

export function classify(failure: unknown, options: ClassifyOptions = {}): Classification {
  // The system clock is only the default; callers on a virtual clock pass `now`.
  const now = typeof options.now === 'number' && Number.isFinite(options.now) ? options.now : systemClock.now();
  try {
    return classifyAt(failure, options.provider, now);
  } catch {
    // Defensive: a hostile object (throwing getters, proxies) must not turn a failure into a crash.
    return { kind: 'unknown', retryable: false, message: 'unclassifiable failure' };
  }
}

/**
 * Classifies a fetch `Response` (reads at most the first 64 KiB of its body). Never rejects.
 */
export async function classifyResponse(res: Response, options: ClassifyOptions = {}): Promise<Classification> {
  const body = await readBodyPrefix(res);
  return classify({ status: res.status, headers: res.headers, body }, options);
}

/** Wrapped errors (`new Error('call failed', { cause: sdkError })`) are unwrapped at most this deep. */
const MAX_CAUSE_DEPTH = 4;

function classifyAt(failure: unknown, provider: ProviderName | undefined, now: number, depth = 0): Classification {
  if (isSluiceError(failure)) return failure.classification;
  const foreign = foreignSluiceClassification(failure);
  if (foreign) return foreign;
  if (typeof Response !== 'undefined' && failure instanceof Response) {
    return classifyHttpFailure(toHttpFailure({ status: failure.status, headers: failure.headers }, now), provider);
  }
  if (failure instanceof Error || isErrorShaped(failure)) {
    const c = classifyError(failure as object, provider, now);
    if (c.kind !== 'unknown' || depth >= MAX_CAUSE_DEPTH) return c;
    // An unrecognised wrapper: its cause may be an SDK or HTTP error we know.
    const cause = field(failure, 'cause');
    if (cause === undefined || cause === null || cause === failure) return c;
    const inner = classifyAt(cause, provider, now, depth + 1);
    return inner.kind === 'unknown' ? c : inner;
  }
  if (isRecord(failure) && isHttpShaped(failure)) {
    // A 200 poll of a long-running operation that finished with every video filtered.
    const operation = field(failure, 'status') === 200 ? classifyVeoOperation(toHttpFailure(failure as RawHttpFailure, now).body) : undefined;
    if (operation) return provider === undefined ? operation : { ...operation, provider };
    return classifyHttpFailure(toHttpFailure(failure as RawHttpFailure, now), provider);
  }
  const operation = classifyVeoOperation(failure);
  if (operation) return provider === undefined ? operation : { ...operation, provider };
  if (isRecord(failure) && ['candidates', 'promptFeedback', 'choices'].some((k) => field(failure, k) !== undefined)) {
    // A response object (Gemini candidates, OpenAI choices) that may have been blocked by a safety filter.
    return classifyHttpFailure(toHttpFailure({ body: failure }, now), provider);
  }
  const message = typeof failure === 'string' ? failure : (messageText(field(failure, 'message')) ?? `unrecognised failure (${typeOf(failure)})`);
  return finish({ kind: 'unknown', rawMessage: message, provider });
}

function classifyError(error: object, provider: ProviderName | undefined, now: number): Classification {
  const sdk = readSdkError(error);
  if (sdk && 'http' in sdk) return classifyHttpFailure(toHttpFailure(sdk.http, now), provider);
  const verdict = (sdk && 'verdict' in sdk ? sdk.verdict : undefined) ?? classifyNetworkError(error);
  if (verdict) {
    return finish({ kind: verdict.kind, code: verdict.code, rawMessage: verdict.message ?? '', provider: provider ?? verdict.provider });
  }
  const message = messageText(field(error, 'message')) ?? String(field(error, 'name') ?? 'error');
  return finish({ kind: 'unknown', rawMessage: message, provider });
}

/**
 * A SluiceError from another copy of this module (two installed versions, a bundled copy): `instanceof`
 * misses it, so it is recognised by name and a valid classification.
 */
function foreignSluiceClassification(value: unknown): Classification | undefined {
  if (!(value instanceof Error) || (value.name !== 'SluiceError' && value.name !== 'RetryError')) return undefined;
  const c = field(value, 'classification');
  if (!isRecord(c) || !isErrorKind(c['kind']) || typeof c['retryable'] !== 'boolean' || typeof c['message'] !== 'string') return undefined;
  return c as unknown as Classification;
}

/** `{ status, headers, body }` input: a numeric status or a body/headers key. */
function isHttpShaped(value: Record<string, unknown>): boolean {
  return typeof field(value, 'status') === 'number' || 'body' in value || 'headers' in value;
}

/** Plain objects that behave like errors (`{ name, message, code }`, DOMException from another realm). */
function isErrorShaped(value: unknown): boolean {
  return isRecord(value) && typeof field(value, 'message') === 'string' && (typeof field(value, 'name') === 'string' || typeof field(value, 'code') === 'string');
}

function typeOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** Error bodies are small; anything past this is not needed to classify and is not read. */
const MAX_BODY_BYTES = 64 * 1024;

async function readBodyPrefix(res: Response): Promise<Uint8Array | undefined> {
  try {
    if (!res.body || res.bodyUsed) return undefined;
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    while (size < MAX_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
    if (size >= MAX_BODY_BYTES) await reader.cancel().catch(() => undefined);
    const out = new Uint8Array(Math.min(size, MAX_BODY_BYTES));
    let offset = 0;
    for (const chunk of chunks) {
      const part = chunk.subarray(0, out.byteLength - offset);
      out.set(part, offset);
      offset += part.byteLength;
    }
    return out;
  } catch {
    // A body that fails mid-stream still has a status worth classifying.
    return undefined;
  }
}
