/**
 * A run that is not on Redis, said out loud. Redis holds a run's whole state (items, attempts, results,
 * queue); a restart without persistence (docs/SCALING.md, "Persistence") leaves an empty server that
 * answers every read with "nothing": 0 items, 0 results, no job. Without this check a worker then
 * waits for ever for a run that cannot finish, and `status` / `export` report an empty run exactly
 * as for a name that never existed. Every reader of a run calls {@link requireRun} on the run's
 * metadata, which every enqueued run has from its first line on.
 */
import type { RunMeta } from '../store.js';
import type { RedisJobStore } from './redis-store.js';

/** The run a store names has no data on Redis: never enqueued there, or gone since. */
export class RunNotFoundError extends Error {
  constructor(
    message: string,
    /** `<prefix>:run:<run>`, the key prefix of the run's data. */
    readonly run: string,
    /** True when this process had seen the run before: its data vanished (Redis lost it). */
    readonly vanished: boolean,
  ) {
    super(message);
    this.name = 'RunNotFoundError';
  }
}

/** Stores that have seen their run's metadata at least once, so that a later absence means "vanished". */
const seen = new WeakSet<RedisJobStore>();

/**
 * Returns `meta` (the run's metadata, from `store.getMeta()`), or throws a {@link RunNotFoundError}
 * that says which run is missing and why that may be: a name or prefix that was never enqueued, or
 * (when this store had seen the run) data lost by Redis, typically a restart without persistence.
 */
export function requireRun(store: RedisJobStore, meta: RunMeta | undefined): RunMeta {
  if (meta) {
    seen.add(store);
    return meta;
  }
  const at = store.base.lastIndexOf(':run:');
  const run = `${store.base.slice(0, at)}:${store.base.slice(at + ':run:'.length)}`;
  if (seen.has(store)) {
    throw new RunNotFoundError(
      `run ${run} vanished from Redis while it was in progress: its data is gone (was Redis restarted without persistence, or its keys deleted?). ` +
        'Nothing more can be done for it here; enqueue the input again to run it again, and turn on persistence (docs/SCALING.md, "Persistence").',
      store.base,
      true,
    );
  }
  throw new RunNotFoundError(
    `no run ${run} on Redis: nothing was enqueued under this --run-name and --redis-prefix (enqueue it with \`sluice run <input> --backend redis://… --enqueue-only\`), ` +
      'or its data is gone (a Redis restart without persistence loses every run; docs/SCALING.md, "Persistence").',
    store.base,
    false,
  );
}

/** Reads the run's metadata and {@link requireRun}s it: a worker calls this before it takes any job. */
export async function checkRun(store: RedisJobStore): Promise<RunMeta> {
  return requireRun(store, await store.getMeta());
}
