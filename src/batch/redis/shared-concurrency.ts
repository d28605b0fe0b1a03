/**
 * The fleet's adaptive concurrency limit: one limit for the fleet's calls in flight, as the learned rate
 * is one rate for a key (leases.ts). Each worker's `AdaptiveConcurrency` (flow/adaptive-concurrency.ts)
 * judges its own outcomes as before, but its limit is its share of the fleet's: the fleet's limit split
 * over the workers that reported within 2 s (at least 1 each; the start cap's rule of liveness).
 *
 * A step of its own (down on load, up on clean windows) is proposed with the next lease call, sent at
 * once, with the fleet's step its window judged (`seen`). `scripts/fleet-concurrency.lua` takes it only
 * when the fleet took no step since: four workers that see the same overload halve the fleet once, not
 * four times, and at most one step is taken per window (each worker's window starts anew when it adopts
 * a step). Every lease answer brings the fleet's limit back and the worker adopts its share
 * (`AdaptiveConcurrency.adopt`, a `change` whose reason names the fleet's limit), so a worker that
 * starts later runs at the fleet's level, and one whose step was refused takes the fleet's instead.
 *
 * Nothing here is a command of its own: the report and the proposal ride on the lease call, and a
 * worker with calls in flight and no other reason to call makes one a second (leases.ts), so that it
 * keeps counting among the live workers.
 */
import type { AdaptiveConcurrency } from '../../flow/adaptive-concurrency.js';

/** The fleet's limit as a lease answer brings it back. */
export interface FleetLimit {
  /** The fleet's limit on its calls in flight. */
  limit: number;
  /** The fleet's steps so far. */
  seq: number;
  /** The fleet is still in slow start (no step down yet). */
  slowStart: boolean;
  /** Workers that reported within the last 2 s, this one included. */
  workers: number;
  /** This worker's share of the limit. */
  share: number;
}

/** A step of this worker's share, proposed to the fleet, with the fleet's step its window judged. */
interface Proposal {
  from: number;
  to: number;
  seen: number;
}

/** Entries of the fleet's limit at the end of a lease answer (lease.lua). */
export const CONCURRENCY_ANSWER = 5;

/** One worker's side of the fleet's concurrency limit: what its lease calls carry, what it adopts from their answers. */
export class FleetConcurrency {
  /** Called when a step of this worker's waits to be proposed (the lease engine makes its call at once). */
  onProposal: (() => void) | undefined;
  /** The fleet's limit as of the last answer (undefined before the first). */
  fleet: FleetLimit | undefined;
  private seen = 0;
  private proposal: Proposal | undefined;
  private readonly initial: number;

  constructor(private readonly local: AdaptiveConcurrency) {
    // A fleet that has no limit yet starts at this worker's: the fleet starts as one worker would.
    this.initial = local.limit;
    local.events.on('step', (c) => {
      this.proposal = { from: c.from, to: c.to, seen: this.seen };
      this.onProposal?.();
    });
  }

  /** A step waits to be proposed. */
  get pending(): boolean {
    return this.proposal !== undefined;
  }

  /**
   * The block of a lease call (lease.lua: seen, from, to, min, max, initial, gone), and the proposal it
   * carries (given back with {@link restore} when the call fails). `gone`: the worker stops.
   */
  args(gone: boolean): { args: (string | number)[]; sent: Proposal | undefined } {
    const p = gone ? undefined : this.proposal;
    this.proposal = undefined;
    const { min, max } = this.local.bounds;
    return { args: [p?.seen ?? this.seen, p?.from ?? '', p?.to ?? '', min, max, this.initial, gone ? '1' : ''], sent: p };
  }

  /** A call that failed: its proposal goes with the next one (unless a newer step replaced it). */
  restore(sent: Proposal | undefined): void {
    this.proposal ??= sent;
  }

  /** The answer's concurrency entries: the fleet's limit, adopted as this worker's share. */
  answer(entries: readonly unknown[]): void {
    const [limit, seq, slowStart, workers, share] = entries.map((x) => Number(x));
    if (![limit, seq, workers, share].every((x) => Number.isFinite(x!))) return;
    const fleet: FleetLimit = { limit: limit!, seq: seq!, slowStart: slowStart === 1, workers: workers!, share: share! };
    this.fleet = fleet;
    const step = fleet.seq !== this.seen;
    // A step of this worker's not sent yet stands until the fleet answers it (this answer is of a call
    // sent before it), unless the fleet stepped since: then it judged the fleet's old limit, and the
    // fleet's new one replaces it.
    if (this.proposal && !step) return;
    this.seen = fleet.seq;
    this.proposal = undefined;
    const reason = `the fleet's limit: ${fleet.limit} in flight over ${fleet.workers} worker${fleet.workers === 1 ? '' : 's'}`;
    this.local.adopt(fleet.share, reason, { step, ...(fleet.slowStart ? {} : { slowStart: false }) });
  }
}
