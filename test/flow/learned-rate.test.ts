import { describe, expect, it } from 'vitest';
import { LearnedRate } from '../../src/flow/learned-rate.js';

const T0 = 1_767_225_600_000;

/** Rates per second (windowMs 1000), so the figures read as the server's requests per second. */
const perSecond = (): LearnedRate => new LearnedRate({ windowMs: 1_000 });

/** Starts at T0 + t for t from `fromMs` (included) to `toMs` (excluded) every `everyMs`, each answered with success `answerMs` later. */
function serve(lr: LearnedRate, fromMs: number, toMs: number, everyMs: number, answerMs: number): void {
  for (let t = fromMs; t < toMs; t += everyMs) {
    lr.count(T0 + t);
    lr.onSuccess(T0 + t, T0 + t + answerMs);
  }
}

describe('LearnedRate', () => {
  it('a guess made before any answer is checked four times as fast as a measured estimate', () => {
    const guessed = perSecond();
    // One start granted, refused at once by a leaky bucket: nothing answered yet, so the rate is a guess.
    guessed.count(T0);
    guessed.count(T0);
    expect(guessed.decrease(T0, undefined, undefined)).toBe(true);
    const guess = guessed.rate(T0)!;
    expect(guess).toBeGreaterThan(0);
    // A quarter of recoveryMs (2 s) later the guess is back at its estimate and climbing; a measured one is not yet.
    expect(guessed.rate(T0 + 1_000)!).toBeGreaterThan(guess * 1.5);

    const measured = perSecond();
    serve(measured, 0, 1_500, 50, 20);
    expect(measured.decrease(T0 + 1_500, undefined, undefined)).toBe(true);
    const estimate = measured.rate(T0 + 1_500)!;
    expect(measured.rate(T0 + 2_000)!).toBeLessThan(estimate / 0.95);
  });

  it('refused at its ceiling (the configured limit), the rate climbs back to 0.95 of it, and to the whole of it after a minute without such a refusal', () => {
    const lr = new LearnedRate({ windowMs: 60_000 });
    // 10/s served for 2 s: the key sends at its configured 600/min, and the server refuses one start.
    for (let t = 0; t < 2_000; t += 100) {
      lr.count(T0 + t);
      lr.onSuccess(T0 + t, T0 + t + 20);
    }
    expect(lr.decrease(T0 + 2_000, 600, 600)).toBe(true);
    // Back in 2 s, not to 600 (refused again at once by a server that takes exactly 600): to 570.
    expect(lr.rate(T0 + 10_000)).toBeCloseTo(570, 6);
    expect(lr.active()).toBe(true);
    // A minute without a refusal at the ceiling: the configured limit governs again.
    expect(lr.rate(T0 + 62_000)).toBeUndefined();
    // A refusal below the ceiling does not lower it: back to the whole 600.
    for (let t = 62_000; t < 64_000; t += 100) {
      lr.count(T0 + t);
      lr.onSuccess(T0 + t, T0 + t + 20);
    }
    expect(lr.decrease(T0 + 64_000, 500, 600)).toBe(true);
    expect(lr.rate(T0 + 80_000)).toBeUndefined();
  });

  it('a first estimate from under a second of answers is checked four times as fast; one from longer is not', () => {
    // The first 429s 0.8 s after the first start (connections opening, concurrency still climbing):
    // 10/s got through, and that is what was sent, not what the server takes.
    const early = perSecond();
    serve(early, 0, 800, 100, 100);
    expect(early.decrease(T0 + 800, undefined, undefined)).toBe(true);
    expect(early.snapshot()!.guessed).toBe(true);
    const cut = early.rate(T0 + 800)!;
    // Back at its estimate (cut / 0.95) after 0.5 s, not 2 s, and doubling every 0.5 s above it.
    expect(early.rate(T0 + 1_300)!).toBeCloseTo(cut / 0.95, 6);
    expect(early.rate(T0 + 1_800)!).toBeCloseTo((2 * cut) / 0.95, 6);

    // The same pace answered for 2 s: a measurement, climbing back over the full 2 s.
    const later = perSecond();
    serve(later, 0, 2_000, 100, 100);
    expect(later.decrease(T0 + 2_000, undefined, undefined)).toBe(true);
    expect(later.snapshot()!.guessed).toBe(false);
    const base = later.rate(T0 + 2_000)!;
    expect(later.rate(T0 + 2_500)!).toBeLessThan(base / 0.95);
    expect(later.rate(T0 + 4_000)!).toBeCloseTo(base / 0.95, 6);
  });

  it('the goodput of a later event counts from the previous decrease: a token bucket\'s saved burst does not inflate it', () => {
    const lr = perSecond();
    // A burst of 10 admitted at once (the bucket's saved tokens), then the server's real rate: 20/s.
    for (let i = 0; i < 10; i++) {
      lr.count(T0);
      lr.onSuccess(T0, T0 + 20);
    }
    expect(lr.decrease(T0 + 20, undefined, undefined)).toBe(true);
    serve(lr, 50, 450, 50, 20);
    const before = lr.rate(T0 + 440)!;
    expect(lr.decrease(T0 + 440, before, undefined, T0 + 430)).toBe(true);
    // 7 successes in the slots after the last decrease's (340 ms): about 20/s. The rate in force (the
    // first guess, far above) is trusted up to 1.5 times that, then cut to 0.95: under 31/s. Counting the
    // burst as well (18 in 440 ms) would have read 41/s and kept the rate at 39/s or more.
    expect(lr.rate(T0 + 440)!).toBeLessThan(31);
    expect(lr.rate(T0 + 440)!).toBeGreaterThan(12);
  });

  it('a rate in force that the traffic never reached is no evidence: the cut is from at most what was sent (a sliding log refusing at its limit)', () => {
    const lr = perSecond();
    // Two seconds of sending and success at 20/s, the server's limit.
    serve(lr, 0, 2_000, 50, 50);
    // The rate in force had climbed to 26/s, but calls went out at 20/s; one is refused.
    expect(lr.decrease(T0 + 2_000, 26, undefined, T0 + 1_990)).toBe(true);
    // 0.95 of about 20/s, not 0.95 of 0.95 x 26 (23.5/s), which left the rate above the limit.
    expect(lr.rate(T0 + 2_000)!).toBeLessThan(20);
    expect(lr.rate(T0 + 2_000)!).toBeGreaterThan(17);
  });

  it("a process that adopts another's congestion event has the same rate, and its own 429s of calls started before it are that event", () => {
    const a = perSecond();
    serve(a, 0, 1_500, 25, 20);
    expect(a.decrease(T0 + 1_500, undefined, undefined)).toBe(true);
    const event = a.snapshot()!;
    expect(event.at).toBe(T0 + 1_500);

    const b = perSecond();
    b.adopt(event, undefined);
    for (const t of [1_500, 2_000, 3_000, 3_400]) expect(b.rate(T0 + t)).toBeCloseTo(a.rate(T0 + t)!, 6);
    // A call started before the event, refused after it: no second decrease.
    expect(b.decrease(T0 + 1_550, b.rate(T0 + 1_550), undefined, T0 + 1_490)).toBe(false);
    // No success since the event: a refusal of a later call is still the same congestion.
    expect(b.decrease(T0 + 1_600, b.rate(T0 + 1_600), undefined, T0 + 1_560)).toBe(false);
    expect(b.rate(T0 + 1_600)).toBeCloseTo(a.rate(T0 + 1_600)!, 6);
  });

  it("successes counted for other processes enter the goodput a decrease is cut from", () => {
    const alone = perSecond();
    const fleet = perSecond();
    for (let t = 0; t < 1_000; t += 40) {
      for (const lr of [alone, fleet]) {
        lr.count(T0 + t);
        lr.onSuccess(T0 + t, T0 + t + 20);
      }
      // Three other processes did as much in the same time.
      fleet.count(T0 + t + 20, 3);
      fleet.onSuccess(T0 + t + 20, T0 + t + 20, 3);
    }
    expect(alone.decrease(T0 + 1_000, undefined, undefined)).toBe(true);
    expect(fleet.decrease(T0 + 1_000, undefined, undefined)).toBe(true);
    // Four times the goodput, give or take the last slot (the others' successes are counted 20 ms later).
    const ratio = fleet.rate(T0 + 1_000)! / alone.rate(T0 + 1_000)!;
    expect(ratio).toBeGreaterThan(3.6);
    expect(ratio).toBeLessThan(4.2);
  });

  it('a refusal that outlasts the cooldowns (a fixed window) paces the key at once at its cycle\'s average, and the probe above it climbs eight times slower', () => {
    const lr = perSecond();
    // A fixed window of 100 per 5 s, burst through in its first second (one start every 9 ms).
    serve(lr, 0, 900, 9, 50);
    // The first 429: an ordinary decrease, from the burst's goodput (about 100/s).
    expect(lr.decrease(T0 + 950, undefined, undefined, T0 + 900)).toBe(true);
    const burst = lr.rate(T0 + 950)!;
    expect(burst).toBeGreaterThan(60);
    // The window refuses every probe until it turns at 5 s: the same congestion, no new decrease.
    for (const at of [1_050, 1_250, 1_650, 2_450, 3_450, 4_450]) expect(lr.decrease(T0 + at + 50, lr.rate(T0 + at), undefined, T0 + at)).toBe(false);
    // Still the burst's climb, far above the window's average: no pacing before the refusal ends.
    expect(lr.paceAfterRefusal(T0 + 4_600, T0 + 4_600, lr.rate(T0 + 4_600), undefined)).toBe(false);
    // A probe started at 5 450 is served: the window turned between 4 450 and 5 450, taken early in
    // that gap, at 4 700 (a pace too fast is corrected by the next 429).
    lr.count(T0 + 5_450);
    lr.onSuccess(T0 + 5_450, T0 + 5_500);
    expect(lr.paceAfterRefusal(T0 + 5_500, T0 + 5_450, lr.rate(T0 + 5_500), undefined)).toBe(true);
    // 101 served over a cycle of 4.7 s: 21.5/s, and 0.95 of it now (20.4/s), far below the burst's climb.
    const paced = lr.rate(T0 + 5_500)!;
    expect(paced).toBeCloseTo(0.95 * (101 / 4.7), 1);
    expect(lr.snapshot()!.windowed).toBe(true);
    // Back at the average after recoveryMs (2 s); 2 s beyond, 2^(1/8) above it, where an ordinary event doubles.
    expect(lr.rate(T0 + 9_500)!).toBeCloseTo((paced / 0.95) * 2 ** (1 / 8), 3);
    // Once paced, the next success is no new refusal's end.
    lr.onSuccess(T0 + 5_600, T0 + 5_650);
    expect(lr.paceAfterRefusal(T0 + 5_650, T0 + 5_600, lr.rate(T0 + 5_650), undefined)).toBe(false);
  });

  it('a refusal short against its cycle (a sliding log that counts refused calls) is not paced at the cycle\'s average, but the key keeps the slow climb', () => {
    const lr = perSecond();
    // Five seconds at 20/s (a cycle spent below the limit as much as at it), then a 429: an ordinary decrease.
    serve(lr, 0, 5_000, 50, 50);
    expect(lr.decrease(T0 + 5_000, 21, undefined, T0 + 4_990)).toBe(true);
    const cut = lr.rate(T0 + 5_000)!;
    // The first probe is refused too (the refused call still fills the log); the next is served.
    expect(lr.decrease(T0 + 5_100, cut, undefined, T0 + 5_050)).toBe(false);
    lr.count(T0 + 5_250);
    lr.onSuccess(T0 + 5_250, T0 + 5_300);
    // 0.1 s of refusal in a cycle of 5 s: the ordinary cut stands (the cycle's average, 0.95 x 19.8/s, would pace it lower).
    expect(lr.paceAfterRefusal(T0 + 5_300, T0 + 5_250, lr.rate(T0 + 5_300), undefined)).toBe(false);
    expect(lr.rate(T0 + 5_300)!).toBeGreaterThanOrEqual(cut);
    // Its refusals outlast a cooldown: above the estimate it climbs four times slower, as after a window.
    expect(lr.snapshot()!.windowed).toBe(true);
    const estimate = lr.snapshot()!.max;
    expect(lr.rate(T0 + 9_000)!).toBeLessThan(estimate * 1.25);
    // One refusal, one verdict: the next success is no refusal's end.
    expect(lr.refusalEnded()).toBe(false);
  });

  it('a first 429 after fewer than four answers is a guess from the starts not refused, not a rate measured from them (a probe answer reused as the first item\'s)', () => {
    const lr = perSecond();
    // One call answered at once, then four in flight (20 ms later); one of them refused.
    lr.count(T0);
    lr.onSuccess(T0, T0);
    lr.count(T0 + 20, 4);
    expect(lr.decrease(T0 + 30, undefined, undefined, T0 + 20)).toBe(true);
    const event = lr.snapshot()!;
    expect(event.guessed).toBe(true);
    // Four starts not refused in the first 100 ms: 40/s, 0.95 of it; one success over a slot read 6-10/s.
    expect(event.base).toBeCloseTo(0.95 * 40, 5);
  });

  it('a 429 always lowers the rate in force by at least beta, even when the goodput read above it (a token bucket\'s refill of the cooldown in a short span)', () => {
    const lr = perSecond();
    // A second in which 25/s got through, while the rate in force was 22/s: a 429 says 22/s is too fast.
    serve(lr, 0, 1_000, 40, 20);
    expect(lr.decrease(T0 + 1_000, 22, undefined, T0 + 990)).toBe(true);
    // 0.95 of 22/s, not 0.95 of the goodput (23.75/s) capped back to the 22/s in force.
    expect(lr.rate(T0 + 1_000)!).toBeCloseTo(0.95 * 22, 5);
    expect(lr.snapshot()!.max).toBeLessThanOrEqual(22);
  });

  it('a decrease soon after the last one, with too few successes since, is cut from the last second, not from one slot', () => {
    const lr = perSecond();
    // A second at 20/s, answered in 50 ms, then a 429: the first decrease.
    serve(lr, 0, 1_000, 50, 50);
    expect(lr.decrease(T0 + 1_000, 30, undefined, T0 + 990)).toBe(true);
    // 20/s goes on; 160 ms later another refusal, with one success started since the decrease's slot.
    serve(lr, 1_050, 1_150, 50, 50);
    expect(lr.decrease(T0 + 1_160, lr.rate(T0 + 1_160), undefined, T0 + 1_150)).toBe(true);
    // The last second says 20/s: cut to about 19/s. The slot after the decrease alone read 10/s.
    expect(lr.rate(T0 + 1_160)!).toBeGreaterThan(17.5);
  });
  it('a later decrease is cut from what got through since the oldest recent event, not from the last second, which also drains what a token bucket saved', () => {
    const lr = perSecond();
    serve(lr, 0, 1_000, 50, 20);
    expect(lr.decrease(T0 + 1_000, 22, undefined, T0 + 990)).toBe(true);
    // Paced just under a bucket of 20/s for a second (it saves a token), then a second just over it
    // (it spends the token), and refused: the bucket let through 20/s between the two refusals.
    serve(lr, 1_000, 2_000, 1_000 / 19, 20);
    serve(lr, 2_000, 3_000, 1_000 / 21, 20);
    expect(lr.decrease(T0 + 3_000, 21, undefined, T0 + 2_990)).toBe(true);
    // About 0.95 of 20.3/s. Read over the last second (21/s) the cut landed at 19.95/s, the limit
    // itself, and its estimate (where the climb back flattens) above it.
    expect(lr.rate(T0 + 3_000)!).toBeLessThan(19.6);
    expect(lr.rate(T0 + 3_000)!).toBeGreaterThan(18.5);
    expect(lr.snapshot()!.max).toBeLessThan(20.6);
  });
});
