/**
 * The distributed work queue of a run: one BullMQ job per item (job id derived from the item id, so
 * enqueueing twice adds nothing), priorities mapped onto BullMQ's, retries as delayed jobs at their
 * not-before time. Job data holds the item id and what the next retry decision needs (free key moves,
 * the previous delay, the first attempt's time), and, for a payload of at most {@link CARRY_MAX_CHARS}
 * characters of JSON (by default), the item as enqueued (`item`), so a worker's first run of the job needs no read of
 * the item (one Redis round trip per request less). The {@link RedisJobStore} stays the source of truth:
 * `begin-attempt.lua` refuses an attempt whose number does not follow the item's persisted count (the job's
 * copy is stale: a stalled job, a rerun), and the worker then reads the item and starts again from it.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PendingItem, RedisJobStore } from './redis-store.js';

/** Data of one BullMQ job. */
export interface ItemJobData {
  id: string;
  /** The item as it was when the job was added (absent for a large payload, or a job added by an older Sluice: the worker reads the item). */
  item?: CarriedItem;
  /** Moves to another key after key failures that were not charged to the retry budget (scheduler/failure-decision.ts). */
  keyMoves?: number;
  /** The delay before the last retry, ms (decorrelated jitter starts from it). */
  previousDelayMs?: number;
  /** When the item's first attempt started, ms (the retry policy's deadline counts from it). */
  firstAt?: number;
}

/** What a job carries of its item: enough to start the executor on it. */
export interface CarriedItem {
  payload: unknown;
  priority: number;
  /** Attempts persisted when the job was added. */
  attempts: number;
}

/**
 * Largest payload a job carries by default, in characters of its JSON. A carried payload is held twice in
 * Redis while the job waits (the item's hash and the job's, which then also leaves Redis's compact
 * encoding: about 470 bytes more); beyond this the copy would cost more memory than the read it saves is
 * worth (a large request's read is small beside its call), so the worker reads it.
 */
export const CARRY_MAX_CHARS = 2048;

/** BullMQ's key prefix for a Sluice prefix: `<prefix>:bull`. */
export const bullPrefix = (prefix: string): string => `${prefix}:bull`;

/** BullMQ job id of an item: base64url of the id (BullMQ ids may not contain `:` or be integers). */
export const jobIdFor = (itemId: string): string => `i-${Buffer.from(itemId, 'utf8').toString('base64url')}`;

/** Highest BullMQ priority value (lowest precedence). */
const BULL_MAX_PRIORITY = 2_097_152;

/**
 * Sluice priority (higher first, default 0) -> BullMQ priority (1 first). Priorities from -1,000,000 to
 * 1,000,000 keep their order; beyond that they are clamped.
 */
export function bullPriority(priority: number): number {
  return Math.min(BULL_MAX_PRIORITY, Math.max(1, 1_000_001 - Math.round(priority)));
}

/** Options every item job is added with. */
export const ITEM_JOB_OPTIONS: JobsOptions = {
  // Unexpected processor errors (Redis lost mid-job, a bug) are retried by BullMQ; item-level retries
  // are Sluice's own (delayed jobs) and do not count here.
  attempts: 50,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: 1000,
};

/** Opens the queue of `run` on `connection`. */
export function openRunQueue(connection: Redis, prefix: string, run: string): Queue<ItemJobData> {
  return new Queue<ItemJobData>(run, { connection, prefix: bullPrefix(prefix) });
}

/**
 * Adds a job for every pending item of the store (in pages; an item that already has a job is not
 * added again). A job carries its item when the payload's JSON has at most `carryMaxChars` characters
 * (0: none does; the workers then read every item). Returns how many items were offered to the queue.
 */
export async function enqueuePending(store: RedisJobStore, queue: Queue<ItemJobData>, pageSize = 1000, carryMaxChars = CARRY_MAX_CHARS): Promise<number> {
  if (!(carryMaxChars >= 0)) throw new RangeError(`enqueue: carryMaxChars must be a number >= 0, got ${String(carryMaxChars)}`);
  let after = '-inf';
  let offered = 0;
  while (true) {
    // With nothing to carry, the payloads are not read.
    const { items, next } = await store.pendingPage(after, pageSize, carryMaxChars > 0);
    if (items.length === 0) return offered;
    await queue.addBulk(
      items.map((i) => ({ name: 'item', data: jobData(i, carryMaxChars), opts: { ...ITEM_JOB_OPTIONS, jobId: jobIdFor(i.id), priority: bullPriority(i.priority) } })),
    );
    offered += items.length;
    after = next;
    if (items.length < pageSize) return offered;
  }
}

/** A pending item's job data: its id, and the item itself when its payload is small enough to carry. */
function jobData(i: PendingItem, carryMaxChars: number): ItemJobData {
  if (i.payloadJson === undefined || i.payloadJson.length > carryMaxChars) return { id: i.id };
  return { id: i.id, item: { payload: JSON.parse(i.payloadJson) as unknown, priority: i.priority, attempts: i.attempts } };
}
