/**
 * The executor's key pool in a Redis worker: this process's `KeyPool` (selection, cooldowns, learned
 * rate, quota monitors: flow/key-pool.ts, unchanged) with the fleet's key states laid over it. A key
 * another worker cooled, parked or disabled is not a candidate here either, until its state ends (then
 * the executor announces it back, as for its own cooldowns). The states come with every lease answer
 * (leases.ts), so reading them costs no command.
 */
import type { Classification } from '../../classify/kinds.js';
import type { KeyState } from '../../flow/backend.js';
import type { KeyFailureEffect, SchedulerFailureDetail, SchedulerKeyPool, KeyAvailability } from '../../scheduler/ports.js';

/** The fleet's view of one key (leases.ts). */
export interface FleetStates {
  stateOf(name: string, now: number): KeyState;
}

export class FleetKeyPool implements SchedulerKeyPool {
  /** Keys blocked by another worker's state whose end was not announced yet. */
  private readonly blocked = new Set<string>();

  constructor(
    private readonly local: SchedulerKeyPool,
    private readonly names: readonly string[],
    private readonly fleet: FleetStates,
  ) {}

  private remote(name: string, now: number): { state: KeyAvailability; until?: number } | undefined {
    const s = this.fleet.stateOf(name, now);
    if (s.state === 'active') return undefined;
    this.blocked.add(name);
    return s.state === 'disabled' ? { state: 'disabled', until: Infinity } : { state: s.state, until: s.until };
  }

  candidates(now: number): string[] {
    return this.local.candidates(now).filter((name) => this.remote(name, now) === undefined);
  }

  stateOf(name: string, now: number): { state: KeyAvailability; until?: number } {
    const mine = this.local.stateOf(name, now);
    const theirs = this.remote(name, now);
    if (!theirs || mine.state === 'disabled') return mine;
    if (mine.state === 'active' || theirs.state === 'disabled' || (theirs.until ?? 0) > (mine.until ?? 0)) return theirs;
    return mine;
  }

  onStart(name: string, now: number): void {
    this.local.onStart?.(name, now);
  }

  onSuccess(name: string, now: number, startedAt?: number): void {
    this.local.onSuccess(name, now, startedAt);
  }

  nextRejoinAt(): number | undefined {
    let at = this.local.nextRejoinAt();
    const now = Number.NEGATIVE_INFINITY;
    for (const name of this.blocked) {
      const s = this.fleet.stateOf(name, now);
      if ((s.state === 'cooling' || s.state === 'parked') && (at === undefined || s.until < at)) at = s.until;
    }
    return at;
  }

  rejoin(now: number): string[] {
    const back = this.local.rejoin(now);
    for (const name of [...this.blocked]) {
      if (this.fleet.stateOf(name, now).state !== 'active') continue;
      this.blocked.delete(name);
      if (!back.includes(name) && this.local.stateOf(name, now).state === 'active') back.push(name);
    }
    return back;
  }

  onFailure(name: string, classification: Classification, now: number, detail?: SchedulerFailureDetail): KeyFailureEffect {
    return this.local.onFailure(name, classification, now, detail);
  }

  close(): void {
    this.local.close?.();
  }

  /** Key names in pool order. */
  get keyNames(): readonly string[] {
    return this.names;
  }
}
