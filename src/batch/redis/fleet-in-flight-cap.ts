/**
 * A key's concurrency cap learned by the fleet as one (issue 12): the learner a Redis worker's
 * limiter gets from its store (`LimiterStore.inFlightCap`, leases.ts).
 *
 * One worker sees its own calls only, so its evidence does not split at a cap the fleet shares: a call
 * started with 1 of its own in flight may have had 3 of the fleet's. Here the evidence is the fleet's:
 * a call's level is this worker's calls in flight plus the others' as they last reported them (with
 * every lease call, lease.lua), and the outcomes by level go with the next lease call into the key's
 * pooled counts (fleet-cap.lua), which every answer brings back. The rule that decides is one process's
 * ({@link LearnedInFlightCap}, run here on the pooled counts); its state is the fleet's: a change this
 * worker's learner makes (a cap learned, lowered, lifted, put back) is proposed with the next call and
 * taken only if no other worker's came since, and every answer's state is adopted. Each worker then
 * starts within its share of the fleet's cap, reserved as the fleet's start cap is (lease.lua).
 */
import { LearnedInFlightCap, MAX_TRACKED, inFlightLevel, type InFlightCapLearner, type InFlightCapState, type LearnedInFlightCapOptions } from '../../flow/learned-in-flight-cap.js';

/** The learned cap's entries of a lease answer, per key (fleet-cap.lua). */
export const CAP_ANSWER = 8;

/** What goes with a lease call (fleet-cap.lua's arguments). */
export interface CapSent {
  seen: number;
  delta: string;
  proposal: string;
  /** The outcomes sent, to put back if the call fails. */
  outcomes: Map<number, [number, number]>;
}

export class FleetInFlightCap implements InFlightCapLearner {
  private readonly learner: LearnedInFlightCap;
  /** Outcomes since the last call, by level: [served, refused]. */
  private outcomes = new Map<number, [number, number]>();
  /** The others' calls in flight on the key as of the last answer. */
  private others = 0;
  /** The version of the fleet's cap as of the last answer, and its state (as this learner restored it). */
  private version = 0;
  private fleet: InFlightCapState;
  /**
   * Something to send: `urgent` when the learner's state changed (a proposal: at once), else outcomes
   * (with the next call that goes anyway, soon).
   */
  onNews: ((urgent: boolean) => void) | undefined;

  constructor(options: LearnedInFlightCapOptions = {}) {
    this.learner = new LearnedInFlightCap(options);
    this.fleet = this.learner.state();
  }

  cap(now: number): number | undefined {
    const cap = this.learner.cap(now);
    if (this.proposal() !== undefined) this.onNews?.(true);
    return cap;
  }

  /** The fleet's calls in flight at a start: this worker's and the others' as they last reported them. */
  atStart(own: number): number {
    return own + this.others;
  }

  record(inFlight: number, refused: boolean, now: number): void {
    this.add(inFlightLevel(inFlight), refused ? 0 : 1, refused ? 1 : 0);
    this.learner.record(inFlight, refused, now);
    this.onNews?.(this.proposal() !== undefined);
  }

  /** Whether there is something to send. */
  get pending(): boolean {
    return this.outcomes.size > 0 || this.proposal() !== undefined;
  }

  /** The learner's state when it differs from the fleet's (cap, trial, lift interval): what it proposes. */
  private proposal(): InFlightCapState | undefined {
    const s = this.learner.state();
    const f = this.fleet;
    if (s.cap === undefined || (s.cap === f.cap && s.trialOf === f.trialOf && s.liftAfterMs === f.liftAfterMs)) return undefined;
    return s;
  }

  /** What goes with a lease call; the outcomes are taken (put back with {@link restore} if the call fails). */
  take(): CapSent {
    const p = this.proposal();
    const outcomes = this.outcomes;
    this.outcomes = new Map();
    const delta = [...outcomes].map(([k, [ok, refused]]) => `${String(k)}:${String(ok)}:${String(refused)}`).join(';');
    const proposal = p ? `${String(p.cap)}:${p.trialOf === undefined ? '' : String(p.trialOf)}:${String(p.liftAfterMs)}` : '';
    return { seen: this.version, delta, proposal, outcomes };
  }

  /** A call that carried `sent` failed: its outcomes go with the next. */
  restore(sent: CapSent): void {
    for (const [k, [ok, refused]] of sent.outcomes) this.add(k, ok, refused);
  }

  /** Counts `ok` served and `refused` outcomes at level `k` among those to send. */
  private add(k: number, ok: number, refused: number): void {
    const o = this.outcomes.get(k) ?? [0, 0];
    o[0] += ok;
    o[1] += refused;
    this.outcomes.set(k, o);
  }

  /**
   * A lease answer: the fleet's pooled counts and cap (fleet-cap.lua's entries, `now` the local time it
   * came) and the others' calls in flight. Outcomes recorded since the call was sent count on top.
   */
  answer(a: readonly string[], others: number | undefined, now: number): void {
    if (others !== undefined) this.others = Math.max(0, others);
    const [levels = '', n = '0', c = '', t = '', la = '', since = '', refusedAgo = '', v = '0'] = a;
    const ok = new Float64Array(MAX_TRACKED + 1);
    const refused = new Float64Array(MAX_TRACKED + 1);
    for (const entry of levels === '' ? [] : levels.split(';')) {
      const [k, o, r] = entry.split(':').map(Number);
      if (k === undefined || !(k >= 1 && k <= MAX_TRACKED)) continue;
      ok[k] = o ?? 0;
      refused[k] = r ?? 0;
    }
    for (const [k, [o, r]] of this.outcomes) {
      ok[k]! += o;
      refused[k]! += r;
    }
    const base = this.learner.state();
    const fleet: InFlightCapState = {
      cap: c === '' ? undefined : Number(c),
      trialOf: t === '' ? undefined : Number(t),
      liftAfterMs: la === '' ? base.liftAfterMs : Number(la),
      since: since === '' ? base.since : now - Number(since),
      lastRefusedAt: refusedAgo === '' ? base.lastRefusedAt : Math.max(now - Number(refusedAgo), base.lastRefusedAt),
    };
    // A change this learner made after the call was sent, with no other since, stays: it goes with the next.
    const keep = this.proposal() !== undefined && Number(v) === this.version;
    this.version = Number(v);
    this.fleet = fleet;
    this.learner.restore(keep ? { ...base, lastRefusedAt: fleet.lastRefusedAt } : fleet, { ok, refused, outcomes: Number(n) });
  }
}
