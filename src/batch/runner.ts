/**
 * The batch runner: state, ingestion, resume, a bounded window of items through the executor, and the
 * exactly-once output.
 */
import { resolve } from 'node:path';
import { systemClock } from '../clock/system-clock.js';
import type { Clock } from '../clock/clock.js';
import { InputChangedError, fingerprintFile, sameContent } from './fingerprint.js';
import { ingestInput } from './ingest.js';
import { toItemError } from './item-error.js';
import { OutputWriter } from './output.js';
import { acquireRunLock } from './run-lock.js';
import { LiveCounts } from './live-counts.js';
import { defaultStatePath, openStore } from './commands.js';
import type { Completion, JobStore, StoredItem } from './store.js';
import type { BatchEvents, BatchSummary, RunBatchOptions } from './types.js';
import type { TypedEmitter } from '../observe/typed-emitter.js';

/**
 * Runs a batch to its end: opens or creates the state, ingests the input (streamed) or verifies its
 * fingerprint, resumes (running -> pending, output truncated to the last committed offset), feeds
 * pending items to `options.executor` through a bounded window, persists every attempt, writes each
 * result exactly once, and resolves with a summary. Stops starting new items when `options.signal` fires.
 *
 * Throws `InputChangedError` when the input differs from the state's (unless `force`), `StateFileError`
 * for an unusable state file, `StateInUseError` when another live process runs the same state file, and
 * an `Error` naming the file when the input cannot be read.
 */
export async function runBatch(options: RunBatchOptions): Promise<BatchSummary> {
  validate(options);
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  const statePath = typeof options.state === 'object' ? '(store)' : (options.state ?? defaultStatePath(options.input));
  const outputPath = options.output ?? `${options.input}.results.jsonl`;
  const rejectsPath = options.rejects ?? `${options.input}.rejects.jsonl`;
  const fingerprint = await fingerprintFile(options.input).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`input file ${options.input}: ${error.code === 'ENOENT' ? 'not found' : error.message}`, { cause: error });
  });
  const ownsStore = typeof options.state !== 'object';
  const releaseLock = ownsStore ? acquireRunLock(statePath) : undefined;
  let store: JobStore;
  try {
    store = await openStore(options.state ?? statePath, { create: true });
  } catch (error) {
    releaseLock?.();
    throw error;
  }
  let output: OutputWriter | undefined;
  try {
    let meta = await store.getMeta();
    const resumed = meta !== undefined;
    if (!meta) {
      meta = { fingerprint, ingestDone: false, ingestedThroughLine: 0, rejectsOffset: 0, outputOffset: 0, createdAt: startedAt };
      if (options.runOptions) meta.options = options.runOptions;
      await store.setMeta(meta);
    } else if (meta.fingerprint && !sameContent(meta.fingerprint, fingerprint)) {
      if (!options.force) throw new InputChangedError(meta.fingerprint, fingerprint);
      await store.setMeta({ fingerprint });
    }
    if (meta.outputPath !== resolve(outputPath)) {
      // Another results file than last time: its content is unknown, so it is written from scratch.
      if (meta.outputPath !== undefined) await store.resetWritten();
      await store.setMeta({ outputPath: resolve(outputPath) });
    }
    const resetRunning = await store.resetRunning();
    output = await OutputWriter.open(outputPath, store);
    const events = options.events;
    let rejected = 0;
    if (!meta.ingestDone) {
      rejected = await ingestInput(store, meta, { ...options, rejects: rejectsPath }, events);
    }
    const counts = new LiveCounts(await store.counts());
    events?.emit('start', {
      resumed,
      resetRunning,
      outputTruncatedBytes: output.truncatedBytes,
      total: counts.snapshot().total,
    });
    // Items finished before a crash but not yet in the output go first.
    let writtenThisRun = await output.flush();
    const run = await executeAll(store, output, counts, options, clock, events);
    writtenThisRun += run.written + (await output.flush());
    const finalCounts = await store.counts();
    const durationMs = clock.now() - startedAt;
    const summary: BatchSummary = {
      counts: finalCounts,
      rejected,
      writtenThisRun,
      durationMs,
      throughputPerSec: durationMs > 0 ? (run.finished * 1000) / durationMs : 0,
      interrupted: run.stopped && finalCounts.byState.pending + finalCounts.byState.running > 0,
      output: outputPath,
      rejects: rejectsPath,
      state: statePath,
    };
    events?.emit('done', summary);
    return summary;
  } finally {
    output?.close();
    if (ownsStore) await store.close();
    releaseLock?.();
  }
}

function validate(options: RunBatchOptions): void {
  if (typeof options.input !== 'string' || options.input === '') throw new TypeError('runBatch: input must be a file path');
  if (!options.executor || typeof options.executor.run !== 'function') {
    throw new TypeError('runBatch: executor must have a run(payload, options) method');
  }
  if (options.window !== undefined && (!Number.isSafeInteger(options.window) || options.window < 1)) {
    throw new RangeError(`runBatch: window must be an integer >= 1, got ${String(options.window)}`);
  }
  if (options.graceMs !== undefined && !(options.graceMs >= 0)) {
    throw new RangeError(`runBatch: graceMs must be >= 0, got ${String(options.graceMs)}`);
  }
  if (options.progressIntervalMs !== undefined && !(options.progressIntervalMs > 0)) {
    throw new RangeError(`runBatch: progressIntervalMs must be > 0, got ${String(options.progressIntervalMs)}`);
  }
}

/** State of one item in the window. */
interface InFlight {
  controller: AbortController;
  /** An attempt is on the wire (as opposed to queued in the executor or waiting for a retry). */
  attemptActive: boolean;
}

/** Default of `RunBatchOptions.window`: items claimed from the store and held in memory at once. */
export const DEFAULT_WINDOW = 256;

/** Results written to the output every this many completions (and at the end). */
const FLUSH_EVERY = 500;

async function executeAll(
  store: JobStore,
  output: OutputWriter,
  counts: LiveCounts,
  options: RunBatchOptions,
  clock: Clock,
  events: TypedEmitter<BatchEvents> | undefined,
): Promise<{ finished: number; written: number; stopped: boolean }> {
  const window = options.window ?? DEFAULT_WINDOW;
  const graceMs = options.graceMs ?? 10_000;
  const inFlight = new Map<string, InFlight>();
  let stopping = false;
  let finished = 0;
  let written = 0;
  let sinceFlush = 0;
  let cancelGrace: (() => void) | undefined;
  const wake = new Wake();

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    events?.emit('stopping', { inFlight: inFlight.size, graceMs });
    // Items with no attempt on the wire (queued in the executor, or waiting for a retry) give up at once.
    for (const f of inFlight.values()) if (!f.attemptActive) f.controller.abort(stopReason());
    cancelGrace = clock.setTimer(graceMs, () => {
      for (const f of inFlight.values()) f.controller.abort(stopReason());
    });
    wake.notify();
  };
  if (options.signal?.aborted) stop();
  else options.signal?.addEventListener('abort', stop, { once: true });

  const startedAt = clock.now();
  const intervalMs = options.progressIntervalMs ?? 1000;
  let cancelProgress: (() => void) | undefined;
  const tick = (): void => {
    const elapsedMs = clock.now() - startedAt;
    events?.emit('progress', {
      counts: counts.snapshot(),
      ratePerSec: elapsedMs > 0 ? (finished * 1000) / elapsedMs : 0,
      elapsedMs,
      inFlight: inFlight.size,
    });
    cancelProgress = clock.setTimer(intervalMs, tick);
  };
  // One tick at once (the total is known before the first timer fires), then every interval.
  if (events) tick();

  const runItem = async (item: StoredItem): Promise<void> => {
    const state: InFlight = { controller: new AbortController(), attemptActive: false };
    inFlight.set(item.id, state);
    let attempts = item.attempts;
    let completion: Completion;
    try {
      const result = await options.executor.run(item.payload, {
        id: item.id,
        priority: item.priority,
        signal: state.controller.signal,
        startAttempt: item.attempts,
        onAttemptStart: async ({ attempt, key }) => {
          state.attemptActive = true;
          attempts = Math.max(attempts, attempt);
          await store.recordAttemptStart(item.id, attempt, key);
          events?.emit('attemptStart', { id: item.id, attempt, ...(key !== undefined && { key }) });
        },
        onAttemptEnd: async (info) => {
          state.attemptActive = false;
          const outcome = info.ok
            ? { ok: true as const, ...(info.key !== undefined && { key: info.key }) }
            : {
                ok: false as const,
                kind: info.kind ?? 'unknown',
                message: info.message ?? '',
                ...(info.key !== undefined && { key: info.key }),
                ...(info.status !== undefined && { status: info.status }),
              };
          await store.recordAttemptEnd(item.id, info.attempt, outcome);
          counts.attemptEnded(outcome);
          events?.emit('attemptEnd', { id: item.id, attempt: info.attempt, ...outcome });
          // Shutting down after a failed attempt: no further attempt; the item goes back to pending.
          // (After a success the result must be kept, so the job is left to resolve.)
          if (stopping && !info.ok) state.controller.abort(stopReason());
        },
      });
      completion = { id: item.id, state: 'succeeded', result: result ?? null };
    } catch (error) {
      if (state.controller.signal.aborted && stopping) completion = { id: item.id, state: 'pending' };
      else {
        const itemError = toItemError(error);
        completion =
          itemError.kind === 'cancelled'
            ? { id: item.id, state: 'cancelled', error: itemError }
            : { id: item.id, state: 'failed', error: itemError };
      }
    }
    try {
      await store.complete([completion]);
      counts.completed(completion);
      const kind = 'error' in completion ? completion.error?.kind : undefined;
      if (completion.state !== 'pending') {
        finished++;
        sinceFlush++;
      }
      events?.emit('item', { id: item.id, state: completion.state, attempts, ...(kind !== undefined && { kind }) });
    } finally {
      inFlight.delete(item.id);
      wake.notify();
    }
  };

  let exhausted = false;
  const running = new Set<Promise<void>>();
  try {
    while (true) {
      const free = window - inFlight.size;
      // Claim in batches (a quarter of the window) so claims share transactions.
      if (!stopping && !exhausted && (free >= Math.max(1, window >> 2) || inFlight.size === 0)) {
        const items = await store.claimPending(free);
        if (items.length === 0) exhausted = true;
        counts.claimed(items.length);
        for (const item of items) {
          if (stopping) {
            await store.complete([{ id: item.id, state: 'pending' }]);
            counts.completed({ id: item.id, state: 'pending' });
            continue;
          }
          const p = runItem(item).catch(() => undefined);
          running.add(p);
          void p.finally(() => running.delete(p));
        }
      }
      if (sinceFlush >= FLUSH_EVERY) {
        sinceFlush = 0;
        const n = await output.flush();
        written += n;
        counts.written(n);
      }
      if (inFlight.size === 0) {
        if (exhausted || stopping) break;
        continue;
      }
      await wake.wait();
    }
    await Promise.all(running);
  } finally {
    options.signal?.removeEventListener('abort', stop);
    cancelGrace?.();
    cancelProgress?.();
  }
  // A last tick with the final counts, so a short run still shows where it ended.
  if (events) {
    const elapsedMs = clock.now() - startedAt;
    events.emit('progress', {
      counts: counts.snapshot(),
      ratePerSec: elapsedMs > 0 ? (finished * 1000) / elapsedMs : 0,
      elapsedMs,
      inFlight: 0,
    });
  }
  return { finished, written, stopped: stopping };
}

function stopReason(): Error {
  const error = new Error('batch stopping');
  error.name = 'AbortError';
  return error;
}

/** A level-triggered wake-up: a notify before the wait is not lost. */
class Wake {
  private notified = false;
  private resolve: (() => void) | undefined;

  notify(): void {
    this.notified = true;
    const r = this.resolve;
    this.resolve = undefined;
    r?.();
  }

  wait(): Promise<void> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.resolve = () => {
        this.notified = false;
        resolve();
      };
    });
  }
}
