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
import { acquireFileLocks, type LockTarget } from './run-lock.js';
import { LiveCounts } from './live-counts.js';
import { defaultStatePath, openStore } from './commands.js';
import { RETRYABLE_BY_DEFAULT, type ErrorKind } from '../classify/kinds.js';
import { InputLinesChangedError, checkSameInput, compareLines, isAppendOnly, rerunChangedLines } from './input-change.js';
import type { Completion, JobStore, RunMeta, StoredItem } from './store.js';
import type { BatchEvents, BatchHalt, BatchSummary, RunBatchOptions } from './types.js';
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
  const lock = options.lock ? undefined : acquireFileLocks(runLockTargets(ownsStore ? statePath : undefined, outputPath, rejectsPath));
  const releaseLock = lock?.release;
  let store: JobStore;
  try {
    store = await openStore(options.state ?? statePath, { create: true });
  } catch (error) {
    releaseLock?.();
    throw error;
  }
  let output: OutputWriter | undefined;
  const events = options.events;
  try {
    let meta = await store.getMeta();
    const resumed = meta !== undefined;
    let changedLines = 0;
    if (!meta) {
      meta = { fingerprint, ingestDone: false, ingestedThroughLine: 0, rejectsOffset: 0, outputOffset: 0, createdAt: startedAt };
      if (options.runOptions) meta.options = options.runOptions;
      if (options.settings) meta.settings = options.settings;
      await store.setMeta(meta);
    } else {
      if (meta.fingerprint && !sameContent(meta.fingerprint, fingerprint)) {
        // Another input's state is refused first: --force would not make it right.
        checkSameInput(statePath, meta.fingerprint, fingerprint);
        if (!options.force) throw new InputChangedError(meta.fingerprint, fingerprint);
        changedLines = await reconcileChangedInput(store, meta, { ...options, rejects: rejectsPath }, events);
        // Lines after the ingested ones are new: ingestion goes on from where it stopped.
        await store.setMeta({ fingerprint, ingestDone: false });
        meta = { ...meta, fingerprint, ingestDone: false };
      }
      const patch: Partial<RunMeta> = {};
      if (options.settings) patch.settings = options.settings;
      if (options.runOptions) patch.options = options.runOptions;
      if (Object.keys(patch).length > 0) await store.setMeta(patch);
    }
    if (meta.outputPath !== resolve(outputPath)) {
      // Another results file than last time: its content is unknown, so it is written from scratch.
      if (meta.outputPath !== undefined) await store.resetWritten();
      await store.setMeta({ outputPath: resolve(outputPath) });
    }
    const resetRunning = await store.resetRunning();
    output = await OutputWriter.open(outputPath, store);
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
      interrupted: run.stopped && run.halted === undefined && finalCounts.byState.pending + finalCounts.byState.running > 0,
      ...(run.halted ? { halted: run.halted } : {}),
      ...(changedLines > 0 ? { changedLines } : {}),
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

/**
 * A forced resume of a changed input: appended lines need nothing here (ingestion continues); lines
 * already ingested that differ are compared one by one and, per `options.changedLines`, run again or
 * kept. Without a policy, changed lines are an {@link InputLinesChangedError}. Returns how many lines changed.
 */
async function reconcileChangedInput(
  store: JobStore,
  meta: RunMeta,
  options: RunBatchOptions & { rejects: string },
  events: TypedEmitter<BatchEvents> | undefined,
): Promise<number> {
  if (meta.fingerprint && (await isAppendOnly(meta.fingerprint, options.input))) {
    events?.emit('inputChanged', { appendOnly: true, changes: [], policy: options.changedLines });
    return 0;
  }
  const changes = await compareLines(store, options, meta.ingestedThroughLine);
  events?.emit('inputChanged', { appendOnly: false, changes, policy: options.changedLines });
  if (changes.length === 0) return 0;
  if (options.changedLines === undefined) throw new InputLinesChangedError(options.input, changes);
  if (options.changedLines === 'rerun') {
    await rerunChangedLines(store, changes);
    // The old lines of those items are in the output: it is rewritten, each item once.
    await store.resetWritten();
  }
  return changes.length;
}

/**
 * The files a run writes, to lock (see `run-lock.ts`): the state (when it is a file), the results, the
 * rejects, and any extra file such as the report.
 */
export function runLockTargets(state: string | undefined, output: string, rejects: string, report?: string): LockTarget[] {
  const targets: LockTarget[] = [];
  if (state !== undefined) targets.push({ path: resolve(state), role: 'state file' });
  targets.push({ path: resolve(output), role: 'results file' }, { path: resolve(rejects), role: 'rejects file' });
  if (report !== undefined) targets.push({ path: resolve(report), role: 'report' });
  return targets;
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
): Promise<{ finished: number; written: number; stopped: boolean; halted?: BatchHalt }> {
  const window = options.window ?? DEFAULT_WINDOW;
  const maxStreak = options.maxConsecutiveFailures ?? DEFAULT_MAX_CONSECUTIVE_FAILURES;
  const streak = { signature: '', count: 0 };
  let halted: BatchHalt | undefined;
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
    /** The last failed attempt's own classification (the final error's message also names the job). */
    let lastFailure: { kind: ErrorKind; message: string; status?: number } | undefined;
    try {
      const result = await options.executor.run(item.payload, {
        id: item.id,
        priority: item.priority,
        signal: state.controller.signal,
        startAttempt: item.attempts,
        onAttemptStart: async ({ attempt, key }) => {
          state.attemptActive = true;
          attempts = Math.max(attempts, attempt);
          // The day's quota counters go to the state in the same transaction as the attempt's start.
          const quotaState = options.quotaState?.();
          await Promise.all([store.recordAttemptStart(item.id, attempt, key), quotaState ? store.setMeta({ quotaState }) : undefined]);
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
          lastFailure = outcome.ok ? undefined : outcome;
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
      if (completion.state === 'failed' || completion.state === 'succeeded') noteOutcome(item, completion, lastFailure);
    } finally {
      inFlight.delete(item.id);
      wake.notify();
    }
  };

  /** Counts identical non-retryable failures in a row; at `maxStreak` the run stops (see `maxConsecutiveFailures`). */
  const noteOutcome = (item: StoredItem, completion: Completion, attempt: { kind: ErrorKind; message: string; status?: number } | undefined): void => {
    if (completion.state !== 'failed' || !haltsOnRepeat(completion.error.kind)) {
      streak.signature = '';
      streak.count = 0;
      return;
    }
    const final = completion.error;
    const error = attempt?.kind === final.kind ? { ...attempt, status: attempt.status ?? final.status } : final;
    const signature = `${error.kind}\u0000${error.status ?? ''}\u0000${error.message}`;
    streak.count = signature === streak.signature ? streak.count + 1 : 1;
    streak.signature = signature;
    if (maxStreak > 0 && streak.count >= maxStreak && !halted) {
      halted = { kind: error.kind, message: error.message, count: streak.count, line: item.line };
      if (error.status !== undefined) halted.status = error.status;
      events?.emit('halted', halted);
      stop();
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
  return { finished, written, stopped: stopping, ...(halted ? { halted } : {}) };
}

/** Default of `RunBatchOptions.maxConsecutiveFailures`. */
export const DEFAULT_MAX_CONSECUTIVE_FAILURES = 20;

/**
 * Kinds whose identical repetition means every further item fails the same way (a bad model name, a
 * revoked key, a wrong endpoint): those the default policy does not retry. Rate limits, overload,
 * server errors, timeouts and network errors come and go; a cancellation is not a failure of the input.
 */
function haltsOnRepeat(kind: ErrorKind): boolean {
  return !RETRYABLE_BY_DEFAULT.has(kind) && kind !== 'cancelled';
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
