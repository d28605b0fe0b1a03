import type { Classification, ErrorKind } from './kinds.js';
import type { RateLimitSnapshot } from './rate-limit/snapshot.js';

/**
 * An error that already carries its classification. Adapters throw it so that layers above never
 * parse provider bodies again; `classify()` returns its classification unchanged.
 */
export class SluiceError extends Error {
  /** `SluiceError`, or the subclass's own name (`RetryError`, the give-up error). */
  override readonly name: string = 'SluiceError';
  readonly classification: Classification;
  /** Rate-limit headers seen on the failed response, if any (a 429 still says what remains and when it resets). */
  readonly rateLimit?: RateLimitSnapshot;

  constructor(classification: Classification, options: { cause?: unknown; rateLimit?: RateLimitSnapshot } = {}) {
    super(classification.message, { cause: options.cause });
    this.classification = classification;
    if (options.rateLimit) this.rateLimit = options.rateLimit;
  }

  get kind(): ErrorKind {
    return this.classification.kind;
  }
}

export function isSluiceError(value: unknown): value is SluiceError {
  return value instanceof SluiceError;
}
