/**
 * `sluice run --backend redis://…`, first half: ingest the input into the run's {@link RedisJobStore}
 * (streamed, in chunks committed with their checkpoint, exactly like the embedded store) and add a
 * BullMQ job for every pending item. Safe to repeat: ingestion resumes after its checkpoint, and items
 * that already have a job are not added twice.
 */
import type { Queue } from 'bullmq';
import { InputChangedError, fingerprintFile, sameContent } from '../fingerprint.js';
import { ingestInput } from '../ingest.js';
import type { InputOptions } from '../types.js';
import { enqueuePending, type ItemJobData } from './queue.js';
import type { RedisJobStore } from './redis-store.js';

/** Options of {@link enqueueBatch}. */
export interface EnqueueBatchOptions extends InputOptions {
  store: RedisJobStore;
  queue: Queue<ItemJobData>;
  /** Resume even if the input changed since the run was created. */
  force?: boolean;
  /** Stored with the run (never secrets). */
  runOptions?: Record<string, unknown>;
  /**
   * Largest payload (characters of its JSON) a job carries, so a worker starts it without reading the
   * item; 0: none (a Redis short of memory: each carried payload is held twice while its job waits).
   * Default 2,048 (`CARRY_MAX_CHARS` of queue.ts).
   */
  carryMaxChars?: number;
  /** Time the run is created, ms. Default `Date.now()`. */
  now?: number;
}

/** What {@link enqueueBatch} did. */
export interface EnqueueSummary {
  /** True when the run existed already (resume). */
  resumed: boolean;
  /** Lines rejected in this call. */
  rejected: number;
  /** Items offered to the queue (pending ones). */
  enqueued: number;
  /** Items of the run. */
  total: number;
}

/** Ingests `input` into the store (or checks it is the same input) and enqueues every pending item. */
export async function enqueueBatch(options: EnqueueBatchOptions): Promise<EnqueueSummary> {
  const { store, queue } = options;
  const fingerprint = await fingerprintFile(options.input).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`input file ${options.input}: ${error.code === 'ENOENT' ? 'not found' : error.message}`, { cause: error });
  });
  let meta = await store.getMeta();
  const resumed = meta !== undefined;
  if (!meta) {
    meta = { fingerprint, ingestDone: false, ingestedThroughLine: 0, rejectsOffset: 0, outputOffset: 0, createdAt: options.now ?? Date.now() };
    if (options.runOptions) meta.options = options.runOptions;
    await store.setMeta(meta);
  } else if (meta.fingerprint && !sameContent(meta.fingerprint, fingerprint)) {
    if (!options.force) throw new InputChangedError(meta.fingerprint, fingerprint);
    await store.setMeta({ fingerprint });
  }
  const rejected = meta.ingestDone ? 0 : await ingestInput(store, meta, { ...options, rejects: options.rejects ?? `${options.input}.rejects.jsonl` });
  const enqueued = await enqueuePending(store, queue, 1000, options.carryMaxChars);
  const total = (await store.counts()).total;
  return { resumed, rejected, enqueued, total };
}
