// A general ordered structure under the clock layer: the scheduler's retry queue and the VirtualClock's
// timers both use it, and neither may import the other's layer.
/** An item that can sit in an {@link IndexedHeap}; the heap keeps `heapIndex` up to date (-1 when outside). */
export interface HeapItem {
  heapIndex: number;
}

/**
 * A binary min-heap under `before(a, b)` that knows where each item sits, so an item can be removed
 * in O(log n) when its job is cancelled (no lazy tombstones that keep cancelled payloads alive).
 * An item may be in at most one heap at a time.
 */
export class IndexedHeap<T extends HeapItem> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top) this.removeAt(0);
    return top;
  }

  /** Removes `item` if it is in this heap; returns whether it was. */
  remove(item: T): boolean {
    const i = item.heapIndex;
    if (i < 0 || this.items[i] !== item) return false;
    this.removeAt(i);
    return true;
  }

  /** A copy of the items, in heap order (not sorted). */
  toArray(): T[] {
    return [...this.items];
  }

  /** Removes and returns every item (order unspecified). */
  drain(): T[] {
    const all = this.items.splice(0);
    for (const item of all) item.heapIndex = -1;
    return all;
  }

  private removeAt(i: number): void {
    const a = this.items;
    const removed = a[i]!;
    const last = a.pop()!;
    removed.heapIndex = -1;
    if (i < a.length) {
      a[i] = last;
      last.heapIndex = i;
      this.down(i);
      this.up(last.heapIndex);
    }
  }

  private up(i: number): void {
    const a = this.items;
    const item = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (!this.before(item, parent)) break;
      a[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    a[i] = item;
    item.heapIndex = i;
  }

  private down(i: number): void {
    const a = this.items;
    const n = a.length;
    const item = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(a[r]!, a[l]!) ? r : l;
      const child = a[c]!;
      if (!this.before(child, item)) break;
      a[i] = child;
      child.heapIndex = i;
      i = c;
    }
    a[i] = item;
    item.heapIndex = i;
  }
}
