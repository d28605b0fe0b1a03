import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { TypedEmitter } from '../../src/observe/typed-emitter.js';
import { createLogger } from '../../src/observe/logger.js';
import { logBreakerEvents, logRetryEvents, retryLogHooks } from '../../src/attempt/retry-logging.js';
import { retryPolicy } from '../../src/attempt/policy.js';
import { retry } from '../../src/attempt/retry.js';
import { CircuitBreaker } from '../../src/attempt/circuit-breaker.js';
import type { RetryEvents } from '../../src/attempt/events.js';

const SECRET = 'sk-proj-SECRETVALUE123456789';

function memoryLogger() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
  const records = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

const policy = retryPolicy({
  default: { attempts: 3, backoff: { type: 'schedule', delaysMs: [30_000, 60_000] }, jitter: 'none' },
});

describe('createLogger', () => {
  it('censors secret fields by name and secrets inside any string, messages included', () => {
    const { logger, lines } = memoryLogger();
    logger.info(
      {
        apiKey: SECRET,
        key: { name: 'main', secret: SECRET },
        headers: { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET, accept: 'json' },
        note: `called with key=${SECRET}`,
        err: new Error(`Incorrect API key provided: ${SECRET}`),
      },
      `request failed for Bearer ${SECRET}`,
    );
    logger.warn(`plain message with ${SECRET}`);
    const out = lines.join('');
    expect(out).not.toContain('SECRETVALUE');
    expect(out).toContain('"name":"main"'); // the key name survives
    expect(out).toContain('"accept":"json"');
    expect(lines).toHaveLength(2);
  });

  it('stamps lines with the given clock', () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    const logger = createLogger({ clock, destination: { write: (s: string) => void lines.push(s) } });
    logger.info('tick');
    expect(JSON.parse(lines[0]!)).toMatchObject({ time: clock.now(), msg: 'tick' });
  });

  it('writes to a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-logger-'));
    try {
      const file = join(dir, 'sub', 'run.log');
      const logger = createLogger({ file });
      logger.info({ token: SECRET }, 'hello');
      const text = readFileSync(file, 'utf8');
      expect(text).toContain('hello');
      expect(text).not.toContain('SECRETVALUE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('retry logging', () => {
  it('writes retry, success lines with attempt numbers and readable messages', async () => {
    const clock = new VirtualClock();
    const { logger, records } = memoryLogger();
    const events = new TypedEmitter<RetryEvents>();
    logRetryEvents(events, logger, { eventPrefix: 'veo_submit_' });
    let n = 0;
    const fn = (): string => {
      if (++n < 3) throw new SluiceError({ kind: 'rate_limited', retryable: true, status: 429, message: 'RESOURCE_EXHAUSTED' });
      return 'ok';
    };
    await clock.run(retry(fn, policy, { clock, events, label: 'variant A' }));
    const r = records();
    expect(r.map((x) => x.event_type)).toEqual(['veo_submit_retry', 'veo_submit_retry', 'veo_submit_success']);
    expect(r[0]).toMatchObject({ attempt_number: 1, max_attempts: 3, wait_seconds: 30, error_type: 'rate_limited', level: 40 });
    expect(r[1]?.msg).toBe('retry 2/2 for variant A, waiting 60s (rate_limited)');
    expect(r[2]).toMatchObject({ total_attempts: 3, msg: 'variant A succeeded on attempt 3' });
  });

  it('writes failed_all_retries and non_retryable_error, without secrets from error messages', async () => {
    const clock = new VirtualClock();
    const { logger, records, lines } = memoryLogger();
    const hooks = retryLogHooks(logger, { eventPrefix: 'clip_download_' });
    const leaky = () => {
      throw new SluiceError({ kind: 'network', retryable: true, message: `socket hang up (key=${SECRET})` });
    };
    await clock.run(retry(leaky, policy, { clock, hooks, label: 'clip 1', mode: 'result' }));
    await clock.run(
      retry(
        () => {
          throw new SluiceError({ kind: 'auth', retryable: false, status: 401, message: `Incorrect API key provided: ${SECRET}` });
        },
        policy,
        { clock, hooks, label: 'clip 2', mode: 'result' },
      ),
    );
    const r = records();
    const failed = r.find((x) => x.event_type === 'clip_download_failed_all_retries');
    expect(failed).toMatchObject({ attempts_made: 3, error_type: 'network', msg: 'clip 1 failed after 3 attempts (exhausted): network' });
    const nonRetryable = r.find((x) => x.event_type === 'clip_download_non_retryable_error');
    expect(nonRetryable).toMatchObject({ attempts_made: 1, error_type: 'auth', status: 401 });
    expect(lines.join('')).not.toContain('SECRETVALUE');
  });

  it('logs breaker state changes', () => {
    const clock = new VirtualClock();
    const { logger, records } = memoryLogger();
    const breaker = new CircuitBreaker({ clock, name: 'gemini' });
    logBreakerEvents(breaker.events, logger);
    breaker.recordFailure('auth');
    expect(records()[0]).toMatchObject({ event_type: 'breaker_state', to: 'open', breaker: 'gemini', level: 40 });
  });
});
