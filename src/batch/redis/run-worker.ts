/**
 * `sluice worker` as a function: connects (failing at once with a clear message when Redis does not
 * answer), processes the run's jobs with a {@link RedisBatchWorker} and, unless told to stay, returns
 * when the run has nothing left to do (input ingested, no item pending or running).
 */
import { systemClock } from '../../clock/system-clock.js';
import { connectRedis, type ConnectRedisOptions } from '../../flow/redis/connect.js';
import { RedisFlowBackend } from '../../flow/redis/redis-flow-backend.js';
import { startTimelineFlush, type TimelineBuffer } from '../../observe/report/timeline.js';
import type { BatchCounts } from '../store.js';
import { RedisJobStore } from './redis-store.js';
import { checkRun, requireRun } from './run-check.js';
import { RedisTimelineWriter, TIMELINE_HEARTBEAT_MS } from './timeline.js';
import { RedisBatchWorker, type RedisBatchWorkerOptions, type RedisWorkerStats } from './worker.js';

/** Options of {@link runRedisWorker}. */
export interface RunRedisWorkerOptions extends Omit<RedisBatchWorkerOptions, 'store' | 'flow' | 'connection'>, ConnectRedisOptions {
  /** `redis://host:port[/db]`. */
  url: string;
  /** Return once the run is finished (default true); false keeps serving until `signal`. */
  exitWhenDone?: boolean;
  /** How often the run's state is checked besides the pushed end of the run, ms. Default 5,000. */
  pollMs?: number;
  /** Stops the worker: active jobs finish, then it returns. */
  signal?: AbortSignal;
  /** Called with the worker as soon as it runs (events, stats), and the run's store on the worker's connection (reads at a scrape). */
  onStart?: (worker: RedisBatchWorker, store: RedisJobStore) => void;
  /**
   * The run's time series (what `sluice report` draws): the caller feeds `buffer` with the worker's events
   * (the CLI bridges them, as for an embedded run); its drains are added to the run's timeline on Redis
   * every `intervalMs` (default 2,000) in one call, and a last time when the worker stops.
   */
  timeline?: { buffer: TimelineBuffer; info?: Record<string, unknown>; intervalMs?: number };
}

/** What {@link runRedisWorker} returns. */
export interface RedisWorkerSummary {
  stats: RedisWorkerStats;
  counts: BatchCounts;
  /** True when the run had nothing pending or running when the worker stopped. */
  finished: boolean;
  /** Redis round trips of the flow state, the store and the timeline made by this worker (BullMQ's own not included). */
  roundTrips: number;
}

/** True when the run is fully ingested and no item is pending or running. */
export async function runFinished(store: RedisJobStore): Promise<{ finished: boolean; counts: BatchCounts }> {
  const [meta, counts] = await Promise.all([store.getMeta(), store.counts()]);
  requireRun(store, meta); // a run never enqueued, or whose data Redis lost, stops the worker with a clear error
  const finished = meta?.ingestDone === true && counts.byState.pending === 0 && counts.byState.running === 0;
  return { finished, counts };
}

/** Runs a worker for `options.run` until the run is finished (or `signal`). */
export async function runRedisWorker(options: RunRedisWorkerOptions): Promise<RedisWorkerSummary> {
  const prefix = options.prefix ?? 'sluice';
  const connection = await connectRedis(options.url, options);
  const store = new RedisJobStore(connection, { prefix, run: options.run });
  try {
    await checkRun(store); // a run that is not on Redis is refused before any job is taken
  } catch (err) {
    connection.disconnect();
    throw err;
  }
  const flow = new RedisFlowBackend(connection, { prefix });
  const worker = new RedisBatchWorker({ ...options, prefix, store, flow, connection });
  options.onStart?.(worker, store);
  // The run's end is pushed (the store publishes when nothing is pending or running); a slow check
  // also notices a run whose data vanished. Idle, a worker costs one command per pollMs.
  const pollMs = options.pollMs ?? 5_000;
  const clock = options.clock ?? systemClock;
  const subscriber = connection.duplicate();
  let wake: (() => void) | undefined;
  // The fleet's news of a key (a congestion event, a strike) goes to the worker's leases at once.
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === worker.leases.channel) worker.leases.pushed(message);
    else wake?.();
  });
  subscriber.on('error', () => undefined);
  let state = { finished: false, counts: await store.counts() };
  let timeline: { writer: RedisTimelineWriter; flush: ReturnType<typeof startTimelineFlush> } | undefined;
  const timelineError = (e: unknown): void => worker.events.emit('error', { message: `the report's time series: ${e instanceof Error ? e.message : String(e)}` });
  try {
    if (options.timeline) {
      const { buffer, info, intervalMs } = options.timeline;
      const writer = await RedisTimelineWriter.open(connection, store.base, { startedAt: clock.now(), bucketMs: buffer.bucketMs, ...(info ? { info } : {}) }).catch((e: unknown) => {
        timelineError(e);
        return undefined;
      });
      if (writer) timeline = { writer, flush: startTimelineFlush(buffer, writer, () => clock.now(), { ...(intervalMs ? { intervalMs } : {}), heartbeatMs: TIMELINE_HEARTBEAT_MS, onError: timelineError }) };
    }
    await subscriber.subscribe(store.eventsChannel, worker.leases.channel);
    while (!options.signal?.aborted) {
      const stop = new AbortController();
      const onAbort = (): void => stop.abort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      await Promise.race([clock.sleep(pollMs, stop.signal).catch(() => undefined), new Promise<void>((r) => (wake = r))]);
      stop.abort();
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) break;
      const run = await store.runState();
      if (!run.exists) requireRun(store, undefined); // vanished: a clear error, not a wait for ever
      if (run.ingestDone && run.pending === 0 && run.running === 0 && options.exitWhenDone !== false) break;
    }
  } finally {
    subscriber.disconnect();
    await worker.close();
    // The last events of the worker's calls are in the buffer now: the session's last write ends it.
    await timeline?.flush.stop(clock.now(), true).catch(timelineError);
    state = await runFinished(store).catch(() => state);
    await connection.quit().catch(() => connection.disconnect());
  }
  return { stats: { ...worker.stats }, counts: state.counts, finished: state.finished, roundTrips: store.trips + flow.trips.count + worker.leases.calls + (timeline?.writer.calls ?? 0) };
}
