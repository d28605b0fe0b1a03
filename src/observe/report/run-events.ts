import type { ErrorKind } from '../../classify/kinds.js';

/**
 * The observation vocabulary shared by the progress display, the Prometheus metrics and the report
 * recorder. The CLI translates the batch runner's and the executor's events into these (see
 * `src/cli/observe-run.ts`), so the three consumers do not depend on any one layer's event map.
 * Every event carries `at` (ms since epoch, from the run's clock) and only key names, never secrets.
 */
export type RunEvent =
  | { type: 'attempt_start'; at: number; id: string; attempt: number; key?: string }
  | {
      type: 'attempt_end';
      at: number;
      id: string;
      attempt: number;
      key?: string;
      ok: boolean;
      kind?: ErrorKind;
      status?: number;
      latencyMs?: number;
    }
  | { type: 'retry'; at: number; id: string; attempt: number; kind: ErrorKind; delayMs: number }
  | { type: 'item'; at: number; id: string; state: 'succeeded' | 'failed' | 'cancelled' | 'pending'; kind?: ErrorKind }
  | { type: 'key_state'; at: number; key: string; state: KeyStateName; until?: number; reason?: string }
  | { type: 'concurrency'; at: number; limit: number; reason?: string; from?: number }
  /** A key's learned or announced request rate (`perSecond`; undefined: none in force), or its learned cap on calls in flight (`cap`), changed. */
  | { type: 'key_limit'; at: number; key: string; perSecond?: number; cap?: number; limit: 'rate' | 'in_flight'; reason: string }
  | { type: 'quota'; at: number; key: string; usage: number }
  | { type: 'quota_alert'; at: number; key: string; alertLevel: number; usage: number }
  /** The whole run stops starting attempts (a single key's quota pause is a `key_state` of `paused`). */
  | { type: 'pause'; at: number; reason: string; until?: number; detail?: string }
  | { type: 'resume'; at: number };

/** States a key can be in: the key pool's, plus `paused` by its quota monitor (threshold reached, until the reset). */
export type KeyStateName = 'active' | 'cooling' | 'parked' | 'disabled' | 'paused';

/** Every {@link KeyStateName}, in display order. */
export const KEY_STATE_NAMES: readonly KeyStateName[] = ['active', 'cooling', 'paused', 'parked', 'disabled'];

/** Anything that consumes {@link RunEvent}s. */
export interface RunObserver {
  observe(event: RunEvent): void;
}

/** Whether an attempt's end was a rate limit: kind `rate_limited` or HTTP 429 (the one rule behind every "429s" count). */
export function answeredRateLimited(e: { ok: boolean; kind?: string | undefined; status?: number | undefined }): boolean {
  return !e.ok && (e.kind === 'rate_limited' || e.status === 429);
}
