/**
 * `SlidingLogWatch`: tells a sliding log from a fixed window by the answers, and spends a sliding log
 * exactly with the key's own starts.
 *
 * Why: legacy `X-RateLimit-*` headers look the same in front of a fixed window and a sliding log
 * (rate-limiter-flexible's README headers over rolling-rate-limiter, for one). A fixed window gives
 * everything back at its reset, so its remainder may be spent at once; a sliding log gives each slot
 * back one window after the request that took it, so spending "the full window" at the named reset is
 * refused, and waiting for a reset that keeps moving wastes most of a window (bench
 * sliding-window/headers: 1.1-1.3x of N/rate). A sliding log shows itself in two ways at once: its
 * remainder rises while the named reset stays the same (a fixed window's cannot), and the remainder it
 * reports is the limit less this key's own starts of the last window. Each start is counted where its
 * request most likely reached the server: its start, moved later by as much as its round trip exceeded
 * the fastest (a request queued behind others in a burst). Once both were seen twice, a start may go
 * whenever fewer than `limit` of those fall in the last window (plus a margin for the requests' travel),
 * which replays the previous window's pattern one window later: sliding-window/headers 1.07-1.31x ->
 * 0.99x with no 429 (docs/PERFORMANCE.md).
 *
 * This is sound for a fixed window too (every window of `windowMs` holds at most `limit` of our
 * starts), only slower than spending its remainder, and an answer that shows clearly more room than our
 * own log (a fixed window's fresh remainder) turns it off again.
 */

/** Answers that must fit a sliding log, each with a rise, before one is assumed. */
const EVIDENCE_NEEDED = 2;
/** Answers in a row that show clearly more room than the log before the sliding log is dropped. */
const MISMATCHES_TO_DROP = 2;
/** How far an answer may differ from the log's count and still fit it (reordered arrivals). */
const FIT_TOLERANCE = 1;
/** Room beyond the log's count that counts as a mismatch (refused starts the server did not count). */
const ROOM_MISMATCH = 3;
/** The predicted remainder must be at least this for an answer to be evidence (0 fits any busy bucket). */
const MIN_PREDICTED = 2;
/**
 * Margin after a slot's end for the request's travel, ms. A refusal in spite of it (a start that reached
 * the server sooner than the one whose slot it took) widens it by a step: the refusals say by how little
 * (rolling-rate-limiter's waits after them are 1-10 ms), and every ms is paid once per window.
 */
const INITIAL_MARGIN_MS = 4;
const MARGIN_STEP_MS = 2;
const MAX_MARGIN_MS = 100;
/** How late a start may reach the server after it was granted (a queued connection, a busy event loop), ms. */
const ARRIVAL_SLACK_MS = 50;
/** Travel delay read from a slow answer at most, ms (beyond it a slow answer is the server's time). */
const MAX_TRAVEL_DELAY_MS = 50;
/** Starts kept at most; beyond this the log is not kept (a limit that large is not spent this way). */
const MAX_ENTRIES = 100_000;

export class SlidingLogWatch {
  /**
   * When each start's slot is taken, ascending: the start time, moved later once its answer shows the
   * request travelled longer than the fastest one did (the server counts arrivals, not our starts).
   */
  private taken: number[] = [];
  /** The start number of each slot in `taken`. */
  private takenSeq: number[] = [];
  /** Start times of the starts that were refused, ascending (still in `taken`). */
  private refusedAt: number[] = [];
  /** Start number -> start time, for the starts in `taken`. */
  private readonly startedAt = new Map<number, number>();
  private limit = 0;
  private windowMs = 0;
  private evidence = 0;
  private mismatches = 0;
  private on = false;
  private marginMs = INITIAL_MARGIN_MS;
  /** The fastest answer seen, ms: the part of a round trip that is not travel delay. */
  private fastestMs = Infinity;
  /** Since when every start is in the log. */
  private since: number | undefined;

  /** Whether the key's answers showed a sliding log, so that its own starts are what is spent. */
  active(): boolean {
    return this.on;
  }

  /** Records a start. */
  start(seq: number, at: number): void {
    if (this.taken.length >= MAX_ENTRIES) this.reset();
    this.since ??= at;
    this.taken.push(at);
    this.takenSeq.push(seq);
    this.startedAt.set(seq, at);
    this.prune(at);
  }

  /**
   * Weighs the answer to start `seq`, received `at`, against the log: `remaining` as the server
   * counted it at that start (after counting it), `rose` whether the remainder rose while the named
   * reset stayed the same. Returns whether the log's verdict changed.
   */
  answer(seq: number, at: number, limit: number, windowMs: number, remaining: number, rose: boolean, refused: boolean): boolean {
    const taken = this.arrived(seq, at, refused);
    if (limit !== this.limit || windowMs !== this.windowMs) {
      const was = this.on;
      this.limit = limit;
      this.windowMs = windowMs;
      this.evidence = 0;
      this.mismatches = 0;
      this.on = false;
      if (was) return true;
    }
    if (refused) {
      if (this.on) this.marginMs = Math.min(MAX_MARGIN_MS, this.marginMs + MARGIN_STEP_MS);
      return false;
    }
    const predicted = taken === undefined ? undefined : this.predicted(taken, seq);
    if (predicted === undefined) return false;
    if (this.on) {
      // A start that reached the server late moves the window the server counts: allow for that.
      // Refused starts are in the log, though a server that counts only what it served has room for them.
      const late = (this.predicted(taken!, seq, ARRIVAL_SLACK_MS) ?? predicted) + this.refusedWithin(taken!);
      this.mismatches = remaining >= late + ROOM_MISMATCH ? this.mismatches + 1 : 0;
      if (this.mismatches < MISMATCHES_TO_DROP) return false;
      this.on = false;
      this.evidence = 0;
      this.mismatches = 0;
      return true;
    }
    // More room than our own starts leave is a fixed window's fresh remainder (or another counter):
    // evidence against. Less room is only arrivals counted in another order than they started.
    if (remaining > predicted + FIT_TOLERANCE) {
      this.evidence = 0;
      return false;
    }
    if (!rose || predicted < MIN_PREDICTED || predicted - remaining > FIT_TOLERANCE) return false;
    this.evidence++;
    if (this.evidence < EVIDENCE_NEEDED) return false;
    this.on = true;
    this.mismatches = 0;
    return true;
  }

  /** ms until fewer than `limit` own slots fall in the window ending then (0 = now); 0 while inactive. */
  waitMs(now: number): number {
    if (!this.on) return 0;
    const span = this.windowMs + this.marginMs;
    const inWindow = this.taken.length - this.firstAfter(now - span);
    if (inWindow < this.limit) return 0;
    // The oldest slot of the newest `limit` is the next to come back.
    const freeing = this.taken[this.taken.length - this.limit]!;
    return Math.max(0, Math.ceil(freeing + span - now));
  }

  /**
   * Moves start `seq`'s slot to when it most likely reached the server, from its answer: as much later
   * than its start as its round trip was longer than the fastest served one (at most {@link MAX_TRAVEL_DELAY_MS},
   * since a slow answer is mostly the server's time, not travel). Returns that time, if `seq` is known.
   */
  private arrived(seq: number, at: number, refused: boolean): number | undefined {
    const started = this.startedAt.get(seq);
    if (started === undefined) return undefined;
    this.startedAt.delete(seq);
    // A refusal is answered at once, without the server's work: its round trip says nothing of travel.
    if (refused) {
      insertSorted(this.refusedAt, started);
      return started;
    }
    const roundTrip = at - started;
    if (roundTrip < this.fastestMs) this.fastestMs = roundTrip;
    const delay = Math.min(MAX_TRAVEL_DELAY_MS, Math.max(0, roundTrip - this.fastestMs));
    if (delay <= 0) return started;
    const i = this.indexOf(started, seq);
    if (i === undefined) return started;
    this.taken.splice(i, 1);
    this.takenSeq.splice(i, 1);
    const moved = started + delay;
    const j = this.firstAfter(moved);
    this.taken.splice(j, 0, moved);
    this.takenSeq.splice(j, 0, seq);
    return moved;
  }

  /**
   * The server's remainder after start `seq`, whose request took its slot at `taken`, if our own starts
   * are all it counts: the slots of the window before it, of starts made before it (the others of its
   * burst reached the server after it).
   */
  private predicted(taken: number, seq: number, slackMs = 0): number | undefined {
    // Only a log that reaches back a full window can say what the server counts.
    if (this.since === undefined || this.since > taken - this.windowMs) return undefined;
    let count = 0;
    for (let i = this.firstAfter(taken - this.windowMs + slackMs); i < this.taken.length && this.taken[i]! <= taken; i++) {
      if (this.takenSeq[i]! <= seq) count++;
    }
    return this.limit - count;
  }

  /** Index of start `seq`'s slot, taken at `t`, if it is there. */
  private indexOf(t: number, seq: number): number | undefined {
    for (let i = this.firstAfter(t) - 1; i >= 0 && this.taken[i] === t; i--) if (this.takenSeq[i] === seq) return i;
    return undefined;
  }

  /** Refused starts in the window before `taken`. */
  private refusedWithin(taken: number): number {
    const from = taken - this.windowMs;
    let n = 0;
    for (let i = this.refusedAt.length - 1; i >= 0 && this.refusedAt[i]! > from; i--) if (this.refusedAt[i]! <= taken) n++;
    return n;
  }

  /** Index of the first slot taken after `t`. */
  private firstAfter(t: number): number {
    return firstAfterIn(this.taken, t);
  }

  /** Forgets slots older than two windows (an answer can come a window late). */
  private prune(now: number): void {
    const keepFrom = now - 2 * Math.max(this.windowMs, 1_000) - MAX_MARGIN_MS;
    const old = this.firstAfter(keepFrom);
    if (old > 256 || (old > 0 && old * 2 > this.taken.length)) {
      this.taken.splice(0, old);
      this.takenSeq.splice(0, old);
      this.refusedAt = this.refusedAt.filter((t) => t >= keepFrom);
      if (this.startedAt.size > this.taken.length * 2) this.startedAt.clear();
    }
  }

  private reset(): void {
    this.taken = [];
    this.takenSeq = [];
    this.refusedAt = [];
    this.startedAt.clear();
    this.since = undefined;
    this.on = false;
    this.evidence = 0;
  }
}

/** Index of the first value after `t` in the ascending array `list`. */
function firstAfterIn(list: readonly number[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Inserts `t` into the ascending array `list`, after any equal values. */
function insertSorted(list: number[], t: number): void {
  list.splice(firstAfterIn(list, t), 0, t);
}
