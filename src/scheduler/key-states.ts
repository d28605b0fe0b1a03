import type { Classification } from '../classify/kinds.js';
import type { KeyFailureEffect, KeyState, SchedulerKeyPool } from './ports.js';

/** How the pool orders available keys. */
export type KeySelectionStrategy = 'round-robin' | 'least-recently-used' | 'fixed-order';

/** Options of {@link KeyStates}. */
export interface KeyStatesOptions {
  /** Default `round-robin`. */
  selection?: KeySelectionStrategy;
  /** Cooldown after a 429 that named no wait and no reset, ms. Default 30,000. */
  defaultCooldownMs?: number;
  /** Park length after `quota_exhausted` with no reset time: until the end of the UTC day (default), or this many ms. */
  parkMs?: number;
}

interface Entry {
  name: string;
  state: KeyState;
  until: number;
  lastUsedAt: number;
}

/**
 * In-memory key states for one executor, the per-profile story's model: a rate-limited key cools on its
 * own (the server's wait, else its reset time, else `defaultCooldownMs`), a quota-exhausted key is
 * parked until its reset or the end of the day, an auth failure disables the key for the run; other
 * keys are untouched. Expired cooldowns count as active at once, so keys rejoin without a timer.
 *
 * (Used until the flow layer's KeyPool offers a synchronous state API; the executor only needs
 * {@link SchedulerKeyPool}.)
 */
export class KeyStates implements SchedulerKeyPool {
  private readonly entries: Entry[];
  private readonly byName = new Map<string, Entry>();
  private cursor = 0;
  private readonly selection: KeySelectionStrategy;
  private readonly defaultCooldownMs: number;
  private readonly parkMs: number | undefined;

  constructor(names: readonly string[], options: KeyStatesOptions = {}) {
    this.selection = options.selection ?? 'round-robin';
    if (!['round-robin', 'least-recently-used', 'fixed-order'].includes(this.selection)) {
      throw new TypeError(`selection must be 'round-robin', 'least-recently-used' or 'fixed-order', got ${String(options.selection)}`);
    }
    this.defaultCooldownMs = options.defaultCooldownMs ?? 30_000;
    if (!(this.defaultCooldownMs >= 0) || !Number.isFinite(this.defaultCooldownMs)) {
      throw new RangeError(`defaultCooldownMs must be a finite number >= 0, got ${String(options.defaultCooldownMs)}`);
    }
    this.parkMs = options.parkMs;
    this.entries = names.map((name) => ({ name, state: 'active' as KeyState, until: 0, lastUsedAt: -Infinity }));
    for (const e of this.entries) this.byName.set(e.name, e);
  }

  candidates(now: number): string[] {
    const n = this.entries.length;
    const out: string[] = [];
    if (this.selection === 'least-recently-used') {
      const sorted = [...this.entries].sort((a, b) => a.lastUsedAt - b.lastUsedAt);
      for (const e of sorted) if (this.isActive(e, now)) out.push(e.name);
      return out;
    }
    const start = this.selection === 'round-robin' ? this.cursor : 0;
    for (let i = 0; i < n; i++) {
      const e = this.entries[(start + i) % n]!;
      if (this.isActive(e, now)) out.push(e.name);
    }
    return out;
  }

  stateOf(name: string, now: number): { state: KeyState; until?: number } {
    const e = this.byName.get(name);
    if (!e) return { state: 'disabled', until: Infinity };
    if (this.isActive(e, now)) return { state: 'active' };
    return { state: e.state, until: e.until };
  }

  /** Marks a start on `name`: round robin moves past it. */
  onStart(name: string, now: number): void {
    const e = this.byName.get(name);
    if (!e) return;
    e.lastUsedAt = now;
    this.cursor = (this.entries.indexOf(e) + 1) % this.entries.length;
  }

  onSuccess(name: string, now: number): void {
    const e = this.byName.get(name);
    if (e && e.state !== 'disabled' && e.until <= now) e.state = 'active';
  }

  onFailure(name: string, c: Classification, now: number): KeyFailureEffect {
    const e = this.byName.get(name);
    if (!e) return { state: 'active' };
    if (c.kind === 'auth') {
      e.state = 'disabled';
      e.until = Infinity;
    } else if (c.kind === 'rate_limited' || (c.kind === 'quota_exhausted' && c.quotaScope === 'minute')) {
      this.holdOut(e, 'cooling', waitFrom(c, now) ?? now + this.defaultCooldownMs);
    } else if (c.kind === 'quota_exhausted') {
      this.holdOut(e, 'parked', waitFrom(c, now) ?? (this.parkMs !== undefined ? now + this.parkMs : endOfUtcDay(now)));
    }
    return this.isActive(e, now) ? { state: 'active' } : { state: e.state, until: e.until };
  }

  private holdOut(e: Entry, state: KeyState, until: number): void {
    if (e.state === 'disabled') return;
    // A later failure never shortens a cooldown already in force.
    if (e.state !== 'active' && e.until > until) return;
    e.state = state;
    e.until = until;
  }

  private isActive(e: Entry, now: number): boolean {
    if (e.state === 'active') return true;
    if (e.state === 'disabled') return false;
    if (e.until <= now) {
      e.state = 'active';
      return true;
    }
    return false;
  }
}

/** The server's wait: `retryAfterMs`, else `resetAt`, as an absolute time. */
function waitFrom(c: Classification, now: number): number | undefined {
  if (c.retryAfterMs !== undefined && c.retryAfterMs >= 0) return now + c.retryAfterMs;
  if (c.resetAt !== undefined && c.resetAt > now) return c.resetAt;
  return undefined;
}

function endOfUtcDay(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}
