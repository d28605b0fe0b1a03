/**
 * The one decision after a failed attempt (src/scheduler/failure-decision.ts), used by the embedded
 * executor and the Redis worker: classification + attempt + key facts -> later / other key / fail.
 * Table-driven over the kinds and key situations, with the real retry policy.
 */
import { describe, expect, it } from 'vitest';
import { retryPolicy } from '../../src/attempt/policy.js';
import type { Classification } from '../../src/classify/kinds.js';
import { decideAfterFailure, type FailureInput, type KeyFacts } from '../../src/scheduler/failure-decision.js';

const policy = retryPolicy({ default: { jitter: 'none' } });

const c = (kind: Classification['kind'], extra: Partial<Classification> = {}): Classification => ({ kind, retryable: false, message: `${kind} happened`, ...extra });

/** Two keys; the other one free now unless said otherwise. */
const keys = (o: Partial<KeyFacts> = {}): KeyFacts => ({ key: 'a', keyCount: 2, otherAvailableNow: true, otherMayReturn: true, ...o });
const ALONE = keys({ keyCount: 1, otherAvailableNow: false, otherMayReturn: false });
const OTHER_COOLING = keys({ otherAvailableNow: false });
const OTHER_DISABLED = keys({ otherAvailableNow: false, otherMayReturn: false });

type Expected = { action: 'later'; delayMs?: number } | { action: 'other-key'; waitForKey: boolean; charged: boolean } | { action: 'fail' };

const table: [string, Omit<FailureInput, 'keys'> & { keys?: KeyFacts }, Expected][] = [
  // rate limits: at once on another key when one is free (free for the first keyCount moves), else charged at the policy's time.
  ['429, other key free', { classification: c('rate_limited'), attempt: 1 }, { action: 'other-key', waitForKey: false, charged: false }],
  ['429, other key free, free moves used up', { classification: c('rate_limited'), attempt: 3, keyMoves: 2 }, { action: 'other-key', waitForKey: false, charged: true }],
  ['429, 5th attempt after 2 free moves: 3 charged, retried', { classification: c('rate_limited'), attempt: 5, keyMoves: 2, keys: OTHER_COOLING }, { action: 'later' }],
  ['429 on its 5th charged attempt, other key free: the policy is asked first', { classification: c('rate_limited'), attempt: 5, keyMoves: 0 }, { action: 'fail' }],
  ['429, other key cooling', { classification: c('rate_limited'), attempt: 1, keys: OTHER_COOLING }, { action: 'later', delayMs: 1000 }],
  ['429 with Retry-After, alone', { classification: c('rate_limited', { retryAfterMs: 7000 }), attempt: 1, keys: ALONE }, { action: 'later', delayMs: 7000 }],
  ['429, attempts exhausted', { classification: c('rate_limited'), attempt: 5 }, { action: 'fail' }],
  // a refused probe of a key that refuses everything is not charged, up to keyCount + FREE_PROBE_REFUSALS free moves.
  ['429 of a probe on its 5th attempt, alone: not charged, retried', { classification: c('rate_limited'), attempt: 5, keys: keys({ ...ALONE, probe: true }) }, { action: 'later', delayMs: 8000 }],
  ['429 of a probe, free moves and probes used up: charged', { classification: c('rate_limited'), attempt: 8, keyMoves: 3, keys: keys({ ...ALONE, probe: true }) }, { action: 'fail' }],
  ['429, failover off', { classification: c('rate_limited'), attempt: 1, keys: keys({ failover: false }) }, { action: 'later', delayMs: 1000 }],
  // quota: free move; waits for a key to come back unless billing with no other key.
  ['quota, other key free', { classification: c('quota_exhausted', { quotaScope: 'day' }), attempt: 1 }, { action: 'other-key', waitForKey: false, charged: false }],
  ['quota billing, other key free', { classification: c('quota_exhausted', { quotaScope: 'billing' }), attempt: 1 }, { action: 'other-key', waitForKey: false, charged: false }],
  ['quota per day, alone: waits for the reset', { classification: c('quota_exhausted', { quotaScope: 'day' }), attempt: 1, keys: ALONE }, { action: 'other-key', waitForKey: true, charged: false }],
  ['quota billing, alone', { classification: c('quota_exhausted', { quotaScope: 'billing' }), attempt: 1, keys: ALONE }, { action: 'fail' }],
  ['quota billing, other cooling', { classification: c('quota_exhausted', { quotaScope: 'billing' }), attempt: 1, keys: OTHER_COOLING }, { action: 'other-key', waitForKey: true, charged: false }],
  ['quota billing, other disabled', { classification: c('quota_exhausted', { quotaScope: 'billing' }), attempt: 1, keys: OTHER_DISABLED }, { action: 'fail' }],
  ['quota, free moves used up', { classification: c('quota_exhausted', { quotaScope: 'day' }), attempt: 3, keyMoves: 2 }, { action: 'fail' }],
  // auth: free move to another key; fails only when no key can take it.
  ['auth, other key free', { classification: c('auth', { status: 401 }), attempt: 1 }, { action: 'other-key', waitForKey: false, charged: false }],
  ['auth, other key cooling', { classification: c('auth', { status: 401 }), attempt: 1, keys: OTHER_COOLING }, { action: 'other-key', waitForKey: true, charged: false }],
  ['auth, other key disabled', { classification: c('auth', { status: 401 }), attempt: 2, keyMoves: 1, keys: OTHER_DISABLED }, { action: 'fail' }],
  ['auth, alone', { classification: c('auth', { status: 401 }), attempt: 1, keys: ALONE }, { action: 'fail' }],
  ['auth, failover off', { classification: c('auth', { status: 401 }), attempt: 1, keys: keys({ failover: false }) }, { action: 'fail' }],
  // item failures: the policy alone; another key does not help.
  ['503, other key free', { classification: c('overloaded', { status: 503 }), attempt: 1 }, { action: 'later', delayMs: 1000 }],
  ['400', { classification: c('invalid_request', { status: 400 }), attempt: 1 }, { action: 'fail' }],
  ['cancelled', { classification: c('cancelled'), attempt: 1 }, { action: 'fail' }],
  ['unknown', { classification: c('unknown'), attempt: 1 }, { action: 'fail' }],
];

describe('decideAfterFailure', () => {
  it.each(table)('%s', (_name, input, expected) => {
    const d = decideAfterFailure({ keys: keys(), ...input }, policy);
    expect(d).toMatchObject(expected);
  });

  it('a free key move is not charged: after a revoked key, a 503 still gets every retry of its policy', () => {
    const p = retryPolicy({ byKind: { overloaded: { attempts: 2, jitter: 'none' } } });
    const moved = decideAfterFailure({ classification: c('auth'), attempt: 1, keys: keys() }, p);
    expect(moved).toMatchObject({ action: 'other-key', charged: false, keyMoves: 1 });
    // Attempt 2 (on the good key) is the item's first charged attempt: one retry is left.
    const second = decideAfterFailure({ classification: c('overloaded'), attempt: 2, keyMoves: moved.keyMoves, keys: keys() }, p);
    expect(second).toMatchObject({ action: 'later', keyMoves: 1 });
    const third = decideAfterFailure({ classification: c('overloaded'), attempt: 3, keyMoves: 1, keys: keys() }, p);
    expect(third).toMatchObject({ action: 'fail', giveUp: 'exhausted' });
  });

  it('the free moves are bounded by the number of keys, so a loop of key failures ends', () => {
    let keyMoves = 0;
    let attempt = 0;
    let d;
    do {
      attempt++;
      d = decideAfterFailure({ classification: c('quota_exhausted', { quotaScope: 'minute' }), attempt, keyMoves, keys: keys({ keyCount: 3 }) }, policy);
      keyMoves = d.keyMoves;
    } while (d.action !== 'fail' && attempt < 100);
    expect(d.action).toBe('fail');
    expect(attempt).toBe(4);
  });

  it('passes the deadline, decorrelated jitter and the server reset to the policy (the Redis path gets the same inputs)', () => {
    const p = retryPolicy({ deadlineMs: 10_000, byKind: { overloaded: { attempts: 10, jitter: 'decorrelated' } } });
    const past = decideAfterFailure({ classification: c('overloaded'), attempt: 1, elapsedMs: 9_900, keys: keys() }, p);
    expect(past).toMatchObject({ action: 'fail', giveUp: 'deadline' });
    // Decorrelated: uniform in [base, 3 x previous]; random() = 0.999 gives about 3 x previous.
    const jittered = decideAfterFailure({ classification: c('overloaded'), attempt: 3, previousDelayMs: 2_000, random: () => 0.999, keys: keys() }, p);
    expect(jittered.action).toBe('later');
    expect(jittered.action === 'later' && jittered.delayMs).toBeGreaterThan(5_900);
    const reset = decideAfterFailure({ classification: c('rate_limited', { resetAt: 50_000 }), attempt: 1, now: 20_000, keys: OTHER_COOLING }, policy);
    expect(reset).toMatchObject({ action: 'later', delayMs: 30_000 });
  });

  it("a give-up carries the policy's giveUpMessage (presets), else the failure's message", () => {
    const p = retryPolicy({ giveUpMessage: (i) => `gave up (${i.reason}) after ${i.attempts}: ${i.classification.kind}` });
    expect(decideAfterFailure({ classification: c('invalid_request'), attempt: 1, keys: keys() }, p)).toMatchObject({ action: 'fail', message: 'gave up (not_retryable) after 1: invalid_request' });
    expect(decideAfterFailure({ classification: c('invalid_request'), attempt: 1, keys: keys() }, policy)).toMatchObject({ message: 'invalid_request happened' });
  });
});
