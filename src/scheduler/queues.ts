import { IndexedHeap, type HeapItem } from '../clock/indexed-heap.js';

/** What the two queues need to know about a job. */
export interface QueuedItem extends HeapItem {
  /** Higher runs first (as in p-queue). */
  priority: number;
  /** Submission order; a job sent back to the front gets a smaller one than any other. */
  seq: number;
  /** Earliest start time (ms since epoch) while in the retry queue. */
  notBefore: number;
}

/**
 * Jobs ready to start: highest priority first, and first in, first out within a priority (stable).
 * `pushFront` puts a job ahead of every job of its priority (a job whose key was rate limited).
 */
export class ReadyQueue<T extends QueuedItem> {
  private readonly heap = new IndexedHeap<T>((a, b) => a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq));
  private frontSeq = 0;

  get size(): number {
    return this.heap.size;
  }
  peek(): T | undefined {
    return this.heap.peek();
  }
  pop(): T | undefined {
    return this.heap.pop();
  }
  push(item: T): void {
    this.heap.push(item);
  }
  pushFront(item: T): void {
    item.seq = --this.frontSeq - Number.MAX_SAFE_INTEGER / 2;
    this.heap.push(item);
  }
  remove(item: T): boolean {
    return this.heap.remove(item);
  }
  drain(): T[] {
    return this.heap.drain();
  }
}

/** Jobs waiting for their retry time: earliest `notBefore` first, then submission order. */
export class RetryQueue<T extends QueuedItem> {
  private readonly heap = new IndexedHeap<T>((a, b) => a.notBefore < b.notBefore || (a.notBefore === b.notBefore && a.seq < b.seq));

  get size(): number {
    return this.heap.size;
  }
  /** The earliest not-before time, or undefined when empty. */
  nextAt(): number | undefined {
    return this.heap.peek()?.notBefore;
  }
  push(item: T): void {
    this.heap.push(item);
  }
  /** Removes and returns the jobs whose time has come (`notBefore <= now`), in order. */
  takeDue(now: number): T[] {
    const due: T[] = [];
    for (let top = this.heap.peek(); top && top.notBefore <= now; top = this.heap.peek()) due.push(this.heap.pop()!);
    return due;
  }
  remove(item: T): boolean {
    return this.heap.remove(item);
  }
  drain(): T[] {
    return this.heap.drain();
  }
}
