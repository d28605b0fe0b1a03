/**
 * Counts kept in memory during a run, from one store read at the start plus the transitions the runner
 * makes, so progress ticks never scan the store (a million-row GROUP BY per second would cost).
 */
import type { AttemptOutcome, BatchCounts, Completion } from './store.js';

/** Live counters for progress events. The final summary reads the store instead. */
export class LiveCounts {
  private readonly c: BatchCounts;

  constructor(initial: BatchCounts) {
    this.c = structuredClone(initial);
  }

  /** `n` items went pending -> running. */
  claimed(n: number): void {
    this.c.byState.pending -= n;
    this.c.byState.running += n;
  }

  /** An item left running. */
  completed(completion: Completion): void {
    this.c.byState.running--;
    this.c.byState[completion.state]++;
    if (completion.state === 'failed') {
      const kind = completion.error.kind;
      this.c.failedByKind[kind] = (this.c.failedByKind[kind] ?? 0) + 1;
    }
  }

  attemptEnded(outcome: AttemptOutcome): void {
    if (outcome.key === undefined) return;
    const k = (this.c.perKey[outcome.key] ??= { attempts: 0, succeeded: 0, failedByKind: {} });
    k.attempts++;
    if (outcome.ok) k.succeeded++;
    else k.failedByKind[outcome.kind] = (k.failedByKind[outcome.kind] ?? 0) + 1;
  }

  written(n: number): void {
    this.c.written += n;
  }

  /** A copy, safe to hand to listeners. */
  snapshot(): BatchCounts {
    return structuredClone(this.c);
  }
}
