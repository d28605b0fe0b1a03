/**
 * `RedisCircuitBreaker`: one circuit breaker per provider (or per key) shared by every worker in
 * Redis. The in-process `CircuitBreaker` (src/attempt) opens only in the process that saw the
 * failures; here the state lives in one hash changed only by `breaker.lua`, so when one worker sees a
 * 401 every worker stops before its next attempt, and after the break exactly one worker holds the
 * half-open probe (a lease, so a probe whose worker died is given to another after `probeLeaseMs`).
 * Strategy: consecutive counted failures (the ratio strategy is not shared).
 */
import type { Redis } from 'ioredis';
import { ERROR_KINDS, isErrorKind, type ErrorKind } from '../../classify/kinds.js';
import { checkPrefix, RoundTripCounter } from './redis-flow-backend.js';
import { defineScript, type ScriptCommand } from './scripts.js';

const HERE = import.meta.url;
const DEFAULT_FAILURE_KINDS: readonly ErrorKind[] = ['overloaded', 'server_error', 'timeout', 'network', 'unknown'];

/** Options of {@link RedisCircuitBreaker} (as `CircuitBreakerOptions`, consecutive strategy). */
export interface RedisCircuitBreakerOptions {
  /** What the breaker guards, e.g. a provider name or `key:<name>`: workers with the same prefix and scope share it. */
  scope: string;
  /** Key prefix (default `sluice`). */
  prefix?: string;
  /** Consecutive counted failures that open it. Default 5. */
  failures?: number;
  /** How long it stays open before one probe is let through, ms. Default 30,000. */
  breakDurationMs?: number;
  /** Kinds that open it at once. Default `['auth']`. */
  openOnKinds?: readonly ErrorKind[];
  /** Kinds counted as failures of the service; others count as successes, `cancelled` as nothing. Default: overloaded, server_error, timeout, network, unknown. */
  failureKinds?: readonly ErrorKind[];
  /** The probe's lease: another worker may probe when the holder reported nothing for this long, ms. Default 30,000. */
  probeLeaseMs?: number;
  /** Counts round trips (shared with a flow backend's counter). */
  trips?: RoundTripCounter;
}

/** State of a shared breaker: `ms` is the time until half-open (open) or until the probe's lease ends (half-open). */
export interface SharedBreakerState {
  state: 'closed' | 'open' | 'half-open';
  ms: number;
}

/** What {@link RedisCircuitBreaker.acquire} answers. */
export type BreakerTicket =
  | { readonly ok: true; /** This call is the half-open probe: report its outcome. */ readonly probe: boolean }
  | { readonly ok: false; readonly state: 'open' | 'half-open'; /** ms to wait before asking again. */ readonly retryInMs: number };

/** A circuit breaker whose state every worker shares (Redis, atomic Lua). */
export class RedisCircuitBreaker {
  private readonly script: ScriptCommand;
  private readonly key: string;
  private readonly failures: number;
  private readonly breakMs: number;
  private readonly leaseMs: number;
  private readonly openOn: ReadonlySet<ErrorKind>;
  private readonly counted: ReadonlySet<ErrorKind>;
  private readonly trips: RoundTripCounter;

  constructor(redis: Redis, options: RedisCircuitBreakerOptions) {
    const where = 'redis circuit breaker';
    if (!options || typeof options.scope !== 'string' || options.scope.length === 0) throw new TypeError(`${where}: scope must be a non-empty string`);
    this.key = `${checkPrefix(options.prefix ?? 'sluice')}:flow:breaker:${options.scope}`;
    this.failures = positive(options.failures ?? 5, `${where}: failures`, true);
    this.breakMs = positive(options.breakDurationMs ?? 30_000, `${where}: breakDurationMs`);
    this.leaseMs = positive(options.probeLeaseMs ?? 30_000, `${where}: probeLeaseMs`);
    this.openOn = new Set(kinds(options.openOnKinds ?? ['auth'], `${where}: openOnKinds`));
    this.counted = new Set(kinds(options.failureKinds ?? DEFAULT_FAILURE_KINDS, `${where}: failureKinds`));
    this.trips = options.trips ?? new RoundTripCounter();
    this.script = defineScript(redis, HERE, 'sluiceBreaker', ['breaker'], 1);
  }

  /** Whether a call may go ahead now (closed, or the one half-open probe); else how long to wait. */
  async acquire(): Promise<BreakerTicket> {
    this.trips.count++;
    const [allowed, state, ms] = (await this.script(this.key, 'acquire', this.leaseMs)) as [number, 'closed' | 'open' | 'half-open', number];
    if (allowed === 1) return { ok: true, probe: state === 'half-open' };
    return { ok: false, state: state as 'open' | 'half-open', retryInMs: Math.max(1, ms) };
  }

  /** Records a call's success (a probe's closes the circuit). */
  async recordSuccess(probe: boolean): Promise<SharedBreakerState> {
    return this.run('success', probe ? 1 : 0);
  }

  /** Records a call's failure by kind: opens at once for `openOnKinds`, counts `failureKinds`, else counts a success; `cancelled` releases a probe. */
  async recordFailure(kind: ErrorKind, probe: boolean): Promise<SharedBreakerState> {
    if (kind === 'cancelled') return this.release(probe);
    const opens = this.openOn.has(kind);
    const counted = opens || this.counted.has(kind);
    return this.run('failure', opens ? 1 : 0, counted ? 1 : 0, this.failures, this.breakMs, probe ? 1 : 0, kind);
  }

  /** A call let through that never reached the service: frees the probe lease it held. */
  async release(probe: boolean): Promise<SharedBreakerState> {
    return this.run('release', probe ? 1 : 0);
  }

  private async run(...args: (string | number)[]): Promise<SharedBreakerState> {
    this.trips.count++;
    const [state, ms] = (await this.script(this.key, ...args)) as [SharedBreakerState['state'], number];
    return { state, ms };
  }
}

function positive(value: number, field: string, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${field} must be a finite ${integer ? 'integer' : 'number'} > 0, got ${String(value)}`);
  }
  return value;
}

function kinds(value: readonly unknown[], field: string): ErrorKind[] {
  if (!Array.isArray(value)) throw new TypeError(`${field} must be an array of error kinds, got ${String(value)}`);
  return value.map((k, i) => {
    if (!isErrorKind(k)) throw new TypeError(`${field}[${i}] is not an error kind (known: ${ERROR_KINDS.join(', ')}), got ${String(k)}`);
    return k;
  });
}
