import { systemClock } from '../clock/system-clock.js';
import type { Clock } from '../clock/clock.js';
import { PROVIDERS } from '../classify/kinds.js';
import type { ProviderName } from '../classify/kinds.js';
import { classify } from '../classify/classify.js';
import { retryPolicy } from '../attempt/policy.js';
import type { RetryPolicy, RetryPolicyOptions } from '../attempt/policy.js';
import type { KeyLimits } from '../flow/limits.js';
import type { LearnedRateOptions } from '../flow/learned-rate.js';
import type { AdaptiveConcurrency } from '../flow/adaptive-concurrency.js';
import type { QuotaMonitor } from '../flow/quota/quota-monitor.js';
import type { QuotaMonitorOptions } from '../flow/quota/quota-monitor.js';
import type { FlowBackend, QuotaRecord } from '../flow/backend.js';
import { KEY_SELECTIONS, KeyPool } from '../flow/key-pool.js';
import type { KeySelection } from '../flow/key-pool.js';
import { TypedEmitter } from '../observe/typed-emitter.js';
import type { ApiKey, CallContext, ProviderAdapter } from '../provider/types.js';
import type { ExecutorEvents } from './events.js';
import { Executor } from './executor.js';
import type { AttemptEndInfo, AttemptStartInfo } from './job.js';
import type { KeyLane } from './key-router.js';
import type { Classifier, SchedulerKeyPool, SchedulerQuota } from './ports.js';
import { quotaPort } from './quota-port.js';

/** Concurrency: a fixed number of calls in flight, or AIMD between `min` and `max`. */
import { makeConcurrency, type ConcurrencyOption } from './concurrency.js';
export type { ConcurrencyOption } from './concurrency.js';

/** The smallest logger Sluice writes to (pino fits). Only key names are ever logged. */
export interface SluiceLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of {@link createSluice}. */
export interface SluiceOptions<P, R> {
  /** An adapter, or a function `(payload, { key, signal, attempt }) => result`. */
  provider: ProviderAdapter<P, R> | ((payload: P, ctx: CallContext) => Promise<R>);
  /** API keys. Default: one key named `default` with an empty secret (for function providers). */
  keys?: readonly ApiKey[];
  /** Limits of every key, or per key name (`{ a: {...}, b: {...} }`). Default: none. */
  limits?: KeyLimits | Record<string, KeyLimits>;
  /**
   * Let each key's limiter learn its request rate from 429s that name no wait and no reset (for servers
   * that send no limits): the rate drops to 0.7 of what was being sent, then recovers (CUBIC). A 429
   * that names its wait only cools the key for that wait. `false` keeps exactly the configured limits
   * (e.g. the Veo story's 5 s spacing). Default true.
   */
  learnRate?: boolean | LearnedRateOptions;
  /** A retry policy or its options. Default: the built-in per-kind policy. */
  retry?: RetryPolicy | RetryPolicyOptions;
  /** Quota monitoring of every key (alerts, pause threshold, daily budget). Default: none. */
  quota?: Omit<QuotaMonitorOptions, 'key' | 'clock'>;
  /** Quota state saved by `executor.quotaState()` in an earlier run, per key name: restores the day's usage and pauses. */
  quotaState?: Record<string, unknown>;
  /** Calls in flight at once: a fixed number, or adaptive options. Default adaptive, `{ initial: 4, min: 1, max: 16 }` (as `sluice run`). */
  concurrency?: ConcurrencyOption;
  /** Key selection (see {@link KeySelection}). Default `round-robin`. */
  selection?: KeySelection;
  /** Shared limiter, key-state and quota storage (e.g. Redis, `src/flow/redis`): keys' cooldowns and limits are then shared between processes. Default: in memory. */
  backend?: FlowBackend;
  /**
   * Wraps the key pool the executor uses (a Redis worker lays the fleet's key states over it:
   * batch/redis/shared-pool.ts). Called once with the pool built from these options. Default: the pool itself.
   */
  wrapKeyPool?: (pool: KeyPool) => SchedulerKeyPool;
  /**
   * Called once with the adaptive concurrency limit, when `concurrency` is adaptive (a Redis worker
   * shares it with the fleet: batch/redis/shared-concurrency.ts). Default: none.
   */
  shareConcurrency?: (limit: AdaptiveConcurrency) => void;
  /**
   * Cooldown after a 429 that named no wait and no reset, ms. Default 100 when `learnRate` is on (the
   * learned rate protects the server; one start's spacing at the rate just learned where that is
   * shorter; doubled for each further bare 429 in a row, probed at least every second or quarter of the
   * refusal so far, up to 8,000), a fixed 30,000 when it is off. A configured value is never shortened.
   */
  defaultCooldownMs?: number;
  /** Per-attempt timeout, ms. Default: the retry policy's `timeoutMs`, else none. */
  attemptTimeoutMs?: number;
  /** A rate-limited job runs at once on another available key. Default true. */
  failover?: boolean;
  /** Grace for in-flight calls on close, ms. Default 10,000. */
  shutdownGraceMs?: number;
  /** Close gracefully on SIGINT/SIGTERM. Default false. */
  handleSignals?: boolean;
  /** Default backpressure bound of `runAll`. Default 1,000. */
  maxQueued?: number;
  /** Turns thrown errors into classifications. Default: `classify()` of `src/classify`, with the clock's time. */
  classify?: Classifier;
  onAttemptStart?: (info: AttemptStartInfo) => void | Promise<void>;
  onAttemptEnd?: (info: AttemptEndInfo) => void | Promise<void>;
  clock?: Clock;
  logger?: SluiceLogger;
}

/**
 * Builds an {@link Executor}: one limiter per key, the key states, the retry policy, the concurrency
 * limit and, when asked, a quota monitor per key, wired so that every decision is an event.
 *
 * ```ts
 * const sluice = createSluice({
 *   provider: openaiAdapter,
 *   keys: [{ name: 'a', secret: process.env.KEY_A! }, { name: 'b', secret: process.env.KEY_B! }],
 *   limits: { requestsPerMinute: 500, tokensPerMinute: 200_000 },
 * });
 * const answer = await sluice.run({ messages }, { priority: 1 });
 * await sluice.close();
 * ```
 */
export function createSluice<P = unknown, R = unknown>(options: SluiceOptions<P, R>): Executor<P, R> {
  if (options === null || typeof options !== 'object') throw new TypeError('createSluice: options must be an object');
  const clock = options.clock ?? systemClock;
  const provider = toAdapter(options.provider);
  const keys = checkKeys(options.keys ?? [{ name: 'default', secret: '' }]);
  const events = new TypedEmitter<ExecutorEvents>();
  const policy = toPolicy(options.retry);
  const { lanes, pool } = buildKeys(options, keys, clock, events);
  const concurrency = makeConcurrency(options.concurrency, clock, events, 'createSluice', options.shareConcurrency);
  const attemptTimeoutMs = options.attemptTimeoutMs ?? policy.timeoutMs;
  if (attemptTimeoutMs !== undefined && !(attemptTimeoutMs > 0)) {
    throw new RangeError(`createSluice: attemptTimeoutMs must be a number > 0, got ${String(attemptTimeoutMs)}`);
  }
  if (options.logger) attachLogger(events, options.logger);
  return new Executor<P, R>({
    clock,
    provider,
    lanes,
    pool,
    policy,
    classify: options.classify ?? defaultClassifier(provider.name),
    concurrency,
    events,
    ...(attemptTimeoutMs !== undefined ? { attemptTimeoutMs } : {}),
    ...(options.failover !== undefined ? { failover: options.failover } : {}),
    ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {}),
    ...(options.handleSignals !== undefined ? { handleSignals: options.handleSignals } : {}),
    ...(options.maxQueued !== undefined ? { maxQueued: options.maxQueued } : {}),
    hooks: {
      ...(options.onAttemptStart ? { onAttemptStart: options.onAttemptStart } : {}),
      ...(options.onAttemptEnd ? { onAttemptEnd: options.onAttemptEnd } : {}),
    },
  });
}

function toAdapter<P, R>(provider: SluiceOptions<P, R>['provider']): ProviderAdapter<P, R> {
  if (typeof provider === 'function') {
    return { name: 'function', call: async (payload, ctx) => ({ result: await provider(payload, ctx) }) };
  }
  if (provider === null || typeof provider !== 'object' || typeof provider.call !== 'function') {
    throw new TypeError('createSluice: provider must be a ProviderAdapter (with call()) or a function');
  }
  return provider;
}

function checkKeys(keys: readonly ApiKey[]): readonly ApiKey[] {
  if (!Array.isArray(keys) || keys.length === 0) throw new TypeError('createSluice: keys must be a non-empty array of { name, secret }');
  const seen = new Set<string>();
  keys.forEach((k, i) => {
    if (k === null || typeof k !== 'object' || typeof k.name !== 'string' || k.name === '') {
      throw new TypeError(`createSluice: keys[${i}].name must be a non-empty string`);
    }
    if (typeof k.secret !== 'string') throw new TypeError(`createSluice: keys[${i}].secret must be a string (key "${k.name}")`);
    if (seen.has(k.name)) throw new TypeError(`createSluice: keys[${i}].name "${k.name}" is used twice`);
    seen.add(k.name);
  });
  return keys;
}

function toPolicy(retry: SluiceOptions<unknown, unknown>['retry']): RetryPolicy {
  if (retry !== undefined && typeof (retry as RetryPolicy).decide === 'function') return retry as RetryPolicy;
  return retryPolicy((retry ?? {}) as RetryPolicyOptions);
}

/** Per-key limits when every field of `limits` names a key; else the same limits for all keys. */
function limitsFor(limits: SluiceOptions<unknown, unknown>['limits'], name: string, keys: readonly ApiKey[]): KeyLimits {
  if (limits === undefined) return {};
  if (limits === null || typeof limits !== 'object') throw new TypeError('createSluice: limits must be an object');
  const fields = Object.keys(limits);
  const names = new Set(keys.map((k) => k.name));
  const perKey = fields.length > 0 && fields.every((f) => names.has(f));
  return perKey ? ((limits as Record<string, KeyLimits>)[name] ?? {}) : (limits as KeyLimits);
}

/**
 * The keys' limiters, quota monitors and states: the flow layer's KeyPool, in memory or on the shared
 * `backend` (Redis). Its limiters and (when quota is watched) monitors become the executor's lanes.
 */
function buildKeys<P, R>(options: SluiceOptions<P, R>, keys: readonly ApiKey[], clock: Clock, events: TypedEmitter<ExecutorEvents>): { lanes: KeyLane[]; pool: SchedulerKeyPool } {
  const selection = options.selection ?? 'round-robin';
  if (!KEY_SELECTIONS.includes(selection)) throw new TypeError(`createSluice: selection must be one of ${KEY_SELECTIONS.join(', ')}, got ${String(selection)}`);
  const perKey = Object.fromEntries(keys.map((k) => [k.name, limitsFor(options.limits, k.name, keys)]));
  const pool = new KeyPool({
    keys,
    perKey,
    selection,
    clock,
    learnRate: options.learnRate ?? true,
    // The executor's single timer drives rejoins (pool.nextRejoinAt / pool.rejoin): no timer per cooldown.
    rejoinTimers: false,
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.defaultCooldownMs !== undefined ? { defaultCooldownMs: options.defaultCooldownMs } : {}),
    ...(options.quota ? { quota: options.quota } : {}),
  });
  const lanes = keys.map((key): KeyLane => {
    const limiter = pool.limiter(key.name);
    limiter.events.on('rate', (r) => events.emit('rateChange', r));
    limiter.events.on('inFlightCap', (c) => events.emit('inFlightCapChange', c));
    // A key whose quota nobody watches needs no monitor on the executor's hot path.
    if (!options.quota && perKey[key.name]!.requestsPerDay === undefined && options.quotaState?.[key.name] === undefined) return { key, limiter };
    return { key, limiter, quota: wireMonitor(pool.monitor(key.name), options, events) };
  });
  return { lanes, pool: options.wrapKeyPool ? options.wrapKeyPool(pool) : pool };
}

/** Forwards a monitor's events, restores its saved state, and adapts it to the scheduler's quota port. */
function wireMonitor<P, R>(monitor: QuotaMonitor, options: SluiceOptions<P, R>, events: TypedEmitter<ExecutorEvents>): SchedulerQuota {
  monitor.events.on('alert', (a) => events.emit('quotaAlert', { key: a.key, level: a.level, usage: a.usage, window: a.limit }));
  monitor.events.on('pause', (p) => events.emit('pause', { reason: 'quota', until: p.until, key: p.key, detail: p.reason }));
  monitor.events.on('resume', (r) => events.emit('resume', { reason: 'quota', key: r.key }));
  const saved = options.quotaState?.[monitor.key];
  if (saved !== undefined) monitor.restore(saved as QuotaRecord);
  return quotaPort(monitor);
}

/** `classify()` from `src/classify`, told the adapter's provider family when it is one it knows. */
function defaultClassifier(adapterName: string): Classifier {
  const provider = (PROVIDERS as readonly string[]).includes(adapterName) ? (adapterName as ProviderName) : undefined;
  return (failure, now) => classify(failure, { now, ...(provider ? { provider } : {}) });
}

function attachLogger(events: TypedEmitter<ExecutorEvents>, logger: SluiceLogger): void {
  const warn = new Set<keyof ExecutorEvents>(['cooldownStart', 'allKeysUnavailable', 'jobFailed', 'quotaAlert', 'pause']);
  events.onAny((type, event) => {
    if (type === 'keyChosen' || type === 'idle') return;
    // Key names go out as `keyName`: loggers redact a field called `key` as if it held a secret.
    const { key, ...rest } = event as { key?: string };
    const line = { event: type, ...rest, ...(key !== undefined ? { keyName: key } : {}) };
    if (warn.has(type)) logger.warn(line, String(type));
    else logger.info(line, String(type));
  });
}
