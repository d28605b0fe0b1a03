/**
 * A sliding-window log of amounts (requests or tokens) over the last `windowMs` milliseconds.
 * Entries live in a growable ring buffer, so pruning is O(expired) and memory follows the limit.
 */
export class SlidingWindow {
  private times = new Float64Array(16);
  private amounts = new Float64Array(16);
  private head = 0;
  private size = 0;
  private total = 0;

  constructor(private readonly windowMs: number) {}

  /** Sum of the amounts still inside the window at `now`. */
  used(now: number): number {
    this.prune(now);
    return this.total;
  }

  /** Adds `amount` at `now`. */
  add(now: number, amount: number): void {
    if (this.size === this.times.length) this.grow();
    const i = (this.head + this.size) % this.times.length;
    this.times[i] = now;
    this.amounts[i] = amount;
    this.size++;
    this.total += amount;
  }

  /** Ms from `now` until `amount` more fits under `limit` (0 if it fits now). */
  waitFor(now: number, amount: number, limit: number): number {
    this.prune(now);
    let excess = this.total + amount - limit;
    if (excess <= 0) return 0;
    const cap = this.times.length;
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) % cap;
      excess -= this.amounts[i]!;
      if (excess <= 0) return Math.max(1, this.times[i]! + this.windowMs - now);
    }
    // Larger than the limit itself: it will never fit; report a full window.
    return this.windowMs;
  }

  /** Ms from `now` until everything in the window has expired (the "full reset" providers report). */
  resetIn(now: number): number {
    this.prune(now);
    if (this.size === 0) return 0;
    const newest = this.times[(this.head + this.size - 1) % this.times.length]!;
    return Math.max(0, newest + this.windowMs - now);
  }

  /** Forgets everything. */
  clear(): void {
    this.head = 0;
    this.size = 0;
    this.total = 0;
  }

  private prune(now: number): void {
    const cap = this.times.length;
    const cutoff = now - this.windowMs;
    while (this.size > 0 && this.times[this.head]! <= cutoff) {
      this.total -= this.amounts[this.head]!;
      this.head = (this.head + 1) % cap;
      this.size--;
    }
    if (this.size === 0) this.total = 0; // drop accumulated float error
  }

  private grow(): void {
    const cap = this.times.length;
    const times = new Float64Array(cap * 2);
    const amounts = new Float64Array(cap * 2);
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) % cap;
      times[k] = this.times[i]!;
      amounts[k] = this.amounts[i]!;
    }
    this.times = times;
    this.amounts = amounts;
    this.head = 0;
  }
}
