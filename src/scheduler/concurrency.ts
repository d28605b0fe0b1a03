/**
 * The concurrency limit of a dispatcher from its option: a fixed number, or AIMD (`AdaptiveConcurrency`)
 * fed with each outcome and its latency, announcing its changes as `concurrencyChange`. One place for
 * the embedded executor (`createSluice`) and the Redis worker.
 */
import type { Clock } from '../clock/clock.js';
import { AdaptiveConcurrency, type AdaptiveConcurrencyOptions } from '../flow/adaptive-concurrency.js';
import type { TypedEmitter } from '../observe/typed-emitter.js';
import type { ExecutorEvents } from './events.js';
import type { SchedulerConcurrency } from './ports.js';

/** A fixed limit, or adaptive options (`adaptive: false` fixes the limit at `initial`, else `max`, else 16). */
export type ConcurrencyOption = number | ({ adaptive?: boolean } & Omit<AdaptiveConcurrencyOptions, 'clock'>);

/**
 * Builds the limit; `where` names the caller in validation errors (e.g. `createSluice`). `share` is
 * handed the adaptive limit when there is one (a Redis worker shares it with its fleet).
 */
export function makeConcurrency(
  option: ConcurrencyOption | undefined,
  clock: Clock,
  events: TypedEmitter<ExecutorEvents>,
  where: string,
  share?: (limit: AdaptiveConcurrency) => void,
): SchedulerConcurrency {
  // The default is adaptive, as for `sluice run`: start at 4, slow start to 16, step down on load.
  const value = option ?? { adaptive: true };
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${where}: concurrency must be an integer >= 1, got ${String(value)}`);
    return { limit: value };
  }
  if (value === null || typeof value !== 'object') throw new TypeError(`${where}: concurrency must be a number or an object`);
  const { adaptive = true, ...rest } = value;
  if (!adaptive) {
    const limit = rest.initial ?? rest.max ?? 16;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`${where}: concurrency.initial must be an integer >= 1, got ${String(limit)}`);
    return { limit };
  }
  const aimd = new AdaptiveConcurrency({ ...rest, clock });
  aimd.events.on('change', (c) => events.emit('concurrencyChange', c));
  share?.(aimd);
  return {
    get limit() {
      return aimd.limit;
    },
    onSuccess: (now, startedAt) => aimd.recordSuccess(startedAt !== undefined ? now - startedAt : undefined),
    onFailure: (kind) => aimd.recordFailure(kind),
  };
}
