/** The normalised form of an HTTP failure that every provider classifier reads. */
import type { Classification, ErrorKind, ProviderName } from './kinds.js';
import { toHeaderMap, type HeaderMap } from './headers.js';
import { tryParseJson } from './json.js';

/** An HTTP failure with headers normalised and the body parsed when it is JSON. */
export interface HttpFailure {
  status: number | undefined;
  headers: HeaderMap;
  /** Parsed JSON body, or `undefined` when the body was empty or not JSON. */
  body: unknown;
  /** The body text when it was not JSON (HTML page, proxy text), for the message. */
  text: string;
  /** The body was a bare JSON string (`"Your team ... has either used all available credits ..."`, xAI); `text` holds it decoded. */
  bareString?: boolean;
  /** ms since epoch, for turning dates into waits. */
  now: number;
}

/** What a provider classifier recognised; `classify` fills in the rest (retryable, header waits, message hygiene). */
export interface Verdict {
  kind: ErrorKind;
  /** Absent for failures without a provider format (network errors). */
  provider?: ProviderName;
  code?: string;
  /** Raw (unredacted) provider message; cleaned before it leaves the classifier. */
  message?: string;
  retryAfterMs?: number;
  resetAt?: number;
  resumeAt?: number;
  quotaScope?: Classification['quotaScope'];
}

/** A provider's recogniser: a verdict when the failure is in its format, else `undefined`. Never throws. */
export type ProviderClassifier = (failure: HttpFailure) => Verdict | undefined;

/** Raw input: `{ status, headers, body }` with any accepted header shape and a string, bytes or JSON body. */
export interface RawHttpFailure {
  status?: unknown;
  headers?: unknown;
  body?: unknown;
}

/** Bodies longer than this are cut before decoding: error bodies are small. */
const MAX_BODY_BYTES = 1_000_000;

/** Normalises a raw `{ status, headers, body }`. Never throws. */
export function toHttpFailure(raw: RawHttpFailure, now: number): HttpFailure {
  const status = typeof raw.status === 'number' && Number.isInteger(raw.status) && raw.status >= 100 && raw.status <= 999 ? raw.status : undefined;
  const headers = toHeaderMap(raw.headers);
  const { body, text, bareString } = readBody(raw.body);
  return bareString ? { status, headers, body, text, now, bareString } : { status, headers, body, text, now };
}

function readBody(body: unknown): { body: unknown; text: string; bareString?: boolean } {
  if (body === undefined || body === null) return { body: undefined, text: '' };
  if (typeof body === 'string') return fromText(body);
  if (body instanceof Uint8Array) return fromText(new TextDecoder().decode(body.subarray(0, MAX_BODY_BYTES)));
  if (body instanceof ArrayBuffer) return fromText(new TextDecoder().decode(new Uint8Array(body, 0, Math.min(body.byteLength, MAX_BODY_BYTES))));
  // A stream (an unread fetch body) cannot be read synchronously: classify by status and headers.
  if (typeof (body as { getReader?: unknown }).getReader === 'function') return { body: undefined, text: '' };
  if (typeof body === 'object') return { body, text: '' };
  return { body: undefined, text: String(body) };
}

function fromText(text: string): { body: unknown; text: string; bareString?: boolean } {
  const bare = bareJsonString(text);
  if (bare !== undefined) return { body: undefined, text: bare, bareString: true };
  const parsed = tryParseJson(text);
  return parsed === undefined ? { body: undefined, text: text.slice(0, MAX_BODY_BYTES) } : { body: parsed, text: '' };
}

/**
 * A body that is one JSON string (xAI answers billing and key errors this way, e.g. corpus sample
 * xai-429-credits-or-monthly-spending-limit), decoded; `undefined` for anything else.
 */
function bareJsonString(text: string): string | undefined {
  const t = text.trim();
  if (t.length < 2 || t[0] !== '"' || t[t.length - 1] !== '"' || t.length > MAX_BODY_BYTES) return undefined;
  try {
    const value: unknown = JSON.parse(t);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
