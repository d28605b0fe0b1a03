/**
 * `KeyPool`: N API keys, each with its own limiter, quota monitor and state (active, cooling(until),
 * parked(until), disabled). The per-profile story: a 429 cools only the key that got it, the job runs
 * at once on another key, and cooled keys rejoin by themselves when their cooldown ends (one timer per
 * cooling key, no polling). Only key *names* appear in events and errors.
 *
 * Key states live in the backend's {@link KeyStateStore} (shared between processes with Redis) and in
 * a local mirror read synchronously; with an asynchronous backend, `pick()` refreshes the mirror first.
 */
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/system-clock.js';
import type { Classification } from '../classify/kinds.js';
import type { ApiKey, ProviderResponse } from '../provider/types.js';
import { showsQuotaLeft, type RateLimitSnapshot } from '../classify/rate-limit/snapshot.js';
import type { LearnedRateOptions } from './learned-rate.js';
import { TypedEmitter } from '../observe/typed-emitter.js';
import { ACTIVE, MemoryFlowBackend, isPending, type FlowBackend, type KeyState } from './backend.js';
import { validateLimits, type KeyLimits } from './limits.js';
import { RateLimiter, type Permit, type ReserveOutcome } from './rate-limiter.js';
import { QuotaMonitor, type QuotaMonitorEvents, type QuotaMonitorOptions } from './quota/quota-monitor.js';

/**
 * How the pool orders available keys: `round-robin` (after the key last started), `fixed-order` (the
 * first available key in the given order), `least-recently-used`, `least-loaded` (fewest calls in
 * flight), `most-headroom` (lowest quota usage).
 */
export type KeySelection = 'round-robin' | 'fixed-order' | 'least-recently-used' | 'least-loaded' | 'most-headroom';

/** Every {@link KeySelection}, for validation. */
export const KEY_SELECTIONS: readonly KeySelection[] = ['round-robin', 'fixed-order', 'least-recently-used', 'least-loaded', 'most-headroom'];

/** Default cooldown after a bare 429 (no wait, no reset) when the key does not learn its rate: the per-profile story's 30 s. */
export const DEFAULT_COOLDOWN_MS = 30_000;

/**
 * Default cooldown after a bare 429 when the key learns its rate. The learned rate (cut to 0.9 of what
 * got through) is what protects the server then; a long cooldown on top only leaves the key idle while a
 * bucket refills in milliseconds.
 */
export const LEARNING_COOLDOWN_MS = 100;

/**
 * With learning on, each further bare 429 of a call started after the previous one (a probe that
 * failed too, with no success between) doubles the cooldown up to this (ms): a window that refuses
 * everything until it ends is probed at 0.1, 0.2, 0.4, … 8 s, not every 100 ms. 429s of calls that
 * were already in flight at the first one are the same congestion event and do not double it.
 */
export const LEARNING_MAX_COOLDOWN_MS = 8_000;

/**
 * A refusal that has lasted `t` is probed again within `max(PROBE_FLOOR_MS, t / PROBE_SHARE)`: the
 * wait past the window's end is then at most a second, or a quarter of how long it refused. Plain
 * doubling probed a 5 s fixed window at 0.1, 0.3, 0.7, 1.5, 3.1, 6.3 s and so idled up to 3 s past its
 * reset (bench fixed-window-ietf/blind); a one-minute window is still probed about 20 times, not 600.
 */
const PROBE_FLOOR_MS = 1_000;
const PROBE_SHARE = 4;

/** Options of {@link KeyPool}. */
export interface KeyPoolOptions {
  keys: readonly ApiKey[];
  /** Limits of every key; `perKey[name]` overrides fields for one key. */
  limits?: KeyLimits;
  perKey?: Record<string, KeyLimits>;
  /** Default round-robin. */
  selection?: KeySelection;
  /**
   * Cooldown after a 429 that named no wait and no reset, ms. Default {@link LEARNING_COOLDOWN_MS}
   * (0.1 s, doubled for each further bare 429 in a row up to {@link LEARNING_MAX_COOLDOWN_MS}) when the
   * keys learn their rate, else {@link DEFAULT_COOLDOWN_MS} (30 s, fixed).
   */
  defaultCooldownMs?: number;
  /** Park length after `quota_exhausted` that names no reset: this many ms; default until the end of the UTC day. */
  parkMs?: number;
  /**
   * Let each key's limiter learn its request rate from 429s that name no wait and no reset (CUBIC, see
   * `learned-rate.ts`). A 429 that names its wait only cools the key for that wait. `false` keeps exactly
   * the configured limits (the Veo story's 5 s spacing). Default true.
   */
  learnRate?: boolean | LearnedRateOptions;
  /**
   * One timer per cooling or parked key lets it back in and announces `cooldownEnd` on time. Default
   * true. The executor turns it off and calls {@link KeyPool.rejoin} from its own single timer
   * ({@link KeyPool.nextRejoinAt}), so that a cooldown costs no timer of its own. Either way an expired
   * cooldown counts as over at once.
   */
  rejoinTimers?: boolean;
  /** Quota monitoring options applied to every key (key, clock and requestsPerDay are filled in). */
  quota?: Omit<QuotaMonitorOptions, 'key' | 'clock'>;
  clock?: Clock;
  /** Shared state. Default: in memory. */
  backend?: FlowBackend;
}

/** Why a key is not available now. */
export interface WaitingKey {
  key: string;
  state: 'cooling' | 'parked' | 'disabled' | 'paused' | 'limited';
  /** When it can be used again (ms since epoch); absent for disabled keys. */
  untilMs?: number;
}

/** Result of {@link KeyPool.pick}. */
export type PickResult =
  | { ok: true; key: ApiKey; permit: Permit }
  | { ok: false; waitMs: number; waiting: WaitingKey[] };

/** What the caller knows about a failed call beyond its classification. */
export interface FailureDetail {
  /** When the call started (its permit's `startedAt`): 429s of calls started before the last decrease count once. */
  startedAt?: number;
  /** The rate-limit headers of the failed response, if any (a 429 with headers is not learned from). */
  rateLimit?: RateLimitSnapshot;
}

/** What a failure did to the key. */
export interface KeyFailureEffect {
  state: KeyState['state'];
  /** Until when the key is unavailable; `Infinity` for disabled; absent when active. */
  until?: number;
  /** True when this failure started (or lengthened) the cooldown, park or disable; false when the state it reports was already there. */
  changed: boolean;
  /**
   * The refused call was the key's probe: it started after the key's last bare 429, with no success
   * since, so its refusal says the key still refuses and nothing about the item (see `decideAfterFailure`).
   */
  probe?: boolean;
}

/** Events of a {@link KeyPool}. */
export interface KeyPoolEvents {
  cooldownStart: { key: string; until: number; ms: number; reason: string };
  /** A cooling or parked key is available again. */
  cooldownEnd: { key: string };
  parked: { key: string; until: number; reason: string };
  disabled: { key: string; reason: string };
  /** No key can start now; `keys` says which wait and until when. */
  allUnavailable: { waitMs: number; keys: WaitingKey[] };
  quotaAlert: QuotaMonitorEvents['alert'];
  quotaPause: QuotaMonitorEvents['pause'];
  quotaResume: QuotaMonitorEvents['resume'];
}

interface Entry {
  readonly key: ApiKey;
  readonly limiter: RateLimiter;
  readonly monitor: QuotaMonitor;
  readonly index: number;
  /** Sequence number of the last start on this key (0: never), for least-recently-used. */
  lastStart: number;
  /** Bare 429s in a row with no success between them, and when the last one came. */
  strikes: number;
  lastStrikeAt: number;
  /** When the strikes in a row began (the first bare 429 after a success). */
  firstStrikeAt: number;
  /** When the last 429 that its own headers contradicted came (see {@link showsQuotaLeft}), and whether a call succeeded since. */
  lastContradictedAt: number;
  okSinceContradicted: boolean;
  cancelRejoin?: () => void;
}

const DAY_MS = 86_400_000;

/** Whether a 429's headers announce a limit (then the limiter knows the rate and need not learn it). */
function announcesLimit(snapshot: RateLimitSnapshot | undefined): boolean {
  return snapshot?.requests?.limit !== undefined;
}

/** The server's wait as an absolute time: `retryAfterMs`, else a `resetAt` still ahead. */
function serverWait(c: Classification, now: number): number | undefined {
  if (c.retryAfterMs !== undefined && c.retryAfterMs >= 0) return now + c.retryAfterMs;
  if (c.resetAt !== undefined && c.resetAt > now) return c.resetAt;
  return undefined;
}

/** A pool of keys with per-key limits, cooldowns and quota. */
export class KeyPool {
  /** Every state change of a key, and quota events of every key. */
  readonly events = new TypedEmitter<KeyPoolEvents>();
  private readonly clock: Clock;
  private readonly backend: FlowBackend;
  private readonly entries: Entry[];
  private readonly byName = new Map<string, Entry>();
  private readonly local = new Map<string, KeyState>();
  private readonly selection: KeySelection;
  private readonly defaultCooldownMs: number;
  /** Whether the cooldown is the default (not configured): only then is a first strike shortened to the learned spacing. */
  private readonly defaultCooldownIsDefault: boolean;
  private readonly parkMs: number | undefined;
  private readonly learnRate: boolean | LearnedRateOptions;
  private readonly rejoinTimers: boolean;
  private cursor = 0;
  private starts = 0;
  private lastAllUnavailableAt: number | undefined;

  constructor(options: KeyPoolOptions) {
    const where = 'key pool';
    if (!options || !Array.isArray(options.keys) || options.keys.length === 0) throw new TypeError(`${where}: keys must be a non-empty array`);
    this.clock = options.clock ?? systemClock;
    this.backend = options.backend ?? new MemoryFlowBackend();
    this.selection = options.selection ?? 'round-robin';
    if (!KEY_SELECTIONS.includes(this.selection)) throw new TypeError(`${where}: selection must be one of ${KEY_SELECTIONS.join(', ')}, got ${String(this.selection)}`);
    this.learnRate = options.learnRate ?? true;
    if (typeof this.learnRate !== 'boolean' && (this.learnRate === null || typeof this.learnRate !== 'object')) {
      throw new TypeError(`${where}: learnRate must be a boolean or learned-rate options, got ${String(options.learnRate)}`);
    }
    this.defaultCooldownMs = options.defaultCooldownMs ?? (this.learnRate === false ? DEFAULT_COOLDOWN_MS : LEARNING_COOLDOWN_MS);
    this.defaultCooldownIsDefault = options.defaultCooldownMs === undefined;
    if (!(this.defaultCooldownMs >= 0) || !Number.isFinite(this.defaultCooldownMs)) {
      throw new RangeError(`${where}: defaultCooldownMs must be a finite number >= 0, got ${String(options.defaultCooldownMs)}`);
    }
    this.parkMs = options.parkMs;
    this.rejoinTimers = options.rejoinTimers ?? true;
    if (this.parkMs !== undefined && (!(this.parkMs >= 0) || !Number.isFinite(this.parkMs))) {
      throw new RangeError(`${where}: parkMs must be a finite number >= 0, got ${String(options.parkMs)}`);
    }
    this.entries = options.keys.map((key, i) => {
      if (!key || typeof key.name !== 'string' || key.name.length === 0) throw new TypeError(`${where}: keys[${i}].name must be a non-empty string`);
      if (this.byName.has(key.name)) throw new TypeError(`${where}: keys[${i}].name "${key.name}" is duplicated`);
      const limits = { ...options.limits, ...options.perKey?.[key.name] };
      validateLimits(limits, `${where}: key "${key.name}"`);
      const entry = this.makeEntry(key, i, limits, options.quota);
      this.byName.set(key.name, entry);
      return entry;
    });
  }

  /** Key names in pool order. */
  get names(): string[] {
    return this.entries.map((e) => e.key.name);
  }

  /** The limiter of a key. */
  limiter(keyName: string): RateLimiter {
    return this.entry(keyName).limiter;
  }

  /** Whether the keys' limiters learn their rate from bare 429s. */
  get learning(): boolean {
    return this.learnRate !== false;
  }

  /** The quota monitor of a key. */
  monitor(keyName: string): QuotaMonitor {
    return this.entry(keyName).monitor;
  }

  /**
   * Picks an available key and a permit for `tokens` now, in the selection order; or says how long
   * until the earliest key could start, and why each key waits.
   */
  async pick(tokens = 0): Promise<PickResult> {
    const refreshed = this.refresh();
    if (refreshed) await refreshed;
    const now = this.clock.now();
    const waiting: WaitingKey[] = [];
    for (const entry of this.ordered(now)) {
      const blocked = this.blocked(entry, now);
      if (blocked) {
        waiting.push(blocked);
        continue;
      }
      const answer = entry.limiter.reserve(tokens);
      const outcome: ReserveOutcome = isPending(answer) ? await answer : answer;
      if (outcome.permit) {
        this.onStart(entry.key.name);
        entry.monitor.recordRequest(tokens);
        return { ok: true, key: entry.key, permit: outcome.permit };
      }
      const w: WaitingKey = { key: entry.key.name, state: 'limited' };
      if (Number.isFinite(outcome.waitMs)) w.untilMs = now + outcome.waitMs;
      waiting.push(w);
    }
    const times = waiting.map((w) => w.untilMs).filter((t): t is number => t !== undefined);
    const waitMs = times.length > 0 ? Math.max(0, Math.min(...times) - now) : Infinity;
    if (waiting.every((w) => w.state !== 'limited')) this.announceAllUnavailable(now, waitMs, waiting);
    return { ok: false, waitMs, waiting };
  }

  /**
   * Applies a failure on `keyName`: `rate_limited` cools only that key (for the server's wait, else
   * until its reset, else `defaultCooldownMs`); `quota_exhausted` parks it until its `resumeAt`, else its reset, else the end of
   * the UTC day (a per-minute quota cools instead); `auth` disables it for the run. Other kinds change nothing.
   *
   * Only a 429 that names no wait, no reset and carries no rate-limit headers lowers the key's learned
   * rate: one that names its wait is handled exactly by the cooldown, and learning from it as well
   * would only slow the key down (bench/executor.bench.ts, part 3).
   */
  reportFailure(keyName: string, classification: Classification, detail: FailureDetail = {}, now = this.clock.now()): KeyFailureEffect {
    const entry = this.entry(keyName);
    const c = classification;
    if (c.kind === 'rate_limited' || (c.kind === 'quota_exhausted' && c.quotaScope === 'minute')) {
      const wait = serverWait(c, now);
      // A 429 that its own headers contradict leaves the key working while calls on it still succeed
      // (random refusals; a concurrency cap, which adaptive concurrency meets). Calls already in flight
      // when it came are the same event. A later call refused too, with no success since (a limit the
      // headers do not show), cools the key as usual.
      if (c.kind === 'rate_limited' && showsQuotaLeft(detail.rateLimit)) {
        const sameEvent = detail.startedAt !== undefined && detail.startedAt <= entry.lastContradictedAt;
        if (sameEvent) return this.unchanged(keyName, now);
        if (entry.okSinceContradicted) {
          entry.lastContradictedAt = now;
          entry.okSinceContradicted = false;
          return this.unchanged(keyName, now);
        }
      }
      // A 429 that came because more calls were in flight than the key's learned concurrency cap allows
      // is explained by that cap, which now holds the next calls back.
      if (c.kind === 'rate_limited' && wait === undefined && entry.limiter.refusalExplainedByInFlightCap(detail.startedAt)) return this.unchanged(keyName, now);
      // A 429 whose headers announce the limit is handled by the limiter (it adopts the limit and the
      // remainder); any other 429 (bare, or naming only its wait) teaches the key its rate.
      if (c.kind === 'rate_limited' && !announcesLimit(detail.rateLimit)) entry.limiter.onRateLimited(detail.startedAt);
      if (wait !== undefined) return this.cool(entry, 'cooling', wait, c.code ?? c.kind, now);
      const probe = this.learnRate !== false && this.strikeOf(entry, detail.startedAt) === 'probe';
      const effect = this.cool(entry, 'cooling', now + this.bareCooldownMs(entry, detail.startedAt), c.code ?? c.kind, now);
      return probe ? { ...effect, probe } : effect;
    }
    if (c.kind === 'quota_exhausted') {
      // The classifier's resume time (a regain date, a daily reset) wins over a short RetryInfo on the same answer.
      const resume = c.resumeAt !== undefined && c.resumeAt > now ? c.resumeAt : undefined;
      const until = resume ?? serverWait(c, now) ?? (this.parkMs !== undefined ? now + this.parkMs : (Math.floor(now / DAY_MS) + 1) * DAY_MS);
      return this.cool(entry, 'parked', until, c.code ?? `quota exhausted (${c.quotaScope ?? 'unknown'})`, now);
    }
    if (c.kind === 'auth') {
      const current = this.stateOf(keyName, now);
      if (current.state === 'disabled') return { state: 'disabled', until: Infinity, changed: false };
      const reason = `auth failure${c.status !== undefined ? ` (HTTP ${c.status})` : ''}: key disabled for this run`;
      this.setState(entry, { state: 'disabled', reason }, now);
      entry.cancelRejoin?.();
      this.events.emit('disabled', { key: keyName, reason });
      return { state: 'disabled', until: Infinity, changed: true };
    }
    return this.unchanged(keyName, now);
  }

  /** The key's state, as an effect that changed nothing (a 503 on a key that cools from an earlier 429 is no new cooldown). */
  private unchanged(name: string, now: number): KeyFailureEffect {
    return { ...this.stateOf(name, now), changed: false };
  }

  /** Feeds a success: the response's rate-limit snapshot to the key's limiter and monitor, its usage to the daily counter. */
  reportSuccess(keyName: string, response: Pick<ProviderResponse, 'usage' | 'rateLimit'> = {}): void {
    const entry = this.entry(keyName);
    entry.strikes = 0;
    entry.okSinceContradicted = true;
    entry.limiter.onSuccess();
    if (response.rateLimit) {
      entry.limiter.observe(response.rateLimit);
      entry.monitor.observe(response.rateLimit);
    }
    if (response.usage) entry.monitor.recordTokens(response.usage.inputTokens + response.usage.outputTokens);
  }

  /** Non-active states of the keys now (expired cooldowns dropped). */
  states(): Map<string, KeyState> {
    const now = this.clock.now();
    const out = new Map<string, KeyState>();
    for (const e of this.entries) {
      const s = this.current(e.key.name, now);
      if (s.state !== 'active') out.set(e.key.name, s);
    }
    return out;
  }

  /** Earliest time an unavailable key returns, or undefined when a key is available now or every key is disabled. */
  nextAvailableAt(): number | undefined {
    const now = this.clock.now();
    let earliest: number | undefined;
    for (const e of this.entries) {
      const b = this.blocked(e, now);
      if (!b) return undefined;
      if (b.untilMs !== undefined && (earliest === undefined || b.untilMs < earliest)) earliest = b.untilMs;
    }
    return earliest;
  }

  /** Earliest end of a cooldown or park not yet announced with `cooldownEnd`, or undefined. */
  nextRejoinAt(): number | undefined {
    let at: number | undefined;
    for (const s of this.local.values()) {
      if ((s.state === 'cooling' || s.state === 'parked') && (at === undefined || s.until < at)) at = s.until;
    }
    return at;
  }

  /** Lets back in every key whose cooldown or park has ended, announcing each (`cooldownEnd`); returns their names. */
  rejoin(now = this.clock.now()): string[] {
    const back: string[] = [];
    for (const [name, s] of this.local) {
      if ((s.state === 'cooling' || s.state === 'parked') && s.until <= now) back.push(name);
    }
    for (const name of back) this.letBackIn(this.entry(name));
    return back;
  }

  // ---- The executor's `SchedulerKeyPool` port (structural; flow does not import the scheduler). ----

  /** Names of the keys available now, in the selection order. */
  candidates(now = this.clock.now()): string[] {
    const out: string[] = [];
    for (const e of this.ordered(now)) if (!this.blocked(e, now)) out.push(e.key.name);
    return out;
  }

  /** State of one key now; a quota pause reads as `parked` until its end. */
  stateOf(name: string, now = this.clock.now()): { state: KeyState['state']; until?: number } {
    const s = this.current(name, now);
    if (s.state === 'disabled') return { state: 'disabled', until: Infinity };
    if (s.state !== 'active') return { state: s.state, until: s.until };
    const paused = this.entry(name).monitor.pausedUntil();
    return paused !== undefined ? { state: 'parked', until: paused } : { state: 'active' };
  }

  /** Told that a call started on `name`: the round-robin cursor moves past it, least-recently-used notes the time. */
  onStart(name: string, _now?: number): void {
    const e = this.byName.get(name);
    if (!e) return;
    e.lastStart = ++this.starts;
    this.cursor = (e.index + 1) % this.entries.length;
  }

  /** Port form of {@link reportSuccess} (the executor feeds the response to the limiter and monitor itself). */
  onSuccess(name: string, _now?: number, startedAt?: number): void {
    const entry = this.entry(name);
    // Only a call started after the last 429 shows the key gets through again.
    if (startedAt === undefined || startedAt >= entry.lastStrikeAt) entry.strikes = 0;
    // Any answer since counts (a call in flight then as well): with the key truly blocked, 429s soon follow
    // one another with no success between them.
    entry.okSinceContradicted = true;
    entry.limiter.onSuccess(startedAt);
  }

  /** Port form of {@link reportFailure}. */
  onFailure(name: string, classification: Classification, now = this.clock.now(), detail?: FailureDetail): KeyFailureEffect {
    return this.reportFailure(name, classification, detail, now);
  }

  /** A key's bare-429 strikes in a row and when the last came, for processes that share the key (batch/redis). */
  strikesOf(name: string): { strikes: number; at: number } {
    const e = this.entry(name);
    return { strikes: e.strikes, at: e.lastStrikeAt };
  }

  /** Adopts the strikes of a fleet that shares the key: a burst of 429s seen by several processes is one cooldown step. */
  adoptStrikes(name: string, strikes: number, at: number): void {
    const e = this.entry(name);
    if (!(strikes >= 0) || !Number.isFinite(strikes)) return;
    e.strikes = Math.floor(strikes);
    e.lastStrikeAt = strikes > 0 ? at : -Infinity;
    if (strikes === 0) e.firstStrikeAt = -Infinity;
    else if (!Number.isFinite(e.firstStrikeAt)) e.firstStrikeAt = at;
  }

  /** Cancels every rejoin timer, resume timer and limiter waiter. */
  close(): void {
    for (const e of this.entries) {
      e.cancelRejoin?.();
      e.cancelRejoin = undefined;
      e.monitor.close();
      e.limiter.close();
    }
  }

  private makeEntry(key: ApiKey, index: number, limits: KeyLimits, quota: KeyPoolOptions['quota']): Entry {
    const limiter = new RateLimiter({ ...limits, key: key.name, clock: this.clock, store: this.backend.limiter, learn: this.learnRate });
    const monitorOptions: QuotaMonitorOptions = { ...quota, key: key.name, clock: this.clock };
    if (limits.requestsPerDay !== undefined) monitorOptions.requestsPerDay = limits.requestsPerDay;
    const monitor = new QuotaMonitor(monitorOptions);
    monitor.events.on('alert', (e) => this.events.emit('quotaAlert', e));
    monitor.events.on('pause', (e) => this.events.emit('quotaPause', e));
    monitor.events.on('resume', (e) => this.events.emit('quotaResume', e));
    return { key, limiter, monitor, index, lastStart: 0, strikes: 0, lastStrikeAt: -Infinity, firstStrikeAt: -Infinity, lastContradictedAt: -Infinity, okSinceContradicted: true };
  }

  private entry(name: string): Entry {
    const e = this.byName.get(name);
    if (!e) throw new RangeError(`key pool: unknown key "${name}"`);
    return e;
  }

  /** Local state of `name`, expired cooldowns treated as active. */
  private current(name: string, now: number): KeyState {
    const s = this.local.get(name);
    if (!s) return ACTIVE;
    if ((s.state === 'cooling' || s.state === 'parked') && s.until <= now) return ACTIVE;
    return s;
  }

  /** Why `entry` cannot start now (state or quota pause), or undefined when it may. */
  private blocked(entry: Entry, now: number): WaitingKey | undefined {
    const name = entry.key.name;
    const s = this.current(name, now);
    if (s.state === 'disabled') return { key: name, state: 'disabled' };
    if (s.state !== 'active') return { key: name, state: s.state, untilMs: s.until };
    const paused = entry.monitor.pausedUntil();
    if (paused !== undefined) return { key: name, state: 'paused', untilMs: paused };
    // After a 429 with learning on, the key is on probation until a call started after it succeeds:
    // one call at a time probes it, so a window that still refuses costs one attempt, not a burst.
    if (this.learnRate !== false && entry.strikes > 0 && entry.limiter.inFlight > 0) return { key: name, state: 'limited' };
    return undefined;
  }

  /** Entries in the order the selection strategy tries them (sorts are stable: ties keep round-robin order). */
  private ordered(_now: number): readonly Entry[] {
    if (this.selection === 'fixed-order') return this.entries;
    const n = this.entries.length;
    const rr = this.cursor === 0 ? this.entries.slice() : Array.from({ length: n }, (_, i) => this.entries[(this.cursor + i) % n]!);
    if (this.selection === 'least-recently-used') return rr.sort((a, b) => a.lastStart - b.lastStart);
    if (this.selection === 'least-loaded') return rr.sort((a, b) => a.limiter.inFlight - b.limiter.inFlight);
    if (this.selection === 'most-headroom') {
      const usage = new Map(rr.map((e) => [e, e.monitor.maxUsage()] as const));
      return rr.sort((a, b) => usage.get(a)! - usage.get(b)!);
    }
    return rr;
  }

  private cool(entry: Entry, state: 'cooling' | 'parked', until: number, reason: string, now: number): KeyFailureEffect {
    const name = entry.key.name;
    const before = this.current(name, now);
    if (before.state === 'disabled') return { state: 'disabled', until: Infinity, changed: false };
    if (before.state !== 'active' && before.until >= until) return { state: before.state, until: before.until, changed: false };
    if (until <= now) return this.unchanged(name, now); // a zero wait: nothing to cool
    this.setState(entry, { state, until, reason }, now);
    this.scheduleRejoin(entry, until - now);
    if (state === 'cooling') this.events.emit('cooldownStart', { key: name, until, ms: until - now, reason });
    else this.events.emit('parked', { key: name, until, reason });
    return { state, until, changed: true };
  }

  /**
   * How a bare 429's call stands to the key's strikes in a row: `same` when it was in flight at the last
   * strike (the same congestion event), `probe` when it started after it with no success since (the key
   * was already refusing), else `first`. One rule for the cooldown step and for what the item is charged.
   */
  private strikeOf(entry: Entry, startedAt: number | undefined): 'first' | 'same' | 'probe' {
    if (entry.strikes === 0 || startedAt === undefined) return 'first';
    return startedAt <= entry.lastStrikeAt ? 'same' : 'probe';
  }

  /**
   * Cooldown after a 429 that names no wait: `defaultCooldownMs`; with learning on, doubled for each
   * further one in a row without a success, up to {@link LEARNING_MAX_COOLDOWN_MS} (or the default, if longer).
   */
  private bareCooldownMs(entry: Entry, startedAt?: number): number {
    if (this.learnRate === false) return this.defaultCooldownMs;
    // A call started before the last strike was in flight when it came: the same event, no new strike.
    const sameEvent = this.strikeOf(entry, startedAt) === 'same';
    const strikes = sameEvent ? entry.strikes - 1 : entry.strikes;
    const now = this.clock.now();
    // The first strike, with the default cooldown, waits no longer than one start's spacing at the rate
    // learned (just cut): the cut already slows the key, and 100 ms more on each event idled a key that
    // saws along a sliding log's limit 6 % of the time (bench sliding-window/blind). A window that keeps
    // refusing meets the doubled strikes from the second on.
    const first = strikes === 0 && this.defaultCooldownIsDefault ? Math.min(this.defaultCooldownMs, entry.limiter.learnedSpacingMs() ?? Infinity) : this.defaultCooldownMs;
    const ms = first * 2 ** Math.min(strikes, 30);
    if (!sameEvent) {
      if (entry.strikes === 0) entry.firstStrikeAt = now;
      entry.strikes++;
      entry.lastStrikeAt = now;
    }
    const refusingFor = Number.isFinite(entry.firstStrikeAt) ? now - entry.firstStrikeAt : 0;
    const probeWithin = Math.max(PROBE_FLOOR_MS, refusingFor / PROBE_SHARE);
    return Math.max(first, Math.min(ms, probeWithin, LEARNING_MAX_COOLDOWN_MS));
  }

  /** With rejoin timers, one timer lets the key back in when its cooldown ends; else the owner calls {@link rejoin}. */
  private scheduleRejoin(entry: Entry, ms: number): void {
    entry.cancelRejoin?.();
    entry.cancelRejoin = undefined;
    if (!this.rejoinTimers) return;
    entry.cancelRejoin = this.clock.setTimer(ms, () => {
      entry.cancelRejoin = undefined;
      this.letBackIn(entry);
    });
  }

  private letBackIn(entry: Entry): void {
    entry.cancelRejoin?.();
    entry.cancelRejoin = undefined;
    this.local.delete(entry.key.name);
    this.events.emit('cooldownEnd', { key: entry.key.name });
  }

  private setState(entry: Entry, state: KeyState, now: number): void {
    this.local.set(entry.key.name, state);
    const written = this.backend.keys.set(entry.key.name, state, now);
    if (isPending(written)) written.catch(() => undefined); // the local mirror still holds it
  }

  /** With an asynchronous backend, adopts states other processes set (cooldowns, parks, disables). */
  private refresh(): Promise<void> | undefined {
    const now = this.clock.now();
    const remote = this.backend.keys.states(now);
    if (!isPending(remote)) return undefined;
    return remote.then(
      (map) => {
        for (const [name, state] of map) {
          const entry = this.byName.get(name);
          if (!entry) continue;
          const mine = this.current(name, now);
          if (mine.state === 'active' && state.state !== 'active') {
            this.local.set(name, state);
            if (state.state === 'cooling' || state.state === 'parked') this.scheduleRejoin(entry, state.until - now);
          }
        }
      },
      () => undefined,
    );
  }

  private announceAllUnavailable(now: number, waitMs: number, keys: WaitingKey[]): void {
    const target = now + waitMs;
    if (this.lastAllUnavailableAt === target) return; // the same wait, already announced
    this.lastAllUnavailableAt = target;
    this.events.emit('allUnavailable', { waitMs, keys });
  }
}
