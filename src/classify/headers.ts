/** Header normalisation: every accepted header shape becomes one lower-cased map. */

/** Response headers with lower-cased names. Repeated headers are joined with `, ` as in the Fetch API. */
export type HeaderMap = ReadonlyMap<string, string>;

/** A response has far fewer headers than this; the cap bounds work on hostile input. */
const MAX_HEADERS = 256;

/**
 * Converts a `Headers` object, a plain record (`{ 'Retry-After': '6' }`, Node's `IncomingHttpHeaders`
 * with array values) or an array of `[name, value]` pairs into a {@link HeaderMap}.
 * Never throws: anything else, and any malformed entry, is ignored.
 */
export function toHeaderMap(input: unknown): HeaderMap {
  const map = new Map<string, string>();
  try {
    if (input === null || typeof input !== 'object') return map;
    if (isHeadersLike(input)) {
      input.forEach((value, name) => add(map, name, value));
    } else if (Array.isArray(input)) {
      for (const pair of input.slice(0, MAX_HEADERS)) {
        if (Array.isArray(pair)) add(map, pair[0], pair[1]);
      }
    } else {
      for (const [name, value] of Object.entries(input).slice(0, MAX_HEADERS)) add(map, name, value);
    }
  } catch {
    // A hostile object (throwing getter, revoked proxy) yields what was read so far.
  }
  return map;
}

function isHeadersLike(value: object): value is { forEach(cb: (value: string, name: string) => void): void; get(name: string): unknown } {
  const v = value as { forEach?: unknown; get?: unknown };
  return typeof v.forEach === 'function' && typeof v.get === 'function';
}

function add(map: Map<string, string>, name: unknown, value: unknown): void {
  if (typeof name !== 'string' || map.size >= MAX_HEADERS) return;
  const text = headerValue(value);
  if (text === undefined) return;
  const key = name.toLowerCase();
  const previous = map.get(key);
  map.set(key, previous === undefined ? text : `${previous}, ${text}`);
}

function headerValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (Array.isArray(value)) {
    const parts = value.filter((v): v is string => typeof v === 'string');
    return parts.length > 0 ? parts.join(', ') : undefined;
  }
  return undefined;
}
