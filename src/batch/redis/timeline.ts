/**
 * The run's time series on Redis, under the run's keys (`<prefix>:run:<run>:tl:*`): what `sluice report`
 * draws for a distributed run, in the same shape as the SQLite state's (`../timeline-store.ts`).
 *
 * Every worker is a session; its `TimelineBuffer` is drained every 2 s by `startTimelineFlush` into one
 * script call (`scripts/timeline.lua`) that adds the drain's counts into one hash per second shared by the
 * whole fleet. So the run has one timeline however many workers write it, a worker's requests never wait
 * on it, and it costs one command per worker per flush (idle: one per {@link TIMELINE_HEARTBEAT_MS}).
 *
 * Read back, the workers' sessions that overlap in time are one session of the fleet (a gap where no
 * worker ran stays a gap), and the run row's gauges are the fleet's: the sum over its workers (in flight,
 * the concurrency limit), each worker's highest in the second.
 */
import type { Redis } from 'ioredis';
import { defineScript, type ScriptCommand } from '../../flow/redis/scripts.js';
import {
  RUN_ROW,
  groupBuckets,
  type FailedItemRow,
  type StoredTimeline,
  type TimelineBucket,
  type TimelineDrain,
  type TimelineMark,
  type TimelineSession,
  type TimelineWriter,
} from '../../observe/report/timeline.js';
import type { RedisJobStore } from './redis-store.js';

const HERE = import.meta.url;

/** A worker with nothing to write still writes its session's last time this often, ms (its heartbeat). */
export const TIMELINE_HEARTBEAT_MS = 10_000;

/** A session not finished and not written for this long is taken for a worker that died (not running), ms. */
export const TIMELINE_STALE_MS = 3 * TIMELINE_HEARTBEAT_MS;

/** Bucket hashes read per pipelined call. */
const PAGE = 500;

/** The keys of a run's timeline. */
function keysOf(base: string) {
  return { seq: `${base}:tl:seq`, sessions: `${base}:tl:sessions`, starts: `${base}:tl:starts`, bucket: (start: string | number) => `${base}:tl:b:${start}`, marks: `${base}:tl:marks`, tokens: `${base}:tl:tokens` };
}

/** One counter of a bucket row: its field code in the bucket hash and its name in {@link TimelineBucket}. */
const COUNTERS = [
  ['a', 'attempts'],
  ['s', 'succeeded'],
  ['f', 'failed'],
  ['r', 'rateLimited'],
  ['y', 'retries'],
  ['i', 'tokensIn'],
  ['o', 'tokensOut'],
] as const satisfies readonly (readonly [string, keyof TimelineBucket])[];

interface StoredSession {
  startedAt: number;
  lastAt: number;
  finished: boolean;
  bucketMs: number;
  info: Record<string, unknown>;
}

/** Writes one worker's timeline into the run's keys on Redis (a session of its own, counts merged with the fleet's). */
export class RedisTimelineWriter implements TimelineWriter {
  /** Round trips made (for the benchmark): two to open, then one per write. */
  calls = 2;
  private readonly script: ScriptCommand;
  private closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly base: string,
    /** This worker's session id (1, 2, … in the order workers started). */
    readonly session: number,
    private readonly stored: StoredSession,
  ) {
    this.script = defineScript(redis, HERE, 'sluiceTimeline_write', ['timeline'], 0);
  }

  /** Starts a session of the run whose keys start with `base` (`RedisJobStore.base`): two commands. */
  static async open(redis: Redis, base: string, session: { startedAt: number; bucketMs: number; info?: Record<string, unknown> }): Promise<RedisTimelineWriter> {
    const k = keysOf(base);
    const id = await redis.incr(k.seq);
    const stored: StoredSession = { startedAt: session.startedAt, lastAt: session.startedAt, finished: false, bucketMs: session.bucketMs, info: session.info ?? {} };
    await redis.hset(k.sessions, String(id), JSON.stringify(stored));
    return new RedisTimelineWriter(redis, base, id, stored);
  }

  /** Adds a drain to the run's timeline and records `at` as this session's last write: one script call. */
  async write(drain: TimelineDrain, at: number, finished = false): Promise<void> {
    if (this.closed) return;
    this.stored.lastAt = Math.max(this.stored.lastAt, at);
    this.stored.finished = finished;
    this.calls++;
    await this.script(this.base, this.session, JSON.stringify(this.stored), encodeDrain(drain, this.session));
  }

  /** Stops writing (the connection is the caller's). */
  close(): void {
    this.closed = true;
  }
}

/** The drain as `timeline.lua` reads it: rows as arrays, zero gauges of key rows left out. */
function encodeDrain(d: TimelineDrain, session: number): string {
  return JSON.stringify({
    b: d.buckets.map((b) => {
      const row: unknown[] = [String(b.start), b.key, ...COUNTERS.map(([, name]) => b[name]), b.latency];
      if (b.key === RUN_ROW) row.push([b.inFlightMax, b.inFlightEnd, b.limitMax]);
      return row;
    }),
    m: d.marks.map((m) => JSON.stringify({ ...m, session })),
    t: d.tokens.map((t) => [t.model, t.tokensIn, t.tokensOut, t.calls]),
  });
}

/** One worker's session as stored, and the session of the fleet it belongs to. */
interface WorkerSession extends TimelineSession {
  fleet: number;
}

async function readWorkerSessions(redis: Redis, base: string): Promise<WorkerSession[]> {
  const raw = await redis.hgetall(keysOf(base).sessions);
  const sessions = Object.entries(raw)
    .map(([id, json]): WorkerSession | undefined => {
      try {
        const s = JSON.parse(json) as StoredSession;
        return { id: Number(id), startedAt: s.startedAt, lastAt: s.lastAt, finished: s.finished, bucketMs: s.bucketMs, info: s.info ?? {}, fleet: 0 };
      } catch {
        return undefined;
      }
    })
    .filter((s): s is WorkerSession => s !== undefined)
    .sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
  // Workers whose sessions overlap ran the run together: one session of the fleet, named after its first.
  // A worker still running wrote its last time up to a heartbeat ago: one that started since overlaps it.
  let fleet: { id: number; lastAt: number; open: boolean } | undefined;
  for (const s of sessions) {
    if (!fleet || s.startedAt > fleet.lastAt + (fleet.open ? TIMELINE_HEARTBEAT_MS : 0)) fleet = { id: s.id, lastAt: s.lastAt, open: false };
    fleet.lastAt = Math.max(fleet.lastAt, s.lastAt);
    fleet.open ||= !s.finished;
    s.fleet = fleet.id;
  }
  return sessions;
}

/** The fleet's sessions: from the first start to the last write of workers that overlapped; finished when all of them did. */
function fleetSessions(workers: readonly WorkerSession[]): TimelineSession[] {
  const out = new Map<number, TimelineSession & { workers: number }>();
  for (const w of workers) {
    const f = out.get(w.fleet);
    if (!f) {
      out.set(w.fleet, { id: w.fleet, startedAt: w.startedAt, lastAt: w.lastAt, finished: w.finished, bucketMs: w.bucketMs, info: { ...w.info }, workers: 1 });
      continue;
    }
    f.lastAt = Math.max(f.lastAt, w.lastAt);
    f.finished &&= w.finished;
    f.workers++;
  }
  return [...out.values()].map(({ workers, ...s }) => ({ ...s, info: { ...s.info, workers } }));
}

/** The sessions of a run's timeline, one per stretch of time workers ran it (none when no worker stored one). */
export async function readRedisTimelineSessions(redis: Redis, base: string): Promise<TimelineSession[]> {
  return fleetSessions(await readWorkerSessions(redis, base));
}

/** Whether a worker still writes the run's timeline: a session not finished, written within {@link TIMELINE_STALE_MS} of `now`. */
export async function redisTimelineRunning(redis: Redis, base: string, now: number): Promise<boolean> {
  return (await readWorkerSessions(redis, base)).some((s) => !s.finished && now - s.lastAt < TIMELINE_STALE_MS);
}

/**
 * Reads the run's timeline (empty when no worker stored one). Safe while workers write. With `grouping`,
 * the one-second buckets are added up into buckets of `stepMs` from `origin`, as the SQLite store does.
 */
export async function readRedisTimeline(redis: Redis, base: string, grouping?: { origin: number; stepMs: number }): Promise<StoredTimeline> {
  const k = keysOf(base);
  const workers = await readWorkerSessions(redis, base);
  if (workers.length === 0) return { sessions: [], buckets: [], marks: [], tokens: [] };
  const fleetOf = new Map(workers.map((w) => [w.id, w.fleet]));
  // A bucket belongs to the last fleet session that started by its end.
  const starts = workers.filter((w) => w.fleet === w.id).map((w) => [w.startedAt, w.id] as const);
  const sessionAt = (start: number, bucketMs: number): number => {
    let id = starts[0]![1];
    for (const [at, s] of starts) if (at < start + bucketMs) id = s;
    return id;
  };
  const bucketMs = workers[0]!.bucketMs;
  const buckets: (TimelineBucket & { session: number })[] = [];
  const times = await redis.zrange(k.starts, 0, -1);
  for (let i = 0; i < times.length; i += PAGE) {
    const page = times.slice(i, i + PAGE);
    const pipeline = redis.pipeline();
    for (const t of page) pipeline.hgetall(k.bucket(t));
    const rows = (await pipeline.exec()) ?? [];
    page.forEach((t, j) => {
      const start = Number(t);
      const session = sessionAt(start, bucketMs);
      for (const b of decodeBucket(start, (rows[j]?.[1] ?? {}) as Record<string, string>)) buckets.push({ ...b, session });
    });
  }
  buckets.sort((a, b) => a.start - b.start || a.key.localeCompare(b.key));
  const [marksRaw, tokensRaw] = await Promise.all([redis.lrange(k.marks, 0, -1), redis.hgetall(k.tokens)]);
  const multiple = workers.length > 1;
  const marks = marksRaw
    .flatMap((json): (TimelineMark & { session: number })[] => {
      try {
        const m = JSON.parse(json) as TimelineMark & { session: number };
        const session = fleetOf.get(m.session) ?? m.session;
        // Each worker sets its own concurrency: the report says whose a change was.
        if (m.type === 'concurrency' && multiple) return [{ ...m, session, reason: `worker ${m.session}${m.reason ? `: ${m.reason}` : ''}` }];
        return [{ ...m, session }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => a.at - b.at);
  const tokens = new Map<string, { model: string; tokensIn: number; tokensOut: number; calls: number }>();
  for (const [field, value] of Object.entries(tokensRaw)) {
    const tab = field.lastIndexOf('\t');
    const model = field.slice(0, tab);
    const t = tokens.get(model) ?? { model, tokensIn: 0, tokensOut: 0, calls: 0 };
    const code = field.slice(tab + 1);
    if (code === 'i') t.tokensIn = Number(value);
    else if (code === 'o') t.tokensOut = Number(value);
    else if (code === 'n') t.calls = Number(value);
    tokens.set(model, t);
  }
  return {
    sessions: fleetSessions(workers),
    buckets: grouping ? groupBuckets(buckets, grouping.origin, grouping.stepMs) : buckets,
    marks,
    tokens: [...tokens.values()].sort((a, b) => a.model.localeCompare(b.model)),
  };
}

/** The rows of one bucket hash: the counts as stored (every worker's), each gauge the sum of the workers' values. */
function decodeBucket(start: number, hash: Record<string, string>): TimelineBucket[] {
  const rows = new Map<string, TimelineBucket>();
  const row = (key: string): TimelineBucket => {
    let b = rows.get(key);
    if (!b) {
      b = { start, key, attempts: 0, succeeded: 0, failed: 0, rateLimited: 0, retries: 0, inFlightMax: 0, inFlightEnd: 0, limitMax: 0, latency: {}, tokensIn: 0, tokensOut: 0 };
      rows.set(key, b);
    }
    return b;
  };
  for (const [field, value] of Object.entries(hash)) {
    const n = Number(value);
    const gauge = /^(.*)\t([mec])\t\d+$/s.exec(field);
    if (gauge) {
      const b = row(gauge[1]!);
      if (gauge[2] === 'm') b.inFlightMax += n;
      else if (gauge[2] === 'e') b.inFlightEnd += n;
      else b.limitMax += n;
      continue;
    }
    const tab = field.lastIndexOf('\t');
    const b = row(field.slice(0, tab));
    const code = field.slice(tab + 1);
    if (code.startsWith('l')) b.latency[Number(code.slice(1))] = n;
    else {
      const counter = COUNTERS.find(([c]) => c === code);
      if (counter) b[counter[1]] = n;
    }
  }
  return [...rows.values()];
}

/** The run's first `limit` failed items by input line (the report's table) from its store, and how many failed in all. */
export async function readRedisFailedItems(store: RedisJobStore, limit: number): Promise<{ total: number; items: FailedItemRow[] }> {
  const { total, items } = await store.failedItems(limit);
  return {
    total,
    items: items.map((i) => ({
      id: i.id,
      line: i.line,
      attempts: i.attempts,
      kind: i.lastError?.kind ?? 'unknown',
      message: i.lastError?.message ?? '',
      ...(i.lastError?.status !== undefined ? { status: i.lastError.status } : {}),
      ...(i.lastKey !== undefined ? { key: i.lastKey } : {}),
    })),
  };
}
