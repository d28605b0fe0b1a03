import type { Classification } from '../classify/kinds.js';
import { isSluiceError } from '../classify/sluice-error.js';
import { redactSecrets } from '../classify/redact.js';

/** Turns a thrown value into a {@link Classification}. `retry()` takes one as `options.classify`. */
export type Classifier = (failure: unknown) => Classification;

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The attempt layer's own minimal classifier, used when no `classify` option is given: a
 * `SluiceError` keeps its classification, `AbortError` is `cancelled`, `TimeoutError`/`ETIMEDOUT` is
 * `timeout`, common socket codes are `network`, anything else `unknown` (not retried by default).
 * Pass `classify` from `src/classify` to recognise provider SDK errors and HTTP bodies.
 */
export function classifyFailure(failure: unknown): Classification {
  if (isSluiceError(failure)) return failure.classification;
  const err = failure instanceof Error ? failure : undefined;
  const message = redactSecrets(err ? err.message : String(failure));
  if (err?.name === 'AbortError') return { kind: 'cancelled', retryable: false, message: message || 'cancelled' };
  const code = codeOf(err) ?? codeOf(err?.cause);
  if (err?.name === 'TimeoutError' || code === 'ETIMEDOUT') {
    return { kind: 'timeout', retryable: true, message, ...(code ? { code } : {}) };
  }
  if (code !== undefined && NETWORK_CODES.has(code)) return { kind: 'network', retryable: true, message, code };
  if (err instanceof TypeError && /fetch failed|socket hang up/i.test(err.message)) {
    return { kind: 'network', retryable: true, message };
  }
  return { kind: 'unknown', retryable: false, message };
}

function codeOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const code = (value as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
