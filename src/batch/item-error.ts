/** Turns whatever an executor rejected with into the persisted {@link ItemError}. */
import { isErrorKind } from '../classify/kinds.js';
import type { ItemError } from './store.js';

/**
 * Reads the classification a `SluiceError` (or the give-up `RetryError`, one of them) carries; an
 * `AbortError` is `cancelled`; anything else is `unknown` with its message. Never throws.
 */
export function toItemError(error: unknown): ItemError {
  if (typeof error === 'object' && error !== null) {
    const e = error as { name?: unknown; message?: unknown; classification?: { kind?: unknown; message?: unknown; status?: unknown } };
    const c = e.classification;
    if (c && isErrorKind(c.kind)) {
      const out: ItemError = { kind: c.kind, message: typeof c.message === 'string' ? c.message : String(e.message ?? '') };
      if (typeof c.status === 'number') out.status = c.status;
      return out;
    }
    const message = typeof e.message === 'string' ? e.message : String(error);
    if (e.name === 'AbortError') return { kind: 'cancelled', message };
    return { kind: 'unknown', message };
  }
  return { kind: 'unknown', message: String(error) };
}
