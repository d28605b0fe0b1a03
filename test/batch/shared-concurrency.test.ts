/**
 * One worker's side of the fleet's concurrency limit (src/batch/redis/shared-concurrency.ts), without
 * Redis: what its lease calls carry and what it adopts from their answers, on the virtual clock
 * (the fleet's side, lease.lua, is test/redis/fleet-concurrency.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrency, type ConcurrencyChange } from '../../src/flow/adaptive-concurrency.js';
import { FleetConcurrency } from '../../src/batch/redis/shared-concurrency.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';

function setup() {
  const clock = new VirtualClock();
  const limit = new AdaptiveConcurrency({ clock, initial: 8, max: 16 });
  const changes: ConcurrencyChange[] = [];
  limit.events.on('change', (c) => changes.push(c));
  const fleet = new FleetConcurrency(limit);
  let proposals = 0;
  fleet.onProposal = () => proposals++;
  return { clock, limit, fleet, changes, proposals: () => proposals };
}

/** An answer's entries: limit, seq, slow start, workers, share. */
const answer = (limit: number, seq: number, slowStart: 0 | 1, workers: number, share: number): unknown[] => [limit, seq, slowStart, workers, share];

/** A window of 20 overloads, a window after the last step: a clear sign of load, so it halves. */
async function overload(clock: VirtualClock, limit: AdaptiveConcurrency): Promise<void> {
  await clock.advance(1_000);
  for (let i = 0; i < 20; i++) limit.recordFailure('overloaded');
}

describe('FleetConcurrency', () => {
  it('reports its bounds and initial; adopts its share of the fleet limit, saying why', () => {
    const { limit, fleet, changes } = setup();
    expect(fleet.args(false)).toEqual({ args: [0, '', '', 1, 16, 8, ''], sent: undefined });
    fleet.answer(answer(8, 0, 1, 2, 4));
    expect(limit.limit).toBe(4);
    expect(changes).toEqual([{ from: 8, to: 4, reason: "the fleet's limit: 8 in flight over 2 workers" }]);
    expect(fleet.args(true).args.at(-1)).toBe('1');
  });

  it('proposes its own step with the fleet step it judged; an answer to an earlier call does not undo it; the fleet answer settles it', async () => {
    const { clock, limit, fleet, proposals } = setup();
    fleet.answer(answer(8, 3, 1, 2, 4));
    await overload(clock, limit);
    expect(limit.limit).toBe(2);
    expect(proposals()).toBe(1);
    expect(fleet.pending).toBe(true);
    // The answer of a call sent before the step (same fleet step): the step stands.
    fleet.answer(answer(8, 3, 1, 2, 4));
    expect(limit.limit).toBe(2);
    const { args, sent } = fleet.args(false);
    expect(args.slice(0, 3)).toEqual([3, 4, 2]);
    // The call failed: the step goes with the next one.
    fleet.restore(sent);
    expect(fleet.args(false).args.slice(0, 3)).toEqual([3, 4, 2]);
    // Refused (another worker's step came first, to a limit whose share here is 3): the fleet's is taken.
    fleet.answer(answer(6, 4, 0, 2, 3));
    expect(limit.limit).toBe(3);
    expect(fleet.pending).toBe(false);
  });

  it("a step not sent yet is dropped when the fleet stepped since (it judged the fleet's old limit)", async () => {
    const { clock, limit, fleet } = setup();
    fleet.answer(answer(8, 1, 1, 2, 4));
    await overload(clock, limit);
    expect(fleet.pending).toBe(true);
    fleet.answer(answer(4, 2, 0, 2, 2));
    expect(fleet.pending).toBe(false);
    expect(limit.limit).toBe(2);
    expect(fleet.args(false).args.slice(0, 3)).toEqual([2, '', '']);
  });
});
