/**
 * `sluice worker` as a function: connects (failing at once with a clear message when Redis does not
 * answer), processes the run's jobs with a {@link RedisBatchWorker} and, unless told to stay, returns
 * when the run has nothing left to do (input ingested, no item pending or running).
 */
import { systemClock } from '../../clock/system-clock.js';
import { connectRedis, type ConnectRedisOptions } from '../../flow/redis/connect.js';
import { RedisFlowBackend } from '../../flow/redis/redis-flow-backend.js';
import type { BatchCounts } from '../store.js';
import { RedisJobStore } from './redis-store.js';
import { checkRun, requireRun } from './run-check.js';
import { RedisBatchWorker, type RedisBatchWorkerOptions, type RedisWorkerStats } from './worker.js';

/** Options of {@link runRedisWorker}. */
export interface RunRedisWorkerOptions extends Omit<RedisBatchWorkerOptions, 'store' | 'flow' | 'connection'>, ConnectRedisOptions {
  /** `redis://host:port[/db]`. */
  url: string;
  /** Return once the run is finished (default true); false keeps serving until `signal`. */
  exitWhenDone?: boolean;
  /** How often the run's counts are checked, ms. Default 500. */
  pollMs?: number;
  /** Stops the worker: active jobs finish, then it returns. */
  signal?: AbortSignal;
  /** Called with the worker as soon as it runs (events, stats). */
  onStart?: (worker: RedisBatchWorker) => void;
}

/** What {@link runRedisWorker} returns. */
export interface RedisWorkerSummary {
  stats: RedisWorkerStats;
  counts: BatchCounts;
  /** True when the run had nothing pending or running when the worker stopped. */
  finished: boolean;
  /** Redis round trips of the flow state and the store made by this worker (BullMQ's own not included). */
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
  options.onStart?.(worker);
  const pollMs = options.pollMs ?? 500;
  const clock = options.clock ?? systemClock;
  let state = { finished: false, counts: await store.counts() };
  try {
    while (!options.signal?.aborted) {
      await clock.sleep(pollMs, options.signal).catch(() => undefined);
      if (options.signal?.aborted) break;
      state = await runFinished(store);
      if (state.finished && options.exitWhenDone !== false) break;
    }
  } finally {
    await worker.close();
    state = await runFinished(store).catch(() => state);
    await connection.quit().catch(() => connection.disconnect());
  }
  return { stats: { ...worker.stats }, counts: state.counts, finished: state.finished, roundTrips: store.trips + flow.trips.count };
}
