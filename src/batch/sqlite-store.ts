/**
 * The embedded {@link JobStore}: one SQLite file through better-sqlite3.
 *
 * Durability: WAL journal with `synchronous=NORMAL`. In WAL mode a commit appends the transaction
 * to the `-wal` file with write(2) before `COMMIT` returns; only the fsync is deferred to checkpoints.
 * When the *process* dies (kill -9, crash, OOM) the operating system still holds those pages, so
 * every committed transaction survives and no result is lost or duplicated. `synchronous=FULL` would
 * add an fsync per commit, which only helps against power loss or a kernel crash, and costs a
 * disk flush per transaction (a few thousand transitions per second instead of tens of thousands).
 * After a power loss with NORMAL the last transactions may be rolled back, but the file stays
 * consistent, and the runner repairs the output file against it on resume (see `output.ts`).
 *
 * Batching: every call is queued and the queue is applied in one transaction per event-loop turn
 * (if one call throws, the batch is rolled back and each call is applied alone, so it fails alone). A call's promise resolves only
 * after its transaction committed, so "resolved" always means "durable against a process crash".
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { ErrorKind } from '../classify/kinds.js';
import { isErrorKind } from '../classify/kinds.js';
import type {
  AttemptOutcome,
  BatchCounts,
  Completion,
  IngestCheckpoint,
  ItemState,
  JobStore,
  KeyCounts,
  NewItem,
  RetryFailedOptions,
  RunMeta,
  StoredItem,
} from './store.js';
import { ITEM_STATES } from './store.js';

/** A state file that cannot be used: not a database, another program's database, or a newer schema. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`state file ${path}: ${reason}`, options);
  }
}

/** Schema version written to `PRAGMA user_version`; bump with a migration when the schema changes. */
const SCHEMA_VERSION = 2;
/** Migrations from each older version to the next (run in one transaction on open). */
const MIGRATIONS: Record<number, string> = {
  // 2: the input row's fields (CSV), carried into the results.
  1: 'ALTER TABLE items ADD COLUMN input TEXT;',
};
/** Written to the meta table so that another program's SQLite file is recognised as such. */
const APPLICATION_TAG = 'sluice-batch';

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE items (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  line INTEGER NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_kind TEXT,
  last_message TEXT,
  last_status INTEGER,
  last_key TEXT,
  result TEXT,
  written INTEGER NOT NULL DEFAULT 0,
  input TEXT
);
-- Partial indexes stay small (only the rows in that state) and queries name them (INDEXED BY):
-- the planner would otherwise pick a state index and sort every pending row per claim.
CREATE INDEX items_pending ON items (priority DESC, line) WHERE state = 'pending';
CREATE INDEX items_running ON items (seq) WHERE state = 'running';
CREATE INDEX items_unwritten ON items (seq) WHERE written = 0 AND state IN ('succeeded', 'failed', 'cancelled');
CREATE TABLE key_stats (key TEXT NOT NULL, outcome TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (key, outcome)) WITHOUT ROWID;
`;

interface ItemRow {
  seq: number;
  id: string;
  line: number;
  priority: number;
  payload: string;
  state: string;
  attempts: number;
  last_kind: string | null;
  last_message: string | null;
  last_status: number | null;
  last_key: string | null;
  result: string | null;
  input: string | null;
}

interface QueuedOp {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Options of {@link SqliteJobStore.open}. */
export interface SqliteStoreOptions {
  /** Create the file when missing (default true). With false, a missing file is a {@link StateFileError}. */
  create?: boolean;
}

/** The embedded {@link JobStore}: better-sqlite3, WAL, prepared statements, batched transactions. */
export class SqliteJobStore implements JobStore {
  private readonly queue: QueuedOp[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly stmt: ReturnType<SqliteJobStore['prepare']>;

  private constructor(
    private readonly db: Database.Database,
    /** Path of the state file. */
    readonly path: string,
  ) {
    this.stmt = this.prepare();
  }

  /** Opens (or creates) a state file. Throws {@link StateFileError} for a corrupt or foreign file. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteJobStore {
    const create = options.create ?? true;
    if (!create && !existsSync(path)) throw new StateFileError(path, 'does not exist (run the batch first)');
    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: !create });
    } catch (error) {
      throw new StateFileError(path, `cannot open: ${(error as Error).message}`, { cause: error });
    }
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      SqliteJobStore.ensureSchema(db, path);
    } catch (error) {
      db.close();
      if (error instanceof StateFileError) throw error;
      throw new StateFileError(path, `not a usable state file (${(error as Error).message})`, { cause: error });
    }
    return new SqliteJobStore(db, path);
  }

  private static ensureSchema(db: Database.Database, path: string): void {
    const version = db.pragma('user_version', { simple: true }) as number;
    const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number };
    if (version === 0 && tables.n === 0) {
      db.transaction(() => {
        db.exec(SCHEMA);
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('application', JSON.stringify(APPLICATION_TAG));
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
      return;
    }
    let tag: unknown;
    try {
      const row = db.prepare(`SELECT value FROM meta WHERE key = 'application'`).get() as { value: string } | undefined;
      tag = row ? JSON.parse(row.value) : undefined;
    } catch {
      tag = undefined;
    }
    if (tag !== APPLICATION_TAG) throw new StateFileError(path, 'is an SQLite database but not a Sluice state file');
    if (version > SCHEMA_VERSION) {
      throw new StateFileError(path, `schema version ${version} is newer than this Sluice supports (${SCHEMA_VERSION})`);
    }
    if (version < 1) throw new StateFileError(path, `unknown schema version ${version}`);
    if (version < SCHEMA_VERSION) {
      db.transaction(() => {
        for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      getMeta: db.prepare('SELECT key, value FROM meta'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      exists: db.prepare('SELECT 1 FROM items WHERE id = ?').pluck(),
      insert: db.prepare('INSERT OR IGNORE INTO items (id, line, priority, payload, input) VALUES (?, ?, ?, ?, ?)'),
      pending: db.prepare(`SELECT * FROM items INDEXED BY items_pending WHERE state = 'pending' ORDER BY priority DESC, line LIMIT ?`),
      setRunning: db.prepare(`UPDATE items SET state = 'running' WHERE seq = ?`),
      attemptStart: db.prepare('UPDATE items SET attempts = max(attempts, ?), last_key = coalesce(?, last_key) WHERE id = ?'),
      attemptFailed: db.prepare(
        'UPDATE items SET last_kind = ?, last_message = ?, last_status = ?, last_key = coalesce(?, last_key) WHERE id = ?',
      ),
      keyStat: db.prepare('INSERT INTO key_stats (key, outcome, n) VALUES (?, ?, 1) ON CONFLICT (key, outcome) DO UPDATE SET n = n + 1'),
      succeed: db.prepare(`UPDATE items SET state = 'succeeded', result = ?, written = 0 WHERE id = ?`),
      fail: db.prepare(
        `UPDATE items SET state = ?, last_kind = ?, last_message = ?, last_status = ?, written = 0 WHERE id = ?`,
      ),
      cancelKeep: db.prepare(`UPDATE items SET state = 'cancelled', written = 0 WHERE id = ?`),
      giveBack: db.prepare(`UPDATE items SET state = 'pending' WHERE id = ? AND state = 'running'`),
      resetRunning: db.prepare(`UPDATE items SET state = 'pending' WHERE state = 'running'`),
      countStates: db.prepare('SELECT state, count(*) AS n FROM items GROUP BY state'),
      countKinds: db.prepare(`SELECT last_kind AS kind, count(*) AS n FROM items WHERE state = 'failed' GROUP BY last_kind`),
      countWritten: db.prepare('SELECT count(*) FROM items WHERE written = 1').pluck(),
      keyStats: db.prepare('SELECT key, outcome, n FROM key_stats'),
      unwritten: db.prepare(
        `SELECT * FROM items INDEXED BY items_unwritten WHERE written = 0 AND state IN ('succeeded', 'failed', 'cancelled') ORDER BY seq LIMIT ?`,
      ),
      markWritten: db.prepare('UPDATE items SET written = 1 WHERE id = ?'),
      resetWritten: db.prepare('UPDATE items SET written = 0 WHERE written = 1'),
      finalPage: db.prepare(
        `SELECT * FROM items WHERE seq > ? AND state IN ('succeeded', 'failed', 'cancelled') ORDER BY seq LIMIT ?`,
      ),
      get: db.prepare('SELECT * FROM items WHERE id = ?'),
      remove: db.prepare('DELETE FROM items WHERE id = ?'),
    };
  }

  /** Queues `run` into the next batched transaction; resolves after that transaction committed. */
  private enqueue<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`state file ${this.path}: store is closed`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Not a timer: yields one event-loop turn so that concurrent callers share a transaction.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const ops = this.queue.splice(0);
    if (ops.length === 0) return;
    // Fast path: every queued call in one transaction.
    let values: unknown[] | undefined;
    try {
      values = this.db.transaction(() => ops.map((op) => op.run()))();
    } catch {
      values = undefined;
    }
    if (values) {
      ops.forEach((op, i) => op.resolve(values[i]));
      return;
    }
    // A call failed and rolled the batch back: apply each call in its own transaction so it fails alone.
    for (const op of ops) {
      try {
        op.resolve(this.db.transaction(op.run)());
      } catch (error) {
        op.reject(storeError(this.path, error));
      }
    }
  }

  getMeta(): Promise<RunMeta | undefined> {
    return this.enqueue(() => this.readMeta());
  }

  private readMeta(): RunMeta | undefined {
    const rows = this.stmt.getMeta.all() as { key: string; value: string }[];
    const map = new Map(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
    if (!map.has('createdAt')) return undefined;
    const meta: RunMeta = {
      ingestDone: map.get('ingestDone') === true,
      ingestedThroughLine: Number(map.get('ingestedThroughLine') ?? 0),
      rejectsOffset: Number(map.get('rejectsOffset') ?? 0),
      outputOffset: Number(map.get('outputOffset') ?? 0),
      createdAt: Number(map.get('createdAt')),
    };
    const fingerprint = map.get('fingerprint');
    if (fingerprint) meta.fingerprint = fingerprint as RunMeta['fingerprint'];
    const outputPath = map.get('outputPath');
    if (typeof outputPath === 'string') meta.outputPath = outputPath;
    for (const key of ['options', 'settings', 'quotaState'] as const) {
      const value = map.get(key);
      if (value && typeof value === 'object') meta[key] = value as Record<string, unknown>;
    }
    return meta;
  }

  /** Writes metadata. The run counts as created (getMeta defined) once `createdAt` has been set. */
  setMeta(patch: Partial<RunMeta>): Promise<void> {
    return this.enqueue(() => this.writeMeta(patch));
  }

  private writeMeta(patch: Partial<RunMeta>): void {
    for (const [key, value] of Object.entries(patch)) {
      if (value !== undefined) this.stmt.setMeta.run(key, JSON.stringify(value));
    }
  }

  existingIds(ids: readonly string[]): Promise<Set<string>> {
    return this.enqueue(() => new Set(ids.filter((id) => this.stmt.exists.get(id) !== undefined)));
  }

  ingest(items: readonly NewItem[], checkpoint: IngestCheckpoint): Promise<{ inserted: number; duplicates: string[] }> {
    return this.enqueue(() => {
      const duplicates: string[] = [];
      let inserted = 0;
      for (const item of items) {
        const info = this.stmt.insert.run(item.id, item.line, item.priority, JSON.stringify(item.payload ?? null), item.input ? JSON.stringify(item.input) : null);
        if (info.changes === 1) inserted++;
        else duplicates.push(item.id);
      }
      this.writeMeta({
        ingestedThroughLine: checkpoint.throughLine,
        rejectsOffset: checkpoint.rejectsOffset,
        ingestDone: checkpoint.done,
      });
      return { inserted, duplicates };
    });
  }

  claimPending(limit: number): Promise<StoredItem[]> {
    return this.enqueue(() => {
      const rows = this.stmt.pending.all(limit) as ItemRow[];
      for (const row of rows) this.stmt.setRunning.run(row.seq);
      return rows.map((row) => toItem({ ...row, state: 'running' }));
    });
  }

  recordAttemptStart(id: string, attempt: number, key?: string): Promise<void> {
    return this.enqueue(() => {
      this.stmt.attemptStart.run(attempt, key ?? null, id);
    });
  }

  recordAttemptEnd(id: string, attempt: number, outcome: AttemptOutcome): Promise<void> {
    return this.enqueue(() => {
      this.stmt.attemptStart.run(attempt, outcome.key ?? null, id);
      if (!outcome.ok) {
        this.stmt.attemptFailed.run(outcome.kind, outcome.message, outcome.status ?? null, outcome.key ?? null, id);
      }
      if (outcome.key !== undefined) this.stmt.keyStat.run(outcome.key, outcome.ok ? 'ok' : outcome.kind);
    });
  }

  complete(completions: readonly Completion[]): Promise<void> {
    return this.enqueue(() => {
      for (const c of completions) {
        switch (c.state) {
          case 'succeeded':
            this.stmt.succeed.run(JSON.stringify(c.result ?? null), c.id);
            break;
          case 'failed':
            this.stmt.fail.run('failed', c.error.kind, c.error.message, c.error.status ?? null, c.id);
            break;
          case 'cancelled':
            if (c.error) this.stmt.fail.run('cancelled', c.error.kind, c.error.message, c.error.status ?? null, c.id);
            else this.stmt.cancelKeep.run(c.id);
            break;
          case 'pending':
            this.stmt.giveBack.run(c.id);
            break;
        }
      }
    });
  }

  resetRunning(): Promise<number> {
    return this.enqueue(() => this.stmt.resetRunning.run().changes);
  }

  retryFailed(options: RetryFailedOptions = {}): Promise<number> {
    return this.enqueue(() => {
      const states = options.includeCancelled ? ['failed', 'cancelled'] : ['failed'];
      const kinds = options.kinds ?? [];
      const where = [`state IN (${states.map(() => '?').join(', ')})`];
      const params: unknown[] = [...states];
      if (kinds.length > 0) {
        where.push(`last_kind IN (${kinds.map(() => '?').join(', ')})`);
        params.push(...kinds);
      }
      const attempts = options.resetAttempts === false ? 'attempts' : '0';
      const sql = `UPDATE items SET state = 'pending', attempts = ${attempts}, last_kind = NULL, last_message = NULL,
        last_status = NULL, written = 0 WHERE ${where.join(' AND ')}`;
      return this.db.prepare(sql).run(...params).changes;
    });
  }

  counts(): Promise<BatchCounts> {
    return this.enqueue(() => {
      const byState = Object.fromEntries(ITEM_STATES.map((s) => [s, 0])) as Record<ItemState, number>;
      let total = 0;
      for (const row of this.stmt.countStates.all() as { state: ItemState; n: number }[]) {
        byState[row.state] = row.n;
        total += row.n;
      }
      const failedByKind: Partial<Record<ErrorKind, number>> = {};
      for (const row of this.stmt.countKinds.all() as { kind: string | null; n: number }[]) {
        const kind: ErrorKind = isErrorKind(row.kind) ? row.kind : 'unknown';
        failedByKind[kind] = (failedByKind[kind] ?? 0) + row.n;
      }
      const perKey: Record<string, KeyCounts> = {};
      for (const row of this.stmt.keyStats.all() as { key: string; outcome: string; n: number }[]) {
        const k = (perKey[row.key] ??= { attempts: 0, succeeded: 0, failedByKind: {} });
        k.attempts += row.n;
        if (row.outcome === 'ok') k.succeeded += row.n;
        else {
          const kind: ErrorKind = isErrorKind(row.outcome) ? row.outcome : 'unknown';
          k.failedByKind[kind] = (k.failedByKind[kind] ?? 0) + row.n;
        }
      }
      const written = this.stmt.countWritten.get() as number;
      return { total, byState, failedByKind, perKey, written };
    });
  }

  unwritten(limit: number): Promise<StoredItem[]> {
    return this.enqueue(() => (this.stmt.unwritten.all(limit) as ItemRow[]).map(toItem));
  }

  markWritten(ids: readonly string[], outputOffset: number): Promise<void> {
    return this.enqueue(() => {
      for (const id of ids) this.stmt.markWritten.run(id);
      this.writeMeta({ outputOffset });
    });
  }

  resetWritten(): Promise<void> {
    return this.enqueue(() => {
      this.stmt.resetWritten.run();
      this.writeMeta({ outputOffset: 0 });
    });
  }

  async *finalItems(pageSize = 1000): AsyncIterable<StoredItem> {
    let after = 0;
    while (true) {
      const rows = await this.enqueue(() => this.stmt.finalPage.all(after, pageSize) as ItemRow[]);
      for (const row of rows) yield toItem(row);
      const last = rows.at(-1);
      if (!last || rows.length < pageSize) return;
      after = last.seq;
    }
  }

  get(id: string): Promise<StoredItem | undefined> {
    return this.enqueue(() => {
      const row = this.stmt.get.get(id) as ItemRow | undefined;
      return row ? toItem(row) : undefined;
    });
  }

  itemsInLineOrder(afterLine: number, limit: number): Promise<StoredItem[]> {
    return this.enqueue(() => {
      // Only a forced resume of a changed input reads by line: its index is made on first use.
      this.db.exec('CREATE INDEX IF NOT EXISTS items_line ON items (line)');
      const rows = this.db.prepare('SELECT * FROM items INDEXED BY items_line WHERE line > ? ORDER BY line LIMIT ?').all(afterLine, limit);
      return (rows as ItemRow[]).map(toItem);
    });
  }

  replaceItems(removeIds: readonly string[], add: readonly NewItem[]): Promise<{ duplicates: string[] }> {
    return this.enqueue(() => {
      for (const id of removeIds) this.stmt.remove.run(id);
      const duplicates: string[] = [];
      for (const item of add) {
        const info = this.stmt.insert.run(item.id, item.line, item.priority, JSON.stringify(item.payload ?? null), item.input ? JSON.stringify(item.input) : null);
        if (info.changes !== 1) duplicates.push(item.id);
      }
      return { duplicates };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let queued calls commit first.
    if (this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    this.flush();
    this.closed = true;
    this.db.close();
  }
}

/**
 * SQLite failures that concern the file rather than a call, named with the file: corruption (a
 * {@link StateFileError}), a full disk, an I/O error, another process holding the file. Others pass.
 */
export function storeError(path: string, error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return error;
  const message = (error as Error).message;
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new StateFileError(path, `is corrupt (${code}: ${message}); keep it for inspection and use another --state`, { cause: error });
  }
  if (code === 'SQLITE_FULL') {
    return Object.assign(new Error(`state file ${path}: disk full (${code}): free some space, then run the same command again to resume`, { cause: error }), {
      code: 'ENOSPC',
      path,
    });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StateFileError(path, `is locked by another process (${code}); wait for it or stop it`, { cause: error });
  }
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY')) {
    return Object.assign(new Error(`state file ${path}: ${code}: ${message}`, { cause: error }), { code, path });
  }
  return error;
}

function toItem(row: ItemRow): StoredItem {
  const item: StoredItem = {
    id: row.id,
    line: row.line,
    priority: row.priority,
    payload: JSON.parse(row.payload) as unknown,
    state: row.state as ItemState,
    attempts: row.attempts,
  };
  if (row.last_kind !== null) {
    item.lastError = {
      kind: isErrorKind(row.last_kind) ? row.last_kind : 'unknown',
      message: row.last_message ?? '',
    };
    if (row.last_status !== null) item.lastError.status = row.last_status;
  }
  if (row.last_key !== null) item.lastKey = row.last_key;
  if (row.result !== null) item.result = JSON.parse(row.result) as unknown;
  if (row.input !== null && row.input !== undefined) item.input = JSON.parse(row.input) as Record<string, string>;
  return item;
}
