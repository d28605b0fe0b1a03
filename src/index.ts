/**
 * Sluice: run generative-AI API calls at the full rate quotas allow.
 * @packageDocumentation
 */
export * from './clock/index.js';
export { ERROR_KINDS, PROVIDERS, RETRYABLE_BY_DEFAULT, isErrorKind } from './classify/kinds.js';
export type { ErrorKind, ProviderName, Classification } from './classify/kinds.js';
export { SluiceError, isSluiceError } from './classify/sluice-error.js';
export type { RateLimitSnapshot, RateLimitWindow } from './flow/quota/snapshot.js';
export type { ApiKey, Usage, ProviderResponse, CallContext, ProviderAdapter } from './provider/types.js';
export { TypedEmitter } from './observe/typed-emitter.js';
export type { Listener } from './observe/typed-emitter.js';
