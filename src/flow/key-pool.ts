/**
 * `KeyPool`: N API keys, each with its limiter, quota monitor and state (active, cooling, parked,
 * disabled). (Interface first; implementation follows.)
 */
import type { Clock } from '../clock/clock.js';
import type { Classification } from '../classify/kinds.js';
import type { ApiKey, ProviderResponse } from '../provider/types.js';
import { TypedEmitter } from '../observe/typed-emitter.js';
import type { FlowBackend, KeyState } from './backend.js';
import type { KeyLimits } from './limits.js';
import type { Permit, RateLimiter } from './rate-limiter.js';
import type { QuotaMonitor, QuotaMonitorEvents, QuotaMonitorOptions } from './quota/quota-monitor.js';

/** How the pool chooses among available keys. */
export type KeySelection = 'round-robin' | 'least-loaded' | 'most-headroom';

/** Options of {@link KeyPool}. */
export interface KeyPoolOptions {
  keys: readonly ApiKey[];
  /** Limits of every key; `perKey[name]` overrides fields for one key. */
  limits?: KeyLimits;
  perKey?: Record<string, KeyLimits>;
  /** Default round-robin. */
  selection?: KeySelection;
  /** Cooldown after a 429 that named no wait and no reset, ms. Default 30 000. */
  defaultCooldownMs?: number;
  /** Quota monitoring options applied to every key (key, clock, requestsPerDay are filled in). */
  quota?: Omit<QuotaMonitorOptions, 'key' | 'clock'>;
  clock?: Clock;
  /** Shared state. Default: in memory. */
  backend?: FlowBackend;
}

/** Why a key is not available now. */
export interface WaitingKey {
  key: string;
  state: 'cooling' | 'parked' | 'disabled' | 'paused' | 'limited';
  /** When it can be used again (ms since epoch), absent for disabled keys. */
  untilMs?: number;
}

/** Result of {@link KeyPool.pick}. */
export type PickResult =
  | { ok: true; key: ApiKey; permit: Permit }
  | { ok: false; waitMs: number; waiting: WaitingKey[] };

/** Events of a {@link KeyPool}. */
export interface KeyPoolEvents {
  cooldownStart: { key: string; until: number; ms: number; reason: string };
  cooldownEnd: { key: string };
  parked: { key: string; until: number; reason: string };
  disabled: { key: string; reason: string };
  allUnavailable: { waitMs: number; keys: WaitingKey[] };
  quotaAlert: QuotaMonitorEvents['alert'];
  quotaPause: QuotaMonitorEvents['pause'];
  quotaResume: QuotaMonitorEvents['resume'];
}

/** A pool of keys with per-key limits and cooldowns. */
export class KeyPool {
  readonly events = new TypedEmitter<KeyPoolEvents>();

  constructor(_options: KeyPoolOptions) {
    throw new Error('KeyPool: not implemented yet');
  }

  /** Picks an available key and a permit for `tokens`, or says when the earliest key returns. */
  pick(_tokens = 0): Promise<PickResult> {
    throw new Error('not implemented');
  }
  /** Applies a failure: rate_limited cools, quota_exhausted parks, auth disables; others change nothing. */
  reportFailure(_keyName: string, _classification: Classification): void {}
  /** Feeds a success: usage settles the permit elsewhere; the snapshot goes to the limiter and monitor. */
  reportSuccess(_keyName: string, _response: Pick<ProviderResponse, 'usage' | 'rateLimit'>): void {}
  /** State of each key now. */
  states(): Map<string, KeyState> {
    return new Map();
  }
  /** Earliest time any unavailable key returns, or undefined if one is available or all are disabled. */
  nextAvailableAt(): number | undefined {
    return undefined;
  }
  /** The limiter of a key. */
  limiter(_keyName: string): RateLimiter {
    throw new Error('not implemented');
  }
  /** The quota monitor of a key. */
  monitor(_keyName: string): QuotaMonitor {
    throw new Error('not implemented');
  }
  /** Cancels timers. */
  close(): void {}
}
