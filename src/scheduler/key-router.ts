import type { ApiKey } from '../provider/types.js';
import type { TypedEmitter } from '../observe/typed-emitter.js';
import type { ExecutorEvents } from './events.js';
import type { KeyAvailability, SchedulerKeyPool, SchedulerLimiter, SchedulerPermit, SchedulerQuota } from './ports.js';

/** One key with its limiter and (optional) quota monitor. */
export interface KeyLane {
  readonly key: ApiKey;
  readonly limiter: SchedulerLimiter;
  readonly quota?: SchedulerQuota;
}

/** The router's answer: a key and a permit to start now, or how long until one might exist. */
export type RouteResult =
  | { lane: KeyLane; permit: SchedulerPermit; waitMs?: undefined }
  | { lane?: undefined; permit?: undefined; waitMs: number };

/**
 * The executor's side of the key pool. Key states, cooldowns, rejoins, selection order and learned
 * rates all live in the pool (the flow layer's KeyPool); the router only dispatches: it takes the
 * pool's available keys in selection order, skips keys paused by their quota monitor, and takes the
 * first whose limiter grants a permit. When none can, it says how long until the earliest one could
 * (limiter wait, cooldown end, quota reset), so that the executor sets ONE timer for that moment
 * instead of polling. It turns the pool's answers into the executor's key-level events: `cooldownEnd`,
 * `allKeysUnavailable` (once per episode) and the quota `pause`/`resume`.
 */
export class KeyRouter {
  private readonly lanes = new Map<string, { lane: KeyLane }>();
  private allOut = false;
  private quotaPaused = false;

  constructor(
    lanes: readonly KeyLane[],
    private readonly pool: SchedulerKeyPool,
    private readonly events: TypedEmitter<ExecutorEvents>,
  ) {
    for (const lane of lanes) this.lanes.set(lane.key.name, { lane });
  }

  get size(): number {
    return this.lanes.size;
  }

  lane(name: string): KeyLane | undefined {
    return this.lanes.get(name)?.lane;
  }

  /** Whether some key other than `except` could take work now or soon (not cooling/parked/disabled/quota-paused). */
  hasOtherAvailable(except: string, now: number): boolean {
    for (const name of this.pool.candidates(now)) {
      if (name === except) continue;
      const lane = this.lanes.get(name)?.lane;
      if (lane && lane.quota?.pausedUntil(now) === undefined) return true;
    }
    return false;
  }

  /** Whether some key other than `except` is not disabled (it may take work now or when its cooldown or park ends). */
  hasOtherUsable(except: string, now: number): boolean {
    for (const name of this.lanes.keys()) if (name !== except && this.pool.stateOf(name, now).state !== 'disabled') return true;
    return false;
  }

  /** True when every key is disabled: nothing queued can ever run. */
  allDisabled(now: number): boolean {
    for (const name of this.lanes.keys()) if (this.pool.stateOf(name, now).state !== 'disabled') return false;
    return true;
  }

  /** Tries to start a request of `tokens` now. */
  route(tokens: number, now: number): RouteResult {
    this.noticeReturns(now);
    let waitMs = Infinity;
    let usable = 0;
    let paused = 0;
    for (const name of this.pool.candidates(now)) {
      const lane = this.lanes.get(name)?.lane;
      if (!lane) continue;
      const pausedUntil = lane.quota?.pausedUntil(now);
      if (pausedUntil !== undefined) {
        paused++;
        waitMs = Math.min(waitMs, Math.max(0, pausedUntil - now));
        continue;
      }
      usable++;
      const permit = lane.limiter.tryAcquire(tokens);
      if (permit) {
        this.setAllOut(false, now, 0);
        this.setQuotaPaused(false, now);
        return { lane, permit };
      }
      waitMs = Math.min(waitMs, lane.limiter.waitTimeMs(tokens));
    }
    for (const name of this.lanes.keys()) {
      const st = this.pool.stateOf(name, now);
      if (st.state !== 'active' && st.until !== undefined && Number.isFinite(st.until)) {
        waitMs = Math.min(waitMs, Math.max(0, st.until - now));
      }
    }
    this.setQuotaPaused(usable === 0 && paused > 0, now, waitMs);
    this.setAllOut(usable === 0, now, waitMs);
    return { waitMs };
  }

  /** What each key is doing now (for the `allKeysUnavailable` event). */
  describe(now: number): { key: string; state: KeyAvailability; waitMs: number }[] {
    const out: { key: string; state: KeyAvailability; waitMs: number }[] = [];
    for (const [name, s] of this.lanes) {
      const st = this.pool.stateOf(name, now);
      const pausedUntil = s.lane.quota?.pausedUntil(now);
      if (st.state === 'active' && pausedUntil !== undefined) {
        out.push({ key: name, state: 'parked', waitMs: Math.max(0, pausedUntil - now) });
      } else {
        const until = st.until ?? now;
        out.push({ key: name, state: st.state, waitMs: Number.isFinite(until) ? Math.max(0, until - now) : Infinity });
      }
    }
    return out;
  }

  close(): void {
    for (const s of this.lanes.values()) {
      s.lane.limiter.close?.();
      s.lane.quota?.close?.();
    }
    this.pool.close?.();
  }

  /** The earliest end of a cooldown or park not yet reported with `cooldownEnd` (for the executor's one timer). */
  nextReturnAt(): number | undefined {
    return this.pool.nextRejoinAt();
  }

  /** Lets back in the keys whose cooldown ended (the pool decides) and emits `cooldownEnd` for each. */
  noticeReturns(now: number): void {
    for (const key of this.pool.rejoin(now)) this.events.emit('cooldownEnd', { key });
  }

  private setAllOut(out: boolean, now: number, waitMs: number): void {
    if (out && !this.allOut) {
      this.events.emit('allKeysUnavailable', { keys: this.describe(now), waitMs });
    }
    this.allOut = out;
  }

  private setQuotaPaused(paused: boolean, now: number, waitMs = 0): void {
    if (paused && !this.quotaPaused) this.events.emit('pause', { reason: 'quota', until: now + waitMs });
    if (!paused && this.quotaPaused) this.events.emit('resume', { reason: 'quota' });
    this.quotaPaused = paused;
  }
}
