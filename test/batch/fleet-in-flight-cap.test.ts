/**
 * The fleet's learned concurrency cap without Redis (src/batch/redis/fleet-in-flight-cap.ts and the
 * rule it shares with one process, src/flow/learned-in-flight-cap.ts): the one rule decides the same
 * on the same counts whoever holds them; a worker counts the fleet's calls in flight at each of its
 * starts from the call logs, sends its outcomes by that count and proposes its learner's changes; every
 * answer's state is adopted. Virtual clock.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetInFlightCap, fleetLevels } from '../../src/batch/redis/fleet-in-flight-cap.js';
import { LearnedInFlightCap, inFlightSplit } from '../../src/flow/learned-in-flight-cap.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';

const RULE = { minShareAbove: 0.2, contrast: 4, minRefusedAbove: 3, minOutcomesBelow: 10 };

/** Counts from outcomes by level: [level, served, refused]. */
function counts(rows: [number, number, number][]): { ok: number[]; refused: number[] } {
  const ok: number[] = [];
  const refused: number[] = [];
  for (const [k, o, r] of rows) {
    ok[k] = o;
    refused[k] = r;
  }
  return { ok, refused };
}

/** A fleet-cap answer (fleet-cap.lua's entries) with `levels` as counts, cap `c`, version `v`, set `sinceMs` ago. */
function answer(levels: [number, number, number][], c: string, v: number, sinceMs = 0, refusedAgoMs = 0): string[] {
  const n = levels.reduce((s, [, o, r]) => s + o + r, 0);
  return [levels.map(([k, o, r]) => `${String(k)}:${String(o)}:${String(r)}`).join(';'), String(n), c, '', c === '' ? '' : '5000', c === '' ? '' : String(sinceMs), String(refusedAgoMs), String(v)];
}

describe('the split of refused calls from served ones (one rule)', () => {
  it('splits at the level above which calls are refused; none without contrast or without enough outcomes', () => {
    expect(inFlightSplit(counts([[1, 10, 0], [2, 10, 0], [3, 1, 6]]), RULE)).toBe(2);
    expect(inFlightSplit(counts([[1, 20, 2], [2, 20, 2], [3, 20, 2]]), RULE)).toBeUndefined();
    expect(inFlightSplit(counts([[1, 5, 0], [3, 0, 6]]), RULE)).toBeUndefined();
    expect(inFlightSplit(counts([[1, 10, 0], [3, 0, 2]]), RULE)).toBeUndefined();
  });

  it('a learner restored from another one\'s state and counts decides as that one does from then on', () => {
    const clock = new VirtualClock();
    const a = new LearnedInFlightCap();
    for (let i = 0; i < 12; i++) a.record(1 + (i % 2), false, clock.now());
    const b = new LearnedInFlightCap();
    b.restore(a.state(), a.counts());
    for (const learner of [a, b]) for (let i = 0; i < 4; i++) learner.record(3, true, clock.now() + 10);
    expect(a.cap(clock.now() + 10)).toBe(2);
    expect(b.state()).toEqual(a.state());
    // Both lift, and put back a refused lift, at the same times.
    for (const t of [5_009, 5_010, 5_200]) {
      if (t === 5_200) for (const learner of [a, b]) learner.record(3, true, t);
      expect(b.cap(t)).toBe(a.cap(t));
    }
    expect(a.cap(5_200)).toBe(2);
  });
});

describe('FleetInFlightCap', () => {
  it("counts a call's level from the others' call logs, not their last reports; sends each outcome once; proposes the cap its learner decides on the pooled counts", async () => {
    const clock = new VirtualClock();
    const cap = new FleetInFlightCap();
    const urgent: boolean[] = [];
    cap.onNews = (u) => urgent.push(u);
    // The others last reported 2 in flight; their log (sent just now) says one of those ended 15 ms ago.
    cap.answer(answer([], '', 0), 2, clock.now(), '0|30,15;10,');
    expect(cap.atStart(1)).toBe(3);
    const t0 = clock.now();
    for (let i = 0; i < 3; i++) cap.started(t0);
    cap.record(3, false, t0 + 20);
    cap.ended(t0, t0 + 20, 'served');
    cap.record(4, false, t0 + 20);
    cap.ended(t0, t0 + 20, 'served');
    cap.record(5, true, t0 + 20);
    cap.ended(t0, t0 + 20, 'refused');
    expect(urgent).toEqual([false, false, false, false, false, false]);
    // Counted in the order they started, each with the one other call in flight then.
    cap.count();
    const sent = cap.take();
    expect(sent.delta).toBe('2:1:0;3:1:0;4:0:1');
    expect(sent.proposal).toBe('');
    expect(cap.take().delta).toBe('');
    // A call started after the others' logs were sent waits for the next ones (at the latest 300 ms).
    await clock.advance(50);
    cap.started(clock.now());
    cap.ended(clock.now(), clock.now() + 10, 'served');
    cap.count();
    expect(cap.take().delta).toBe('');
    expect(cap.dueAt()).toBe(clock.now() + 300);
    await clock.advance(20);
    cap.answer(answer([], '', 0), 0, clock.now(), '0|60,45;40,5');
    expect(cap.take().delta).toBe('2:1:0');
    // The fleet's pooled counts (the others' too) make the split: the learner decides 2 and proposes it.
    cap.answer(answer([[1, 10, 0], [2, 10, 0], [3, 2, 3]], '', 0), 0, clock.now());
    expect(cap.cap(clock.now())).toBeUndefined();
    cap.record(3, true, clock.now());
    expect(urgent.at(-1)).toBe(true);
    expect(cap.cap(clock.now())).toBe(2);
    const proposed = cap.take();
    expect(proposed).toMatchObject({ seen: 0, proposal: '2::5000' });
    // The fleet took it (version 1): nothing more to propose.
    cap.answer(answer([[1, 10, 0], [2, 10, 0], [3, 2, 4]], '2', 1), 0, clock.now());
    expect(cap.pending).toBe(false);
    expect(cap.cap(clock.now())).toBe(2);
  });

  it("adopts the fleet's cap as every answer brings it; a change of its own made after its call was sent stays for the next", () => {
    const clock = new VirtualClock();
    const cap = new FleetInFlightCap();
    cap.answer(answer([[1, 10, 0], [2, 10, 0], [3, 1, 5]], '3', 4), 0, clock.now());
    expect(cap.cap(clock.now())).toBe(3);
    // Another worker's change (version 5) is adopted.
    cap.answer(answer([[1, 10, 0], [2, 10, 0], [3, 1, 6]], '2', 5), 0, clock.now());
    expect(cap.cap(clock.now())).toBe(2);
    expect(cap.pending).toBe(false);
    // A refusal above 1 with evidence for 1 here, while nobody changed the fleet's cap: kept until sent.
    cap.answer(answer([[1, 20, 0], [2, 1, 6], [3, 1, 6]], '2', 5), 0, clock.now());
    cap.record(2, true, clock.now());
    expect(cap.cap(clock.now())).toBe(1);
    cap.answer(answer([[1, 20, 0], [2, 1, 7], [3, 1, 6]], '2', 5), 0, clock.now());
    expect(cap.cap(clock.now())).toBe(1);
    expect(cap.take()).toMatchObject({ seen: 5, proposal: '1::5000' });
    // Refused by the fleet (another change came first, version 6): the fleet's stands.
    cap.answer(answer([[1, 20, 0], [2, 1, 7], [3, 1, 6]], '2', 6), 0, clock.now());
    expect(cap.cap(clock.now())).toBe(2);
  });

  it('a call that failed gives its outcomes back for the next', () => {
    const clock = new VirtualClock();
    const cap = new FleetInFlightCap();
    const t0 = clock.now();
    cap.started(t0);
    cap.started(t0);
    cap.ended(t0, t0 + 10, 'served');
    cap.count();
    const sent = cap.take();
    cap.ended(t0, t0 + 10, 'refused');
    cap.count();
    cap.restore(sent);
    expect(cap.take().delta).toBe('2:0:1;1:1:0');
  });
});

describe('fleetLevels', () => {
  /** The count call by call (quadratic): each own call, the own calls before it not ended, the others' in flight at its start. */
  function bruteForce(own: { start: number; end: number | undefined }[], others: [number, number][]): number[] {
    return own.map((c, i) => {
      let level = 1;
      for (const o of own.slice(0, i)) if (o.end === undefined || o.end > c.start) level++;
      for (const [start, end] of others) if (start <= c.start && end > c.start) level++;
      return level;
    });
  }

  // Times on a small range, so that starts and ends often fall on the same ms; own calls in any order
  // (the count goes by their order, not their starts), some in flight; others' in flight (Infinity),
  // of no length or ending before they start.
  const time = fc.integer({ min: 0, max: 40 });
  const ownCall = fc.record({ start: time, end: fc.option(time, { nil: undefined }) });
  const otherCall = fc.tuple(time, fc.oneof(time, fc.constant(Infinity)));

  it('counts what a brute-force count of every call against every other counts, on random logs', () => {
    fc.assert(
      fc.property(fc.array(ownCall, { maxLength: 60 }), fc.array(otherCall, { maxLength: 60 }), (own, others) => {
        expect(fleetLevels(own, others)).toEqual(bruteForce(own, others));
      }),
      { numRuns: 500 },
    );
  });

  it('counts a burst 1, 2, 3 in its order; a call that ended at a start is not in flight then; one that started then is', () => {
    const own = [{ start: 10, end: 20 }, { start: 10, end: undefined }, { start: 10, end: 12 }, { start: 20, end: 25 }];
    expect(fleetLevels(own, [[0, 10], [5, 11], [20, Infinity]])).toEqual([2, 3, 4, 3]);
  });
});
