import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { FakeProvider } from '../../src/testing/fake-provider.js';
import { createSluice } from '../../src/scheduler/create-sluice.js';
import { RetryError } from '../../src/attempt/retry-error.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import type { CallContext } from '../../src/provider/types.js';
import type { BatchExecutor } from '../../src/batch/types.js';
import type { AdaptiveConcurrency } from '../../src/flow/adaptive-concurrency.js';

const keys = (...names: string[]) => names.map((name) => ({ name, secret: `sk-${name}-secret` }));

describe('Executor', () => {
  it('runs higher priority first and is FIFO within a priority', async () => {
    const clock = new VirtualClock();
    const order: string[] = [];
    const sluice = createSluice<string, string>({
      clock,
      concurrency: 1,
      provider: async (p) => {
        order.push(p);
        await clock.sleep(10);
        return p;
      },
    });
    sluice.pause();
    const all = Promise.all([
      sluice.run('low-1', { priority: 0 }),
      sluice.run('high-1', { priority: 5 }),
      sluice.run('low-2', { priority: 0 }),
      sluice.run('high-2', { priority: 5 }),
      sluice.run('mid', { priority: 1 }),
    ]);
    sluice.resume();
    await clock.run(all);
    expect(order).toEqual(['high-1', 'high-2', 'mid', 'low-1', 'low-2']);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('cancels a queued job and a running job without touching the others', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 1000 });
    const sluice = createSluice({ clock, provider, concurrency: 1 });
    const running = new AbortController();
    const queued = new AbortController();
    const a = sluice.run({ value: 'a' }, { signal: running.signal });
    const b = sluice.run({ value: 'b' }, { signal: queued.signal });
    const c = sluice.run({ value: 'c' });
    a.catch(() => undefined);
    b.catch(() => undefined);
    queued.abort();
    await expect(b).rejects.toMatchObject({ name: 'AbortError' });
    await clock.advance(500);
    running.abort();
    await expect(a).rejects.toMatchObject({ name: 'AbortError' });
    const result = await clock.run(c);
    expect(result).toMatchObject({ value: 'c', attempt: 1 });
    expect(provider.stats.calls).toBe(2);
    expect(provider.stats.aborted).toBe(1);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('leaves no timer after close, with jobs waiting for a retry and a cooling key', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({
      clock,
      fault: () => ({ kind: 'overloaded', status: 503, retryable: true }),
    });
    const sluice = createSluice({ clock, provider, retry: { default: { attempts: 5, backoff: { type: 'constant', delayMs: 60_000 } } } });
    const jobs = [sluice.run({}), sluice.run({})];
    for (const j of jobs) j.catch(() => undefined);
    await clock.advance(10);
    expect(clock.pendingCount).toBeGreaterThan(0);
    await sluice.close();
    for (const j of jobs) await expect(j).rejects.toMatchObject({ name: 'AbortError' });
    expect(clock.pendingCount).toBe(0);
  });

  it('gives in-flight calls a grace period on close, then aborts them', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: (p) => ((p as { value: number }).value === 1 ? 1_000 : 60_000) });
    const sluice = createSluice({ clock, provider, shutdownGraceMs: 5_000 });
    const quick = sluice.run({ value: 1 });
    const slow = sluice.run({ value: 2 });
    slow.catch(() => undefined);
    const queuedAfter = sluice.run({ value: 3 });
    queuedAfter.catch(() => undefined);
    await clock.advance(1);
    const closing = sluice.close();
    await clock.run(closing);
    await expect(quick).resolves.toMatchObject({ value: 1 });
    await expect(slow).rejects.toMatchObject({ name: 'AbortError' });
    expect(clock.now() - Date.UTC(2026, 0, 1)).toBeLessThanOrEqual(5_001 + 1);
    expect(clock.pendingCount).toBe(0);
    await expect(sluice.run({ value: 4 })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('runAll keeps at most maxQueued items in flight or queued and pulls lazily', async () => {
    const clock = new VirtualClock();
    let pulled = 0;
    let maxOutstanding = 0;
    let outstanding = 0;
    function* input() {
      for (let i = 0; i < 200; i++) {
        pulled++;
        yield i;
      }
    }
    const sluice = createSluice<number, number>({
      clock,
      concurrency: 4,
      provider: async (n, ctx: CallContext) => {
        await clock.sleep(100, ctx.signal);
        return n * 2;
      },
      onAttemptStart: () => {
        outstanding++;
        maxOutstanding = Math.max(maxOutstanding, sluice.size);
      },
      onAttemptEnd: () => {
        outstanding--;
      },
    });
    const results: number[] = [];
    const done = sluice.runAll(input(), { maxQueued: 10, onResult: (r) => void (r.ok && results.push(r.value)) });
    await clock.advance(50);
    // Nothing has finished yet: only the first 10 items (plus at most the one being looked at) were read.
    expect(pulled).toBeLessThanOrEqual(11);
    expect(sluice.size).toBe(10);
    const summary = await clock.run(done);
    expect(summary).toEqual({ submitted: 200, succeeded: 200, failed: 0, cancelled: 0 });
    expect(results).toHaveLength(200);
    expect(maxOutstanding).toBeLessThanOrEqual(10);
    expect(outstanding).toBe(0);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('fails a job at once on a non-retryable error, with the classification and attempts', async () => {
    const clock = new VirtualClock();
    const sluice = createSluice({
      clock,
      keys: keys('a'),
      provider: async () => {
        throw new SluiceError({ kind: 'invalid_request', retryable: false, status: 400, message: 'INVALID_ARGUMENT: bad prompt' });
      },
    });
    const err = await clock.run(sluice.run({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryError);
    expect(err).toMatchObject({ name: 'RetryError', kind: 'invalid_request', attempts: 1, key: 'a', reason: 'not_retryable' });
    expect(String((err as Error).message)).not.toContain('sk-a-secret');
    await sluice.close();
  });

  it('awaits attempt hooks before the next decision and continues from startAttempt', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    let calls = 0;
    const sluice = createSluice({
      clock,
      retry: { byKind: { server_error: { attempts: 5, backoff: { type: 'constant', delayMs: 1000 }, jitter: 'none' } } },
      provider: async () => {
        calls++;
        if (calls < 2) throw new SluiceError({ kind: 'server_error', retryable: true, status: 500, message: 'boom' });
        return 'ok';
      },
    });
    const value = sluice.run(
      {},
      {
        id: 'job-7',
        startAttempt: 3,
        onAttemptStart: async (i) => {
          await clock.sleep(5);
          log.push(`start ${i.attempt}`);
        },
        onAttemptEnd: async (i) => {
          await clock.sleep(5);
          log.push(`end ${i.attempt} ${i.outcome} ${i.delayMs ?? ''}`.trim());
        },
      },
    );
    await expect(clock.run(value)).resolves.toBe('ok');
    expect(log).toEqual(['start 4', 'end 4 retry 1000', 'start 5', 'end 5 success']);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('rejects bad options naming the field', () => {
    const provider = async () => 1;
    expect(() => createSluice({ provider, concurrency: 0 })).toThrow(/concurrency/);
    expect(() => createSluice({ provider, keys: [] })).toThrow(/keys/);
    expect(() => createSluice({ provider, keys: keys('a', 'a') })).toThrow(/used twice/);
    expect(() => createSluice({ provider, limits: { requestsPerMinute: -1 } })).toThrow(/requestsPerMinute/);
  });
});

describe('Executor lifecycle extras', () => {
  it('closes gracefully on SIGTERM when handleSignals is on, and removes its handlers', async () => {
    const clock = new VirtualClock();
    const before = process.listenerCount('SIGTERM');
    const provider = new FakeProvider({ clock, latencyMs: 2_000 });
    const sluice = createSluice({ clock, provider, handleSignals: true, shutdownGraceMs: 10_000, concurrency: 1 });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    const inFlight = sluice.run({ value: 'in flight' });
    const queued = sluice.run({ value: 'queued' });
    queued.catch(() => undefined);
    await clock.advance(1);
    process.emit('SIGTERM');
    await expect(clock.run(inFlight)).resolves.toMatchObject({ value: 'in flight' });
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    expect(provider.stats.calls).toBe(1);
    expect(process.listenerCount('SIGTERM')).toBe(before);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('runAll takes an async iterable and stops on its signal, cancelling what it queued', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 1_000 });
    const sluice = createSluice({ clock, provider, concurrency: 2 });
    const stop = new AbortController();
    let produced = 0;
    async function* input() {
      for (let i = 0; i < 1_000; i++) {
        produced++;
        yield { value: i };
      }
    }
    const seen: boolean[] = [];
    const done = sluice.runAll(input(), { maxQueued: 4, signal: stop.signal, onResult: (r) => void seen.push(r.ok) });
    await clock.advance(2_500);
    stop.abort();
    const summary = await clock.run(done);
    expect(summary.submitted).toBeLessThan(20);
    expect(summary.succeeded + summary.cancelled + summary.failed).toBe(summary.submitted);
    expect(summary.cancelled).toBeGreaterThan(0);
    expect(produced).toBeLessThanOrEqual(summary.submitted + 1);
    expect(seen).toHaveLength(summary.submitted);
    await sluice.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('saves the quota state and a new executor restores the day\'s usage', async () => {
    const clock = new VirtualClock();
    const provider = new FakeProvider({ clock, latencyMs: 10 });
    const options = { clock, provider, keys: [{ name: 'k', secret: 's' }], limits: { requestsPerDay: 10 }, quota: { pauseThreshold: 1 } };
    const first = createSluice(options);
    await clock.run(Promise.all([1, 2, 3, 4, 5, 6].map((v) => first.run({ value: v }))));
    const saved = JSON.parse(JSON.stringify(first.quotaState())) as Record<string, unknown>;
    await first.close();
    expect(saved.k).toMatchObject({ requests: 6 });
    const second = createSluice({ ...options, quotaState: saved });
    const pauses: unknown[] = [];
    second.events.on('pause', (p) => pauses.push(p));
    await clock.run(Promise.all([1, 2, 3, 4].map((v) => second.run({ value: v }))));
    expect(pauses).toHaveLength(1); // 6 + 4 reaches the daily 10
    await second.close();
    expect(clock.pendingCount).toBe(0);
  });
});

describe('fits the batch layer', () => {
  it('an executor is a BatchExecutor (type-level) and passes attempt info to per-run hooks', async () => {
    const clock = new VirtualClock();
    const sluice = createSluice({ clock, provider: async () => 'x', keys: keys('k') });
    const asBatch: BatchExecutor = sluice;
    const starts: unknown[] = [];
    const ends: unknown[] = [];
    const signal = new AbortController().signal;
    const value = asBatch.run({}, { id: 'line-1', priority: 0, signal, startAttempt: 2, onAttemptStart: (i) => void starts.push(i), onAttemptEnd: (i) => void ends.push(i) });
    await expect(clock.run(value)).resolves.toBe('x');
    expect(starts).toEqual([{ jobId: 'line-1', attempt: 3, key: 'k' }]);
    expect(ends).toEqual([{ jobId: 'line-1', attempt: 3, key: 'k', ok: true, outcome: 'success' }]);
    await sluice.close();
  });

  it('a concurrency limit raised between outcomes (a fleet share adopted) starts the calls it allows at once, not at the next outcome', async () => {
    const clock = new VirtualClock();
    let limit: AdaptiveConcurrency | undefined;
    const release: (() => void)[] = [];
    const sluice = createSluice<string, string>({
      clock,
      concurrency: { initial: 1, min: 1, max: 4 },
      shareConcurrency: (l) => (limit = l),
      provider: (p) => new Promise<string>((resolve) => release.push(() => resolve(p))),
    });
    const all = Promise.all(['a', 'b', 'c', 'd'].map((p) => sluice.run(p)));
    await clock.advance(0);
    expect(sluice.active).toBe(1);
    limit!.adopt(3, "the fleet's limit");
    // No outcome came: the raise alone starts two more.
    await clock.advance(0);
    expect(sluice.active).toBe(3);
    expect(sluice.queued).toBe(1);
    for (let i = 0; i < 4; i++) {
      release.shift()?.();
      await clock.advance(0);
    }
    await clock.run(all);
    await sluice.close();
  });
});
