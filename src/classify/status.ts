/** The kind an HTTP status means when the body says nothing more specific. */
import type { ErrorKind } from './kinds.js';

const BY_STATUS: ReadonlyMap<number, ErrorKind> = new Map<number, ErrorKind>([
  [400, 'invalid_request'],
  [401, 'auth'],
  [402, 'quota_exhausted'],
  [403, 'auth'],
  [404, 'not_found'],
  [405, 'invalid_request'],
  [408, 'timeout'],
  [410, 'not_found'],
  [413, 'invalid_request'],
  [414, 'invalid_request'],
  [415, 'invalid_request'],
  [422, 'invalid_request'],
  [429, 'rate_limited'],
  [451, 'content_filtered'],
  [500, 'server_error'],
  [501, 'invalid_request'],
  [502, 'server_error'],
  [503, 'overloaded'],
  [504, 'server_error'],
  // Cloudflare: origin timed out.
  [522, 'timeout'],
  [524, 'timeout'],
  // Anthropic: overloaded_error.
  [529, 'overloaded'],
]);

/**
 * Maps an HTTP status to a kind: the DESIGN.md table (400/413/422 invalid_request, 401/403 auth,
 * 404 not_found, 408 timeout, 429 rate_limited, 503/529 overloaded, other 5xx server_error).
 * Anything else (no status, 2xx/3xx, an unlisted 4xx) is `unknown`.
 */
export function kindFromStatus(status: number | undefined): ErrorKind {
  if (status === undefined) return 'unknown';
  const known = BY_STATUS.get(status);
  if (known) return known;
  if (status >= 500 && status <= 599) return 'server_error';
  return 'unknown';
}
