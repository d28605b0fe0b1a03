/**
 * The run's time series in its SQLite state file, beside the items: what `sluice report` draws.
 *
 * Tables (created on first use, in the same file as the items; the job store's schema is untouched):
 * - `timeline_sessions`: one row per process that ran the batch (start, last write, bucket width, info);
 * - `timeline_buckets`: one row per second per key (and for the whole run, key `''`);
 * - `timeline_marks`: key states, concurrency changes, pauses and quota alerts, as JSON;
 * - `timeline_tokens`: tokens in and out per model, added up over the run.
 *
 * A `TimelineBuffer` collects in memory; `startTimelineFlush` (observe/report/timeline.ts) drains it every
 * few seconds into one transaction on its own connection (WAL), off the hot path. A crash loses at most the last
 * interval of the chart, never an item.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { FailedItemRow, StoredTimeline, TimelineBucket, TimelineDrain, TimelineMark, TimelineSession, TimelineWriter } from '../observe/report/timeline.js';
import { mergeHistogram } from '../observe/report/timeline.js';

export type { FailedItemRow, StoredTimeline, TimelineSession } from '../observe/report/timeline.js';

const TIMELINE_SCHEMA = `
CREATE TABLE IF NOT EXISTS timeline_sessions (
  id INTEGER PRIMARY KEY,
  started_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  finished INTEGER NOT NULL DEFAULT 0,
  bucket_ms INTEGER NOT NULL,
  info TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS timeline_buckets (
  session INTEGER NOT NULL,
  start INTEGER NOT NULL,
  key TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  succeeded INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  rate_limited INTEGER NOT NULL,
  retries INTEGER NOT NULL,
  in_flight_max INTEGER NOT NULL,
  in_flight_end INTEGER NOT NULL,
  limit_max INTEGER NOT NULL,
  latency TEXT NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  PRIMARY KEY (session, start, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timeline_marks (seq INTEGER PRIMARY KEY, session INTEGER NOT NULL, at INTEGER NOT NULL, mark TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS timeline_tokens (model TEXT PRIMARY KEY, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, calls INTEGER NOT NULL) WITHOUT ROWID;
`;

interface BucketRow {
  session: number;
  start: number;
  key: string;
  attempts: number;
  succeeded: number;
  failed: number;
  rate_limited: number;
  retries: number;
  in_flight_max: number;
  in_flight_end: number;
  limit_max: number;
  latency: string;
  tokens_in: number;
  tokens_out: number;
}

/** Writes one process's timeline into a state file. Open it once the state exists (the run's `start` event). */
export class SqliteTimelineWriter implements TimelineWriter {
  private closed = false;
  private readonly insertBucket: Database.Statement;
  private readonly getBucket: Database.Statement;
  private readonly updateBucket: Database.Statement;
  private readonly insertMark: Database.Statement;
  private readonly addTokens: Database.Statement;
  private readonly touch: Database.Statement;

  private constructor(
    private readonly db: Database.Database,
    /** This process's session id. */
    readonly session: number,
  ) {
    this.insertBucket = db.prepare(
      `INSERT INTO timeline_buckets (session, start, key, attempts, succeeded, failed, rate_limited, retries, in_flight_max, in_flight_end, limit_max, latency, tokens_in, tokens_out)
       VALUES (@session, @start, @key, @attempts, @succeeded, @failed, @rate_limited, @retries, @in_flight_max, @in_flight_end, @limit_max, @latency, @tokens_in, @tokens_out)
       ON CONFLICT (session, start, key) DO NOTHING`,
    );
    this.getBucket = db.prepare('SELECT * FROM timeline_buckets WHERE session = ? AND start = ? AND key = ?');
    this.updateBucket = db.prepare(
      `UPDATE timeline_buckets SET attempts = @attempts, succeeded = @succeeded, failed = @failed, rate_limited = @rate_limited, retries = @retries,
       in_flight_max = @in_flight_max, in_flight_end = @in_flight_end, limit_max = @limit_max, latency = @latency, tokens_in = @tokens_in, tokens_out = @tokens_out
       WHERE session = @session AND start = @start AND key = @key`,
    );
    this.insertMark = db.prepare('INSERT INTO timeline_marks (session, at, mark) VALUES (?, ?, ?)');
    this.addTokens = db.prepare(
      `INSERT INTO timeline_tokens (model, tokens_in, tokens_out, calls) VALUES (?, ?, ?, ?)
       ON CONFLICT (model) DO UPDATE SET tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out, calls = calls + excluded.calls`,
    );
    this.touch = db.prepare('UPDATE timeline_sessions SET last_at = max(last_at, ?), finished = ? WHERE id = ?');
  }

  /** Opens the state file's timeline and starts a session. */
  static open(path: string, session: { startedAt: number; bucketMs: number; info?: Record<string, unknown> }): SqliteTimelineWriter {
    const db = new Database(path, { fileMustExist: true });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.exec(TIMELINE_SCHEMA);
      const id = db
        .prepare('INSERT INTO timeline_sessions (started_at, last_at, bucket_ms, info) VALUES (?, ?, ?, ?)')
        .run(session.startedAt, session.startedAt, session.bucketMs, JSON.stringify(session.info ?? {})).lastInsertRowid;
      return new SqliteTimelineWriter(db, Number(id));
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Writes a drain in one transaction and records `at` as the session's last write. */
  write(drain: TimelineDrain, at: number, finished = false): void {
    if (this.closed) return;
    this.db.transaction(() => {
      for (const b of drain.buckets) {
        const row = toRow(this.session, b);
        if (this.insertBucket.run(row).changes === 0) {
          // The same second drained twice (a late event): add it to what is stored.
          const old = this.getBucket.get(this.session, b.start, b.key) as BucketRow;
          const latency = JSON.parse(old.latency) as Record<number, number>;
          mergeHistogram(latency, b.latency);
          this.updateBucket.run({
            ...row,
            attempts: old.attempts + row.attempts,
            succeeded: old.succeeded + row.succeeded,
            failed: old.failed + row.failed,
            rate_limited: old.rate_limited + row.rate_limited,
            retries: old.retries + row.retries,
            in_flight_max: Math.max(old.in_flight_max, row.in_flight_max),
            limit_max: Math.max(old.limit_max, row.limit_max),
            latency: JSON.stringify(latency),
            tokens_in: old.tokens_in + row.tokens_in,
            tokens_out: old.tokens_out + row.tokens_out,
          });
        }
      }
      for (const m of drain.marks) this.insertMark.run(this.session, m.at, JSON.stringify(m));
      for (const t of drain.tokens) this.addTokens.run(t.model, t.tokensIn, t.tokensOut, t.calls);
      this.touch.run(at, finished ? 1 : 0, this.session);
    })();
  }

  /** Closes the connection (after a last {@link write}). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function toRow(session: number, b: TimelineBucket): BucketRow {
  return {
    session,
    start: b.start,
    key: b.key,
    attempts: b.attempts,
    succeeded: b.succeeded,
    failed: b.failed,
    rate_limited: b.rateLimited,
    retries: b.retries,
    in_flight_max: b.inFlightMax,
    in_flight_end: b.inFlightEnd,
    limit_max: b.limitMax,
    latency: JSON.stringify(b.latency),
    tokens_in: b.tokensIn,
    tokens_out: b.tokensOut,
  };
}

function readSessions(db: Database.Database): TimelineSession[] {
  return (db.prepare('SELECT * FROM timeline_sessions ORDER BY id').all() as {
    id: number;
    started_at: number;
    last_at: number;
    finished: number;
    bucket_ms: number;
    info: string;
  }[]).map((s) => ({ id: s.id, startedAt: s.started_at, lastAt: s.last_at, finished: s.finished === 1, bucketMs: s.bucket_ms, info: parseObject(s.info) }));
}

/** The sessions of a state file's timeline (none when the run predates it). */
export function readTimelineSessions(path: string): TimelineSession[] {
  return withReadDb(path, (db) => (hasTable(db, 'timeline_sessions') ? readSessions(db) : []));
}

/**
 * Reads the timeline of a state file (empty when the run predates it). Safe while the run writes. With
 * `grouping`, the one-second buckets are added up in SQL into buckets of `stepMs` from `origin` (counts
 * summed, maxima kept, latency histograms merged), so a long run reads a few hundred rows per key.
 */
export function readTimeline(path: string, grouping?: { origin: number; stepMs: number }): StoredTimeline {
  return withReadDb(path, (db) => {
    if (!hasTable(db, 'timeline_sessions')) return { sessions: [], buckets: [], marks: [], tokens: [] };
    const sessions = readSessions(db);
    const rows = grouping ? groupedBuckets(db, grouping.origin, grouping.stepMs) : (db.prepare('SELECT * FROM timeline_buckets ORDER BY start, key').all() as BucketRow[]);
    const buckets = rows.map((r) => ({
      session: r.session,
      start: r.start,
      key: r.key,
      attempts: r.attempts,
      succeeded: r.succeeded,
      failed: r.failed,
      rateLimited: r.rate_limited,
      retries: r.retries,
      inFlightMax: r.in_flight_max,
      inFlightEnd: r.in_flight_end,
      limitMax: r.limit_max,
      latency: parseObject(r.latency) as Record<number, number>,
      tokensIn: r.tokens_in,
      tokensOut: r.tokens_out,
    }));
    const marks = (db.prepare('SELECT session, mark FROM timeline_marks ORDER BY at, seq').all() as { session: number; mark: string }[]).map(
      (m) => ({ ...(JSON.parse(m.mark) as TimelineMark), session: m.session }),
    );
    const tokens = (db.prepare('SELECT model, tokens_in, tokens_out, calls FROM timeline_tokens ORDER BY model').all() as {
      model: string;
      tokens_in: number;
      tokens_out: number;
      calls: number;
    }[]).map((t) => ({ model: t.model, tokensIn: t.tokens_in, tokensOut: t.tokens_out, calls: t.calls }));
    return { sessions, buckets, marks, tokens };
  });
}

/** Failed items of a state file in line order: the first `limit` of them and how many there are. */
export function readFailedItems(path: string, limit = 500): { total: number; items: FailedItemRow[] } {
  return withReadDb(path, (db) => {
    const total = db.prepare(`SELECT count(*) FROM items WHERE state = 'failed'`).pluck().get() as number;
    const rows = db
      .prepare(`SELECT id, line, attempts, last_kind, last_message, last_status, last_key FROM items WHERE state = 'failed' ORDER BY line LIMIT ?`)
      .all(limit) as { id: string; line: number; attempts: number; last_kind: string | null; last_message: string | null; last_status: number | null; last_key: string | null }[];
    return {
      total,
      items: rows.map((r) => ({
        id: r.id,
        line: r.line,
        attempts: r.attempts,
        kind: r.last_kind ?? 'unknown',
        message: r.last_message ?? '',
        ...(r.last_status !== null ? { status: r.last_status } : {}),
        ...(r.last_key !== null ? { key: r.last_key } : {}),
      })),
    };
  });
}

/** Buckets added up per `stepMs` from `origin`, per session and key; latency bins merged with json_each. */
function groupedBuckets(db: Database.Database, origin: number, stepMs: number): BucketRow[] {
  // Parameters bind as reals: the slot is cast to an integer so that the division groups.
  const slot = 'CAST((start - @origin) / @step AS INTEGER)';
  const rows = db
    .prepare(
      `SELECT session, @origin + ${slot} * @step AS start, key, sum(attempts) AS attempts, sum(succeeded) AS succeeded, sum(failed) AS failed,
       sum(rate_limited) AS rate_limited, sum(retries) AS retries, max(in_flight_max) AS in_flight_max, max(in_flight_end) AS in_flight_end,
       max(limit_max) AS limit_max, '{}' AS latency, sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out
       FROM timeline_buckets GROUP BY session, ${slot}, key ORDER BY start, key`,
    )
    .all({ origin, step: stepMs }) as BucketRow[];
  const bins = db
    .prepare(
      `SELECT b.session AS session, @origin + CAST((b.start - @origin) / @step AS INTEGER) * @step AS start, b.key AS key, j.key AS bin, sum(j.value) AS n
       FROM timeline_buckets AS b, json_each(b.latency) AS j GROUP BY b.session, CAST((b.start - @origin) / @step AS INTEGER), b.key, j.key`,
    )
    .all({ origin, step: stepMs }) as { session: number; start: number; key: string; bin: string; n: number }[];
  const hist = new Map<string, Record<number, number>>();
  for (const b of bins) {
    const id = `${b.session}\u0000${b.start}\u0000${b.key}`;
    const h = hist.get(id) ?? {};
    h[Number(b.bin)] = b.n;
    hist.set(id, h);
  }
  for (const r of rows) {
    const h = hist.get(`${r.session}\u0000${r.start}\u0000${r.key}`);
    if (h) r.latency = JSON.stringify(h);
  }
  return rows;
}

function withReadDb<T>(path: string, fn: (db: Database.Database) => T): T {
  if (!existsSync(path)) throw new Error(`state file ${path}: does not exist (run the batch first)`);
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return fn(db);
  } finally {
    db.close();
  }
}

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
