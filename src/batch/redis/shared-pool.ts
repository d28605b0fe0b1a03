/**
 * The executor's key pool in a Redis worker: this process's `KeyPool` (selection, cooldowns, learned
 * rate, quota monitors: flow/key-pool.ts, unchanged) with the fleet's key states laid over it. A key
 * another worker cooled, parked or disabled is not a candidate here either, until its state ends (then
 * the executor announces it back, as for its own cooldowns). The states come with every lease answer
 * (leases.ts), so reading them costs no command.
 *
 * The fleet also learns as one: a decrease of a key's learned rate after a bare 429 and a bare 429's
 * cooldown strike are proposed to the fleet (leases.ts: taken only when the refused call started after
 * the fleet's last one, so a burst of 429s seen by several workers is one event), successes are
 * counted for the fleet's goodput, and what the fleet learnt (its event, its strikes, the others'
 * successes and starts) is adopted by this process's limiter and pool from every lease answer.
 */
import type { Classification } from '../../classify/kinds.js';
import type { KeyState } from '../../flow/backend.js';
import type { KeyPool } from '../../flow/key-pool.js';
import type { LearnedRateState } from '../../flow/learned-rate.js';
import { permitOutcome } from '../../scheduler/outcome.js';
import type { KeyFailureEffect, PermitOutcome, SchedulerFailureDetail, SchedulerKeyPool, KeyAvailability } from '../../scheduler/ports.js';

/** The fleet's view of one key, and where this worker's news goes (leases.ts). */
export interface FleetStates {
  stateOf(name: string, now: number): KeyState;
  attach?(learner: FleetLearner): void;
  noteSuccess?(name: string, startedAt: number): void;
  /** A call on `name` started at `at`; one started at `startedAt` ended at `at`, telling `outcome` of the key's concurrency cap (the learned cap's log, leases.ts). */
  noteStart?(name: string, at: number): void;
  noteEnd?(name: string, startedAt: number, at: number, outcome: PermitOutcome | undefined): void;
  proposeDecrease?(name: string, state: LearnedRateState, startedAt: number | undefined): void;
  proposeStrike?(name: string, startedAt: number | undefined): void;
}

/** What adopts the fleet's learning in this process (the pool's limiters and strikes). */
export interface FleetLearner {
  adoptRate(name: string, state: LearnedRateState): void;
  adoptStrikes(name: string, strikes: number, at: number): void;
  countOthers(name: string, starts: number, successes: number): void;
  /** This worker's calls in flight on `name` (its share of the fleet's start cap, leases.ts). */
  inFlight?(name: string): number;
}

export class FleetKeyPool implements SchedulerKeyPool, FleetLearner {
  /** Keys blocked by another worker's state whose end was not announced yet. */
  private readonly blocked = new Set<string>();

  constructor(
    private readonly local: KeyPool,
    private readonly names: readonly string[],
    private readonly fleet: FleetStates,
  ) {
    fleet.attach?.(this);
  }

  adoptRate(name: string, state: LearnedRateState): void {
    this.local.limiter(name).adoptLearned(state);
  }

  adoptStrikes(name: string, strikes: number, at: number): void {
    this.local.adoptStrikes(name, strikes, at);
  }

  countOthers(name: string, starts: number, successes: number): void {
    this.local.limiter(name).countOthers(starts, successes);
  }

  inFlight(name: string): number {
    return this.local.limiter(name).inFlight;
  }

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
    this.fleet.noteStart?.(name, now);
  }

  onSuccess(name: string, now: number, startedAt?: number): void {
    this.local.onSuccess(name, now, startedAt);
    this.fleet.noteSuccess?.(name, startedAt ?? now);
    this.fleet.noteEnd?.(name, startedAt ?? now, now, 'served');
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
    const limiter = this.local.limiter(name);
    const eventBefore = limiter.learnedState()?.at;
    const strikeBefore = this.local.strikesOf(name).at;
    const effect = this.local.onFailure(name, classification, now, detail);
    this.fleet.noteEnd?.(name, detail?.startedAt ?? now, now, permitOutcome(classification.kind, detail?.rateLimit));
    // What this 429 taught the key goes to the fleet, which keeps one event per congestion.
    const event = limiter.learnedState();
    if (event && event.at !== eventBefore) this.fleet.proposeDecrease?.(name, event, detail?.startedAt);
    if (this.local.strikesOf(name).at !== strikeBefore) this.fleet.proposeStrike?.(name, detail?.startedAt);
    return effect;
  }

  close(): void {
    this.local.close?.();
  }

  /** Key names in pool order. */
  get keyNames(): readonly string[] {
    return this.names;
  }
}
