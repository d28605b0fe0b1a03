/**
 * Opening a Redis connection the way every Sluice component needs it: a wrong URL or a server that does
 * not answer fails at start with a clear message (lazy connect + explicit PING under a timeout), and a
 * connection lost later is re-established with bounded exponential backoff while commands wait in the
 * offline queue (nothing is dropped, so no work is lost or done twice). A Redis Cluster node is refused
 * at connect with a clear message.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { systemClock } from '../../clock/system-clock.js';

/** Options of {@link connectRedis}. */
export interface ConnectRedisOptions {
  /** How long the first connection and PING may take, ms. Default 5,000. */
  connectTimeoutMs?: number;
  /** Longest wait between two reconnection attempts, ms. Default 5,000. */
  maxReconnectDelayMs?: number;
  /** Called on every lost connection / reconnection attempt (for logs, see {@link reconnectMessage}). Never given the password. */
  onReconnect?: (info: { attempt: number; delayMs: number }) => void;
  /** Called when the connection is back after a loss (for logs). */
  onReconnected?: () => void;
  /** Extra ioredis options (BullMQ needs `maxRetriesPerRequest: null`, which is the default here). */
  redis?: RedisOptions;
}

/** A Redis URL that could not be used: bad syntax, or no answer within the timeout. */
export class RedisConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisConnectError';
  }
}

/** `redis://user:secret@host:6379/0` -> `redis://user:***@host:6379/0`: never show a password. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*:)?[^@/]*@/i, (_m, scheme: string, user: string | undefined) => `${scheme}${user ?? ''}***@`);
}

/** Checks the syntax of a `redis://host:port[/db]` or `rediss://` URL; throws a `RedisConnectError` naming it. */
export function parseRedisUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new RedisConnectError(`backend ${redactRedisUrl(url)}: not a valid URL (expected redis://host:port[/db])`, { cause });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RedisConnectError(`backend ${redactRedisUrl(url)}: the scheme must be redis:// or rediss://`);
  }
  if (!parsed.hostname) throw new RedisConnectError(`backend ${redactRedisUrl(url)}: no host`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new RedisConnectError(`backend ${redactRedisUrl(url)}: the database must be a number, got "${db}"`);
  return parsed;
}

/**
 * The line a lost connection is reported with (the CLI prints it on stderr once per attempt): says what
 * happened, that nothing is dropped, and when the next attempt is.
 */
export function reconnectMessage(info: { attempt: number; delayMs: number }): string {
  return `Redis connection lost; commands wait, nothing is dropped; reconnecting (attempt ${info.attempt}, next in ${info.delayMs} ms)`;
}

/** Bounded exponential backoff for reconnections: 100 ms, 200 ms, ... up to `maxMs`. */
export function reconnectDelay(attempt: number, maxMs: number): number {
  return Math.min(maxMs, 100 * 2 ** Math.min(Math.max(attempt - 1, 0), 16));
}

/**
 * Connects to `url` and checks it answers PING within `connectTimeoutMs`; throws a
 * {@link RedisConnectError} (URL redacted) otherwise. The returned client reconnects by itself.
 */
export async function connectRedis(url: string, options: ConnectRedisOptions = {}): Promise<Redis> {
  parseRedisUrl(url);
  const timeout = options.connectTimeoutMs ?? 5_000;
  const maxDelay = options.maxReconnectDelayMs ?? 5_000;
  let connected = false;
  let lost = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeout,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => {
      // Before the first success a failure is reported by connect() below; afterwards keep trying.
      if (!connected) return null;
      const delayMs = reconnectDelay(attempt, maxDelay);
      lost = true;
      options.onReconnect?.({ attempt, delayMs });
      return delayMs;
    },
    ...options.redis,
  });
  // Errors are reported through commands and connect(); an unhandled 'error' event must not crash the process.
  redis.on('error', () => undefined);
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    options.onReconnected?.();
  });
  let cancel: (() => void) | undefined;
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => {
        cancel = systemClock.setTimer(timeout, () => reject(new Error(`no answer within ${timeout} ms`)));
      }),
    ]);
    connected = true;
  } catch (cause) {
    redis.disconnect();
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new RedisConnectError(`backend ${redactRedisUrl(url)}: cannot reach Redis (${why})`, { cause });
  } finally {
    cancel?.();
  }
  await refuseCluster(redis, url);
  return redis;
}

/**
 * Redis Cluster is refused at connect, with the reason: a run's Lua scripts and BullMQ's touch several
 * keys at once, which Cluster spreads over hash slots (MOVED, CROSSSLOT). Detected by `INFO cluster`
 * (`cluster_enabled:1`); a server that refuses INFO (some managed services rename it) is not checked.
 */
async function refuseCluster(redis: Redis, url: string): Promise<void> {
  const info = await redis.info('cluster').catch(() => '');
  if (!/^cluster_enabled:1\s*$/m.test(info)) return;
  redis.disconnect();
  throw new RedisConnectError(
    `backend ${redactRedisUrl(url)}: this is a Redis Cluster node (cluster_enabled:1), which Sluice does not support: ` +
      'a run keeps its items, queue and limits in keys that its atomic scripts use together, and Cluster would spread them over hash slots. ' +
      'Use a standalone Redis (a primary, optionally with replicas or Sentinel); see docs/SCALING.md.',
  );
}
