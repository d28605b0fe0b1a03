/**
 * A key's concurrency cap learned by the fleet as one (issue 12): the learner a Redis worker's
 * limiter gets from its store (`LimiterStore.inFlightCap`, leases.ts).
 *
 * One worker sees its own calls only, so its evidence does not split at a cap the fleet shares: a call
 * started with 1 of its own in flight may have had 3 of the fleet's. Here the evidence is the fleet's:
 * a call's level is the fleet's calls in flight when it started, counted after the fact from the
 * workers' call logs (each lease call sends this worker's calls of the last second and brings back the
 * others', lease.lua's call_logs), once every other worker sent its log after that start (or
 * {@link EVAL_AFTER_MS} later, by when its starts before it have been sent). Counted at the start from
 * the others' last reports instead, the levels were mostly wrong (a report is as of the worker's last
 * lease call): 4 workers against a cap of 2 learned a cap of 5 or none. The outcomes by level go with
 * the next lease call into the key's pooled counts (fleet-cap.lua), which every answer brings back. The rule that decides is one process's
 * ({@link LearnedInFlightCap}, run here on the pooled counts); its state is the fleet's: a change this
 * worker's learner makes (a cap learned, lowered, lifted, put back) is proposed with the next call and
 * taken only if no other worker's came since, and every answer's state is adopted. Each worker then
 * starts within its share of the fleet's cap, reserved as the fleet's start cap is (lease.lua).
 */
import { LearnedInFlightCap, MAX_TRACKED, inFlightLevel, type InFlightCapLearner, type InFlightCapState, type LearnedInFlightCapOptions } from '../../flow/learned-in-flight-cap.js';

/** The learned cap's entries of a lease answer, per key (fleet-cap.lua). */
export const CAP_ANSWER = 8;

/**
 * An own call's level is counted at the latest this long after its start, ms, with the others' logs as
 * they are then: each worker sends its starts within leases.ts's FLUSH_MS (250 ms), so by then the
 * others' starts before it are known.
 */
export const EVAL_AFTER_MS = 300;
/** Own calls ended longer ago than this are dropped from the log, ms (a level is counted within {@link EVAL_AFTER_MS}). */
const LOG_MS = 1_000;

/** One of this worker's calls on the key (local clock); `end` undefined while in flight. */
interface Call {
  start: number;
  end: number | undefined;
  /** Its outcome, while its level is not counted yet (undefined: counted, or it tells nothing). */
  outcome: 'served' | 'refused' | undefined;
}

/** Another worker's log as of an answer: when it was sent, and its calls (local clock, end Infinity while in flight). */
interface OtherLog {
  at: number;
  calls: [number, number][];
}

/** What goes with a lease call (fleet-cap.lua's arguments). */
export interface CapSent {
  seen: number;
  delta: string;
  proposal: string;
  /** The outcomes sent, to put back if the call fails. */
  outcomes: Map<number, [number, number]>;
}

/** How many of `sorted` (ascending) are at most `x`. */
function countAtMost(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The fleet's calls in flight at the start of each of `own` (this worker's calls in the order they
 * started, `end` undefined while in flight): the call itself, the own calls before it in that order
 * not ended by its start (several often start within the same ms: a burst is counted 1, 2, 3, ... as
 * the limiter counts it), and the others' calls (`others`: start, end; end Infinity while in flight)
 * started by then and not ended. A sort and a sweep, O((n + m) log(n + m)) for n own calls and m
 * others' (counted call by call, one second's calls made it quadratic).
 */
export function fleetLevels(own: readonly { start: number; end: number | undefined }[], others: readonly (readonly [number, number])[]): number[] {
  // The others': started by s and not ended by s = started by s less ended by s (a call that ends after
  // it starts ended by s only if it started by then; one that does not is never in flight).
  const live = others.filter(([start, end]) => end > start);
  const starts = live.map(([start]) => start).sort((a, b) => a - b);
  const ends = live.map(([, end]) => end).sort((a, b) => a - b);
  // The own calls before: swept in their order, their ends kept in a Fenwick tree over the sorted ends.
  const ownEnds = [...new Set(own.flatMap((c) => (c.end === undefined ? [] : [c.end])))].sort((a, b) => a - b);
  const tree = new Array<number>(ownEnds.length + 1).fill(0);
  let before = 0;
  return own.map((c) => {
    const s = c.start;
    let endedBy = 0;
    for (let k = countAtMost(ownEnds, s); k > 0; k -= k & -k) endedBy += tree[k]!;
    const level = 1 + before - endedBy + countAtMost(starts, s) - countAtMost(ends, s);
    before++;
    if (c.end !== undefined) for (let k = countAtMost(ownEnds, c.end); k <= ownEnds.length; k += k & -k) tree[k]!++;
    return level;
  });
}

export class FleetInFlightCap implements InFlightCapLearner {
  private readonly learner: LearnedInFlightCap;
  /** Outcomes since the last call, by level: [served, refused]. */
  private outcomes = new Map<number, [number, number]>();
  /** The others' calls in flight on the key as of the last answer. */
  private others = 0;
  /** This worker's calls of the last {@link LOG_MS} (by start), and the others' logs as of the last answer. */
  private calls: Call[] = [];
  private otherLogs: OtherLog[] = [];
  /** When the answer that brought them landed (local clock). */
  private logsAt = Number.NEGATIVE_INFINITY;
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

  /**
   * The limiter's record of an outcome, with the level as counted at the start (own calls plus the
   * others' last reported): the learner decides on it at once (a cap, a lift refused). The evidence
   * sent to the fleet is the outcome's exact level, counted later from the logs ({@link ended}).
   */
  record(inFlight: number, refused: boolean, now: number): void {
    this.learner.record(inFlight, refused, now);
    this.onNews?.(this.proposal() !== undefined);
  }

  /** An own call on the key started at `at` (local clock). */
  started(at: number): void {
    this.calls.push({ start: at, end: undefined, outcome: undefined });
  }

  /**
   * The own call started at `startedAt` ended at `at`: `outcome` is what it tells of the cap
   * (undefined: nothing, e.g. a 429 of a window that ran out). Its level is counted when the others'
   * logs cover its start.
   */
  ended(startedAt: number, at: number, outcome: 'served' | 'refused' | undefined): void {
    // The call in flight whose start is nearest (the executor's start and the pool's are the same tick).
    let best: Call | undefined;
    for (const c of this.calls) if (c.end === undefined && (!best || Math.abs(c.start - startedAt) < Math.abs(best.start - startedAt))) best = c;
    if (!best) return;
    best.end = Math.max(at, best.start);
    best.outcome = outcome;
    if (outcome) this.onNews?.(false);
  }

  /**
   * This worker's calls of the last second for a lease call sent at `now`, as lease.lua's call_logs
   * takes them ('start,end;...' in ms before the call reaches Redis: `leadMs` after `now`). `inFlight`
   * is the limiter's count: calls in flight beyond it ended without a word (cancelled) and are closed.
   */
  logArg(now: number, inFlight: number, leadMs: number): string {
    let open = this.calls.filter((c) => c.end === undefined).length;
    for (const c of this.calls) {
      if (open <= inFlight) break;
      if (c.end === undefined) {
        c.end = now;
        open--;
      }
    }
    this.calls = this.calls.filter((c) => c.end === undefined || c.outcome !== undefined || now - c.end < LOG_MS);
    const ago = (t: number): string => String(Math.max(0, Math.round(now + leadMs - t)));
    return this.calls.map((c) => `${ago(c.start)},${c.end === undefined ? '' : ago(c.end)}`).join(';');
  }

  /** When a lease call should bring the logs that count the earliest own outcome not counted yet, at the latest (undefined: none waits). */
  dueAt(): number | undefined {
    let at: number | undefined;
    for (const c of this.calls) if (c.outcome !== undefined && (at === undefined || c.start < at)) at = c.start;
    return at === undefined ? undefined : at + EVAL_AFTER_MS;
  }

  /** The others' logs of an answer (lease.lua's call_logs) landing at `now`, `midMs` after the script most likely ran; then counts what they cover. */
  private takeLogs(raw: string, now: number, midMs: number): void {
    const at = now - midMs;
    this.logsAt = now;
    this.otherLogs = raw === '' ? [] : raw.split(' ').map((log) => {
      const [sent = '0', list = ''] = log.split('|');
      const calls = list === '' ? [] : list.split(';').map((e): [number, number] => {
        const [s = '0', end = ''] = e.split(',');
        return [at - Number(s), end === '' ? Infinity : at - Number(end)];
      });
      return { at: at - Number(sent), calls };
    });
    this.count();
  }

  /**
   * Counts the level of each own outcome whose start the others' logs (as of the last answer) cover, or
   * whose start was {@link EVAL_AFTER_MS} before that answer: they go with the next lease call (the
   * engine counts before each).
   */
  count(): void {
    const covered = Math.min(...this.otherLogs.map((l) => l.at));
    const due = (c: Call): boolean => c.outcome !== undefined && !(c.start > covered && this.logsAt - c.start < EVAL_AFTER_MS);
    if (!this.calls.some(due)) return;
    const levels = fleetLevels(this.calls, this.otherLogs.flatMap((l) => l.calls));
    this.calls.forEach((c, i) => {
      if (!due(c)) return;
      const refused = c.outcome === 'refused';
      this.add(inFlightLevel(levels[i]!), refused ? 0 : 1, refused ? 1 : 0);
      c.outcome = undefined;
    });
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
   * came), the others' calls in flight and their call logs (`midMs`: how long ago the script most
   * likely ran). Outcomes counted since the call was sent count on top.
   */
  answer(a: readonly string[], others: number | undefined, now: number, logs = '', midMs = 0): void {
    if (others !== undefined) this.others = Math.max(0, others);
    this.takeLogs(logs, now, midMs);
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
