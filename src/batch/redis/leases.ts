/**
 * Leases: the shared Redis bucket of every key, answered synchronously in this process, so that a
 * worker runs the executor of `createSluice` unchanged (its dispatcher asks its limiters `tryAcquire`
 * and `waitTimeMs` synchronously; see scheduler/ports.ts).
 *
 * Each key holds a small local allowance of starts (and tokens) granted atomically by ONE script call
 * for all keys (`scripts/lease.lua`: n starts = n reserves of the shared bucket, so it grants exactly
 * what the in-process limiter would). A start is taken from the allowance without a round trip; the
 * allowance is topped up in the background before it runs out, and what is not used within
 * {@link LEASE_TTL_MS} goes back to the bucket. The same call carries what the worker learnt since the
 * last one (token settlements, the server's latest remainder from the rate-limit headers) and brings
 * back each key's shared state (cooled, parked or disabled by any worker) and when the bucket can grant
 * its next start, so `waitTimeMs` stays synchronous too.
 *
 * Cost: one command per lease for all keys, instead of one reserve per request; nothing when idle.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../../clock/clock.js';
import { ACTIVE, MemoryQuotaStore, type FlowBackend, type KeyState, type KeyStateStore, type LimiterStore } from '../../flow/backend.js';
import type { BucketSpec, ReserveResult, ServerCap } from '../../flow/bucket.js';
import { readScript } from '../../flow/redis/scripts.js';
import { specArgs, type RedisKeyStateStore } from '../../flow/redis/redis-flow-backend.js';

/** Leased starts not used within this long go back to the shared bucket, ms (while held, no other worker can use them). */
export const LEASE_TTL_MS = 150;
/** A lease holds about this long's worth of this worker's recent starts on the key, ms. */
const LEASE_HORIZON_MS = 50;
/** Most starts one key's lease holds. */
const MAX_LEASE = 16;
/** How long a start waits for a lease call on the way, ms (the executor looks again then). */
const LEASE_WAIT_MS = 2;
/** Settlements and server caps reach the shared bucket within this long when no lease call takes them earlier, ms. */
const FLUSH_MS = 250;

const FLOW_BASE = new URL('../../flow/redis/redis-flow-backend.js', import.meta.url).href;
const HERE = import.meta.url;

/** The lease script: the bucket library, the three bucket scripts as functions, then lease.lua. */
function leaseScript(): string {
  const wrap = (name: string, file: string): string => `local function ${name}()\n${readScript(FLOW_BASE, file)}\nend\n`;
  return [readScript(FLOW_BASE, 'bucket-lib'), wrap('sluice_reserve', 'reserve'), wrap('sluice_settle', 'settle'), wrap('sluice_cap', 'cap'), readScript(HERE, 'lease')].join('\n');
}

/** One key's local side of its lease. */
interface Lease {
  readonly name: string;
  readonly bucketKey: string;
  readonly stateKey: string;
  /** Starts held and not used yet. */
  permits: number;
  /** Tokens held with them. */
  tokens: number;
  /** When the held starts were granted (local clock); they go back after {@link LEASE_TTL_MS}. */
  grantedAt: number;
  /** Starts to ask for at once: {@link LEASE_HORIZON_MS} worth of this worker's recent rate on the key, at least 1. */
  size: number;
  /** This worker's recent starts per ms on the key (moving average), and when it was last updated. */
  rate: number;
  rateAt: number;
  /** Tokens reserved with each start (the largest request seen). */
  tokensEach: number;
  /** The spec the limiter last asked with (the effective rate, learned or announced). */
  spec: BucketSpec | undefined;
  /** A start was refused locally since the last lease call. */
  demand: boolean;
  /** Starts to give back on the next call. */
  giveBack: number;
  giveBackTokens: number;
  /** Tokens charged (> 0) or refunded (< 0) since the last call. */
  settle: number;
  /** The server's latest remainder, not yet sent, with the local start count when it came. */
  cap: { cap: ServerCap; at: number; startsBefore: number } | undefined;
  /** Starts taken from this lease so far. */
  starts: number;
  /** When the shared bucket can grant the next start, as of the last call (local clock). */
  nextAt: number;
}

/** Events of the lease engine that the worker reports. */
export interface LeaseListener {
  /** Another worker's key state (or its end) arrived with a lease answer. */
  onState?(name: string, state: KeyState): void;
  onError?(error: unknown): void;
}

/**
 * The shared buckets of a worker's keys, as a synchronous {@link LimiterStore}, and the fleet's key
 * states, as a synchronous {@link KeyStateStore} mirror (written through to Redis; refreshed by every
 * lease answer).
 */
export class LeaseEngine {
  /** Lease calls made (each is one command). */
  calls = 0;
  readonly limiter: LimiterStore;
  readonly keys: KeyStateStore;
  private readonly leases = new Map<string, Lease>();
  private readonly remote = new Map<string, KeyState>();
  private readonly command: (...args: (string | number)[]) => Promise<unknown>;
  private inFlight = false;
  /** A call was asked for (at this time) while one was on the way. */
  private againAt = Infinity;
  private cancelTimer: (() => void) | undefined;
  private timerAt = Infinity;
  private lastCallAt = -Infinity;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    names: readonly string[],
    private readonly clock: Clock,
    private readonly stateStore: RedisKeyStateStore,
    private readonly listener: LeaseListener = {},
  ) {
    const commands = redis as unknown as Record<string, ((...a: (string | number)[]) => Promise<unknown>) | undefined>;
    if (typeof commands.sluiceLease !== 'function') redis.defineCommand('sluiceLease', { lua: leaseScript() });
    const command = commands.sluiceLease!;
    this.command = (...args) => command.apply(redis, args);
    for (const name of names) {
      this.leases.set(name, {
        name,
        bucketKey: `${prefix}:flow:bucket:${name}`,
        stateKey: `${prefix}:flow:state:${name}`,
        permits: 0,
        tokens: 0,
        grantedAt: -Infinity,
        size: 1,
        rate: 0,
        rateAt: -Infinity,
        tokensEach: 0,
        spec: undefined,
        demand: false,
        giveBack: 0,
        giveBackTokens: 0,
        settle: 0,
        cap: undefined,
        starts: 0,
        nextAt: -Infinity,
      });
    }
    this.limiter = {
      reserve: (key, tokens, spec, now) => this.reserve(key, tokens, spec, now),
      waitMs: (key, tokens, spec, now) => this.waitMs(key, tokens, spec, now),
      settle: (key, delta, spec) => this.settle(key, delta, spec),
      cap: (key, cap, now) => this.cap(key, cap, now),
    };
    this.keys = {
      get: (key, now) => this.stateOf(key, now),
      set: (key, state, now) => this.setState(key, state, now),
      states: (now) => {
        const out = new Map<string, KeyState>();
        for (const name of this.remote.keys()) {
          const s = this.stateOf(name, now);
          if (s.state !== 'active') out.set(name, s);
        }
        return out;
      },
    };
  }

  /** A {@link FlowBackend} for a `KeyPool` (its quota store is unused by the pool: daily budgets are the worker's). */
  backend(): FlowBackend {
    return { limiter: this.limiter, keys: this.keys, quota: new MemoryQuotaStore() };
  }

  /** The fleet's state of `name` as of the last answer (expired cooldowns count as active). */
  stateOf(name: string, now: number): KeyState {
    const s = this.remote.get(name);
    if (!s) return ACTIVE;
    if ((s.state === 'cooling' || s.state === 'parked') && s.until <= now) return ACTIVE;
    return s;
  }

  /** Gives back every held start and stops (one last call when something is held). */
  async close(): Promise<void> {

    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const now = this.clock.now();
    for (const l of this.leases.values()) this.expire(l, now, true);
    this.closed = true;
    if ([...this.leases.values()].some((l) => l.giveBack > 0 || l.settle !== 0 || l.cap)) await this.call().catch(() => undefined);
  }

  // ------------------------------------------------------------------ LimiterStore (synchronous)

  private lease(key: string): Lease {
    const l = this.leases.get(key);
    if (!l) throw new RangeError(`lease: unknown key "${key}"`);
    return l;
  }

  private reserve(key: string, tokens: number, spec: BucketSpec, now: number): ReserveResult {
    const l = this.lease(key);
    l.spec = spec;
    this.expire(l, now, false);
    if (this.fits(l, tokens, spec)) {
      l.permits--;
      l.starts++;
      this.count(l, now);
      if (spec.tokens !== undefined) l.tokens -= tokens;
      // Top up before it runs out (a lease of more than one: a worker that starts one at a time asks
      // when it needs one, so that no start sits idle here while another worker could use it).
      if (this.topUp(l)) this.soon(now, now);
      return { ok: true, waitMs: 0 };
    }
    return { ok: false, waitMs: this.want(l, tokens, now) };
  }

  private waitMs(key: string, tokens: number, spec: BucketSpec, now: number): number {
    const l = this.lease(key);
    l.spec = spec;
    this.expire(l, now, false);
    return this.fits(l, tokens, spec) ? 0 : this.want(l, tokens, now);
  }

  private fits(l: Lease, tokens: number, spec: BucketSpec): boolean {
    return l.permits >= 1 && (spec.tokens === undefined || tokens <= l.tokens + 1e-9);
  }

  /** A start is wanted that the lease does not hold: ask for more (now, or when the bucket can grant), and say how long to wait. */
  private want(l: Lease, tokens: number, now: number): number {
    if (tokens > l.tokensEach) l.tokensEach = tokens;
    if (l.permits >= 1 && l.spec?.tokens !== undefined) {
      // Starts held, but too few tokens with them: give them back and lease with the larger reservation.
      l.giveBack += l.permits;
      l.giveBackTokens += Math.max(0, l.tokens);
      l.permits = 0;
      l.tokens = 0;
    }
    l.demand = true;
    // The bucket said when it can grant the next start: ask then, not before (no call while it is empty).
    if (l.nextAt > now + 1) {
      this.soon(l.nextAt, now);
      return Math.ceil(l.nextAt - now);
    }
    this.soon(now, now);
    return LEASE_WAIT_MS;
  }

  private settle(key: string, delta: number, _spec: BucketSpec): void {
    const l = this.lease(key);
    l.settle += delta;
    this.soon(this.clock.now() + FLUSH_MS, this.clock.now());
  }

  private cap(key: string, cap: ServerCap, now: number): void {
    const l = this.lease(key);
    l.cap = { cap, at: now, startsBefore: l.starts };
    // Starts held beyond what the server says remains go back: nothing more than that may start.
    const r = cap.requests;
    if (r && r.remaining < l.permits && !r.spend) {
      const keep = Math.max(0, Math.floor(r.remaining));
      l.giveBack += l.permits - keep;
      l.permits = keep;
    }
    if (r && r.remaining < 1 && r.resetAt > l.nextAt) l.nextAt = r.resetAt;
    // A remainder that can bind goes at once (folded into a call on the way): it is only true for a
    // moment. One the shared bucket cannot reach before it ends anyway (more than its burst plus its
    // refill until then) goes with the next call, if it still holds by then.
    this.soon(this.binds(cap, l.spec, now) ? now : now + FLUSH_MS, now);
  }

  /** Whether a server cap may refuse a start the shared bucket (spec) would grant before the cap ends. */
  private binds(cap: ServerCap, spec: BucketSpec | undefined, now: number): boolean {
    if (!spec) return true;
    const r = cap.requests;
    const t = cap.tokens;
    const reach = (burst: number, perMs: number, resetAt: number): number => burst + Math.max(0, resetAt - now) * perMs + 1;
    const requestsPerMs = spec.requests === undefined ? Infinity : Math.max(0, spec.requests - spec.requestBurst + 1) / spec.windowMs;
    const tokensPerMs = spec.tokens === undefined ? Infinity : spec.tokens / spec.windowMs;
    if (r && (r.spend || r.remaining < reach(spec.requestBurst, requestsPerMs, r.resetAt))) return true;
    if (t && (t.spend || t.remaining < reach(spec.tokenBurst, tokensPerMs, t.resetAt))) return true;
    return false;
  }

  /** Whether `l` should be topped up ahead of need: a lease of several starts, half used. */
  private topUp(l: Lease): boolean {
    return l.spec !== undefined && l.size > 1 && l.permits * 2 < l.size;
  }

  /** Counts a start on `l` into its moving rate and sizes its next lease from it (bounded by the bucket's burst; 1 with a spacing). */
  private count(l: Lease, now: number): void {
    const dt = Math.max(0, now - l.rateAt);
    // A moving average over about 200 ms: one start adds 1/200 per ms, decaying with time.
    const keep = Number.isFinite(dt) ? Math.exp(-dt / 200) : 0;
    l.rate = l.rate * keep + 1 / 200;
    l.rateAt = now;
    const burst = l.spec ? Math.max(1, Math.floor(l.spec.requestBurst)) : 1;
    l.size = l.spec?.minSpacingMs ? 1 : Math.max(1, Math.min(MAX_LEASE, burst, Math.ceil(l.rate * LEASE_HORIZON_MS)));
  }

  /** Held starts older than the lease's life go back (on the next call); `all` gives back everything. */
  private expire(l: Lease, now: number, all: boolean): void {
    if (l.permits <= 0 && l.tokens <= 0) return;
    if (!all && now - l.grantedAt < LEASE_TTL_MS) return;
    l.giveBack += Math.max(0, l.permits);
    l.giveBackTokens += Math.max(0, l.tokens);
    l.permits = 0;
    l.tokens = 0;
    if (!all) this.soon(now + FLUSH_MS, now);
  }

  // ------------------------------------------------------------------ KeyStateStore (mirror)

  private setState(key: string, state: KeyState, now: number): void {
    const current = this.stateOf(key, now);
    if (state.state === 'active') this.remote.delete(key);
    else if (current.state !== 'disabled' && (state.state === 'disabled' || current.state === 'active' || current.until < state.until)) this.remote.set(key, state);
    // Through to Redis: every worker sees it with its next lease answer.
    this.stateStore.set(key, state, now).catch((e: unknown) => this.listener.onError?.(e));
    if (state.state !== 'active') {
      const l = this.leases.get(key);
      if (l) this.expire(l, now, true);
    }
  }

  // ------------------------------------------------------------------ the lease call

  /** Makes a lease call at `at` (local clock) or earlier. */
  private soon(at: number, now: number): void {
    if (this.closed) return;
    if (this.inFlight) {
      this.againAt = Math.min(this.againAt, at);
      return;
    }
    if (at <= now) {
      this.disarm();
      void this.run();
      return;
    }
    if (at < this.timerAt) this.arm(at, now);
  }

  private arm(at: number, now: number): void {
    this.disarm();
    this.timerAt = at;
    this.cancelTimer = this.clock.setTimer(Math.max(1, at - now), () => {
      this.cancelTimer = undefined;
      this.timerAt = Infinity;
      if (this.inFlight) this.againAt = Math.min(this.againAt, this.clock.now());
      else void this.run();
    });
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
  }

  private async run(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      await this.call();
    } catch (e) {
      this.listener.onError?.(e);
    } finally {
      this.inFlight = false;
    }
    if (this.againAt < Infinity && !this.closed) {
      const at = this.againAt;
      this.againAt = Infinity;
      const now = this.clock.now();
      this.soon(Math.max(at, now), now);
    }
  }

  /** One call for every key that needs something; applies the answers. */
  private async call(): Promise<void> {
    const now = this.clock.now();
    const busy: Lease[] = [];
    for (const l of this.leases.values()) {
      const need = l.demand || (this.topUp(l) && now - l.grantedAt < LEASE_TTL_MS * 4);
      if (need || l.giveBack > 0 || l.giveBackTokens > 0 || l.settle !== 0 || l.cap) busy.push(l);
    }
    if (busy.length === 0) return;
    const sent = busy.map((l) => {
      const blocked = this.stateOf(l.name, now).state !== 'active';
      const ask = l.spec && !this.closed && !blocked && (l.demand || this.topUp(l)) ? Math.max(1, l.size - l.permits) : 0;
      const item = { l, ask, tokensEach: l.tokensEach, giveBack: l.giveBack, giveBackTokens: l.giveBackTokens, settle: l.settle, cap: l.cap, demand: l.demand };
      l.giveBack = 0;
      l.giveBackTokens = 0;
      l.settle = 0;
      l.cap = undefined;
      l.demand = false;
      return item;
    });
    const args: (string | number)[] = [busy.length * 2, ...busy.map((l) => l.bucketKey), ...busy.map((l) => l.stateKey), busy.length];
    for (const s of sent) {
      const spec = s.l.spec ?? { windowMs: 60_000, requestBurst: 1, tokenBurst: 0 };
      const r = s.cap?.cap.requests;
      const t = s.cap?.cap.tokens;
      // The remainder less the starts this worker took since it came (already taken from the bucket's
      // remainder by their lease); resets as "ms from now", so a cap that has ended is not sent.
      const since = s.cap ? s.l.starts - s.cap.startsBefore : 0;
      const rOk = r && r.resetAt > now;
      const tOk = t && t.resetAt > now;
      args.push(
        s.ask,
        s.tokensEach,
        s.giveBack,
        s.giveBackTokens,
        s.settle,
        rOk ? Math.max(0, r.remaining - since) : '',
        rOk ? r.resetAt - now : '',
        tOk ? t.remaining : '',
        tOk ? t.resetAt - now : '',
        r?.spend ? '1' : '',
        ...specArgs(spec),
      );
    }
    this.calls++;
    this.lastCallAt = now;

    let answer: unknown[];
    try {
      answer = (await this.command(...args)) as unknown[];
    } catch (e) {
      // Nothing was applied: what was to be sent is sent with the next call.
      for (const s of sent) {
        s.l.giveBack += s.giveBack;
        s.l.giveBackTokens += s.giveBackTokens;
        s.l.settle += s.settle;
        s.l.cap ??= s.cap;
        s.l.demand ||= s.demand;
      }
      throw e;
    }
    const back = this.clock.now();
    sent.forEach((s, i) => {
      const granted = Number(answer[i * 4]);
      const waitMs = Number(answer[i * 4 + 1]);
      const raw = String(answer[i * 4 + 2] ?? '');
      const pttl = Number(answer[i * 4 + 3]);
      const l = s.l;
      if (granted > 0) {
        if (this.closed) {
          l.giveBack += granted;
          l.giveBackTokens += granted * s.tokensEach;
        } else {
          l.permits += granted;
          if (l.spec?.tokens !== undefined) l.tokens += granted * s.tokensEach;
          l.grantedAt = back;
        }
      }
      l.nextAt = back + waitMs;
      this.adopt(l.name, raw, pttl, back);
    });
    // Something still waits for a start that the bucket could not grant: ask again when it can.
    let next = Infinity;
    for (const s of sent) if (s.demand && s.l.permits < 1 && s.ask > 0) next = Math.min(next, s.l.nextAt);
    if (Number.isFinite(next)) this.soon(Math.max(next, back + 1), back);
  }

  /** A key's shared state from an answer: another worker's cooldown, park or disable (or its end). */
  private adopt(name: string, raw: string, pttl: number, now: number): void {
    const before = this.remote.get(name);
    let state: KeyState = ACTIVE;
    if (raw !== '') {
      try {
        const parsed = JSON.parse(raw) as { state?: string; reason?: string };
        const reason = parsed.reason ?? '';
        if (parsed.state === 'disabled') state = { state: 'disabled', reason };
        else if ((parsed.state === 'cooling' || parsed.state === 'parked') && pttl > 0) state = { state: parsed.state, until: now + pttl, reason };
      } catch {
        state = ACTIVE;
      }
    }
    if (state.state === 'active') {
      // Redis forgets a state when it expires; one this worker set and not yet written stays until its own end.
      if (before && (before.state === 'cooling' || before.state === 'parked') && before.until <= now) this.remote.delete(name);
      return;
    }
    if (before && before.state === state.state && (state.state === 'disabled' || (before.state !== 'disabled' && Math.abs(before.until - (state as { until: number }).until) < 50))) return;
    this.remote.set(name, state);
    this.listener.onState?.(name, state);
  }
}
