import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import type { ErrorKind } from '../../src/classify/kinds.js';
import { TypedEmitter } from '../../src/observe/typed-emitter.js';
import { retryPolicy } from '../../src/attempt/policy.js';
import { retry } from '../../src/attempt/retry.js';
import { RetryError } from '../../src/attempt/retry-error.js';
import { CircuitBreaker } from '../../src/attempt/circuit-breaker.js';
import type { GiveUpEvent, RetryEvent, RetryEvents } from '../../src/attempt/events.js';

const fail = (kind: ErrorKind, extra: { retryAfterMs?: number; message?: string } = {}): SluiceError =>
  new SluiceError({ kind, retryable: true, message: extra.message ?? `${kind} failure`, ...(extra.retryAfterMs ? { retryAfterMs: extra.retryAfterMs } : {}) });

const exact = retryPolicy({
  default: { attempts: 3, backoff: { type: 'exponential', initialMs: 1000, factor: 2, maxMs: 4000 }, jitter: 'none' },
});

/** A function failing with the given errors in turn, then returning 'ok'; records the virtual time of each attempt. */
function script(clock: VirtualClock, errors: unknown[]) {
  const calls: { attempt: number; at: number }[] = [];
  const fn = async ({ attempt }: { attempt: number }): Promise<string> => {
    calls.push({ attempt, at: clock.now() });
    const err = errors.shift();
    if (err !== undefined) throw err;
    return 'ok';
  };
  return { fn, calls };
}

describe('retry', () => {
  it('returns at once on success without touching the clock', async () => {
    const clock = new VirtualClock();
    const successes: number[] = [];
    const v = await retry(() => 42, exact, { clock, hooks: { onSuccess: (e) => successes.push(e.attempt) } });
    expect(v).toBe(42);
    expect(successes).toEqual([1]);
    expect(clock.pendingCount).toBe(0);
  });

  it('retries with the policy delays and reports each retry', async () => {
    const clock = new VirtualClock();
    const t0 = clock.now();
    const { fn, calls } = script(clock, [fail('network'), fail('timeout')]);
    const retries: RetryEvent[] = [];
    const value = await clock.run(retry(fn, exact, { clock, label: 'job', hooks: { onRetry: (e) => retries.push(e) } }));
    expect(value).toBe('ok');
    expect(calls.map((c) => c.at - t0)).toEqual([0, 1000, 3000]);
    expect(retries.map((r) => [r.attempt, r.attempts, r.delayMs, r.classification.kind])).toEqual([
      [1, 3, 1000, 'network'],
      [2, 3, 2000, 'timeout'],
    ]);
    expect(clock.pendingCount).toBe(0);
  });

  it('gives up after the attempt limit with a RetryError carrying cause and history', async () => {
    const clock = new VirtualClock();
    const last = fail('server_error', { message: 'boom 3' });
    const { fn, calls } = script(clock, [fail('network'), fail('overloaded'), last]);
    const giveUps: GiveUpEvent[] = [];
    const p = retry(fn, exact, { clock, label: 'job 7', hooks: { onGiveUp: (e) => giveUps.push(e) } });
    const err = await clock.run(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    const re = err as RetryError;
    expect(re.cause).toBe(last);
    expect(re.attempts).toBe(3);
    expect(re.reason).toBe('exhausted');
    expect(re.kind).toBe('server_error');
    expect(re.message).toBe('job 7 failed after 3 attempts: server_error: boom 3');
    expect(re.history.map((h) => [h.attempt, h.kind, h.delayMs])).toEqual([
      [1, 'network', 1000],
      [2, 'overloaded', 2000],
      [3, 'server_error', 0],
    ]);
    expect(calls).toHaveLength(3);
    expect(giveUps).toHaveLength(1);
    expect(giveUps[0]).toMatchObject({ label: 'job 7', attempt: 3, attempts: 3, reason: 'exhausted' });
  });

  it('does not retry a non-retryable kind', async () => {
    const clock = new VirtualClock();
    const { fn, calls } = script(clock, [fail('not_found')]);
    const giveUps: GiveUpEvent[] = [];
    const r = await clock.run(retry(fn, exact, { clock, mode: 'result', hooks: { onGiveUp: (e) => giveUps.push(e) } }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe('not_retryable');
      expect(r.attempts).toBe(1);
      expect(r.error.message).toMatch(/non-retryable not_found/);
    }
    expect(calls).toHaveLength(1);
    // The event tells the attempt made (1) from the bound of its kind (3): the result counts attempts made.
    expect(giveUps.map((e) => [e.attempt, e.attempts, e.reason])).toEqual([[1, 3, 'not_retryable']]);
  });

  it('result mode resolves ok with the attempts used', async () => {
    const clock = new VirtualClock();
    const { fn } = script(clock, [fail('network')]);
    const r = await clock.run(retry(fn, exact, { clock, mode: 'result' }));
    expect(r).toMatchObject({ ok: true, value: 'ok', attempts: 2 });
  });

  it('honours the server wait when it is longer than the backoff', async () => {
    const clock = new VirtualClock();
    const t0 = clock.now();
    const { fn, calls } = script(clock, [fail('rate_limited', { retryAfterMs: 20_000 })]);
    await clock.run(retry(fn, exact, { clock }));
    expect(calls.map((c) => c.at - t0)).toEqual([0, 20_000]);
  });

  it('a parent abort during a sleep stops at once: AbortError, no further attempt, no timer left', async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    const { fn, calls } = script(clock, [fail('network'), fail('network')]);
    const p = retry(fn, exact, { clock, signal: controller.signal });
    const caught = p.catch((e: unknown) => e);
    await clock.advance(500); // first attempt failed, sleeping 1000 ms
    expect(clock.pendingCount).toBe(1);
    controller.abort();
    const err = (await caught) as Error;
    expect(err.name).toBe('AbortError');
    expect(calls).toHaveLength(1);
    expect(clock.pendingCount).toBe(0);
    await clock.advance(10_000);
    expect(calls).toHaveLength(1);
  });

  it('a parent abort during an attempt aborts its signal and settles even if fn ignores it', async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    let attemptSignal: AbortSignal | undefined;
    const p = retry(
      ({ signal }) => {
        attemptSignal = signal;
        return new Promise<never>(() => undefined); // never settles, ignores the signal
      },
      exact,
      { clock, signal: controller.signal, mode: 'result' },
    );
    await clock.advance(0);
    controller.abort();
    const r = await p;
    expect(attemptSignal?.aborted).toBe(true);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe('cancelled');
      expect(r.error.name).toBe('AbortError');
    }
    expect(clock.pendingCount).toBe(0);
  });

  it('many loops waiting on one caller signal add a single listener to it, and all stop on abort', async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    const loops = Array.from({ length: 50 }, () =>
      retry(
        () => {
          throw fail('network');
        },
        exact,
        { clock, signal: controller.signal, mode: 'result' },
      ),
    );
    await clock.advance(0);
    expect(clock.pendingCount).toBe(50);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    const results = await Promise.all(loops);
    expect(results.every((r) => !r.ok && r.reason === 'cancelled')).toBe(true);
    expect(clock.pendingCount).toBe(0);
  });

  it('an already aborted signal makes no attempt', async () => {
    const controller = new AbortController();
    controller.abort();
    let calls = 0;
    const giveUps: GiveUpEvent[] = [];
    const hooks = { onGiveUp: (e: GiveUpEvent) => giveUps.push(e) };
    await expect(retry(() => ++calls, exact, { signal: controller.signal, hooks })).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(0);
    // No attempt, no decision: attempt 0, and the bound is the give-up kind's own (the policy's default 3).
    expect(giveUps.map((e) => [e.attempt, e.attempts, e.reason])).toEqual([[0, 3, 'cancelled']]);
  });

  it('a per-attempt timeout aborts the attempt signal and counts as timeout', async () => {
    const clock = new VirtualClock();
    const t0 = clock.now();
    const policy = retryPolicy({ default: { attempts: 2, backoff: { type: 'constant', delayMs: 1000 }, jitter: 'none' }, timeoutMs: 5000 });
    const signals: AbortSignal[] = [];
    const starts: number[] = [];
    const p = retry(
      ({ signal, attempt }) => {
        signals.push(signal);
        starts.push(clock.now() - t0);
        return attempt === 1 ? new Promise<string>(() => undefined) : 'second';
      },
      policy,
      { clock },
    );
    expect(await clock.run(p)).toBe('second');
    expect(starts).toEqual([0, 6000]);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[1]?.aborted).toBe(false);
    expect(clock.pendingCount).toBe(0);
  });

  it('never sleeps past the deadline', async () => {
    const clock = new VirtualClock();
    const policy = retryPolicy({ default: { attempts: 10, backoff: { type: 'constant', delayMs: 4000 }, jitter: 'none' }, deadlineMs: 10_000 });
    const { fn, calls } = script(clock, Array.from({ length: 10 }, () => fail('network')));
    const r = await clock.run(retry(fn, policy, { clock, mode: 'result' }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe('deadline');
    expect(calls.length).toBe(3); // t=0, 4000, 8000; a sleep to 12000 would pass 10000
    expect(clock.pendingCount).toBe(0);
  });

  it('keeps counts per call across concurrent loops', async () => {
    const clock = new VirtualClock();
    const a = script(clock, [fail('network'), fail('network')]);
    const b = script(clock, []);
    const [ra, rb] = await clock.run(
      Promise.all([retry(a.fn, exact, { clock, mode: 'result' }), retry(b.fn, exact, { clock, mode: 'result' })]),
    );
    expect(ra.attempts).toBe(3);
    expect(rb.attempts).toBe(1);
  });

  it('emits typed events', async () => {
    const clock = new VirtualClock();
    const events = new TypedEmitter<RetryEvents>();
    const seen: string[] = [];
    events.onAny((type) => seen.push(String(type)));
    const { fn } = script(clock, [fail('network')]);
    await clock.run(retry(fn, exact, { clock, events }));
    expect(seen).toEqual(['attempt', 'retry', 'attempt', 'success']);
  });

  it('rejects a result refused by the policy validator as its classification says', async () => {
    const clock = new VirtualClock();
    const policy = retryPolicy({
      validate: (v) => {
        if (v === '') throw new SluiceError({ kind: 'invalid_request', retryable: false, code: 'EMPTY_RESULT', message: 'empty result' });
      },
    });
    const r = await clock.run(retry(() => '', policy, { clock, mode: 'result' }));
    expect(r).toMatchObject({ ok: false, attempts: 1, reason: 'not_retryable' });
  });

  it('classifies plain errors: unknown fails at once, socket errors are retried', async () => {
    const clock = new VirtualClock();
    const unknown = script(clock, [new Error('weird')]);
    const r1 = await clock.run(retry(unknown.fn, exact, { clock, mode: 'result' }));
    expect(r1).toMatchObject({ ok: false, attempts: 1 });
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const net = script(clock, [reset]);
    expect(await clock.run(retry(net.fn, exact, { clock }))).toBe('ok');
  });

  it('stops when the breaker is open and records outcomes in it', async () => {
    const clock = new VirtualClock();
    const breaker = new CircuitBreaker({ clock, strategy: { type: 'consecutive', failures: 2 }, breakDurationMs: 60_000 });
    const { fn, calls } = script(clock, [fail('network'), fail('network'), fail('network')]);
    const giveUps: GiveUpEvent[] = [];
    const r = await clock.run(retry(fn, exact, { clock, breaker, mode: 'result', hooks: { onGiveUp: (e) => giveUps.push(e) } }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe('circuit_open');
      expect(r.error.message).toMatch(/half-opens at/);
    }
    expect(calls).toHaveLength(2);
    // No decision ended the loop: the bound is the last failure's (network, 3), the last attempt made the 2nd.
    expect(giveUps.map((e) => [e.attempt, e.attempts, e.reason])).toEqual([[2, 3, 'circuit_open']]);
    expect(breaker.state).toBe('open');
  });

  it('secrets in plain error messages do not reach the classification', async () => {
    const clock = new VirtualClock();
    const { fn } = script(clock, [new Error('Incorrect API key provided: sk-proj-abcdefghijklmnop')]);
    const r = await clock.run(retry(fn, exact, { clock, mode: 'result' }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.message).not.toContain('abcdefghijklmnop');
      expect(r.classification.message).not.toContain('abcdefghijklmnop');
    }
  });
});
