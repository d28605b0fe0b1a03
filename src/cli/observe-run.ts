import type { Clock } from '../clock/clock.js';
import type { BatchEvents } from '../batch/types.js';
import type { TypedEmitter } from '../observe/typed-emitter.js';
import type { RunEvent, RunObserver } from '../observe/report/run-events.js';
import type { ExecutorEvents } from '../scheduler/events.js';

/** Sources of a run's events. */
export interface RunEventSources {
  clock: Clock;
  batch?: TypedEmitter<BatchEvents>;
  executor?: TypedEmitter<ExecutorEvents>;
}

/**
 * Translates the batch runner's and the executor's events into {@link RunEvent}s and hands each to
 * every observer (progress, metrics, recorder, log). Returns a function that unsubscribes.
 */
export function bridgeRunEvents(sources: RunEventSources, observers: readonly RunObserver[]): () => void {
  const { clock } = sources;
  const emit = (e: RunEvent): void => {
    for (const o of observers) o.observe(e);
  };
  const started = new Map<string, number>();
  const offs: (() => void)[] = [];
  const b = sources.batch;
  if (b) {
    offs.push(
      b.on('attemptStart', (e) => {
        const at = clock.now();
        started.set(e.id, at);
        emit({ type: 'attempt_start', at, id: e.id, attempt: e.attempt, ...(e.key ? { key: e.key } : {}) });
      }),
      b.on('attemptEnd', (e) => {
        const at = clock.now();
        const t0 = started.get(e.id);
        started.delete(e.id);
        emit({
          type: 'attempt_end',
          at,
          id: e.id,
          attempt: e.attempt,
          ok: e.ok,
          ...(e.key ? { key: e.key } : {}),
          ...(e.kind ? { kind: e.kind } : {}),
          ...(e.status !== undefined ? { status: e.status } : {}),
          ...(t0 !== undefined ? { latencyMs: at - t0 } : {}),
        });
      }),
      b.on('item', (e) => emit({ type: 'item', at: clock.now(), id: e.id, state: e.state === 'running' ? 'pending' : e.state, ...(e.kind ? { kind: e.kind } : {}) })),
    );
  }
  const x = sources.executor;
  if (x) {
    offs.push(
      x.on('cooldownStart', (e) =>
        emit({ type: 'key_state', at: clock.now(), key: e.key, state: keyState(e.state), until: e.until, reason: e.kind }),
      ),
      x.on('cooldownEnd', (e) => emit({ type: 'key_state', at: clock.now(), key: e.key, state: 'active' })),
      // A pause naming a key is that key's quota pause; without a key, the whole run stops starting.
      x.on('pause', (e) =>
        emit(
          e.key !== undefined
            ? { type: 'key_state', at: clock.now(), key: e.key, state: 'paused', ...(e.until !== undefined ? { until: e.until } : {}), reason: e.detail ?? e.reason }
            : { type: 'pause', at: clock.now(), reason: e.reason, ...(e.until !== undefined ? { until: e.until } : {}), ...(e.detail ? { detail: e.detail } : {}) },
        ),
      ),
      x.on('resume', (e) => emit(e.key !== undefined ? { type: 'key_state', at: clock.now(), key: e.key, state: 'active' } : { type: 'resume', at: clock.now() })),
      x.on('concurrencyChange', (e) => emit({ type: 'concurrency', at: clock.now(), limit: e.to, reason: e.reason, from: e.from })),
      x.on('rateChange', (e) =>
        emit({ type: 'key_limit', at: clock.now(), key: e.key, limit: 'rate', reason: e.reason, ...(e.to !== undefined ? { perSecond: (e.to * 1000) / e.windowMs } : {}) }),
      ),
      x.on('inFlightCapChange', (e) => emit({ type: 'key_limit', at: clock.now(), key: e.key, limit: 'in_flight', reason: e.reason, ...(e.to !== undefined ? { cap: e.to } : {}) })),
      x.on('quotaAlert', (e) => emit({ type: 'quota_alert', at: clock.now(), key: e.key, alertLevel: e.level, usage: e.usage })),
      x.on('retryScheduled', (e) =>
        emit({ type: 'retry', at: clock.now(), id: String(e.jobId), attempt: e.attempt, kind: e.kind, delayMs: e.delayMs }),
      ),
    );
  }
  return () => {
    for (const off of offs) off();
  };
}

function keyState(state: string): 'cooling' | 'parked' | 'disabled' | 'active' {
  return state === 'parked' || state === 'disabled' || state === 'active' ? state : 'cooling';
}
