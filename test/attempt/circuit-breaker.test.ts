import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { SluiceError } from '../../src/classify/sluice-error.js';
import { BrokenCircuitError, CircuitBreaker } from '../../src/attempt/circuit-breaker.js';
import type { BreakerStateEvent } from '../../src/attempt/events.js';

function breakerWithLog(options: ConstructorParameters<typeof CircuitBreaker>[0]) {
  const breaker = new CircuitBreaker(options);
  const states: BreakerStateEvent[] = [];
  breaker.onStateChange((e) => states.push(e));
  return { breaker, states };
}

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, fails fast saying when it half-opens, then probes once', async () => {
    const clock = new VirtualClock();
    const { breaker, states } = breakerWithLog({ clock, strategy: { type: 'consecutive', failures: 3 }, breakDurationMs: 30_000 });
    breaker.recordFailure('network');
    breaker.recordFailure('server_error');
    breaker.recordSuccess(); // resets the run
    breaker.recordFailure('network');
    breaker.recordFailure('network');
    expect(breaker.state).toBe('closed');
    breaker.recordFailure('timeout');
    expect(breaker.state).toBe('open');
    expect(breaker.canExecute()).toBe(false);
    const err = breaker.brokenError();
    expect(err).toBeInstanceOf(BrokenCircuitError);
    expect(err.retryInMs).toBe(30_000);
    expect(err.message).toContain(new Date(clock.now() + 30_000).toISOString());
    await clock.advance(30_000);
    expect(breaker.canExecute()).toBe(true); // the probe
    expect(breaker.canExecute()).toBe(false); // only one
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    expect(states.map((s) => s.to)).toEqual(['open', 'half-open', 'closed']);
    expect(clock.pendingCount).toBe(0); // no timer held
  });

  it('a failed probe re-opens for another break', async () => {
    const clock = new VirtualClock();
    const breaker = new CircuitBreaker({ clock, strategy: { type: 'consecutive', failures: 1 }, breakDurationMs: 1000 });
    breaker.recordFailure('overloaded');
    await clock.advance(1000);
    expect(breaker.canExecute()).toBe(true);
    breaker.recordFailure('overloaded');
    expect(breaker.state).toBe('open');
    expect(breaker.brokenError().retryInMs).toBe(1000);
  });

  it('auth opens at once by default; client errors count as answers', () => {
    const clock = new VirtualClock();
    const breaker = new CircuitBreaker({ clock, strategy: { type: 'consecutive', failures: 2 } });
    breaker.recordFailure('network');
    breaker.recordFailure('not_found'); // the service answered: resets the run
    breaker.recordFailure('network');
    expect(breaker.state).toBe('closed');
    breaker.recordFailure('auth');
    expect(breaker.state).toBe('open');
  });

  it('ratio mode waits for minimum throughput and forgets samples outside the window', async () => {
    const clock = new VirtualClock();
    const breaker = new CircuitBreaker({
      clock,
      strategy: { type: 'ratio', threshold: 0.5, windowMs: 10_000, minThroughput: 4 },
    });
    breaker.recordFailure('network');
    breaker.recordFailure('network');
    breaker.recordFailure('network');
    expect(breaker.state).toBe('closed'); // 3 calls < minimum 4
    await clock.advance(11_000); // those fall out of the window
    breaker.recordSuccess();
    breaker.recordSuccess();
    breaker.recordFailure('network');
    expect(breaker.state).toBe('closed'); // 1/3 and only 3 calls
    breaker.recordFailure('network');
    expect(breaker.state).toBe('open'); // 2/4 = 0.5
  });

  it('isolate holds it open until reset', async () => {
    const clock = new VirtualClock();
    const { breaker, states } = breakerWithLog({ clock, breakDurationMs: 10 });
    breaker.isolate();
    await clock.advance(1_000_000);
    expect(breaker.canExecute()).toBe(false);
    expect(breaker.brokenError().message).toMatch(/isolated/);
    breaker.reset();
    expect(breaker.canExecute()).toBe(true);
    expect(states.map((s) => s.to)).toEqual(['isolated', 'closed']);
  });

  it('execute classifies thrown errors and fails fast when open', async () => {
    const clock = new VirtualClock();
    const breaker = new CircuitBreaker({ clock });
    const authError = new SluiceError({ kind: 'auth', retryable: false, message: 'invalid key' });
    await expect(breaker.execute(() => Promise.reject(authError))).rejects.toBe(authError);
    let called = false;
    await expect(
      breaker.execute(() => {
        called = true;
        return 1;
      }),
    ).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(called).toBe(false);
  });

  it('a cancelled probe frees the probe slot', async () => {
    const clock = new VirtualClock();
    const breaker = new CircuitBreaker({ clock, strategy: { type: 'consecutive', failures: 1 }, breakDurationMs: 100 });
    breaker.recordFailure('network');
    await clock.advance(100);
    expect(breaker.canExecute()).toBe(true);
    breaker.recordFailure('cancelled');
    expect(breaker.canExecute()).toBe(true);
  });

  it('rejects bad options naming the field', () => {
    expect(() => new CircuitBreaker({ strategy: { type: 'consecutive', failures: 0 } })).toThrow(
      'circuit breaker: strategy.failures must be an integer >= 1, got 0',
    );
    expect(() => new CircuitBreaker({ strategy: { type: 'ratio', threshold: 1.5 } })).toThrow(/strategy\.threshold must be in \(0, 1\]/);
    expect(() => new CircuitBreaker({ openOnKinds: ['auht' as never] })).toThrow(/openOnKinds\[0\] is not an error kind/);
    expect(() => new CircuitBreaker({ breakDurationMs: -5 })).toThrow(/breakDurationMs must be a finite number >= 0/);
  });
});
