import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import type { Classification } from '../../src/classify/kinds.js';
import { presets } from '../../src/attempt/presets.js';
import { retry } from '../../src/attempt/retry.js';
import { RetryError } from '../../src/attempt/retry-error.js';
import { createLogger } from '../../src/observe/logger.js';
import { retryLogHooks } from '../../src/attempt/retry-logging.js';

const err = (c: Omit<Classification, 'retryable'>): SluiceError => new SluiceError({ retryable: true, ...c });
const http429 = () => err({ kind: 'rate_limited', status: 429, code: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted' });
const http503 = () => err({ kind: 'overloaded', status: 503, code: 'UNAVAILABLE', message: 'The service is currently unavailable' });
const http400 = () => err({ kind: 'invalid_request', status: 400, code: 'INVALID_ARGUMENT', message: 'prompt violates the policy' });
const http404 = () => err({ kind: 'not_found', status: 404, message: 'clip not recorded' });
const network = () => err({ kind: 'network', code: 'ECONNRESET', message: 'socket hang up' });

/** A fake call failing with `failures` in order, then succeeding; records virtual start times relative to t0. */
function fake<T>(clock: VirtualClock, failures: (() => Error)[], value: T) {
  const t0 = clock.now();
  const starts: number[] = [];
  const fn = async (): Promise<T> => {
    starts.push(clock.now() - t0);
    const next = failures.shift();
    if (next) throw next();
    return value;
  };
  return { fn, starts };
}

function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } });
  return { logger, lines };
}

describe('presets.veoSubmission (veo3-sequential-submission.md)', () => {
  it('AC2/AC5/AC7: 429 retried after 30 s, 60 s, 120 s, then fails with "rate_limited", each retry logged', async () => {
    const clock = new VirtualClock();
    const { logger, lines } = memoryLog();
    const { fn, starts } = fake(clock, [http429, http429, http429, http429], 'op-1');
    const p = retry(fn, presets.veoSubmission(), { clock, label: 'variant A', hooks: retryLogHooks(logger, { eventPrefix: 'veo3_submit_' }) });
    const e = await clock.run(p).catch((x: unknown) => x);
    expect(starts).toEqual([0, 30_000, 90_000, 210_000]);
    expect(e).toBeInstanceOf(RetryError);
    expect((e as RetryError).message).toBe('rate_limited');
    expect((e as RetryError).attempts).toBe(4);
    const retries = lines.filter((l) => l.event_type === 'veo3_submit_retry');
    expect(retries.map((l) => [l.attempt_number, l.wait_seconds])).toEqual([
      [1, 30],
      [2, 60],
      [3, 120],
    ]);
    expect(retries[0]?.msg).toBe('retry 1/3 for variant A, waiting 30s (rate_limited)');
    expect(clock.pendingCount).toBe(0);
  });

  it('AC3: 503 UNAVAILABLE gets the same backoff and can then succeed', async () => {
    const clock = new VirtualClock();
    const { fn, starts } = fake(clock, [http503, http503], 'op-2');
    expect(await clock.run(retry(fn, presets.veoSubmission(), { clock }))).toBe('op-2');
    expect(starts).toEqual([0, 30_000, 90_000]);
  });

  it('AC4: 400 INVALID_ARGUMENT fails at once with a descriptive message; unknown errors too', async () => {
    const clock = new VirtualClock();
    const bad = fake(clock, [http400], 'x');
    const e = (await clock.run(retry(bad.fn, presets.veoSubmission(), { clock })).catch((x: unknown) => x)) as RetryError;
    expect(bad.starts).toEqual([0]);
    expect(e.message).toBe('invalid_request: prompt violates the policy');
    const weird = fake(clock, [() => new Error('something odd')], 'x');
    const r = await clock.run(retry(weird.fn, presets.veoSubmission(), { clock, mode: 'result' }));
    expect(r).toMatchObject({ ok: false, attempts: 1, reason: 'not_retryable' });
  });

  it('AC6: per-job counters are independent', async () => {
    const clock = new VirtualClock();
    const policy = presets.veoSubmission();
    const a = fake(clock, [http429, http429], 'a');
    const b = fake(clock, [], 'b');
    const c = fake(clock, [http429], 'c');
    const results = await clock.run(
      Promise.all([a, b, c].map((j) => retry(j.fn, policy, { clock, mode: 'result' }))),
    );
    expect(results.map((r) => r.attempts)).toEqual([3, 1, 2]);
    expect(results.every((r) => r.ok)).toBe(true);
  });
});

describe('presets.clipDownload (clip-download-retry.md)', () => {
  it('AC1/AC3: retries after 1 s and 2 s, logs each retry with its attempt number, succeeds on attempt 3', async () => {
    const clock = new VirtualClock();
    const { logger, lines } = memoryLog();
    const { fn, starts } = fake(clock, [network, network], '/tmp/clip-42.mp4');
    const hooks = retryLogHooks(logger, { eventPrefix: 'clip_download_' });
    const r = await clock.run(retry(fn, presets.clipDownload(), { clock, label: 'clip 42', hooks, mode: 'result' }));
    expect(r).toMatchObject({ ok: true, value: '/tmp/clip-42.mp4', attempts: 3 });
    expect(starts).toEqual([0, 1000, 3000]);
    expect(lines.map((l) => [l.event_type, l.attempt_number ?? l.total_attempts, l.wait_seconds])).toEqual([
      ['clip_download_retry', 1, 1],
      ['clip_download_retry', 2, 2],
      ['clip_download_success', 3, undefined],
    ]);
    expect(lines[2]?.msg).toBe('clip 42 succeeded on attempt 3');
  });

  it('with attempts: 4 the waits are exactly 1 s, 2 s, 4 s', async () => {
    const clock = new VirtualClock();
    const { fn, starts } = fake(clock, [network, network, network], 'ok');
    await clock.run(retry(fn, presets.clipDownload({ attempts: 4 }), { clock }));
    expect(starts).toEqual([0, 1000, 3000, 7000]);
  });

  it('AC2: after 3 failed attempts it returns nothing and logs "failed after 3 attempts"', async () => {
    const clock = new VirtualClock();
    const { logger, lines } = memoryLog();
    const { fn } = fake(clock, [network, network, network], 'never');
    const hooks = retryLogHooks(logger, { eventPrefix: 'clip_download_' });
    const r = await clock.run(retry(fn, presets.clipDownload(), { clock, label: 'clip 7', hooks, mode: 'result' }));
    const path = r.ok ? r.value : undefined;
    expect(path).toBeUndefined();
    const last = lines.at(-1);
    expect(last).toMatchObject({ event_type: 'clip_download_failed_all_retries', attempts_made: 3, label: 'clip 7' });
    expect(String(last?.msg)).toMatch(/^clip 7 failed after 3 attempts/);
  });

  it('AC4: 404 and auth are not retried; an empty download fails at once', async () => {
    const clock = new VirtualClock();
    for (const failure of [http404, () => err({ kind: 'auth', status: 401, message: 'unauthorized' })]) {
      const { fn, starts } = fake(clock, [failure], 'x');
      const r = await clock.run(retry(fn, presets.clipDownload(), { clock, mode: 'result' }));
      expect(r.ok).toBe(false);
      expect(starts).toEqual([0]);
    }
    const empty = fake(clock, [], new Uint8Array(0));
    const r = await clock.run(retry(empty.fn, presets.clipDownload(), { clock, mode: 'result' }));
    expect(r).toMatchObject({ ok: false, attempts: 1, reason: 'not_retryable' });
    if (!r.ok) expect(r.classification.code).toBe('EMPTY_RESULT');
    expect(empty.starts).toEqual([0]);
  });

  it('a hung download times out after 10 s and is retried', async () => {
    const clock = new VirtualClock();
    const t0 = clock.now();
    const starts: number[] = [];
    const fn = ({ attempt }: { attempt: number }): Promise<string> => {
      starts.push(clock.now() - t0);
      return attempt === 1 ? new Promise<string>(() => undefined) : Promise.resolve('/tmp/clip.mp4');
    };
    expect(await clock.run(retry(fn, presets.clipDownload(), { clock }))).toBe('/tmp/clip.mp4');
    expect(starts).toEqual([0, 11_000]); // 10 s timeout + 1 s backoff
    expect(clock.pendingCount).toBe(0);
  });
});

describe('presets.genaiProcessing (infinite-retry-loops.md)', () => {
  it('an invalid API key is tried once, opens the breaker, and later calls fail fast without calling', async () => {
    const clock = new VirtualClock();
    const { policy, breaker } = presets.genaiProcessing({ clock });
    let calls = 0;
    const invalidKey = async (): Promise<string> => {
      calls++;
      throw err({ kind: 'auth', status: 400, code: 'API_KEY_INVALID', message: 'API key not valid' });
    };
    const first = await clock.run(retry(invalidKey, policy, { clock, breaker, mode: 'result' }));
    expect(first).toMatchObject({ ok: false, attempts: 1, reason: 'not_retryable' });
    expect(breaker.state).toBe('open');
    for (let i = 0; i < 5; i++) {
      const r = await clock.run(retry(invalidKey, policy, { clock, breaker, mode: 'result' }));
      expect(r).toMatchObject({ ok: false, reason: 'circuit_open' });
    }
    expect(calls).toBe(1);
    expect(clock.pendingCount).toBe(0);
  });

  it('transient failures end after 3 attempts with waits of 1 s and 2 s: the loop always terminates', async () => {
    const clock = new VirtualClock();
    const { policy, breaker } = presets.genaiProcessing({ clock });
    const { fn, starts } = fake(clock, Array.from({ length: 50 }, () => network), 'never');
    const r = await clock.run(retry(fn, policy, { clock, breaker, mode: 'result' }));
    expect(r).toMatchObject({ ok: false, attempts: 3, reason: 'exhausted' });
    expect(starts).toEqual([0, 1000, 3000]);
    expect(clock.pendingCount).toBe(0);
  });
});
