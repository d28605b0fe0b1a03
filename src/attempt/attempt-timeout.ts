import { SluiceError } from '../classify/sluice-error.js';

/**
 * The error an attempt's signal aborts with when its per-attempt timeout fires: the one timeout of
 * the library, raised by `retry()` (`timeoutMs` of the policy) and by the executor (`attemptTimeoutMs`,
 * default the policy's) alike. It carries its classification (`timeout`, retryable, `ATTEMPT_TIMEOUT`),
 * and is named `TimeoutError` as `AbortSignal.timeout()`'s reason is, so that adapters which pass a
 * timeout reason through as is (the HTTP adapter, `functionAdapter`) keep it.
 */
export class AttemptTimeoutError extends SluiceError {
  override readonly name = 'TimeoutError';

  constructor(attempt: number, timeoutMs: number) {
    super({ kind: 'timeout', retryable: true, code: 'ATTEMPT_TIMEOUT', message: `attempt ${attempt} timed out after ${timeoutMs} ms` });
  }
}
