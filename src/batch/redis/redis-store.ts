/**
 * `RedisJobStore`: the {@link JobStore} contract on Redis, so that `status`, `export`, `retry-failed`
 * and the batch runner work the same on both backends, and N workers share one run. Every state change
 * is one Lua script (atomic); the layout is described in `scripts/lib.lua` and docs/SCALING.md.
 *
 * Beyond the contract, workers use {@link RedisJobStore.beginAttempt} (persist the attempt count once,
 * before the request, whichever worker sends it) and {@link RedisJobStore.finishAttempt} (attempt end and
 * completion in one step; the first final result wins, so a result is recorded once).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isErrorKind, type ErrorKind } from '../../classify/kinds.js';
import { connectRedis, type ConnectRedisOptions } from '../../flow/redis/connect.js';
import { checkPrefix, deleteByPattern } from '../../flow/redis/redis-flow-backend.js';
import { defineScript, type ScriptCommand } from '../../flow/redis/scripts.js';
import {
  ITEM_STATES,
  type AttemptOutcome,
  type BatchCounts,
  type Completion,
  type IngestCheckpoint,
  type ItemState,
  type JobStore,
  type KeyCounts,
  type NewItem,
  type RetryFailedOptions,
  type RunMeta,
  type StoredItem,
} from '../store.js';

const HERE = import.meta.url;

/** Options of {@link RedisJobStore}. */
export interface RedisJobStoreOptions {
  /** Prefix of every Redis key. Default `sluice`. */
  prefix?: string;
  /** Name of the run (one input = one run). Letters, digits, `_ . -`. */
  run: string;
}

const SCRIPTS = {
  ingest: 'ingest',
  claim: 'claim',
  beginAttempt: 'begin-attempt',
  attempt: 'attempt',
  complete: 'complete',
  resetRunning: 'reset-running',
  retryFailed: 'retry-failed',
  markWritten: 'mark-written',
  resetWritten: 'reset-written',
  runState: 'run-state',
} as const;

type ScriptName = keyof typeof SCRIPTS;

/**
 * The BullMQ lock of the job a worker runs an item for: {@link RedisJobStore.beginAttempt} then begins
 * the attempt only while this worker holds it (-1 otherwise: another worker took the job over).
 */
export interface JobLock {
  lockKey: string;
  token: string;
  activeKey: string;
  jobId: string;
  lockMs: number;
}

/** {@link RedisJobStore.beginAttempt}'s answer when the caller's copy of the item is stale. */
export const BEGIN_STALE = -2;

/** A pending item as {@link RedisJobStore.pendingPage} lists it. */
export interface PendingItem {
  id: string;
  priority: number;
  attempts: number;
  /** The payload as stored (JSON text); absent when the item vanished meanwhile. */
  payloadJson?: string;
}

/** Run names become part of Redis keys: keep them plain. */
export function checkRunName(run: string): string {
  if (typeof run !== 'string' || !/^[A-Za-z0-9_.-]{1,200}$/.test(run)) {
    throw new TypeError(`redis run name must be 1-200 letters, digits, _ . - only, got ${JSON.stringify(run)}`);
  }
  return run;
}

/** The {@link JobStore} on Redis. One instance per process; many processes may share a run. */
export class RedisJobStore implements JobStore {
  /** Key prefix of this run's data: `<prefix>:run:<run>`. */
  readonly base: string;
  /** Round trips made (for the benchmark). */
  trips = 0;
  private readonly scripts: Record<ScriptName, ScriptCommand>;
  private closed = false;

  constructor(
    readonly redis: Redis,
    options: RedisJobStoreOptions,
    private readonly ownsClient = false,
  ) {
    this.base = `${checkPrefix(options.prefix ?? 'sluice')}:run:${checkRunName(options.run)}`;
    const entries = Object.entries(SCRIPTS).map(([name, file]) => {
      const command = defineScript(redis, HERE, `sluiceStore_${name}`, ['lib', file], 0);
      return [name, command] as const;
    });
    this.scripts = Object.fromEntries(entries) as Record<ScriptName, ScriptCommand>;
  }

  /** Connects to `url` (clear error when Redis does not answer) and opens the run. */
  static async connect(url: string, options: RedisJobStoreOptions & ConnectRedisOptions): Promise<RedisJobStore> {
    const redis = await connectRedis(url, options);
    return new RedisJobStore(redis, options, true);
  }

  private call(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error(`redis store ${this.base}: store is closed`));
    this.trips++;
    return this.scripts[name](this.base, ...args);
  }

  async getMeta(): Promise<RunMeta | undefined> {
    this.trips++;
    const raw = await this.redis.hgetall(`${this.base}:meta`);
    if (raw.createdAt === undefined) return undefined;
    const get = (k: string): unknown => (raw[k] === undefined ? undefined : (JSON.parse(raw[k]) as unknown));
    const meta: RunMeta = {
      ingestDone: get('ingestDone') === true,
      ingestedThroughLine: Number(get('ingestedThroughLine') ?? 0),
      rejectsOffset: Number(get('rejectsOffset') ?? 0),
      outputOffset: Number(get('outputOffset') ?? 0),
      createdAt: Number(get('createdAt')),
    };
    const fingerprint = get('fingerprint');
    if (fingerprint) meta.fingerprint = fingerprint as RunMeta['fingerprint'];
    const options = get('options');
    if (options) meta.options = options as Record<string, unknown>;
    return meta;
  }

  async setMeta(patch: Partial<RunMeta>): Promise<void> {
    const fields: string[] = [];
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) fields.push(k, JSON.stringify(v));
    if (fields.length === 0) return;
    this.trips++;
    await this.redis.hset(`${this.base}:meta`, ...fields);
  }

  async existingIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    this.trips++;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.exists(this.itemKey(id));
    const answers = (await pipeline.exec()) ?? [];
    return new Set(ids.filter((_, i) => answers[i]?.[1] === 1));
  }

  async ingest(items: readonly NewItem[], checkpoint: IngestCheckpoint): Promise<{ inserted: number; duplicates: string[] }> {
    const rows = items.map((i) => ({ id: i.id, line: i.line, priority: i.priority, payload: JSON.stringify(i.payload ?? null), input: i.input ? JSON.stringify(i.input) : '' }));
    const out = (await this.call('ingest', JSON.stringify(rows), JSON.stringify(checkpoint))) as string;
    const parsed = JSON.parse(out) as { inserted: number; duplicates: string[] | Record<string, never> };
    return { inserted: parsed.inserted, duplicates: Array.isArray(parsed.duplicates) ? parsed.duplicates : [] };
  }

  async claimPending(limit: number): Promise<StoredItem[]> {
    if (!(limit >= 1)) return [];
    const ids = (await this.call('claim', Math.floor(limit))) as string[];
    return this.read(ids);
  }

  /**
   * A worker is about to send the next attempt of `id` (on key `key`): the attempt count is incremented
   * and persisted first, atomically, and the item marked running. Returns the attempt number, or 0 when
   * the item is already final or unknown (then nothing must be sent). The same `nonce` again (a resent
   * call) counts nothing more and returns the same number. With `lock`, -1 when this worker no longer
   * holds the item's job (see {@link JobLock}). With `expected` (the attempt number the caller counts
   * from a copy of the item), {@link BEGIN_STALE} and nothing counted when the persisted count is not
   * `expected - 1`: the copy is stale, and the caller must read the item.
   */
  async beginAttempt(id: string, key?: string, nonce: string = randomUUID(), lock?: JobLock, expected?: number): Promise<number> {
    // The nonce makes a resent call (the client resends a command whose reply a lost connection
    // swallowed) return the same number instead of counting the attempt twice.
    const guard = lock ? [lock.lockKey, lock.token, lock.activeKey, lock.jobId, Math.ceil(lock.lockMs)] : ['', '', '', '', ''];
    return Number(await this.call('beginAttempt', id, key ?? '', nonce, ...guard, expected ?? ''));
  }

  async recordAttemptStart(id: string, attempt: number, key?: string): Promise<void> {
    await this.call('attempt', id, attempt, '', key ?? '', '');
  }

  async recordAttemptEnd(id: string, attempt: number, outcome: AttemptOutcome): Promise<void> {
    await this.call('attempt', id, attempt, JSON.stringify(outcome), outcome.key ?? '', '');
  }

  /**
   * Records how attempt `attempt` ended and applies `completion` in one atomic step. Returns false when
   * the item was already final (another worker recorded its result first): nothing was changed then.
   */
  async finishAttempt(id: string, attempt: number, outcome: AttemptOutcome, completion: Completion): Promise<boolean> {
    const applied = await this.call('attempt', id, attempt, JSON.stringify(outcome), outcome.key ?? '', JSON.stringify(toRow(completion)));
    return Number(applied) === 1;
  }

  async complete(completions: readonly Completion[]): Promise<void> {
    if (completions.length === 0) return;
    await this.call('complete', JSON.stringify(completions.map(toRow)));
  }

  async resetRunning(): Promise<number> {
    return Number(await this.call('resetRunning'));
  }

  async retryFailed(options: RetryFailedOptions = {}): Promise<number> {
    const o = { kinds: options.kinds ?? [], resetAttempts: options.resetAttempts !== false, includeCancelled: options.includeCancelled === true };
    return Number(await this.call('retryFailed', JSON.stringify(o)));
  }

  /** The run's state in one command: whether it exists, whether its input is all ingested, items pending and running. */
  async runState(): Promise<{ exists: boolean; ingestDone: boolean; pending: number; running: number }> {
    const [exists, ingested, pending, running] = (await this.call('runState')) as number[];
    return { exists: exists === 1, ingestDone: ingested === 1, pending: Number(pending), running: Number(running) };
  }

  /** The channel on which the store announces that the run has nothing pending or running (see lib.lua). */
  get eventsChannel(): string {
    return `${this.base}:events`;
  }

  async counts(): Promise<BatchCounts> {
    this.trips++;
    const [counts, keystats, finals, unwritten] = ((await this.redis
      .multi()
      .hgetall(`${this.base}:counts`)
      .hgetall(`${this.base}:keystats`)
      .zcard(`${this.base}:final`)
      .zcard(`${this.base}:unwritten`)
      .exec()) ?? []).map((r) => r[1]) as [Record<string, string>, Record<string, string>, number, number];
    const byState = Object.fromEntries(ITEM_STATES.map((s) => [s, Number(counts[s] ?? 0)])) as Record<ItemState, number>;
    const failedByKind: Partial<Record<ErrorKind, number>> = {};
    for (const [field, n] of Object.entries(counts)) {
      if (!field.startsWith('kind:') || Number(n) === 0) continue;
      const kind = field.slice(5);
      const k: ErrorKind = isErrorKind(kind) ? kind : 'unknown';
      failedByKind[k] = (failedByKind[k] ?? 0) + Number(n);
    }
    const perKey: Record<string, KeyCounts> = {};
    for (const [field, value] of Object.entries(keystats)) {
      const tab = field.lastIndexOf('\t');
      const key = field.slice(0, tab);
      const outcome = field.slice(tab + 1);
      const n = Number(value);
      const k = (perKey[key] ??= { attempts: 0, succeeded: 0, failedByKind: {} });
      k.attempts += n;
      if (outcome === 'ok') k.succeeded += n;
      else {
        const kind: ErrorKind = isErrorKind(outcome) ? outcome : 'unknown';
        k.failedByKind[kind] = (k.failedByKind[kind] ?? 0) + n;
      }
    }
    return { total: Number(counts.total ?? 0), byState, failedByKind, perKey, written: finals - unwritten };
  }

  async unwritten(limit: number): Promise<StoredItem[]> {
    this.trips++;
    const ids = await this.redis.zrange(`${this.base}:unwritten`, 0, Math.max(0, Math.floor(limit) - 1));
    return this.read(ids);
  }

  async markWritten(ids: readonly string[], outputOffset: number): Promise<void> {
    await this.call('markWritten', JSON.stringify(ids), outputOffset);
  }

  async resetWritten(): Promise<void> {
    await this.call('resetWritten');
  }

  async *finalItems(pageSize = 1000): AsyncIterable<StoredItem> {
    let after = '-inf';
    while (true) {
      this.trips++;
      const page = await this.redis.zrange(`${this.base}:final`, after, '+inf', 'BYSCORE', 'LIMIT', 0, pageSize, 'WITHSCORES');
      const ids: string[] = [];
      for (let i = 0; i + 1 < page.length; i += 2) ids.push(page[i]!);
      for (const item of await this.read(ids)) yield item;
      if (ids.length < pageSize) return;
      after = `(${page[page.length - 1]!}`;
    }
  }

  /** The first `limit` failed items by input line (the report's table), and how many failed in all. */
  async failedItems(limit: number): Promise<{ total: number; items: StoredItem[] }> {
    this.trips++;
    const [total, ids] = await Promise.all([this.redis.zcard(`${this.base}:failed`), this.redis.zrange(`${this.base}:failed`, 0, Math.max(0, limit - 1))]);
    return { total, items: await this.read(ids) };
  }

  async get(id: string): Promise<StoredItem | undefined> {
    const [item] = await this.read([id]);
    return item;
  }

  /**
   * Pending items in claim order after the score `after` (exclusive; start with `-inf`), a page at a
   * time, for enqueueing them on the distributed queue; with `withItems`, their payload's JSON and
   * attempts too (a job carries them: queue.ts), else attempts 0 and no payload (nothing more is read).
   * Scores are unique, so paging never skips an item even while workers move items out of the pending set.
   */
  async pendingPage(after: string, limit: number, withItems = true): Promise<{ items: PendingItem[]; next: string }> {
    this.trips++;
    const page = await this.redis.zrange(`${this.base}:pending`, after, '+inf', 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES');
    const items: PendingItem[] = [];
    // score = -priority * 1e10 + line
    for (let i = 0; i + 1 < page.length; i += 2) items.push({ id: page[i]!, priority: -Math.round(Number(page[i + 1]) / 1e10), attempts: 0 });
    if (withItems && items.length > 0) {
      this.trips++;
      const pipeline = this.redis.pipeline();
      for (const item of items) pipeline.hmget(this.itemKey(item.id), 'payload', 'attempts');
      const rows = (await pipeline.exec()) ?? [];
      items.forEach((item, i) => {
        const [payload, attempts] = (rows[i]?.[1] ?? []) as (string | null)[];
        if (payload !== null && payload !== undefined) item.payloadJson = payload;
        item.attempts = Number(attempts ?? 0);
      });
    }
    return { items, next: page.length > 0 ? `(${page[page.length - 1]!}` : after };
  }

  /** Deletes every key of this run (the flow keys under the prefix are left alone). */
  async destroy(): Promise<number> {
    return deleteByPattern(this.redis, `${this.base}:*`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private itemKey(id: string): string {
    return `${this.base}:item:${id}`;
  }

  private async read(ids: readonly string[]): Promise<StoredItem[]> {
    if (ids.length === 0) return [];
    this.trips++;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.itemKey(id));
    const rows = (await pipeline.exec()) ?? [];
    const items: StoredItem[] = [];
    for (const [, row] of rows) {
      const item = toItem(row as Record<string, string>);
      if (item) items.push(item);
    }
    return items;
  }
}

function toRow(c: Completion): Record<string, unknown> {
  if (c.state === 'succeeded') return { id: c.id, state: c.state, result: JSON.stringify(c.result ?? null) };
  if (c.state === 'pending') return { id: c.id, state: c.state };
  return c.error ? { id: c.id, state: c.state, error: c.error } : { id: c.id, state: c.state };
}

function toItem(h: Record<string, string>): StoredItem | undefined {
  if (h.id === undefined) return undefined;
  const item: StoredItem = {
    id: h.id,
    line: Number(h.line),
    priority: Number(h.priority),
    payload: JSON.parse(h.payload ?? 'null') as unknown,
    state: (h.state ?? 'pending') as ItemState,
    attempts: Number(h.attempts ?? 0),
  };
  if (h.input) item.input = JSON.parse(h.input) as Record<string, string>;
  if (h.kind !== undefined) {
    item.lastError = { kind: isErrorKind(h.kind) ? h.kind : 'unknown', message: h.msg ?? '' };
    if (h.status !== undefined) item.lastError.status = Number(h.status);
  }
  if (h.key !== undefined) item.lastKey = h.key;
  if (h.result !== undefined) item.result = JSON.parse(h.result) as unknown;
  return item;
}
