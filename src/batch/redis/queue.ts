/**
 * The distributed work queue of a run: one BullMQ job per item (job id derived from the item id, so
 * enqueueing twice adds nothing), priorities mapped onto BullMQ's, retries as delayed jobs at their
 * not-before time. Job data holds the item id and what the next retry decision needs (free key moves,
 * the previous delay, the first attempt's time): the payload, attempts and result live in the
 * {@link RedisJobStore}, which is the source of truth; a job is only "work to look at".
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisJobStore } from './redis-store.js';

/** Data of one BullMQ job. */
export interface ItemJobData {
  id: string;
  /** Moves to another key after key failures that were not charged to the retry budget (scheduler/failure-decision.ts). */
  keyMoves?: number;
  /** The delay before the last retry, ms (decorrelated jitter starts from it). */
  previousDelayMs?: number;
  /** When the item's first attempt started, ms (the retry policy's deadline counts from it). */
  firstAt?: number;
}

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
 * added again). Returns how many items were offered to the queue.
 */
export async function enqueuePending(store: RedisJobStore, queue: Queue<ItemJobData>, pageSize = 1000): Promise<number> {
  let after = '-inf';
  let offered = 0;
  while (true) {
    const { items, next } = await store.pendingPage(after, pageSize);
    if (items.length === 0) return offered;
    await queue.addBulk(
      items.map((i) => ({ name: 'item', data: { id: i.id }, opts: { ...ITEM_JOB_OPTIONS, jobId: jobIdFor(i.id), priority: bullPriority(i.priority) } })),
    );
    offered += items.length;
    after = next;
    if (items.length < pageSize) return offered;
  }
}
