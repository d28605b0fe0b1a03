/** Safe readers for untrusted parsed JSON: they never throw and never trust a shape. */

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `obj[key]` when `obj` is a record, else `undefined`. */
export function field(obj: unknown, key: string): unknown {
  if (!isRecord(obj)) return undefined;
  try {
    return obj[key];
  } catch {
    return undefined;
  }
}

/** A string field, or a finite number field as a string (providers disagree on code types). */
export function stringField(obj: unknown, key: string): string | undefined {
  const v = field(obj, key);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** A finite number field, or a string field holding an integer (`"429"`, Azure). */
export function numberField(obj: unknown, key: string): number | undefined {
  const v = field(obj, key);
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d{1,6}$/.test(v)) return Number(v);
  return undefined;
}

/** Bodies bigger than this are not parsed: an error body is small, a huge one is a page or garbage. */
const MAX_JSON_LENGTH = 1_000_000;

/** `JSON.parse` that returns `undefined` instead of throwing, for text that looks like JSON. */
export function tryParseJson(text: string): unknown {
  if (text.length > MAX_JSON_LENGTH) return undefined;
  const t = text.trim();
  const first = t[0];
  if (first !== '{' && first !== '[') return undefined;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return undefined;
  }
}

/** Finds and parses the first JSON object or array embedded in a text (`got status: 429. {"error":...}`). */
export function parseEmbeddedJson(text: string): unknown {
  if (text.length > MAX_JSON_LENGTH) return undefined;
  const brace = text.indexOf('{');
  const bracket = text.indexOf('[');
  const candidates = [brace, bracket].filter((i) => i >= 0).sort((a, b) => a - b);
  for (const start of candidates) {
    const parsed = tryParseJson(text.slice(start));
    if (parsed !== undefined) return parsed;
  }
  return undefined;
}

/**
 * Messages are read up to this length: every fact providers write in prose comes early, and the cap
 * keeps the phrase matching cheap however large a hostile message is.
 */
const MAX_MESSAGE_CHARS = 4000;

/** Text of a message that may be a string or a structured value (Mistral sends `message: { detail: [...] }`). */
export function messageText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.slice(0, MAX_MESSAGE_CHARS);
  if (value === undefined || value === null) return undefined;
  try {
    const json = JSON.stringify(value);
    return typeof json === 'string' ? json.slice(0, MAX_MESSAGE_CHARS) : undefined;
  } catch {
    return undefined;
  }
}
