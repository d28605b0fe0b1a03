/** Public surface of the classify layer. */
export { classify, classifyResponse } from './classify.js';
export { classifyVeoOperation } from './operation.js';
export type { ClassifyOptions } from './classify.js';
export { parseDuration, MAX_DURATION_MS } from './duration.js';
export { parseRetryAfter, parseRetryAfterMs, parseResetTime } from './retry-after.js';
export { redactSecrets } from './redact.js';
export { toHeaderMap } from './headers.js';
export type { HeaderMap } from './headers.js';
export type { RawHttpFailure } from './failure.js';
