/**
 * What happens to a job after one of its attempts failed: ONE pure function, used by the embedded
 * executor and by the Redis worker alike, so that the two cannot drift (issue 12). It joins the two
 * halves of the decision (the AWS SDK splits them the same way: a retry strategy decides, the glue
 * around it waits and re-sends):
 *
 * - the item's side: the retry policy (`RetryPolicy.decide`: kind, attempts, backoff, jitter,
 *   deadline, the server's wait);
 * - the key's side: whether another key can take the job now, or later, or never.
 *
 * The answer is one of three:
 * - `later`: run again, on whichever key is free then, not before `delayMs` from now;
 * - `other-key`: run again as soon as a key can take it, at the head of the queue (another key now,
 *   or, with `waitForKey`, the first key that comes back);
 * - `fail`: give the job up with this failure's kind.
 *
 * Key failures move work. `auth` (the key is disabled) and `quota_exhausted` (the key is parked) say
 * nothing about the item, only about the key, so the job goes to another key at once and the move is
 * NOT charged to the item's retry budget: an item that met a revoked key and then one 503 still gets
 * its configured retries. The attempt still counts as an attempt made (it was a real request: events,
 * the store's attempt count and the report show it), and the free moves are bounded by the number of
 * keys, so the retry loop still ends: each such failure takes its key out of service, and after
 * `keyCount` free moves the policy's own verdict applies. The item fails with that kind only when no
 * key can take it (every other key disabled; for a billing quota, also this key).
 *
 * `rate_limited` differs: a 429 is the item's business too (its policy says how many 429s an item
 * tolerates: `attempts`), so a 429 with no other key free is charged like any retry and waits its time.
 * A move at once to another free key is free, like a key failure's and within the same `keyCount` bound:
 * it costs the item no time, and charging it let one item collect the refusals of a whole fleet whose
 * fixed windows close together (bench `BENCH=limiters`, fixed-window blind with 3 keys: one item of
 * 1,200 lost its 5 attempts in 6 s, moving between two exhausted keys). The policy is asked first, so a
 * policy that does not retry 429s is obeyed.
 *
 * A refused probe is free too, up to {@link FREE_PROBE_REFUSALS} per item: while a key refuses
 * everything (a blind fixed window until its end), one call at a time tests it, and whichever item that
 * is says nothing about itself. Charging it lost the item that happened to be ready at each probe (bench
 * fixed-window-ietf/blind: one of 400 given up after 5 refusals in 7 s, three of them probes).
 */
import type { Classification } from '../classify/kinds.js';
import type { GiveUpReason } from '../attempt/policy.js';
import type { SchedulerPolicy } from './ports.js';

/** The retry policy, as far as the failure decision needs it (`RetryPolicy` fits). */
export type FailurePolicy = Pick<SchedulerPolicy, 'decide' | 'giveUpMessage'>;

/** What the caller knows about the keys at the moment of the decision (after the pool took the failure in). */
export interface KeyFacts {
  /** The key the attempt failed on (name only). */
  key: string;
  /** Keys in the pool. */
  keyCount: number;
  /** Some other key can start work now (active and not paused by its quota). */
  otherAvailableNow: boolean;
  /** Some other key is not disabled: it may take work now or when its cooldown / park ends. */
  otherMayReturn: boolean;
  /** Move jobs to another key after key-scoped failures. Default true (`failover` option). */
  failover?: boolean;
  /** The refused attempt was the key's probe (`KeyFailureEffect.probe`): a key that refuses everything was tested with it. */
  probe?: boolean;
}

/** Input of {@link decideAfterFailure}. */
export interface FailureInput {
  classification: Classification;
  /** 1-based number of the attempt that just failed (attempts made, free moves included). */
  attempt: number;
  /** Earlier moves of this job to another key that were not charged (see {@link FailureDecision}'s `keyMoves`). Default 0. */
  keyMoves?: number;
  /** The delay used before the failed attempt (decorrelated jitter starts from it). */
  previousDelayMs?: number;
  /** Time since the job's first attempt (or submission), ms: checked against the policy's deadline. */
  elapsedMs?: number;
  /** Now, ms since epoch (a `resetAt` in the classification then counts as the server's wait). */
  now?: number;
  /** Random source of the jitter (tests pin it). */
  random?: () => number;
  keys: KeyFacts;
}

/** The decision. Every variant says how many attempts the kind allows (`attempts`, the policy's bound) and why, for events and logs. */
export type FailureDecision =
  | { action: 'later'; delayMs: number; reason: string; attempts: number; keyMoves: number }
  | { action: 'other-key'; waitForKey: boolean; charged: boolean; reason: string; attempts: number; keyMoves: number }
  | { action: 'fail'; reason: string; attempts: number; giveUp: GiveUpReason; keyMoves: number; /** The give-up message (the policy's `giveUpMessage`, else the failure's). */ message: string };

/**
 * Probe refusals an item may take without charge, beyond the `keyCount` free moves. Bounded, so a key
 * that refuses for ever still ends its items (after `attempts` + this many refusals).
 */
export const FREE_PROBE_REFUSALS = 2;

/** Kinds that condemn the key, not the item: moved to another key for free. */
const KEY_FAILURES = new Set(['auth', 'quota_exhausted']);

/**
 * Decides what happens after a failed attempt (pure: same input, same answer; `random` pins the jitter).
 *
 * ```ts
 * const d = decideAfterFailure({ classification, attempt: 2, keys: { key: 'a', keyCount: 2, otherAvailableNow: true, otherMayReturn: true } }, policy);
 * if (d.action === 'other-key') queue.pushFront(job);
 * ```
 */
export function decideAfterFailure(input: FailureInput, policy: FailurePolicy): FailureDecision {
  const c = input.classification;
  const keys = input.keys;
  const keyMoves = input.keyMoves ?? 0;
  // A refused probe (see above) is not charged, so the policy decides as if it had not been made.
  const freeProbe = c.kind === 'rate_limited' && keys.probe === true && keyMoves < keys.keyCount + FREE_PROBE_REFUSALS;
  // The policy counts only the attempts charged to the item (free key moves and probes excluded).
  const charged = Math.max(1, input.attempt - keyMoves - (freeProbe ? 1 : 0));
  const d = policy.decide({
    classification: c,
    attempt: charged,
    ...(input.previousDelayMs !== undefined ? { previousDelayMs: input.previousDelayMs } : {}),
    ...(input.elapsedMs !== undefined ? { elapsedMs: input.elapsedMs } : {}),
    ...(input.now !== undefined ? { now: input.now } : {}),
    ...(input.random ? { random: input.random } : {}),
  });
  const fail = (reason = d.reason): FailureDecision => {
    const giveUp = (d.giveUp ?? 'not_retryable') as GiveUpReason;
    const message = policy.giveUpMessage ? policy.giveUpMessage({ reason: giveUp, classification: c, attempts: input.attempt }) : c.message;
    return { action: 'fail', reason, attempts: d.attempts, giveUp, keyMoves, message };
  };
  if (c.kind === 'cancelled') return fail();
  const failover = keys.failover !== false && keys.keyCount > 1;

  if (KEY_FAILURES.has(c.kind) && keyMoves < keys.keyCount) {
    const free = { charged: false, attempts: d.attempts, keyMoves: keyMoves + 1 } as const;
    if (failover && keys.otherAvailableNow) {
      return { action: 'other-key', waitForKey: false, ...free, reason: `${c.kind} on ${keys.key}: at once on another key (not counted against the retry budget)` };
    }
    // No key free now: wait for the first to come back, when one can. A parked key returns at its reset
    // (the quota story's "pause when every key is parked, resume at the reset"); a billing quota and a
    // disabled key do not.
    const thisKeyReturns = c.kind === 'quota_exhausted' && c.quotaScope !== 'billing';
    if ((failover && keys.otherMayReturn) || thisKeyReturns) {
      return { action: 'other-key', waitForKey: true, ...free, reason: `${c.kind} on ${keys.key}: waiting for a key to return` };
    }
    if (!d.retry) return fail(`${c.kind} on ${keys.key}: no key can take it`);
  }
  if (!d.retry) return fail();
  if (failover && c.kind === 'rate_limited' && keys.otherAvailableNow) {
    // The move costs the item no time, so the first `keyCount` of them are free; later ones are charged.
    if (keyMoves < keys.keyCount) {
      return { action: 'other-key', waitForKey: false, charged: false, reason: `rate_limited on ${keys.key}: at once on another key (not counted against the retry budget)`, attempts: d.attempts, keyMoves: keyMoves + 1 };
    }
    return { action: 'other-key', waitForKey: false, charged: true, reason: `rate_limited on ${keys.key}: at once on another key`, attempts: d.attempts, keyMoves };
  }
  if (freeProbe) {
    return { action: 'later', delayMs: d.delayMs, reason: `rate_limited on ${keys.key}: the key's probe was refused; retry in ${Math.round(d.delayMs)}ms (not counted against the retry budget)`, attempts: d.attempts, keyMoves: keyMoves + 1 };
  }
  // A key failure whose free moves are used up, with a policy that retries it (e.g. quota-plan): charged, at its time.
  return { action: 'later', delayMs: d.delayMs, reason: d.reason, attempts: d.attempts, keyMoves };
}
