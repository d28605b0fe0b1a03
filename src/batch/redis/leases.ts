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
 * A start the bucket cannot grant now but can within a second is granted ahead (with the next ones
 * within {@link AHEAD_MS} of it, as many as asked): the bucket goes into debt by them and the worker may
 * use each from the time the answer names. Workers waiting for the same refill are then served in the
 * order they asked, each with one call, instead of all asking again when it comes and all but one
 * getting nothing.
 *
 * The fleet learns as one through the same call: each worker's successes and starts on a key (the
 * fleet's goodput, which a learned rate is cut from), a decrease of its learned rate after a bare 429
 * and a bare 429's cooldown strike go to the key's `P:flow:learn:<key>` hash; the script takes a
 * decrease or a strike only when the refused call started after the fleet's last one (one congestion
 * event for the fleet, whichever workers saw its 429s), and every answer brings back the fleet's event,
 * strikes and counts, which the worker's limiter and pool adopt (shared-pool.ts).
 *
 * Until something limits a key (no rate configured, announced by the server or learned from a 429),
 * the fleet starts on it as one worker would: at most {@link LeaseOptions.fleetStart} of the fleet's
 * calls in flight on the key, doubled as a slow start does (flow/adaptive-concurrency.ts) after each
 * second in which the fleet filled it. Each worker reserves an equal share in Redis with its lease
 * calls and starts calls within it without a call (its own calls ending free it; the shared bucket has
 * nothing to limit then). Before, every call in flight when the server first refused was refused, 16
 * per worker: 4 workers sent 2 to 3 times the 429s of one. The fleet's first congestion event lifts
 * the cap (lease.lua checks it atomically).
 *
 * The fleet's adaptive concurrency limit rides on the same call (shared-concurrency.ts): each call
 * reports the worker, carries its proposed step and brings back its share.
 *
 * So does a key's concurrency cap learned from bare 429s (fleet-in-flight-cap.ts): each call reports
 * this worker's calls in flight on the key, its calls of the last second (the others' come back, from
 * which the fleet's calls in flight at each start are counted) and its outcomes by that count; the
 * fleet's cap, decided on the pooled outcomes, is split into shares reserved as the start cap's are.
 *
 * Cost: one command per lease for all keys, instead of one reserve per request; nothing when idle.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Clock } from '../../clock/clock.js';
import { slowStartStep } from '../../flow/adaptive-concurrency.js';
import { ACTIVE, MemoryQuotaStore, type FlowBackend, type KeyState, type KeyStateStore, type LimiterStore } from '../../flow/backend.js';
import type { BucketSpec, ReserveResult, ServerCap } from '../../flow/bucket.js';
import { readScript } from '../../flow/redis/scripts.js';
import { specArgs, type RedisKeyStateStore } from '../../flow/redis/redis-flow-backend.js';
import type { LearnedRateState } from '../../flow/learned-rate.js';
import { HALVE_EVERY } from '../../flow/learned-in-flight-cap.js';
import { CAP_ANSWER, FleetInFlightCap } from './fleet-in-flight-cap.js';
import type { PermitOutcome } from '../../scheduler/ports.js';
import { CONCURRENCY_ANSWER, type FleetConcurrency } from './shared-concurrency.js';
import type { FleetLearner } from './shared-pool.js';

/** Leased starts not used within this long go back to the shared bucket, ms (while held, no other worker can use them). */
export const LEASE_TTL_MS = 150;
/** A lease holds about this long's worth of this worker's recent starts on the key, ms. */
const LEASE_HORIZON_MS = 100;
/** The starts granted ahead in one answer span at most this long, ms (the first may be up to 10 times as far out, behind other workers' starts). */
export const AHEAD_MS = 100;
/** Most starts one key's lease holds. */
const MAX_LEASE = 16;
/** How long a start waits for a lease call on the way, ms (the executor looks again then). */
const LEASE_WAIT_MS = 2;
/** Settlements and server caps reach the shared bucket within this long when no lease call takes them earlier, ms. */
const FLUSH_MS = 250;
/** A start refused by the fleet's start cap asks again after this long, ms (about a call's latency: by then some of the fleet's calls have ended). */
export const FLEET_POLL_MS = 25;
/**
 * A worker left no share of the fleet's learned cap (more workers asking than the cap) asks again after
 * this long, ms, doubling while none frees, up to {@link CAP_POLL_MAX_MS}: the others hold their shares
 * while they have calls to make, and the lease call of one that frees part of its share publishes it
 * ({@link CAP_FREED}), so asking sooner mostly costs commands.
 */
export const CAP_POLL_MS = 250;
/**
 * The longest wait between those asks, ms: under the 2 s that a report counts (lease.lua), so the waiting
 * worker's report stays among the live ones and a lease call that frees part of the cap tells it
 * ({@link CAP_FREED}). At 2 s its report had often expired when the others finished their work, and it
 * waited on with the whole cap free (2.5 s with nothing in flight at the end of a 4-worker run).
 */
export const CAP_POLL_MAX_MS = 1000;
/** While it waits so, the limiter looks again this often, ms (locally: the starts a pushed call brings are used at once). */
const CAP_LOOK_MS = 50;
/** A message of the lease channel that a worker freed part of its share of the key's learned cap: this, then the key's name (lease.lua). */
export const CAP_FREED = '\ncap\n';
/** The fleet's start ends when its cap reaches this many calls in flight on a key (it then binds no fleet of 16 workers of 16). */
export const FLEET_START_MAX = 256;
/**
 * The fleet's slow start takes one step per this long, ms: a whole judged window of adaptive
 * concurrency, not the quarter a single process steps by, because the fleet hears its workers' counts
 * up to {@link FLUSH_MS} late (a quarter second).
 */
const FLEET_STEP_MS = 1_000;
/**
 * With the fleet's concurrency limit, a worker with calls in flight makes a lease call at least this
 * often, ms: its report keeps it among the live workers (they count for 2 s), so the others' shares
 * do not grow over its calls while they last.
 */
const CONCURRENCY_KEEPALIVE_MS = 1_000;

/** Options of a {@link LeaseEngine}. */
export interface LeaseOptions {
  /**
   * The fleet's cap on calls in flight on a key before anything limits it (the calls one worker sends
   * at once on it), doubled after each second in which the fleet filled it, until the fleet's first
   * congestion event or {@link FLEET_START_MAX}. Absent: no cap.
   */
  fleetStart?: number;
  /** Whether the fleet learns each key's concurrency cap from bare 429s as one (fleet-in-flight-cap.ts). Default true. */
  shareInFlightCap?: boolean;
}

const FLOW_BASE = new URL('../../flow/redis/redis-flow-backend.js', import.meta.url).href;
const HERE = import.meta.url;

/** The lease script: the bucket library, the bucket and key-state scripts as functions, the fleet's concurrency limit (fleet-concurrency.lua) and learned cap (fleet-cap.lua), then lease.lua. */
function leaseScript(): string {
  const wrap = (name: string, file: string): string => `local function ${name}()\n${readScript(FLOW_BASE, file)}\nend\n`;
  return [
    readScript(FLOW_BASE, 'bucket-lib'),
    wrap('sluice_reserve', 'reserve'),
    wrap('sluice_settle', 'settle'),
    wrap('sluice_cap', 'cap'),
    wrap('sluice_key_set', 'key-set'),
    readScript(HERE, 'fleet-concurrency'),
    readScript(HERE, 'fleet-cap'),
    readScript(HERE, 'lease'),
  ].join('\n');
}

/** Entries of the lease answer per key (lease.lua): 18, then the learned cap's, the others' calls in flight and their call logs. */
const ANSWER = 18 + CAP_ANSWER + 2;

/** One key's local side of its lease. */
interface Lease {
  readonly name: string;
  readonly bucketKey: string;
  readonly stateKey: string;
  readonly learnKey: string;
  /** The workers' reservations of the fleet's start cap on the key (lease.lua). */
  readonly startKey: string;
  /** The fleet's learned concurrency cap on the key and its evidence (fleet-cap.lua). */
  readonly capKey: string;
  /** The learner of that cap in this worker, once the key's limiter asked for it. */
  capLearner: FleetInFlightCap | undefined;
  /** The fleet's learned cap as of the last answer (undefined: none). */
  learnedCap: number | undefined;
  /** Starts held and not used yet (usable now). */
  permits: number;
  /** Starts granted ahead, by the time each may be used (local clock, ascending), and the bucket's spacing between them, ms. */
  ahead: number[];
  aheadStep: number;
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
  /** Successes not reported yet, the latest one's start (local clock), and starts reported so far. */
  successes: number;
  lastSuccessStart: number | undefined;
  startsReported: number;
  /** A decrease of this worker's learned rate not sent yet, with the start of the refused call. */
  decrease: { state: LearnedRateState; startedAt: number | undefined } | undefined;
  /** A state this worker set on the key (a cooldown, park, disable or its end), not written yet: it goes with the next call, at once. */
  stateWrite: KeyState | undefined;
  /** A bare-429 strike not sent yet (the refused call's start; undefined when unknown). */
  strike: { startedAt: number | undefined } | undefined;
  /** Another worker published news of the key (a congestion event, a strike): ask for it now. */
  poked: boolean;
  /** The fleet's news as of the last answer: its congestion event, counts and strikes. */
  seenSeq: number;
  seenOk: number | undefined;
  seenStarts: number | undefined;
  seenStrikes: number;
  seenStrikeAt: number;
  /** The fleet's start cap on the key as of the last answer (undefined: none seen yet). */
  fleetCapSeen: number | undefined;
  /** The fleet's calls in flight on the key as its workers last reported them, as of the last answer while capped (undefined: no cap). */
  fleetInFlight: number | undefined;
  /** The fleet's start on the key is over here (its cap reached {@link FLEET_START_MAX}). */
  startOver: boolean;
  /** How many calls this worker may hold of the fleet's start cap (its share, less what the others reserve), as of the last answer (undefined: no cap). */
  share: number | undefined;
  /** Left no share of the fleet's learned cap while asking: the wait before the next ask (undefined: not waiting so). */
  capWaitMs: number | undefined;
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
  /** Whether a lease call is waiting on Redis (the next waits for it: one call at a time). */
  get callInFlight(): boolean {
    return this.inFlight;
  }
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
  private learner: FleetLearner | undefined;
  /** The fleet's concurrency limit and its hash, when this worker's is adaptive. */
  private concurrency: { fleet: FleetConcurrency; key: string } | undefined;
  /** This engine's name among the reservations of the fleet's start cap. */
  private readonly id = randomBytes(6).toString('hex');
  /** Half the last lease call's round trip, ms: about when its script ran (the learned cap's call logs are timed by it). */
  private halfTrip = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    names: readonly string[],
    private readonly clock: Clock,
    private readonly stateStore: RedisKeyStateStore,
    private readonly listener: LeaseListener = {},
    private readonly options: LeaseOptions = {},
  ) {
    const start = options.fleetStart;
    if (start !== undefined && !(Number.isInteger(start) && start >= 1)) throw new RangeError(`lease: fleetStart must be an integer >= 1, got ${String(start)}`);
    const commands = redis as unknown as Record<string, ((...a: (string | number)[]) => Promise<unknown>) | undefined>;
    if (typeof commands.sluiceLease !== 'function') redis.defineCommand('sluiceLease', { lua: leaseScript() });
    const command = commands.sluiceLease!;
    this.command = (...args) => command.apply(redis, args);
    for (const name of names) {
      this.leases.set(name, {
        name,
        bucketKey: `${prefix}:flow:bucket:${name}`,
        stateKey: `${prefix}:flow:state:${name}`,
        learnKey: `${prefix}:flow:learn:${name}`,
        startKey: `${prefix}:flow:start:${name}`,
        capKey: `${prefix}:flow:cap:${name}`,
        capLearner: undefined,
        learnedCap: undefined,
        permits: 0,
        ahead: [],
        aheadStep: 0,
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
        successes: 0,
        lastSuccessStart: undefined,
        startsReported: 0,
        decrease: undefined,
        strike: undefined,
        stateWrite: undefined,
        poked: false,
        seenSeq: 0,
        seenOk: undefined,
        seenStarts: undefined,
        seenStrikes: 0,
        seenStrikeAt: -Infinity,
        fleetCapSeen: undefined,
        fleetInFlight: undefined,
        startOver: false,
        share: undefined,
        capWaitMs: undefined,
      });
    }
    this.limiter = {
      reserve: (key, tokens, spec, now) => this.reserve(key, tokens, spec, now),
      waitMs: (key, tokens, spec, now) => this.waitMs(key, tokens, spec, now),
      settle: (key, delta, spec) => this.settle(key, delta, spec),
      cap: (key, cap, now) => this.cap(key, cap, now),
      inFlightCap: (key) => this.capLearnerOf(key),
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

  /**
   * The channel lease calls publish a key's name on when they record a new congestion event or strike
   * for the fleet. A worker subscribed to it (run-worker.ts) hands each message to {@link pushed}: its
   * next lease call goes at once and brings the event, the strikes and the key's cooldown, instead of
   * when its lease runs low.
   */
  get channel(): string {
    return `${this.prefix}:flow:events`;
  }

  /** A message of {@link channel}: the fleet learnt something of the key named, or ({@link CAP_FREED}) part of its learned cap was freed. */
  pushed(name: string): void {
    if (name.startsWith(CAP_FREED)) return this.capFreed(name.slice(CAP_FREED.length));
    const l = this.leases.get(name);
    if (!l || this.closed) return;
    l.poked = true;
    const now = this.clock.now();
    this.soon(now, now);
  }

  /** Part of `name`'s learned cap was freed: a worker waiting for a share asks now (the others need not). */
  private capFreed(name: string): void {
    const l = this.leases.get(name);
    if (!l || this.closed || l.capWaitMs === undefined) return;
    const now = this.clock.now();
    l.capWaitMs = CAP_POLL_MS;
    l.nextAt = Math.min(l.nextAt, now);
    l.demand = true;
    this.soon(now, now);
  }

  /** The learner of `key`'s concurrency cap, shared with the fleet (undefined: not one of this worker's keys, or not shared). */
  private capLearnerOf(key: string): FleetInFlightCap | undefined {
    const l = this.leases.get(key);
    if (!l || this.options.shareInFlightCap === false) return undefined;
    const learner = new FleetInFlightCap();
    learner.onNews = (urgent) => {
      const now = this.clock.now();
      this.soon(urgent ? now : now + FLUSH_MS, now);
    };
    l.capLearner = learner;
    return learner;
  }

  /** The pool that adopts what the fleet learnt (the worker's FleetKeyPool). */
  attach(learner: FleetLearner): void {
    this.learner = learner;
  }

  /**
   * Shares this worker's adaptive concurrency limit with the fleet through `key` (a hash under the
   * run's prefix; the workers' reports in `<key>:w`): every lease call carries it from now on.
   */
  attachConcurrency(fleet: FleetConcurrency, key: string): void {
    this.concurrency = { fleet, key };
    fleet.onProposal = () => {
      const now = this.clock.now();
      this.soon(now, now);
    };
  }

  /** This worker's calls in flight on all its keys. */
  private inFlightTotal(): number {
    let n = 0;
    for (const name of this.leases.keys()) n += this.callsInFlight(name);
    return n;
  }

  /** A call on `name` started at `at`: the learned cap's log (fleet-in-flight-cap.ts). */
  noteStart(name: string, at: number): void {
    this.leases.get(name)?.capLearner?.started(at);
  }

  /** The call on `name` started at `startedAt` ended at `at`, telling `outcome` of the key's concurrency cap. */
  noteEnd(name: string, startedAt: number, at: number, outcome: PermitOutcome | undefined): void {
    this.leases.get(name)?.capLearner?.ended(startedAt, at, outcome);
  }

  /** A call on `name` started at `startedAt` succeeded: it counts for the fleet's goodput (and ends the fleet's strikes). */
  noteSuccess(name: string, startedAt: number): void {
    const l = this.lease(name);
    l.successes++;
    if (l.lastSuccessStart === undefined || startedAt > l.lastSuccessStart) l.lastSuccessStart = startedAt;
    const now = this.clock.now();
    this.soon(now + FLUSH_MS, now);
  }

  /** This worker's learned rate on `name` just decreased after a bare 429 of a call started at `startedAt`: proposed to the fleet at once. */
  proposeDecrease(name: string, state: LearnedRateState, startedAt: number | undefined): void {
    const l = this.lease(name);
    l.decrease = { state, startedAt };
    const now = this.clock.now();
    this.soon(now, now);
  }

  /** A bare 429 on `name` struck (a cooldown step): proposed to the fleet at once. */
  proposeStrike(name: string, startedAt: number | undefined): void {
    const l = this.lease(name);
    l.strike = { startedAt };
    const now = this.clock.now();
    this.soon(now, now);
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
    // With the fleet's concurrency limit, the last call takes this worker's report away (the others' shares grow at once).
    const last = this.concurrency !== undefined || [...this.leases.values()].some((l) => l.giveBack > 0 || l.settle !== 0 || l.cap || l.successes > 0 || l.decrease || l.strike || l.stateWrite || l.share !== undefined || l.capLearner !== undefined);
    if (last) await this.call().catch(() => undefined);
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
    this.promote(l, now);
    if (l.permits < 1 && this.withinShare(l, spec, now)) {
      // Nothing in the shared bucket limits the key: a start within this worker's share of the fleet's
      // start cap needs no call (it is reported with the next one).
      l.permits++;
      l.grantedAt = now;
    }
    if (this.fits(l, tokens, spec) && !this.overCapShare(l)) {
      l.permits--;
      l.starts++;
      this.count(l, now);
      if (spec.tokens !== undefined) l.tokens -= tokens;
      // Top up before it runs out (a lease of more than one: a worker that starts one at a time asks
      // when it needs one, so that no start sits idle here while another worker could use it). After
      // this turn: the limiter counts the start in flight once this returns, and the call reports it.
      if (this.topUp(l)) queueMicrotask(() => this.soon(this.clock.now(), this.clock.now()));
      else this.soon(now + FLUSH_MS, now); // the start is reported to the fleet with the next call
      return { ok: true, waitMs: 0 };
    }
    return { ok: false, waitMs: this.want(l, tokens, now) };
  }

  /**
   * A start granted ahead whose time has come becomes usable, one at a time. One not used within the
   * bucket's spacing of its time goes back instead: used later, it would go out together with the starts
   * the bucket granted after it (to this worker or another), beyond the limit.
   */
  private promote(l: Lease, now: number): void {
    const slack = Math.max(5, l.aheadStep);
    let late = 0;
    while (late < l.ahead.length && l.ahead[late]! + slack < now) late++;
    if (late > 0) {
      l.ahead.splice(0, late);
      l.giveBack += late;
      this.soon(now + FLUSH_MS, now);
    }
    if (l.permits >= 1 || l.ahead.length === 0 || l.ahead[0]! > now) return;
    l.ahead.shift();
    l.permits++;
    l.grantedAt = now;
  }

  private waitMs(key: string, tokens: number, spec: BucketSpec, now: number): number {
    const l = this.lease(key);
    l.spec = spec;
    this.expire(l, now, false);
    this.promote(l, now);
    return (this.fits(l, tokens, spec) && !this.overCapShare(l)) || (l.permits < 1 && this.withinShare(l, spec, now)) ? 0 : this.want(l, tokens, now);
  }

  /**
   * How long a worker that asked and got no start of the fleet's cap, with no call of its own in flight,
   * waits before it asks again: of the start cap, about a call's latency; of a learned cap, a wait that
   * doubles while none frees (a freed share is pushed: {@link capFreed}).
   */
  private shareWait(l: Lease): number {
    if (l.learnedCap === undefined) {
      l.capWaitMs = undefined;
      return FLEET_POLL_MS;
    }
    const wait = l.capWaitMs ?? CAP_POLL_MS;
    l.capWaitMs = Math.min(CAP_POLL_MAX_MS, wait * 2);
    return wait;
  }

  /** Whether this worker's calls in flight on `l`'s key fill its share of the fleet's learned cap (its held starts wait until one ends). */
  private overCapShare(l: Lease): boolean {
    return l.learnedCap !== undefined && l.share !== undefined && this.callsInFlight(l.name) >= l.share;
  }

  /** This worker's calls in flight on the key `name` (its pool counts them). */
  private callsInFlight(name: string): number {
    return this.learner?.inFlight?.(name) ?? 0;
  }

  /** What this worker takes of the fleet's cap on `l`'s key: its calls in flight and the starts it holds. */
  private held(l: Lease): number {
    return this.callsInFlight(l.name) + Math.max(0, l.permits) + l.ahead.length;
  }

  /** Whether a start on `l` is within this worker's share of the fleet's start cap while the shared bucket has nothing to limit (no request rate, token budget or spacing). */
  private withinShare(l: Lease, spec: BucketSpec, now: number): boolean {
    if (this.closed || l.share === undefined || spec.requests !== undefined || spec.tokens !== undefined || spec.minSpacingMs || this.fleetCap(l) === undefined) return false;
    if (this.stateOf(l.name, now).state !== 'active') return false;
    return this.held(l) < l.share;
  }

  private fits(l: Lease, tokens: number, spec: BucketSpec): boolean {
    return l.permits >= 1 && (spec.tokens === undefined || tokens <= l.tokens + 1e-9);
  }

  /** A start is wanted that the lease does not hold: ask for more (now, or when the bucket can grant), and say how long to wait. */
  private want(l: Lease, tokens: number, now: number): number {
    // A start granted ahead is on its way: wait for it, no call.
    if (l.permits < 1 && l.ahead.length > 0 && tokens <= l.tokensEach) return Math.max(1, Math.ceil(l.ahead[0]! - now));
    // This worker's share of the fleet's start cap is in flight: one of its own calls ending frees it
    // (the executor looks again then; the share comes anew with each answer, its successes' too).
    // With none of its own in flight, the others hold the cap: ask again in a while.
    if (l.share !== undefined && (this.fleetCap(l) !== undefined || l.learnedCap !== undefined)) {
      // Of a learned cap, the share binds the calls in flight (the starts held wait for one to end).
      const used = this.callsInFlight(l.name) + (l.learnedCap !== undefined ? 0 : Math.max(0, l.permits));
      if (used >= l.share && used > 0) return Infinity;
      if (used >= l.share) {
        l.demand = true;
        const learned = l.learnedCap !== undefined;
        const at = Math.max(l.nextAt, now + (learned ? CAP_POLL_MS : FLEET_POLL_MS));
        this.soon(at, now);
        // A share freed meanwhile comes with a pushed call: the limiter looks for it often (no command).
        return Math.ceil(learned ? Math.min(CAP_LOOK_MS, at - now) : at - now);
      }
    }
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
    if (r && r.remaining < l.permits + l.ahead.length && !r.spend) {
      const keep = Math.max(0, Math.floor(r.remaining));
      const dropAhead = Math.min(l.ahead.length, l.permits + l.ahead.length - keep);
      l.ahead.length -= dropAhead;
      const dropNow = Math.max(0, l.permits - keep);
      l.giveBack += dropAhead + dropNow;
      l.permits -= dropNow;
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

  /**
   * The fleet's cap on calls in flight on `l`'s key as this worker knows it, while nothing limits the
   * key (no request rate in the spec, no congestion event of the fleet's): the fleet's slow start.
   * Undefined: no cap.
   */
  private fleetCap(l: Lease): number | undefined {
    const start = this.options.fleetStart;
    if (start === undefined || l.startOver || l.seenSeq > 0 || !l.spec || l.spec.requests !== undefined) return undefined;
    const cap = l.fleetCapSeen ?? start;
    if (cap < FLEET_START_MAX) return cap;
    l.startOver = true;
    return undefined;
  }

  /** The fleet's calls in flight on `name` as of the last answer while its start is capped, else undefined (for tests and logs). */
  fleetInFlight(name: string): number | undefined {
    return this.lease(name).fleetInFlight;
  }

  /** Whether `l` should be topped up ahead of need: a lease of several starts, half used. */
  private topUp(l: Lease): boolean {
    return l.spec !== undefined && l.size > 1 && (l.permits + l.ahead.length) * 2 < l.size;
  }

  /**
   * Whether a lease call now tops `l` up ahead of need: only while this worker still starts calls on the
   * key. After the held starts of a worker gone idle went back, a top-up would be held and given back
   * again, a call each time (every 150 ms), the bucket's for no other worker meanwhile.
   */
  private topUpNow(l: Lease, now: number): boolean {
    return this.topUp(l) && now - l.rateAt < LEASE_TTL_MS * 4;
  }

  /** Counts a start on `l` into its moving rate and sizes its next lease from it (bounded by the bucket's burst; 1 with a spacing). */
  private count(l: Lease, now: number): void {
    const dt = Math.max(0, now - l.rateAt);
    // A moving average over about 200 ms: one start adds 1/200 per ms, decaying with time.
    const keep = Number.isFinite(dt) ? Math.exp(-dt / 200) : 0;
    l.rate = l.rate * keep + 1 / 200;
    l.rateAt = now;
    // Beyond the bucket's burst the starts come ahead, in turn with the other workers' (see AHEAD_MS).
    l.size = l.spec?.minSpacingMs ? 1 : Math.max(1, Math.min(MAX_LEASE, Math.ceil(l.rate * LEASE_HORIZON_MS)));
  }

  /** Held starts older than the lease's life go back (on the next call); `all` gives back everything. */
  private expire(l: Lease, now: number, all: boolean): void {
    if (all && l.ahead.length > 0) {
      l.giveBack += l.ahead.length;
      l.ahead.length = 0;
    }
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
    // Through to Redis with a lease call made at once (no command of its own): every worker sees it
    // with its next lease answer.
    const l = this.leases.get(key);
    if (!l) {
      this.stateStore.set(key, state, now).catch((e: unknown) => this.listener.onError?.(e));
      return;
    }
    l.stateWrite = mergeWrites(l.stateWrite, state);
    if (state.state !== 'active') this.expire(l, now, true);
    this.soon(now, now);
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

  /** Sends what is waiting now (news, give-backs, settlements) and resolves when the calls on the way have landed. */
  async flush(): Promise<void> {
    for (let i = 0; i < 10 && this.running; i++) await this.running;
    this.disarm();
    await this.run();
  }

  private running: Promise<void> | undefined;

  private async run(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    let done: () => void = () => undefined;
    this.running = new Promise<void>((r) => (done = r));
    try {
      await this.call();
    } catch (e) {
      this.listener.onError?.(e);
    } finally {
      this.inFlight = false;
      this.running = undefined;
      done();
    }
    if (this.againAt < Infinity && !this.closed) {
      const at = this.againAt;
      this.againAt = Infinity;
      const now = this.clock.now();
      this.soon(Math.max(at, now), now);
    }
    this.keepAlive();
  }

  /** With the fleet's concurrency limit and calls in flight: a call within {@link CONCURRENCY_KEEPALIVE_MS} of the last. */
  private keepAlive(): void {
    if (!this.concurrency || this.closed || this.inFlightTotal() === 0) return;
    this.soon(this.lastCallAt + CONCURRENCY_KEEPALIVE_MS, this.clock.now());
  }

  /** One call for every key that needs something; applies the answers. */
  private async call(): Promise<void> {
    const now = this.clock.now();
    const busy: Lease[] = [];
    for (const l of this.leases.values()) {
      // Starts held past their life (and starts granted ahead whose time has passed) go back with this
      // call: a worker that stopped asking has no reserve() to expire them, and held they are the bucket's
      // for no other worker (of a learned cap, part of this worker's reservation too: lease.lua).
      this.promote(l, now);
      this.expire(l, now, false);
      const need = l.demand || this.topUpNow(l, now);
      // Own outcomes whose level the others' logs cover go with this call; one that waited long for them
      // makes a call to bring them (its level is counted with its answer).
      const learner = l.capLearner;
      learner?.count();
      const capNews = learner !== undefined && (learner.pending || (learner.dueAt() ?? Infinity) <= now);
      const news = l.successes > 0 || l.starts > l.startsReported || l.decrease !== undefined || l.strike !== undefined || l.stateWrite !== undefined || l.poked || capNews;
      const leaving = this.closed && (l.share !== undefined || l.capLearner !== undefined);
      if (need || news || leaving || l.giveBack > 0 || l.giveBackTokens > 0 || l.settle !== 0 || l.cap) busy.push(l);
    }
    const conc = this.concurrency;
    const ride = conc !== undefined && (conc.fleet.pending || this.closed || (this.inFlightTotal() > 0 && now - this.lastCallAt >= CONCURRENCY_KEEPALIVE_MS - 5));
    if (busy.length === 0 && !ride) return;
    const sent = busy.map((l) => {
      const blocked = this.stateOf(l.name, now).state !== 'active';
      const ask = l.spec && !this.closed && !blocked && (l.demand || this.topUpNow(l, now)) ? Math.max(1, l.size - l.permits - l.ahead.length) : 0;
      const calls = this.callsInFlight(l.name);
      const item = {
        l,
        ask,
        tokensEach: l.tokensEach,
        giveBack: l.giveBack,
        giveBackTokens: l.giveBackTokens,
        settle: l.settle,
        cap: l.cap,
        demand: l.demand,
        successes: l.successes,
        lastSuccessStart: l.lastSuccessStart,
        starts: l.starts - l.startsReported,
        decrease: l.decrease,
        strike: l.strike,
        stateWrite: l.stateWrite,
        fleetCap: this.closed ? undefined : this.fleetCap(l),
        // Its calls in flight and the starts it holds: what this worker takes of the fleet's cap (-1 when
        // it stops: its reservation goes at once, not when its report grows old).
        held: this.closed ? -1 : this.held(l),
        capSent: l.capLearner?.take(),
        // Of those, its calls in flight; and its calls of the last second, from which the fleet's calls in
        // flight at each start (the learned cap's evidence) are counted.
        calls,
        log: l.capLearner?.logArg(now, calls, this.halfTrip) ?? '',
      };
      l.giveBack = 0;
      l.giveBackTokens = 0;
      l.settle = 0;
      l.cap = undefined;
      l.demand = false;
      l.successes = 0;
      l.lastSuccessStart = undefined;
      l.startsReported = l.starts;
      l.decrease = undefined;
      l.strike = undefined;
      l.stateWrite = undefined;
      l.poked = false;
      return item;
    });
    const ago = (at: number | undefined): number => (at === undefined ? -1 : Math.max(0, now - at));
    const keys = [...busy.map((l) => l.bucketKey), ...busy.map((l) => l.stateKey), ...busy.map((l) => l.learnKey), ...busy.map((l) => l.startKey), ...busy.map((l) => l.capKey), this.stateStore.namesKey];
    if (conc) keys.push(conc.key, `${conc.key}:w`);
    const args: (string | number)[] = [keys.length, ...keys, busy.length, this.channel, this.id];
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
        s.successes,
        s.starts,
        s.lastSuccessStart !== undefined ? ago(s.lastSuccessStart) : '',
        s.decrease ? ago(s.decrease.startedAt) : -1,
        s.decrease ? s.decrease.state.max : '',
        s.decrease ? s.decrease.state.base : '',
        s.decrease ? (s.decrease.state.guessed ? 1 : 0) : '',
        s.strike ? ago(s.strike.startedAt) : '',
        this.closed ? 0 : AHEAD_MS,
        s.l.name,
        s.fleetCap ?? '',
        s.held,
        s.fleetCap !== undefined ? slowStartStep(s.fleetCap) : '',
        FLEET_STEP_MS,
        ...stateArgs(s.stateWrite, now),
        s.capSent ? s.capSent.seen : '',
        s.capSent?.delta ?? '',
        s.capSent?.proposal ?? '',
        HALVE_EVERY,
        s.capSent ? s.calls : '',
        // Whether it wants a start now (a start was refused here since the last call), not only a top-up:
        // only then is its share of the learned cap reserved (lease.lua).
        s.capSent ? (s.demand ? 1 : 0) : '',
        s.capSent ? s.log : '',
      );
    }
    // The fleet's concurrency limit: this worker's report, its proposed step (lease.lua, after the keys).
    const concSent = conc?.fleet.args(this.closed);
    if (concSent) args.push(...concSent.args);
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
        s.l.successes += s.successes;
        if (s.lastSuccessStart !== undefined && (s.l.lastSuccessStart === undefined || s.lastSuccessStart > s.l.lastSuccessStart)) s.l.lastSuccessStart = s.lastSuccessStart;
        s.l.startsReported -= s.starts;
        s.l.decrease ??= s.decrease;
        s.l.strike ??= s.strike;
        if (s.stateWrite) s.l.stateWrite = s.l.stateWrite ? mergeWrites(s.stateWrite, s.l.stateWrite) : s.stateWrite;
        if (s.capSent) s.l.capLearner?.restore(s.capSent);
      }
      conc?.fleet.restore(concSent?.sent);
      throw e;
    }
    const back = this.clock.now();
    this.halfTrip = (back - now) / 2;
    sent.forEach((s, i) => {
      const a = answer.slice(i * ANSWER, (i + 1) * ANSWER);
      const granted = Number(a[0]);
      const waitMs = Number(a[1]);
      const raw = String(a[2] ?? '');
      const pttl = Number(a[3]);
      const aheadMs = Number(a[4]);
      const stepMs = Number(a[5]);
      const l = s.l;
      if (granted > 0) {
        if (this.closed) {
          l.giveBack += granted;
          l.giveBackTokens += granted * s.tokensEach;
        } else if (aheadMs > 0) {
          for (let k = 0; k < granted; k++) l.ahead.push(back + aheadMs + k * stepMs);
          l.aheadStep = stepMs;
        } else {
          l.permits += granted;
          if (l.spec?.tokens !== undefined) l.tokens += granted * s.tokensEach;
          l.grantedAt = back;
        }
      }
      l.nextAt = back + waitMs;
      const fleetIn = String(a[15] ?? '');
      const share = String(a[16] ?? '');
      const cap = String(a[17] ?? '');
      l.fleetInFlight = fleetIn === '' ? undefined : Number(fleetIn);
      l.share = share === '' ? undefined : Number(share);
      if (cap !== '') l.fleetCapSeen = Number(cap);
      // The others reserve the fleet's start cap and this worker has no call of its own whose end would
      // free a start: ask again when some of theirs will have ended.
      if (s.capSent) {
        const learned = a.slice(18, 18 + CAP_ANSWER).map((x) => String(x ?? ''));
        l.learnedCap = learned[2] === '' ? undefined : Number(learned[2]);
        const others = String(a[18 + CAP_ANSWER] ?? '');
        const learner = l.capLearner;
        learner?.answer(learned, others === '' ? undefined : Number(others), back, String(a[19 + CAP_ANSWER] ?? ''), this.halfTrip);
        // Outcomes counted with this answer go with the next call (a busy worker's take them before); those
        // still waiting for the others' logs, with a call when due.
        const due = learner?.pending ? back + FLUSH_MS : learner?.dueAt();
        if (due !== undefined) this.soon(Math.max(due, back + 1), back);
      }
      if (l.share !== undefined && granted < s.ask && s.held + granted === 0) l.nextAt = Math.max(l.nextAt, back + this.shareWait(l));
      else if (s.ask > 0) l.capWaitMs = undefined;
      // Starts held here go back when their life ends, if unused by then (one granted ahead, when it is
      // due and not taken): of a worker gone idle too, whose reservation of a learned cap they hold.
      if (l.permits > 0) this.soon(l.grantedAt + LEASE_TTL_MS + 1, back);
      else if (l.ahead.length > 0) this.soon(l.ahead[0]! + Math.max(5, l.aheadStep) + LEASE_TTL_MS + 1, back);
      this.adopt(l.name, raw, pttl, back);
      this.learn(s, a.slice(6), back);
    });
    if (conc && !this.closed) conc.fleet.answer(answer.slice(sent.length * ANSWER, sent.length * ANSWER + CONCURRENCY_ANSWER));
    // Something still waits for a start that the bucket could not grant: ask again when it can.
    let next = Infinity;
    for (const s of sent) if (s.demand && s.l.permits < 1 && s.ask > 0) next = Math.min(next, s.l.nextAt);
    if (Number.isFinite(next)) this.soon(Math.max(next, back + 1), back);
  }

  /** What the fleet learnt of a key, from an answer: its congestion event, its counts, its strikes. */
  private learn(s: { l: Lease; successes: number; starts: number; decrease: { state: LearnedRateState } | undefined; strike: unknown }, a: unknown[], now: number): void {
    const l = s.l;
    const [seq, sinceEvent, max, base, guessed, ok, starts, strikes, sinceStrike] = a.map((x) => String(x ?? ''));
    const learner = this.learner;
    // The fleet's event: adopted when it is new, or when this worker proposed one that was refused as
    // the same congestion (one it proposed and the fleet took is in force here already).
    const n = Number(seq);
    const mine = s.decrease !== undefined && Number(max) === s.decrease.state.max && Number(base) === s.decrease.state.base;
    if (n > 0 && sinceEvent !== '' && (n !== l.seenSeq || s.decrease) && !mine) {
      learner?.adoptRate(l.name, { max: Number(max), base: Number(base), at: now - Number(sinceEvent), guessed: guessed === '1' });
    }
    if (n > 0) l.seenSeq = n;
    // Others' successes and starts since the last answer: the fleet's goodput and sending rate.
    const okTotal = Number(ok);
    const startsTotal = Number(starts);
    if (l.seenOk !== undefined && l.seenStarts !== undefined) {
      const others = { ok: okTotal - l.seenOk - s.successes, starts: startsTotal - l.seenStarts - s.starts };
      if (others.ok > 0 || others.starts > 0) learner?.countOthers(l.name, Math.max(0, others.starts), Math.max(0, others.ok));
    }
    l.seenOk = okTotal;
    l.seenStarts = startsTotal;
    const k = Number(strikes);
    const at = sinceStrike === '' ? -Infinity : now - Number(sinceStrike);
    if (k !== l.seenStrikes || Math.abs(at - l.seenStrikeAt) > 20 || s.strike) {
      l.seenStrikes = k;
      l.seenStrikeAt = at;
      learner?.adoptStrikes(l.name, k, at);
    }
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

/**
 * Two writes of a key's state as one, as key-set.lua would leave them applied in turn: an end
 * ('active') or a disable replaces what came before; a disable is not undone by a cooldown; of two
 * cooldowns or parks the one that ends later stays (the first, when they end together).
 */
function mergeWrites(before: KeyState | undefined, next: KeyState): KeyState {
  if (!before || next.state === 'active' || next.state === 'disabled' || before.state === 'active') return next;
  if (before.state === 'disabled') return before;
  return next.until > before.until ? next : before;
}

/** A state write as lease.lua takes it (key-set.lua's arguments): state, ms from now until it ends, reason; '' = none. */
function stateArgs(state: KeyState | undefined, now: number): [string, number, string] {
  if (!state) return ['', 0, ''];
  if (state.state === 'active') return ['active', 0, ''];
  if (state.state === 'disabled') return ['disabled', 0, state.reason];
  return [state.state, Math.max(0, state.until - now), state.reason];
}
